"""Request bodies are JSON, and say so in their Content-Type: any other is refused (415) before it is read.

Without this, FastAPI hands a body of another type (``curl -d`` sends a form, others text/plain) to the
model as bytes, and the client is told ``Input should be a valid dictionary`` of a body that is a JSON
object. JSON is ``application/json`` or any ``application/*+json``; a charset, if named, is UTF-8 (RFC 8259,
section 8.1: JSON exchanged between systems is UTF-8).
"""

from __future__ import annotations

from email.message import Message
from typing import Any

from fastapi import Depends, Request

from detente.errors import MediaTypeError

ADVICE = "send the body with Content-Type: application/json"


def media_problem(content_type: str | None) -> str | None:
    """What is wrong with a request's Content-Type for a JSON body, or None if it names JSON.

    Read as FastAPI reads it (``email.message``), so that what passes here is what FastAPI parses as JSON.
    """
    if content_type is None:
        return "the request has no Content-Type"
    header = Message()
    header["content-type"] = content_type
    maintype, subtype = header.get_content_maintype(), header.get_content_subtype()
    if maintype != "application" or not (subtype == "json" or subtype.endswith("+json")):
        return f"the body is sent as {content_type[:80]!r}, not as JSON"
    charset = header.get_param("charset")
    if charset is not None and str(charset).lower() not in ("utf-8", "utf8"):
        return f"the body's charset is {str(charset)[:40]!r}, but JSON is UTF-8"
    return None


def json_body(request: Request) -> None:
    """Refuse a request whose Content-Type is not JSON (MediaTypeError: 415), before its body is read.

    A dependency: FastAPI runs it before it validates the body, so a form is told it is a form.
    """
    problem = media_problem(request.headers.get("content-type"))
    if problem is not None:
        raise MediaTypeError(f"{problem}: {ADVICE}")


# For a route with a JSON body: its ``dependencies``, and the refusal to add to its ``responses`` (OpenAPI).
JSON_ONLY = [Depends(json_body)]
NOT_JSON: dict[int | str, dict[str, Any]] = {415: {"description": f"The body is not sent as JSON: {ADVICE}"}}
