"""The console script dispatches before importing: ``detente monitor`` loads only the monitor."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("detente")
PROBE = (
    "import sys; sys.argv = ['detente', *sys.argv[1:]]\n"
    "from detente.entry import main\n"
    "try:\n    main()\nexcept SystemExit:\n    pass\n"
    "import gc\n"
    "print('FROZEN', gc.get_freeze_count())\n"
    "import os\n"
    "print('BLAS', os.environ.get('OPENBLAS_NUM_THREADS'))\n"
    "print('ALL', sorted(sys.modules))\n"
    "print('LOADED', sorted(m for m in sys.modules if m.startswith('detente.') and m.count('.') == 1))"
)


def _run(*args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True, env=env
    ).stdout


def _loaded(*args: str) -> str:
    return _run(*args).rsplit("LOADED", 1)[1]


def _frozen(*args: str) -> int:
    return int(_run(*args).rsplit("FROZEN", 1)[1].split()[0])


def test_monitor_commands_load_only_the_monitor() -> None:
    loaded = _loaded("monitor", "--help")
    assert "detente.monitor" in loaded
    assert "detente.registry" not in loaded
    assert "detente.service" not in loaded


def test_a_scan_of_plain_files_loads_no_other_command_and_no_decompressor(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text('203.0.113.9 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "x"\n')
    out = _run("monitor", "scan", str(log), "--quiet", "--out", str(tmp_path / "out"))
    modules = out.rsplit("ALL", 1)[1].split("LOADED", 1)[0]
    assert "'detente.monitor.pipeline'" in modules  # the probe sees what the scan loaded
    assert (tmp_path / "out" / "incidents.json").is_file()
    for unused in ("zstandard", "generate", "score", "evaluation", "follow", "ratelimit"):
        name = unused if unused == "zstandard" else f"detente.monitor.{unused}"
        assert f"'{name}'" not in modules
    assert "'pydantic'" not in modules  # typer before 0.29 parses the options without it (ADR 0007)
    assert "'rich" not in modules  # a quiet scan prints nothing: no console, no progress bar


def test_monitor_commands_leave_their_objects_to_the_operating_system() -> None:
    assert _frozen("monitor", "--help") > 0  # the exit then walks none of them
    assert _frozen("--help") == 0  # the registry's commands may hold open stores: they exit as usual


def test_monitor_commands_run_openblas_on_one_thread_unless_told_otherwise() -> None:
    bare = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    assert _run("monitor", "--help", env=bare).rsplit("BLAS", 1)[1].split()[0] == "1"
    assert _run("--help", env=bare).rsplit("BLAS", 1)[1].split()[0] == "None"
    told = bare | {"OPENBLAS_NUM_THREADS": "2"}
    assert _run("monitor", "--help", env=told).rsplit("BLAS", 1)[1].split()[0] == "2"


@pytest.mark.parametrize(
    "args", [("--help",), ("verify", "--help"), ("offer", "--help"), ("log", "--help"), ("monitor", "--help")]
)
def test_a_command_loads_only_the_libraries_it_runs(args: tuple[str, ...]) -> None:
    """Polars and numpy (the monitor's scans), FastAPI and uvicorn (the service), httpx (a registry
    reached over HTTP) are loaded by the commands that use them: the rest start in about a third of the
    time (docs/performance.md, "Command start-up")."""
    modules = _run(*args).rsplit("ALL", 1)[1].split("LOADED", 1)[0]
    for library in ("polars", "numpy", "fastapi", "uvicorn", "httpx"):
        assert f"'{library}'" not in modules, library


def test_other_commands_reach_the_whole_command_line() -> None:
    assert "detente.registry" in _loaded("--help")


def test_the_installed_script_runs_both_ways() -> None:
    monitor = subprocess.run([SCRIPT, "monitor", "--help"], capture_output=True, text=True, check=True)
    assert "scan" in monitor.stdout
    assert "detente monitor" in monitor.stdout
    whole = subprocess.run([SCRIPT, "--help"], capture_output=True, text=True, check=True)
    assert "monitor" in whole.stdout
    assert "offer" in whole.stdout
