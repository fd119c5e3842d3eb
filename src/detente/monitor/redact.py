"""Redacted log lines: all that the evidence file shows of a request (docs/formats-incident.md).

The evidence goes to the counterparty, so a line in it is rebuilt in combined format from the parsed
fields, never copied from the log: the user field and the referer are always ``-`` (they can carry a
name, a credential or a token), the query string becomes ``?REDACTED``, path parameters after ``;`` are
dropped, a target loses any user and password (:func:`without_credentials`), a method that is not an
HTTP token (the first word of a request nobody could read) is written ``-``, and a request without a
target (:data:`.formats.NO_TARGET`) is written ``-``, as nginx writes one. A rejected line is shown
the same way, each field that could not be read written ``-``, and one that the format does not read
at all only by its length.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .formats import NO_TARGET

STAMP = "%d/%b/%Y:%H:%M:%S +0000"  # the time of a rebuilt line, in UTC as every time the monitor writes
# an HTTP method is a token (RFC 9110, section 9.1, and 5.6.2 for the characters a token may hold)
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,32}")
_NAMES = {"client": "the address", "ts": "the time", "status": "the status"}  # of a rejected line's fields


def without_credentials(path: str, query: bool) -> str:
    """``path`` (a request target up to its first "?"; ``query``: whether one followed) without any
    user or password it may hold: in absolute form (``http://user:password@host/path``, RFC 9112
    section 3.2.2, or such a URL inside a path) and in authority form (``user:password@host:443``).

    Everything up to the last "@" goes: RFC 3986 (section 3.2.1) allows neither "/" nor "#" in a user
    or password, but a client may send them (``http://alice:pa/ss@host/``). Where a "?" came before
    any "@", the "@" went with the query string, and what is left may be a user and the start of a
    password (``http://alice:s3cr?t@host/``): if it holds a ":", the authority and path are written
    ``REDACTED``. A target with neither is as it was."""
    head, sep, rest = path.partition("://")
    if not sep:
        if path.startswith("/"):
            return path  # origin form: no authority
        head, rest = "", path  # authority form (CONNECT), or no form at all
    if "@" in rest:
        return head + sep + rest.rpartition("@")[2]
    if query and ":" in rest:
        return head + sep + "REDACTED"
    return path


def request_line(method: str | None, path: str | None, query: bool | None) -> str:
    """The redacted request of a line, between its quotes."""
    if path is None or path == NO_TARGET:
        return "-"
    shown = method if method is not None and _TOKEN.fullmatch(method) else "-"
    target = without_credentials(path, bool(query)).split(";", 1)[0] + ("?REDACTED" if query else "")
    return f"{shown} {target} HTTP/1.1"


def redacted_line(row: Mapping[str, Any]) -> str:
    """A line rebuilt in combined format from a row's ``client``, ``ts``, ``method``, ``path``,
    ``query``, ``status``, ``size`` and ``agent``; a null client, time or status is written ``-``."""
    when: datetime | None = row["ts"]
    stamp = when.strftime(STAMP) if when is not None else "-"
    status = "-" if row["status"] is None else row["status"]
    agent = str(row["agent"] or "-").replace('"', "'")
    request = request_line(row["method"], row["path"], row["query"])
    return f'{row["client"] or "-"} - - [{stamp}] "{request}" {status} {row["size"] or 0} "-" "{agent}"'


def rejected_line(row: Mapping[str, Any], length: int, limit: int = 300) -> str:
    """What the evidence shows of a rejected line of ``length`` characters: the fields that could not
    be read and the line rebuilt from the others (:func:`redacted_line`, ``row`` holding the client
    and time only if they were read), at most ``limit`` characters; a line that the format does not
    read at all (no address captured: the ``addr`` field is null), only its length. Never its text."""
    if row["addr"] is None:
        return f"does not match the format: a line of {length} characters"
    unread = [name for name in ("client", "ts", "status") if row[name] is None]
    what = " and ".join(_NAMES[name] for name in unread) or "the line"
    return f"{what} cannot be read: {redacted_line(row)}"[:limit]
