"""The witness: the spec's status codes, durable state, and a fork refused, over real HTTP."""

from __future__ import annotations

import base64
import hashlib
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from detente.errors import ConfigError, VerificationError
from detente.tlog.checkpoint import Checkpoint, open_checkpoint
from detente.tlog.cosignature import parse_cosignature_vkey, require_cosignatures
from detente.tlog.log import Log
from detente.tlog.note import Signer, split_note
from detente.tlog.storage import MemoryStore
from detente.witness.app import MAX_BODY, create_app
from detente.witness.client import Witness, WitnessClient, request_body
from detente.witness.core import Outcome, Seen, decide
from detente.witness.home import WitnessHome
from detente.witness.state import WitnessState
from tests.httpserver import serve

LOG_KEY = Signer.generate("registry.example/log")
WITNESS_KEY = Signer.generate("witness.example/w1", alg=0x04)
LOGS = {LOG_KEY.name: LOG_KEY.verifier()}


def grown_log(*sizes: int) -> tuple[Log, list[str]]:
    log = Log.create(MemoryStore(), LOG_KEY)
    notes = []
    for n in sizes:
        log.append([f"{log.size + i}".encode() for i in range(n)])
        notes.append(log.signed_checkpoint)
    return log, notes


def remember(seen: dict[str, Seen], outcome: Outcome) -> None:
    """Record a cosigned checkpoint in ``seen``, as the durable state does."""
    if outcome.record is not None:
        cp = outcome.record.checkpoint
        seen[cp.origin] = Seen(cp.size, cp.root)


def test_the_status_codes_of_the_spec() -> None:
    log, (first, second) = grown_log(5, 7)
    seen: dict[str, Seen] = {}

    def ask(body: bytes) -> tuple[int, str]:
        outcome = decide(body, LOGS, seen, WITNESS_KEY, 1_800_000_000)
        remember(seen, outcome)
        return outcome.status, outcome.body

    assert ask(request_body(0, [], first))[0] == 200
    assert ask(request_body(0, [], second)) == (409, "5\n")
    assert ask(request_body(13, [], second))[0] == 400
    bad_proof = [bytes(32)] * len(log.consistency_proof(5))
    assert ask(request_body(5, bad_proof, second))[0] == 422
    assert ask(request_body(5, log.consistency_proof(5), second))[0] == 200
    other = Signer.generate("unknown.example/log")
    assert ask(request_body(0, [], Log.create(MemoryStore(), other).signed_checkpoint))[0] == 404
    impostor = Signer("registry.example/log", Signer.generate("x").seed)
    assert ask(request_body(12, [], Log.create(MemoryStore(), impostor).signed_checkpoint))[0] == 403
    assert ask(b"old 01\n\n" + second.encode())[0] == 400


def test_a_second_root_for_size_zero_is_a_fork_and_an_empty_tree_has_the_empty_root() -> None:
    seen: dict[str, Seen] = {}

    def ask(root: bytes) -> int:
        note = Checkpoint(LOG_KEY.name, 0, root).sign([LOG_KEY])
        outcome = decide(request_body(0, [], note), LOGS, seen, WITNESS_KEY, 1_800_000_000)
        remember(seen, outcome)
        return outcome.status

    assert ask(hashlib.sha256(b"").digest()) == 200
    assert ask(hashlib.sha256(b"").digest()) == 200, "the same checkpoint again is cosigned again"
    assert ask(hashlib.sha256(b"fork").digest()) == 422, "no tree of size 0 has this root"
    seen[LOG_KEY.name] = Seen(0, hashlib.sha256(b"an earlier lie").digest())
    assert ask(hashlib.sha256(b"").digest()) == 409, "another root for a size already seen"


@pytest.fixture
def witness_url(tmp_path: Path) -> Iterator[str]:
    home = WitnessHome(tmp_path / "w")
    signer = home.init("witness.example/w1")
    home.add_log(LOG_KEY.vkey)
    state = home.state()
    with serve(create_app(signer, home.logs(), state, clock=lambda: 1_800_000_000)) as url:
        yield url
    state.close()


