"""Live experiments on gateway traffic: their definitions, feedback, shadow pairs and decisions.

An experiment splits the requests of one route (``tradeoff/ROUTE``) between a control and a
candidate policy by a stable hash of a unit (a header's value, or the request id), and may also
call the candidate in shadow for a share of the control's requests. The gateway tags each served
request's ledger rows with ``experiment`` and ``variant`` (the arm); shadow calls are ledger rows
with ``source='shadow'`` (real, billable spend kept apart from production)::

    spec = LiveSpec("cheap-support", route="support", control="support", candidate="cascade")
    save_spec(ws, spec, action="created", reason="started from the console")
    current_specs(ws)["cheap-support"].share        # 0.05: a rollout starts at its first stage

Tables use only what every store of the product supports (no keys, sequences, upserts or
indexes): definitions and decisions are appended (a revision per name, the newest wins);
feedback is appended and the newest per request id wins (a duplicate replaces, and is kept).
"""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from core.errors import InputError
from core.experiments.live_scores import live_scorer_specs
from core.exports import json_safe
from core.workspace import Workspace
from core.workspace.readcache import cached_read

STAGES = (5, 25, 50, 100)
STATES = ("running", "paused", "rolled_back", "completed", "stopped")
MODES = ("rollout", "ab")
MIGRATIONS = [
    """
    create table live_experiments (
        name varchar not null,            -- also the ledger's experiment column
        revision integer not null,        -- 1, 2, ... per name; the newest is current
        spec_json varchar not null,       -- LiveSpec
        updated_at timestamp not null
    );
    create table experiment_transitions (
        transition_id varchar not null,   -- uuid made by the application
        experiment varchar not null,
        revision integer not null,        -- the live_experiments revision it produced
        ts timestamp not null,
        action varchar not null,          -- created | advance | rollback | pause | resume | ...
        actor varchar not null,           -- auto (the gateway) | pm (the console) | system
        from_share double,
        to_share double,
        from_state varchar,
        to_state varchar,
        reason varchar not null,
        evidence_json varchar,            -- the guardrail table and figures that decided
        delivery varchar                  -- webhook delivery, for people
    );
    create table experiment_feedback (
        request_id varchar not null,      -- the chat completion's id as the gateway returned it
        experiment varchar,
        arm varchar,
        score double,                     -- 0..1 (thumbs up 1, down 0)
        thumbs varchar,
        label varchar,
        origin varchar not null,          -- api | import:<file>
        received_at timestamp not null
    );
    create table experiment_pairs (
        request_id varchar not null,
        experiment varchar not null,
        ts timestamp not null,
        agree boolean,                    -- NULL: not comparable (an answer missing)
        shadow_ok boolean not null,
        control_cost_usd double,
        shadow_cost_usd double,
        control_latency_ms double,
        shadow_latency_ms double
    );
    insert into store_locks values ('live_experiments', 0);
    """,
    """
    create table experiment_scores (
        request_id varchar not null,      -- a served request of the experiment
        experiment varchar not null,
        arm varchar,
        scorer varchar not null,          -- a live scorer's canonical spec (core.experiments.live_scores)
        score double not null,            -- 0..1
        scored_at timestamp not null
    );
    """,
]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


def ensure_live(ws: Workspace) -> None:
    ws.ensure("live_experiments", MIGRATIONS)


def write(ws: Workspace, body):
    """Every write of this module: one all-or-nothing unit through the store's write path
    (re-run whole after a lost commit race)."""
    ensure_live(ws)
    return ws.write(body)


