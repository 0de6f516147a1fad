"""What a prompt alone says, before any model is called: the features of learned routers.

Three blocks, fitted on training prompts (fitting is unsupervised, so it may see every prompt):

* ``stats``: 13 cheap statistics (log lengths, line and option counts, spread of the options'
  lengths, shares of digits, capitals and maths symbols, question marks, negations, "of the
  above", words), standardised;
* ``tfidf``: word 1-2-grams, sublinear term frequency, at most 20,000 terms seen twice;
* ``wl``: the 256-d ``wordllama`` sentence embedding (:mod:`core.evaluation.embeddings`).

Text every prompt starts or ends with (a few-shot preamble, a fixed instruction) is cut first:
it tells prompts apart not at all. Blocks are combined as learners need them: ``tfidf+stats``
(stats weighted 0.3) and ``wl+stats`` (embedding x4, stats x0.3), so one regularisation
strength suits both parts.

>>> f = PromptFeatures(blocks=("stats",)).fit(["What is 2+2?\\nA) 3\\nB) 4", "Name a colour."])
>>> f.transform(["Is 7 prime?"])["stats"].shape
(1, 13)
>>> PromptFeatures.from_dict(f.to_dict()).transform(["Is 7 prime?"])["stats"].round(6).tolist() == \\
...     f.transform(["Is 7 prime?"])["stats"].round(6).tolist()
True
"""
from __future__ import annotations

import os
import re
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from core.evaluation.embeddings import embed
from core.evaluation.evalset import EvalSet
from core.routing.packing import pack, unpack

BLOCKS = ("stats", "tfidf", "wl")
FEATURE_SETS = ("stats", "tfidf", "tfidf+stats", "wl", "wl+stats")
STAT_NAMES = ("log_chars", "log_question_chars", "log_lines", "log_option_chars", "option_spread",
              "options", "digits", "capitals", "maths", "question_marks", "negation",
              "of_the_above", "words")
_OPTION = re.compile(r"(?m)^\s*\(?[A-Ea-e][\)\.:]\s+(.*)$")
_TFIDF = dict(sublinear_tf=True, ngram_range=(1, 2), lowercase=True, dtype=np.float32)


def prompt_texts(evalset: EvalSet) -> list[str]:
    """Each item's prompt (the ``input`` column; empty where there is none)."""
    if "input" not in evalset.items:
        return [""] * evalset.n_items
    col = evalset.items["input"]
    return col.astype(object).where(col.notna(), "").astype(str).tolist()


def template_ends(prefix: str, suffix: str) -> tuple[int, int]:
    """How much of a prefix and a (reversed) suffix that texts share is template, cut before their
    content is compared: the prefix up to its last word boundary, the suffix whole, each only
    when at least 20 characters long.

    >>> template_ends("Answer with one letter. Question: Wh", "")
    (34, 0)
    """
    pre = max(prefix.rfind("\n"), prefix.rfind(" ")) + 1 if len(prefix) >= 20 else 0
    return pre, len(suffix) if len(suffix) >= 20 else 0


def shared_ends(texts: list[str]) -> tuple[int, int]:
    """Lengths of the prefix (cut at a word boundary) and suffix every text shares, when at least
    20 characters long (:func:`template_ends`)."""
    values = [t for t in texts if t]
    if len(values) < 2:
        return 0, 0
    return template_ends(os.path.commonprefix(values), os.path.commonprefix([t[::-1] for t in values]))


def cut_ends(texts: list[str], prefix: str, suffix: str) -> list[str]:
    """The texts without the shared prefix and suffix (texts that lack them are kept whole)."""
    out = []
    for t in texts:
        if prefix and t.startswith(prefix):
            t = t[len(prefix):]
        if suffix and t.endswith(suffix):
            t = t[: len(t) - len(suffix)]
        out.append(t)
    return out


def prompt_stats(texts: list[str]) -> np.ndarray:
    """The 13 statistics of :data:`STAT_NAMES`, ``[n, 13]`` (vectorised with pandas)."""
    t = pd.Series(list(texts), dtype=object).fillna("").astype(str)
    n = t.str.len().clip(lower=1).astype(float)
    lines = t.str.count("\n") + 1
    lens = [[len(o) for o in _OPTION.findall(x)] for x in t]
    n_opt = np.array([len(L) for L in lens], float)
    mean_ol = np.array([sum(L) / len(L) if L else 0.0 for L in lens])
    std_ol = np.array([np.std(L) if L else 0.0 for L in lens])
    q = t.str.replace(_OPTION.pattern, "", regex=True).str.lower()
    cols = [np.log1p(n), np.log1p(q.str.len().astype(float)), np.log1p(lines), np.log1p(mean_ol),
            std_ol / (mean_ol + 1), n_opt, t.str.count(r"\d") / n, t.str.count(r"[A-Z]") / n,
            t.str.count(r"[+\-*/=^<>]") / n, t.str.count(r"\?"),
            q.str.contains(r" not |except| least ").astype(float),
            t.str.lower().str.contains("of the above", regex=False).astype(float),
            q.str.split().str.len().fillna(0) / 100.0]
    return np.column_stack([np.asarray(c, dtype=float) for c in cols]) if len(t) else np.zeros((0, 13))


