"""The Spend page's reads on an existing workspace, in a fresh process (for side-by-side runs).

    python -m bench.bench_spend_page WORKSPACE [--days 30]

Opens WORKSPACE, runs one 90-day query first (extensions and catalog warm, as on a page that has
been open), then times ``read_spend_page_data`` (every figure of the Spend page for the last
``--days`` days of the ledger) once cold and best of 3 warm, and ``read_filter_options``; wall
and CPU time (every thread of the process). Run it from two checkouts (e.g. one exported with
``git archive``) on copies of the same ledger, alternating, to compare them in one window.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import time

from core.spend import queries as q
from core.workspace import Workspace


def timed(fn) -> tuple[int, int]:
    """(wall ms, CPU ms) of one call."""
    c0, w0 = time.process_time(), time.perf_counter()
    fn()
    return round((time.perf_counter() - w0) * 1000), round((time.process_time() - c0) * 1000)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("workspace")
    ap.add_argument("--days", type=int, default=30)
    args = ap.parse_args()
    ws = Workspace(args.workspace, progress=lambda m: None)
    last = ws.cursor().execute("select max(day) from ledger_daily").fetchone()[0]
    flt = q.SpendFilter(date_from=last - dt.timedelta(days=args.days - 1), date_to=last)
    q.spend_by(ws, ["day", "model"], q.SpendFilter())
    cold = timed(lambda: q.read_spend_page_data(ws, flt))
    filters = timed(lambda: q.read_filter_options(ws))
    warm = min(timed(lambda: q.read_spend_page_data(ws, flt)) for _ in range(3))
    print(f"{os.getcwd()}: page cold {cold} warm {warm} (wall, CPU ms); filter options {filters}; "
          f"load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
