"""The log's public pages over a real HTTP server on 127.0.0.1, for the page and browser tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI

from detente.http import problems
from detente.http.logapi import SharedLog
from detente.tlog.log import Log
from detente.web.logpages import log_pages
from detente.web.render import static_files
from tests.httpserver import serve


@contextmanager
def log_site(log: Log) -> Iterator[str]:
    """Serve the pages of ``log`` (with problem details and static files); yield the base URL."""
    app = FastAPI()
    problems.install(app)
    app.include_router(log_pages(SharedLog(log)))
    app.mount("/static", static_files(), name="static")
    with serve(app) as url:
        yield url
