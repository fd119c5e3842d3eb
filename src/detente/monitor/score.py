"""The scorer: reads only the truth file and the monitor's output (incident and evidence JSON).

An incident *matches* an attack when both have the same kind and their time windows overlap. Per kind:
incident precision (matched incidents / incidents) and recall (attacks matched / attacks); over matched
pairs, source precision and recall (evidence sources against the true sources) and the mean absolute
error of start and end. Incidents on attack-free logs count against precision like any other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from . import ATTACK_KINDS, EVIDENCE_SCHEMA, SCHEMA, TRUTH_SCHEMA
from .documents import read_document


def _time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


@dataclass
class KindScore:
    """Counts and errors for one attack kind."""

    attacks: int = 0
    incidents: int = 0
    matched_incidents: int = 0
    detected_attacks: int = 0
    source_tp: int = 0
    source_fp: int = 0
    source_fn: int = 0
    start_errors: list[float] = field(default_factory=list)
    end_errors: list[float] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        """The figures of this kind as a flat dictionary."""

        def ratio(a: int, b: int) -> float | None:
            return round(a / b, 3) if b else None

        def mean(xs: list[float]) -> float | None:
            return round(sum(xs) / len(xs), 1) if xs else None

        return {
            "attacks": self.attacks,
            "incidents": self.incidents,
            "precision": ratio(self.matched_incidents, self.incidents),
            "recall": ratio(self.detected_attacks, self.attacks),
            "source_precision": ratio(self.source_tp, self.source_tp + self.source_fp),
            "source_recall": ratio(self.source_tp, self.source_tp + self.source_fn),
            "start_error_s": mean(self.start_errors),
            "end_error_s": mean(self.end_errors),
        }


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return _time(a["start"]) < _time(b["end"]) and _time(b["start"]) < _time(a["end"])


def score(
    truth: dict[str, Any], incidents: list[dict[str, Any]], sources: dict[str, list[str]]
) -> dict[str, KindScore]:
    """Score incidents (each with ``id``, ``kind``, ``start``, ``end``) against one truth."""
    out = {k: KindScore() for k in ATTACK_KINDS}
    for attack in truth["attacks"]:
        out[attack["kind"]].attacks += 1
    for inc in incidents:
        ks = out.setdefault(inc["kind"], KindScore())
        ks.incidents += 1
        hits = [a for a in truth["attacks"] if a["kind"] == inc["kind"] and _overlap(a, inc)]
        if hits:
            ks.matched_incidents += 1
    for attack in truth["attacks"]:
        ks = out[attack["kind"]]
        hits = [i for i in incidents if i["kind"] == attack["kind"] and _overlap(attack, i)]
        if not hits:
            continue
        ks.detected_attacks += 1
        found = {s for i in hits for s in sources.get(i["id"], [])}
        real = set(attack["sources"])
        ks.source_tp += len(found & real)
        ks.source_fp += len(found - real)
        ks.source_fn += len(real - found)
        first = min(hits, key=lambda i: i["start"])
        last = max(hits, key=lambda i: i["end"])
        ks.start_errors.append(abs((_time(first["start"]) - _time(attack["start"])).total_seconds()))
        ks.end_errors.append(abs((_time(last["end"]) - _time(attack["end"])).total_seconds()))
    return out


def score_files(truth: Path, incidents: Path, evidence: Path) -> dict[str, KindScore]:
    """Score one run from its files."""
    t = read_document(truth, TRUTH_SCHEMA)
    doc = read_document(incidents, SCHEMA)
    ev = read_document(evidence, EVIDENCE_SCHEMA)
    sources = {e["incident"]: [s["source"] for s in e["sources"]] for e in ev["incidents"]}
    return score(t, doc["incidents"], sources)


def combine(runs: list[dict[str, KindScore]]) -> dict[str, KindScore]:
    """Add up the scores of several runs."""
    total: dict[str, KindScore] = {}
    for run in runs:
        for kind, ks in run.items():
            acc = total.setdefault(kind, KindScore())
            for name in (
                "attacks",
                "incidents",
                "matched_incidents",
                "detected_attacks",
                "source_tp",
                "source_fp",
                "source_fn",
            ):
                setattr(acc, name, getattr(acc, name) + getattr(ks, name))
            acc.start_errors += ks.start_errors
            acc.end_errors += ks.end_errors
    return total
