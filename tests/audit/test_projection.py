"""The auditor rebuilds the projections from the entries alone and catches a registry that serves
something the log does not say."""

from __future__ import annotations

from pathlib import Path

import httpx

from detente.audit.follow import Auditor
from detente.audit.mirror import Mirror
from detente.audit.projection import projection_check
from detente.service.app import create_app
from tests.httpserver import serve
from tests.service.scene import scene


def test_projections_rebuilt_from_the_log_match_and_a_doctored_one_is_caught(tmp_path: Path) -> None:
    with scene(tmp_path, f"sqlite:///{tmp_path / 'log.db'}") as s, serve(create_app(s.service)) as url:
        registry = s.service.registry
        check = projection_check(registry.notary.public)
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
