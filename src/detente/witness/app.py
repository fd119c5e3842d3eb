"""The witness's HTTP shell: ``POST /add-checkpoint`` (c2sp.org/tlog-witness) and a small info page."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response

from detente.http.limits import BodyLimit
from detente.tlog.note import Ed25519Verifier, Signer
from detente.witness.core import Outcome, Seen, decide
from detente.witness.state import WitnessState

MAX_BODY = 64 * 1024  # 63 proof lines and a checkpoint with many signatures fit well within this


def create_app(
    witness: Signer,
    logs: Mapping[str, Ed25519Verifier],
    state: WitnessState,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """Build the witness app; keys, trusted logs, state and clock are passed in."""
    app = FastAPI(title="detente witness", docs_url=None, redoc_url=None)

    @app.post("/add-checkpoint")
    async def add_checkpoint(request: Request) -> Response:
        body = await request.body()  # at most MAX_BODY bytes: BodyLimit refuses more as it arrives

        def judge(seen: Mapping[str, Seen]) -> Outcome:
            return decide(body, logs, seen, witness, int(clock()))

        outcome = state.apply(body, judge)
        # set as a header, not as media_type: Starlette appends "; charset=utf-8" to any text/* media type,
        # and the spec's 409 must be exactly text/x.tlog.size
        headers = {"content-type": outcome.content_type}
        return Response(outcome.body, status_code=outcome.status, headers=headers)

    @app.get("/")
    async def info() -> PlainTextResponse:
        lines = [f"witness {witness.vkey}", *(f"log {v.vkey}" for v in logs.values())]
        return PlainTextResponse("\n".join(lines) + "\n")

    # counted as the bytes arrive (or from the declared length), so a huge body is never held whole
    app.add_middleware(BodyLimit, max_body=MAX_BODY)
    return app