class PromptFeatures:
    """Prompt features (see the module docstring); ``transform`` gives every feature set.

    Parameters: ``blocks`` (any of :data:`BLOCKS`), ``max_terms`` (TF-IDF vocabulary). Fitted:
    ``prefix_``, ``suffix_``, ``stats_mean_``, ``stats_scale_``, ``vocabulary_``, ``idf_``.
    """

    def __init__(self, blocks=BLOCKS, max_terms: int = 20_000):
        unknown = set(blocks) - set(BLOCKS)
        if unknown:
            raise ValueError(f"unknown feature blocks {sorted(unknown)}; known: {BLOCKS}")
        self.blocks = tuple(blocks)
        self.max_terms = int(max_terms)

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "stats_mean_")

    def fit(self, texts: list[str]) -> PromptFeatures:
        self.fit_transform(texts, only=("stats",))
        return self

    def fit_transform(self, texts: list[str], only=None) -> dict[str, Any]:
        """:meth:`fit`, then :meth:`transform` of the same texts, computing each block once."""
        texts = [str(t) for t in texts]
        pre, suf = shared_ends(texts)
        values = [t for t in texts if t]
        self.prefix_ = values[0][:pre] if pre else ""
        self.suffix_ = values[0][len(values[0]) - suf:] if suf else ""
        cut = cut_ends(texts, self.prefix_, self.suffix_)
        stats = prompt_stats(cut)
        self.stats_mean_ = stats.mean(axis=0) if len(stats) else np.zeros(13)
        scale = stats.std(axis=0) if len(stats) else np.ones(13)
        self.stats_scale_ = np.where(scale > 0, scale, 1.0)
        self.vocabulary_, self.idf_ = {}, np.zeros(0)
        self._vec = None
        wanted = set(only or FEATURE_SETS) | {"stats"}
        T = None
        if "tfidf" in self.blocks:
            from sklearn.feature_extraction.text import TfidfVectorizer

            vec = TfidfVectorizer(min_df=2 if len(cut) >= 20 else 1, max_features=self.max_terms,
                                  **_TFIDF)
            try:
                T = vec.fit_transform(cut).astype(np.float32)
            except ValueError:  # no usable words: the block is left out
                pass
            else:
                self.vocabulary_ = {t: int(i) for t, i in vec.vocabulary_.items()}
                self.idf_ = vec.idf_.astype(np.float64)
        wanted &= set(self.feature_sets)
        return self._blocks_of(cut, (stats - self.stats_mean_) / self.stats_scale_, wanted, T)

    @property
    def feature_sets(self) -> tuple[str, ...]:
        """Feature sets :meth:`transform` returns (TF-IDF only when a vocabulary was found)."""
        out = ["stats"]
        if "tfidf" in self.blocks and self.vocabulary_:
            out += ["tfidf", "tfidf+stats"]
        if "wl" in self.blocks:
            out += ["wl", "wl+stats"]
        return tuple(out)

    def transform(self, texts: list[str], only=None) -> dict[str, Any]:
        """``{feature set: matrix}`` for ``texts`` (``only``: the sets wanted, default all)."""
        wanted = set(only or self.feature_sets)
        cut = cut_ends([str(t) for t in texts], self.prefix_, self.suffix_)
        stats = (prompt_stats(cut) - self.stats_mean_) / self.stats_scale_
        return self._blocks_of(cut, stats, wanted, None)

    def _blocks_of(self, cut: list[str], stats: np.ndarray, wanted: set, T) -> dict[str, Any]:
        out: dict[str, Any] = {"stats": stats}
        if wanted & {"tfidf", "tfidf+stats"} and self.vocabulary_:
            if T is None:
                T = self._vectorizer().transform(cut).astype(np.float32)
            out["tfidf"] = T
            out["tfidf+stats"] = sp.hstack([T, sp.csr_matrix(stats * 0.3)], format="csr")
        if wanted & {"wl", "wl+stats"} and "wl" in self.blocks:
            E = embed(cut)
            out["wl"] = E
            out["wl+stats"] = np.hstack([E * 4.0, stats * 0.3])
        return {k: v for k, v in out.items() if k in wanted or k == "stats"}

    def _vectorizer(self):
        if getattr(self, "_vec", None) is None:
            from sklearn.feature_extraction.text import TfidfVectorizer

            vec = TfidfVectorizer(vocabulary=self.vocabulary_, **_TFIDF)
            vec.idf_ = self.idf_
            self._vec = vec
        return self._vec

    def to_dict(self) -> dict[str, Any]:
        terms = sorted(self.vocabulary_, key=self.vocabulary_.get)
        return {"blocks": list(self.blocks), "max_terms": self.max_terms, "prefix": self.prefix_,
                "suffix": self.suffix_, "stats_mean": [float(x) for x in self.stats_mean_],
                "stats_scale": [float(x) for x in self.stats_scale_], "terms": terms,
                "idf": pack(self.idf_)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PromptFeatures:
        f = cls(tuple(d.get("blocks", BLOCKS)), int(d.get("max_terms", 20_000)))
        f.prefix_, f.suffix_ = str(d.get("prefix", "")), str(d.get("suffix", ""))
        f.stats_mean_ = np.asarray(d["stats_mean"], dtype=float)
        f.stats_scale_ = np.asarray(d["stats_scale"], dtype=float)
        terms = list(d.get("terms", []))
        f.vocabulary_ = {t: i for i, t in enumerate(terms)}
        f.idf_ = unpack(d["idf"]) if d.get("idf") else np.zeros(0)
        if len(f.idf_) != len(terms):
            raise ValueError(f"{len(terms)} terms but {len(f.idf_)} idf weights")
        f._vec = None
        return f
