"""Security headers on every answer: no content sniffing, and a content policy for the HTML pages.

The pages load their scripts and styles from ``/static`` only; the policy keeps any text that might ever
slip past the templates' escaping from running as script, from framing the pages, and from posting
forms elsewhere. FastAPI's interactive ``/docs`` (Swagger UI from a CDN) is left without a policy.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
UNPOLICED = ("/docs", "/redoc")  # FastAPI's interactive pages load their code from a CDN


class SecurityHeaders:
    """ASGI middleware adding ``X-Content-Type-Options: nosniff`` everywhere, and the page policy."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Add the headers to the response's start message."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policed = not str(scope.get("path", "")).startswith(UNPOLICED)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                html = any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers)
                if html and policed:
                    headers.append((b"content-security-policy", POLICY.encode()))
                    headers.append((b"referrer-policy", b"no-referrer"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
