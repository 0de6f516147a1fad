"""How far to trust an LLM judge on this data: agreement with human scores, Cohen's kappa, the
pass/fail confusion, position bias (pairwise) and self-agreement on a re-judged sample.

>>> human = np.array([1, 1, 0, 0, 1, 0, 1, 0.0])
>>> judge = np.array([1, 1, 0, 1, 1, 0, 0, 0.0])
>>> a = agreement(human, judge)
>>> a["n"], a["accuracy"], round(a["kappa"], 3), a["confusion"]
(8, 0.75, 0.5, [[3, 1], [1, 3]])

Every figure carries its count; shares carry a 95% Wilson interval (:mod:`core.evaluation.intervals`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from core.evaluation.intervals import wilson

PASS_AT = 0.5  # a score at or above this counts as a pass


def cohen_kappa(a, b) -> float:
    """Cohen's kappa of two raters' categorical labels (NaN when chance agreement is total).

    >>> cohen_kappa(["pass", "fail", "pass", "pass"], ["pass", "fail", "fail", "pass"])
    0.5
    """
    a, b = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
    if len(a) == 0:
        return float("nan")
    codes, _ = pd.factorize(np.concatenate([a, b]))
    ca, cb = codes[:len(a)], codes[len(a):]
    k = int(codes.max()) + 1
    observed = float((ca == cb).mean())
    chance = float((np.bincount(ca, minlength=k) / len(a)) @ (np.bincount(cb, minlength=k) / len(b)))
    if chance >= 1.0:
        return float("nan")
    return (observed - chance) / (1.0 - chance)


def _share(hits: int, n: int) -> dict:
    if n == 0:
        return {"n": 0, "share": float("nan"), "low": float("nan"), "high": float("nan")}
    low, high = wilson(np.array([hits]), np.array([n]))
    return {"n": int(n), "share": hits / n, "low": float(low[0]), "high": float(high[0])}


def agreement(human: np.ndarray, judge: np.ndarray) -> dict:
    """The judge's pass/fail against the human's, over answers that have both: ``n``,
    ``accuracy`` (with ``low``/``high``), ``kappa``, and ``confusion`` as
    ``[[human pass & judge pass, human pass & judge fail], [human fail & judge pass, both fail]]``."""
    human, judge = np.asarray(human, dtype=float).ravel(), np.asarray(judge, dtype=float).ravel()
    both = ~np.isnan(human) & ~np.isnan(judge)
    h, j = human[both] >= PASS_AT, judge[both] >= PASS_AT
    share = _share(int((h == j).sum()), int(both.sum()))
    return {"n": share["n"], "accuracy": share["share"], "low": share["low"], "high": share["high"],
            "kappa": cohen_kappa(np.where(h, "pass", "fail"), np.where(j, "pass", "fail")),
            "confusion": [[int((h & j).sum()), int((h & ~j).sum())],
                          [int((~h & j).sum()), int((~h & ~j).sum())]]}


def self_agreement(first: np.ndarray, second: np.ndarray) -> dict:
    """Two judgings of the same answers (verdict labels; None = none or unreadable): the share
    that match, with its interval, and kappa."""
    first, second = np.asarray(first, dtype=object).ravel(), np.asarray(second, dtype=object).ravel()
    both = pd.notna(first) & pd.notna(second)
    share = _share(int((first[both] == second[both]).sum()), int(both.sum()))
    return {"n": share["n"], "agreement": share["share"], "low": share["low"],
            "high": share["high"], "kappa": cohen_kappa(first[both], second[both])}


def position_bias(shown_first: np.ndarray, shown_second: np.ndarray) -> dict:
    """Pairwise verdicts ('A' = the answer shown first won, 'B', 'tie') with the candidate shown
    first and then second. Each pair is asked in both orders, so without position bias the
    first-shown answer wins half of the decisive verdicts: ``first_wins`` is that share (with its
    interval); ``consistent`` is the share of pairs whose winner survives the swap.

    >>> position_bias(np.array(["A", "A", "B", "tie"]), np.array(["A", "B", "A", "tie"]))["first_wins"]
    0.6666666666666666
    """
    v1, v2 = np.asarray(shown_first, dtype=object).ravel(), np.asarray(shown_second, dtype=object).ravel()
    both = pd.notna(v1) & pd.notna(v2)
    v1, v2 = v1[both], v2[both]
    decisive = np.concatenate([v1, v2])
    decisive = decisive[decisive != "tie"]
    wins = _share(int((decisive == "A").sum()), len(decisive))
    consistent = ((v1 == "A") & (v2 == "B")) | ((v1 == "B") & (v2 == "A")) | ((v1 == "tie") & (v2 == "tie"))
    kept = _share(int(consistent.sum()), len(v1))
    return {"pairs": int(len(v1)), "first_wins": wins["share"], "first_wins_low": wins["low"],
            "first_wins_high": wins["high"], "decisive": wins["n"],
            "consistent": kept["share"], "consistent_low": kept["low"], "consistent_high": kept["high"]}


def trust_summary(label: str, human: np.ndarray, judge: np.ndarray, verdict: np.ndarray,
                  verdict_swapped: np.ndarray | None, verdict_recheck: np.ndarray,
                  unreadable: int) -> dict:
    """Every trust figure of one judged task (arrays over the same answers)."""
    out = {"judge": label, "agreement": agreement(human, judge),
           "self_agreement": self_agreement(verdict, verdict_recheck),
           "position_bias": None, "unreadable": int(unreadable)}
    if verdict_swapped is not None:
        out["position_bias"] = position_bias(verdict, verdict_swapped)
    return out


def _pct(x: float) -> str:
    return "n/a" if x is None or np.isnan(x) else f"{x:.0%}"


def trust_caption(summary: dict) -> str:
    """One sentence a PM can read beside a judged figure."""
    parts = [f"Scores judged by {summary['judge']}"]
    a = summary["agreement"]
    if a["n"]:
        parts.append(f"agrees with the human scores on {_pct(a['accuracy'])} of {a['n']:,} answers "
                     f"(95% {_pct(a['low'])}–{_pct(a['high'])}), Cohen's κ "
                     + ("n/a" if np.isnan(a["kappa"]) else f"{a['kappa']:.2f}"))
    else:
        parts.append("no human scores to check it against")
    s = summary["self_agreement"]
    parts.append(f"gives the same verdict on {_pct(s['agreement'])} of {s['n']:,} answers judged "
                 "twice" if s["n"] else "not re-judged (no self-agreement measured)")
    p = summary.get("position_bias")
    if p and p["pairs"]:
        parts.append(f"the answer shown first wins {_pct(p['first_wins'])} of decisive verdicts "
                     f"(50% = no position bias), the winner survives swapping on "
                     f"{_pct(p['consistent'])} of {p['pairs']:,} pairs")
    if summary.get("unreadable"):
        parts.append(f"{summary['unreadable']:,} unreadable judge replies left unscored")
    return "; ".join(parts) + "."
