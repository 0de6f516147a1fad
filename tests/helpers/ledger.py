"""A small hand-made ledger (7 rows over 3 days) shared by the spend tests."""
import pandas as pd

T = pd.Timestamp

ROWS = [
    # call_id, ts, model, task, provider, cost, requests, cache_hit, source, experiment, kind, tags
    ("a", T("2026-03-01 10:00"), "small", "support", "openai", 0.002, 1, False, "live", None, "call", "prod"),
    ("b", T("2026-03-01 11:00"), "big", "support", "anthropic", 0.030, 1, False, "live", None, "call", "prod"),
    ("c", T("2026-03-01 12:00"), "small", "support", "openai", 0.000, 1, True, "live", None, "call", "prod"),
    ("d", T("2026-03-02 09:00"), "big", "leads", "anthropic", 0.050, 1, False, "import", None, "call", "prod,ab"),
    ("e", T("2026-03-02 10:00"), "small", "leads", "openai", 0.006, 3, False, "import", None, "usage", None),
    ("f", T("2026-03-02 11:00"), "big", "leads", "anthropic", 0.040, 1, False, "shadow", "exp1", "call", None),
    ("g", T("2026-03-03 08:00"), "small", None, "openai", 0.001, None, False, "import", None, "cost", None),
]
COLS = ["call_id", "ts", "model", "task", "provider", "cost_usd", "requests", "cache_hit", "source",
        "experiment", "kind", "tags"]
