"""The interference monitor: web-server logs of protected assets in, incident JSON out.

The monitor imports nothing from the rest of detente except :mod:`detente.errors`, and signs nothing.
Its pipeline is::

    inputs (files, folders, globs, followed files; plain, gzip, zstd)
      -> parse      columnar parse of a chunk of lines (split in C, Polars), malformed lines counted
      -> aggregate  per asset, minute and source (IPv4 address or IPv6 /64)
      -> detect     pure kernels over minute aggregates, with baselines learned from the traffic
      -> attribute  country and network (ASN) from offline range tables, never an actor
      -> report     incident JSON (public), evidence JSON (private), CSV, terminal, HTML

The incident JSON schema (``detente.monitor.incidents/1``) is the whole contract with the rest of the
system; it is documented in ``docs/formats-incident.md``.
"""

from __future__ import annotations

SCHEMA = "detente.monitor.incidents/1"
EVIDENCE_SCHEMA = "detente.monitor.evidence/1"
TRUTH_SCHEMA = "detente.monitor.truth/1"

# the attack kinds the generator labels and the scorer scores
ATTACK_KINDS = ("flood", "distributed-flood", "scan", "brute-force", "credential-stuffing")

__all__ = ["ATTACK_KINDS", "EVIDENCE_SCHEMA", "SCHEMA", "TRUTH_SCHEMA"]
