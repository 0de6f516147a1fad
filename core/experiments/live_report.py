"""What the Experiments page and the go/no-go memo show of a live experiment, from live data.

:func:`live_status` gathers it once (the page and the memo render the same dict)::

    status = live_status(ws, "cheap-support")
    status["decision"]["verdict"], status["stage"]          # ('inconclusive', 25)
    render_html(live_memo(status))                          # the memo, HTML (render_pdf: PDF)

The decision is the current stage's (traffic since the stage began), made by the one rule of
:mod:`core.experiments.decision`, exactly what the gateway's rollout applies; traffic, cost and
quality per arm cover the whole experiment, with always-valid 95% ranges and their source.
"""
from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from core.experiments import live_data, sequential
from core.experiments.decision import RULE, evaluate, score_sources
from core.experiments.live import LiveSpec, current_specs, transitions
from core.experiments.memo import MemoContent, Table
from core.exports import json_safe
from core.workspace import Workspace


def _arm(frame: pd.DataFrame, arm: str, alpha: float) -> dict:
    part = frame[frame["arm"] == arm]
    cost = part["cost"].to_numpy(dtype=float)
    lat = part["latency_ms"].to_numpy(dtype=float)
    lat = lat[np.isfinite(lat)]
    scores = part["score"].to_numpy(dtype=float)
    scores = scores[np.isfinite(scores)]
    out = {"requests": int(len(part)), "errors": int(part["error"].sum()),
           "cost_usd": float(np.nansum(cost)), "unknown_cost": int(np.isnan(cost).sum()),
           "p50_ms": float(np.percentile(lat, 50)) if len(lat) else None,
           "p95_ms": float(np.percentile(lat, 95)) if len(lat) else None,
           "feedback": int(part["score_source"].eq("feedback").sum()) if "score_source" in part
           else int(len(scores))}
    for name, values in (("cost_per_request", cost[np.isfinite(cost)]), ("quality", scores)):
        if len(values) >= 2:
            r = sequential.radius(values.var(ddof=1) / len(values), alpha,
                                  sequential.DEFAULT_PLANNED_N / max(values.var(ddof=1), 1e-12))
            out[name] = {"estimate": float(values.mean()), "low": float(values.mean() - r),
                         "high": float(values.mean() + r), "n": int(len(values))}
        else:
            out[name] = {"estimate": float(values.mean()) if len(values) else None, "low": None,
                         "high": None, "n": int(len(values))}
    out["quality"]["source"] = score_sources(part, "none") if len(scores) else "none"
    out["scored"] = int(part["score_source"].eq("scorers").sum()) if "score_source" in part else 0
    return out


