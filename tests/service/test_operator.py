"""Registering a party over HTTP needs the operator's signature; a party cannot register itself."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from typer.testing import CliRunner

from detente.registry.cli import app
from detente.registry.client import operator_signature
from detente.service.app import create_app
from detente.service.home import Settings
from detente.statements.keys import SigningKey
from detente.tlog.home import write_secret
from tests.accords.world import PartyKeys
from tests.httpserver import serve
from tests.service.scene import scene

JSON = {"Content-Type": "application/json"}


def test_only_the_operator_registers_a_first_keyset(tmp_path: Path, store_url: str) -> None:
    with scene(tmp_path, store_url, record=False) as s, serve(create_app(s.service)) as url:
        de = PartyKeys.make("DE")
        body = de.keyset(s.clock.text()).envelope.encode()
        with httpx.Client(base_url=url, headers=JSON) as http:
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


def test_a_registration_not_sent_as_json_is_refused_before_it_is_read(tmp_path: Path, store_url: str) -> None:
    with scene(tmp_path, store_url, record=False) as s, serve(create_app(s.service)) as url:
        body = PartyKeys.make("DE").keyset(s.clock.text()).envelope.encode()
        signed = {"Detente-Operator": operator_signature(s.service.registry.notary, body)}
        for sent_as in (
            {},
            {"Content-Type": "application/x-www-form-urlencoded"},
            {"Content-Type": "text/plain"},
        ):
            answer = httpx.post(f"{url}/v1/operator/parties", content=body, headers={**signed, **sent_as})
            assert (answer.status_code, answer.json()["type"]) == (415, "/problems#media-type"), answer.text
            assert answer.json()["detail"].endswith(": send the body with Content-Type: application/json")
        assert "DE" not in s.service.read(lambda reg: reg.projection.keysets)


def test_a_registration_with_an_unknown_field_is_refused(tmp_path: Path, store_url: str) -> None:
    with scene(tmp_path, store_url, record=False) as s, serve(create_app(s.service)) as url:
        envelope = json.loads(PartyKeys.make("DE").keyset(s.clock.text()).envelope.encode())
        body = json.dumps({**envelope, "foo": 1}, separators=(",", ":"), sort_keys=True).encode()  # canonical
        signed = {"Detente-Operator": operator_signature(s.service.registry.notary, body)}
        answer = httpx.post(f"{url}/v1/operator/parties", content=body, headers={**signed, **JSON})
        assert (answer.status_code, answer.json()["type"]) == (400, "/problems#malformed"), answer.text
        assert "exactly payload, payloadType and signatures" in answer.json()["detail"]
        assert "DE" not in s.service.read(lambda reg: reg.projection.keysets)


def test_the_operator_registers_a_party_from_the_command_line(tmp_path: Path, store_url: str) -> None:
    with scene(tmp_path, store_url, record=False) as s, serve(create_app(s.service)) as url:
        keyset = tmp_path / "de-keyset.json"
        keyset.write_bytes(PartyKeys.make("DE").keyset(s.clock.text()).envelope.encode() + b"\n")
        impostor, operator = tmp_path / "impostor.key", tmp_path / "notary.key"
        write_secret(impostor, SigningKey.generate(lambda n: bytes(range(n))).to_file().decode())
        write_secret(operator, s.service.registry.notary.to_file().decode())
        command = ["party", "register", str(keyset), "--registry", url, "--operator-key"]
        refused = CliRunner().invoke(app, [*command, str(impostor)])
        assert refused.exit_code == 65, refused.output
        assert "only the operator" in refused.output
        missing = CliRunner().invoke(app, ["party", "register", str(keyset), "--registry", url])
        assert missing.exit_code == 78
        done = CliRunner().invoke(app, [*command, str(operator)])
        assert done.exit_code == 0, done.output
        assert "registered at index" in done.output
        assert "DE" in s.service.read(lambda reg: reg.projection.keysets)


def test_a_registration_slower_than_the_wait_is_pending_not_failed(tmp_path: Path, store_url: str) -> None:
    with (
        scene(tmp_path, store_url, Settings(wait=0.0), record=False) as s,
        serve(create_app(s.service)) as url,
        httpx.Client(base_url=url, headers=JSON) as http,
    ):
        de = PartyKeys.make("DE").keyset(s.clock.text())
        body = de.envelope.encode()
        signed = {"Detente-Operator": operator_signature(s.service.registry.notary, body)}
        with s.service.lock:  # the writer cannot log it while we hold the readers' lock
            answer = http.post("/v1/operator/parties", content=body, headers=signed)
        assert answer.status_code == 202, answer.text
        assert answer.json() == {"status": "pending", "sid": de.sid, "location": f"/v1/statements/{de.sid}"}
        s.service.lapse()  # queued behind the registration: once it returns, the keyset is logged
        assert http.get(answer.headers["location"]).json()["sid"] == de.sid
        assert "DE" in s.service.read(lambda reg: reg.projection.keysets)


def test_the_command_line_says_a_slow_registration_is_pending(tmp_path: Path, store_url: str) -> None:
    with (
        scene(tmp_path, store_url, Settings(wait=0.0), record=False) as s,
        serve(create_app(s.service)) as url,
    ):
        keyset = tmp_path / "pl-keyset.json"
        pl = PartyKeys.make("PL").keyset(s.clock.text())
        keyset.write_bytes(pl.envelope.encode() + b"\n")
        operator = tmp_path / "notary.key"
        write_secret(operator, s.service.registry.notary.to_file().decode())
        command = ["party", "register", str(keyset), "--registry", url, "--operator-key", str(operator)]
        with s.service.lock:
            done = CliRunner().invoke(app, command)
        assert done.exit_code == 0, done.output
        assert f"keyset received, not yet integrated (sid {pl.sid})" in done.output
