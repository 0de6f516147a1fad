"""Two eval sets (two versions of one set, or two runs) compared item by item.

Items are matched by ``item_id``; ``change = score in B - score in A`` for one model column of
each side (the same model, or a pinned version against the next). Regressions come largest drop
first, improvements largest gain first; the paired test is McNemar's (0/1 scores) or the paired
t-test (graded) on the matched items (:func:`core.evaluation.stats.paired_scores`).

>>> from core.evaluation.evalset import EvalSet
>>> a = EvalSet.from_arrays("v1", ["m"], score=np.array([[1.0], [1.0], [0.0], [0.5]]))
>>> b = EvalSet.from_arrays("v2", ["m"], score=np.array([[0.0], [1.0], [1.0], [0.25]]))
>>> d = diff_items(a, "m", b, "m")
>>> d.regressions["item_id"].tolist(), d.regressions["change"].tolist()
(['1', '4'], [-1.0, -0.25])
>>> d.improvements["item_id"].tolist(), d.counts()
(['3'], {'paired': 4, 'regressed': 2, 'improved': 1, 'unchanged': 1, 'only_a': 0, 'only_b': 0, 'unscored': 0})
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.evaluation.stats import Comparison, paired_scores

COLUMNS = ["item_id", "task", "input", "score_a", "score_b", "change", "cost_a", "cost_b",
           "input_changed"]


@dataclass(frozen=True)
class ItemDiff:
    """Matched items with both scores (``table``, sorted by change, most negative first) and
    what could not be paired."""

    label_a: str
    label_b: str
    table: pd.DataFrame  # COLUMNS; scored on both sides
    only_a: int  # items of A that B does not have
    only_b: int
    unscored: int  # matched items without a score on one side (not counted as a change)
    test: Comparison

    @property
    def regressions(self) -> pd.DataFrame:
        return self.table[self.table["change"] < 0].reset_index(drop=True)

    @property
    def improvements(self) -> pd.DataFrame:
        up = self.table[self.table["change"] > 0]
        return up.iloc[::-1].reset_index(drop=True)  # the table is ascending: largest gain first

    def counts(self) -> dict[str, int]:
        change = self.table["change"].to_numpy()
        return {"paired": len(change), "regressed": int((change < 0).sum()),
                "improved": int((change > 0).sum()), "unchanged": int((change == 0).sum()),
                "only_a": self.only_a, "only_b": self.only_b, "unscored": self.unscored}

    def summary_line(self) -> str:
        """One sentence: counts, the mean change with its interval, the test."""
        c, t = self.counts(), self.test
        if not c["paired"]:
            return f"No item is scored in both {self.label_a} and {self.label_b}."
        text = (f"{c['paired']:,} items scored in both: {c['regressed']:,} regressed, "
                f"{c['improved']:,} improved, {c['unchanged']:,} unchanged; mean change "
                f"{t.diff:+.3f} (95% {t.low:+.3f} to {t.high:+.3f}, {t.test} p = {t.p_value:.3g})")
        skipped = [f"{n:,} {what}" for n, what in ((c["only_a"], f"only in {self.label_a}"),
                                                   (c["only_b"], f"only in {self.label_b}"),
                                                   (c["unscored"], "unscored on one side")) if n]
        return text + (f"; not compared: {', '.join(skipped)}." if skipped else ".")


def diff_items(a: EvalSet, model_a: str, b: EvalSet, model_b: str,
               label_a: str = "A", label_b: str = "B") -> ItemDiff:
    """Model ``model_a`` of ``a`` against ``model_b`` of ``b``, item by item (vectorised)."""
    for evalset, model in ((a, model_a), (b, model_b)):
        if model not in evalset.models:
            raise InputError(f"{evalset.name} has no model {model!r}; it has "
                             f"{', '.join(evalset.models) or 'no model results'}")
    ids_a = a.items["item_id"].astype(str).to_numpy()
    ids_b = b.items["item_id"].astype(str).to_numpy()
    common, ia, ib = np.intersect1d(ids_a, ids_b, return_indices=True)
    sa = a.score[ia, a.model_index(model_a)]
    sb = b.score[ib, b.model_index(model_b)]
    both = ~np.isnan(sa) & ~np.isnan(sb)
    items = a.items.iloc[ia].reset_index(drop=True)

    def text(frame: pd.DataFrame, col: str, rows) -> np.ndarray:
        return (frame[col].astype(object).to_numpy()[rows] if col in frame
                else np.full(len(rows), None, dtype=object))

    input_a, input_b = text(a.items, "input", ia), text(b.items, "input", ib)
    table = pd.DataFrame({
        "item_id": common, "task": text(items, "task", np.arange(len(items))), "input": input_a,
        "score_a": sa, "score_b": sb, "change": sb - sa,
        "cost_a": a.cost[ia, a.model_index(model_a)], "cost_b": b.cost[ib, b.model_index(model_b)],
        "input_changed": pd.Series(input_a).fillna("").to_numpy() != pd.Series(input_b).fillna("").to_numpy(),
    })[both]
    table = table.sort_values(["change", "item_id"], kind="stable").reset_index(drop=True)
    return ItemDiff(label_a, label_b, table[COLUMNS], only_a=len(ids_a) - len(common),
                    only_b=len(ids_b) - len(common), unscored=int((~both).sum()),
                    test=paired_scores(sb, sa))