def test_a_log_gathers_cosignatures_and_a_client_requires_them(witness_url: str, tmp_path: Path) -> None:
    key = parse_cosignature_vkey((tmp_path / "w/witness.vkey").read_text())
    log, _ = grown_log(3)
    with httpx.Client() as http:
        client = WitnessClient(http, [Witness(witness_url, key)])
        cosigned, problems = client.cosign(log.signed_checkpoint, log.size, log.consistency_proof)
        assert problems == []
        log.append([b"more", b"entries"])
        cosigned, problems = client.cosign(log.signed_checkpoint, log.size, log.consistency_proof)
        assert problems == []
    opened = require_cosignatures(cosigned, LOG_KEY.verifier(), [key], 1)
    assert opened.checkpoint.size == 5
    with pytest.raises(VerificationError, match="1 are required"):
        require_cosignatures(log.signed_checkpoint, LOG_KEY.verifier(), [key], 1)
    with pytest.raises(ValueError, match="cannot require"):
        require_cosignatures(cosigned, LOG_KEY.verifier(), [key], 2)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/x.tlog.size; charset=utf-8", "4\n"),  # what detente's own witness once sent
        ("text/x.tlog.sizes", "4\n"),
        ("text/plain", "4\n"),
        ("text/x.tlog.size", "04\n"),
        ("text/x.tlog.size", "4"),
        ("text/x.tlog.size", " 4\n"),
    ],
)
def test_the_client_learns_a_size_only_from_the_spec_409(content_type: str, body: str) -> None:
    """The spec gives the 409's Content-Type and body exactly; the client reads them as Go clients do."""
    log, _ = grown_log(5)
    asked: list[bytes] = []

    def witness(request: httpx.Request) -> httpx.Response:
        asked.append(request.content)
        return httpx.Response(409, headers={"content-type": content_type}, content=body.encode())

    key = parse_cosignature_vkey(WITNESS_KEY.vkey)
    with httpx.Client(transport=httpx.MockTransport(witness)) as http:
        client = WitnessClient(http, [Witness("http://w.test", key)])
        _, problems = client.cosign(log.signed_checkpoint, log.size, log.consistency_proof)
    assert client.known == {}, "no size learnt from an answer that is not the spec's"
    assert len(asked) == 1, "and no second request sent from it"
    (problem,) = problems
    assert "answered 409 but not with its size" in problem


def test_the_witness_refuses_a_fork_and_remembers_across_restarts(witness_url: str, tmp_path: Path) -> None:
    honest, (note,) = grown_log(4)
    forked = Log.create(MemoryStore(), LOG_KEY)  # another history under the same log key
    forked.append([b"a", b"b", b"c", b"rewritten"])
    fork_note = forked.signed_checkpoint
    forked.append([b"more"])
    with httpx.Client() as http:
        assert (
            http.post(f"{witness_url}/add-checkpoint", content=request_body(0, [], note)).status_code == 200
        )
        fork = request_body(4, forked.consistency_proof(4), forked.signed_checkpoint)
        response = http.post(f"{witness_url}/add-checkpoint", content=fork)
        assert response.status_code == 422
        again = http.post(f"{witness_url}/add-checkpoint", content=request_body(0, [], fork_note))
        assert again.status_code == 409
        # exactly: Go clients compare the whole header, so a "; charset=utf-8" made every 409 a failure
        assert again.headers["content-type"] == "text/x.tlog.size"
        assert again.text == "4\n"
        same_size = http.post(f"{witness_url}/add-checkpoint", content=request_body(4, [], fork_note))
        assert same_size.status_code == 409, "two roots for one size is a fork"
        assert same_size.headers["content-type"] == "text/x.tlog.size"
    state = WitnessHome(tmp_path / "w").state()
    assert state.seen()["registry.example/log"] == Seen(4, honest.checkpoint.root)
    kept = {(e.kind, e.conflicting, e.cosigned) for e in state.evidence()}
    state.close()
    assert kept == {("inconsistent", forked.signed_checkpoint, note), ("fork", fork_note, note)}


def test_an_oversized_request_is_refused_before_it_is_read(witness_url: str) -> None:
    """A body declared at 10 GB is refused at once, none of it read (the witness held bodies whole)."""
    url = httpx.URL(witness_url)
    with socket.create_connection((url.host, url.port or 80), timeout=10) as raw:
        raw.sendall(b"POST /add-checkpoint HTTP/1.1\r\nHost: w\r\nContent-Length: 10000000000\r\n\r\nold 0\n")
        assert raw.recv(64).startswith(b"HTTP/1.1 413")
    with httpx.Client(base_url=witness_url) as http:
        streamed = http.post("/add-checkpoint", content=iter([b"x" * MAX_BODY, b"x"]))
        assert streamed.status_code == 413
        assert http.get("/").status_code == 200, "the witness still serves"


