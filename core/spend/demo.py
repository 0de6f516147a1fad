"""The synthetic demo ledger: what Spend and Budgets show on a first visit, before any real usage.

An empty ledger is seeded once with six weeks of made-up usage (three models, three tasks,
production beside real shadow calls, LLM-judge evaluation and a simulated replay), so the pages
open on something a product manager can read. Every demo row carries the tag :data:`DEMO_TAG`
and a ``demo:`` call id, and the spend queries leave such rows out unless asked
(``SpendFilter(demo=True)``): they are never billed spend of the user's own data, and budgets,
alerts, forecasts and reports never count them. Two one-click choices::

    seed_demo(ws)     # first visit: an empty ledger gets the demo (once per workspace)
    remove_demo(ws)   # the demo rows go; they never come back
    keep_demo(ws)     # the user keeps them as ledger rows: from then on they count like any row

>>> seed_demo(ws, today=dt.date(2026, 5, 20)) > 0, demo_status(ws).shown
(True, True)
>>> from core.spend.queries import SpendFilter, totals
>>> totals(ws)["rows"], totals(ws, SpendFilter(demo=True))["rows"] > 0   # left out unless asked
(0, True)
>>> remove_demo(ws); demo_status(ws).state, totals(ws, SpendFilter(demo=True))["rows"]
('removed', 0)
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.spend.ledger import check_calls, ensure_ledger, insert_staged
from core.spend.queries import DEMO_TAG
from core.spend.rollup import reaggregate_days
from core.workspace import Workspace

KEPT_TAG = "tradeoff-demo-kept"  # demo rows the user chose to keep: ordinary rows from then on
DEMO_DAYS = 42
DEMO_FILE = "Tradeoff demo ledger (synthetic)"

MIGRATIONS = [
    # v1, the DuckLake baseline. Every write bumps the 'ledger' lock row (it changes the ledger
    # too), so two first visits at once seed the demo once.
    """
    create table spend_demo (                  -- append-only: the last event is the state
        n integer not null,                    -- 1, 2, 3... in order
        event varchar not null,                -- seeded | kept | removed
        event_at timestamp not null default current_timestamp
    );
    """,
]

# (model, provider, task, requests per day, USD per request): made-up but plausible figures
_TRAFFIC = [
    ("gpt-4o-mini", "openai", "support", 18_000, 0.00021),
    ("claude-sonnet-4-5", "anthropic", "support", 2_400, 0.0105),
    ("gpt-4o-mini", "openai", "leads", 6_000, 0.00034),
    ("claude-sonnet-4-5", "anthropic", "leads", 1_600, 0.0162),
    ("gemini-2.0-flash", "gemini", "extraction", 10_000, 0.00012),
]


@dataclass(frozen=True)
class DemoStatus:
    state: str | None  # None (never seeded), seeded, kept, removed
    rows: int  # demo rows in the ledger (not yet kept)
    own_rows: int  # every other ledger row

    @property
    def shown(self) -> bool:
        """The demo is in the ledger and the user has not decided yet."""
        return self.state == "seeded" and self.rows > 0


def _ready(ws: Workspace) -> None:
    ensure_ledger(ws)
    ws.ensure("spend_demo", MIGRATIONS)


def _state(cur) -> str | None:
    row = cur.execute("select event from spend_demo order by n desc limit 1").fetchone()
    return row[0] if row else None


def _record(cur, event: str) -> None:
    cur.execute("insert into spend_demo (n, event) select count(*) + 1, ? from spend_demo", [event])


def demo_status(ws: Workspace) -> DemoStatus:
    _ready(ws)
    cur = ws.cursor()
    demo, own = cur.execute("select count(*) filter (where tags = ?), count(*) filter"
                            " (where tags is distinct from ?) from ledger", [DEMO_TAG, DEMO_TAG]).fetchone()
    return DemoStatus(_state(cur), int(demo), int(own))


def demo_frame(today: dt.date) -> pd.DataFrame:
    """The demo rows for the :data:`DEMO_DAYS` days ending ``today`` (the same every time for
    one ``today``): one usage row per day, model and task, plus shadow, evaluation and
    simulated rows, each tagged :data:`DEMO_TAG`."""
    rng = np.random.default_rng(19)
    days = pd.date_range(end=pd.Timestamp(today), periods=DEMO_DAYS, freq="D")
    rows = []
    for i, day in enumerate(days):
        growth = 1.0 + 0.01 * i + (0.25 if day.dayofweek < 5 else -0.35)
        for model, provider, task, per_day, unit in _TRAFFIC:
            n = max(1, int(per_day * growth * rng.uniform(0.85, 1.15)))
            rows.append((day + pd.Timedelta(hours=12), model, provider, task, n, round(n * unit, 6),
                         "import", None, "usage"))
        if i >= DEMO_DAYS - 14:  # a candidate tried in shadow over the last two weeks
            n = int(120 * rng.uniform(0.9, 1.1))
            rows.append((day + pd.Timedelta(hours=13), "claude-haiku-4-5", "anthropic", "support", n,
                         round(n * 0.0035, 6), "shadow", "haiku-shadow", "usage"))
        if i % 7 == 3:  # a weekly LLM-judge pass over the eval set
            rows.append((day + pd.Timedelta(hours=14), "gpt-4o", "openai", "support", 400,
                         round(400 * 0.0042, 6), "evaluation", None, "usage"))
    for day in days[-3:]:  # a replayed shadow comparison: simulated spend, never billed
        rows.append((day + pd.Timedelta(hours=15), "claude-haiku-4-5", "anthropic", "leads", 250,
                     round(250 * 0.0041, 6), "simulation", "haiku-replay", "usage"))
    frame = pd.DataFrame(rows, columns=["ts", "model", "provider", "task", "requests", "cost_usd",
                                        "source", "experiment", "kind"])
    frame["call_id"] = [f"demo:{ts:%Y-%m-%d}:{m}:{t}:{s}" for ts, m, t, s in
                        zip(frame["ts"], frame["model"], frame["task"], frame["source"])]
    frame["input_tokens"] = frame["requests"] * 900
    frame["output_tokens"] = frame["requests"] * 180
    frame["tags"] = DEMO_TAG
    frame["project"] = "demo"
    frame["import_file"] = DEMO_FILE
    frame["cost_basis"] = "reported"
    return frame


def seed_demo(ws: Workspace, today: dt.date | None = None) -> int:
    """Seed an empty ledger with the demo, once per workspace; returns the rows added (0 when the
    ledger has rows, or the demo was seeded before: removed, it stays removed)."""
    from core.spend import clock

    _ready(ws)
    cur = ws.cursor()
    if _state(cur) is not None or cur.execute("select count(*) from ledger").fetchone()[0]:
        return 0
    frame = check_calls(demo_frame(today or clock.now().date()))

    def body(c) -> int:
        ws.bump(c, "ledger")  # two first visits at once: the loser re-runs and sees the demo
        if _state(c) is not None or c.execute("select count(*) from ledger").fetchone()[0]:
            return 0
        c.register("demo_calls", frame)
        try:
            added = insert_staged(ws, c, "demo_calls")
        finally:
            c.unregister("demo_calls")
        _record(c, "seeded")
        return added

    return ws.write(body)


def remove_demo(ws: Workspace) -> None:
    """Delete the demo rows (not kept ones); the demo is not seeded again."""
    _ready(ws)

    def body(cur) -> None:
        ws.bump(cur, "ledger")
        cur.execute("create or replace temp table _demo_days as "
                    "select distinct cast(ts as date) as d from ledger where tags = ?", [DEMO_TAG])
        cur.execute("delete from ledger where tags = ?", [DEMO_TAG])
        reaggregate_days(cur, "_demo_days")  # the rollup of those days, from the rows left
        cur.execute("drop table _demo_days")
        _record(cur, "removed")

    ws.write(body)


def keep_demo(ws: Workspace) -> None:
    """Keep the demo rows as ordinary ledger rows (tag :data:`KEPT_TAG`): from now on budgets,
    alerts and reports count them like any row."""
    _ready(ws)

    def body(cur) -> None:
        ws.bump(cur, "ledger")
        for table in ("ledger", "ledger_daily"):  # tags is a rollup dimension: both change
            cur.execute(f"update {table} set tags = ? where tags = ?", [KEPT_TAG, DEMO_TAG])
        _record(cur, "kept")

    ws.write(body)
