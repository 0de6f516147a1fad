"""P(a model answers right), from the prompt alone: the signal of routers that decide before any call.

Per model, an equal-weight average of several learners on several prompt feature sets
(:mod:`core.routing.signals.prompt_features`, :mod:`core.routing.signals.members`):

=============  ==========================================================================
stats / hgb    gradient boosting on the 13 prompt statistics
stats / knn    neighbours on the statistics
tfidf / lr     logistic regression on word 1-2-grams
tfidf+stats    logistic regression on both
wl / lr        logistic regression on the wordllama embedding
wl / knn       neighbours on the embedding
wl+stats / lr  logistic regression on both
=============  ==========================================================================

``fit`` measures every member and the average by K-fold cross-validation on the same folds
(``oof_``: each row predicted by members fitted without it), then refits every member on all
rows; new rows are scored by the average of the refits. The average, not the member with the
best out-of-fold AUC: picking the best of several on the same rows flattered it (out-of-fold AUC
0.612 against 0.577 on unseen ARC rows) while the plain average held (0.579 against 0.578) and
ranked as well on MMLU. A model's P(correct) is used only where its out-of-fold AUC is above 0.5
beyond noise (:func:`core.evaluation.intervals.signal_helps`); elsewhere it is the model's
training rate (``helps_``), and ``auc_`` shows every member's AUC and the average's, with its
standard error, beside the signal.

>>> import pandas as pd
>>> items = pd.DataFrame({"item_id": [str(i) for i in range(40)],
...                       "input": ["easy question number %d" % i if i % 2 else "hard proof of theorem %d" % i
...                                 for i in range(40)]})
>>> es = EvalSet.from_arrays("t", ["small"], score=[[i % 2] for i in range(40)], items=items)
>>> sig = PromptCorrectness(members=(("tfidf", "lr"),)).fit(es)
>>> sig.helps_["small"], round(sig.auc_["small"]["auc"], 2)
(True, 1.0)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.evaluation.intervals import roc_auc, signal_helps
from core.routing.packing import digest
from core.routing.signals.base import Signal
from core.routing.signals.members import make_member, member_from_dict, one_thread
from core.routing.signals.prompt_features import PromptFeatures, prompt_texts

FORMAT = "tradeoff-prompt-v1"
DEFAULT_MEMBERS = (("stats", "hgb"), ("stats", "knn"), ("tfidf", "lr"), ("tfidf+stats", "lr"),
                   ("wl", "lr"), ("wl", "knn"), ("wl+stats", "lr"))


def fold_indices(n: int, folds: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """The K-fold split every out-of-fold prediction of one fit shares (shuffled, seeded)."""
    from sklearn.model_selection import KFold

    k = int(min(folds, n))
    if k < 2:
        raise InputError(f"Cross-validation needs at least 2 items; got {n}")
    return list(KFold(k, shuffle=True, random_state=seed).split(np.arange(n)))


def _blocks(members) -> tuple[str, ...]:
    names = {f for f, _ in members}
    out = ["stats"]
    if names & {"tfidf", "tfidf+stats"}:
        out.append("tfidf")
    if names & {"wl", "wl+stats"}:
        out.append("wl")
    return tuple(out)


class PromptCorrectness(Signal):
    """P(model right | prompt), averaged over ``members`` ((feature set, learner) pairs).

    Parameters: ``models`` (None: every scored model of the eval set), ``members``, ``folds``,
    ``seed``. Fitted: ``features_``, ``members_`` (refit on all rows), ``oof_`` ([n, models]
    out-of-fold average, training rows only, not saved), ``member_oof_``, ``auc_``, ``helps_``,
    ``rate_``, ``models_``.
    """

    kind = "prompt"

    def __init__(self, models=None, members=DEFAULT_MEMBERS, folds: int = 5, seed: int = 0):
        self.models = tuple(models) if models else None
        self.members = tuple((str(f), str(lrn)) for f, lrn in members)
        self.folds = int(folds)
        self.seed = int(seed)
        self._cache: dict[int, tuple[EvalSet, np.ndarray]] = {}

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "members_")

    # -- fit -------------------------------------------------------------------------------------
    def fit(self, evalset: EvalSet, folds=None) -> PromptCorrectness:
        """Out-of-fold predictions and AUCs on ``evalset``, then refits on all its rows.
        ``folds``: a precomputed split (:func:`fold_indices`) to share with other signals."""
        models = self.models or tuple(m for m in evalset.models
                                      if (~np.isnan(evalset.score[:, evalset.model_index(m)])).any())
        if evalset.n_items < 4:
            raise InputError(f"{evalset.name}: learning P(correct) from prompts needs at least 4 items")
        with one_thread():
            self._fit(evalset, models, folds)
        return self

    def _fit(self, evalset: EvalSet, models: tuple[str, ...], folds) -> None:
        cols = [evalset.model_index(m) for m in models]
        texts = prompt_texts(evalset)
        features = PromptFeatures(blocks=_blocks(self.members))
        F = features.fit_transform(texts)
        Y = evalset.score[:, cols].astype(float)
        splits = folds if folds is not None else fold_indices(evalset.n_items, self.folds, self.seed)
        member_oof, fitted = {}, []
        for fs, learner in self.members:
            if fs not in F:  # e.g. no TF-IDF vocabulary on a set without words
                continue
            X = F[fs]
            P = np.full(Y.shape, np.nan)
            for train_idx, held_idx in splits:
                P[held_idx] = make_member(learner).fit(X[train_idx], Y[train_idx]).predict(X[held_idx])
            member_oof[(fs, learner)] = P
            fitted.append((fs, learner, make_member(learner).fit(X, Y)))
        if not fitted:
            raise InputError(f"{evalset.name}: no prompt feature could be computed")
        oof = np.mean(list(member_oof.values()), axis=0)
        self.models_, self.features_, self.members_ = tuple(models), features, fitted
        self.oof_, self.member_oof_ = oof, member_oof
        self._train = (evalset, F)  # the training rows' features: scoring them again reuses them
        self.auc_, self.helps_, self.rate_ = {}, {}, {}
        for j, m in enumerate(models):
            auc, se = roc_auc(Y[:, j], oof[:, j])
            self.auc_[m] = {"auc": auc, "se": se, "members": {
                f"{fs}/{lrn}": roc_auc(Y[:, j], P[:, j])[0] for (fs, lrn), P in member_oof.items()}}
            self.helps_[m] = signal_helps(auc, se)
            self.rate_[m] = float(np.nanmean(Y[:, j])) if (~np.isnan(Y[:, j])).any() else 0.5
        self._cache = {}

    # -- scores --------------------------------------------------------------------------------
    def oof(self, model: str) -> np.ndarray:
        """Out-of-fold P(correct) of ``model`` on the training rows (its rate where it does not help)."""
        j = self._column(model)
        return self.oof_[:, j] if self.helps_[model] else np.full(len(self.oof_), self.rate_[model])

    def probabilities(self, evalset: EvalSet, models) -> np.ndarray:
        """P(correct) [n, len(models)] from the refit members (rate where the signal does not help)."""
        self.check_fitted()
        hit = self._cache.get(id(evalset))
        if hit is None or hit[0] is not evalset:
            F = self._features(evalset)
            P = np.mean([m.predict(F[fs]) for fs, _, m in self.members_], axis=0)
            self._cache = {id(evalset): (evalset, P)}
            hit = self._cache[id(evalset)]
        P = hit[1]
        out = [P[:, self._column(m)] if self.helps_[m] else np.full(evalset.n_items, self.rate_[m])
               for m in models]
        return np.column_stack(out) if out else np.zeros((evalset.n_items, 0))

    def _features(self, evalset: EvalSet) -> dict[str, Any]:
        """The members' feature sets of ``evalset`` (the training rows': those of ``fit``)."""
        train = getattr(self, "_train", None)
        if train is not None and train[0] is evalset:
            return train[1]
        return self.features_.transform(prompt_texts(evalset), only={fs for fs, _, _ in self.members_})

    def scores(self, evalset: EvalSet, model: str) -> np.ndarray:
        return self.probabilities(evalset, [model])[:, 0]

    def check_fitted(self) -> None:
        if not self.is_fitted:
            raise InputError("The prompt signal is not fitted yet: fit it on a labeled eval set")

    def _column(self, model: str) -> int:
        self.check_fitted()
        if model not in self.models_:
            raise InputError(f"The prompt signal was not trained for model '{model}'; it knows "
                             f"{', '.join(self.models_)}")
        return self.models_.index(model)

    def label(self) -> str:
        return "learned P(correct) from the prompt (TF-IDF, wordllama, statistics)"

    def restricted(self, models) -> PromptCorrectness:
        """The same fitted signal keeping only ``models`` (a smaller saved policy)."""
        cols = [self._column(m) for m in models]
        sig = PromptCorrectness(models, self.members, self.folds, self.seed)
        sig.models_, sig.features_ = tuple(models), self.features_
        sig.members_ = [(fs, lrn, m.restricted(cols)) for fs, lrn, m in self.members_]
        sig.auc_ = {m: self.auc_[m] for m in models}
        sig.helps_ = {m: self.helps_[m] for m in models}
        sig.rate_ = {m: self.rate_[m] for m in models}
        return sig

    # -- JSON ------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        spec = {"kind": self.kind, "fit_models": list(self.models) if self.models else None,
                "members": [list(x) for x in self.members], "folds": self.folds, "seed": self.seed}
        if not self.is_fitted:
            return spec
        body = {"models": list(self.models_), "features": self.features_.to_dict(),
                "fitted": [{"features": fs, **m.to_dict()} for fs, _, m in self.members_],
                "helps": self.helps_, "rate": self.rate_,
                "auc": {m: {"auc": a["auc"], "se": a["se"], "members": a["members"]}
                        for m, a in self.auc_.items()}}
        return {**spec, "format": FORMAT, "sha256": digest(body), **body}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PromptCorrectness:
        sig = cls(d.get("fit_models"), d.get("members") or DEFAULT_MEMBERS, d.get("folds", 5),
                  d.get("seed", 0))
        if "fitted" not in d:
            return sig
        if d.get("format") != FORMAT:
            raise InputError(f"Prompt signal in unknown format {d.get('format')!r}; this release "
                             f"reads {FORMAT!r}")
        body = {k: d[k] for k in ("models", "features", "fitted", "helps", "rate", "auc")}
        if d.get("sha256") and d["sha256"] != digest(body):
            raise InputError("The prompt signal's numbers do not match its sha256: the policy file "
                             "was edited or damaged; fit it again")
        sig.models_ = tuple(d["models"])
        sig.features_ = PromptFeatures.from_dict(d["features"])
        sig.members_ = [(x["features"], x["learner"], member_from_dict(x)) for x in d["fitted"]]
        sig.helps_ = {m: bool(v) for m, v in d["helps"].items()}
        sig.rate_ = {m: float(v) for m, v in d["rate"].items()}
        sig.auc_ = {m: dict(v) for m, v in d["auc"].items()}
        return sig
