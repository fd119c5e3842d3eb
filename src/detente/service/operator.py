"""Operator actions over HTTP: registering a party's first keyset, authenticated by the operator's key.

Parties need no password: their statements authenticate themselves. The one act only the operator may
take - registering a party's *first* keyset (the trust-on-first-use point, ARCHITECTURE.md) - must carry
the operator's signature in ``Detente-Operator: <base64 Ed25519 signature>``, made with the notary key
over ``detente-operator-v1\\n`` + the exact request body. The prefix keeps this signature from ever
passing for a statement or a decision. The keyset itself must still be self-signed by its own root.
"""

from __future__ import annotations

import asyncio
import binascii
from base64 import b64decode
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from detente.errors import ConflictError, VerificationError
from detente.http.media import JSON_ONLY, NOT_JSON
from detente.registry.client import OPERATOR_CONTEXT
from detente.registry.core import Receipt
from detente.registry.core import Request as Submission
from detente.service.api import pending
from detente.service.core import RegistryService
from detente.statements.canonical import sha256_hex
from detente.statements.dsse import Envelope

# The body, read as bytes (the signature is over them exactly), described for the OpenAPI document.
KEYSET = {
    "type": "object",
    "description": "The party's first keyset: a DSSE envelope signed by its own root, canonical JSON "
    "(docs/formats.md, 2.1), sent as Content-Type: application/json",
}


def operator_router(service: RegistryService) -> APIRouter:
    """The operator's routes."""
    router = APIRouter(tags=["operator"])

    @router.post(
        "/v1/operator/parties",
        status_code=201,
        responses={
            202: {"description": "Not yet logged; ask for the keyset by the sid in Location"},
            **NOT_JSON,
        },
        dependencies=JSON_ONLY,
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {"schema": KEYSET}}}
        },
    )
    async def register_party(
        request: Request, detente_operator: Annotated[str, Header(description="Operator signature")]
    ) -> JSONResponse:
        """Register a party's first keyset (a self-signed DSSE envelope, as the request body)."""
        body = await request.body()
        try:
            signature = b64decode(detente_operator, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise VerificationError("the Detente-Operator header is not base64") from exc
        notary = service.registry.notary
        if not notary.public.verify(OPERATOR_CONTEXT + body, signature):
            raise VerificationError(
                "the operator signature does not verify: only the operator registers parties"
            )
        queued = service.submit(Submission(body, (), True))
        future = asyncio.wrap_future(queued)
        try:
            done = await asyncio.wait_for(asyncio.shield(future), timeout=service.settings.wait)
        except TimeoutError:  # queued, and it may still be logged: never a failure
            sid = sha256_hex(Envelope.decode(body).payload)
            service.refusals.watch(sid, queued)
            return pending(sid)
        if not isinstance(done, Receipt):
            raise ConflictError("the registration was not logged")
        return JSONResponse({"index": done.index, "sid": done.sid, "kind": done.kind}, status_code=201)

    return router
