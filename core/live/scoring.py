"""Re-scoring an eval set with any scorer, the LLM judge included, and the ``rescore`` command.

``python -m core rescore EVALSET.csv --scorer SPEC [--task T] --out SCORED.csv`` writes the eval
set in the long layout with ``score`` filled by the scorer on the chosen task (other tasks keep
the file's scores). SPEC is one of :data:`core.evaluation.scorers.SPEC_FORMS` or
``judge:PROVIDER:MODEL`` (``--rubric FILE``, ``--against MODEL`` for pairwise judging,
``--recheck N`` answers judged twice for self-agreement). Scores are stored in the workspace:
the same command again reuses them, and an interrupted judge run continues where it stopped.
A judge's cost estimate is printed before its first call. Exit codes: 0 done, 1 some judge
calls failed or the run stopped early (SCORED.csv is still written; rerun to finish), 2 bad
input, 3 workspace locked.
"""
from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

import numpy as np

from core.errors import InputError
from core.evaluation import score_store
from core.evaluation.evalset import EvalSet, to_long_csv
from core.evaluation.rescore import Rescored, apply_parts, score_task, stored_task, task_rows
from core.evaluation.scorers import Scorer, parse_scorer
from core.live.judge import RECHECK, Judge, JudgeJob
from core.live.types import RunConfig

JUDGE_FORM = "judge:PROVIDER:MODEL"


def parse_spec(spec: str, rubric: str | None = None, against: str | None = None) -> Scorer | Judge:
    """A deterministic scorer, or a judge for ``judge:PROVIDER:MODEL``.

    >>> parse_spec("judge:openai:gpt-4o-mini", against="big").label
    'judge:openai:gpt-4o-mini vs big'
    >>> parse_spec("exact", against="big")
    Traceback (most recent call last):
    core.errors.InputError: --rubric and --against apply to judge:PROVIDER:MODEL scorers only, not to 'exact'
    """
    kind = (spec or "").strip().partition(":")[0].strip().lower()
    if kind == "judge":
        return Judge.from_spec(spec, rubric, against)
    if rubric or against:
        raise InputError(f"--rubric and --against apply to {JUDGE_FORM} scorers only, not to '{spec}'")
    return parse_scorer(spec, also=(JUDGE_FORM,))


def judged(ws, evalset: EvalSet, job: JudgeJob) -> Rescored:
    """The eval set with the judge's stored verdicts on the job's task."""
    judge = job.judge
    part = stored_task(ws, evalset, job.scorer_id, job.task, judge.kind, judge.label,
                       judge.version, judge.against)
    return apply_parts(evalset, [part])


def summary(rescored: Rescored, spec_label: str, task: str) -> dict:
    """What the command reports (JSON-safe): per model quality and counts, and judge trust."""
    board = rescored.breakdown()
    models = []
    for row in board.itertuples():
        models.append({"model": row.model, "quality": None if np.isnan(row.quality) else row.quality,
                       "scored": row.scored, "unparsed": row.unparsed, "not_scored": row.not_scored})
    part = rescored.parts[0]
    trust = rescored.trust()
    for t in trust:  # JSON has no NaN
        for block in ("agreement", "self_agreement", "position_bias"):
            if t.get(block):
                t[block] = {k: (None if isinstance(v, float) and np.isnan(v) else v)
                            for k, v in t[block].items()}
    return {"scorer": spec_label, "version": part.version, "task": task,
            "items": int(part.rows.sum()), "reused": part.reused, "computed": part.computed,
            "calibration": part.info, "models": models, "trust": trust}


