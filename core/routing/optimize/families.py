"""The policy families the optimizer weighs, each reduced to a two-action problem per row.

On every training row a family either KEEPS the cheap answer or ESCALATES, and both actions'
outcomes (score, cost, whether the share model is called) are known from the eval set. A per-row
score ``z`` ranks the rows (higher = keep); it is *out-of-fold* for learned signals (each row
scored by learners fitted without it), so the family's whole frontier on its training rows is
honest per row (:mod:`core.routing.optimize.menu`).

====================================  ==================  =====================  ==========================
family                                KEEP                ESCALATE               z
====================================  ==================  =====================  ==========================
single model m                        m                   m                      (one point)
task table (per lambda)               table's model       table's model          (one point each)
cascade a -> b, self-confidence       a                   a, then b              a's stated confidence
router a -> b (prompt only)           a                   b                      (P_a - P_b) / (c_b - c_a)
cascade a (+ panel P) -> b, agreement a, P                a, P, then b           share of P agreeing with a
cascade a (+ panel P) -> b, learned   a, P                a, P, then b           P(a right | answer, votes)
====================================  ==================  =====================  ==========================

Which are built: every scored model alone; the Pareto-front models (and the goal's model)
paired cheap -> dear, at most six pairs, pairs into the strongest (or the goal's) model first;
panels: none and every 1-3 of the four best models costing at most twice ``a``; with several
tasks, the per-task tables that maximise quality - lambda x cost (each table chosen on the other
folds for the held-out rows, :func:`task_tables`). A learned
signal whose out-of-fold AUC is not above 0.5 beyond noise is dropped (a router then ranks by
predicted cost alone: still a family; the frontier decides whether it helps). Unknown costs are
taken at the model's mean cost for choosing (the policy's own figures leave them unknown).
"""
from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.routing.policies import Cascade, Policy, SingleModel
from core.routing.signals import Agreement

MAX_PAIRS = 6
MAX_PEERS = 4


@dataclass
class Arm:
    """One action's per-row outcome: score (NaN = not scored), cost, share-model call (0/1),
    the eval-set columns it calls (``tried``: per row, for a table), and whether it is an
    escalation (per row for a hybrid table)."""

    score: np.ndarray
    cost: np.ndarray
    share: np.ndarray
    cols: tuple[int, ...]
    escalated: bool | np.ndarray = False  # per row where it differs by row (a hybrid table)
    tried: np.ndarray | None = None  # bool [n, models]: the columns each row calls, where they differ by row


@dataclass
class Family:
    """KEEP vs ESCALATE on one out-of-fold ranking ``z``; ``make(t)`` is the policy keeping
    where ``z >= t`` (its signal refit on every training row)."""

    name: str
    kind: str  # single | table | router | cascade
    keep: Arm
    escalate: Arm
    z: np.ndarray
    make: Callable[[float], Policy]
    signal: dict = field(default_factory=dict)  # label, auc, se, helps (learned/agreement signals)

    @property
    def single(self) -> bool:
        """A model alone (the random-mix line is drawn through these)."""
        return self.kind == "single"

    @property
    def one_point(self) -> bool:
        """No threshold: the family is one operating point."""
        return self.kind in ("single", "table")


def pareto_models(stats: pd.DataFrame) -> list[str]:
    """Models no other beats on both quality and cost, cheapest first."""
    s = stats.sort_values(["cost_per_item", "quality"], ascending=[True, False])
    front, best = [], -np.inf
    for model, row in s.iterrows():
        if row["quality"] > best:
            front.append(model)
            best = row["quality"]
    return front


def voters_for(stats: pd.DataFrame, model: str, exclude: set, k: int = MAX_PEERS) -> list[str]:
    """The ``k`` best models costing at most twice ``model`` (cheap peers whose vote is cheap)."""
    cap = stats.loc[model, "cost_per_item"] * 2.0
    peers = stats[(stats.index != model) & (stats["cost_per_item"] <= cap) & ~stats.index.isin(list(exclude))]
    return list(peers.sort_values("quality", ascending=False).index[:k])


@dataclass
class FamilySet:
    """The families of one training set and what building them learned."""

    families: list[Family]
    signals: list[dict]  # one row per learned/agreement signal: family, signal, auc, se, helps
    notes: list[str]
    prompt_signal: object | None = None


