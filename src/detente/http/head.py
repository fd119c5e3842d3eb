"""HEAD wherever GET is served (RFC 9110, section 9.3.2): the GET's status and headers, without the body.

A general-purpose server must take HEAD (RFC 9110, section 9.1): a cache, a monitor or a link checker asks
whether a page, a blob or a tile is there, or whether it changed, without fetching it. FastAPI routes take
only the methods they are declared with, so instead of a HEAD twin beside every GET route (each of which
would have to be remembered), the app is wrapped once: a HEAD is handed to it as a GET, and its answer
is sent without the body. The headers are the GET's, ``Content-Length`` included, as section 9.3.2
allows. A path that takes no GET refuses HEAD as it refuses GET (405, its ``Allow`` naming the methods).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """ASGI middleware answering HEAD as the app answers GET, less the body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass a HEAD on as a GET, and keep its body from the client."""
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # a part of the body: dropped (the last part, emptied, ends the answer)
                message = {**message, "body": b""}
            await send(message)

        # a copy, not the server's own scope: the server still knows the request was a HEAD
        await self.app({**scope, "method": "GET"}, receive, headers_only)
