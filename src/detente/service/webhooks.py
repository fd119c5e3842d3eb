"""Webhooks: tell a party's systems at once of new statements concerning it (an offer before it lapses).

After each batch the writer wakes the notifier; a background thread POSTs, for each configured hook, the
acts concerning its party that were logged since the last delivery:
``{"party": "US", "acts": [{"index", "sid", "kind", "party", "counterparty", "ref", "received", "entry"}]}``.
Delivery is at least once: a failed POST is retried on the next wake, and the last delivered index of
each hook is kept in a small state file so a restart neither loses nor floods notifications. A hook
carries only public data (everything it says is in the public log), so it needs no secret.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from detente.accords.records import Act
from detente.service.wake import Wake
from detente.statements.canonical import format_time

log = logging.getLogger("detente.webhooks")

ActsSince = Callable[[str, int], list[Act]]  # (party, first index) -> acts concerning it, oldest first


@dataclass(frozen=True)
class Webhook:
    """One subscriber: a URL and the party whose statements it wants."""

    url: str
    party: str


def payload(party: str, acts: list[Act], base: str) -> dict[str, object]:
    """The JSON body POSTed to a hook."""
    return {
        "party": party,
        "acts": [
            {
                "index": a.index,
                "sid": a.sid,
                "kind": a.kind,
                "party": a.party,
                "counterparty": a.counterparty,
                "ref": a.ref,
                "received": format_time(a.received),
                "entry": f"{base}/log/entry?index={a.index}",
            }
            for a in acts
        ],
    }


@dataclass
class WebhookNotifier:
    """Delivers new acts to each hook, from a background thread woken after each batch."""

    hooks: tuple[Webhook, ...]
    acts_since: ActsSince
    http: httpx.Client
    state: Path
    base: str = ""
    wake: Wake = field(default_factory=Wake)
    _lock: threading.Lock = field(default_factory=threading.Lock)  # one delivery round at a time

    def _load(self) -> dict[str, int]:
        try:
            data = json.loads(self.state.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return {str(k): int(v) for k, v in data.items()}

    def _save(self, delivered: dict[str, int]) -> None:
        tmp = self.state.with_suffix(".tmp")
        tmp.write_text(json.dumps(delivered, indent=2) + "\n", encoding="utf-8")
        tmp.replace(self.state)

    def deliver(self) -> int:
        """Deliver what is new to every hook; return the number of acts delivered."""
        with self._lock:
            return self._deliver()

    def _deliver(self) -> int:
        delivered = self._load()
        count = 0
        for hook in self.hooks:
            key = f"{hook.party} {hook.url}"
            acts = self.acts_since(hook.party, delivered.get(key, 0))
            if not acts:
                continue
            try:
                self.http.post(hook.url, json=payload(hook.party, acts, self.base)).raise_for_status()
            except httpx.HTTPError as exc:
                log.warning(
                    "webhook %s for %s failed (retried on the next batch): %s", hook.url, hook.party, exc
                )
                continue
            delivered[key] = acts[-1].index + 1
            count += len(acts)
        self._save(delivered)
        return count

    def notify(self) -> None:
        """New statements were logged."""
        self.wake.notify()

    def run(self) -> None:
        """Background loop: deliver on every wake until stopped."""
        self.wake.loop(self.deliver, "a webhook delivery")

    def stop(self) -> None:
        """End the loop."""
        self.wake.stop()
