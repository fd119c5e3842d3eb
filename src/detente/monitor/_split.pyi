"""Types of the C log splitter (``_split.c``)."""

def split(chunk: bytes, combined: bool, /) -> tuple[object, object]:
    """The COMMON (or COMBINED) groups of each line: the Arrow schema and array PyCapsules."""