def append(ws: Workspace, frame: pd.DataFrame, insert_sql: str) -> int:
    """Append ``frame`` (seen by ``insert_sql`` as ``_rows``) in one bulk write; rows appended."""
    def body(cur):
        cur.register("_rows", frame)
        try:
            cur.execute(insert_sql)
        finally:
            cur.unregister("_rows")
        return len(frame)

    return write(ws, body)


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Settings:
    """The decision rule's parameters (see :mod:`core.experiments.decision`)."""

    tolerance: float = 0.02        # largest acceptable quality drop
    error_ratio: float = 1.5       # breach: candidate error rate > ratio x control + margin
    error_margin: float = 0.02
    cost_ratio: float = 1.5        # breach: candidate cost per request > ratio x control
    latency_ratio: float = 1.5     # breach: > 5% of candidate requests slower than ratio x control p95
    alpha: float = 0.05
    min_per_arm: int = 50          # requests per arm in a stage before it may advance
    mde: float = 0.02              # the quality effect the PM cares about (sample-size estimate)
    require_quality: bool = True   # advance only with a quality signal (feedback or shadow pairs)

    def check(self) -> None:
        if not 0 <= self.tolerance < 1:
            raise InputError(f"Tolerance must be between 0 and 1; got {self.tolerance}")
        for name in ("error_ratio", "cost_ratio", "latency_ratio"):
            if not getattr(self, name) >= 1:
                raise InputError(f"{name.replace('_', ' ')} must be at least 1; got {getattr(self, name)}")
        if not 0 < self.alpha < 0.5:
            raise InputError(f"Alpha must be between 0 and 0.5; got {self.alpha}")
        if self.min_per_arm < 2:
            raise InputError(f"At least 2 requests per arm are needed; got {self.min_per_arm}")


@dataclass(frozen=True)
class LiveSpec:
    name: str
    route: str                     # clients call tradeoff/ROUTE
    control: str                   # deployed (or saved) policy names
    candidate: str
    unit: str = "x-tradeoff-user"  # the header whose value is hashed; "request": the request id
    mode: str = "rollout"          # rollout: 5->25->50->100 automatically; ab: a fixed share
    share: float = 0.05            # the candidate's share of the route's units
    shadow_share: float = 0.0      # share of control requests also sent to the candidate
    shadow_budget_usd: float = 5.0  # shadow spend allowed per UTC day
    state: str = "running"
    webhooks: tuple[str, ...] = ()
    scorers: tuple[str, ...] = ()  # live scorers judging each served answer (json, json-schema, regex)
    stages: tuple[int, ...] = STAGES  # percent of units on the candidate, in order
    settings: Settings = field(default_factory=Settings)
    stage_started: str | None = None  # ISO time the current share began (evidence since then)
    note: str = ""                    # why the state is what it is, for people
    revision: int = 0

    @property
    def serving_share(self) -> float:
        """The candidate's share of traffic now (0 unless running or paused)."""
        return self.share if self.state in ("running", "paused") else (1.0 if self.state == "completed" else 0.0)

    @property
    def stage(self) -> int:
        return round(self.share * 100)

    def next_stage(self) -> int | None:
        later = [s for s in self.stages if s > self.stage]
        return later[0] if later else None

    def check(self) -> LiveSpec:
        if not _NAME.match(self.name or ""):
            raise InputError(f"Experiment name '{self.name}': use letters, digits, '.', '_' or '-' "
                             "(at most 80, starting with a letter or digit)")
        if self.control == self.candidate:
            raise InputError("Control and candidate are the same policy: pick two different ones")
        if self.mode not in MODES:
            raise InputError(f"Mode must be one of {', '.join(MODES)}; got '{self.mode}'")
        if self.state not in STATES:
            raise InputError(f"State must be one of {', '.join(STATES)}; got '{self.state}'")
        if not 0 <= self.share <= 1:
            raise InputError(f"The candidate's share must be between 0 and 1; got {self.share}")
        if not 0 <= self.shadow_share <= 1:
            raise InputError(f"The shadow share must be between 0 and 1; got {self.shadow_share}")
        if not self.shadow_budget_usd >= 0:
            raise InputError(f"The shadow budget must be 0 or more USD a day; got {self.shadow_budget_usd}")
        if not self.unit.strip():
            raise InputError("Name the header that identifies a unit (e.g. x-tradeoff-user), or 'request'")
        if not self.stages or list(self.stages) != sorted(set(self.stages)) or self.stages[-1] != 100 \
                or self.stages[0] <= 0:
            raise InputError(f"Stages must rise from above 0 to 100 percent; got {list(self.stages)}")
        for url in self.webhooks:
            if not re.match(r"^https?://", url):
                raise InputError(f"Webhook '{url}': expected an http:// or https:// URL")
        if tuple(self.scorers) != live_scorer_specs(self.scorers):
            raise InputError(f"Scorers {list(self.scorers)}: give them through live_scorer_specs "
                             "(canonical, no expected answer needed)")
        self.settings.check()
        return self

    def to_dict(self) -> dict[str, Any]:
        return json_safe({**asdict(self), "webhooks": list(self.webhooks), "stages": list(self.stages),
                          "scorers": list(self.scorers)})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LiveSpec:
        data = dict(data)
        data["settings"] = Settings(**(data.get("settings") or {}))
        data["webhooks"] = tuple(data.get("webhooks") or ())
        data["scorers"] = tuple(data.get("scorers") or ())
        data["stages"] = tuple(data.get("stages") or STAGES)
        return cls(**data)


