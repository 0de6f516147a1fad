"""LLM-as-judge through the provider adapters and the live runner.

Pointwise, a judge reads the question, the reference answer when the eval set has one, a rubric
and one model's answer, and replies with a structured verdict (pass or fail) and a short reason.
Pairwise, it compares each answer with another model's answer to the same item (``against``),
asked in both orders (candidate shown first, then second) so position bias can be measured; the
candidate scores 1 for a win, 0.5 for a tie and 0 for a loss, averaged over the two orders.

::

    judge = Judge.from_spec("judge:openai:gpt-4o-mini", against="gpt-4")
    job = JudgeJob(ws, evalset, judge, task="support", recheck=20)
    job.estimate()                 # calls and worst-case cost, before anything is spent
    result = job.run(progress=print)

Calls go through :class:`core.live.run.LiveRun` (concurrency, retries with backoff, breakers,
cache, resume: the run id comes from the answers judged, so running the same job again continues
it) and are written to the ledger with ``source='evaluation'``, apart from production. Verdicts
are stored per answer (:mod:`core.evaluation.score_store`): judging the same answers again with
the same judge, rubric and version reuses them. A reply that cannot be read is recorded as
unreadable and counted; it is never scored 0. A sample of ``recheck`` answers is judged a second
time (cache off) to measure self-agreement.
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from core.errors import InputError
from core.evaluation import score_store
from core.evaluation.evalset import EvalSet
from core.evaluation.rescore import JUDGE_KIND, task_rows
from core.evaluation.scorers import expected_answers, model_texts
from core.live import store as run_store
from core.live.cache import CacheConfig
from core.live.prompts import ParsedAnswer
from core.live.providers import parse_model_id
from core.live.providers.base import ChatRequest
from core.live.run import LiveRun
from core.live.types import Progress, RunConfig, RunResult

JUDGE_VERSION = "1"
RECHECK = 20  # answers judged twice by default, for self-agreement
MAX_TOKENS = 400
SOURCE = "evaluation"  # the ledger's source for judge calls: never production spend
DEFAULT_RUBRIC = (
    "Decide whether the answer correctly answers the question. When a reference answer is given, "
    "the answer passes if it agrees with the reference in substance (wording may differ). An "
    "answer that is wrong, misses what was asked, or states things that are not true fails.")
PAIRWISE_RUBRIC = (
    "Decide which of the two answers better answers the question: more correct, more complete, "
    "truer to the reference answer when one is given. Do not prefer an answer for its length, "
    "style or position. Say tie only when they are equally good.")
VERDICTS = {"pointwise": ("pass", "fail"), "pairwise": ("A", "B", "tie")}
_SYNONYMS = {"pass": "pass", "passed": "pass", "correct": "pass", "fail": "fail", "failed": "fail",
             "incorrect": "fail", "a": "A", "answer_a": "A", "answer a": "A", "b": "B",
             "answer_b": "B", "answer b": "B", "tie": "tie", "draw": "tie", "equal": "tie"}
_VERDICT_LINE = re.compile(r"(?im)^\W*verdict\W*[:=]\W*([A-Za-z_ ]+?)\W*$")


def _tag(name: str, text) -> str:
    return f"<{name}>\n{'' if text is None else str(text).strip()}\n</{name}>"


def parse_verdict(text: str | None, mode: str) -> tuple[str | None, str | None, str | None]:
    """(verdict, reason, error) from a judge's reply: a JSON object with ``verdict`` and
    ``reason`` (also inside prose or a code fence), else a ``Verdict: X`` line.

    >>> parse_verdict('{"verdict": "PASS", "reason": "matches"}', "pointwise")
    ('pass', 'matches', None)
    >>> parse_verdict("I cannot tell.", "pairwise")[0] is None
    True
    """
    allowed = VERDICTS[mode]
    if text is None or not str(text).strip():
        return None, None, "empty reply"
    body = str(text)
    raw, reason = None, None
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", body):
        try:
            value, _ = decoder.raw_decode(body, match.start())
        except ValueError:
            continue
        if isinstance(value, dict):
            lowered = {str(k).lower(): v for k, v in value.items()}
            if "verdict" in lowered:
                raw, reason = lowered["verdict"], lowered.get("reason")
                break
    if raw is None:
        line = _VERDICT_LINE.search(body)
        raw = line.group(1) if line else None
    verdict = _SYNONYMS.get(str(raw).strip().lower()) if raw is not None else None
    if verdict not in allowed:
        shown = "no verdict found" if raw is None else f"verdict {str(raw)[:30]!r}"
        return None, None, f"{shown}; expected one of {', '.join(allowed)}"
    return verdict, (str(reason).strip()[:500] if reason is not None else None), None


@dataclass(frozen=True)
class Judge:
    """A judge: ``model`` (provider:model), an optional ``rubric`` (the default one when None)
    and, for pairwise judging, the eval-set model ``against`` whose answers are compared with."""

    model: str
    rubric: str | None = None
    against: str | None = None

    kind = JUDGE_KIND
    version = JUDGE_VERSION

    @classmethod
    def from_spec(cls, spec: str, rubric: str | None = None, against: str | None = None) -> Judge:
        """``judge:PROVIDER:MODEL`` (the provider one of anthropic, openai, gemini, local)."""
        kind, _, model = (spec or "").strip().partition(":")
        if kind.strip().lower() != JUDGE_KIND or not model.strip():
            raise InputError(f"{spec}: a judge is written judge:PROVIDER:MODEL, e.g. "
                             "judge:openai:gpt-4o-mini")
        provider, name = parse_model_id(model)
        return cls(f"{provider}:{name}", (rubric or "").strip() or None, (against or "").strip() or None)

    @property
    def mode(self) -> str:
        return "pairwise" if self.against else "pointwise"

    @property
    def spec(self) -> str:
        return f"judge:{self.model}"

    @property
    def label(self) -> str:
        text = self.spec + (f" vs {self.against}" if self.against else "")
        if self.rubric:
            text += f" (rubric {hashlib.sha256(self.rubric.encode()).hexdigest()[:6]})"
        return text

    def get_params(self) -> dict:
        return {"model": self.model, "rubric": self.rubric, "against": self.against}

    @property
    def scorer_id(self) -> str:
        return score_store.scorer_id(self.kind, self.version, self.get_params())

    # -- refusing before any call -----------------------------------------------------------
    def check(self, evalset: EvalSet, rows: np.ndarray) -> None:
        if evalset.n_models == 0:
            raise InputError(f"{evalset.name}: no model outputs to judge (an inputs-only eval set); "
                             "run it against models first")
        if self.against is not None and self.against not in evalset.models:
            raise InputError(f"{evalset.name}: pairwise judging compares every answer with model "
                             f"'{self.against}', which is not in the eval set (models: "
                             f"{', '.join(evalset.models)})")
        texts = model_texts(evalset)
        if not (rows[:, None] & pd.notna(texts)).any():
            raise InputError(f"{evalset.name}: no output to judge on the chosen items: the judge "
                             "reads the 'output' (or 'prediction') column")

    # -- prompts -------------------------------------------------------------------------------
    def system_prompt(self) -> str:
        rubric = self.rubric or (PAIRWISE_RUBRIC if self.against else DEFAULT_RUBRIC)
        if self.mode == "pairwise":
            fmt = ('Reply with a JSON object only: {"verdict": "A" | "B" | "tie", "reason": '
                   '"one short sentence"}. A means the answer in <answer_a> is better.')
        else:
            fmt = ('Reply with a JSON object only: {"verdict": "pass" | "fail", "reason": '
                   '"one short sentence"}.')
        return ("You are an impartial judge of answers written by AI models.\n"
                f"Rubric: {rubric}\n{fmt}")

    def pointwise_text(self, question, reference, answer) -> str:
        parts = [_tag("question", question)]
        if reference is not None:
            parts.append(_tag("reference", reference))
        parts.append(_tag("answer", answer))
        return "\n".join(parts)

    def pairwise_text(self, question, reference, first, second) -> str:
        parts = [_tag("question", question)]
        if reference is not None:
            parts.append(_tag("reference", reference))
        parts += [_tag("answer_a", first), _tag("answer_b", second)]
        return "\n".join(parts)

    def build_request(self, provider: str, model: str, task, text: str, labels=None) -> ChatRequest:
        """The runner's request hook: the rubric as system prompt, the question as user text."""
        schema = None
        if provider != "anthropic":
            schema = {"type": "object", "properties": {
                "verdict": {"type": "string", "enum": list(VERDICTS[self.mode])},
                "reason": {"type": "string"}}, "required": ["verdict", "reason"]}
            if provider != "gemini":
                schema["additionalProperties"] = False
        return ChatRequest(model=model, user=str(text), system=self.system_prompt(),
                           max_tokens=MAX_TOKENS, temperature=0.0,
                           response_format="json" if schema else "text", schema=schema)

    def parse_answer(self, provider: str, text: str | None, labels=None) -> ParsedAnswer:
        """The runner's parse hook: the verdict is the 'label'; unreadable replies say why."""
        verdict, _, error = parse_verdict(text, self.mode)
        return ParsedAnswer(verdict, None, verdict is not None, error)


