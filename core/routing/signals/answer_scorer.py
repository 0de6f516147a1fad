"""P(the answer is right | the question, the answer, cheap peers' votes): FrugalGPT's scorer.

Used inside a cascade, once the step's model has answered: whether its answer is right is far
easier to tell than whether it will be (ARC: AUC 0.60-0.66 from the answer against 0.55-0.62
from the prompt alone; 0.81-0.94 with the votes of two or three cheap peers). Features, per item:

* **votes**: 1 per panel model that concludes the same (:meth:`EvalSet.conclusions`: "The answer
  is (B)" and "b." agree), so cheap peers confirm or contradict the step's answer;
* **the answer given the question**: multiple choice: parsed or not, which letter, the chosen
  option's length against the others (longest, shortest), its word overlap with the question,
  "of the above", a numeric option, and wordllama cosines of the chosen option with the question
  and with the other options; free-form answers: parsed or not, length, lines (steps), a final
  number, whether it appears in the question, its magnitude against the question's numbers,
  word overlap and cosine with the question (not measured on real data here);
* **the prompt's statistics** (:func:`core.routing.signals.prompt_features.prompt_stats`).

One logistic regression (C = 0.1) per step model, measured by K-fold cross-validation (``oof_``,
``auc_``: out-of-fold AUC and its standard error), then refit on every row.

>>> import pandas as pd
>>> items = pd.DataFrame({"item_id": [str(i) for i in range(40)],
...                       "input": ["Pick one.\\nA) red\\nB) blue\\nC) green"] * 40})
>>> good = [["B", "B"] if i % 2 else ["A", "B"] for i in range(40)]
>>> es = EvalSet.from_arrays("t", ["small", "peer"], score=[[i % 2, 1] for i in range(40)],
...                          items=items, output=good)
>>> sig = AnswerScorer(["small"], panel=["peer"]).fit(es)
>>> sig.compare_, round(sig.auc_["small"][0], 2), sig.consulted(es, "small")
('choice', 1.0, ['peer'])
"""
from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from core.errors import InputError
from core.evaluation.answers import extract_number
from core.evaluation.embeddings import embed
from core.evaluation.evalset import EvalSet
from core.evaluation.intervals import roc_auc, signal_helps
from core.routing.packing import digest, pack, unpack
from core.routing.signals.base import Signal
from core.routing.signals.members import one_thread, sigmoid
from core.routing.signals.prompt_correctness import fold_indices
from core.routing.signals.prompt_features import PromptFeatures, prompt_texts

FORMAT = "tradeoff-answer-v1"
_OPTION_LINE = re.compile(r"^\s*\(?([A-E])[\)\.:]\s+(.*)$")
_WORD = re.compile(r"\w+")
_NUMBERS = re.compile(r"-?\d[\d,]*\.?\d*")


def split_question(prompt: str) -> tuple[str, dict[str, str]]:
    """The last question of a prompt and its options ``{letter: text}``.

    >>> split_question("Q1?\\nA) x\\n\\nWhich is blue?\\nA) sky\\nB) grass\\nAnswer:")
    ('Which is blue?', {'A': 'sky', 'B': 'grass'})
    """
    block = str(prompt).strip().split("\n\n")[-1]
    options, question = {}, []
    for line in block.split("\n"):
        found = _OPTION_LINE.match(line)
        if found:
            options[found.group(1)] = found.group(2).strip()
        elif not re.match(r"^(Print only|Answer:)", line.strip()):
            question.append(line)
    return " ".join(question).strip(), options


def _choice_features(prompts: list[str], keys) -> np.ndarray:
    rows, questions, chosen, others = [], [], [], []
    for prompt, key in zip(prompts, keys):
        question, options = split_question(prompt)
        lengths = {k: len(v) for k, v in options.items()} or {"A": 0}
        text = options.get(key, "") if key else ""
        mean_len = np.mean(list(lengths.values())) + 1
        qw, ow = set(_WORD.findall(question.lower())), set(_WORD.findall(text.lower()))
        rows.append([key is None, *(float(key == x) for x in "ABCD"), len(text) / mean_len,
                     float(key in lengths and lengths[key] == max(lengths.values())),
                     float(key in lengths and lengths[key] == min(lengths.values())),
                     len(qw & ow) / (len(ow) + 1), float("of the above" in text.lower()),
                     float(bool(re.fullmatch(r"[\d\.\s,%-]+\w{0,6}", text)))])
        questions.append(question)
        chosen.append(text or " ")
        others.append(" ".join(v for k, v in options.items() if k != key) or " ")
    Eq, Ec, Eo = embed(questions), embed(chosen), embed(others)
    cos_qc, cos_oc, cos_qo = (Eq * Ec).sum(1), (Eo * Ec).sum(1), (Eq * Eo).sum(1)
    return np.column_stack([np.asarray(rows, float).reshape(len(prompts), 11), cos_qc, cos_oc,
                            cos_qc - cos_qo])


