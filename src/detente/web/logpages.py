"""Pages of the log: the checkpoint, the latest entries, and any entry with its proof."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from jinja2.utils import htmlsafe_json_dumps

from detente.http.logapi import SharedLog
from detente.http.params import Int, MaybeInt
from detente.tlog.log import Log
from detente.tlog.proof import format_tlog_proof
from detente.web.render import page

PAGE = 50
Summarize = Callable[[bytes], str]


def describe(entry: bytes) -> tuple[str, str]:
    """``(received, pretty content)`` of an entry: JSON shown indented, other bytes as text or hex."""
    try:
        value = json.loads(entry)
    except (UnicodeDecodeError, ValueError):
        text = entry.decode("utf-8", errors="replace")
        return "", text if text.isprintable() else entry.hex()
    received = str(value.get("received", "")) if isinstance(value, dict) else ""
    return received, json.dumps(value, indent=2, ensure_ascii=False)


def plain_summary(entry: bytes) -> str:
    """A one-line summary for entries whose kind is unknown to the web."""
    return describe(entry)[1].replace("\n", " ")[:120]


def log_pages(
    shared: SharedLog, summarize: Summarize = plain_summary, bundle_rules: Mapping[str, Any] | None = None
) -> APIRouter:
    """The log's pages.

    Args:
        bundle_rules: what the verify page reads a bundle's statements by
            (:func:`detente.web.registrypages.bundle_rules`); without them the page verifies proofs only.
    """
    router = APIRouter(include_in_schema=False)
    # written once, in the schemas' own order (the browser checks properties in it, as Python does)
    rules = None if bundle_rules is None else htmlsafe_json_dumps(bundle_rules)

    @router.get("/log", response_class=HTMLResponse)
    def log_page(before: Annotated[MaybeInt, Query(ge=0, le=2**62)] = None) -> HTMLResponse:
        def read(log: Log) -> HTMLResponse:
            stop = log.size if before is None else min(before, log.size)
            start = max(0, stop - PAGE)
            rows = [
                {"index": i, "received": describe(e)[0], "summary": summarize(e)}
                for i, e in reversed(list(enumerate(log.entries(start, stop), start)))
            ]
            older = start if start > 0 else None  # the page of the entries before this one, if any
            return page(
                "log.html",
                size=log.size,
                vkey=log.log_key.vkey,
                checkpoint=shared.checkpoint(),
                rows=rows,
                older=older,
            )

        return shared.read(read)

    @router.get("/log/entry", response_class=HTMLResponse)
    def entry_page(index: Annotated[Int, Query(ge=0, le=2**62)]) -> HTMLResponse:
        def read(log: Log) -> HTMLResponse:
            (entry,) = log.entries(index, index + 1)
            proof = format_tlog_proof(index, log.inclusion_proof(index), log.signed_checkpoint)
            _, content = describe(entry)
            return page(
                "entry.html",
                index=index,
                size=log.size,
                summary=summarize(entry),
                content=content,
                proof=proof,
            )

        return shared.read(read)

    @router.get("/verify", response_class=HTMLResponse)
    def verify_page() -> HTMLResponse:
        return page("verify.html", vkey=shared.read(lambda log: log.log_key.vkey), rules=rules)

    @router.get("/log/entry/{index}.tlog-proof")
    def entry_proof(index: Annotated[Int, Path(ge=0, le=2**62)]) -> PlainTextResponse:
        def read(log: Log) -> str:
            return format_tlog_proof(index, log.inclusion_proof(index), log.signed_checkpoint)

        return PlainTextResponse(
            shared.read(read), headers={"Content-Disposition": f'attachment; filename="{index}.tlog-proof"'}
        )

    @router.get("/log/entry/{index}.bin")
    def entry_bytes(index: Annotated[Int, Path(ge=0, le=2**62)]) -> Response:
        (data,) = shared.read(lambda log: log.entries(index, index + 1))
        return Response(data, media_type="application/octet-stream")

    return router