@pytest.mark.parametrize("damage", [b'{"registry.example/log": "trunc', b"\xff\xfe", b'["a list"]'])
def test_a_damaged_list_of_logs_is_a_clear_configuration_error(tmp_path: Path, damage: bytes) -> None:
    home = WitnessHome(tmp_path / "w")
    home.init("witness.example/w1")
    home.add_log(LOG_KEY.vkey)
    assert list(home.logs()) == [LOG_KEY.name]
    (tmp_path / "w/logs.json").write_bytes(damage)
    with pytest.raises(ConfigError, match=r"logs\.json"):
        home.logs()


def junk_signatures(count: int) -> str:
    """Signature lines by keys nobody knows, as anyone can append to a public checkpoint."""
    return "".join(f"\u2014 junk{i}.example {base64.b64encode(bytes(600)).decode()}\n" for i in range(count))


def test_the_witness_keeps_the_checkpoint_it_cosigned_as_the_log_signed_it(
    witness_url: str, tmp_path: Path
) -> None:
    """What the witness held was only the unsigned body: nothing it could show anyone about a fork."""
    log, (note,) = grown_log(8)
    with httpx.Client() as http:
        response = http.post(
            f"{witness_url}/add-checkpoint", content=request_body(0, [], note + junk_signatures(3))
        )
        assert response.status_code == 200
    state = WitnessHome(tmp_path / "w").state()
    kept = state.cosigned(LOG_KEY.name)
    state.close()
    assert kept == note, "the body and the log's signature line, without the lines of unknown keys"
    assert open_checkpoint(kept, LOG_KEY.verifier()).checkpoint == log.checkpoint


def ask_state(state: WitnessState, old: int, proof: list[bytes], note: str) -> int:
    """One add-checkpoint request decided and recorded as the app does; its status."""
    body = request_body(old, proof, note)
    return state.apply(body, lambda seen: decide(body, LOGS, seen, WITNESS_KEY, 1_800_000_000)).status


def test_a_fork_is_kept_as_two_signed_checkpoints_once_whatever_is_appended(tmp_path: Path) -> None:
    """Cosign size 8 (root A), then be shown a log-signed size 8 with root B: the pair proves the fork."""
    _, (honest,) = grown_log(8)
    forked = Checkpoint(LOG_KEY.name, 8, hashlib.sha256(b"B").digest()).sign([LOG_KEY])
    state = WitnessState(tmp_path / "state.db")
    assert ask_state(state, 0, [], honest) == 200
    for i in range(200):  # with each old size, padded with junk signatures or not
        assert ask_state(state, i % 9, [], forked + junk_signatures(i % 3)) == 409
    (evidence,) = state.evidence()
    state.close()
    assert (evidence.origin, evidence.kind, evidence.proof) == (LOG_KEY.name, "fork", ())
    assert (evidence.conflicting, evidence.cosigned) == (forked, honest), "no unknown key's line is kept"
    assert evidence.cosigned is not None
    a, b = (
        open_checkpoint(n, LOG_KEY.verifier()).checkpoint for n in (evidence.cosigned, evidence.conflicting)
    )
    assert a.size == b.size, "the log signed two trees of one size: a fork, shown offline"
    assert a.root != b.root


def test_routine_refusals_keep_nothing(tmp_path: Path) -> None:
    """A wrong old size, a needless proof, an unsigned request: every 409 and 422 kept the whole request
    (up to 64 KiB), so replaying the public checkpoint padded with junk filled the disk (9.78 MB in 200)."""
    _, (first, second) = grown_log(3, 6)
    state = WitnessState(tmp_path / "state.db")
    assert ask_state(state, 0, [], first) == 200
    impostor = Signer(LOG_KEY.name, Signer.generate("x").seed)
    unsigned = Checkpoint(LOG_KEY.name, 3, hashlib.sha256(b"B").digest()).sign([impostor])
    for _ in range(100):
        assert ask_state(state, 0, [], second + junk_signatures(60)) == 409, "a wrong old size"
        assert ask_state(state, 3, [bytes(32)], first + junk_signatures(60)) == 422, "a needless proof"
        assert ask_state(state, 3, [], unsigned) == 403, "another root, but not signed by the log"
    assert state.evidence() == []
    assert state.db.execute("SELECT name FROM sqlite_master WHERE name = 'refused'").fetchone() is None
    state.close()
    assert sum(f.stat().st_size for f in tmp_path.glob("state.db*")) < 64 * 1024, "the WAL too"


