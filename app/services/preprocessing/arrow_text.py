"""Arrow text read at the byte level: each chunk's offsets and bytes as NumPy views, so a
question about every cell (how long it is, which bytes it holds, how it starts) costs one
vectorised pass instead of a kernel that looks at each value."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np


def text_chunks(array: Any) -> Iterator[tuple[np.ndarray, np.ndarray] | None]:
    """Per chunk of an Arrow array (or chunked array): its offsets (one more than its cells,
    into the data) and its whole data buffer, as views; None for a chunk not of `string` or
    `large_string` type."""
    import pyarrow as pa

    for chunk in getattr(array, "chunks", [array]):
        if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
            yield None
            continue
        _, offsets_buffer, data_buffer = chunk.buffers()
        if len(chunk) == 0 or offsets_buffer is None:
            yield np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.uint8)
            continue
        width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        offsets = np.frombuffer(offsets_buffer, dtype=width)
        offsets = offsets[chunk.offset : chunk.offset + len(chunk) + 1]
        data = (
            np.zeros(0, dtype=np.uint8)
            if data_buffer is None
            else np.frombuffer(data_buffer, dtype=np.uint8)
        )
        yield offsets, data


def only_bytes(array: Any, allowed: np.ndarray, longest: int) -> bool:
    """Whether every cell of the Arrow text `array` is at most `longest` bytes, each of them
    one that `allowed` (a table of 256 booleans) allows. Null cells count with whatever bytes
    they span, so the answer errs towards False."""
    for chunk in text_chunks(array):
        if chunk is None:
            return False
        offsets, data = chunk
        if len(offsets) < 2:
            continue
        if int(np.diff(offsets).max()) > longest:
            return False
        if not allowed[data[int(offsets[0]) : int(offsets[-1])]].all():
            return False
    return True


def any_starts_with(array: Any, first: np.ndarray) -> bool:
    """Whether any cell of the Arrow text `array` starts with a byte that `first` (a table of
    256 booleans) marks; True when the array is not of a text type this reads. Null cells count
    with whatever bytes they span, so the answer errs towards True, and so may an empty cell:
    the byte read at its start is the next cell's first (or, at the end, the last byte)."""
    for chunk in text_chunks(array):
        if chunk is None:
            return True
        offsets, data = chunk
        if len(offsets) < 2 or offsets[-1] == offsets[0]:
            continue  # no cell holds a byte
        if first[np.take(data, offsets[:-1], mode="clip")].any():
            return True
    return False


def longest_bytes(array: Any) -> int | None:
    """The most bytes any cell of the Arrow text `array` spans (null cells included), or None
    when the array is not of a text type this reads."""
    longest = 0
    for chunk in text_chunks(array):
        if chunk is None:
            return None
        offsets, _ = chunk
        if len(offsets) > 1:
            longest = max(longest, int(np.diff(offsets).max()))
    return longest
