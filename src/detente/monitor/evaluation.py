"""The accuracy evaluation: fixed seeds and mixes, the detectors and the rate-limit baseline scored.

The evaluation seeds were fixed here before the detectors were tuned, and differ from the development
seeds (:data:`DEV_SEEDS`), which the tests use. Attack-free logs (flash crowds and login rushes only)
must produce no incident at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import ATTACK_KINDS
from .assets import default_asset
from .attribution import load
from .formats import resolve
from .generate import Mix, generate
from .inputs import chunks, open_log
from .output import evidence_document, incident_document
from .parse import Parser
from .pipeline import scan
from .ratelimit import rate_limit
from .score import KindScore, combine, score

DEV_SEEDS = (101, 102, 103)
EVAL_SEEDS = (7001, 7002, 7003, 7004, 7005, 7006)
ATTACK_FREE_SEEDS = (7101, 7102)
HALF = len(ATTACK_KINDS) // 2 + 1


@dataclass(frozen=True)
class Case:
    """One generated log of the evaluation."""

    seed: int
    mix: Mix


def cases() -> list[Case]:
    """Each attack kind appears in several logs; every log also has benign surges."""
    out = []
    for i, seed in enumerate(EVAL_SEEDS):
        kinds = ATTACK_KINDS[:HALF] if i % 2 == 0 else ATTACK_KINDS[HALF - 1 :]
        out.append(Case(seed, Mix(hours=8, attacks=kinds)))
    out += [Case(seed, Mix(hours=8, attacks=())) for seed in ATTACK_FREE_SEEDS]
    return out


def _sources(evidence: dict[str, Any]) -> dict[str, list[str]]:
    return {e["incident"]: [s["source"] for s in e["sources"]] for e in evidence["incidents"]}


def run_case(case: Case, folder: Path) -> tuple[dict[str, KindScore], dict[str, KindScore], int]:
    """Generate, scan and score one case; return detector scores, baseline scores, false alarms on
    attack-free logs."""
    from datetime import UTC, datetime

    log, truth_path = folder / f"{case.seed}.log", folder / f"{case.seed}.truth.json"
    truth = generate(case.seed, case.mix, log, truth_path)
    asset = default_asset()
    result = scan([log], resolve("combined"), [asset], load)
    now = datetime.now(UTC)
    doc, ev = incident_document(result, load(), now), evidence_document(result, now)
    mine = score(truth, doc["incidents"], _sources(ev))
    parser = Parser(resolve("combined"), [asset])
    with open_log(log) as fh:
        frame = __import__("polars").concat([parser.parse(c)[0] for c in chunks(fh)])
    base_doc, base_ev = rate_limit(frame)
    theirs = score(truth, base_doc["incidents"], _sources(base_ev))
    false_alarms = len(doc["incidents"]) if not truth["attacks"] else 0
    return mine, theirs, false_alarms


def evaluate(folder: Path, progress: Callable[[Case], None] | None = None) -> dict[str, Any]:
    """Run every case; return the combined table for the detectors and the baseline."""
    folder.mkdir(parents=True, exist_ok=True)
    mine, theirs, alarms = [], [], 0
    for case in cases():
        if progress is not None:
            progress(case)
        m, t, a = run_case(case, folder)
        mine.append(m)
        theirs.append(t)
        alarms += a
    return {
        "detectors": {k: v.row() for k, v in combine(mine).items()},
        "rate_limit": {k: v.row() for k, v in combine(theirs).items()},
        "incidents_on_attack_free_logs": alarms,
    }
