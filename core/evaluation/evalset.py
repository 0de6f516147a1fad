"""Eval sets: items × models, as aligned numpy arrays.

Three CSV layouts load into the same :class:`EvalSet` (see DESIGN.md):

* **long**: one row per (item, model): ``item_id, model`` plus any of ``input, task, label,
  reference, output, prediction, score, confidence, input_tokens, output_tokens,
  cached_input_tokens, cost_usd, latency_ms``; other columns become item metadata;
* **wide** (RouterBench): one row per item; per model ``M`` (score), ``M|model_response``,
  ``M|total_cost`` and any ``M|<field>``;
* **inputs only**: ``input`` (+ ``item_id, label, reference, task``, metadata) and no model
  columns.

``reference`` is the expected answer of an open-ended item (what scorers such as similarity,
chrF or an LLM judge compare an output with); ``label`` is a class.

>>> from core.evaluation.loading import load_csv
>>> es = load_csv("tests/data/tiny_long.csv")
>>> es.models, es.score.shape
(('big', 'small'), (3, 2))

Missing scores stay NaN (never zeros); every array is ``[n_items, n_models]``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import pandas as pd

from core.errors import InputError
from core.evaluation.answers import answer_matrix, conclusion_kind, conclusions
from core.exports import csv_bytes

ITEM_COLUMNS = ("item_id", "input", "task", "label", "reference")
NUMERIC_FIELDS = ("score", "confidence", "input_tokens", "output_tokens", "cached_input_tokens",
                  "cost_usd", "latency_ms")
TEXT_FIELDS = ("prediction", "output")
LONG_FIELDS = NUMERIC_FIELDS + TEXT_FIELDS
# Fields that describe the item, not one model's answer: repeated on every long row.
RESERVED = set(ITEM_COLUMNS) | {"model"} | set(LONG_FIELDS)



@dataclass(frozen=True, eq=False)
class EvalSet:
    """A labeled eval set: items and, per model, aligned arrays ``[n_items, n_models]``."""

    name: str
    items: pd.DataFrame  # item_id, input, task, label, reference (+ metadata), row i = item i
    models: tuple[str, ...]
    score: np.ndarray  # 0..1, NaN = missing
    cost: np.ndarray  # USD per call, NaN = unknown
    latency_ms: np.ndarray
    confidence: np.ndarray  # NaN when the model gave none
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    cached_input_tokens: np.ndarray
    prediction: np.ndarray  # object: normalized answer / label predicted (None = none)
    output: np.ndarray  # object: raw text (None = none)
    format: str = "long"  # long | wide | inputs
    cost_source: dict[str, str] = field(default_factory=dict)  # model -> reported|catalog|unknown
    synthetic: bool = False
    notes: tuple[str, ...] = ()  # things the loader noticed and the user should know

    # -- shape -------------------------------------------------------------------------------
    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_models(self) -> int:
        return len(self.models)

    @property
    def metadata_columns(self) -> list[str]:
        return [c for c in self.items.columns if c not in ITEM_COLUMNS]

    @property
    def has_labels(self) -> bool:
        return "label" in self.items and self.items["label"].notna().any()

    @property
    def has_references(self) -> bool:
        return "reference" in self.items and self.items["reference"].notna().any()

    @property
    def tasks(self) -> np.ndarray:
        """Task per item ('all' where the file named none)."""
        if "task" not in self.items:
            return np.full(self.n_items, "all", dtype=object)
        return self.items["task"].fillna("all").astype(object).to_numpy()

    def model_index(self, model: str) -> int:
        try:
            return self.models.index(model)
        except ValueError:
            raise InputError(
                f"Unknown model '{model}': this eval set has {', '.join(self.models) or 'no models'}"
            ) from None

    def select(self, models: list[str] | tuple[str, ...] | None = None,
               rows: np.ndarray | None = None) -> EvalSet:
        """A view on some models and/or rows (an index or boolean mask), arrays aligned."""
        cols = [self.model_index(m) for m in models] if models is not None else slice(None)
        r = slice(None) if rows is None else rows
        arrays = {f: getattr(self, f)[r][:, cols] for f in MATRIX_FIELDS}
        items = self.items if rows is None else self.items.iloc[rows].reset_index(drop=True)
        chosen = tuple(self.models[i] for i in cols) if models is not None else self.models
        return replace(self, items=items, models=chosen,
                       cost_source={m: self.cost_source.get(m, "unknown") for m in chosen}, **arrays)

    # -- what every consumer asks of the arrays, computed once per eval set ------------------
    @cached_property
    def answer_keys(self) -> np.ndarray:
        """Comparable answers ``[n, m]`` under the one normalisation rule
        (:mod:`core.evaluation.answers`): the prediction, else the output text; None = none."""
        return answer_matrix(self.prediction, self.output)

    @cached_property
    def conclusion_kind(self) -> str:
        """How this set's answers conclude (``choice``, ``number`` or ``text``; see
        :func:`core.evaluation.answers.conclusion_kind`), detected from its prompts and answers."""
        prompts = self.items["input"].dropna().astype(str).tolist() if "input" in self.items else []
        return conclusion_kind(prompts, self._answer_texts)

    def conclusions(self, kind: str | None = None) -> np.ndarray:
        """What each answer concludes ``[n, m]`` (the prediction, else the output, read by
        :func:`core.evaluation.answers.conclusions`; None = none): "The answer is (B)" and "b."
        both conclude ``B``. ``kind`` defaults to :attr:`conclusion_kind`; cached per kind."""
        kind = kind or self.conclusion_kind
        cache = self.__dict__.setdefault("_conclusions", {})
        if kind not in cache:
            cache[kind] = conclusions(self._answer_texts, kind)
        return cache[kind]

    @cached_property
    def _answer_texts(self) -> np.ndarray:
        return np.where(pd.isna(self.prediction), self.output, self.prediction)

    @cached_property
    def model_stats(self) -> pd.DataFrame:
        """Per model (index, in eval-set order): ``quality`` (mean score over scored items),
        ``scored``, ``cost_per_item`` (mean over items whose cost is known: a call is paid
        even when its answer is not scored), ``priced`` and ``has_confidence``.

        >>> EvalSet.from_arrays("t", ["a", "b"], score=[[1, 0], [0, np.nan]],
        ...                     cost=[[1, 2], [3, 4]]).model_stats.to_dict("index")["b"]
        {'quality': 0.0, 'scored': 1, 'cost_per_item': 3.0, 'priced': 2, 'has_confidence': False}
        """
        quality, scored = column_means(self.score)
        cost, priced = column_means(self.cost)
        return pd.DataFrame({"quality": quality, "scored": scored.astype(int),
                             "cost_per_item": cost, "priced": priced.astype(int),
                             "has_confidence": (~np.isnan(self.confidence)).any(axis=0)},
                            index=pd.Index(self.models, name="model"))

    @property
    def cost_order(self) -> tuple[str, ...]:
        """Models from cheapest to dearest mean cost per item (unknown cost last; ties by name)."""
        cost = self.model_stats["cost_per_item"].fillna(np.inf)
        return tuple(sorted(self.models, key=lambda m: (cost[m], m)))

    @property
    def quality_order(self) -> tuple[str, ...]:
        """Models from best to worst quality (unscored last; ties: the cheaper first)."""
        stats = self.model_stats
        quality = stats["quality"].fillna(-1.0)
        cost = stats["cost_per_item"].fillna(np.inf)
        return tuple(sorted(self.models, key=lambda m: (-quality[m], cost[m], m)))

    @classmethod
    def from_arrays(cls, name: str, models, *, score, cost=None, items: pd.DataFrame | None = None,
                    **arrays) -> EvalSet:
        """An eval set from ``[n, m]`` arrays (missing fields are NaN/None), e.g. in tests."""
        score = np.asarray(score, dtype=float)
        n, m = score.shape
        filled = {"score": score, "cost": np.full((n, m), np.nan) if cost is None
                  else np.asarray(cost, dtype=float)}
        for f in MATRIX_FIELDS:
            if f in filled:
                continue
            if f in arrays:
                filled[f] = np.asarray(arrays[f], dtype=object if f in TEXT_FIELDS else float)
            else:
                filled[f] = (np.full((n, m), None, dtype=object) if f in TEXT_FIELDS
                             else np.full((n, m), np.nan))
        if items is None:
            items = pd.DataFrame({"item_id": [str(i) for i in range(1, n + 1)]})
        return cls(name=name, items=items.reset_index(drop=True), models=tuple(models), **filled)

    def missing_scores(self) -> dict[str, int]:
        """Items without a score, per model (shown, never silently zero)."""
        return {m: int(np.isnan(self.score[:, j]).sum()) for j, m in enumerate(self.models)}

    def to_long_frame(self) -> pd.DataFrame:
        """The canonical long layout (one row per item × model), e.g. for download or storage."""
        n, m = self.score.shape
        idx = np.repeat(np.arange(n), m)
        frame = pd.DataFrame({"idx": idx, "model": np.tile(np.array(self.models, dtype=object), n)})
        for f in MATRIX_FIELDS:
            frame[_LONG_NAME.get(f, f)] = getattr(self, f).reshape(-1)
        return frame


def column_means(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean over non-NaN values, count of non-NaN values) of every column; NaN for none.

    >>> column_means(np.array([[1.0, np.nan], [0.0, np.nan]]))
    (array([0.5, nan]), array([2, 0]))
    """
    values = np.asarray(values, dtype=float)
    known = ~np.isnan(values)
    counts = known.sum(axis=0)
    sums = np.where(known, values, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return means, counts


MATRIX_FIELDS = ("score", "cost", "latency_ms", "confidence", "input_tokens", "output_tokens",
                 "cached_input_tokens", "prediction", "output")
_LONG_NAME = {"cost": "cost_usd"}  # array field -> long-format column


def from_long_frame(frame: pd.DataFrame, items: pd.DataFrame, name: str, **kw) -> EvalSet:
    """Build an EvalSet from an ``idx, model, <fields>`` frame and an items frame (row = idx).

    Used by the workspace store and the live runner; values are already typed.
    """
    n = len(items)
    model_codes, model_names = pd.factorize(frame["model"], sort=True)
    idx = frame["idx"].to_numpy(dtype=np.int64)
    m = len(model_names)
    arrays = {}
    for f in MATRIX_FIELDS:
        col = _LONG_NAME.get(f, f)
        if f in TEXT_FIELDS:
            out = np.full((n, m), None, dtype=object)
            if col in frame:
                out[idx, model_codes] = frame[col].astype(object).where(frame[col].notna(), None).to_numpy()
        else:
            out = np.full((n, m), np.nan)
            if col in frame:
                out[idx, model_codes] = frame[col].to_numpy(dtype=float, na_value=np.nan)
        arrays[f] = out
    return EvalSet(name=name, items=items.reset_index(drop=True),
                   models=tuple(str(x) for x in model_names), **arrays, **kw)


def to_long_csv(evalset: EvalSet) -> bytes:
    """The eval set as a long-layout CSV (inputs-only sets: their items) that :func:`load_csv`
    reads back to the same arrays. Pairs with nothing recorded are left out, as on load.

    >>> copy = load_csv(to_long_csv(es), name="copy.csv")
    >>> copy.models == es.models, np.array_equal(copy.score, es.score)
    (True, True)
    """
    items = evalset.items.reset_index(drop=True)
    if evalset.n_models == 0:
        return csv_bytes(items)
    long = evalset.to_long_frame()
    numeric = long[[_LONG_NAME.get(f, f) for f in MATRIX_FIELDS if f not in TEXT_FIELDS]]
    recorded = numeric.notna().any(axis=1) | long["prediction"].notna() | long["output"].notna()
    long = long[recorded.to_numpy()]
    item_cols = [c for c in items.columns if c != "item_id"]
    out = pd.concat([
        pd.DataFrame({"item_id": items["item_id"].to_numpy(dtype=object)[long["idx"].to_numpy()],
                      "model": long["model"].to_numpy()}),
        items[item_cols].iloc[long["idx"].to_numpy()].reset_index(drop=True),
        long.drop(columns=["idx", "model"]).reset_index(drop=True),
    ], axis=1)
    # Catalog-priced costs are written out as reported costs: the file then stands on its own.
    # Text a spreadsheet would run (an output '=HYPERLINK(...)') is written with a leading quote.
    return csv_bytes(out)

