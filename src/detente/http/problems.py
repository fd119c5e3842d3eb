"""RFC 9457 problem details: every DetenteError becomes one JSON answer, mapped in one place.

The ``type`` of a problem is ``/problems#<slug>``, documented on the service's /problems page; ``detail``
is the library's own message, so the CLI and the API give the same reasons.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.routing import Match, Mount

from detente.errors import (
    ConfigError,
    ConflictError,
    DetenteError,
    InputError,
    MalformedError,
    MediaTypeError,
    NotFoundError,
    SecurityError,
    TooLargeError,
    VerificationError,
    WriterBusyError,
)

MEDIA_TYPE = "application/problem+json"

# Most specific first: the first class an error is an instance of decides its status.
STATUS: list[tuple[type[DetenteError], int, str]] = [
    (MalformedError, 400, "The request could not be parsed."),
    (TooLargeError, 413, "The request is over a size limit."),
    (MediaTypeError, 415, "The request body is not sent as JSON."),
    (VerificationError, 422, "A signature or proof does not verify."),
    (InputError, 422, "The request was refused."),
    (NotFoundError, 404, "Not found."),
    (WriterBusyError, 503, "The log's writer is busy elsewhere."),
    (ConflictError, 409, "Not allowed in the current state."),
    (SecurityError, 503, "The service found its own data inconsistent and stopped serving it."),
    (ConfigError, 500, "The service is misconfigured."),
]


# Problems raised by the HTTP edge itself rather than by the library.
EXTRA_TYPES: list[tuple[str, int, str, str]] = [
    (
        "validation",
        422,
        "The request does not match the API.",
        "A parameter or body field is missing or has the wrong form.",
    ),
    (
        "rate-limit",
        429,
        "Too many requests.",
        "This client is over its rate; retry after the Retry-After header.",
    ),
    ("http-404", 404, "Not Found", "No such page or endpoint."),
    (
        "http-405",
        405,
        "Method Not Allowed",
        "The endpoint exists, but not for this method: the Allow header lists those it takes.",
    ),
    (
        "internal",
        500,
        "Internal error.",
        "Something failed inside the service (a full disk, say); nothing secret is told. Retry later.",
    ),
]
# FastAPI's answer to a body it could not decode (bytes that are not UTF-8, JSON nested too deeply, an
# integer too long to convert), which it gives as a bare 400 with this text and the error as the cause.
_UNREADABLE = "There was an error parsing the body"


def slug(kind: type[BaseException]) -> str:
    """``VerificationError`` -> ``verification``."""
    name = kind.__name__.removesuffix("Error")
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def problem(status: int, title: str, detail: str, kind: str, **extra: object) -> JSONResponse:
    """Build a problem+json response."""
    body = {"type": f"/problems#{kind}", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE)


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept and "problem+json" not in accept


def _answer(request: Request, status: int, title: str, detail: str, kind: str) -> Response:
    """Problem details for programs; the same problem as a page for browsers."""
    if _wants_html(request):
        from detente.web.render import page

        return page("problem.html", status=status, title=title, detail=detail, code=status, kind=kind)
    return problem(status, title, detail, kind)


def from_error(error: DetenteError) -> tuple[int, str, str, str]:
    """``(status, title, detail, type slug)`` for a library error."""
    for kind, status, title in STATUS:
        if isinstance(error, kind):
            return status, title, str(error), slug(kind)
    return 500, "Internal error.", str(error), "detente"


def unreadable(cause: BaseException) -> str:
    """What is wrong with a request body that could not be decoded at all."""
    if isinstance(cause, UnicodeDecodeError):
        return f"the body is not UTF-8 text ({cause.reason} at byte {cause.start})"
    if isinstance(cause, RecursionError):
        return "the body's JSON is nested too deeply"
    first = str(cause).split(";")[0]  # Python's advice for its own limits is no use to a client
    return f"the body is not JSON this API can read: {first}"


# The methods of RFC 9110 (section 9) and PATCH (RFC 5789): those a 405's Allow may name.
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")


def allowed(request: Request, given: str) -> str:
    """Every method the request's path takes, for a 405's ``Allow`` (RFC 9110, section 15.5.6).

    Starlette names the methods of the first route whose path matched alone, so a path served by two
    routes would be said to take the first's only. Here the app's routes are asked, method by method,
    which would take the path; a mount (``/static``) takes any method at this level and names its own,
    ``given``. HEAD is named wherever GET is: :class:`~detente.http.head.HeadAsGet` answers it there.
    """
    methods = {m.strip() for m in given.split(",") if m.strip()}
    root = request.scope.get("app_root_path", request.scope.get("root_path", ""))  # the app's, not a mount's
    routes = [r for r in request.app.router.routes if not isinstance(r, Mount)]
    for method in METHODS:
        probe = {"type": "http", "path": request.scope["path"], "root_path": root, "method": method}
        if any(route.matches(dict(probe))[0] is Match.FULL for route in routes):
            methods.add(method)
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join([m for m in METHODS if m in methods] + sorted(methods - set(METHODS)))


# Pydantic's messages that say what is wrong but not what to do, by the error's type.
_MESSAGES = {
    "extra_forbidden": "not a field of this request (misspelt?): the fields it takes are in /openapi.json",
}


def _message(error: Mapping[str, Any]) -> str:
    """What a validation error tells the client: ours for the types in ``_MESSAGES``, else pydantic's."""
    return _MESSAGES.get(str(error.get("type")), str(error.get("msg", "")))


def install(app: FastAPI) -> None:
    """Answer library errors, HTTP errors and request validation errors as problem details."""

    async def on_detente(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DetenteError)
        return _answer(request, *from_error(exc))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.detail == _UNREADABLE and exc.__cause__ is not None:
            detail = unreadable(exc.__cause__)
            return problem(422, "The request does not match the API.", detail, "validation")
        status, detail = exc.status_code, str(exc.detail)
        answer = _answer(request, status, detail, detail, f"http-{status}")
        answer.headers.update(exc.headers or {})  # a 405's Allow, above all
        if status == 405:
            answer.headers["Allow"] = allowed(request, answer.headers.get("Allow", ""))
        return answer

    async def on_anything_else(request: Request, exc: Exception) -> Response:
        # Never the exception's text: it may name a file, a query or worse. The server logs it whole.
        return _answer(request, 500, "Internal error.", "the service failed; retry later", "internal")

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [{"loc": [str(p) for p in e.get("loc", ())], "msg": _message(e)} for e in exc.errors()]
        detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors)
        return problem(422, "The request does not match the API.", detail, "validation", errors=errors)

    @app.get("/problems", include_in_schema=False)
    def problem_types() -> Response:
        """The page the ``type`` of every problem points to."""
        from detente.web.render import page

        rows = [(slug(kind), status, title, (kind.__doc__ or "").strip()) for kind, status, title in STATUS]
        rows += EXTRA_TYPES
        return page("problems.html", rows=rows)

    app.add_exception_handler(DetenteError, on_detente)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(Exception, on_anything_else)
