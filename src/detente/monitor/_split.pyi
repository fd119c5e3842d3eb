"""Types of the C log splitter (``_split.c``)."""

from typing import Any

import numpy.typing as npt

Array = npt.NDArray[Any]  # a C-contiguous numpy array of the item size each argument names (_split.c)

def split(chunk: bytes, program: tuple[tuple[int, int, bytes], ...], /) -> tuple[object, object]:
    """The fields of each line in the program's line format: the Arrow schema and array PyCapsules."""

def count(
    ms: Array,
    addr_code: Array,
    src_of_addr: Array,
    path_code: Array,
    path_flags: Array,
    login_method: Array,
    status: Array,
    failure: Array,
    missing: Array,
    bucket_ms: int,
    out: Array,
    missed: Array,
    /,
) -> tuple[int, int]:
    """A chunk's lines grouped by (bucket, source) and counted into ``out`` and ``missed`` (see
    ``_split.c``): the numbers of groups and of (group, missing path) pairs written."""
