"""Letters of assurance: one set of terms, two reciprocal letters, text and HTML rendering.

Invariants: :func:`reciprocal_letters` builds both letters from one :class:`Terms` with the parties
swapped, so the letters differ only in who speaks to whom. The terms document holds each letter's full
rendered text, so its hash (the ``terms`` of an offer) binds the words agreed, not a library version.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, replace
from typing import Any

from detente.statements.canonical import canonical, sha256_hex
from detente.statements.schema import CLAUSE, PARTY, array, compile_schema, integer, nullable, obj, string

from .clauses import clause

TERMS_SCHEMA = "detente.terms/1"

# The terms document as docs/formats.md (section 4) describes it: every field a page or a check reads is
# there and of its type, so a hostile document is refused when the offer is submitted, never met later.
_DATE = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
_PERSON = obj({"party": string(PARTY), "office": string(max_length=200), "name": string(max_length=200)})
_LETTER = obj(
    {
        "author": _PERSON,
        "addressee": _PERSON,
        "place": string(max_length=200),
        "date": string(_DATE),
        "form": {"type": "string", "const": "note"},
        "clauses": array(string(CLAUSE), max_items=32),
        "condition": nullable(string(CLAUSE)),
        "text": string(max_length=20_000),
    }
)
TERMS_DOCUMENT = obj(
    {
        "schema": {"type": "string", "const": TERMS_SCHEMA},
        "letters": array(_LETTER, max_items=2, min_items=2, unique=False),
        "notice_days": integer(0, 36_500),
    }
)
check_terms = compile_schema(TERMS_DOCUMENT)


@dataclass(frozen=True)
class Person:
    """A signatory: the party, the office held and the name."""

    party: str
    office: str
    name: str

    def to_json(self) -> dict[str, str]:
        """As JSON."""
        return {"name": self.name, "office": self.office, "party": self.party}


@dataclass(frozen=True)
class Letter:
    """A first-person note from one party's authority to the other's."""

    author: Person
    addressee: Person
    place: str
    date: str
    clauses: tuple[str, ...]
    condition: str | None = "C0"
    quoted: str | None = None  # a historical text reproduced verbatim instead of the library wording

    def body_text(self) -> str:
        """The letter's words, from the library or the quoted historical text."""
        if self.quoted is not None:
            return self.quoted
        a, b = self.author.party, self.addressee.party
        paragraphs = [
            f"I have the honour to inform you that the Government of {a} gives the following assurances:"
        ]
        paragraphs += [f"{n}. {clause(c).render(a, b)}" for n, c in enumerate(self.clauses, 1)]
        if self.condition is not None:
            paragraphs.append(clause(self.condition).render(a, b))
        return "\n\n".join(paragraphs)

    def render_text(self) -> str:
        """The letter as a formal note in plain text."""
        head = f"{self.place}, {self.date}\n\n{self.addressee.name}\n{self.addressee.office}\n\nExcellency,"
        close = (
            "Accept, Excellency, the assurances of my highest consideration."
            f"\n\n{self.author.name}\n{self.author.office}"
        )
        return f"{head}\n\n{self.body_text()}\n\n{close}\n"

    def render_html(self) -> str:
        """The letter as an HTML fragment (every text escaped)."""
        paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in self.body_text().split("\n\n"))
        e = html.escape
        return (
            f'<article class="letter"><p class="place">{e(self.place)}, {e(self.date)}</p>'
            f'<p class="addressee">{e(self.addressee.name)}<br>{e(self.addressee.office)}</p>'
            f"<p>Excellency,</p>{paragraphs}"
            f"<p>Accept, Excellency, the assurances of my highest consideration.</p>"
            f'<p class="author">{e(self.author.name)}<br>{e(self.author.office)}</p></article>'
        )

    def to_json(self) -> dict[str, Any]:
        """As the terms document holds it, with the rendered text."""
        return {
            "addressee": self.addressee.to_json(),
            "author": self.author.to_json(),
            "clauses": list(self.clauses),
            "condition": self.condition,
            "date": self.date,
            "form": "note",
            "place": self.place,
            "text": self.render_text(),
        }


@dataclass(frozen=True)
class Terms:
    """One set of terms for an exchange of letters."""

    offeror: Person
    addressee: Person
    place: str
    date: str
    clauses: tuple[str, ...]
    condition: str | None = "C0"
    notice_days: int = 90


def reciprocal_letters(terms: Terms) -> tuple[Letter, Letter]:
    """The offeror's letter and the addressee's letter: the same terms with the parties swapped."""
    first = Letter(terms.offeror, terms.addressee, terms.place, terms.date, terms.clauses, terms.condition)
    return first, replace(first, author=terms.addressee, addressee=terms.offeror)


def terms_document(letters: tuple[Letter, Letter], notice_days: int) -> bytes:
    """The RFC 8785 bytes of the terms document (a blob; its SHA-256 is an offer's ``terms``)."""
    value = {
        "letters": [letter.to_json() for letter in letters],
        "notice_days": notice_days,
        "schema": TERMS_SCHEMA,
    }
    return canonical(value)


def terms_hash(document: bytes) -> str:
    """The ``terms`` hash of a terms document."""
    return sha256_hex(document)
