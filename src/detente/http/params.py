"""Path and query parameters read strictly: whole numbers in ASCII digits alone, times as in statements.

Pydantic reads a number as Python's ``int()`` does, so ``+3``, `` 3`` and ``3_0`` (thirty) would pass for
an index, and a pattern's ``\\d`` matches the digits of every script (``٢٠٢٠`` read as 2020). A reader of
the log gets the entry or the moment it wrote, or a refusal, never a near guess. Every refusal is a 422
``validation`` problem naming the parameter, whatever is wrong with it (a time that is no real day, like
2020-02-30, is refused as one that is not a time at all).
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Query
from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

from detente.statements.schema import TIME, mismatch

_DIGITS = re.compile(r"[0-9]+")
_TIME = re.compile(TIME)


def ascii_digits(value: object) -> object:
    """Pass the text of a whole number on, to be converted and bounded, only if it is ASCII digits alone.

    Runs before pydantic's conversion, on the text as sent; anything else (a default) passes untouched.
    """
    if isinstance(value, str) and _DIGITS.fullmatch(value) is None:
        raise PydanticCustomError(
            "ascii_integer", "should be a whole number in the digits 0-9 alone (no sign, space or underscore)"
        )
    return value


def real_time(value: str) -> str:
    """``value`` if it is a real UTC time to the second in the form statements use (the schema's TIME).

    ``fullmatch``: the pattern's ``$`` would let a trailing newline through.
    """
    if _TIME.fullmatch(value) is None:
        raise PydanticCustomError("time", "{value}" + mismatch(TIME), {"value": repr(value[:30])})
    return value


# An integer parameter: add its Path or Query (with its bounds) beside it.
Int = Annotated[int, BeforeValidator(ascii_digits)]
MaybeInt = Annotated[int | None, BeforeValidator(ascii_digits)]
# The optional ``at`` of the reads that can look into the past: the pattern is published in the OpenAPI
# document (pydantic's regex engine cannot run its look-ahead, so ``real_time`` checks it instead).
At = Annotated[
    str | None,
    Query(description="A UTC time, YYYY-MM-DDTHH:MM:SSZ (default: now)", json_schema_extra={"pattern": TIME}),
    AfterValidator(real_time),
]
