"""Item features for the learned signal and router: text, task and metadata as one sparse matrix.

>>> f = ItemFeatures().fit(es)   # no text: task one-hot, value_usd scaled, a length column
>>> f.transform(es).shape, sorted(f.state_["numeric"])
((4, 4), ['value_usd'])

``to_dict()``/``from_dict()`` carry the fitted vocabulary, idf weights, categories and scalers as
plain JSON, so a saved policy rebuilds exactly the same features.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from core.evaluation.evalset import EvalSet

_TEXT_OPTIONS = dict(sublinear_tf=True, ngram_range=(1, 2), lowercase=True, dtype=np.float64)
# Columns that would leak the answer into the features (RouterBench ships the oracle's choice).
_LEAKY_NAMES = ("oracle", "label", "score", "correct", "target", "answer", "gold")
_MAX_CATEGORIES = 30


# ---------------------------------------------------------------------------------------------
class ItemFeatures:
    """Item text (TF-IDF), task (one-hot), numeric metadata (standardized), small categorical
    metadata (one-hot) and the log length of the text, as one sparse matrix.

    Metadata columns that would give the answer away are never used: a name containing
    oracle/label/score/correct/target/answer/gold, or values that are model names.
    """

    def __init__(self, max_features: int = 4000):
        self.max_features = max_features
        self.state_: dict[str, Any] = {}  # fitted: vocabulary, idf, tasks, scalers, categories
        self.fitted_on_: EvalSet | None = None  # the eval set fitted on (lets signals share a fit)
        self._cache: dict[int, tuple[EvalSet, sp.csr_matrix]] = {}  # a few recent transforms

    @property
    def is_fitted(self) -> bool:
        return bool(self.state_)

    # -- fit -----------------------------------------------------------------------------------
    def fit(self, evalset: EvalSet) -> ItemFeatures:
        items = evalset.items
        state: dict[str, Any] = {"vocabulary": {}, "idf": [], "tasks": [], "numeric": {},
                                 "categorical": {}}
        text = _texts(items)
        state["prefix"], state["suffix"] = _shared_ends(text)
        text = _strip_ends(text, state["prefix"], state["suffix"])
        if (text.str.len() > 0).any():
            vec = TfidfVectorizer(max_features=self.max_features, min_df=2 if len(text) >= 20 else 1,
                                  **_TEXT_OPTIONS)
            try:
                vec.fit(text)
                state["vocabulary"] = {t: int(i) for t, i in vec.vocabulary_.items()}
                state["idf"] = [float(x) for x in vec.idf_]
            except ValueError:  # only stop words or single characters: no text features
                pass
        tasks = sorted(set(evalset.tasks.astype(str)))
        state["tasks"] = tasks if len(tasks) > 1 else []
        model_names = set(evalset.models)
        for col in evalset.metadata_columns:
            if any(word in col.lower() for word in _LEAKY_NAMES):
                continue
            values = items[col]
            numbers = pd.to_numeric(values, errors="coerce")
            present = values.notna() & (values.astype("string").str.strip() != "")
            if present.sum() == 0:
                continue
            if numbers[present].notna().mean() >= 0.9:
                mean = float(numbers.mean())
                std = float(numbers.std(ddof=0)) or 1.0
                if np.isfinite(mean):
                    state["numeric"][col] = [mean, std]
                continue
            cats = values[present].astype(str)
            distinct = sorted(cats.unique())
            if set(distinct) & model_names:
                continue  # e.g. "oracle_model_to_route_to": the answer, not a feature
            if 1 < len(distinct) <= _MAX_CATEGORIES:
                state["categorical"][col] = distinct
        self.state_ = state
        self.fitted_on_, self._cache, self._vec, self._rows = evalset, {}, None, None
        return self

    # -- transform -----------------------------------------------------------------------------
    def transform(self, evalset: EvalSet) -> sp.csr_matrix:
        hit = self._cache.get(id(evalset))
        if hit is not None and hit[0] is evalset:
            return hit[1]
        X = self._transform(evalset)
        if len(self._cache) >= 4:  # train and held-out rows of a fold, and a spare or two
            self._cache.pop(next(iter(self._cache)))
        self._cache[id(evalset)] = (evalset, X)
        return X

    def forget_items(self) -> None:
        """Drop the rows remembered from transformed items (keep the fitted state): a server
        featurizing one new request at a time calls this so memory does not grow with traffic."""
        self._cache, self._rows = {}, None

    def _transform(self, evalset: EvalSet) -> sp.csr_matrix:
        items = evalset.items
        n = len(items)
        state = self.state_
        blocks = []
        text = _strip_ends(_texts(items), state.get("prefix", ""), state.get("suffix", ""))
        if state["vocabulary"]:
            blocks.append(self._text_rows(text))
        blocks.append(sp.csr_matrix(np.log1p(text.str.len().to_numpy(dtype=float))[:, None] / 10.0))
        if state["tasks"]:
            blocks.append(_one_hot(evalset.tasks.astype(str), state["tasks"]))
        for col, (mean, std) in state["numeric"].items():
            vals = pd.to_numeric(items[col], errors="coerce").to_numpy(dtype=float) if col in items \
                else np.full(n, np.nan)
            z = np.nan_to_num((vals - mean) / std, nan=0.0)
            blocks.append(sp.csr_matrix(np.clip(z, -10, 10)[:, None]))
        for col, cats in state["categorical"].items():
            vals = items[col].astype(str).to_numpy() if col in items else np.full(n, "", dtype=object)
            blocks.append(_one_hot(vals, cats))
        return sp.hstack(blocks, format="csr")

    def _text_rows(self, text: pd.Series) -> sp.csr_matrix:
        """TF-IDF rows, each distinct text computed once (cross-validation re-slices the same
        items many times, and tokenizing is the slow part)."""
        known = getattr(self, "_rows", None)
        if known is None:
            known = self._rows = {"index": {}, "blocks": [], "matrix": None}
        index = known["index"]
        missing = [t for t in pd.unique(text) if t not in index]
        if missing:
            start = len(index)
            index.update({t: start + i for i, t in enumerate(missing)})
            known["blocks"].append(self._vectorizer().transform(missing))
            known["matrix"] = sp.vstack(known["blocks"], format="csr")
            known["blocks"] = [known["matrix"]]
        return known["matrix"][text.map(index).to_numpy(dtype=np.int64)]

    def _vectorizer(self) -> TfidfVectorizer:
        vec = getattr(self, "_vec", None)
        if vec is None:
            vec = TfidfVectorizer(vocabulary=self.state_["vocabulary"], **_TEXT_OPTIONS)
            vec.idf_ = np.asarray(self.state_["idf"], dtype=float)
            self._vec = vec
        return vec

    def to_dict(self) -> dict[str, Any]:
        return {"max_features": self.max_features, **self.state_}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ItemFeatures:
        f = cls(int(d.get("max_features", 4000)))
        f.state_ = {"vocabulary": {str(k): int(v) for k, v in d.get("vocabulary", {}).items()},
                   "idf": [float(x) for x in d.get("idf", [])],
                   "tasks": list(d.get("tasks", [])),
                   "numeric": {k: [float(a), float(b)] for k, (a, b) in d.get("numeric", {}).items()},
                   "categorical": {k: list(v) for k, v in d.get("categorical", {}).items()},
                   "prefix": str(d.get("prefix", "")), "suffix": str(d.get("suffix", ""))}
        return f


def _texts(items: pd.DataFrame) -> pd.Series:
    if "input" not in items:
        return pd.Series([""] * len(items), dtype=object)
    return items["input"].astype(object).where(items["input"].notna(), "").astype(str)


def _shared_ends(text: pd.Series) -> tuple[str, str]:
    """Text every item starts / ends with (e.g. a few-shot preamble): it tells items apart not at
    all and dominates the cost of featurizing, so it is cut (at a word boundary)."""
    values = [t for t in text if t]
    if len(values) < 2:
        return "", ""
    prefix = os.path.commonprefix(values)
    prefix = prefix[: max(prefix.rfind("\n"), prefix.rfind(" ")) + 1] if len(prefix) >= 20 else ""
    suffix = os.path.commonprefix([t[::-1] for t in values])[::-1]
    cut = min(suffix.find("\n") if "\n" in suffix else len(suffix), suffix.find(" ") if " " in suffix else len(suffix))
    suffix = suffix[cut:] if len(suffix) >= 20 else ""
    return prefix, suffix


def _strip_ends(text: pd.Series, prefix: str, suffix: str) -> pd.Series:
    if prefix:
        text = text.where(~text.str.startswith(prefix), text.str.slice(len(prefix)))
    if suffix:
        text = text.where(~text.str.endswith(suffix), text.str.slice(0, -len(suffix)))
    return text


def _one_hot(values: np.ndarray, categories: list[str]) -> sp.csr_matrix:
    index = {c: i for i, c in enumerate(categories)}
    cols = np.array([index.get(v, -1) for v in values], dtype=np.int64)
    rows = np.flatnonzero(cols >= 0)
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols[rows])), shape=(len(values), len(categories)))
