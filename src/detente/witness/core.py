"""The witness's decision for one add-checkpoint request: pure, values in and values out.

Rules (c2sp.org/tlog-witness, add-checkpoint), in the order the spec gives them:
unknown origin -> 404; no trusted log signature -> 403; old size above the checkpoint size -> 400;
old size not the size last cosigned -> 409 with that size; a bad consistency proof -> 422; equal sizes
with different roots -> 409. Otherwise the new checkpoint is recorded and cosigned (200).

A refusal of a log-signed checkpoint that conflicts with the one cosigned last carries a
:class:`Conflict` for the state to keep as evidence: a *fork* (the same size, another root: whatever old
size came with it) or an *inconsistent* checkpoint (a consistency proof from the size cosigned that does
not verify). Every other refusal (a wrong old size, a malformed request) is routine and keeps nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from detente.errors import InputError, MalformedError, VerificationError
from detente.tlog.checkpoint import SignedCheckpoint, open_checkpoint, parse_checkpoint_body
from detente.tlog.cosignature import cosign
from detente.tlog.merkle import EMPTY_ROOT, HASH_SIZE, verify_consistency
from detente.tlog.note import Ed25519Verifier, Note, Signer, b64decode, split_note

MAX_PROOF_LINES = 63
# The 409's Content-Type, exactly: the spec gives the header's whole value, and Go clients compare it as a
# string, so no charset or other parameter may be added (c2sp.org/tlog-witness, add-checkpoint).
SIZE_MEDIA_TYPE = "text/x.tlog.size"
_OLD = re.compile(r"old (0|[1-9][0-9]{0,19})")


@dataclass(frozen=True)
class AddCheckpoint:
    """A parsed add-checkpoint request body."""

    old: int
    proof: tuple[bytes, ...]
    signed_checkpoint: str


@dataclass(frozen=True)
class Seen:
    """The latest checkpoint a witness cosigned for one log."""

    size: int
    root: bytes


@dataclass(frozen=True)
class Conflict:
    """A log-signed checkpoint refused because it conflicts with the one cosigned last.

    ``kind`` is ``"fork"`` (the same size, another root: the two signed checkpoints prove a fork by
    themselves) or ``"inconsistent"`` (larger, and the consistency proof sent with it, ``proof``, does not
    verify: a fork only if no proof exists, which the log is then asked for).
    """

    kind: str
    checkpoint: SignedCheckpoint
    proof: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """What to answer: a status, a body and its type, and the new state to record (200 only)."""

    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"  # sent as it is: the shell adds nothing to it
    record: SignedCheckpoint | None = None  # the checkpoint cosigned, its log signature verified
    conflict: Conflict | None = None  # evidence to keep with a refusal


def log_signed(signed: SignedCheckpoint) -> str:
    """The checkpoint as its log signed it: the body and the log's signature line alone.

    Signature lines by keys the witness does not know are dropped: they prove nothing, and anyone can
    add them (as many as fit in a request).
    """
    return Note(signed.note.text, signed.note.sigs).format()


def parse_request(body: bytes) -> AddCheckpoint:
    """Parse an add-checkpoint body.

    Raises:
        MalformedError: naming what is wrong.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedError("request body is not UTF-8") from exc
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise MalformedError(
            "request needs an old size line, proof lines, an empty line, then the checkpoint"
        )
    lines = head.split("\n")
    match = _OLD.fullmatch(lines[0])
    if match is None:
        raise MalformedError("first line must be 'old <size>' (decimal, no leading zeros)")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise MalformedError(f"at most {MAX_PROOF_LINES} consistency proof lines are allowed")
    proof = tuple(b64decode(line, f"proof line {i + 1}") for i, line in enumerate(lines[1:]))
    if any(len(h) != HASH_SIZE for h in proof):
        raise MalformedError("each proof line must be a 32-byte hash")
    return AddCheckpoint(int(match.group(1)), proof, note)


def _origin(note: str) -> str:
    text, _ = split_note(note)
    return parse_checkpoint_body(text).origin


def decide(
    body: bytes, logs: Mapping[str, Ed25519Verifier], seen: Mapping[str, Seen], witness: Signer, now: int
) -> Outcome:
    """Decide an add-checkpoint request against the logs trusted and the state seen so far."""
    try:
        request = parse_request(body)
        origin = _origin(request.signed_checkpoint)
    except MalformedError as exc:
        return Outcome(400, f"{exc}\n")
    log_key = logs.get(origin)
    if log_key is None:
        return Outcome(404, f"unknown log {origin!r}\n")
    try:
        signed = open_checkpoint(request.signed_checkpoint, log_key)
    except InputError as exc:
        return Outcome(403, f"checkpoint not signed by the trusted key of {origin}: {exc}\n")
    refusal = _refusal(request, signed, seen.get(origin))
    if refusal is not None:
        return refusal
    line = cosign(signed.checkpoint.body(), witness, now).line()
    return Outcome(200, line, record=signed)


def _refusal(request: AddCheckpoint, signed: SignedCheckpoint, last: Seen | None) -> Outcome | None:
    """The answer refusing a log-signed checkpoint, in the spec's order, or None to cosign it."""
    checkpoint = signed.checkpoint
    if request.old > checkpoint.size:
        return Outcome(400, f"old size {request.old} is above the checkpoint size {checkpoint.size}\n")
    known = 0 if last is None else last.size
    forked = last is not None and checkpoint.size == last.size and checkpoint.root != last.root
    fork = Conflict("fork", signed) if forked else None
    if request.old != known:  # a fork is evidence whatever old size it came with
        return Outcome(409, f"{known}\n", SIZE_MEDIA_TYPE, conflict=fork)
    if checkpoint.size == 0 and checkpoint.root != EMPTY_ROOT:
        body = "a checkpoint of size 0 has the empty tree's root (SHA-256 of nothing)\n"
        return Outcome(422, body, conflict=fork)
    if fork is not None:
        return Outcome(409, f"{known}\n", SIZE_MEDIA_TYPE, conflict=fork)
    if request.old in (0, checkpoint.size):  # nothing to prove (C2SP: from 0 the proof MUST be empty)
        if request.proof:
            return Outcome(
                422, f"the consistency proof from size {request.old} to {checkpoint.size} must be empty\n"
            )
        return None
    last_root = EMPTY_ROOT if last is None else last.root  # last is set: request.old == known > 0
    try:
        verify_consistency(request.old, checkpoint.size, last_root, checkpoint.root, request.proof)
    except VerificationError as exc:
        body = f"not consistent with the checkpoint of size {known} seen before: {exc}\n"
        return Outcome(422, body, conflict=Conflict("inconsistent", signed, request.proof))
    return None
