"""Publishing to witnesses: rate-limited by an injected clock, newest checkpoint only, over real HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx

from detente.service.publisher import CheckpointPublisher
from detente.tlog.cosignature import parse_cosignature_vkey, require_cosignatures
from detente.tlog.log import Log
from detente.tlog.note import Signer
from detente.tlog.storage import MemoryStore
from detente.witness.app import create_app
from detente.witness.client import ProofFrom, Witness, WitnessClient
from detente.witness.home import WitnessHome
from tests.httpserver import serve

LOG_KEY = Signer.generate("registry.example/pub")


def test_one_round_per_interval_with_the_newest_checkpoint(tmp_path: Path) -> None:
    home = WitnessHome(tmp_path / "w")
    witness_signer = home.init("witness.example/pub")
    home.add_log(LOG_KEY.vkey)
    state = home.state()
    log = Log.create(MemoryStore(), LOG_KEY)
    log.append([b"first"])
    now = [100.0]

    def latest() -> tuple[str, int, ProofFrom]:
        return log.signed_checkpoint, log.size, log.consistency_proof

    key = parse_cosignature_vkey(witness_signer.vkey)
    with serve(create_app(witness_signer, home.logs(), state)) as url, httpx.Client() as http:
        publisher = CheckpointPublisher(WitnessClient(http, [Witness(url, key)]), latest, 5.0, lambda: now[0])
        assert publisher.maybe_publish() is True
        assert require_cosignatures(publisher.cosigned(log.signed_checkpoint), LOG_KEY.verifier(), [key], 1)
        for i in range(10):
            log.append([f"batch {i}".encode()])
            assert publisher.maybe_publish() is False, "at most one round per interval"
        assert publisher.cosigned(log.signed_checkpoint) == log.signed_checkpoint
        now[0] += 5.0
        assert publisher.maybe_publish() is True
        opened = require_cosignatures(publisher.cosigned(log.signed_checkpoint), LOG_KEY.verifier(), [key], 1)
        assert opened.checkpoint.size == 11
        assert publisher.problems == []
    state.close()
