"""What the predict request's read of an upload costs: the time and the memory of
`read_head(path, format, limits, rows=PREDICTION_BACKGROUND_ROWS)`, in a fresh process.

    python -m bench.intake_head /tmp/pw/telco_1000000.csv [csv|gz|parquet] [rows]

Prints the seconds, the peak RSS before and after the call (`resource.getrusage`), and the RSS
once the head is dropped (what the web process keeps)."""

from __future__ import annotations

import gc
import resource
import sys
import time
from pathlib import Path


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def main() -> None:
    from app.services.preprocessing import UploadLimits, read_head

    path = Path(sys.argv[1])
    file_format = sys.argv[2] if len(sys.argv) > 2 else "csv"
    rows = int(sys.argv[3]) if len(sys.argv) > 3 else 20_000
    import pandas  # noqa: F401  (loaded before the baseline, as in the web process)
    import pyarrow.csv
    import pyarrow.parquet  # noqa: F401

    gc.collect()
    idle, peak_before = _rss_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    head = read_head(path, file_format, UploadLimits(), rows=rows)
    seconds = time.perf_counter() - started
    peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    frame_rows, declared, complete = len(head.frame), head.row_count, head.complete
    del head
    gc.collect()
    print(
        f"{path.name} ({file_format}, rows={rows}): {seconds:.2f} s; peak RSS {peak_before:.0f}"
        f" -> {peak_after:.0f} MB; RSS idle {idle:.0f} MB, after {_rss_mb():.0f} MB; "
        f"frame {frame_rows} rows, row_count {declared}, complete {complete}"
    )


if __name__ == "__main__":
    main()
