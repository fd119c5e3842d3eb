"""Interoperability: Go's golang.org/x/mod/sumdb/note and sumdb/tlog verify what detente writes.

The Go program (gocheck.go) is built here from Debian's golang-go and golang-golang-x-mod-dev; it was
written against Go's public API, so its verdicts are independent of detente's own verifiers.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from detente.tlog.export import export_tiles
from detente.tlog.log import Log
from detente.tlog.note import Signer
from detente.tlog.proof import format_tlog_proof
from detente.tlog.storage.sqlite import SQLiteStore

HERE = Path(__file__).resolve().parent
GOPATH = "/usr/share/gocode"
SIGNER = Signer.generate("interop.example/log")


@pytest.fixture(scope="module")
def gocheck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build gocheck with the system Go in GOPATH mode (Debian's x/mod lives in /usr/share/gocode)."""
    work = tmp_path_factory.mktemp("gocheck")
    shutil.copy(HERE / "gocheck.go", work / "gocheck.go")
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": GOPATH, "GOCACHE": str(work / "cache")}
    subprocess.run(["go", "build", "-o", "gocheck", "gocheck.go"], cwd=work, env=env, check=True)
    return work / "gocheck"


def run(gocheck: Path, *args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([gocheck, *map(str, args)], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Log:
    folder = tmp_path_factory.mktemp("log")
    log = Log.create(SQLiteStore.connect(folder / "log.db"), SIGNER)
    log.append([f"statement {i}".encode() for i in range(300)])
    log.append([f"statement {i}".encode() for i in range(300, 777)])
    return log


def test_go_verifies_the_signed_checkpoint(gocheck: Path, log: Log, tmp_path: Path) -> None:
    (tmp_path / "cp").write_text(log.signed_checkpoint)
    result = run(gocheck, "checkpoint", SIGNER.vkey, tmp_path / "cp")
    assert result.stdout == "ok interop.example/log 777\n", result.stdout


def test_go_refuses_a_tampered_checkpoint(gocheck: Path, log: Log, tmp_path: Path) -> None:
    (tmp_path / "cp").write_text(log.signed_checkpoint.replace("\n777\n", "\n778\n"))
    result = run(gocheck, "checkpoint", SIGNER.vkey, tmp_path / "cp")
    assert result.returncode == 1
    assert "refused" in result.stdout


@pytest.mark.parametrize("index", [0, 255, 256, 600, 776])
def test_go_verifies_inclusion_proofs(gocheck: Path, log: Log, tmp_path: Path, index: int) -> None:
    proof = format_tlog_proof(index, log.inclusion_proof(index), log.signed_checkpoint)
    (tmp_path / "proof").write_text(proof)
    (tmp_path / "entry").write_bytes(f"statement {index}".encode())
    result = run(gocheck, "tlogproof", SIGNER.vkey, tmp_path / "proof", tmp_path / "entry")
    assert result.stdout == f"ok entry {index} in tree 777\n"
    (tmp_path / "entry").write_bytes(f"statement {index}!".encode())
    assert run(gocheck, "tlogproof", SIGNER.vkey, tmp_path / "proof", tmp_path / "entry").returncode == 1


def test_go_verifies_consistency_proofs(gocheck: Path, tmp_path: Path) -> None:
    log = Log.create(SQLiteStore.connect(tmp_path / "c.db"), SIGNER)
    log.append([b"a"] * 300)
    old = log.signed_checkpoint
    log.append([b"b"] * 213)
    (tmp_path / "old").write_text(old)
    (tmp_path / "new").write_text(log.signed_checkpoint)
    lines = [base64.b64encode(h).decode() for h in log.consistency_proof(300)]
    (tmp_path / "proof").write_text("\n".join(lines) + "\n")
    result = run(gocheck, "consistency", SIGNER.vkey, tmp_path / "old", tmp_path / "new", tmp_path / "proof")
    assert result.stdout == "ok 300 -> 513\n"
    lines[1] = base64.b64encode(bytes(32)).decode()
    (tmp_path / "proof").write_text("\n".join(lines) + "\n")
    result = run(gocheck, "consistency", SIGNER.vkey, tmp_path / "old", tmp_path / "new", tmp_path / "proof")
    assert result.returncode == 1


def test_go_verifies_exported_tiles_and_refuses_a_tampered_tile(
    gocheck: Path, log: Log, tmp_path: Path
) -> None:
    export_tiles(log, tmp_path)
    assert run(gocheck, "tiles", SIGNER.vkey, tmp_path).stdout == "ok 777 entries and their tiles\n"
    tile = tmp_path / "tile/0/001"
    data = bytearray(tile.read_bytes())
    data[40] ^= 0x80
    tile.write_bytes(bytes(data))
    result = run(gocheck, "tiles", SIGNER.vkey, tmp_path)
    assert result.returncode == 1
    assert "refused" in result.stdout
