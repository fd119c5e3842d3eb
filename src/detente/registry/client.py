"""The CLI's one port to a registry: a local folder, or a registry service over HTTP.

Every act and view command is written once against :class:`RegistryClient`; ``--dir`` opens a
:class:`LocalClient` over the folder (as the CLI always did) and ``--registry URL`` a :class:`HttpClient`
over the service's JSON API. Reads come back as the API's JSON values (``detente.registry.views`` builds
them for both), so a command prints the same thing either way. The service's refusals (RFC 9457 problem
details) become the same :class:`~detente.errors.DetenteError` kinds, hence the same exit codes.

Nothing the service says is taken on trust where it matters: a statement fetched by id must hash to that
id (its payload is what the id names), and a bundle is verified offline by ``detente verify``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urlsplit

from detente import errors
from detente.errors import (
    ConfigError,
    ConflictError,
    DetenteError,
    MalformedError,
    NotFoundError,
    UnreachableError,
)
from detente.registry import views
from detente.registry.bundle import build_bundle
from detente.registry.core import Registry
from detente.registry.entry import LogEntry
from detente.registry.home import RegistryHome
from detente.statements.canonical import b64e, format_time, parse_time
from detente.statements.dsse import Envelope
from detente.statements.keys import SigningKey
from detente.statements.statement import Statement, open_statement

if TYPE_CHECKING:  # httpx is loaded by the commands that reach a service (--registry URL)
    import httpx


@dataclass(frozen=True)
class Submitted:
    """What the registry answered to a submission; ``index`` is None while it is still pending."""

    sid: str
    kind: str
    index: int | None
    decision: str | None = None


class RegistryClient(Protocol):
    """What the act and view commands need from a registry, wherever it is."""

    def notary_keyid(self) -> str:
        """The notary key id that offers must name."""
        ...

    def size(self) -> int:
        """The number of entries in the log."""
        ...

    def now(self) -> datetime:
        """The registry's clock."""
        ...

    def submit(self, envelope: bytes, blobs: Sequence[bytes] = ()) -> Submitted:
        """Submit a signed envelope and the blobs it cites; raise the refusal."""
        ...

    def statement(self, sid: str) -> Statement:
        """A logged statement by its id."""
        ...

    def exchange(self, xid: str) -> dict[str, Any]:
        """An exchange with its timeline (``views.exchange_detail``)."""
        ...

    def exchanges(self) -> list[dict[str, Any]]:
        """Every exchange, in order of opening (``views.exchange_json``)."""
        ...

    def declarations(self, at: datetime) -> list[dict[str, Any]]:
        """Every declaration, with whether it is in force at ``at`` (``views.declaration_json``)."""
        ...

    def between(self, a: str, b: str, at: datetime) -> dict[str, Any]:
        """What is in force between two parties at ``at``, and every act between them (``views.between``)."""
        ...

    def offers(self, party: str) -> list[dict[str, Any]]:
        """Every offer, counter-offer and refusal made by a party (``views.act_json``)."""
        ...

    def incidents(self) -> list[dict[str, Any]]:
        """Every incident reported (``views.incident_json``)."""
        ...

    def bundle(self, claim: str, ref: str) -> bytes:
        """The evidence bundle of a claim."""
        ...