def current_specs(ws: Workspace) -> dict[str, LiveSpec]:
    """name -> the newest definition of every live experiment."""
    ensure_live(ws)
    rows = cached_read(ws, ("live_experiments",), "live.current_specs", lambda: ws.cursor().execute(
        "select revision, spec_json from (select *, row_number() over (partition by name "
        "order by revision desc) as r from live_experiments) where r = 1 order by name").fetchall())
    out = {}
    for revision, spec in rows:
        s = LiveSpec.from_dict(json.loads(spec))
        out[s.name] = replace(s, revision=int(revision))
    return out


def save_spec(ws: Workspace, spec: LiveSpec, *, action: str, reason: str, actor: str = "pm",
              evidence: dict | None = None, expect_revision: int | None = None,
              delivery: str | None = None) -> LiveSpec | None:
    """Append ``spec`` as the experiment's next revision and its transition, in one write.
    ``expect_revision``: write only if the current revision is still that one (None otherwise:
    someone else changed it first)."""
    spec.check()
    before = current_specs(ws).get(spec.name)

    def body(cur):
        ws.bump(cur, "live_experiments")  # the gateway's agent and the console at once: one wins,
        # the other re-runs and sees the new revision (no duplicate revision numbers)
        current = cur.execute("select max(revision) from live_experiments where name = ?",
                              [spec.name]).fetchone()[0]
        if expect_revision is not None and (current or 0) != expect_revision:
            return None
        revision = int(current or 0) + 1
        stamp = now()
        saved = replace(spec, revision=revision)
        cur.execute("insert into live_experiments values (?, ?, ?, ?)",
                    [spec.name, revision, json.dumps(saved.to_dict()), stamp])
        cur.execute("insert into experiment_transitions values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [uuid.uuid4().hex, spec.name, revision, stamp, action, actor,
                     before.serving_share if before else None, saved.serving_share,
                     before.state if before else None, saved.state, reason,
                     json.dumps(json_safe(evidence)) if evidence is not None else None, delivery])
        return saved

    return write(ws, body)


def record_delivery(ws: Workspace, experiment: str, revision: int, delivery: str) -> None:
    """Note how a transition's webhooks went."""
    write(ws, lambda cur: cur.execute(
        "update experiment_transitions set delivery = ? where experiment = ? and revision = ?",
        [delivery, experiment, revision]))


def transitions(ws: Workspace, experiment: str | None = None, undelivered: bool = False) -> pd.DataFrame:
    """The decision log, newest first (``undelivered``: only transitions whose webhooks have not
    been noted yet)."""
    ensure_live(ws)
    conditions, params = (["experiment = ?"], [experiment]) if experiment else ([], [])
    if undelivered:
        conditions.append("delivery is null")
    where = ("where " + " and ".join(conditions)) if conditions else ""
    sql = ("select ts, experiment, action, actor, from_share, to_share, from_state, to_state, reason, "
           f"evidence_json, delivery, revision from experiment_transitions {where} "
           "order by ts desc, revision desc")
    return cached_read(ws, ("experiment_transitions",), ("live.transitions", sql, tuple(params)),
                       lambda: ws.cursor().execute(sql, params).df())


