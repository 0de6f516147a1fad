"""Applying scorers to an eval set: per task, with stored scores reused and new ones stored.

::

    part = score_task(ws, evalset, parse_scorer("numeric:0.01"), task="math")
    scored = apply_parts(evalset, [part])        # the eval set with that task's scores replaced
    scored.evalset.model_stats, scored.breakdown()

A stored eval set remembers its scorer per task (``core.evaluation.score_store``);
:func:`apply_plan` rebuilds the scored view from the store. Scores computed elsewhere (the LLM
judge, :mod:`core.live.judge`) are only looked up here: an answer not judged yet stays unscored.
Tasks without a scorer keep the scores of the file.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from core.errors import InputError
from core.evaluation import score_store
from core.evaluation.evalset import EvalSet
from core.evaluation.scorers import SCORERS, Scorer, Scores, model_texts
from core.evaluation.trust import trust_caption, trust_summary
from core.workspace import Workspace

JUDGE_KIND = "judge"  # scores of this kind are made by core.live.judge; here they are looked up


@dataclass
class TaskScoring:
    """One scorer's scores on the rows of one task ('*' = every task)."""

    task: str
    scorer_id: str
    kind: str
    label: str
    version: str
    rows: np.ndarray  # bool [n]: the items this scorer scores
    scores: Scores
    reused: int = 0  # answers whose score came from the store
    computed: int = 0
    verdicts: pd.DataFrame | None = None  # judges: verdict, verdict_swapped, verdict_recheck [n*m]
    info: dict | None = None  # e.g. a calibrated threshold's held-out agreement
    against: str | None = None


@dataclass
class Rescored:
    """An eval set with some tasks re-scored: ``evalset`` (scores replaced on those tasks),
    ``original`` (as stored), ``parts`` (one per scored task)."""

    evalset: EvalSet
    original: EvalSet
    parts: list[TaskScoring] = field(default_factory=list)

    @property
    def detail(self) -> np.ndarray:
        out = np.full(self.evalset.score.shape, None, dtype=object)
        for part in self.parts:
            out[part.rows] = part.scores.detail[part.rows]
        return out

    def scorer_of_task(self) -> dict[str, str]:
        """task -> the label of its scorer ('as in the file' when none)."""
        table = self.task_table()
        return dict(zip(table["task"], table["scorer"]))

    def task_table(self) -> pd.DataFrame:
        """Per task: its scorer and version, answers scored, unparsed (scored 0) and not scored
        (an output without a score)."""
        has_output = pd.notna(model_texts(self.original))
        tasks = self.evalset.tasks
        rows = []
        for task in pd.unique(tasks):
            in_task = tasks == task
            part = next((p for p in reversed(self.parts) if (p.rows & in_task).any()), None)
            score = self.evalset.score[in_task]
            parsed = part.scores.parsed[in_task] if part else np.ones(score.shape, dtype=bool)
            known = ~np.isnan(score)
            rows.append({"task": str(task), "scorer": part.label if part else "as in the file",
                         "version": part.version if part else "", "scored": int(known.sum()),
                         "unparsed": int((known & ~parsed).sum()),
                         "not scored": int((~known & has_output[in_task]).sum())})
        return pd.DataFrame(rows, columns=["task", "scorer", "version", "scored", "unparsed",
                                           "not scored"])

    def breakdown(self) -> pd.DataFrame:
        """Per scorer and model: quality, scored, unparsed (scored 0), not scored (an output
        without a score: no expected answer, a judge not run yet, an unreadable judge reply)."""
        rows = []
        es = self.evalset
        has_output = pd.notna(model_texts(self.original))
        for part in self.parts:
            s = part.scores.score[part.rows]
            parsed = part.scores.parsed[part.rows]
            answered = has_output[part.rows]
            for j, model in enumerate(es.models):
                col = s[:, j]
                known = ~np.isnan(col)
                rows.append({"scorer": part.label, "task": part.task, "model": model,
                             "quality": float(col[known].mean()) if known.any() else np.nan,
                             "scored": int(known.sum()),
                             "unparsed": int((known & ~parsed[:, j]).sum()),
                             "not_scored": int((~known & answered[:, j]).sum())})
        return pd.DataFrame(rows, columns=["scorer", "task", "model", "quality", "scored",
                                           "unparsed", "not_scored"])

    def trust(self) -> list[dict]:
        """For every judged task: agreement with the file's scores, self-agreement, bias."""
        out = []
        for part in self.parts:
            if part.kind != JUDGE_KIND or part.verdicts is None:
                continue
            mask = np.broadcast_to(part.rows[:, None], part.scores.score.shape)
            if part.against is not None:  # the reference model is not judged against itself
                mask = mask & (np.arange(self.evalset.n_models) != self.evalset.model_index(part.against))
            flat = mask.reshape(-1)
            v = part.verdicts
            unreadable = int((flat & ~part.scores.parsed.reshape(-1)).sum())
            summary = trust_summary(
                part.label, self.original.score.reshape(-1)[flat], part.scores.score.reshape(-1)[flat],
                v["verdict"].to_numpy(dtype=object)[flat],
                v["verdict_swapped"].to_numpy(dtype=object)[flat] if part.against else None,
                v["verdict_recheck"].to_numpy(dtype=object)[flat], unreadable)
            summary["task"] = part.task
            summary["caption"] = trust_caption(summary)
            out.append(summary)
        return out

    def caption(self) -> str | None:
        """The judges' trust in one paragraph (None when no task is judged), for every figure
        built on these scores."""
        notes = self.trust()
        if not notes:
            return None
        return " ".join((f"Task {t['task']}: " if t["task"] != score_store.ALL_TASKS else "")
                        + t["caption"] for t in notes)