class LocalClient:
    """A registry folder opened by this process (the single writer while it is open)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def notary_keyid(self) -> str:
        return self.registry.notary_keyid()

    def size(self) -> int:
        return self.registry.log.size

    def now(self) -> datetime:
        return self.registry.clock()

    def submit(self, envelope: bytes, blobs: Sequence[bytes] = ()) -> Submitted:
        receipt = self.registry.submit(envelope, blobs)
        return Submitted(receipt.sid, receipt.kind, receipt.index, receipt.decision)

    def statement(self, sid: str) -> Statement:
        if sid not in self.registry.projection.sids:
            raise NotFoundError(f"no statement {sid} in the log (yet)")
        return self.registry.statements_by_sid([sid])[0][1].statement

    def exchange(self, xid: str) -> dict[str, Any]:
        return views.exchange_detail(self.registry, xid)

    def exchanges(self) -> list[dict[str, Any]]:
        return [views.exchange_json(e) for e in self.registry.projection.exchanges.values()]

    def declarations(self, at: datetime) -> list[dict[str, Any]]:
        return [views.declaration_json(d, at) for d in self.registry.projection.declarations.values()]

    def between(self, a: str, b: str, at: datetime) -> dict[str, Any]:
        return views.between(self.registry, a, b, at)

    def offers(self, party: str) -> list[dict[str, Any]]:
        return [views.act_json(a) for a in self.registry.projection.offers_and_refusals(party)]

    def incidents(self) -> list[dict[str, Any]]:
        return [views.incident_json(i) for i in self.registry.projection.incidents.values()]

    def bundle(self, claim: str, ref: str) -> bytes:
        return build_bundle(self.registry, claim, ref)


def _error_kinds() -> dict[str, type[DetenteError]]:
    """Every DetenteError class by the slug the service names it with (``/problems#<slug>``)."""
    found: dict[str, type[DetenteError]] = {}
    todo: list[type[DetenteError]] = [errors.DetenteError]
    while todo:
        kind = todo.pop()
        name = kind.__name__.removesuffix("Error")
        found[re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()] = kind
        todo.extend(kind.__subclasses__())
    return found


# Problems the HTTP edge raises itself, and a fallback by status for anything else.
EDGE_KINDS: dict[str, type[DetenteError]] = {
    "validation": errors.InputError,
    "too-large": errors.TooLargeError,
    "rate-limit": ConflictError,
    "http-404": NotFoundError,
}
STATUS_KINDS: dict[int, type[DetenteError]] = {
    400: MalformedError,
    404: NotFoundError,
    409: ConflictError,
    413: errors.TooLargeError,
    422: errors.InputError,
    429: ConflictError,
    503: ConflictError,
}


def problem_error(answer: httpx.Response) -> DetenteError:
    """The DetenteError a problem-details answer stands for, with the service's reason as its message."""
    try:
        body = answer.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    slug = str(body.get("type", "")).rpartition("#")[2]
    kind = _error_kinds().get(slug) or EDGE_KINDS.get(slug) or STATUS_KINDS.get(answer.status_code)
    detail = str(body.get("detail") or body.get("title") or answer.reason_phrase)
    if slug == "rate-limit":
        detail += f"; retry after {answer.headers.get('Retry-After', 'a while')} s"
    if kind is None:
        return DetenteError(f"the registry answered {answer.status_code}: {detail}")
    return kind(detail)


OPERATOR_CONTEXT = b"detente-operator-v1\n"


def operator_signature(key: SigningKey, body: bytes) -> str:
    """The ``Detente-Operator`` header for ``body``: the notary key's signature over a fixed prefix and
    the exact body (the prefix keeps it from ever passing for a statement or a decision)."""
    return b64e(key.sign(OPERATOR_CONTEXT + body))


class HttpClient:
    """A registry service reached over its JSON API (``docs/service.md``)."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def _get(self, path: str, **params: str) -> httpx.Response:
        return self._check(lambda: self.http.get(path, params=params))

    def _json(self, path: str, **params: str) -> Any:
        try:
            return self._get(path, **params).json()
        except ValueError as exc:
            raise MalformedError(f"the registry's answer to {path} is not JSON") from exc

    def _check(self, call: Any) -> httpx.Response:
        import httpx

        try:
            answer: httpx.Response = call()
        except httpx.HTTPError as exc:
            raise UnreachableError(
                f"cannot reach the registry at {self.http.base_url}: {exc}; try again"
            ) from exc
        if answer.status_code >= 400:
            raise problem_error(answer)
        return answer

    def _info(self) -> dict[str, Any]:
        value = self._json("/v1/registry")
        if not isinstance(value, dict):
            raise MalformedError("the registry's /v1/registry answer is not an object")
        return value

    def notary_keyid(self) -> str:
        return str(self._info()["notary"])

    def size(self) -> int:
        return int(self._info()["size"])

    def now(self) -> datetime:
        return parse_time(str(self._info()["now"]))

    def submit(self, envelope: bytes, blobs: Sequence[bytes] = ()) -> Submitted:
        st = open_statement(Envelope.decode(envelope))
        body = {
            "envelope": st.envelope.to_json(),
            "blobs": [base64.b64encode(b).decode() for b in blobs],
        }
        value = self._check(lambda: self.http.post("/v1/statements", json=body)).json()
        if value.get("status") == "pending":
            return Submitted(st.sid, st.kind, None)
        return Submitted(str(value["sid"]), str(value["kind"]), int(value["index"]), value.get("decision"))

    def register(self, envelope: bytes, operator: SigningKey) -> Submitted:
        """Register a party's first keyset, as the operator (``POST /v1/operator/parties``)."""
        headers = {
            "Detente-Operator": operator_signature(operator, envelope),
            "Content-Type": "application/json",
        }
        value = self._check(lambda: self.http.post("/v1/operator/parties", content=envelope, headers=headers))
        answer = value.json()
        if answer.get("status") == "pending":
            return Submitted(str(answer["sid"]), "keyset", None)
        return Submitted(str(answer["sid"]), str(answer["kind"]), int(answer["index"]))

    def statement(self, sid: str) -> Statement:
        value = self._json(f"/v1/statements/{quote(sid, safe='')}")
        st = LogEntry.decode(base64.b64decode(str(value["entry"]), validate=True)).statement
        if st.sid != sid:
            raise errors.VerificationError(f"the registry answered statement {st.sid} when asked for {sid}")
        return st

    def exchange(self, xid: str) -> dict[str, Any]:
        value: dict[str, Any] = self._json(f"/v1/exchanges/{quote(xid, safe='')}")
        return value

    def exchanges(self) -> list[dict[str, Any]]:
        value: list[dict[str, Any]] = self._json("/v1/exchanges")
        return value

    def declarations(self, at: datetime) -> list[dict[str, Any]]:
        value: list[dict[str, Any]] = self._json("/v1/declarations", at=format_time(at))
        return value

    def between(self, a: str, b: str, at: datetime) -> dict[str, Any]:
        value: dict[str, Any] = self._json(
            f"/v1/between/{quote(a, safe='')}/{quote(b, safe='')}", at=format_time(at)
        )
        return value

    def offers(self, party: str) -> list[dict[str, Any]]:
        value: list[dict[str, Any]] = self._json(f"/v1/parties/{quote(party, safe='')}/offers")
        return value

    def incidents(self) -> list[dict[str, Any]]:
        value: list[dict[str, Any]] = self._json("/v1/incidents")
        return value

    def bundle(self, claim: str, ref: str) -> bytes:
        return self._get(f"/v1/bundles/{quote(claim, safe='')}/{quote(ref, safe='')}").content


def service_url(url: str) -> str:
    """``url`` checked as a registry service's base URL (without a trailing ``/``): an ``http`` or
    ``https`` scheme, a host, and a port from 1 to 65535 if one is given.

    Raises:
        ConfigError: anything else, saying what a valid URL looks like (retrying cannot help, so it is
            never reported as a registry that cannot be reached).
    """
    try:
        parts = urlsplit(url)
        port = parts.port  # a port that is not a number from 0 to 65535 raises ValueError
    except ValueError as exc:
        raise _bad_url(url, str(exc)) from None
    if "://" not in url:  # "localhost:8000" would read as the scheme "localhost"
        raise _bad_url(url, "it does not begin with http:// or https://")
    if parts.scheme not in ("http", "https"):
        raise _bad_url(url, f"the scheme is {parts.scheme}, not http or https")
    if not parts.hostname or any(c.isspace() for c in parts.netloc):
        raise _bad_url(url, "it names no host")
    if port == 0:
        raise _bad_url(url, "port 0 is no port to connect to")
    return url.rstrip("/")


def _bad_url(url: str, why: str) -> ConfigError:
    return ConfigError(
        f"--registry {url!r} is not a registry service's URL ({why}): give http://HOST:PORT or https://HOST, "
        "such as http://127.0.0.1:8000"
    )


@contextmanager
def service(url: str, timeout: float = 60.0) -> Iterator[httpx.Client]:
    """An HTTP client for the registry service at ``url`` (checked by :func:`service_url` first)."""
    import httpx

    base = service_url(url)
    try:
        http = httpx.Client(base_url=base, timeout=timeout)
    except httpx.InvalidURL as exc:  # what urlsplit lets pass and httpx does not (a space in the host)
        raise _bad_url(url, str(exc)) from None
    with http:
        yield http


@contextmanager
def connect(directory: Path, url: str | None, timeout: float = 60.0) -> Iterator[RegistryClient]:
    """The registry service at ``url`` if given, else the registry folder ``directory``, for one command."""
    if url is not None:
        with service(url, timeout) as http:
            yield HttpClient(http)
        return
    registry = RegistryHome(directory).open()
    try:
        yield LocalClient(registry)
    finally:
        close = getattr(registry.log, "close", None)
        if close is not None:
            close()
