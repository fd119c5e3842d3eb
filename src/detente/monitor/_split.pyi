"""Types of the C log splitter (``_split.c``)."""

def split(chunk: bytes, program: tuple[tuple[int, int, bytes], ...], /) -> tuple[object, object]:
    """The fields of each line in the program's line format: the Arrow schema and array PyCapsules."""
