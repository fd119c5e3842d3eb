"""The auditor rebuilds the projections from the entries alone and catches a registry that serves
something the log does not say."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from fastapi import Request, Response
from fastapi.responses import PlainTextResponse

from detente.audit.follow import Auditor
from detente.audit.mirror import Mirror
from detente.audit.projection import projection_check
from detente.service.app import create_app
from tests.httpserver import serve
from tests.service.scene import scene


def test_projections_rebuilt_from_the_log_match_and_a_doctored_one_is_caught(tmp_path: Path) -> None:
    with scene(tmp_path, f"sqlite:///{tmp_path / 'log.db'}") as s, serve(create_app(s.service)) as url:
        registry = s.service.registry
        check = projection_check(registry.notary.public, s.home.log_home.verifier())
        mirror = Mirror(tmp_path / "mirror.db")
        with httpx.Client(base_url=url) as http:
            auditor = Auditor(http, s.home.log_home.verifier(), mirror, check)
            first = auditor.step()
            assert first.alarms == ()
            assert first.new_entries == s.service.read(lambda reg: reg.log.size)
            with s.service.lock:  # the operator quietly drops a protest from what the API serves
                registry.projection.protests.pop(s.ids["protested"])
            alarms = auditor.step().alarms
        mirror.close()
    assert any(a.startswith("/v1/protests: the registry serves") for a in alarms), alarms


def test_an_unsigned_checkpoint_cannot_silence_the_comparison(tmp_path: Path) -> None:
    """The check reads the log's size again to see whether the log moved; a registry answering that
    reading with an unsigned checkpoint of another size raises an alarm, not a silent skip."""
    with scene(tmp_path, f"sqlite:///{tmp_path / 'log.db'}") as s:
        app = create_app(s.service)
        readings = [0]

        @app.middleware("http")
        async def forge_every_second_checkpoint(
            request: Request, call_next: Callable[[Request], Awaitable[Response]]
        ) -> Response:
            if request.url.path == "/checkpoint":
                readings[0] += 1
                if readings[0] % 2 == 0:  # the check's own reading, after the auditor's
                    return PlainTextResponse("not signed at all\n1\n")
            return await call_next(request)

        with serve(app) as url, httpx.Client(base_url=url) as http:
            verifier = s.home.log_home.verifier()
            mirror = Mirror(tmp_path / "mirror.db")
            check = projection_check(s.service.registry.notary.public, verifier)
            auditor = Auditor(http, verifier, mirror, check)
            alarms = auditor.step().alarms
            mirror.close()
    assert any("MalformedError" in a or "VerificationError" in a for a in alarms), alarms
