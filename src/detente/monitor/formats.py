"""Log formats: common, combined, custom format strings (nginx or Apache style) and JSON lines.

Every format becomes a :class:`LogFormat`: either a regular expression with named groups (Rust regex)
or a JSON field map. The line formats are built from :class:`Step` pieces, which give both the regex
and the program that the C log splitter runs instead of it (:func:`.parse.split_fields`, held to the
regex by tests). The canonical field names are those of :data:`FIELDS`; a format need not have them
all, but it must have an address, a time, a status and either a request line or a path.

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

# The path of a line whose request holds no target: nginx writes "-" for a connection closed before
# its request (408, 400), and logs "", a single word or the escaped bytes of a TLS handshake sent to
# its HTTP port as they came. Such a line still counts as a request of its source (a flood of them is
# an attack); this path says so. A request target holds no space (RFC 9112, section 3: the request
# line's fields are split at spaces, as the splitter does), so no request gives it, and it can match
# no login path (:mod:`.assets` refuses one with white space) and no probe pattern (each has a "/").
NO_TARGET = "<no target>"

# What a step reads: its regex, with the group (named, or not captured) in place of {}.
SHAPES = {
    "word": r"({}\S+)",
    "quoted": r'"({}[^"]*)"',
    "bracketed": r"\[({}[^\]]*)\]",
    "status": r"({}\d{{3}})",
}
# The codes the C splitter knows (src/detente/monitor/_split.c): kinds, then the fields it captures.
KINDS = ("literal", "word", "quoted", "bracketed", "status", "optional")
MAX_STEPS = 256  # the splitter's limit (MAX_STEPS in _split.c): a format string of 128 tokens
SPLIT_FIELDS = ("", *(f for f in FIELDS if f != "user"))


@dataclass(frozen=True)
class Step:
    """One piece of a line: a literal, a field of one of :data:`SHAPES`, or ``optional`` (the rest of
    the line may be missing, all of it or none).

    Each shape stops before a byte it cannot read (a space, a quote, a bracket), so the regex never
    backtracks into a field: a single forward pass reads what the regex reads.
    """

    kind: str
    field: str = ""  # the field captured; "" for none
    text: str = ""  # a literal's text

    def regex(self, used: set[str]) -> str:
        """This step as a regex; a field already captured (in ``used``) is matched, not captured."""
        if self.kind == "literal":
            return re.escape(self.text).replace("\\ ", " ")
        name = f"?P<{self.field}>" if self.field and self.field not in used else "?:"
        used.add(self.field)
        return SHAPES[self.kind].format(name)

    def program(self, used: set[str]) -> tuple[int, int, bytes]:
        """This step as the splitter's instruction: kind, field code, literal bytes."""
        field = self.field if self.field in SPLIT_FIELDS and self.field not in used else ""
        used.add(self.field)
        return KINDS.index(self.kind), SPLIT_FIELDS.index(field), self.text.encode()


def _word(field: str = "") -> Step:
    return Step("word", field)


SPACE = Step("literal", text=" ")
COMMON_STEPS = (
    _word("addr"), SPACE, _word(), SPACE, _word("user"), SPACE, Step("bracketed", "time"), SPACE,
    Step("quoted", "request"), SPACE, Step("status", "status"), SPACE, _word("size"),
)  # fmt: skip
COMBINED_STEPS = (
    *COMMON_STEPS, Step("optional"), SPACE, Step("quoted", "referer"), SPACE, Step("quoted", "agent"),
)  # fmt: skip


def steps_regex(steps: tuple[Step, ...]) -> str:
    """The regex of a line format's steps (an ``optional`` tail becomes one optional group)."""
    used: set[str] = set()
    parts = [st.regex(used) for st in steps if st.kind != "optional"]
    cut = next((i for i, st in enumerate(steps) if st.kind == "optional"), len(steps))
    head, tail = parts[:cut], parts[cut:]
    return "^" + "".join(head) + (f"(?:{''.join(tail)})?" if tail else "")


def steps_program(steps: tuple[Step, ...]) -> tuple[tuple[int, int, bytes], ...]:
    """The C splitter's program for a line format's steps."""
    used: set[str] = set()
    return tuple(st.program(used) for st in steps)


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
    """How to read one line: ``regex`` with named groups (and the ``steps`` it was built from), or
    ``json`` keys per field."""

    name: str
    regex: str | None = None
    json_keys: tuple[tuple[str, tuple[str, ...]], ...] = ()
    steps: tuple[Step, ...] = ()

    @classmethod
    def of_steps(cls, name: str, steps: tuple[Step, ...]) -> LogFormat:
        """The line format of ``steps``, with their regex."""
        return cls(name, steps_regex(steps), steps=steps)

    @property
    def fields(self) -> tuple[str, ...]:
        """Canonical fields this format can fill."""
        if self.regex is not None:
            return tuple(re.compile(self.regex).groupindex)
        return tuple(name for name, _ in self.json_keys)


def _token_step(token: str) -> Step:
    quoted = len(token) >= 2 and token[0] == token[-1] == '"'
    bracketed = token.startswith("[") and token.endswith("]")
    inner = token[1:-1] if quoted or bracketed else token
    inner = inner.replace('\\"', "")
    field = _DIRECTIVES.get(inner)
    if field is None and inner.startswith(("$", "%")):
        field = ""  # a variable we do not use: match it, keep nothing
    if field is None:
        return Step("literal", text=token)
    if field == "time" and inner == "%t":
        bracketed = True  # Apache's %t writes its own brackets
    return Step("quoted" if quoted else "bracketed" if bracketed else "word", field)


def from_format_string(spec: str) -> LogFormat:
    """Compile an nginx ``log_format`` or Apache ``LogFormat`` string of space-separated directives."""
    spec = spec.strip().replace('\\"', '"')
    if not spec:
        raise ConfigError("empty log format string")
    tokens = [_token_step(tok) for tok in spec.split(" ") if tok]
    if 2 * len(tokens) - 1 > MAX_STEPS:
        raise ConfigError(f"log format string of {len(tokens)} fields: at most {MAX_STEPS // 2} are read")
    steps = tuple(step for i, tok in enumerate(tokens) for step in ((SPACE, tok) if i else (tok,)))
    fmt = LogFormat.of_steps(f"custom:{spec}", steps)
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
        return LogFormat("combined", COMBINED, steps=COMBINED_STEPS)  # the regex as documented
    if name == "common":
        return LogFormat("common", COMMON, steps=COMMON_STEPS)
    if name == "json":
        return LogFormat("json", json_keys=tuple(JSON_KEYS.items()))
    if " " in name:
        return from_format_string(name)
    raise ConfigError(f"unknown log format {name!r}: use common, combined, json or a format string")