def _run_judge(ws, evalset: EvalSet, judge: Judge, task, recheck: int, concurrency: int,
               spend_cap: float | None) -> tuple[JudgeJob, object]:
    from core.live.command import StderrProgress, env_keys_and_urls

    judge.check(evalset, task_rows(evalset, task))  # the eval set first, then the key
    provider = judge.model.split(":", 1)[0]
    keys, urls = env_keys_and_urls([provider])
    job = JudgeJob(ws, evalset, judge, task, recheck=recheck,
                   config=RunConfig(concurrency=concurrency, spend_cap_usd=spend_cap),
                   keys=keys, base_urls=urls)
    estimate = job.estimate()
    calls = int(estimate["calls"].sum()) if len(estimate) else 0
    known = estimate["cost_usd"].dropna()
    cost = (f"at most ${known.sum():.4f}" if len(known) == len(estimate) and len(estimate)
            else "cost unknown (no catalog price for the judge)")
    print(f"judge {judge.label}: {job.reused} answer(s) already judged, {calls} call(s) to make"
          + (f", {cost}" if calls else "") + " (estimate before any call)", file=sys.stderr, flush=True)
    if not calls:
        job.collect()
        return job, None
    cancel = threading.Event()

    def on_interrupt(signum, frame):  # Ctrl-C: finish the calls in flight, keep every verdict
        print("interrupted: finishing the calls in flight (Ctrl-C again to abort)", file=sys.stderr,
              flush=True)
        cancel.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, on_interrupt) \
        if threading.current_thread() is threading.main_thread() else None
    printer = StderrProgress()
    try:
        result = job.run(progress=printer, cancel=cancel)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    printer.done(result.progress)
    return job, result


def rescore_cli(evalset_path, spec: str, out_path, task: str | None = None, *,
                rubric_path: str | None = None, against: str | None = None,
                recheck: int = RECHECK, concurrency: int = 8, spend_cap: float | None = None,
                as_json: bool = False) -> int:
    from core.evaluation.loading import load_csv
    from core.workspace import open_workspace

    rubric = None
    if rubric_path:
        path = Path(rubric_path)
        if not path.is_file():
            raise InputError(f"--rubric {rubric_path}: no such file")
        rubric = path.read_text(encoding="utf-8", errors="replace").strip()
        if not rubric:
            raise InputError(f"--rubric {rubric_path}: the file is empty")
    if concurrency < 1:
        raise InputError(f"--concurrency must be at least 1, got {concurrency}")
    if recheck < 0:
        raise InputError(f"--recheck must be zero or more, got {recheck}")
    scorer = parse_spec(spec, rubric, against)  # a bad spec is refused before the file is read
    path = Path(evalset_path)
    evalset = load_csv(path)
    ws = open_workspace()
    failed = 0
    status = "finished"
    if isinstance(scorer, Judge):
        job, result = _run_judge(ws, evalset, scorer, task, recheck, concurrency, spend_cap)
        rescored = judged(ws, evalset, job)
        rescored.parts[0].computed = max(0, rescored.parts[0].reused - job.reused)
        rescored.parts[0].reused = job.reused
        label = scorer.label
        if result is not None:
            failed, status = result.progress.failed, result.status
    else:
        rescored = apply_parts(evalset, [score_task(ws, evalset, scorer, task)])
        label = scorer.label
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(to_long_csv(rescored.evalset))
    report = summary(rescored, label, task or score_store.ALL_TASKS)
    for row in report["models"]:
        quality = "unscored" if row["quality"] is None else f"{row['quality']:.3f}"
        print(f"  {row['model']:<40} quality {quality}  scored {row['scored']}  unparsed "
              f"{row['unparsed']}  not scored {row['not_scored']}", file=sys.stderr)
    for t in report["trust"]:
        print(t["caption"], file=sys.stderr)
    print(f"wrote {out} ({label}: {report['computed']} scored now, {report['reused']} reused)",
          file=sys.stderr)
    if as_json:
        json.dump(report, sys.stdout, default=str)
        sys.stdout.write("\n")
    if status != "finished" or failed:
        print(f"error: the judge run {status}" + (f" with {failed} failed call(s)" if failed else "")
              + "; rerun the same command to finish it", file=sys.stderr)
        return 1
    return 0
