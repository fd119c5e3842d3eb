"""The registry service as one FastAPI app: API, C2SP endpoints, pages, limits and problem details.

Composition only: every route is defined in its own module (``api``, ``detente.http.logapi``,
``detente.web``); this module wires them to one :class:`~detente.service.core.RegistryService`.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

from detente.http import problems
from detente.http.head import HeadAsGet
from detente.http.headers import SecurityHeaders
from detente.http.limits import BodyLimit, RateLimit, TokenBuckets
from detente.http.logapi import log_router
from detente.registry import views
from detente.service.api import Party, api_router
from detente.service.core import RegistryService
from detente.service.feed import ATOM, atom_feed
from detente.service.operator import operator_router
from detente.web.logpages import log_pages
from detente.web.registrypages import bundle_rules, registry_pages, summarize
from detente.web.render import static_files


def create_app(service: RegistryService, buckets: TokenBuckets | None = None) -> FastAPI:
    """The app over a started service (the caller starts and closes the service)."""
    settings = service.settings
    app = FastAPI(
        title="detente registry",
        summary="Signed assurances of non-interference in a public transparency log.",
        version="1",
    )
    problems.install(app)
    app.include_router(api_router(service))
    app.include_router(operator_router(service))
    app.include_router(log_router(service.shared))
    app.include_router(log_pages(service.shared, summarize, bundle_rules()))
    app.include_router(registry_pages(service))

    @app.get("/v1/parties/{party}/feed.atom", tags=["registry"], response_class=Response)
    def feed(party: Party, request: Request) -> Response:
        """An Atom feed of the newest statements by or addressed to a party."""
        acts = service.read(lambda reg: views.concerning(reg, party))
        # The configured public address; failing that, the one the client asked for (then a shared cache
        # must keep one copy per Host, or a client's Host header would become every reader's links).
        base = service.settings.public_url or str(request.base_url).rstrip("/")
        origin = service.shared.read(lambda log: log.checkpoint.origin)
        headers = {} if service.settings.public_url else {"Vary": "Host"}
        return Response(atom_feed(base, party, acts, origin), media_type=ATOM, headers=headers)

    app.mount("/static", static_files(), name="static")
    app.add_middleware(BodyLimit, max_body=settings.max_body)
    if buckets is None:
        buckets = TokenBuckets(settings.rate, settings.burst)
    app.add_middleware(RateLimit, buckets=buckets)
    app.add_middleware(SecurityHeaders)  # outside the limits: on every answer, theirs included
    app.add_middleware(HeadAsGet)  # the last added is the outermost: every answer to a HEAD loses its body
    return app