def _costs(evalset: EvalSet) -> tuple[np.ndarray, list[str]]:
    """Costs with unknown ones at the model's mean (for choosing only) and a note when any."""
    cost = evalset.cost.astype(float).copy()
    notes = []
    for j, m in enumerate(evalset.models):
        col = cost[:, j]
        missing = np.isnan(col)
        if missing.all():
            col[:] = 0.0
            notes.append(f"No cost is known for {m}: it is weighed as free (add cost_usd or token "
                         "counts to the eval set).")
        elif missing.any():
            col[missing] = np.nanmean(col)
    return cost, notes


def build_families(evalset: EvalSet, models: list[str], goal_model: str | None = None,
                   share_model: str | None = None, folds=None, seed: int = 0,
                   log: Callable[[str], None] | None = None) -> FamilySet:
    """Every family over ``models`` on ``evalset`` (module docstring), signals fitted with
    out-of-fold predictions on ``folds``."""
    from core.routing.signals.prompt_correctness import PromptCorrectness, fold_indices
    from core.routing.signals.prompt_features import prompt_texts

    say = log or (lambda _msg: None)
    stats = evalset.model_stats.loc[list(models)]
    stats = stats[(stats["scored"] > 0) & stats["quality"].notna()]
    if stats.empty:
        raise InputError(f"{evalset.name} has no scored model to route between")
    cost, notes = _costs(evalset)
    stats = stats.assign(cost_per_item=[float(np.mean(cost[:, evalset.model_index(m)])) for m in stats.index])
    n = evalset.n_items
    splits = folds if folds is not None else fold_indices(n, 5, seed)
    share_col = evalset.model_index(share_model) if share_model else None
    J = evalset.model_index

    def arm(cols, score_col, escalated=False):
        cols = tuple(cols)
        share = np.full(n, float(share_col in cols)) if share_col is not None else np.zeros(n)
        return Arm(evalset.score[:, score_col], cost[:, list(cols)].sum(axis=1), share, cols, escalated)

    families = [Family(f"single {m}", "single", arm([J(m)], J(m)), arm([J(m)], J(m)), np.zeros(n),
                       lambda t, m=m: SingleModel(m)) for m in stats.index]
    signals: list[dict] = []
    front = pareto_models(stats)
    if goal_model and goal_model in stats.index and goal_model not in front:
        front = sorted(front + [goal_model], key=lambda m: stats.loc[m, "cost_per_item"])
    pairs = [(a, b) for i, a in enumerate(front) for b in front[i + 1:]]
    pairs.sort(key=lambda p: (p[1] != front[-1] and p[1] != goal_model, -stats.loc[p[0], "quality"]))
    pairs = pairs[:MAX_PAIRS]

    # -- routers on the prompt alone ------------------------------------------------------------
    prompt_signal = None
    has_text = "input" in evalset.items and evalset.items["input"].fillna("").astype(str).str.strip().ne("").mean() > 0.5
    if pairs and has_text:
        from core.routing.policies.prompt_router import PromptRouter

        needed = list(dict.fromkeys(m for p in pairs for m in p))
        say(f"learning P(correct) from prompts for {len(needed)} models")
        prompt_signal = PromptCorrectness(needed, seed=seed).fit(evalset, folds=splits)
        lengths = np.array([len(t) for t in prompt_texts(evalset)])
        for m in needed:
            a = prompt_signal.auc_[m]
            signals.append({"signal": f"P({m} right | prompt)", "auc": a["auc"], "se": a["se"],
                            "helps": prompt_signal.helps_[m], "members": a["members"]})
        for a, b in pairs:
            router = PromptRouter([a, b], signal=prompt_signal).fit(evalset)
            z = _router_z(router, prompt_signal, lengths)
            families.append(Family(
                f"router {a} -> {b} (prompt: P(right) gap per predicted $)", "router",
                arm([J(a)], J(a)), arm([J(b)], J(b)), z,
                lambda t, r=router: _router_at(r, t),
                {"label": "P(cheap right) - P(strong right) per $ saved",
                 "auc": {m: prompt_signal.auc_[m]["auc"] for m in (a, b)},
                 "helps": {m: prompt_signal.helps_[m] for m in (a, b)}}))
    elif pairs:
        notes.append(f"{evalset.name} has no prompt text (input column): no router on the prompt.")

    # -- tables by task and cascades on stated confidence -------------------------------------
    families += task_tables(evalset, list(stats.index), cost, share_col, splits)
    n_before_cascades = len(families)
    for a, b in pairs:
        if stats.loc[a, "has_confidence"]:
            from core.routing.signals import SelfConfidence

            cols = [J(a)]
            families.append(Family(
                f"cascade {a} -> {b} (self-reported confidence)", "cascade", arm(cols, J(a)),
                arm(cols + [J(b)], J(b), escalated=True), SelfConfidence().scores(evalset, a),
                lambda t, ms=(a, b): Cascade(list(ms), [_bounded(t)], SelfConfidence()),
                {"label": "self-reported confidence"}))

    # -- cascades on what the answers conclude --------------------------------------------------
    keys = evalset.conclusions()
    kind = evalset.conclusion_kind
    answered = {m for m in stats.index if (~pd.isna(keys[:, J(m)])).mean() > 0.5}
    learned: dict[tuple, object] = {}
    for a, b in pairs:
        if a not in answered:
            continue
        peers = [p for p in voters_for(stats, a, {b}) if p in answered]
        panels = [()] + [P for k in (1, 2, 3) for P in itertools.combinations(peers, k)]
        for P in panels:
            cols = [J(a)] + [J(p) for p in P]
            keep, esc = arm(cols, J(a)), arm(cols + [J(b)], J(b), escalated=True)
            if P:
                agree = Agreement([a, *P], compare=kind)
                z = agree.scores(evalset, a)
                families.append(Family(
                    f"cascade {a} -> {b} (agreement of {', '.join(P)})", "cascade", keep, esc, z,
                    lambda t, ms=(a, b), s=agree: Cascade(list(ms), [_bounded(t)], s),
                    {"label": f"agreement of {', '.join(P)}"}))
            if (a, P) not in learned:
                from core.routing.signals.answer_scorer import AnswerScorer

                scorer = AnswerScorer([a], panel=P, compare=kind, seed=seed).fit(evalset, folds=splits)
                learned[(a, P)] = scorer
                auc, se = scorer.auc_[a]
                signals.append({"signal": f"P({a} right | answer{', votes of ' + ', '.join(P) if P else ''})",
                                "auc": auc, "se": se, "helps": scorer.helps_[a]})
            scorer = learned[(a, P)]
            if not scorer.helps_[a]:
                continue
            auc, se = scorer.auc_[a]
            families.append(Family(
                f"cascade {a} -> {b} (learned P(correct | answer){', votes of ' + ', '.join(P) if P else ''})",
                "cascade", keep, esc, scorer.oof_[a],
                lambda t, ms=(a, b), s=scorer: Cascade(list(ms), [_bounded(t)], s),
                {"label": scorer.label(), "auc": auc, "se": se, "helps": True}))
    families += hybrid_tables(evalset, list(stats.index), cost, share_col, splits,
                              [f for f in families[n_before_cascades:] if f.kind == "cascade"])
    if pairs and not answered:
        notes.append(f"{evalset.name} has no answers to compare (prediction or output): no "
                     "agreement or answer-scored cascade.")
    say(f"{len(families)} families")
    return FamilySet(families, signals, notes, prompt_signal)


