"""What the gateway's store agent costs with no traffic, and what one read of a DuckLake table costs.

    python -m bench.bench_agent_cycle [--cycles 20]

On a fresh embedded workspace with a gateway key and two budgets (so the budget watch has work),
a :class:`core.gateway.agent.StoreAgent` with its :class:`core.gateway.watch.BudgetWatch` runs
``--cycles`` full cycles (``force_poll``: deployments, price edits, keys, budgets, live experiments
all looked at, as every 2 s in ``serve``) with nothing spooled. Prints the CPU per cycle and the
DuckLake catalog queries per cycle (DuckDB's ``DuckLakeMetadata`` log), then, in the same run, the
cost of one read: ``select count(*)`` of a small DuckLake table against the same count of a plain
DuckDB table, and (where the tree has it) ``Workspace.table_versions``. Prints the load average.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from core.gateway.agent import StoreAgent
from core.gateway.apikeys import create_key
from core.gateway.budgets import set_budget
from core.gateway.watch import BudgetWatch
from core.workspace import Workspace, engine


def metadata_queries(fn, n: int) -> tuple[float, float]:
    """(CPU ms per call, DuckLake catalog queries per call) of ``fn`` over ``n`` calls."""
    con = engine.engine()
    fn()

    def logged() -> int:  # (truncate_duckdb_logs stops the logging: counted as a difference)
        return con.execute("select count(*) from duckdb_logs_parsed('DuckLakeMetadata')").fetchone()[0]

    before = logged()
    start = time.process_time()
    for _ in range(n):
        fn()
    cpu = (time.process_time() - start) / n * 1e3
    return cpu, (logged() - before) / n


def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--cycles", type=int, default=20)
    p.add_argument("--reads", type=int, default=100)
    args = p.parse_args(argv)
    print(f"load average at start: {os.getloadavg()}")
    root = Path(tempfile.mkdtemp(prefix="bench-agent-"))
    ws = Workspace(root / "ws")
    key = create_key(ws, "app")
    set_budget(ws, "overall", "daily", 100.0, action="refuse")
    set_budget(ws, "key", "monthly", 50.0, subject=key["key_id"])
    runtime = root / "gateway"
    runtime.mkdir()
    agent = StoreAgent(ws.location, runtime, hooks=[BudgetWatch(runtime)])
    agent.cycle(force_poll=True)  # first cycle: migrations, first publications
    engine.engine().execute("CALL enable_logging('DuckLakeMetadata')")

    cpu, queries = metadata_queries(lambda: agent.cycle(force_poll=True), args.cycles)
    print(f"agent cycle, full (force_poll), idle: {cpu:.1f} ms CPU, {queries:.0f} catalog queries")
    cpu, queries = metadata_queries(lambda: agent.cycle(), args.cycles)
    print(f"agent cycle, as timed in serve (publish every 2nd cycle), idle: {cpu:.1f} ms CPU, "
          f"{queries:.0f} catalog queries")

    cur = ws.cursor()
    cpu, queries = metadata_queries(
        lambda: cur.execute("select count(*) from gateway_keys").fetchall(), args.reads)
    print(f"one read, DuckLake (select count(*) from gateway_keys): {cpu:.2f} ms CPU, "
          f"{queries:.1f} catalog queries")
    plain = engine.cursor()
    plain.execute("create or replace temp table plain_keys as select * from range(3)")
    cpu, _ = metadata_queries(lambda: plain.execute("select count(*) from plain_keys").fetchall(),
                              args.reads)
    print(f"one read, plain DuckDB table (same count): {cpu:.3f} ms CPU")
    if hasattr(ws, "table_versions"):
        cpu, queries = metadata_queries(lambda: ws.table_versions(["gateway_keys"]), args.reads)
        print(f"Workspace.table_versions (one catalog query): {cpu:.2f} ms CPU, "
              f"{queries:.1f} DuckLake catalog queries")
    engine.engine().execute("CALL disable_logging()")
    agent.stop(drain_s=1)
    ws.close()
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