def test_a_failed_proof_is_kept_once_and_dropped_once_the_checkpoint_is_proved(tmp_path: Path) -> None:
    log, (first, second) = grown_log(3, 6)
    state = WitnessState(tmp_path / "state.db")
    assert ask_state(state, 0, [], first) == 200
    bad = [bytes(32)] * len(log.consistency_proof(3))
    for _ in range(5):
        assert ask_state(state, 3, bad, second + junk_signatures(2)) == 422
    (evidence,) = state.evidence()
    assert (evidence.kind, evidence.conflicting, evidence.cosigned, evidence.proof) == (
        "inconsistent",
        second,
        first,
        tuple(bad),
    )
    assert ask_state(state, 3, log.consistency_proof(3), second) == 200
    assert state.evidence() == [], "a valid proof to it shows the first proof was only a bad one"
    state.close()


def test_a_fork_replaces_the_failed_proof_kept_for_the_same_checkpoint(tmp_path: Path) -> None:
    """A checkpoint kept as 'inconsistent' is a fork once a checkpoint of its size is cosigned."""
    log, (first, second) = grown_log(3, 6)
    other = Log.create(MemoryStore(), LOG_KEY)
    other.append([b"another", b"history", b"of", b"nine", b"entries", b"under", b"the", b"same", b"key"])
    state = WitnessState(tmp_path / "state.db")
    assert ask_state(state, 0, [], first) == 200
    assert ask_state(state, 3, other.consistency_proof(3), other.signed_checkpoint) == 422
    assert ask_state(state, 3, log.consistency_proof(3), second) == 200
    assert ask_state(state, 9, [], other.signed_checkpoint) == 409
    (evidence,) = state.evidence()
    state.close()
    assert (evidence.kind, evidence.conflicting, evidence.cosigned) == (
        "fork",
        other.signed_checkpoint,
        second,
    )


OLD_SCHEMA = """
CREATE TABLE seen (origin TEXT PRIMARY KEY, size INTEGER NOT NULL, root BLOB NOT NULL,
                   checkpoint TEXT NOT NULL);
CREATE TABLE refused (id INTEGER PRIMARY KEY, origin TEXT, status INTEGER, body TEXT, request BLOB NOT NULL);
"""


def test_a_state_file_of_the_first_schema_opens_and_keeps_what_it_held(tmp_path: Path) -> None:
    """A witness's state.db written before signed notes were kept still opens, its size and root intact."""
    log, (first, second) = grown_log(4, 4)
    root = open_checkpoint(first, LOG_KEY.verifier()).checkpoint.root
    old = sqlite3.connect(tmp_path / "state.db")
    old.executescript(OLD_SCHEMA)
    old.execute("INSERT INTO seen VALUES (?, 4, ?, ?)", (LOG_KEY.name, root, split_note(first)[0]))
    old.execute("INSERT INTO refused (status, body, request) VALUES (409, '4\n', X'00')")
    old.commit()
    old.close()
    state = WitnessState(tmp_path / "state.db")
    assert state.seen() == {LOG_KEY.name: Seen(4, root)}
    assert state.cosigned(LOG_KEY.name) is None, "its signature was never kept"
    request = request_body(4, log.consistency_proof(4), second)
    outcome = state.apply(request, lambda seen: decide(request, LOGS, seen, WITNESS_KEY, 0))
    assert outcome.status == 200
    assert state.cosigned(LOG_KEY.name) == second, "the next checkpoint cosigned is kept signed"
    state.close()
    reopened = WitnessState(tmp_path / "state.db")  # opened again: migrated once, not twice
    assert reopened.cosigned(LOG_KEY.name) == second
    assert reopened.db.execute("SELECT request FROM refused").fetchall() == [(b"\x00",)], "left as it was"
    assert reopened.evidence() == []
    reopened.close()


def test_a_state_file_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "state.db")
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(ConfigError, match="schema version 99, newer"):
        WitnessState(tmp_path / "state.db")