def task_rows(evalset: EvalSet, task: str | None) -> np.ndarray:
    """Items of ``task`` (None or '*': every item); refuses a task the eval set does not have."""
    if task in (None, score_store.ALL_TASKS):
        return np.ones(evalset.n_items, dtype=bool)
    tasks = evalset.tasks
    rows = tasks == task
    if not rows.any():
        known = ", ".join(sorted(map(str, pd.unique(tasks))))
        raise InputError(f"{evalset.name}: no task '{task}' (tasks: {known})")
    return rows


def stored_params(scorer: Scorer) -> dict:
    """Parameters that rebuild the fitted scorer (a calibrated threshold, not 'calibrate')."""
    params = scorer.get_params()
    if "threshold" in params and getattr(scorer, "threshold_", None) is not None:
        params["threshold"] = scorer.threshold_
    return params


def register(ws: Workspace, scorer: Scorer) -> str:
    return score_store.register_scorer(ws, scorer.kind, scorer.spec, scorer.label, scorer.version,
                                       stored_params(scorer), getattr(scorer, "calibration_", None))


def score_task(ws: Workspace | None, evalset: EvalSet, scorer: Scorer,
               task: str | None = None) -> TaskScoring:
    """Check, fit and apply a deterministic scorer to one task; with a workspace, answers
    already scored by the same scorer and version are looked up, new scores stored."""
    rows = task_rows(evalset, task)
    scorer.check(evalset, rows)
    scorer.fit(evalset, rows)
    n, m = evalset.n_items, evalset.n_models
    if ws is None:
        scores = scorer.score(evalset, rows)
        return TaskScoring(task or score_store.ALL_TASKS, "", scorer.kind, scorer.label,
                           scorer.version, rows, scores, computed=int(rows.sum()) * m,
                           info=getattr(scorer, "calibration_", None))
    sid = register(ws, scorer)
    keys = score_store.answer_keys(evalset)
    stored = score_store.lookup_scores(ws, sid, keys)
    have = stored["stored"].to_numpy().reshape(n, m)
    # copies: pandas hands out read-only views
    score = np.array(stored["score"].to_numpy(dtype=float).reshape(n, m))
    parsed = np.array(stored["parsed"].fillna(True).to_numpy(dtype=bool).reshape(n, m))
    detail = np.array(stored["detail"].astype(object).where(stored["detail"].notna(), None)
                      .to_numpy().reshape(n, m), dtype=object)
    need = rows & ~have.all(axis=1)
    computed = 0
    if need.any():
        fresh = scorer.score(evalset, need)
        fill = need[:, None] & ~have
        score[fill], parsed[fill], detail[fill] = (fresh.score[fill], fresh.parsed[fill],
                                                   fresh.detail[fill])
        new = fill & (~np.isnan(fresh.score) | ~pd.isna(fresh.detail))
        computed = int(new.sum())
        score_store.save_scores(ws, sid, pd.DataFrame({
            "answer_key": keys[new], "score": fresh.score[new], "parsed": fresh.parsed[new],
            "detail": fresh.detail[new]}))
    outside = ~rows
    score[outside], parsed[outside], detail[outside] = np.nan, True, None
    return TaskScoring(task or score_store.ALL_TASKS, sid, scorer.kind, scorer.label,
                       scorer.version, rows, Scores(score, parsed, detail),
                       reused=int((rows[:, None] & have).sum()), computed=computed,
                       info=getattr(scorer, "calibration_", None))


