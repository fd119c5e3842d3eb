"""The browser's bundle verifier (web/static/bundle.js) agrees with verify_bundle, in Node.js.

Every claim type verifies with the same sentence as the offline verifier; every single-byte change of
a bundle is refused, as it is by detente.registry.bundle.verify_bundle; and so is every bundle of
tests/web/forged.py that the offline verifier refuses, each signed by the real log key. The browser's
verifier reads statements by the rules the verify page carries (``bundle_rules``), given here as well.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from detente.errors import DetenteError
from detente.registry.bundle import build_bundle, verify_bundle
from detente.web.registrypages import bundle_rules
from tests.accords.world import LOG_SIGNER
from tests.conftest import ROOT
from tests.service.scene import Scene, scene
from tests.web import forged
from tests.web.node import run_in_node

MODULE = ROOT / "src/detente/web/static/bundle.js"
RUNNER = Path(__file__).with_name("run_bundle.mjs")
CLAIMS = [
    ("concluded", "concluded"), ("refused", "refused"), ("offered", "refused"), ("declared", "declared"),
    ("protested", "protested"), ("replied", "protested"),
]  # fmt: skip


RULES = bundle_rules()


def run(cases: list[dict[str, Any]], tmp_path: Path) -> list[dict[str, Any]]:
    return run_in_node(RUNNER, MODULE, [{**c, "rules": RULES} for c in cases], tmp_path)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    tmp = tmp_path_factory.mktemp("bundles")
    with scene(tmp, f"sqlite:///{tmp / 'log.db'}") as s:
        yield s


def bundle(s: Scene, claim: str, label: str) -> bytes:
    return s.service.read(lambda reg: build_bundle(reg, claim, s.ids[label]))


def test_every_claim_verifies_as_offline(recorded: Scene, tmp_path: Path) -> None:
    vkey = recorded.home.log_home.verifier().vkey
    bundles = [bundle(recorded, claim, label) for claim, label in CLAIMS]
    cases = [{"bundle": base64.b64encode(b).decode(), "vkey": vkey, "flips": False} for b in bundles]
    results = run(cases, tmp_path)
    for data, result in zip(bundles, results, strict=True):
        expected = verify_bundle(data, recorded.home.log_home.verifier()).claim.sentence()
        assert result == {"ok": True, "sentence": expected}


def test_every_single_byte_change_is_refused(recorded: Scene, tmp_path: Path) -> None:
    vkey = recorded.home.log_home.verifier().vkey
    cases = [
        {"bundle": base64.b64encode(bundle(recorded, claim, label)).decode(), "vkey": vkey, "flips": True}
        for claim, label in (("declared", "declared"), ("replied", "protested"))
    ]
    for result in run(cases, tmp_path):
        assert result["ok"] is True
        assert result["accepted"] == []


def test_another_log_key_is_refused(recorded: Scene, tmp_path: Path) -> None:
    from detente.tlog.note import Signer

    other = Signer.generate(recorded.service.settings.origin).vkey
    data = bundle(recorded, "declared", "declared")
    (result,) = run([{"bundle": base64.b64encode(data).decode(), "vkey": other, "flips": False}], tmp_path)
    assert result["ok"] is False


@pytest.fixture(scope="module")
def forged_verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str | None, dict[str, Any]]]:
    """Per forged bundle: the offline verifier's refusal (None if it accepts) and the browser's result."""
    bundles = {name: build() for name, build in {**forged.REFUSED, **forged.ACCEPTED}.items()}
    cases = [
        {"bundle": base64.b64encode(b).decode(), "vkey": LOG_SIGNER.vkey, "flips": False}
        for b in bundles.values()
    ]
    results = run(cases, tmp_path_factory.mktemp("forged"))
    verdicts = {}
    for (name, data), result in zip(bundles.items(), results, strict=True):
        try:
            verify_bundle(data, LOG_SIGNER.verifier())
            refusal = None
        except DetenteError as exc:
            refusal = str(exc)
        verdicts[name] = (refusal, result)
    return verdicts


@pytest.mark.parametrize("name", list(forged.REFUSED))
def test_what_the_offline_verifier_refuses_the_browser_refuses(
    forged_verdicts: dict[str, tuple[str | None, dict[str, Any]]], name: str
) -> None:
    refusal, result = forged_verdicts[name]
    assert refusal is not None, "detente verify accepted it"
    assert result["ok"] is False, f"the browser accepted what detente verify refuses ({refusal})"


@pytest.mark.parametrize("name", list(forged.ACCEPTED))
def test_what_the_offline_verifier_accepts_the_browser_accepts(
    forged_verdicts: dict[str, tuple[str | None, dict[str, Any]]], name: str
) -> None:
    refusal, result = forged_verdicts[name]
    assert refusal is None
    assert result["ok"] is True, result["error"]
