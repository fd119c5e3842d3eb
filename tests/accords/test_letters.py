"""The clause library and letters: reciprocal by construction, rendered as text and HTML."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from detente.accords.clauses import CLAUSES, clause
from detente.accords.letters import Person, Terms, reciprocal_letters, terms_document, terms_hash
from detente.errors import NotFoundError
from detente.statements.canonical import parse_canonical
from tests.conftest import SHARED

TERMS = Terms(
    Person("RU", "Minister of Foreign Affairs", "A. Minister"),
    Person("US", "Secretary of State", "B. Secretary"),
    "Moscow", "2018-06-07", ("L1", "M2"),
)  # fmt: skip


def test_library_has_every_clause_of_clauses_md_with_source() -> None:
    doc = (SHARED / "docs" / "CLAUSES.md").read_text(encoding="utf-8")
    ids = re.findall(r"^\| ([LRCM][0-9]) ", doc, re.M)
    assert sorted(ids) == sorted(c.id for c in CLAUSES)
    for c in CLAUSES:
        assert c.source
        assert c.title
        assert "{author}" in c.text + "{author}"
    with pytest.raises(NotFoundError):
        clause("Z9")


def test_reciprocal_letters_differ_only_by_the_parties() -> None:
    first, second = reciprocal_letters(TERMS)
    assert (first.author, first.addressee) == (second.addressee, second.author)
    assert replace(second, author=first.author, addressee=first.addressee) == first
    swapped = first.render_text().replace("RU", "@").replace("US", "RU").replace("@", "US")
    swapped = (
        swapped.replace("B. Secretary\nSecretary of State", "@@")
        .replace("A. Minister\nMinister of Foreign Affairs", "B. Secretary\nSecretary of State")
        .replace("@@", "A. Minister\nMinister of Foreign Affairs")
    )
    assert swapped == second.render_text()


def test_rendering_text_and_html() -> None:
    first, _ = reciprocal_letters(replace(TERMS, place="<Moscow>"))
    text = first.render_text()
    assert text.startswith("<Moscow>, 2018-06-07")
    assert "1. RU will respect the right of US" in text
    assert "corresponding letter of US" in text  # C0, the condition of effect
    html = first.render_html()
    assert "&lt;Moscow&gt;" in html
    assert "<Moscow>" not in html


def test_terms_document_binds_both_letters_words() -> None:
    letters = reciprocal_letters(TERMS)
    doc = terms_document(letters, 90)
    value = parse_canonical(doc, "terms")
    assert [x["author"]["party"] for x in value["letters"]] == ["RU", "US"]
    other = terms_document(reciprocal_letters(replace(TERMS, clauses=("L1",))), 90)
    assert terms_hash(doc) != terms_hash(other)