def _free_features(prompts: list[str], answers, keys) -> np.ndarray:
    rows, questions, texts = [], [], []
    for prompt, answer, key in zip(prompts, answers, keys):
        question = str(prompt).strip().split("\n\n")[-1]
        text = "" if answer is None or answer != answer else str(answer)
        final = extract_number(text)
        q_numbers = [abs(float(x.replace(",", "").rstrip("."))) for x in _NUMBERS.findall(question)
                     if x.replace(",", "").rstrip(".").replace(".", "", 1).lstrip("-").isdigit()]
        value = abs(float(final)) if final is not None else 0.0
        scale = max(q_numbers) if q_numbers else 0.0
        qw, aw = set(_WORD.findall(question.lower())), set(_WORD.findall(text.lower()))
        rows.append([key is None, np.log1p(len(text)), np.log1p(text.count("\n")), final is not None,
                     float(final is not None and any(abs(value - q) < 1e-9 for q in q_numbers)),
                     np.log10(value + 1) - np.log10(scale + 1), len(qw & aw) / (len(aw) + 1)])
        questions.append(question)
        texts.append(text or " ")
    cos = (embed(questions) * embed(texts)).sum(1)
    return np.column_stack([np.asarray(rows, float).reshape(len(prompts), 7), cos])


class AnswerScorer(Signal):
    """Learned P(step model right | question, its answer, the panel's votes) (module docstring).

    Parameters: ``models`` (the step models it is trained for; None: every model but the
    panel), ``panel`` (models whose votes it reads: called with the step's model, paid for),
    ``compare`` (``choice``/``number``/``text``; None: detected from the eval set), ``C``,
    ``folds``, ``seed``. Fitted: ``compare_``, ``features_`` (prompt statistics), ``weights_``,
    ``oof_``, ``auc_`` (model -> (auc, se)), ``helps_``.
    """

    kind = "answer"

    def __init__(self, models=None, panel=(), compare: str | None = None, C: float = 0.1,
                 folds: int = 5, seed: int = 0):
        self.models = tuple(models) if models else None
        self.panel = tuple(panel or ())
        self.compare = compare
        self.C = float(C)
        self.folds = int(folds)
        self.seed = int(seed)
        self._cache: dict[tuple, tuple[EvalSet, np.ndarray]] = {}

    @property
    def is_fitted(self) -> bool:
        return bool(getattr(self, "weights_", None))

    def consulted(self, evalset: EvalSet, model: str) -> list[str]:
        return [m for m in self.panel if m != model]

    def models_consulted(self) -> tuple[str, ...]:
        return self.panel

    def label(self) -> str:
        votes = f" + votes of {', '.join(self.panel)}" if self.panel else ""
        return "learned P(correct | question, answer)" + votes

    # -- features ------------------------------------------------------------------------------
    def design(self, evalset: EvalSet, model: str, kind: str, features: PromptFeatures) -> np.ndarray:
        """The feature matrix of ``model``'s answers on ``evalset`` (module docstring)."""
        keys = evalset.conclusions(kind)
        j = evalset.model_index(model)
        own = keys[:, j]
        votes = [((keys[:, evalset.model_index(p)] == own) & ~pd.isna(own)).astype(float)
                 for p in self.consulted(evalset, model)]
        prompts = prompt_texts(evalset)
        if kind == "choice":
            answer = _choice_features(prompts, own)
        else:
            raw = np.where(pd.isna(evalset.prediction[:, j]), evalset.output[:, j], evalset.prediction[:, j])
            answer = _free_features(prompts, raw, own)
        stats = features.transform(prompts, only={"stats"})["stats"]
        return np.column_stack([*votes, answer, stats]) if votes else np.column_stack([answer, stats])

    # -- fit -------------------------------------------------------------------------------------
    def fit(self, evalset: EvalSet, folds=None) -> AnswerScorer:
        from sklearn.linear_model import LogisticRegression

        models = self.models or tuple(m for m in evalset.models if m not in self.panel)
        kind = self.compare or evalset.conclusion_kind
        if pd.isna(evalset.conclusions(kind)[:, [evalset.model_index(m) for m in models]]).all():
            raise InputError(f"{evalset.name} has no answers from {', '.join(models)}: the answer "
                             "scorer needs predictions or outputs")
        features = PromptFeatures(blocks=("stats",)).fit(prompt_texts(evalset))
        splits = folds if folds is not None else fold_indices(evalset.n_items, self.folds, self.seed)
        weights, oof, aucs, helps = {}, {}, {}, {}
        with one_thread():
            for m in models:
                X = self.design(evalset, m, kind, features)
                y = evalset.score[:, evalset.model_index(m)]
                p = np.full(len(y), np.nan)
                for train_idx, held_idx in splits:
                    coef, b = _fit_lr(X[train_idx], y[train_idx], self.C, LogisticRegression)
                    p[held_idx] = sigmoid(X[held_idx] @ coef + b)
                oof[m], weights[m] = p, _fit_lr(X, y, self.C, LogisticRegression)
                aucs[m] = roc_auc(y, p)
                helps[m] = signal_helps(*aucs[m])
        self.compare_, self.features_, self.weights_ = kind, features, weights
        self.oof_, self.auc_, self.helps_ = oof, aucs, helps
        self._cache = {}
        return self

    def scores(self, evalset: EvalSet, model: str) -> np.ndarray:
        if not self.is_fitted:
            raise InputError("The answer scorer is not fitted yet: fit it on a labeled eval set")
        if model not in self.weights_:
            raise InputError(f"The answer scorer was not trained for model '{model}'; it knows "
                             f"{', '.join(self.weights_)}")
        hit = self._cache.get((id(evalset), model))
        if hit is None or hit[0] is not evalset:
            coef, b = self.weights_[model]
            X = self.design(evalset, model, self.compare_, self.features_)
            hit = (evalset, sigmoid(X @ coef + b))
            self._cache[(id(evalset), model)] = hit
            if len(self._cache) > 8:
                self._cache.pop(next(iter(self._cache)))
        return hit[1]

    # -- JSON ------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        spec = {"kind": self.kind, "fit_models": list(self.models) if self.models else None,
                "panel": list(self.panel), "compare": self.compare, "C": self.C,
                "folds": self.folds, "seed": self.seed}
        if not self.is_fitted:
            return spec
        body = {"compare_used": self.compare_, "features": self.features_.to_dict(),
                "weights": {m: {"coef": pack(c), "intercept": b} for m, (c, b) in self.weights_.items()},
                "auc": {m: list(v) for m, v in self.auc_.items()}, "helps": self.helps_}
        return {**spec, "format": FORMAT, "sha256": digest(body), **body}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AnswerScorer:
        sig = cls(d.get("fit_models"), d.get("panel") or (), d.get("compare"), d.get("C", 0.1),
                  d.get("folds", 5), d.get("seed", 0))
        if "weights" not in d:
            return sig
        if d.get("format") != FORMAT:
            raise InputError(f"Answer scorer in unknown format {d.get('format')!r}; this release "
                             f"reads {FORMAT!r}")
        body = {k: d[k] for k in ("compare_used", "features", "weights", "auc", "helps")}
        if d.get("sha256") and d["sha256"] != digest(body):
            raise InputError("The answer scorer's numbers do not match its sha256: the policy file "
                             "was edited or damaged; fit it again")
        sig.compare_ = d["compare_used"]
        sig.features_ = PromptFeatures.from_dict(d["features"])
        sig.weights_ = {m: (unpack(v["coef"]), float(v["intercept"])) for m, v in d["weights"].items()}
        sig.auc_ = {m: tuple(v) for m, v in d["auc"].items()}
        sig.helps_ = {m: bool(v) for m, v in d["helps"].items()}
        return sig


def _fit_lr(X: np.ndarray, y: np.ndarray, C: float, LogisticRegression) -> tuple[np.ndarray, float]:
    rows = np.flatnonzero(~np.isnan(y))
    yy = (y[rows] >= 0.5).astype(int)
    if len(yy) == 0 or yy.min() == yy.max():
        rate = float(np.clip(yy.mean() if len(yy) else 0.5, 1e-4, 1 - 1e-4))
        return np.zeros(X.shape[1]), float(np.log(rate / (1 - rate)))
    clf = LogisticRegression(C=C, max_iter=1000).fit(X[rows], yy)
    return clf.coef_[0].astype(float), float(clf.intercept_[0])
