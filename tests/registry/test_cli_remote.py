"""The same CLI commands on a registry folder (``--dir``) and on a running service (``--registry URL``).

Every scenario runs twice: once on a local registry built by ``detente example``, once against a real
uvicorn serving ``detente.service.app.create_app`` on 127.0.0.1, with the same commands, the same
outputs and the same exit codes (a refusal by the service exits as the library's refusal does locally).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from detente import errors
from detente.http.problems import STATUS, slug
from detente.monitor import EVIDENCE_SCHEMA
from detente.monitor.evidence import Evidence
from detente.registry.cli import app
from detente.registry.client import HttpClient, Submitted, problem_error
from detente.service.app import create_app
from detente.tlog.home import write_secret
from tests.httpserver import serve
from tests.service.scene import scene

runner = CliRunner()


@dataclass
class Target:
    """Where the commands go (``--dir DIR`` or ``--registry URL``), the parties' keys, the log key."""

    where: list[str]
    keys: dict[str, str]
    log_key: Path
    tmp: Path

    def run(self, *args: str, code: int = 0) -> str:
        result = runner.invoke(app, [*args, *self.where])
        assert result.exit_code == code, result.output
        return " ".join(result.output.split())  # Rich wraps long lines at the runner's width


@pytest.fixture(params=["folder", "service"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "folder":
        home = tmp_path / "reg"
        assert runner.invoke(app, ["example", "--dir", str(home)]).exit_code == 0
        keys = {p: str(home / "keys" / f"{p}-foreign-minister.key") for p in ("RU", "US")}
        keys["RU-cert"] = str(home / "keys" / "RU-cert.key")
        yield Target(["--dir", str(home)], keys, home / "log" / "log.vkey", tmp_path)
        return
    with scene(tmp_path, f"sqlite:///{tmp_path / 'log.db'}") as s, serve(create_app(s.service)) as url:
        keys = {}
        for party in ("RU", "US"):
            path = tmp_path / f"{party}-fm.key"
            write_secret(path, s.keys[party].minister.to_file().decode())
            keys[party] = str(path)
        keys["RU-cert"] = str(tmp_path / "RU-cert.key")
        write_secret(tmp_path / "RU-cert.key", s.keys["RU"].cert.to_file().decode())
        # A folder that does not exist: nothing may be read from or written to it.
        where = ["--registry", url, "--dir", str(tmp_path / "absent")]
        yield Target(where, keys, s.home.log_home.path / "log.vkey", tmp_path)
        assert not (tmp_path / "absent").exists()


def offer(t: Target, nonce: str, clauses: str = "L1,M1") -> str:
    said = t.run("offer", "--party", "RU", "--key", t.keys["RU"], "--to", "US", "--clauses", clauses,
                 "--nonce", str(t.tmp / nonce))  # fmt: skip
    assert re.search(r"offer logged at index \d+ \(sid [0-9a-f]{64}\)", said), said
    return said.split()[1]


def test_an_offer_refused_then_accepted_is_refused_with_the_same_exit_code(target: Target) -> None:
    t = target
    xid = offer(t, "na")
    said = t.run("refuse", xid, "--party", "US", "--key", t.keys["US"], "--reason", "not now")
    assert "refuse logged at index" in said
    refused = t.run(
        "accept", xid, "--party", "US", "--key", t.keys["US"], "--nonce", str(t.tmp / "nb"), code=75
    )
    assert "error" in refused
    assert "refused" in refused
    assert "refuse" in t.run("offers", "US")
    assert "offer" in t.run("offers", "RU")
    assert "refused" in t.run("status", "--xid", xid)
    missing = "0" * 32
    assert "no exchange" in t.run("accept", missing, "--party", "US", "--key", t.keys["US"], "--nonce",
                                  str(t.tmp / "nc"), code=66)  # fmt: skip


def test_accept_reveal_timeline_and_a_bundle_verified_offline(target: Target) -> None:
    t = target
    xid = offer(t, "na", "L1,M2,M3")
    assert "accept logged at index" in t.run(
        "accept", xid, "--party", "US", "--key", t.keys["US"], "--nonce", str(t.tmp / "nb")
    )
    not_hex = t.tmp / "not-hex"
    write_secret(not_hex, "zz-not-a-nonce\n")
    refused = t.run("reveal", xid, "--party", "RU", "--key", t.keys["RU"], "--nonce", str(not_hex), code=65)
    assert "not a nonce file" in refused
    assert "zz-not" not in refused, "a nonce file's text is never printed"
    t.run("reveal", xid, "--party", "RU", "--key", t.keys["RU"], "--nonce", str(t.tmp / "na"))
    t.run("reveal", xid, "--party", "US", "--key", t.keys["US"], "--nonce", str(t.tmp / "nb"))
    assert "concluded" in t.run("status", "--xid", xid)
    timeline = t.run("timeline", "RU", "US")
    assert "reveal" in timeline
    assert "accept" in timeline
    assert "M2" in timeline  # the clauses in force now
    bundle = t.tmp / "concluded.json"
    assert "bundle ->" in t.run("bundle", "concluded", xid, "--out", str(bundle))
    said = runner.invoke(app, ["verify", str(bundle), "--log-key", str(t.log_key)])
    assert said.exit_code == 0, said.output
    assert "PROVEN as of checkpoint" in said.output
    assert "RU and US was concluded" in said.output
    # A second reveal is a replay: refused, as locally.
    t.run("reveal", xid, "--party", "US", "--key", t.keys["US"], "--nonce", str(t.tmp / "nb"), code=75)


def test_resolve_prints_the_notarys_decision_and_a_second_request_is_refused(target: Target) -> None:
    t = target
    xid = offer(t, "na")
    t.run("accept", xid, "--party", "US", "--key", t.keys["US"], "--nonce", str(t.tmp / "nb"))
    said = t.run("resolve", xid, "--party", "US", "--key", t.keys["US"])
    assert "resolve logged at index" in said
    assert "notary decision: resolved" in said
    assert "resolved" in t.run("abort", xid, "--party", "RU", "--key", t.keys["RU"], code=75)
    assert "resolved" in t.run("status", "--xid", xid)


def test_declare_protest_reply_and_offline_signing_then_submit(target: Target) -> None:
    t = target
    text = t.tmp / "declaration.txt"
    text.write_text("We will not interfere.\n")
    said = t.run("declare", "--party", "RU", "--key", t.keys["RU"], "--clauses", "L1", "--text", str(text),
                 "No interference", "--to", "US")  # fmt: skip
    did = said.split()[1]
    assert "declaration logged at index" in said
    assert f"declaration {did} by RU to US: in force" in t.run("status")
    said = t.run("protest", "--party", "US", "--key", t.keys["US"], "--to", "RU", "--ref", did,
                 "--clauses", "L1", "Interference seen")  # fmt: skip
    pid = said.split()[1]
    assert "reply logged" in t.run("reply", pid, "--party", "RU", "--key", t.keys["RU"], "rejects", "No.")
    signed = t.tmp / "offer.json"
    said = t.run("offer", "--party", "RU", "--key", t.keys["RU"], "--to", "US", "--clauses", "L1",
                 "--nonce", str(t.tmp / "nd"), "--out", str(signed))  # fmt: skip
    blobs = [str(p) for p in t.tmp.glob("*.blob")]
    assert len(blobs) == 1
    assert "offer logged at index" in t.run("submit", str(signed), "--blob", blobs[0])
    assert "replay" in t.run("submit", str(signed), "--blob", blobs[0], code=75).lower()


EVIDENCE = Evidence("3f0c9a1b2c3d4e5f", [{"source": "198.51.100.0/24", "requests": 600}], ["GET / ..."])


def test_incident_submit_signs_with_the_cert_key_and_lands_in_the_timeline(target: Target) -> None:
    t = target
    origin = {
        "key": "US",
        "name": "US",
        "requests": 600,
        "request_share": 0.6,
        "sources": 20,
        "source_share": 0.5,
    }
    incident = {
        "id": "3f0c9a1b2c3d4e5f", "asset": "cec", "party": "RU", "asset_kind": "election-body",
        "kind": "distributed-flood", "start": "2018-06-07T03:00:00Z", "end": "2018-06-07T03:40:00Z",
        "requests": {"total": 1000, "peak_per_minute": 90}, "sources": {"distinct": 40},
        "origins": {"countries": [origin], "networks": [{**origin, "key": "64500"}]},
        "top_prefixes": [], "reasons": ["many sources"], "evidence": {"sha256": EVIDENCE.digest()},
    }  # fmt: skip
    document = t.tmp / "incidents.json"
    document.write_text(json.dumps({"schema": "detente.monitor.incidents/1", "incidents": [incident]}))
    said = t.run("incident", "submit", str(document), "--party", "RU", "--key", t.keys["RU-cert"], "--all")
    match = re.fullmatch(r"incident [0-9a-f]{32} \(US\) at index \d+, sid ([0-9a-f]{64})", said)
    assert match, said
    handed = t.tmp / "evidence.json"
    entry = {**asdict(EVIDENCE), "sha256": EVIDENCE.digest()}
    handed.write_text(json.dumps({"schema": EVIDENCE_SCHEMA, "incidents": [entry]}))
    checked = t.run("incident", "check-evidence", match.group(1), str(handed))
    assert checked.startswith("OK: the evidence of monitor incident 3f0c9a1b2c3d4e5f is what RU signed")
    entry["sample"] = ["an added line"]
    handed.write_text(json.dumps({"schema": EVIDENCE_SCHEMA, "incidents": [entry]}))
    t.run("incident", "check-evidence", match.group(1), str(handed), code=65)
    assert "incident" in t.run("timeline", "RU", "US")
    # The foreign minister's key has no `cert` role: refused as bad input, here and there.
    unreported = t.tmp / "unreported.json"
    fresh = {**incident, "evidence": {"sha256": "0" * 64}}
    unreported.write_text(json.dumps({"schema": "detente.monitor.incidents/1", "incidents": [fresh]}))
    t.run("incident", "submit", str(unreported), "--party", "RU", "--key", t.keys["RU"], "--all", code=65)
    cut = t.tmp / "cut.json"
    cut.write_text(document.read_text()[:40])
    said = t.run(
        "incident", "submit", str(cut), "--party", "RU", "--key", t.keys["RU-cert"], "--all", code=65
    )
    assert "not a readable JSON document" in said
    mistyped = ["--approve", "deadbeefdeadbeef"]
    said = t.run(
        "incident", "submit", str(document), "--party", "RU", "--key", t.keys["RU-cert"], *mistyped, code=65
    )
    assert "no incident deadbeefdeadbeef in the document" in said
    # the digest covers one reading of each entry: a key given twice would let readers disagree
    genuine = json.dumps({**asdict(EVIDENCE), "sha256": EVIDENCE.digest()})
    doubled = genuine.replace('"sources":', '"sources": [], "sources":', 1)
    handed.write_text(f'{{"schema": "{EVIDENCE_SCHEMA}", "incidents": [{doubled}]}}')
    said = t.run("incident", "check-evidence", match.group(1), str(handed), code=65)
    assert "the key 'sources' appears twice in one object" in said
    handed.write_bytes(b"\xff\xfe")
    assert "not a readable JSON document" in t.run(
        "incident", "check-evidence", match.group(1), str(handed), code=65
    )
    # A run that stopped half way is finished by running it again: what is logged already is skipped.
    incident["origins"] = {"countries": [origin, {**origin, "key": "CN", "name": "CN"}], "networks": []}
    document.write_text(json.dumps({"schema": "detente.monitor.incidents/1", "incidents": [incident]}))
    again = t.run("incident", "submit", str(document), "--party", "RU", "--key", t.keys["RU-cert"], "--all")
    assert "monitor incident 3f0c9a1b2c3d4e5f (US): reported already as incident" in again
    assert re.search(r"incident [0-9a-f]{32} \(CN\) at index \d+", again), again
    third = t.run("incident", "submit", str(document), "--party", "RU", "--key", t.keys["RU-cert"], "--all")
    assert third.count("reported already") == 2, third


def test_every_problem_type_of_the_service_becomes_the_librarys_error_kind() -> None:
    for kind, status, title in STATUS:
        body = {"type": f"/problems#{slug(kind)}", "title": title, "status": status, "detail": "why"}
        error = problem_error(httpx.Response(status, json=body))
        assert type(error) is kind
        assert str(error) == "why"
    for sub in (errors.TamperError, errors.ForkError, errors.WriterBusyError):
        error = problem_error(httpx.Response(503, json={"type": f"/problems#{slug(sub)}", "detail": "x"}))
        assert type(error) is sub
    assert isinstance(
        problem_error(httpx.Response(422, json={"type": "/problems#validation"})), errors.InputError
    )
    limited = problem_error(
        httpx.Response(429, headers={"Retry-After": "3"}, json={"type": "/problems#rate-limit"})
    )
    assert isinstance(limited, errors.ConflictError)
    assert "retry after 3 s" in str(limited)
    assert isinstance(problem_error(httpx.Response(404, text="not json")), errors.NotFoundError)


def test_an_unreachable_registry_is_a_temporary_failure(tmp_path: Path) -> None:
    with serve(FastAPI()) as url:
        pass  # the server is stopped: its port now refuses connections
    result = runner.invoke(app, ["status", "--registry", url])
    assert result.exit_code == 75, result.output
    assert "cannot reach the registry" in result.output


def test_a_submission_still_pending_at_the_service_is_reported_by_its_sid(tmp_path: Path) -> None:
    with scene(tmp_path, f"sqlite:///{tmp_path / 'log.db'}", record=False) as s:
        m1, _, doc = s.offer("RU", "US", "pending")

    def pending(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content)["envelope"] == m1.envelope.to_json()
        return httpx.Response(202, json={"status": "pending", "sid": m1.sid, "location": "/v1/statements/x"})

    with httpx.Client(transport=httpx.MockTransport(pending), base_url="http://registry.test") as http:
        answer = HttpClient(http).submit(m1.envelope.encode(), [doc])
    assert answer == Submitted(m1.sid, "offer", None)


def test_counter_withdraw_abort_and_terminate(target: Target) -> None:
    t = target
    first = offer(t, "na", "L1,M1,M2")
    said = t.run("counter", first, "--party", "US", "--key", t.keys["US"], "--clauses", "L1",
                 "--nonce", str(t.tmp / "nb"))  # fmt: skip
    assert "counter logged at index" in said
    answer = said.split()[1]
    assert "countered" in t.run("status", "--xid", first)
    # the countered offer is closed: it can no longer be accepted
    t.run("accept", first, "--party", "US", "--key", t.keys["US"], "--nonce", str(t.tmp / "nc"), code=75)
    # only the author withdraws, and only before acceptance
    refused = t.run("withdraw", answer, "--party", "RU", "--key", t.keys["RU"], code=65)
    assert "only US, the offeror, can withdraw" in refused
    assert "withdraw logged" in t.run("withdraw", answer, "--party", "US", "--key", t.keys["US"])
    assert "withdrawn" in t.run("status", "--xid", answer)
    aborted = offer(t, "nd")
    said = t.run("abort", aborted, "--party", "RU", "--key", t.keys["RU"])
    assert "notary decision: aborted" in said
    t.run("accept", aborted, "--party", "US", "--key", t.keys["US"], "--nonce", str(t.tmp / "ne"), code=75)
    text = t.tmp / "declaration.txt"
    text.write_text("We will not interfere.\n")
    did = t.run("declare", "--party", "RU", "--key", t.keys["RU"], "--clauses", "L1", "--text", str(text),
                "No interference")  # fmt: skip
    did = did.split()[1]
    # a year ahead of today, past the declaration's 180 days' notice whenever the test runs
    effect = (datetime.now(UTC) + timedelta(days=365)).date().isoformat()
    when = f"{effect}T00:00:00Z"
    said = t.run("terminate", did, "--party", "RU", "--key", t.keys["RU"], "Revoked", when)
    assert "termination logged" in said
    assert f"{did} by RU to all: in force, terminated with effect from {effect}" in t.run("status")
    foreign = t.run("terminate", did, "--party", "US", "--key", t.keys["US"], "Not ours", when, code=66)
    assert f"US has no exchange or declaration {did}" in foreign


def test_a_timeline_of_one_party_with_itself_is_refused_alike_here_and_remotely(target: Target) -> None:
    said = target.run("timeline", "US", "US", code=65)
    assert "name two different parties" in said
