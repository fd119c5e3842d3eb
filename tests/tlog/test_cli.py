"""The ``detente log`` commands, as a person would use them, on both stores."""

from __future__ import annotations

import errno
import sqlite3
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from detente.cli import app
from detente.errors import ConfigError
from detente.tlog import cli as tlog_cli
from detente.tlog.home import LogHome
from detente.tlog.storage.postgres import PostgresStore
from detente.tlog.storage.sqlite import SQLiteStore

runner = CliRunner()


def detente(*args: object, stdin: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args], input=stdin)
    return result.exit_code, result.output


@pytest.fixture
def home(store_url: str, tmp_path: Path) -> Path:
    folder = tmp_path / "log"
    database = [] if store_url.startswith("sqlite") else ["--database", store_url]
    code, out = detente("log", "init", "--dir", folder, "--origin", "cli.example/log", *database)
    assert code == 0, out
    return folder


def test_init_writes_a_private_key_readable_only_by_its_owner(home: Path) -> None:
    mode = stat.S_IMODE((home / "log.key").stat().st_mode)
    assert mode == 0o600
    code, out = detente("log", "init", "--dir", home)
    assert code == 78
    assert "already holds a log" in out


def test_append_prove_and_verify_offline(home: Path, tmp_path: Path) -> None:
    code, out = detente("log", "append", "--dir", home, "--lines", stdin="first\nsecond\nthird\n")
    assert code == 0, out
    assert "appended entries 0..2" in out
    code, proof = detente("log", "prove", "--dir", home, "1")
    assert code == 0
    (tmp_path / "proof").write_text(proof)
    (tmp_path / "entry").write_text("second")
    vkey = (home / "log.vkey").read_text().strip()
    code, out = detente(
        "log", "verify", "--log-key", vkey, "--proof", tmp_path / "proof", "--entry", tmp_path / "entry"
    )
    assert code == 0, out
    assert "entry 1 is in cli.example/log as of checkpoint 3" in out
    (tmp_path / "entry").write_text("forged")
    code, out = detente(
        "log", "verify", "--log-key", vkey, "--proof", tmp_path / "proof", "--entry", tmp_path / "entry"
    )
    assert code == 65
    assert "inclusion proof" in out


def test_a_proof_file_that_is_not_text_is_one_line_and_exit_65(home: Path, tmp_path: Path) -> None:
    """A proof of bytes that are not UTF-8 was a traceback (UnicodeDecodeError) and exit 1."""
    (tmp_path / "proof").write_bytes(b"\xff\xfe")
    (tmp_path / "entry").write_text("second")
    code, out = detente(
        "log",
        "verify",
        "--log-key",
        home / "log.vkey",
        "--proof",
        tmp_path / "proof",
        "--entry",
        tmp_path / "entry",
    )
    assert code == 65
    assert f"{tmp_path / 'proof'} is not a tlog-proof: it is not UTF-8 text" in out
    assert "Traceback" not in out


def test_tiles_export_and_offline_verification(home: Path, tmp_path: Path) -> None:
    code, out = detente(
        "log", "append", "--dir", home, "--lines", stdin="".join(f"{i}\n" for i in range(300))
    )
    assert code == 0, out  # the tiles below depend on it: a failure here must say why
    assert "tree size 300" in out, out
    code, out = detente("log", "tiles", "--dir", home, tmp_path / "static")
    assert code == 0, out
    assert (tmp_path / "static/tile/0/000").stat().st_size == 256 * 32
    assert (tmp_path / "static/tile/0/001.p/44").exists()
    vkey = (home / "log.vkey").read_text().strip()
    code, out = detente("log", "verify", "--log-key", vkey, "--tiles", tmp_path / "static")
    assert code == 0, out
    code, out = detente("log", "verify", "--log-key", vkey, "--dir", home)
    assert code == 0, out
    assert "matches checkpoint 300" in out


def test_checkpoint_and_consistency(home: Path) -> None:
    detente("log", "append", "--dir", home, "--lines", stdin="a\nb\n")
    detente("log", "append", "--dir", home, "--lines", stdin="c\nd\ne\n")
    code, out = detente("log", "checkpoint", "--dir", home)
    assert code == 0
    assert out.startswith("cli.example/log\n5\n")
    code, out = detente("log", "prove", "--dir", home, "--consistency", "2")
    assert code == 0
    assert len(out.split()) == 2


