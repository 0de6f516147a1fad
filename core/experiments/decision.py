"""One decision rule for the verdict, the rollout stage and the guardrail table.

Each guardrail is judged on an always-valid confidence sequence (:mod:`core.experiments.sequential`)
and is in one of three states:

* ``breached``: the evidence shows the candidate beyond the limit (the whole sequence past it);
* ``ok``: the evidence shows it within the limit (the whole sequence on the safe side);
* ``pending``: not enough evidence either way (or the figure is not measured yet).

The rule, in order (the first that applies decides, everywhere it is shown):

1. a guardrail is breached -> verdict **no-go**, rollout **rollback** to 0%;
2. every guardrail is ok and each arm has ``min_per_arm`` requests -> verdict **go**, rollout
   **advance** to the next stage (at 100%: ship);
3. otherwise -> verdict **inconclusive**, rollout **hold** (gather more traffic).

Guardrails (the seeds of issue 11): error rate above ``error_ratio`` x control's (plus an absolute
``error_margin``, so a control with no errors can be matched), cost per request above
``cost_ratio`` x control's, more than 5% of the candidate's requests slower than
``latency_ratio`` x control's p95 (its p95 above that limit), and a quality drop beyond
``tolerance``. The saving is reported, not decided on.

    >>> import pandas as pd
    >>> same = pd.DataFrame({"arm": ["control", "candidate"] * 400, "cost": 0.001,
    ...                      "latency_ms": 100.0, "error": False, "score": 1.0})
    >>> d = evaluate(same, settings=Settings(min_per_arm=50))
    >>> d.verdict, d.action, [c.state for c in d.checks]
    ('go', 'advance', ['ok', 'ok', 'ok', 'ok'])
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from core.experiments import sequential
from core.experiments.live import Settings

SLOW_SHARE = 0.05  # a p95 above a limit means more than 5% of requests above it
ACTIONS = {"no-go": "rollback", "go": "advance", "inconclusive": "hold"}
RULE = ("One rule decides the verdict, the rollout and the guardrail table: any guardrail "
        "breached (its whole confidence sequence past the limit) means no-go and rollback to 0%; "
        "every guardrail ok (its whole sequence on the safe side) with enough requests in each "
        "arm means go and the next stage; anything else is inconclusive and the stage holds. "
        "Confidence sequences stay valid however often the page is read.")


@dataclass(frozen=True)
class Check:
    name: str
    state: str          # breached | ok | pending
    estimate: float
    low: float
    high: float
    limit: float
    rule: str
    source: str = ""

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in asdict(self).items()}

    def describe(self) -> str:
        if not math.isfinite(self.estimate):
            return f"{self.name}: {self.state} (not measured yet; {self.rule})"
        return (f"{self.name}: {self.state} ({self.estimate:.4g}, always-valid range "
                f"{self.low:.4g} to {self.high:.4g}, limit {self.limit:.4g}; {self.rule})")


@dataclass
class Decision:
    verdict: str
    action: str
    reason: str
    checks: list[Check]
    n: dict[str, int]
    quality: dict = field(default_factory=dict)   # candidate - control, with its source
    saving: dict = field(default_factory=dict)    # cost per request, control - candidate
    sample_size: int | None = None                 # requests per arm for the PM's effect

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "action": self.action, "reason": self.reason,
                "checks": [c.to_dict() for c in self.checks], "n": dict(self.n),
                "quality": self.quality, "saving": self.saving, "sample_size": self.sample_size,
                "rule": RULE}


def _state(seq: sequential.Sequence, breach_if_low_above: float) -> str:
    if not math.isfinite(seq.low):
        return "pending"
    if seq.low > breach_if_low_above:
        return "breached"
    if seq.high < breach_if_low_above:
        return "ok"
    return "pending"


def _col(frame: pd.DataFrame, arm: str, column: str) -> np.ndarray:
    return frame.loc[frame["arm"] == arm, column].to_numpy(dtype=float)


def score_sources(frame: pd.DataFrame, default: str) -> str:
    """Which source gave the requests' scores, with counts, e.g. "feedback on 40 requests, live
    scorers on 160" (``default`` when the frame does not say)."""
    if "score_source" not in frame:
        return default
    known = frame.loc[np.isfinite(frame["score"].to_numpy(dtype=float)), "score_source"]
    names = {"feedback": "feedback", "scorers": "live scorers"}
    parts = [f"{names.get(src, src)} on {n:,} request{'s' if n != 1 else ''}"
             for src, n in known.value_counts().sort_index().items()]
    return ", ".join(parts) if parts else default


