"""The one error tree of detente.

Every error a user can see is a :class:`DetenteError`. Foreign exceptions (``ValueError`` from a decoder,
``sqlite3.Error``, ``nacl`` errors) are wrapped at the trust boundary where they occur, so callers catch
one family and the message always says what is wrong and what to do::

    DetenteError
    ├── InputError              bad input from outside: refused, nothing changed
    │   ├── MalformedError      cannot be parsed (a note, proof, tile, entry, log line)
    │   ├── TooLargeError       over a size limit
    │   ├── MediaTypeError      a request body not sent as the media type the API takes (JSON)
    │   └── VerificationError   parsed, but a signature or proof does not verify
    ├── SecurityError           the log itself is not what it signed: treat as an incident
    │   ├── TamperError         stored data does not match the signed tree (a flipped byte)
    │   └── ForkError           two views of the log that cannot both be true (rollback, fork)
    ├── ConflictError           a state change lost a race or is not allowed now
    │   └── WriterBusyError     another writer holds the log
    ├── NotFoundError           asked for something that does not exist (yet)
    └── ConfigError             the installation is not set up as required

Security errors are kept apart from input errors on purpose (as Go's sumdb keeps ``SecurityError``): a
bad proof from a stranger is routine, a stored hash that does not match our own signed checkpoint is not.

Each branch has its process exit code (:func:`exit_code`, documented in docs/cli.md with the shell's
own): 3 security, 65 bad input (sysexits EX_DATAERR), 66 not found (EX_NOINPUT), 75 conflict, try
again later (EX_TEMPFAIL), 78 configuration (EX_CONFIG); 1 for any other.
"""

from __future__ import annotations


class DetenteError(Exception):
    """Base of every error detente raises on purpose."""


class InputError(DetenteError):
    """Input from outside was refused; nothing was changed."""


class MalformedError(InputError):
    """Input cannot be parsed: the message names the part that is wrong."""


class TooLargeError(InputError):
    """Input is over a size limit."""


class MediaTypeError(InputError):
    """A request body is not sent as the media type the endpoint takes (JSON): it was not read."""


class VerificationError(InputError):
    """Input parsed, but a signature or proof does not verify."""


class SecurityError(DetenteError):
    """Stored or served data contradicts what was signed: possible tampering or a fork."""


class TamperError(SecurityError):
    """Stored data does not match the signed tree; it is never served."""


class ForkError(SecurityError):
    """Two checkpoints that cannot both be true, such as a rollback to an old backup."""


class ConflictError(DetenteError):
    """A state change lost a race or is not allowed in the current state."""


class UnreachableError(ConflictError):
    """The registry could not be reached, or stopped answering: the request may or may not have arrived."""


class WriterBusyError(ConflictError):
    """Another writer holds the log: there is one writer per log."""


class NotFoundError(DetenteError):
    """The thing asked for does not exist (yet)."""


class ConfigError(DetenteError):
    """The installation is not set up as required (missing key, wrong permissions, bad URL)."""


EXIT_CODES: list[tuple[type[DetenteError], int]] = [
    (SecurityError, 3),
    (InputError, 65),
    (NotFoundError, 66),
    (ConflictError, 75),
    (ConfigError, 78),
]


def exit_code(error: DetenteError) -> int:
    """The process exit code for an error."""
    return next((code for kind, code in EXIT_CODES if isinstance(error, kind)), 1)


def file_problem(error: OSError) -> tuple[int, str]:
    """The exit code of a file the user named that cannot be read or written, and what to do about it
    (sysexits: 66 not found, 73 exists, 77 not allowed, 74 anything else)."""
    if isinstance(error, FileNotFoundError):
        return 66, " (check the path)"
    if isinstance(error, FileExistsError):
        return 73, " (detente does not overwrite it: move it away or choose another name)"
    if isinstance(error, PermissionError):
        return 77, " (check the file's owner and mode)"
    return 74, ""
