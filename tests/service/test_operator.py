"""Registering a party over HTTP needs the operator's signature; a party cannot register itself."""

from __future__ import annotations

from pathlib import Path

import httpx

from detente.service.app import create_app
from detente.service.operator import operator_signature
from detente.statements.keys import SigningKey
from tests.accords.world import PartyKeys
from tests.httpserver import serve
from tests.service.scene import scene


def test_only_the_operator_registers_a_first_keyset(tmp_path: Path, store_url: str) -> None:
    with scene(tmp_path, store_url, record=False) as s, serve(create_app(s.service)) as url:
        de = PartyKeys.make("DE")
        body = de.keyset(s.clock.text()).envelope.encode()
        with httpx.Client(base_url=url) as http:
            before = s.service.read(lambda reg: reg.log.size)
            unsigned = http.post("/v1/operator/parties", content=body)
            assert unsigned.status_code == 422  # the header is required
            impostor = SigningKey.generate(lambda n: bytes(range(n)))
            forged = http.post(
                "/v1/operator/parties",
                content=body,
                headers={"Detente-Operator": operator_signature(impostor, body)},
            )
            assert forged.status_code == 422
            assert "only the operator" in forged.json()["detail"]
            assert s.service.read(lambda reg: reg.log.size) == before, "nothing was appended"
            signed = {"Detente-Operator": operator_signature(s.service.registry.notary, body)}
            ok = http.post("/v1/operator/parties", content=body, headers=signed)
            assert ok.status_code == 201, ok.text
            assert ok.json()["kind"] == "keyset"
            again = http.post("/v1/operator/parties", content=body, headers=signed)
            assert again.status_code == 409, "a party is registered once; later versions are root-signed"
            assert "DE" in http.get("/v1/parties").text