def quality_check(frame: pd.DataFrame, pairs: pd.DataFrame | None, s: Settings,
                  scores_source: str) -> tuple[Check, dict]:
    """Quality from per-request scores where both arms have them (feedback, else live scorers'
    verdicts, or an eval set's scores), else from agreement with the control on shadow pairs,
    else not measured."""
    qa, qb = _col(frame, "control", "score"), _col(frame, "candidate", "score")
    qa, qb = qa[np.isfinite(qa)], qb[np.isfinite(qb)]
    rule = f"a quality drop beyond {s.tolerance:g}"
    if len(qa) >= 2 and len(qb) >= 2:
        binary = bool(np.isin(np.concatenate([qa, qb]), (0.0, 1.0)).all())
        seq = sequential.difference(qb, qa, s.alpha, binary=binary)
        drop = sequential.Sequence(-seq.estimate, -seq.high, -seq.low, seq.n, s.alpha)
        source = f"{score_sources(frame, scores_source)} (n = {len(qa):,} control, {len(qb):,} candidate)"
        check = Check("quality drop", _state(drop, s.tolerance), drop.estimate, drop.low,
                      drop.high, s.tolerance, rule, source)
        return check, {"source": source, **seq.to_dict()}
    agree = pairs["agree"].dropna().to_numpy(dtype=bool) if pairs is not None and len(pairs) else np.array([])
    if len(agree):
        seq = sequential.proportion(int((~agree).sum()), len(agree), s.alpha)
        source = f"agreement with the control on {len(agree):,} shadow pairs (disagreement counted as a drop)"
        check = Check("quality drop", _state(seq, s.tolerance), seq.estimate, seq.low, seq.high,
                      s.tolerance, rule, source)
        return check, {"source": source, "estimate": -seq.estimate, "low": -seq.high,
                       "high": -seq.low, "n": seq.n, "alpha": s.alpha}
    source = "none yet: no feedback, no live scores, no shadow pairs"
    state = "pending" if s.require_quality else "ok"
    nan = float("nan")
    return Check("quality drop", state, nan, nan, nan, s.tolerance,
                 rule + ("" if s.require_quality else "; not required by this experiment"), source), \
        {"source": source}


def evaluate(frame: pd.DataFrame, pairs: pd.DataFrame | None = None, settings: Settings | None = None,
             scores_source: str = "feedback") -> Decision:
    """The decision on one row per request (``arm``, ``cost``, ``latency_ms``, ``error``,
    ``score``: NaN where not known) and optional shadow ``pairs`` (``agree``)."""
    s = settings or Settings()
    n = {arm: int((frame["arm"] == arm).sum()) for arm in ("control", "candidate")}
    ea, eb = _col(frame, "control", "error"), _col(frame, "candidate", "error")
    err = sequential.difference(eb, ea, s.alpha, scale=s.error_ratio, shift=s.error_margin, binary=True)
    limit = s.error_ratio * (ea.mean() if len(ea) else math.nan) + s.error_margin
    checks = [Check("error rate", _state(err, 0.0), float(eb.mean()) if len(eb) else math.nan,
                    max(0.0, err.low + limit), min(1.0, err.high + limit), limit,
                    f"candidate error rate above {s.error_ratio:g}x control + {s.error_margin:g}")]
    ca, cb = _col(frame, "control", "cost"), _col(frame, "candidate", "cost")
    cost = sequential.difference(cb, ca, s.alpha, scale=s.cost_ratio)
    ma = float(np.nanmean(ca)) if np.isfinite(ca).any() else math.nan
    checks.append(Check("cost per request", _state(cost, 0.0),
                        float(np.nanmean(cb)) if np.isfinite(cb).any() else math.nan,
                        cost.low + s.cost_ratio * ma, cost.high + s.cost_ratio * ma, s.cost_ratio * ma,
                        f"candidate cost per request above {s.cost_ratio:g}x control"))
    la, lb = _col(frame, "control", "latency_ms"), _col(frame, "candidate", "latency_ms")
    la, lb = la[np.isfinite(la)], lb[np.isfinite(lb)]
    nan = float("nan")
    if len(la) >= 20 and len(lb) >= 2:
        limit = s.latency_ratio * float(np.percentile(la, 95))
        slow = sequential.proportion(int((lb > limit).sum()), len(lb), s.alpha)
        checks.append(Check("p95 latency", _state(slow, SLOW_SHARE), slow.estimate, slow.low, slow.high,
                            SLOW_SHARE, f"more than {SLOW_SHARE:.0%} of candidate requests slower than "
                            f"{s.latency_ratio:g}x control p95 ({limit:.0f} ms)"))
    else:
        checks.append(Check("p95 latency", "pending", nan, nan, nan, SLOW_SHARE,
                            f"candidate p95 above {s.latency_ratio:g}x control p95 (needs 20 control "
                            "requests with a latency)"))
    qcheck, quality = quality_check(frame, pairs, s, scores_source)
    checks.append(qcheck)
    saving_seq = sequential.difference(ca, cb, s.alpha)
    saving = {"per_request_usd": saving_seq.to_dict(),
              "share": (saving_seq.estimate / ma) if ma and math.isfinite(ma) else None}
    size = _sample_size(frame, s)
    breached = [c for c in checks if c.state == "breached"]
    enough = min(n.values()) >= s.min_per_arm
    if breached:
        verdict = "no-go"
        reason = "Guardrail breached: " + "; ".join(c.describe() for c in breached)
    elif enough and all(c.state == "ok" for c in checks):
        verdict = "go"
        reason = "Every guardrail holds with enough evidence: " + "; ".join(c.name for c in checks)
    else:
        verdict = "inconclusive"
        waiting = [c.name for c in checks if c.state != "ok"]
        parts = []
        if not enough:
            parts.append(f"fewer than {s.min_per_arm} requests in an arm ({n['control']:,} control, "
                         f"{n['candidate']:,} candidate)")
        if waiting:
            parts.append("not yet shown safe: " + ", ".join(waiting))
        if size:
            parts.append(f"about {size:,} requests per arm detect a {s.mde:g} quality change")
        reason = "Hold: " + "; ".join(parts) + "."
    return Decision(verdict, ACTIONS[verdict], reason, checks, n, quality, saving, size)


def _sample_size(frame: pd.DataFrame, s: Settings) -> int | None:
    q = frame["score"].to_numpy(dtype=float)
    q = q[np.isfinite(q)]
    sd = float(q.std(ddof=1)) if len(q) > 1 else 0.5  # 0.5: the widest a 0..1 score can be
    return sequential.required_per_arm(max(sd, 0.05), s.mde, s.alpha)
