"""Log formats: common, combined, custom format strings (nginx or Apache style) and JSON lines.

Every format becomes a :class:`LogFormat`: either a regular expression with named groups (Rust regex,
run by Polars over a whole chunk) or a JSON field map. The canonical field names are those of
:data:`FIELDS`; a format need not have them all, but it must have an address, a time, a status and
either a request line or a path.

Invariants: a line that does not match is never half-read: every field of it is null and it is counted
as malformed. Quoted fields do not contain a bare double quote (nginx writes ``\\x22``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from detente.errors import ConfigError

FIELDS = (
    "addr",
    "user",
    "time",
    "time_iso",
    "request",
    "method",
    "target",
    "status",
    "size",
    "referer",
    "agent",
    "xff",
    "host",
)

COMMON = (
    r'^(?P<addr>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]*)\] "(?P<request>[^"]*)" '
    r"(?P<status>\d{3}) (?P<size>\S+)"
)
COMBINED = COMMON + r'(?: "(?P<referer>[^"]*)" "(?P<agent>[^"]*)")?'

# Directive -> canonical field. nginx variables and Apache % directives (mod_log_config).
_DIRECTIVES: dict[str, str] = {
    "$remote_addr": "addr",
    "$binary_remote_addr": "addr",
    "%h": "addr",
    "%a": "addr",
    "%{c}a": "addr",
    "$remote_user": "user",
    "%u": "user",
    "$time_local": "time",
    "%t": "time",
    "$time_iso8601": "time_iso",
    "$request": "request",
    "%r": "request",
    "$request_method": "method",
    "%m": "method",
    "$request_uri": "target",
    "$uri": "target",
    "%U": "target",
    "$status": "status",
    "%>s": "status",
    "%s": "status",
    "$body_bytes_sent": "size",
    "$bytes_sent": "size",
    "%b": "size",
    "%B": "size",
    "%O": "size",
    "$http_referer": "referer",
    "%{Referer}i": "referer",
    "$http_user_agent": "agent",
    "%{User-agent}i": "agent",
    "%{User-Agent}i": "agent",
    "$http_x_forwarded_for": "xff",
    "%{X-Forwarded-For}i": "xff",
    "$host": "host",
    "$server_name": "host",
    "$http_host": "host",
    "%v": "host",
    "%V": "host",
    "%{Host}i": "host",
}

# Default JSON keys tried in order for each canonical field.
JSON_KEYS: dict[str, tuple[str, ...]] = {
    "addr": ("remote_addr", "client_ip", "ip", "client", "remote_ip"),
    "user": ("remote_user", "user"),
    "time_iso": ("time", "timestamp", "@timestamp", "time_iso8601", "time_local"),
    "request": ("request",),
    "method": ("method", "request_method"),
    "target": ("path", "uri", "request_uri", "url"),
    "status": ("status", "status_code"),
    "size": ("body_bytes_sent", "bytes", "size", "bytes_sent"),
    "referer": ("http_referer", "referer", "referrer"),
    "agent": ("http_user_agent", "user_agent", "agent"),
    "xff": ("http_x_forwarded_for", "x_forwarded_for", "xff"),
    "host": ("host", "server_name", "http_host"),
}


@dataclass(frozen=True)
class LogFormat:
    """How to read one line: ``regex`` with named groups, or ``json`` keys per field."""

    name: str
    regex: str | None = None
    json_keys: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        """Canonical fields this format can fill."""
        if self.regex is not None:
            return tuple(re.compile(self.regex).groupindex)
        return tuple(name for name, _ in self.json_keys)


def _token_regex(token: str, used: set[str]) -> str:
    quoted = len(token) >= 2 and token[0] == token[-1] == '"'
    bracketed = token.startswith("[") and token.endswith("]")
    inner = token[1:-1] if quoted or bracketed else token
    inner = inner.replace('\\"', "")
    field = _DIRECTIVES.get(inner)
    if field is None and inner.startswith(("$", "%")):
        field = ""  # a variable we do not use: match it, keep nothing
    if field is None:
        return re.escape(token)
    name = f"?P<{field}>" if field and field not in used else "?:"
    used.add(field)
    if field == "time" and inner == "%t":
        bracketed = True  # Apache's %t writes its own brackets
    if quoted:
        return f'"({name}[^"]*)"'
    if bracketed:
        return rf"\[({name}[^\]]*)\]"
    return rf"({name}\S+)"


def from_format_string(spec: str) -> LogFormat:
    """Compile an nginx ``log_format`` or Apache ``LogFormat`` string of space-separated directives."""
    spec = spec.strip().replace('\\"', '"')
    if not spec:
        raise ConfigError("empty log format string")
    used: set[str] = set()
    parts = [_token_regex(tok, used) for tok in spec.split(" ") if tok]
    fmt = LogFormat(name=f"custom:{spec}", regex="^" + " ".join(parts))
    _check(fmt)
    return fmt


def _check(fmt: LogFormat) -> None:
    have = set(fmt.fields)
    missing = [f for f in ("addr", "status") if f not in have]
    if not have & {"time", "time_iso"}:
        missing.append("time")
    if not have & {"request", "target"}:
        missing.append("request or path")
    if missing:
        raise ConfigError(f"log format {fmt.name!r} lacks {', '.join(missing)}")


def resolve(name: str) -> LogFormat:
    """Return the format called ``name``: ``common``, ``combined``, ``json`` or a format string."""
    if name == "combined":
        return LogFormat("combined", COMBINED)
    if name == "common":
        return LogFormat("common", COMMON)
    if name == "json":
        return LogFormat("json", json_keys=tuple(JSON_KEYS.items()))
    if " " in name:
        return from_format_string(name)
    raise ConfigError(f"unknown log format {name!r}: use common, combined, json or a format string")
