"""Live runs: an eval set × models, called through the provider SDKs, every call recorded.

::

    run = LiveRun(ws, evalset, ["anthropic:claude-haiku-4-5", "openai:gpt-4o-mini"],
                  RunConfig(concurrency=8, spend_cap_usd=2.0), name="nightly")
    run.estimate()          # per model: calls still to make, estimated tokens and cost
    result = run.run(progress=print)          # blocking; or start_background(run) from a page
    result.status, result.results_evalset_id  # 'finished', 7

How it behaves:

* asyncio workers, at most ``concurrency`` calls in flight in total, and a token-bucket request
  rate per provider (``rate_limits``);
* retryable failures (429, 5xx, timeouts, dropped connections) are retried with exponential
  backoff and full jitter, never sooner than the server's ``retry-after``;
* a circuit breaker per provider: after ``breaker_threshold`` consecutive failures no call is
  sent until the cool-down is over and a probe succeeds; calls wait for it, they do not fail (a
  burst of 429s pauses the run). Only when ``breaker_probes`` probes in a row fail is the
  provider taken as down: its remaining calls fail, unsent, with its own last error (HTTP
  status and message);
* an optional fallback chain per model: when a model fails for good, the next one is asked and
  the row says who answered;
* every finished call (ok, cached, failed) is appended to the run's journal as it arrives, before
  it counts as done (:mod:`core.live.journal`), and written in small bulk batches to
  ``run_calls`` and the ledger; a rerun with the same ``run_id`` first writes what a killed
  attempt journaled, then skips every (item, model) already answered;
* a spend cap stops dispatching before the cap can be crossed (in-flight calls are budgeted at
  their worst case), and a cancel event stops cleanly;
* at the end the answers become an EvalSet in the workspace (long format: prediction, score =
  prediction == label where labels exist, confidence, tokens, cost, latency); the confidence is
  the one the model states, or the label token's probability with
  ``confidence_source="logprob"`` where the provider returns log-probabilities.
"""
from __future__ import annotations

import asyncio
import copy
import functools
import math
import threading
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.live import store as run_store
from core.live.execute import Execution
from core.live.journal import replay
from core.live.keys import redact
from core.live.providers.base import ChatRequest, ChatResponse, Provider
from core.live.types import Progress, RunConfig, RunResult, new_run_id
from core.pricing.caching import CHARS_PER_TOKEN  # the one offline token estimate
from core.pricing.catalog import Catalog
from core.pricing.edits import catalog_for
from core.workspace import Workspace

MAX_LABEL_CHOICES = 30  # more distinct labels than this in a task: an open question
_PROBE = "\x00item input\x00"  # stands for the input when a template is built once  # offline token estimate (tiktoken cannot download its tables here)


def response_cost(catalog: Catalog, provider: str, model: str, usage: ChatResponse) -> float | None:
    """USD of one call at ``catalog``'s price (None when the model has no price)."""
    return catalog.call_cost(f"{provider}:{model}", usage.input_tokens, usage.output_tokens,
                     cached_read_tokens=usage.cached_read_tokens,
                     cached_write_tokens=usage.cached_write_tokens)


