"""Request limits: a cap on body size and a token-bucket rate limit per client address.

Both are plain ASGI middleware answering with problem details (413; 429 with Retry-After) before a
route runs. The body cap counts bytes as they arrive, so a chunked body cannot grow past it either. The
clock is passed in so that tests can drive time without sleeping.

A client is its IPv4 address, or the /64 network of its IPv6 address (one host commonly holds a whole
/64, and would otherwise get a fresh burst from each address it picks). The buckets of clients that
have refilled completely are dropped (a new client starts full, so nothing is lost), so the table holds
about the clients of the last ``burst / rate`` seconds, not every address ever seen.
"""

from __future__ import annotations

import ipaddress
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from detente.errors import TooLargeError

PRUNE_FROM = 4096  # clients kept before the first pruning


@dataclass
class TokenBuckets:
    """Per-client token buckets: ``rate`` requests per second, bursts up to ``burst``."""

    rate: float
    burst: float
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _prune_at: int = PRUNE_FROM

    def take(self, client: str) -> float:
        """Take a token; return 0 if allowed, else the seconds until one is available."""
        with self._lock:
            now = self.clock()
            tokens, last = self._buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            self._buckets[client] = (tokens - 1 if tokens >= 1 else tokens, now)
            if len(self._buckets) > self._prune_at:
                self._prune(now)
            return wait

    @property
    def clients(self) -> int:
        """The clients whose buckets are kept."""
        return len(self._buckets)

    def _prune(self, now: float) -> None:
        """Drop the buckets that are full again; prune next when the table has doubled (so the work,
        over many takes, is a constant a take)."""
        self._buckets = {
            client: (tokens, last)
            for client, (tokens, last) in self._buckets.items()
            if tokens + (now - last) * self.rate < self.burst
        }
        self._prune_at = max(PRUNE_FROM, 2 * len(self._buckets))


def client_key(host: str) -> str:
    """The key a client's requests are counted under: an IPv4 address, or an IPv6 address's /64."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host  # not an address (a test client, a Unix socket): counted as it is
    if isinstance(address, ipaddress.IPv4Address):
        return host
    if address.ipv4_mapped is not None:  # ::ffff:a.b.c.d is the IPv4 client a.b.c.d
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((address, 64), strict=False))


async def _send_problem(
    send: Send, status: int, title: str, detail: str, kind: str, extra: dict[str, str]
) -> None:
    body = json.dumps(
        {"type": f"/problems#{kind}", "title": title, "status": status, "detail": detail}
    ).encode()
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in extra.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def retry_after(wait: float) -> int:
    """The whole seconds a client over its rate is told to wait, in ``Retry-After`` and the detail alike.

    Rounded up, never down: a client that waits exactly this long finds a token, where one told less
    (``round(1.4)`` is 1) would be refused again. At least 1, as ``Retry-After: 0`` invites a busy loop.
    """
    return max(1, math.ceil(wait))


class RateLimit:
    """Refuse a client over its rate with 429 and Retry-After."""

    def __init__(self, app: ASGIApp, buckets: TokenBuckets) -> None:
        self.app = app
        self.buckets = buckets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the client's bucket, then pass the request on."""
        if scope["type"] == "http":
            client = scope.get("client") or ("unknown", 0)
            wait = self.buckets.take(client_key(str(client[0])))
            if wait > 0:
                seconds = retry_after(wait)
                detail = f"this client is over its request rate; retry in {seconds} s"
                retry = {"retry-after": str(seconds)}
                await _send_problem(send, 429, "Too many requests.", detail, "rate-limit", retry)
                return
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuse request bodies over ``max_body`` bytes, declared or streamed."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, and count the bytes as they arrive."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            detail = f"request body over {self.max_body} bytes"
            await _send_problem(send, 413, "The request is over a size limit.", detail, "too-large", {})
            return
        if declared is None:  # chunked (or no body): read it first, so that too much is a plain 413
            await self._buffered(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:
                raise TooLargeError(f"request body over {self.max_body} bytes")
            return message

        await self.app(scope, counted, send)

    async def _buffered(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read a body of undeclared length (at most ``max_body`` bytes), then hand it to the app whole.

        Raising from inside ``receive`` (as for a declared length) does not work here: the framework's
        body parser turns any error while reading into a 400, and a too-large body deserves its 413.
        """
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_body:
                detail = f"request body over {self.max_body} bytes"
                await _send_problem(send, 413, "The request is over a size limit.", detail, "too-large", {})
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        whole: Message | None = {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        async def replay() -> Message:
            nonlocal whole
            if whole is not None:
                message, whole = whole, None
                return message
            return await receive()  # after the body: the disconnect, when it comes

        await self.app(scope, replay, send)