def test_an_outdated_backup_is_refused_before_anything_changes(home: Path, tmp_path: Path) -> None:
    detente("log", "append", "--dir", home, "--lines", stdin="one\ntwo\n")
    code, out = detente("log", "backup", "--dir", home, tmp_path / "old.db")
    assert code == 0, out
    detente("log", "append", "--dir", home, "--lines", stdin="three\n")
    code, out = detente("log", "backup", "--dir", home, tmp_path / "new.db")
    assert code == 0, out

    code, out = detente("log", "restore", "--dir", home, tmp_path / "old.db", "--force")
    assert code == 3, out
    assert "old backup" in out
    # refused before anything was replaced: the log still holds its three entries and keeps working
    code, out = detente("log", "checkpoint", "--dir", home)
    assert code == 0, out
    assert out.splitlines()[1] == "3"

    code, out = detente("log", "restore", "--dir", home, tmp_path / "new.db", "--force")
    assert code == 0, out
    code, out = detente("log", "append", "--dir", home, "--lines", stdin="four\n")
    assert code == 0, out
    log = LogHome(home).open()
    assert log.size == 4
    log.close()


def test_a_damaged_backup_is_refused_and_the_log_is_left_as_it_was(home: Path, tmp_path: Path) -> None:
    detente("log", "append", "--dir", home, "--lines", stdin="e1\ne2\ne3\n")
    code, out = detente("log", "backup", "--dir", home, tmp_path / "bk.db")
    assert code == 0, out
    with sqlite3.connect(tmp_path / "bk.db") as db:  # the backup's checkpoint and edge tiles still verify
        db.execute("UPDATE entries SET data = ? WHERE idx = 2", (b"evil",))
    db.close()

    code, out = detente("log", "restore", "--dir", home, tmp_path / "bk.db", "--force")
    assert code == 3, out
    assert "the backup is damaged" in out
    assert "entry 2" in out
    vkey = (home / "log.vkey").read_text().strip()
    code, out = detente("log", "verify", "--log-key", vkey, "--dir", home)
    assert code == 0, out
    assert "matches checkpoint 3" in out
    code, out = detente("log", "append", "--dir", home, "--lines", stdin="e4\n")
    assert code == 0, out
    code, out = detente("log", "restore", "--dir", home, tmp_path / "mistyped.db", "--force")
    assert code == 66, out
    assert "no such backup file" in out
    assert not (tmp_path / "mistyped.db").exists(), "a mistyped name makes no empty database"


@pytest.mark.parametrize(
    "content",
    [b"", b"not a database at all\n", b"SQLite format 3\x00" + bytes(84)],
    ids=["empty", "text", "bad-header"],
)
def test_a_file_that_is_no_backup_is_refused_and_left_unchanged(
    home: Path, tmp_path: Path, content: bytes
) -> None:
    detente("log", "append", "--dir", home, "--lines", stdin="e1\ne2\n")
    named = tmp_path / "not-a-backup.db"
    named.write_bytes(content)
    code, out = detente("log", "restore", "--dir", home, named, "--force")
    assert named.read_bytes() == content, "a backup is read, never written"
    assert code == 65, out
    assert f"{named} is not a backup written by `detente log backup`" in out.replace("\n", "")
    assert len(out.strip().splitlines()) == 1, out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log", "not-a-backup.db"]
    code, out = detente("log", "checkpoint", "--dir", home)
    assert code == 0, out
    assert out.splitlines()[1] == "2"


def test_a_restore_reads_the_backup_and_never_writes_it(home: Path, tmp_path: Path) -> None:
    detente("log", "append", "--dir", home, "--lines", stdin="e1\ne2\ne3\n")
    code, out = detente("log", "backup", "--dir", home, tmp_path / "bk.db")
    assert code == 0, out
    before = (tmp_path / "bk.db").read_bytes()
    (tmp_path / "bk.db").chmod(0o444)  # a backup kept read-only can be restored
    code, out = detente("log", "restore", "--dir", home, tmp_path / "bk.db", "--force")
    assert code == 0, out
    assert (tmp_path / "bk.db").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bk.db", "log"]


