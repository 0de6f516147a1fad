"""Tables that show why scores are what they are: disagreements between models with each
scorer's reading (a judge's reason, an extracted choice) beside the outputs, and the answers
where a judge and the human scores disagree.

>>> from core.evaluation.rescore import apply_parts, score_task
>>> from core.evaluation.scorers import parse_scorer
>>> scored = apply_parts(es, [score_task(None, es, parse_scorer("exact"))])
>>> list(model_disagreements(scored, ["big", "small"]).columns[-2:])
['small score', 'small reads']
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from core.evaluation.metrics import disagreements
from core.evaluation.rescore import JUDGE_KIND, Rescored
from core.evaluation.scorers import model_texts
from core.evaluation.trust import PASS_AT


def model_disagreements(scored: Rescored, models, limit: int | None = 200) -> pd.DataFrame:
    """:func:`core.evaluation.metrics.disagreements` on the scored eval set, with what the scorer
    read of each answer (``"<model> reads"``: the judge's reason, the extracted choice...)."""
    table = disagreements(scored.evalset, list(models), limit=limit)
    if table.empty:
        return table
    index = pd.Series(np.arange(scored.evalset.n_items),
                      index=scored.evalset.items["item_id"].astype(str))
    rows = index.loc[table["item_id"].astype(str)].to_numpy()
    detail = scored.detail
    out = table.copy()
    for model in models:
        j = scored.evalset.model_index(model)
        position = out.columns.get_loc(f"{model} score") + 1
        out.insert(position, f"{model} reads", detail[rows, j])
    out.attrs["total"] = table.attrs.get("total", len(table))
    return out


def judge_disagreements(scored: Rescored, limit: int = 200) -> pd.DataFrame:
    """Answers a judge passed and the file's score failed, or the reverse: the output, both
    scores and the judge's reason."""
    frames = []
    es, original = scored.evalset, scored.original
    texts = model_texts(original)
    for part in scored.parts:
        if part.kind != JUDGE_KIND:
            continue
        human, judge = original.score, part.scores.score
        both = part.rows[:, None] & ~np.isnan(human) & ~np.isnan(judge)
        differ = both & ((human >= PASS_AT) != (judge >= PASS_AT))
        for i, j in zip(*np.nonzero(differ)):
            frames.append({"item_id": es.items["item_id"].iloc[i], "task": es.tasks[i],
                           "input": es.items["input"].iloc[i] if "input" in es.items else None,
                           "reference": es.items["reference"].iloc[i] if "reference" in es.items else None,
                           "model": es.models[j], "output": texts[i, j], "human score": human[i, j],
                           "judge score": judge[i, j], "judge's reason": part.scores.detail[i, j]})
    table = pd.DataFrame(frames, columns=["item_id", "task", "input", "reference", "model", "output",
                                          "human score", "judge score", "judge's reason"])
    table.attrs["total"] = len(table)
    return table.head(limit)