LAMBDAS = np.concatenate([[0.0], np.logspace(0, 6, 25)])  # quality points per USD
MAX_HYBRID = 2  # cascade families offered as task-table entries
HYBRID_THRESHOLDS = 12  # thresholds per cascade entry: quantiles of its out-of-fold z


def _table_choice(q: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Per lambda, per task row: the column maximising quality - lambda x cost ``[L, tasks]``
    (unknown quality never wins)."""
    qn, cn = np.nan_to_num(q, nan=-1e9), np.nan_to_num(c, nan=1e9)
    return np.argmax(qn[None] - LAMBDAS[:, None, None] * cn[None], axis=2)


def table_picks(S: np.ndarray, C: np.ndarray, code: np.ndarray, n_tasks: int,
                splits) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per lambda, the option (column of ``S``/``C``: per-row score and cost of each option) that
    each task's table entry takes: ``pick`` [L, n] out-of-fold (each held-out row by the table
    built on the other folds; a task no training row had takes the default), and the table and
    default built on every row, ``full`` [L, tasks] and ``default`` [L]."""
    def choice(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        onehot = np.zeros((len(rows), n_tasks))
        onehot[np.arange(len(rows)), code[rows]] = 1
        ok = ~np.isnan(S[rows])
        with np.errstate(invalid="ignore", divide="ignore"):
            q = (onehot.T @ np.nan_to_num(S[rows])) / (onehot.T @ ok)
            c = (onehot.T @ C[rows]) / onehot.sum(axis=0)[:, None]
        q = np.where((onehot.T @ ok) > 0, q, np.nan)
        with np.errstate(invalid="ignore"):
            overall = _table_choice(np.nanmean(S[rows], axis=0)[None], np.mean(C[rows], axis=0)[None])[:, 0]
        return _table_choice(q, c), overall

    n = len(code)
    pick = np.zeros((len(LAMBDAS), n), dtype=np.int64)
    for train_idx, held_idx in splits:
        table, default = choice(train_idx)
        seen = np.isin(np.arange(n_tasks), np.unique(code[train_idx]))
        pick[:, held_idx] = np.where(seen[code[held_idx]], table[:, code[held_idx]], default[:, None])
    full, default = choice(np.arange(n))
    return pick, full, default


def task_tables(evalset: EvalSet, models: list[str], cost: np.ndarray, share_col: int | None,
                splits) -> list[Family]:
    """Per-task routing tables (one model per task, a default for unseen tasks), one per lambda.

    Each held-out row is routed by the table built on the other folds' rows (out-of-fold like
    every family here); ``make`` builds the table on every row. Only with at least two tasks.
    """
    from core.routing.policies import TaskRouter

    names, code = np.unique(evalset.tasks.astype(str), return_inverse=True)
    if len(names) < 2 or len(models) < 2:
        return []
    cols = np.array([evalset.model_index(m) for m in models])
    pick, full, default = table_picks(evalset.score[:, cols], cost[:, cols], code, len(names), splits)
    n = evalset.n_items
    out, seen_tables = [], set()
    for k in range(len(LAMBDAS)):
        mapping = {str(t): models[int(j)] for t, j in zip(names, full[k])}
        key = (tuple(sorted(mapping.items())), int(default[k]), tuple(pick[k]))
        if key in seen_tables or len(set(mapping.values())) < 2:
            continue  # one model everywhere is a single model, already a family
        seen_tables.add(key)
        rows = cols[pick[k]]
        tried = np.zeros((n, evalset.n_models), dtype=bool)
        tried[np.arange(n), rows] = True
        score = evalset.score[np.arange(n), rows]
        row_cost = cost[np.arange(n), rows]
        share = tried[:, share_col].astype(float) if share_col is not None else np.zeros(n)
        one = Arm(score, row_cost, share, tuple(int(c) for c in np.unique(rows)), tried=tried)
        out.append(Family(f"task table (lambda {LAMBDAS[k]:.3g})", "table", one, one, np.zeros(n),
                          lambda t, m=mapping, d=models[int(default[k])]: TaskRouter(m, d),
                          {"label": "per-task table: " + ", ".join(f"{t} -> {m}" for t, m in mapping.items())}))
    return out


def lift_over_chord(family: Family) -> float:
    """How far the family's out-of-fold frontier rises above the straight line (the hash mix)
    between keeping every answer and escalating every item: its best quality gain at equal cost."""
    from core.routing.optimize.menu import FrontierTable

    q, c, _ = FrontierTable([family]).points()
    ok = ~np.isnan(q)
    if ok.sum() < 3 or c.max() <= c.min():
        return 0.0
    lo, hi = int(np.argmin(np.where(ok, c, np.inf))), int(np.argmax(np.where(ok, c, -np.inf)))
    chord = q[lo] + (q[hi] - q[lo]) * (c - c[lo]) / max(c[hi] - c[lo], 1e-300)
    return float(np.nanmax(q - chord))


def hybrid_tables(evalset: EvalSet, models: list[str], cost: np.ndarray, share_col: int | None,
                  splits, cascades: list[Family]) -> list[Family]:
    """Task tables whose entries are a model or a cascade with a per-task threshold (the hybrid
    router), one per lambda, over the :data:`MAX_HYBRID` cascade families rising most above
    their own chord (:func:`lift_over_chord`).

    Each task's options: every model alone, and the cascade at :data:`HYBRID_THRESHOLDS`
    thresholds (quantiles of its out-of-fold ``z``; a row keeps the cheap answer where
    ``z >= t``). The entry per task (model or threshold) is chosen on the other folds' rows for
    each held-out row, as :func:`task_tables` chooses models; ``make`` builds the
    :class:`~core.routing.policies.hybrid.HybridRouter` chosen on every row.
    """
    from core.routing.policies import HybridRouter
    from core.routing.policies.hybrid import describe_entry

    names, code = np.unique(evalset.tasks.astype(str), return_inverse=True)
    if len(names) < 2 or not cascades:
        return []
    lifts = [lift_over_chord(f) for f in cascades]
    ranked = [cascades[i] for i in np.argsort(lifts)[::-1][:MAX_HYBRID] if lifts[i] > 0]
    cols = np.array([evalset.model_index(m) for m in models])
    n, m = evalset.n_items, len(models)
    rows = np.arange(n)
    out, seen_tables = [], set()
    for fam in ranked:
        proto = fam.make(0.5)
        cuts = np.unique(np.quantile(fam.z, np.linspace(0, 1, HYBRID_THRESHOLDS + 2)[1:-1]))
        thresholds = np.array([_bounded(t) for t in cuts])
        keep = fam.z[:, None] >= thresholds[None, :]  # [n, T]
        S = np.column_stack([evalset.score[:, cols],
                             np.where(keep, fam.keep.score[:, None], fam.escalate.score[:, None])])
        C = np.column_stack([cost[:, cols], np.where(keep, fam.keep.cost[:, None], fam.escalate.cost[:, None])])
        pick, full, default = table_picks(S, C, code, len(names), splits)

        def entry(j: int, ms=tuple(proto.models), ts=thresholds):
            return models[j] if j < m else {"models": list(ms), "thresholds": [float(ts[j - m])]}

        for k in range(len(LAMBDAS)):
            if (full[k] < m).all() or len(set(full[k].tolist())) < 2:
                continue  # no cascade entry (a task table) or one entry everywhere (a cascade)
            key = (fam.name, tuple(full[k]), int(default[k]), tuple(pick[k]))
            if key in seen_tables:
                continue
            seen_tables.add(key)
            p = pick[k]
            is_cascade = p >= m
            kept = np.where(is_cascade, keep[rows, np.clip(p - m, 0, None)], True)
            tried = np.zeros((n, evalset.n_models), dtype=bool)
            tried[rows[~is_cascade], cols[p[~is_cascade]]] = True
            tried[np.ix_(is_cascade, list(fam.keep.cols))] = True
            esc = is_cascade & ~kept
            tried[np.ix_(esc, list(fam.escalate.cols))] = True
            share = tried[:, share_col].astype(float) if share_col is not None else np.zeros(n)
            one = Arm(S[rows, p], C[rows, p], share, tuple(int(c) for c in np.flatnonzero(tried.any(axis=0))),
                      escalated=esc, tried=tried)
            table = {str(t): entry(int(j)) for t, j in zip(names, full[k])}
            label = ", ".join(f"{t} -> {describe_entry(e)}" for t, e in table.items())
            out.append(Family(f"hybrid table over {fam.name} (lambda {LAMBDAS[k]:.3g})", "table", one, one,
                              np.zeros(n),
                              lambda t, tb=table, d=entry(int(default[k])), s=proto.signal: HybridRouter(tb, d, s),
                              {**fam.signal, "label": "per-task entries: " + label}))
    return out


def _router_z(router, signal, lengths: np.ndarray) -> np.ndarray:
    """Out-of-fold z of a fitted prompt router on its training rows (prompt ``lengths``)."""
    from core.routing.policies.prompt_router import MIN_GAP_USD, predicted_cost

    a, b = router.models
    saved = predicted_cost(router.cost_lines_[b], lengths) - predicted_cost(router.cost_lines_[a], lengths)
    return (signal.oof(a) - signal.oof(b)) / np.maximum(saved, MIN_GAP_USD)


def _router_at(router, t: float) -> Policy:
    """The router at threshold t (keeping nothing or everything is a single model)."""
    import copy

    if np.isinf(t):
        return SingleModel(router.models[1] if t > 0 else router.models[0])
    return copy.copy(router).set_params(threshold=float(t))


def _bounded(t: float) -> float:
    """A cascade threshold on a signal in [0, 1]: +inf escalates every item (1.01), -inf keeps
    every answer (0)."""
    return float(min(max(t, 0.0), 1.01))
