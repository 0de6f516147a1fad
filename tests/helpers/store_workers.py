"""Processes that use one workspace at once, for the concurrency and fault tests.

    python -m tests.helpers.store_workers ROLE [ARGS...]

The workspace is the one the environment names (TRADEOFF_STORE / TRADEOFF_WORKSPACE). Each role
prints ``ready`` once the workspace is open, waits for a line on stdin when started with
``--wait`` (so every process starts its work together), and prints machine-readable lines:

* ``spool PREFIX BATCHES ROWS``: a gateway worker: ``LedgerWriter.add`` of BATCHES batches of
  ROWS calls; prints ``acked N`` after each add returns (the rows are then acknowledged), closes.
* ``record PREFIX BATCHES ROWS``: ``record_calls`` batches (live runs, the playground).
* ``import FILE [SHORT_LOCK_ROWS]``: ``import_file(FILE, "generic")``; prints ``added N``.
* ``read SECONDS``: spend queries in a loop; prints ``reads N``.
* ``policies N``: saves N policies; prints ``ids a,b,...``.
* ``ensure``: opens the workspace and migrates every component; prints ``ensured``.
* ``hold-lock``: holds the embedded workspace's write lock until stdin closes.
"""
from __future__ import annotations

import sys
import time

import pandas as pd


def calls(prefix: str, batch: int, rows: int) -> pd.DataFrame:
    return pd.DataFrame({
        "call_id": [f"{prefix}-{batch}-{i}" for i in range(rows)],
        "ts": pd.Timestamp("2026-05-01") + pd.to_timedelta([batch * 60 + i for i in range(rows)], unit="s"),
        "model": ["small" if i % 3 else "big" for i in range(rows)],
        "task": ["support" if i % 2 else "leads" for i in range(rows)],
        "cost_usd": [0.001 * (1 + i % 5) for i in range(rows)], "source": "live"})


def main(argv: list[str]) -> None:
    from core.workspace import open_workspace

    wait = "--wait" in argv
    argv = [a for a in argv if a != "--wait"]
    role, args = argv[0], argv[1:]
    ws = open_workspace()
    print("ready", flush=True)
    if wait:
        sys.stdin.readline()
    if role == "spool":
        from core.spend.writer import LedgerWriter

        writer = LedgerWriter(ws, interval=0.2)
        prefix, batches, rows = args[0], int(args[1]), int(args[2])
        acked = 0
        for b in range(batches):
            acked += writer.add(calls(prefix, b, rows))
            print(f"acked {acked}", flush=True)
        writer.close()
        print(f"left {writer.spool.backlog()['rows']}", flush=True)
    elif role == "record":
        from core.spend.ledger import record_calls

        prefix, batches, rows = args[0], int(args[1]), int(args[2])
        added = sum(record_calls(ws, calls(prefix, b, rows)) for b in range(batches))
        print(f"added {added}", flush=True)
    elif role == "import":
        from core.spend.imports import commit
        from core.spend.imports.importer import import_file

        if len(args) > 1:
            commit.SHORT_LOCK_ROWS = int(args[1])
        print(f"added {import_file(ws, args[0], 'generic').rows_added}", flush=True)
    elif role == "read":
        from core.spend.queries import SpendFilter, spend_page_data

        end, n = time.monotonic() + float(args[0]), 0
        while time.monotonic() < end:
            spend_page_data(ws, SpendFilter(scope="all"))
            n += 1
        print(f"reads {n}", flush=True)
    elif role == "policies":
        from core.routing.optimize.store import save_policy
        from core.routing.policies import SingleModel

        ids = [save_policy(ws, f"p{i}", SingleModel("small")) for i in range(int(args[0]))]
        print("ids " + ",".join(map(str, ids)), flush=True)
    elif role == "ensure":
        from core.evaluation.store import list_evalsets
        from core.live.store import list_runs
        from core.routing.optimize.store import list_policies
        from core.spend.budgets import list_budgets
        from core.spend.queries import totals

        list_evalsets(ws), list_runs(ws), list_policies(ws), list_budgets(ws), totals(ws)
        print("ensured", flush=True)
    elif role == "hold-lock":
        with ws.write_lock:
            print("locked", flush=True)
            sys.stdin.read()
    ws.close()


if __name__ == "__main__":
    main(sys.argv[1:])
