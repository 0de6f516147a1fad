"""Optimization goals: what a product manager asks of a router, parsed and checked.

Accepted forms (``parse_goal``)::

    match:MODEL          MODEL's quality within one point (0.01), measured on the same rows
    match:MODEL~0        at least MODEL's quality, strictly (any tolerance: match:MODEL~0.02)
    quality>=Q           mean quality at least Q (0..1)
    cost<=USD_PER_ITEM   mean cost per item at most this many US dollars
    share:MODEL<=S       at most a share S (0..1) of items call MODEL (e.g. the strong model)

>>> parse_goal("match:gpt-4")
Goal(kind='match', model='gpt-4', value=None, tolerance=0.01)
>>> parse_goal("cost<=0.002").describe()
'cost per item <= $0.002'

Why one point by default: quality measured on a few hundred rows moves by about a point between
samples, so "strictly at least" on an estimate mostly rewards noise (and picks the matched model
itself); the issue defines a router worth shipping as one reaching the strong model's quality
within one point. ``~0`` restores the strict reading.

Quality goals (match, quality) pick the cheapest operating point that meets them; budget goals
(cost, share) pick the best quality within the budget.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from core.errors import InputError

MATCH_TOLERANCE = 0.01
ACCEPTED = ("match:MODEL (MODEL's quality within one point; match:MODEL~0 for strictly at least, "
            "match:MODEL~0.02 for two points), "
            "quality>=Q (Q between 0 and 1), cost<=USD_PER_ITEM (e.g. cost<=0.002), "
            "share:MODEL<=S (at most share S, 0..1, of items call MODEL)")


@dataclass(frozen=True)
class Goal:
    kind: str  # match | quality | cost | share
    model: str | None = None
    value: float | None = None
    tolerance: float = 0.0

    @property
    def wants_quality(self) -> bool:
        """True: minimize cost subject to quality. False: maximize quality within a budget."""
        return self.kind in ("match", "quality")

    def describe(self) -> str:
        if self.kind == "match":
            tol = f" within {self.tolerance:g}" if self.tolerance else " (strictly at least)"
            return f"quality of {self.model}{tol}, same rows"
        if self.kind == "quality":
            return f"quality >= {self.value:g}"
        if self.kind == "cost":
            return f"cost per item <= ${self.value:g}"
        return f"share of items calling {self.model} <= {self.value:g}"

    def __str__(self) -> str:
        if self.kind == "match":
            return f"match:{self.model}" + ("" if self.tolerance == MATCH_TOLERANCE
                                             else f"~{self.tolerance:g}")
        if self.kind == "quality":
            return f"quality>={self.value:g}"
        if self.kind == "cost":
            return f"cost<={self.value:g}"
        return f"share:{self.model}<={self.value:g}"


def _number(text: str, goal: str, lo: float, hi: float | None, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"Goal '{goal}': '{text}' is not a number; expected {what}. "
                         f"Accepted goals: {ACCEPTED}") from None
    if not np.isfinite(value) or value < lo or (hi is not None and value > hi):
        raise InputError(f"Goal '{goal}': {value:g} is out of range; expected {what}. "
                         f"Accepted goals: {ACCEPTED}")
    return value


def parse_goal(text: str | Goal, models: tuple[str, ...] | list[str] | None = None) -> Goal:
    """Parse a goal string; with ``models``, a named model must be one of them."""
    if isinstance(text, Goal):
        goal = text
    else:
        raw = (text or "").strip()
        compact = re.sub(r"\s+", "", raw)
        if compact.startswith("match:"):
            body = raw.split(":", 1)[1].strip()
            tol = MATCH_TOLERANCE
            if "~" in body:
                body, tol_text = body.rsplit("~", 1)
                tol = _number(tol_text.strip(), raw, 0.0, 1.0, "a tolerance between 0 and 1")
            if not body.strip():
                raise InputError(f"Goal '{raw}' names no model. Accepted goals: {ACCEPTED}")
            goal = Goal("match", body.strip(), None, tol)
        elif compact.startswith("quality>="):
            goal = Goal("quality", None, _number(compact[len("quality>="):], raw, 0.0, 1.0,
                                                 "a quality between 0 and 1"))
        elif compact.startswith("cost<="):
            goal = Goal("cost", None, _number(compact[len("cost<="):].lstrip("$"), raw, 0.0, None,
                                              "a non-negative cost per item in USD"))
        elif compact.startswith("share:") and "<=" in compact:
            body, value = raw.split(":", 1)[1].rsplit("<=", 1)
            if not body.strip():
                raise InputError(f"Goal '{raw}' names no model. Accepted goals: {ACCEPTED}")
            goal = Goal("share", body.strip(), _number(value.strip(), raw, 0.0, 1.0,
                                                      "a share between 0 and 1"))
        else:
            raise InputError(f"Unrecognized goal '{raw}'. Accepted goals: {ACCEPTED}")
    if models is not None and goal.model is not None and goal.model not in models:
        raise InputError(f"Goal '{goal}' names model '{goal.model}', which this eval set does not "
                         f"have; it has {', '.join(models)}")
    return goal


def quality_target(goal: Goal, score: np.ndarray | None) -> float | None:
    """The quality a point must reach: Q, or the matched model's mean score (less tolerance)."""
    if goal.kind == "quality":
        return goal.value
    if goal.kind == "match":
        s = score[~np.isnan(score)] if score is not None else np.array([])
        return float(s.mean()) - goal.tolerance if len(s) else float("nan")
    return None


def satisfied(goal: Goal, quality: np.ndarray, cost: np.ndarray, share: np.ndarray | None,
              target: float | None) -> np.ndarray:
    """Which points meet the goal (vectorized over points). A tiny epsilon absorbs float noise."""
    quality, cost = np.asarray(quality, float), np.asarray(cost, float)
    eps = 1e-9
    if goal.kind in ("match", "quality"):
        return np.nan_to_num(quality, nan=-1) >= target - eps
    if goal.kind == "cost":
        return np.nan_to_num(cost, nan=np.inf) <= goal.value + eps
    return np.asarray(share, float) <= goal.value + eps


def pick(goal: Goal, quality: np.ndarray, cost: np.ndarray, share: np.ndarray | None,
         target: float | None) -> tuple[int, bool]:
    """Index of the best point for the goal, and whether it meets it.

    Quality goals: the cheapest point meeting the target (ties: higher quality); none meets it:
    the highest quality. Budget goals: the best quality within budget (ties: cheaper); none
    within budget: the cheapest (cost goal) or the lowest share (share goal).
    """
    q = np.nan_to_num(np.asarray(quality, float), nan=-1.0)
    c = np.nan_to_num(np.asarray(cost, float), nan=np.inf)
    ok = satisfied(goal, quality, cost, share, target)
    if ok.any():
        idx = np.flatnonzero(ok)
        if goal.wants_quality:
            order = np.lexsort((-q[idx], c[idx]))
        else:
            order = np.lexsort((c[idx], -q[idx]))
        return int(idx[order[0]]), True
    if goal.wants_quality:
        return int(np.lexsort((c, -q))[0]), False
    if goal.kind == "cost":
        return int(np.lexsort((-q, c))[0]), False
    s = np.asarray(share, float)
    return int(np.lexsort((-q, s))[0]), False
