"""The workbook reader's look-ahead: past the first rows, chunks are inflated and scanned ahead
in a thread pool, with the same values, errors in the same place, and nothing read ahead for a
read that stops within the first rows."""

from __future__ import annotations

import pytest

from app.services.preprocessing.columns import InvalidUpload
from app.services.preprocessing.limits import UploadLimits
from app.services.preprocessing.xlsx import columns
from app.services.preprocessing.xlsx_table import read_xlsx_table
from tests.test_xlsx_columns import assert_same, plain_workbook, small_chunks  # noqa: F401


def _scans_by_thread(monkeypatch) -> list[str]:
    """The thread of every chunk scanned ahead (`xlsx.scan_chunk`), in the order scanned."""
    import threading

    from app.services.preprocessing import xlsx

    threads: list[str] = []

    def recorded(reader, chunk):
        threads.append(threading.current_thread().name)
        return scan_chunk(reader, chunk)

    scan_chunk = xlsx.scan_chunk
    monkeypatch.setattr(xlsx, "scan_chunk", recorded)
    return threads


def test_the_chunks_after_the_first_rows_are_scanned_ahead_in_other_threads(tmp_path, monkeypatch):
    """A whole read scans its chunks in the scanning threads, ahead of their use, with the
    same values as the row path; a read that stops within the first rows (the upload's
    glance) scans nothing ahead."""
    path = plain_workbook(tmp_path / "plain.xlsx")
    threads = _scans_by_thread(monkeypatch)
    frame, complete = read_xlsx_table(path, UploadLimits(), 5)
    assert len(frame) == 5 and not complete and threads == []
    columns.COUNTS.clear()
    frame, complete = read_xlsx_table(path, UploadLimits())
    assert complete and len(frame) == 299
    assert len(threads) > 10 and all(name.startswith("xlsx-scan") for name in threads)
    # every chunk but the first block's was scanned ahead and read as columns
    assert columns.COUNTS["rows"] == 0 and columns.COUNTS["columns"] >= len(threads)
    assert_same(path)


def test_a_chunk_that_fails_to_inflate_ahead_fails_the_read_only_when_its_turn_comes(
    tmp_path, monkeypatch
):
    """Inflating ahead does not move an error forward: a read that stops before the damaged
    chunk succeeds, as it did without the look-ahead, and a whole read is refused."""
    from app.services.preprocessing import xlsx
    from app.services.preprocessing.xlsx.errors import XlsxFormatError

    path = plain_workbook(tmp_path / "plain.xlsx")
    _, blocks = xlsx.iter_xlsx_blocks(path)
    sizes = [len(block) for block in blocks]
    damaged = 8  # the chunk after the header's chunk and seven more
    assert len(sizes) > damaged + xlsx.SCAN_AHEAD
    inflate = xlsx.xml_chunks

    def damaged_at(*args, **kwargs):
        for index, chunk in enumerate(inflate(*args, **kwargs)):
            if index == damaged:
                raise XlsxFormatError("invalid deflate data")
            yield chunk

    monkeypatch.setattr(xlsx, "xml_chunks", damaged_at)
    before = sum(sizes[: damaged - 1]) + 1  # one row into the last block before the damage
    frame, complete = read_xlsx_table(path, UploadLimits(), before)
    assert len(frame) == before and not complete
    with pytest.raises(InvalidUpload, match="could not be read"):
        read_xlsx_table(path, UploadLimits())