class LiveRun:
    """One run of ``evalset`` items against ``models`` (``provider:model`` ids).

    ``keys`` (provider -> key) override the environment for this run only and are never stored.
    ``provider_factory(provider) -> Provider`` replaces the SDK adapters (tests, custom clients);
    ``build_request`` / ``parse_answer`` / ``cost_fn`` replace the prompt templates and prices;
    ``catalog`` prices calls (default: the workspace's catalog, its price edits included).
    """

    def __init__(self, ws: Workspace, evalset: EvalSet, models: list[str],
                 config: RunConfig | None = None, *, name: str | None = None,
                 run_id: str | None = None, evalset_id: int | None = None,
                 keys: dict[str, str] | None = None, base_urls: dict[str, str] | None = None,
                 provider_factory: Callable[[str], Provider] | None = None,
                 build_request: Callable | None = None, parse_answer: Callable | None = None,
                 cost_fn: Callable[[str, str, ChatResponse], float | None] | None = None,
                 catalog: Catalog | None = None):
        if not models:
            raise InputError("Choose at least one model to run (provider:model)")
        if "input" not in evalset.items or evalset.items["input"].isna().all():
            raise InputError(f"{evalset.name}: a live run needs an 'input' column with the text "
                             "to send to each model")
        from core.live.keys import install_log_redaction, register_secret

        install_log_redaction()  # whatever an SDK logs, no key leaves this process in a log line
        for key in (keys or {}).values():
            register_secret(key)
        self.ws = ws
        self.evalset = evalset
        self.models = list(dict.fromkeys(models))
        self.config = config or RunConfig()
        self.name = name or evalset.name
        self.run_id = run_id or new_run_id()
        self.evalset_id = evalset_id
        self._keys = dict(keys or {})
        self._base_urls = dict(base_urls or {})
        self._provider_factory = provider_factory
        self.catalog = catalog or catalog_for(ws)
        self._cost_fn = cost_fn or functools.partial(response_cost, self.catalog)
        if build_request is None or parse_answer is None:
            from core.live import prompts

            build_request = build_request or prompts.build_request
            parse_answer = parse_answer or prompts.parse_answer
        self.build_request_fn = build_request
        self.parse_answer = parse_answer
        self._templates: dict = {}
        self._cost_memo: dict = {}
        self.model_ids = {m: self._parse_model(m) for m in self.all_models()}
        items = evalset.items
        self.item_ids = items["item_id"].astype(str).to_numpy(dtype=object)
        self.inputs = items["input"].fillna("").astype(str).to_numpy(dtype=object)
        self.tasks = (items["task"].astype(object).where(items["task"].notna(), None).to_numpy()
                       if "task" in items else np.full(len(items), None, dtype=object))
        self.labels = (items["label"].astype(object).where(items["label"].notna(), None).to_numpy()
                        if "label" in items else np.full(len(items), None, dtype=object))
        self.label_sets = self._labels_per_task()

    # -- setup -------------------------------------------------------------------------------
    @staticmethod
    def _parse_model(model_id: str) -> tuple[str, str]:
        from core.live.providers import parse_model_id

        return parse_model_id(model_id)

    def all_models(self) -> list[str]:
        """The run's models and every fallback they may use."""
        out = list(self.models)
        for m in self.models:
            out += [f for f in self.config.fallbacks.get(m, []) if f not in out]
        return out

    def providers(self) -> list[str]:
        return sorted({self.model_ids[m][0] for m in self.all_models()})

    def _labels_per_task(self) -> dict:
        """The label vocabulary per task, so a classification prompt can list the choices."""
        if not any(v is not None for v in self.labels):
            return {}
        frame = pd.DataFrame({"task": pd.Series(self.tasks, dtype=object).fillna("*"),
                              "label": self.labels}).dropna()
        sets = {t: sorted(set(map(str, g["label"]))) for t, g in frame.groupby("task")}
        # Many distinct labels (free-form answers, numbers) are not a choice list: ask openly.
        return {t: labels for t, labels in sets.items() if len(labels) <= MAX_LABEL_CHOICES}

    def _template(self, model_id: str, task) -> tuple[ChatRequest, bool, str]:
        """The request of (model, task) with a probe input, whether it can be reused by swapping
        the user text, and the cache digest of everything but that text."""
        key = (model_id, task)
        found = self._templates.get(key)
        if found is None:
            provider, model = self.model_ids[model_id]
            labels = self.label_sets.get(task if task is not None else "*")
            probe = self.build_request_fn(provider, model, task, _PROBE, labels)
            changes = {}
            if self.config.max_tokens is not None:
                changes["max_tokens"] = int(self.config.max_tokens)
            if self.config.temperature is not None:
                changes["temperature"] = float(self.config.temperature)
            probe = replace(probe, **changes) if changes else probe
            from core.live.cache import request_digest

            found = (probe, probe.user == _PROBE, request_digest(provider, probe))
            self._templates[key] = found
        return found

    def request(self, model_id: str, i: int) -> ChatRequest:
        """The request for item ``i``: the task's template with the item's input as user text."""
        template, reusable, _ = self._template(model_id, self.tasks[i])
        if not reusable:  # a template that weaves the input into other text: build it fully
            provider, model = self.model_ids[model_id]
            labels = self.label_sets.get(self.tasks[i] if self.tasks[i] is not None else "*")
            return replace(self.build_request_fn(provider, model, self.tasks[i], self.inputs[i],
                                               labels), max_tokens=template.max_tokens,
                           temperature=template.temperature)
        request = copy.copy(template)
        object.__setattr__(request, "user", str(self.inputs[i]))  # a frozen dataclass, copied
        return request

    def call_cost(self, provider: str, model: str, usage: ChatResponse) -> float | None:
        """Cost of a call, memoized for this run: token counts repeat, a catalog lookup costs
        about a millisecond, and prices do not change in the middle of a run."""
        key = (provider, model, usage.input_tokens, usage.output_tokens, usage.cached_read_tokens,
               usage.cached_write_tokens)
        if key not in self._cost_memo:
            self._cost_memo[key] = self._cost_fn(provider, model, usage)
        return self._cost_memo[key]

    def cache_key(self, model_id: str, i: int, request: ChatRequest) -> str:
        from core.live.cache import cache_key

        _, reusable, digest = self._template(model_id, self.tasks[i])
        provider = self.model_ids[model_id][0]
        return cache_key(provider, request, digest if reusable else None)

    def pending_pairs(self) -> list[tuple[int, str]]:
        """(item index, model) pairs without an answer yet, item by item."""
        done = run_store.done_pairs(self.ws, self.run_id)
        return [(i, m) for i in range(len(self.item_ids)) for m in self.models
                if (self.item_ids[i], m) not in done]

    # -- cost estimate ------------------------------------------------------------------------
    def estimate(self, pending_only: bool = True) -> pd.DataFrame:
        """Per model: calls to make, estimated input tokens (from text length), output tokens at
        ``max_tokens`` (an upper bound) and cost from the catalog (NaN when the price is unknown).
        """
        run_store.ensure_runs(self.ws)
        done = run_store.done_pairs(self.ws, self.run_id) if pending_only else set()
        lengths = pd.Series(self.inputs).str.len().to_numpy(dtype=float)
        rows = []
        for m in self.models:
            provider, model = self.model_ids[m]
            answered = {item for item, model_id in done if model_id == m}
            todo = ~pd.Series(self.item_ids).isin(answered).to_numpy()
            overhead = self._template_chars(m)
            chars = lengths[todo] + overhead[todo]
            in_tokens = np.ceil(chars / CHARS_PER_TOKEN)
            max_out = self.request(m, 0).max_tokens if len(lengths) else 0
            n = int(todo.sum())
            cost = float("nan")
            if n:
                per_call = self._cost_fn(provider, model, ChatResponse(
                    text="", input_tokens=int(round(in_tokens.mean())), output_tokens=int(max_out)))
                cost = per_call * n if per_call is not None else float("nan")
            rows.append({"model": m, "calls": n, "input_tokens": int(in_tokens.sum()),
                         "max_output_tokens": int(max_out) * n, "cost_usd": cost})
        return pd.DataFrame(rows)

    def _template_chars(self, model_id: str) -> np.ndarray:
        """Characters each item's prompt adds around its input (system prompt, instructions)."""
        out = np.zeros(len(self.inputs))
        tasks = pd.Series(self.tasks, dtype=object).fillna("*")
        for task, index in tasks.groupby(tasks).groups.items():
            provider, model = self.model_ids[model_id]
            labels = self.label_sets.get(task)
            req = self.build_request_fn(provider, model, None if task == "*" else task, "", labels)
            out[np.asarray(index)] = len(req.system or "") + len(req.user or "")
        return out

    def estimated_call_cost(self, model_id: str, i: int) -> float:
        provider, model = self.model_ids[model_id]
        req = self.request(model_id, i)
        tokens = math.ceil((len(req.system or "") + len(req.user or "")) / CHARS_PER_TOKEN)
        cost = self.call_cost(provider, model, ChatResponse(text="", input_tokens=tokens,
                                                            output_tokens=req.max_tokens))
        return float(cost) if cost is not None else 0.0

    # -- running ------------------------------------------------------------------------------
    def run(self, progress: Callable[[Progress], None] | None = None,
            cancel: threading.Event | None = None) -> RunResult:
        """Run to the end (or the cap, or a cancel) in a fresh event loop; blocking."""
        return asyncio.run(self.arun(progress=progress, cancel=cancel))

    async def arun(self, progress: Callable[[Progress], None] | None = None,
                   cancel: threading.Event | None = None) -> RunResult:
        run_store.create_run(self.ws, self.run_id, self.name, self.models, self.config.to_dict(),
                             len(self.item_ids), evalset_id=self.evalset_id,
                             source=self.config.source, experiment=self.config.experiment)
        # Calls a killed attempt had journaled but not yet written: into the workspace first,
        # so they count as answered and are never asked (nor paid for) again.
        replay(self.ws, self.run_id)
        execution = Execution(self, progress=progress, cancel=cancel or threading.Event())
        try:
            status, message = await execution.execute()
        except BaseException as exc:
            run_store.finish_run(self.ws, self.run_id, "failed",
                                 redact(f"{type(exc).__name__}: {exc}", extra=self.secrets()))
            raise
        results_id = None
        if execution.progress.ok + execution.progress.cached + execution.progress.resumed:
            results_id = self.materialize()
        run_store.finish_run(self.ws, self.run_id, status, message, results_id)
        final = replace(execution.progress, status=status)
        if progress:
            progress(final)
        return RunResult(self.run_id, status, final, results_id, message)

    def secrets(self) -> list[str]:
        return [k for k in self._keys.values() if k]

    def make_provider(self, provider: str) -> Provider:
        if self._provider_factory is not None:
            return self._provider_factory(provider)
        from core.live.providers import get_provider

        return get_provider(provider, api_key=self._keys.get(provider),
                            base_url=self._base_urls.get(provider), timeout=self.config.timeout_s)

    # -- results (core.live.results) -----------------------------------------------------------
    def results_frame(self) -> pd.DataFrame:
        """The run's answers in the long eval-set layout (one row per item × model)."""
        from core.live.results import results_frame

        return results_frame(self)

    def to_evalset(self) -> EvalSet:
        from core.live.results import to_evalset

        return to_evalset(self)

    def materialize(self) -> int:
        """Store the answers as an EvalSet (replacing this run's earlier one); returns its id."""
        from core.live.results import materialize

        return materialize(self)


__all__ = ["LiveRun", "RunConfig", "Progress", "RunResult", "new_run_id", "response_cost"]