def stored_task(ws: Workspace, evalset: EvalSet, sid: str, task: str, kind: str, label: str,
                version: str, against: str | None, info: dict | None = None) -> TaskScoring:
    """Scores computed elsewhere (the judge), looked up by answer; missing ones stay NaN."""
    rows = task_rows(evalset, task)
    n, m = evalset.n_items, evalset.n_models
    keys = score_store.answer_keys(evalset, against if against in evalset.models else None)
    stored = score_store.lookup_scores(ws, sid, keys)
    inside = np.broadcast_to(rows[:, None], (n, m)).reshape(-1)
    score = np.where(inside, stored["score"].to_numpy(dtype=float), np.nan).reshape(n, m)
    parsed = np.where(inside, stored["parsed"].fillna(True).to_numpy(dtype=bool), True).reshape(n, m)
    detail = np.where(inside, stored["detail"].astype(object).where(stored["detail"].notna(), None),
                      None).reshape(n, m)
    verdicts = stored[["verdict", "verdict_swapped", "verdict_recheck"]].astype(object)
    verdicts = verdicts.where(verdicts.notna() & inside[:, None], None)
    return TaskScoring(task, sid, kind, label, version, rows, Scores(score, parsed, detail),
                       reused=int((stored["stored"].to_numpy() & inside).sum()), verdicts=verdicts,
                       info=info, against=against)


def apply_parts(evalset: EvalSet, parts: list[TaskScoring]) -> Rescored:
    """The eval set with each part's rows scored by its scorer (later parts win)."""
    score = evalset.score.copy()
    for part in parts:
        score[part.rows] = part.scores.score[part.rows]
    return Rescored(replace(evalset, score=score), evalset, list(parts))


def apply_plan(ws: Workspace, evalset_id: int, evalset: EvalSet) -> Rescored:
    """A stored eval set scored as its plan says (a task's own scorer over the '*' one)."""
    plan = score_store.get_plan(ws, evalset_id)
    parts = []
    tasks = set(map(str, pd.unique(evalset.tasks)))
    for row in plan.itertuples():
        if row.task != score_store.ALL_TASKS and row.task not in tasks:
            continue
        if row.kind == JUDGE_KIND:
            part = stored_task(ws, evalset, row.scorer_id, row.task, row.kind, row.label,
                               row.version, row.params.get("against"), row.info)
        elif row.kind in SCORERS:
            part = score_task(ws, evalset, SCORERS[row.kind](**row.params), row.task)
        else:
            continue  # a scorer of a newer release: its task keeps the file's scores
        parts.append(part)
    if any(p.task != score_store.ALL_TASKS for p in parts):  # a task's own scorer wins over '*'
        parts.sort(key=lambda p: p.task != score_store.ALL_TASKS)
        own = np.zeros(evalset.n_items, dtype=bool)
        for p in parts:
            if p.task != score_store.ALL_TASKS:
                own |= p.rows
        for p in parts:
            if p.task == score_store.ALL_TASKS:
                p.rows = p.rows & ~own
    return apply_parts(evalset, parts)


def set_scorer(ws: Workspace, evalset_id: int, evalset: EvalSet, scorer: Scorer | None,
               task: str = score_store.ALL_TASKS) -> TaskScoring | None:
    """Score a stored eval set's task with ``scorer`` (checked first; None: the file's scores
    again) and remember the choice."""
    if scorer is None:
        score_store.set_plan(ws, evalset_id, task, None)
        return None
    part = score_task(ws, evalset, scorer, task)
    score_store.set_plan(ws, evalset_id, task, part.scorer_id)
    return part