class JudgeRun(LiveRun):
    """A live run over judge questions: its answers are verdicts, stored as scores, not as an
    eval set of their own."""

    def materialize(self) -> None:  # the verdicts become scores (JudgeJob.collect)
        return None


def _points(verdict, candidate_first: bool) -> float:
    if verdict is None:
        return np.nan
    if verdict == "tie":
        return 0.5
    return float((verdict == "A") == candidate_first)


class JudgeJob:
    """Judging the answers of one task (or all) of an eval set: the questions not judged yet,
    a cost estimate, the run (and the self-agreement re-run), and the verdicts stored."""

    def __init__(self, ws, evalset: EvalSet, judge: Judge, task: str | None = None, *,
                 recheck: int = RECHECK, config: RunConfig | None = None,
                 keys: dict[str, str] | None = None, base_urls: dict[str, str] | None = None,
                 provider_factory: Callable | None = None, name: str | None = None):
        self.ws, self.evalset, self.judge = ws, evalset, judge
        self.task = task or score_store.ALL_TASKS
        rows = task_rows(evalset, task)
        judge.check(evalset, rows)
        self.rows = rows
        self.scorer_id = score_store.register_scorer(ws, judge.kind, judge.spec, judge.label,
                                                     judge.version, judge.get_params())
        n, m = evalset.n_items, evalset.n_models
        self.keys = score_store.answer_keys(evalset, judge.against)
        texts = model_texts(evalset)
        target = rows[:, None] & pd.notna(texts)
        self.self_column = None
        if judge.against is not None:  # only items the compared-with model answered
            self.self_column = evalset.model_index(judge.against)
            target &= pd.notna(texts[:, self.self_column])[:, None]
            target[:, self.self_column] = False
        self.target = target
        stored = score_store.lookup_scores(ws, self.scorer_id, self.keys)
        self.stored = stored.set_index("answer_key")
        self.stored = self.stored[~self.stored.index.duplicated()]
        done = stored["stored"].to_numpy().reshape(n, m)
        recheck_done = stored["verdict_recheck"].notna().to_numpy().reshape(n, m)
        expected, _ = expected_answers(evalset) if evalset.has_references or evalset.has_labels \
            else (np.full(n, None, dtype=object), None)
        inputs = (evalset.items["input"].astype(object).where(evalset.items["input"].notna(), None)
                  .to_numpy() if "input" in evalset.items else np.full(n, None, dtype=object))
        other = texts[:, self.self_column] if self.self_column is not None else None
        questions, recheck_questions = [], []
        all_targets = sorted(self.keys[target].tolist())
        sample = set(all_targets[:max(0, int(recheck))])
        for i, j in zip(*np.nonzero(target)):
            key = self.keys[i, j]
            if judge.mode == "pairwise":
                first = judge.pairwise_text(inputs[i], expected[i], texts[i, j], other[i])
                asks = [(f"{key}|AB", first),
                        (f"{key}|BA", judge.pairwise_text(inputs[i], expected[i], other[i], texts[i, j]))]
            else:
                asks = [(key, judge.pointwise_text(inputs[i], expected[i], texts[i, j]))]
            if not done[i, j]:
                questions += [(qid, text, self.evalset.tasks[i]) for qid, text in asks]
            if key in sample and not recheck_done[i, j]:
                recheck_questions.append((asks[0][0], asks[0][1], self.evalset.tasks[i]))
        questions = list({q[0]: q for q in questions}.values())  # identical answers: asked once
        recheck_questions = list({q[0]: q for q in recheck_questions}.values())
        digest = hashlib.sha256((self.scorer_id + "\x00" + "\x00".join(all_targets)).encode())
        self.run_id = f"judge-{digest.hexdigest()[:16]}"
        self.name = name or f"{judge.label} on {evalset.name}"
        self.models = [judge.model]
        config = config or RunConfig()
        config = replace(config, source=SOURCE)
        common = {"keys": keys, "base_urls": base_urls, "provider_factory": provider_factory,
                  "build_request": judge.build_request, "parse_answer": judge.parse_answer}
        self.main = JudgeRun(ws, _questions(f"{self.name}", questions), self.models, config,
                             name=self.name, run_id=self.run_id, **common) if questions else None
        # A second judging of the sample must reach the model: the cache is off for it.
        recheck_config = replace(config, cache=CacheConfig(enabled=False))
        self.recheck = JudgeRun(ws, _questions(f"{self.name} (re-judged)", recheck_questions),
                                self.models, recheck_config, name=f"{self.name} (re-judged)",
                                run_id=f"{self.run_id}-recheck", **common) if recheck_questions else None
        self.reused = int((done & target).sum())

    # -- what start_background needs of a run -----------------------------------------------
    @property
    def runs(self) -> list[JudgeRun]:
        return [r for r in (self.main, self.recheck) if r is not None]

    @property
    def calls_to_make(self) -> int:
        return sum(len(r.pending_pairs()) for r in self.runs)

    def secrets(self) -> list[str]:
        return self.runs[0].secrets() if self.runs else []

    def estimate(self) -> pd.DataFrame:
        """Per pass (judging, re-judging the sample): calls still to make, input tokens, the
        output-token bound and the worst-case cost (NaN when the judge has no catalog price)."""
        rows = []
        for label, run in (("judging", self.main), ("re-judging a sample", self.recheck)):
            if run is None:
                continue
            est = run.estimate().iloc[0].to_dict()
            rows.append({"pass": label, **{k: est[k] for k in ("model", "calls", "input_tokens",
                                                               "max_output_tokens", "cost_usd")}})
        return pd.DataFrame(rows, columns=["pass", "model", "calls", "input_tokens",
                                           "max_output_tokens", "cost_usd"])

    def run(self, progress: Callable[[Progress], None] | None = None,
            cancel: threading.Event | None = None) -> RunResult:
        """Judge what is pending (main pass, then the re-judged sample), then store the verdicts."""
        cancel = cancel or threading.Event()
        totals = [len(r.evalset.items) * len(r.models) for r in self.runs]
        status, message, combined = "finished", None, Progress(total=sum(totals))
        offset = Progress(total=0)
        for run in self.runs:
            def report(p: Progress, base=offset) -> None:
                if progress:
                    progress(_shifted(p, base, sum(totals)))
            result = run.run(progress=report, cancel=cancel)
            combined = _shifted(result.progress, offset, sum(totals))
            offset = replace(combined, total=0)
            if result.status != "finished":
                status, message = result.status, result.message
                break
            if result.message:
                message = result.message
        self.collect()
        final = replace(combined, status=status)
        if progress:
            progress(final)
        return RunResult(self.run_id, status, final, None, message)

    # -- verdicts -> scores ---------------------------------------------------------------------
    def _verdicts(self, run: JudgeRun | None) -> dict[str, tuple]:
        """question id -> (verdict or None, reason or error, answered)."""
        if run is None:
            return {}
        calls = run_store.run_calls(self.ws, run.run_id)
        out = {}
        for row in calls.itertuples():
            answered = row.status in run_store.SUCCESS
            verdict, reason, error = parse_verdict(row.output if answered else None, self.judge.mode)
            out[str(row.item_id)] = (verdict, reason if verdict else error, answered)
        return out

    def collect(self) -> int:
        """Store the verdicts of every answer judged so far; returns how many were stored."""
        main, again = self._verdicts(self.main), self._verdicts(self.recheck)
        rows = []
        for i, j in zip(*np.nonzero(self.target)):
            key = self.keys[i, j]
            prior = self.stored.loc[key] if key in self.stored.index else None
            again_got = again.get(f"{key}|AB" if self.judge.mode == "pairwise" else key)
            recheck = again_got[0] if again_got is not None and again_got[2] else None
            if prior is not None and bool(prior["stored"]):
                if recheck is None or prior["verdict_recheck"] == recheck:
                    continue  # nothing new for an answer judged before
                record = {c: prior[c] for c in score_store.SCORE_COLUMNS[1:]}
            else:
                record = self._record(key, main)
                if record is None:
                    continue
            record["verdict_recheck"] = recheck
            rows.append({"answer_key": key, **record})
        if self.self_column is not None:  # the reference model ties with itself, by definition
            j = self.self_column
            own = self.rows & pd.notna(model_texts(self.evalset)[:, j])
            rows += [{"answer_key": self.keys[i, j], "score": 0.5, "parsed": True,
                      "detail": "the reference answers (a tie with themselves)"}
                     for i in np.flatnonzero(own)]
        frame = pd.DataFrame(rows)
        if len(frame):
            score_store.save_scores(self.ws, self.scorer_id, frame)
        return len(frame)

    def _record(self, key: str, main: dict) -> dict | None:
        """The stored row of one answer from this run's verdicts (None while a call is missing)."""
        if self.judge.mode == "pointwise":
            got = main.get(key)
            if got is None or not got[2]:
                return None  # not asked yet, or the call failed: asked again on the next run
            verdict, text, _ = got
            if verdict is None:
                return {"score": np.nan, "parsed": False, "detail": f"unreadable judge reply: {text}",
                        "verdict": None}
            return {"score": float(verdict == "pass"), "parsed": True, "detail": text,
                    "verdict": verdict}
        first, second = main.get(f"{key}|AB"), main.get(f"{key}|BA")
        if first is None or second is None or not first[2] or not second[2]:
            return None
        points = [p for p in (_points(first[0], True), _points(second[0], False)) if not np.isnan(p)]
        reasons = "; swapped: ".join(str(r) for r in (first[1], second[1]) if r)
        if not points:
            return {"score": np.nan, "parsed": False, "detail": f"unreadable judge replies: {reasons}",
                    "verdict": None, "verdict_swapped": None}
        return {"score": float(np.mean(points)), "parsed": True, "detail": reasons,
                "verdict": first[0], "verdict_swapped": second[0]}


def _shifted(p: Progress, base: Progress, total: int) -> Progress:
    return replace(p, total=total, done=base.done + p.done, ok=base.ok + p.ok,
                   failed=base.failed + p.failed, cached=base.cached + p.cached,
                   resumed=base.resumed + p.resumed, saved=base.saved + p.saved,
                   spend_usd=base.spend_usd + p.spend_usd)


def _questions(name: str, questions: list[tuple[str, str, object]]) -> EvalSet:
    """Judge questions as an inputs-only eval set the runner can send (item = question id)."""
    items = pd.DataFrame({"item_id": [q[0] for q in questions], "input": [q[1] for q in questions],
                          "task": [None if q[2] == "all" else q[2] for q in questions]})
    empty = np.zeros((len(items), 0))
    return replace(EvalSet.from_arrays(name, [], score=empty, items=items), format="inputs")


__all__ = ["Judge", "JudgeJob", "JudgeRun", "parse_verdict", "DEFAULT_RUBRIC", "PAIRWISE_RUBRIC",
           "RECHECK", "SOURCE"]
