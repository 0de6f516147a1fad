"""The hand-made 10-item eval set of the regression-gate tests (tests/unit/test_gate.py says
what each model's scores are and the p-values they give)."""
from __future__ import annotations

SCORES = {"good": ("1111111110", 0.001), "bad": ("0000001110", 0.0005),
          "shuffled": ("1111111101", 0.001), "slightly": ("0011111110", 0.001),
          "pricey": ("1111111110", 0.003)}


def write_evalset(path, order=None, items=10, label="a"):
    rows = ["item_id,model,input,label,score,cost_usd"]
    for i in order or range(1, items + 1):
        for model, (scores, cost) in SCORES.items():
            rows.append(f"q{i:02d},{model},question {i},{label},{scores[i - 1]},{cost}")
    path.write_text("\n".join(rows) + "\n")
    return path