# -- feedback ----------------------------------------------------------------------------------
THUMBS = {"up": 1.0, "down": 0.0}


def feedback_value(score=None, thumbs=None, label=None, where: str = "") -> tuple[float | None, str | None, str | None]:
    """``(score, thumbs, label)`` checked: a score in 0..1, thumbs up/down, or a label."""
    prefix = f"{where}: " if where else ""
    if score is None and thumbs is None and label is None:
        raise InputError(f"{prefix}give a score (0..1), thumbs ('up' or 'down') or a label")
    if score is not None:
        if isinstance(score, bool):
            raise InputError(f"{prefix}score must be a number between 0 and 1; got {score}")
        try:
            score = float(score)
        except (TypeError, ValueError):
            raise InputError(f"{prefix}score must be a number between 0 and 1; got '{score}'") from None
        if not 0.0 <= score <= 1.0:
            raise InputError(f"{prefix}score must be between 0 and 1; got {score:g}")
    if thumbs is not None:
        t = str(thumbs).strip().lower()
        if t not in THUMBS:
            raise InputError(f"{prefix}thumbs must be 'up' or 'down'; got '{thumbs}'")
        thumbs = t
        if score is None:
            score = THUMBS[t]
    if label is not None:
        label = str(label).strip()
        if not label or len(label) > 200 or "\x00" in label:
            raise InputError(f"{prefix}label must be 1 to 200 characters of text")
    return score, thumbs, label


def record_feedback(ws: Workspace, rows: list[dict[str, Any]]) -> int:
    """Append checked feedback rows (request_id, experiment, arm, score, thumbs, label, origin,
    received_at) in one bulk write; the newest per request id is the one that counts."""
    if not rows:
        return 0
    frame = pd.DataFrame(rows, columns=["request_id", "experiment", "arm", "score", "thumbs",
                                        "label", "origin", "received_at"])
    frame["received_at"] = pd.to_datetime(frame["received_at"]).dt.tz_localize(None)

    return append(ws, frame, "insert into experiment_feedback select request_id, experiment, arm, "
                  "cast(score as double), thumbs, label, origin, received_at from _rows")


def record_pairs(ws: Workspace, rows: list[dict[str, Any]]) -> int:
    """Append shadow pairs in one bulk write (a pair seen twice counts once when read)."""
    if not rows:
        return 0
    frame = pd.DataFrame(rows, columns=["request_id", "experiment", "ts", "agree", "shadow_ok",
                                        "control_cost_usd", "shadow_cost_usd",
                                        "control_latency_ms", "shadow_latency_ms"])
    frame["ts"] = pd.to_datetime(frame["ts"]).dt.tz_localize(None)
    frame["agree"] = frame["agree"].astype("boolean")

    return append(ws, frame, "insert into experiment_pairs select request_id, experiment, ts, agree, "
                  "shadow_ok, control_cost_usd, shadow_cost_usd, control_latency_ms, "
                  "shadow_latency_ms from _rows p where not exists (select 1 from "
                  "experiment_pairs e where e.request_id = p.request_id and e.experiment = p.experiment)")


def record_scores(ws: Workspace, rows: list[dict[str, Any]]) -> int:
    """Append the workers' score events (request_id, experiment, arm, scores {spec: 0..1}, ts),
    one row per scorer, in one bulk write."""
    flat = [(r["request_id"], r["experiment"], r.get("arm"), spec, float(value), r["ts"])
            for r in rows for spec, value in (r.get("scores") or {}).items()]
    if not flat:
        return 0
    frame = pd.DataFrame(flat, columns=["request_id", "experiment", "arm", "scorer", "score", "scored_at"])
    frame["scored_at"] = pd.to_datetime(frame["scored_at"], utc=True).dt.tz_localize(None)

    return append(ws, frame, "insert into experiment_scores select request_id, experiment, arm, "
                  "scorer, cast(score as double), scored_at from _rows")