def test_a_restore_is_refused_while_the_log_has_a_writer(home: Path, tmp_path: Path) -> None:
    detente("log", "append", "--dir", home, "--lines", stdin="e1\ne2\n")
    code, out = detente("log", "backup", "--dir", home, tmp_path / "bk.db")
    assert code == 0, out
    writer = LogHome(home).open(write=True)  # as `detente serve` holds it
    try:
        code, out = detente("log", "restore", "--dir", home, tmp_path / "bk.db", "--force")
        assert code == 75, out
        assert "cannot restore while a writer runs" in out
        writer.append([b"e3"])  # the writer kept its log
    finally:
        writer.close()
    code, out = detente("log", "checkpoint", "--dir", home)
    assert code == 0, out
    assert out.splitlines()[1] == "3"


def test_errors_are_one_line_with_an_exit_code(tmp_path: Path) -> None:
    code, out = detente("log", "checkpoint", "--dir", tmp_path / "nowhere")
    assert code == 78
    assert "detente log init" in out
    assert "Traceback" not in out
    code, out = detente("init", "--dir", tmp_path / "registry")
    assert code == 0, out
    code, out = detente("log", "tiles", "--dir", tmp_path / "registry", tmp_path / "tiles")
    assert code == 78
    assert f"its log is {tmp_path / 'registry' / 'log'}" in out


def test_the_log_settings_are_private_and_a_database_password_never_shows(home: Path) -> None:
    # the settings may hold a PostgreSQL URL with its password: 0600, like the keys
    assert stat.S_IMODE((home / "config.json").stat().st_mode) == 0o600
    url = "postgresql://postgres:S3c%zzret@127.0.0.1:5432/test?schema=x"  # the client cannot read it
    with pytest.raises(ConfigError) as refused:
        PostgresStore.connect(url)
    assert "S3c" not in str(refused.value)
    assert "***" in str(refused.value)


def test_a_backup_is_never_written_over_a_file_that_exists(home: Path, tmp_path: Path) -> None:
    detente("log", "append", "--dir", home, "--lines", stdin="e1\n")
    taken = tmp_path / "taken.db"
    taken.write_bytes(b"someone else's file")
    code, out = detente("log", "backup", "--dir", home, taken)
    assert code == 73, out  # sysexits EX_CANTCREAT, as every command that would create a file there
    assert "does not overwrite it" in out
    assert taken.read_bytes() == b"someone else's file"


def test_a_backup_that_fails_leaves_no_file_and_a_crashed_one_is_no_backup(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    detente("log", "append", "--dir", home, "--lines", stdin="e1\ne2\n")
    out = tmp_path / "full.db"

    def disk_full(source: object, target: SQLiteStore, progress: object = None) -> None:
        target.create("incomplete copy of somewhere: 0\n")  # as copy_log begins
        raise OSError(errno.ENOSPC, "No space left on device", str(out))

    with monkeypatch.context() as patched:
        patched.setattr(tlog_cli, "copy_log", disk_full)
        code, said = detente("log", "backup", "--dir", home, out)
    assert code == 74, said
    assert not out.exists()  # no half backup under the name asked for: the same name works again
    code, said = detente("log", "backup", "--dir", home, out)
    assert code == 0, said

    crashed = tmp_path / "crashed.db"  # what a power cut in the middle of a copy leaves
    store = SQLiteStore.connect(crashed, wal=False)
    store.create("incomplete copy of somewhere: 0\n")
    store.close()
    code, said = detente("log", "restore", "--dir", home, crashed, "--force")
    assert code == 65, said  # bad input, not a tampered log (exit 3)
    assert "the copy was never completed" in said.replace("\n", "")


def test_a_folder_given_as_the_backup_is_named_as_a_folder(home: Path, tmp_path: Path) -> None:
    code, said = detente("log", "restore", "--dir", home, tmp_path, "--force")
    assert code == 74, said
    assert "a folder, not a backup file" in said.replace("\n", "")
