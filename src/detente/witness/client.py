"""Asking witnesses for cosignatures, as a log does (c2sp.org/tlog-witness, the client side).

The client remembers the size each witness last cosigned; on a 409 it learns the witness's size from the
body and retries once with a proof from there. Cosignatures are kept only if they verify with the
witness's key, so a misbehaving witness can add nothing but noise.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from detente.errors import DetenteError, VerificationError
from detente.tlog.cosignature import CosignatureVerifier
from detente.tlog.note import NoteSignature, open_note, split_note
from detente.witness.core import SIZE_MEDIA_TYPE

_SIZE_BODY = re.compile(r"(0|[1-9][0-9]{0,19})\n")


@dataclass(frozen=True)
class Witness:
    """A witness the log sends its checkpoints to."""

    url: str
    key: CosignatureVerifier


def request_body(old: int, proof: Sequence[bytes], signed_checkpoint: str) -> bytes:
    """Format an add-checkpoint request body."""
    lines = [f"old {old}", *(base64.b64encode(h).decode() for h in proof)]
    return ("\n".join(lines) + "\n\n" + signed_checkpoint).encode()


ProofFrom = Callable[[int], list[bytes]]  # old size -> consistency proof to the checkpoint's size


def witness_size(response: httpx.Response) -> int | None:
    """The size a 409 says the witness cosigned last, or None if the answer is not the spec's 409.

    Compared exactly, as the spec words it: the Content-Type *is* ``text/x.tlog.size`` (no parameters)
    and the body *is* a decimal without leading zeros and one newline. Go clients compare the same way,
    so a witness that strays is refused here too, where detente's own tests can see it, rather than only
    by other clients in the field.
    """
    if response.status_code != 409 or response.headers.get("content-type") != SIZE_MEDIA_TYPE:
        return None
    match = _SIZE_BODY.fullmatch(response.text)
    return None if match is None else int(match.group(1))


@dataclass
class WitnessClient:
    """Sends checkpoints to witnesses and gathers their verified cosignatures."""

    http: httpx.Client
    witnesses: Sequence[Witness]
    known: dict[str, int] = field(default_factory=dict)

    def _ask(self, witness: Witness, size: int, signed: str, proof_from: ProofFrom) -> NoteSignature:
        for _ in range(2):
            old = self.known.get(witness.url, 0)
            proof = proof_from(old) if 0 < old < size else []
            response = self.http.post(
                f"{witness.url}/add-checkpoint", content=request_body(old, proof, signed)
            )
            known = witness_size(response)
            if known is not None:
                self.known[witness.url] = known
                continue
            if response.status_code == 409:
                kind = response.headers.get("content-type")
                raise VerificationError(
                    f"witness {witness.key.name} answered 409 but not with its size as c2sp.org/tlog-witness "
                    f"gives it (Content-Type {kind!r}, body {response.text[:40]!r})"
                )
            if response.status_code != 200:
                raise VerificationError(
                    f"witness {witness.key.name} refused ({response.status_code}): {response.text}"
                )
            text, _ = split_note(signed)
            note = open_note(text + "\n" + response.text, [witness.key])
            self.known[witness.url] = size
            return note.sigs[0]
        raise VerificationError(f"witness {witness.key.name} disagrees about the log's size: a fork?")

    def cosign(self, signed: str, size: int, proof_from: ProofFrom) -> tuple[str, list[str]]:
        """Return the checkpoint with every cosignature obtained, and the problems met (one per witness)."""
        lines: list[str] = []
        problems: list[str] = []
        for witness in self.witnesses:
            try:
                lines.append(self._ask(witness, size, signed, proof_from).line())
            except (DetenteError, httpx.HTTPError, ValueError) as exc:
                problems.append(f"{witness.url}: {exc}")
        return signed + "".join(lines), problems