def live_status(ws: Workspace, name: str) -> dict:
    """Everything the page and the memo show of experiment ``name``."""
    spec: LiveSpec | None = current_specs(ws).get(name)
    if spec is None:
        raise KeyError(name)
    s = spec.settings
    since = datetime.fromisoformat(spec.stage_started) if spec.stage_started else None
    everything = live_data.requests(ws, name)
    stage_frame = everything[everything["ts"] >= since] if since is not None else everything
    all_pairs = live_data.pairs(ws, name)
    stage_pairs = all_pairs[all_pairs["ts"] >= since] if since is not None and len(all_pairs) else all_pairs
    decision = evaluate(stage_frame, stage_pairs, s)
    shadow = {"pairs": int(len(all_pairs))}
    if len(all_pairs):
        agree = all_pairs["agree"].dropna()
        shadow["agreement"] = float(agree.mean()) if len(agree) else None
        shadow["shadow_failed"] = int((~all_pairs["shadow_ok"]).sum())
        saved = (all_pairs["control_cost_usd"] - all_pairs["shadow_cost_usd"]).dropna()
        shadow["saving_per_request_usd"] = float(saved.mean()) if len(saved) else None
        shadow["shadow_spend_usd"] = float(all_pairs["shadow_cost_usd"].fillna(0).sum())
        days = max((everything["ts"].max() - everything["ts"].min()).total_seconds() / 86400, 1.0) \
            if len(everything) else 1.0
        per_month = len(everything) / days * 30
        shadow["projected_monthly_saving_usd"] = (shadow["saving_per_request_usd"] * per_month
                                                  if shadow["saving_per_request_usd"] is not None else None)
    log = transitions(ws, name)
    log_rows = [{"ts": str(r.ts)[:19], "action": r.action, "actor": r.actor,
                 "share": None if pd.isna(r.to_share) else float(r.to_share), "state": r.to_state,
                 "reason": r.reason, "delivery": r.delivery} for r in log.itertuples()]
    return json_safe({
        "name": name, "spec": spec.to_dict(), "stage": spec.stage, "state": spec.state,
        "share": spec.serving_share, "since": spec.stage_started,
        "arms": {arm: _arm(everything, arm, s.alpha) for arm in ("control", "candidate")},
        "stage_requests": int(len(stage_frame)), "decision": decision.to_dict(), "shadow": shadow,
        "log": log_rows, "rule": RULE,
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")})


def _money(x) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"${x:,.6f}"


def _range(d: dict, money: bool = False) -> str:
    fmt = _money if money else (lambda v: "n/a" if v is None else f"{v:.3f}")
    if d.get("estimate") is None:
        return "n/a"
    if d.get("low") is None:
        return fmt(d["estimate"])
    return f"{fmt(d['estimate'])} ({fmt(d['low'])} to {fmt(d['high'])})"


def live_memo(status: dict) -> MemoContent:
    """The go/no-go memo of a live experiment (render with memo.render_html / render_pdf)."""
    spec, d = status["spec"], status["decision"]
    facts = [("Route", f"tradeoff/{spec['route']}"), ("Control (A)", spec["control"]),
             ("Candidate (B)", spec["candidate"]),
             ("Split", f"{status['share']:.0%} of units to the candidate, by {spec['unit']}"),
             ("Stage / state", f"{status['stage']}% / {status['state'].replace('_', ' ')}"),
             ("Tolerance", f"{spec['settings']['tolerance']:g}"),
             ("Decision rule", "always-valid 95% confidence sequences (safe to read daily)"),
             ("Memo date", status["generated_at"])]
    content = MemoContent(f"Live experiment: {status['name']}", d["verdict"], d["reason"], facts)
    rows = []
    for arm, label in (("control", "A control"), ("candidate", "B candidate")):
        a = status["arms"][arm]
        rows.append([label, f"{a['requests']:,}", f"{a['errors']:,}", _range(a["cost_per_request"], True),
                     _range(a["quality"]) + (f" [{a['quality']['source']}, n={a['quality']['n']}]"),
                     "n/a" if a["p95_ms"] is None else f"{a['p95_ms']:.0f}"])
    content.tables.append(Table("Whole experiment, per arm", ["arm", "requests", "errors",
                                "cost / request", "quality", "p95 ms"], rows,
                                "Ranges are always-valid 95% confidence sequences."))
    content.tables.append(Table(
        f"Guardrails at the current stage ({status['stage_requests']:,} requests since it began)",
        ["guardrail", "state", "value", "range", "limit", "source"],
        [[c["name"], c["state"], "n/a" if c["estimate"] is None else f"{c['estimate']:.4g}",
          "n/a" if c["low"] is None else f"{c['low']:.4g} to {c['high']:.4g}",
          "n/a" if c["limit"] is None else f"{c['limit']:.4g}", c.get("source") or c["rule"]]
         for c in d["checks"]], status["rule"]))
    sh = status["shadow"]
    if sh.get("pairs"):
        content.tables.append(Table("Shadow pairs (real calls, spend kept apart)",
                                    ["pairs", "agreement", "shadow failures", "saving / request",
                                     "projected monthly saving", "shadow spend"],
                                    [[f"{sh['pairs']:,}", "n/a" if sh.get("agreement") is None
                                      else f"{sh['agreement']:.1%}", f"{sh['shadow_failed']:,}",
                                      _money(sh.get("saving_per_request_usd")),
                                      "n/a" if sh.get("projected_monthly_saving_usd") is None
                                      else f"${sh['projected_monthly_saving_usd']:,.2f}",
                                      f"${sh['shadow_spend_usd']:,.4f}"]]))
    content.tables.append(Table("Decision log", ["when (UTC)", "action", "by", "share", "reason"],
                                [[r["ts"], r["action"], r["actor"],
                                  "n/a" if r["share"] is None else f"{r['share']:.0%}",
                                  (r["reason"] or "")[:140]] for r in status["log"][:12]]))
    return content
