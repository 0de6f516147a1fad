"""The event-loop side of a live run: workers, retries, breakers, the spend cap, the writer.

Used by :class:`core.live.run.LiveRun`; one :class:`Execution` per attempt of a run::

    status, message = await Execution(live_run, progress=cb, cancel=event).execute()
"""
from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pandas as pd

from core.live import store as run_store
from core.live.cache import ResponseCache
from core.live.journal import RunJournal
from core.live.keys import redact
from core.live.limits import CircuitBreaker, TokenBucket, backoff_delay
from core.live.providers.base import ChatRequest, ChatResponse, Provider, ProviderError
from core.live.types import Progress

if TYPE_CHECKING:
    from core.live.run import LiveRun

CANCEL_GRACE_S = 5.0  # in-flight calls get this long to finish (and be recorded) after a cancel


class _Writer:
    """Journals each finished call at once (:mod:`core.live.journal`: on disk before it counts),
    and writes them to the workspace in bulk every ``interval`` s or ``rows`` rows."""

    def __init__(self, execution: Execution, interval: float, rows: int):
        self.ex = execution
        self.interval = interval
        self.rows = max(1, rows)
        self.calls: list[dict] = []
        self.ledger: list[dict] = []
        self.cache_entries: list[tuple] = []
        self.wake = asyncio.Event()
        self.lock = asyncio.Lock()  # one flush at a time, so close() waits for a running one
        self.closed = False
        self.saved = 0
        self.journal = RunJournal.open(execution.run.ws, execution.run.run_id)
        self.error: BaseException | None = None  # a bulk write failed: its calls are only in the journal

    def add(self, call: dict, ledger_rows: list[dict], cache_entry: tuple | None) -> None:
        if self.journal is not None:
            self.journal.append(call, ledger_rows)
        self.calls.append(call)
        self.ledger.extend(ledger_rows)
        if cache_entry is not None:
            self.cache_entries.append(cache_entry)
        if len(self.calls) >= self.rows:
            self.wake.set()

    async def loop(self) -> None:
        while not self.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=self.interval)
            self.wake.clear()
            await self.flush()

    async def flush(self) -> None:
        async with self.lock:
            if not self.calls and not self.ledger and not self.cache_entries:
                return
            calls, ledger, entries = self.calls, self.ledger, self.cache_entries
            self.calls, self.ledger, self.cache_entries = [], [], []
            run = self.ex.run
            # Shielded: cancelling the run must not abandon a batch half way to the disk.
            try:
                await asyncio.shield(asyncio.to_thread(self._write, run.ws, calls, ledger))
            except BaseException as exc:
                self.error = self.error or exc  # the batch stays in the journal for the next attempt
                raise
            self.saved += len(calls)
            if entries and self.ex.cache is not None:
                await asyncio.shield(asyncio.to_thread(self.ex.cache.put_many, entries))
            self.ex.report(force=True)

    def _write(self, ws, calls: list[dict], ledger: list[dict]) -> None:
        if self.journal is not None:
            self.journal.sync()  # what is journaled so far also survives a power loss
        _write_with_retry(ws, pd.DataFrame(calls), pd.DataFrame(ledger))

    async def close(self, task: asyncio.Task) -> None:
        """Stop the periodic loop (letting a running flush finish), then write what is left.
        The journal is deleted only when everything it holds is in the workspace."""
        self.closed = True
        self.wake.set()
        await asyncio.gather(task, return_exceptions=True)
        written = False
        try:
            await self.flush()
            written = self.error is None
        finally:
            if self.journal is not None:
                self.journal.close(remove=written)
        if self.error is not None:  # a periodic write failed: the run must not look finished
            raise self.error


class Execution:
    def __init__(self, run: LiveRun, progress: Callable | None, cancel: threading.Event):
        self.run = run
        self.config = run.config
        self.callback = progress
        self.cancel = cancel
        self.pending = run.pending_pairs()
        self.total = len(run.item_ids) * len(run.models)
        self.resumed = self.total - len(self.pending)
        self.counts = {"ok": 0, "cached": 0, "failed": 0}
        self.spend = run_store.run_spend(run.ws, run.run_id)
        self.elapsed = 0.0
        self.start = time.monotonic()
        self.last_report = 0.0
        self.providers: dict[str, Provider] = {}
        self.buckets = {p: TokenBucket(r) for p, r in self.config.rate_limits.items() if r}
        self.breakers = {p: CircuitBreaker(self.config.breaker_threshold,
                                           self.config.breaker_cooldown_s) for p in run.providers()}
        self.cache = ResponseCache(run.ws, self.config.cache) if self.config.cache.enabled else None
        self.requests: dict = {}  # (item, model) -> request, built once
        self.keys: dict = {}  # (item, model) -> cache key
        self.reserved = 0.0  # worst-case cost of the calls in flight (spend cap)
        self.stop_reason: str | None = None
        self.rng = random.Random()
        self.last_errors: dict[str, ProviderError] = {}  # provider -> its last real failure
        self.first_error: str | None = None  # the first failed pair's (redacted) reason
        self.secrets = run.secrets()

    # -- progress -------------------------------------------------------------------------------
    @property
    def progress(self) -> Progress:
        """A snapshot (built on demand: counting a call is just integer additions)."""
        done = self.resumed + sum(self.counts.values())
        fresh = done - self.resumed
        eta = (self.elapsed / fresh) * (self.total - done) if fresh else None
        return Progress(total=self.total, done=done, ok=self.counts["ok"],
                        failed=self.counts["failed"], cached=self.counts["cached"],
                        resumed=self.resumed, saved=self.writer.saved if hasattr(self, "writer") else 0,
                        spend_usd=self.spend, elapsed_s=self.elapsed, eta_s=eta)

    def report(self, force: bool = False) -> None:
        now = time.monotonic()
        self.elapsed = now - self.start
        if self.callback and (force or now - self.last_report >= 0.2):
            self.last_report = now
            self.callback(self.progress)

    def _count(self, status: str, cost: float) -> None:
        key = status if status in ("ok", "cached") else "failed"
        self.counts[key] += 1
        self.spend += cost
        self.report()

    # -- the run ----------------------------------------------------------------------------------
    async def execute(self) -> tuple[str, str | None]:
        self.writer = _Writer(self, self.config.flush_interval_s, self.config.flush_rows)
        if self.cache is not None:
            self.requests = {(i, m): self.run.request(m, i) for i, m in self.pending}
            self.keys = {pair: self.run.cache_key(pair[1], pair[0], req)
                         for pair, req in self.requests.items()}
            await asyncio.to_thread(self.cache.prefetch, list(self.keys.values()))
            await asyncio.to_thread(self.cache.load_semantic)
        for name in self.run.providers():
            self.providers[name] = self.run.make_provider(name)
        writer_task = asyncio.create_task(self.writer.loop())
        queue = iter(self.pending)
        workers = [asyncio.create_task(self._worker(queue))
                   for _ in range(max(1, min(self.config.concurrency, len(self.pending) or 1)))]
        try:
            await self._wait(workers)
        finally:
            for w in workers:
                if not w.done():
                    w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await self.writer.close(writer_task)
            for provider in self.providers.values():
                with contextlib.suppress(Exception):  # closing must not hide the run's outcome
                    await provider.aclose()
        self.report(force=True)
        if self.cancel.is_set():
            return "cancelled", "cancelled by the user; resume to continue"
        if self.stop_reason == "spend_cap":
            return "spend_cap", (f"stopped at the spend cap (${self.config.spend_cap_usd:g}); "
                                 f"spent ${self.spend:.4f}")
        failed = self.counts["failed"]
        if not failed:
            return "finished", None
        return "finished", f"{failed} call(s) failed; first: {self.first_error or 'no reason given'}"

    async def _wait(self, workers: list[asyncio.Task]) -> None:
        """Wait for the workers; after a cancel, give in-flight calls a short grace period."""
        pending = set(workers)
        while pending:
            done, pending = await asyncio.wait(pending, timeout=0.2)
            for task in done:
                if task.exception() is not None:
                    raise task.exception()
            if self.cancel.is_set() and pending:
                await asyncio.wait(pending, timeout=CANCEL_GRACE_S)
                return

    async def _worker(self, queue) -> None:
        while not self.cancel.is_set() and self.stop_reason is None:
            try:
                i, model = next(queue)
            except StopIteration:
                return
            budget = 0.0
            if self.config.spend_cap_usd is not None:
                budget = self.run.estimated_call_cost(model, i)
                if self.spend + self.reserved + budget > self.config.spend_cap_usd + 1e-12:
                    self.stop_reason = "spend_cap"
                    return
                self.reserved += budget
            try:
                call, ledger_rows, entry, cost = await self._answer(i, model)
            finally:
                self.reserved -= budget
            if call is None:  # cancelled mid-retry: nothing final to record
                return
            self.writer.add(call, ledger_rows, entry)
            if call["status"] not in run_store.SUCCESS and self.first_error is None:
                self.first_error = call.get("error_message") or call["status"]
            self._count(call["status"], cost)
            if call["status"] == "cached":
                await asyncio.sleep(0)  # a hit never awaited: let the writer and others run

    # -- one (item, model) pair -------------------------------------------------------------------
    async def _answer(self, i: int, model_id: str):
        """Ask ``model_id`` (then its fallbacks) for item ``i``; returns the final outcome."""
        run = self.run
        chain = [model_id] + [m for m in self.config.fallbacks.get(model_id, []) if m != model_id]
        ledger_rows: list[dict] = []
        total_cost = 0.0
        last: dict | None = None
        for answering in chain:
            provider, model = run.model_ids[answering]
            request = self.requests.get((i, answering)) or run.request(answering, i)
            key = self.keys.get((i, answering)) or run.cache_key(answering, i, request)
            hit = self._cache_lookup(provider, request, i, key)
            if hit is not None:
                call = self._row(i, model_id, answering, "cached", hit=hit)
                ledger_rows.append(self._ledger(call, provider, model, i))
                return call, ledger_rows, None, 0.0
            outcome = await self._call(provider, request)
            if outcome is None:
                return None, ledger_rows, None, total_cost
            if isinstance(outcome[0], ChatResponse):
                response, attempts, waited = outcome
                # A model may echo a key back (asked to by a prompt injection, or by mistake):
                # its answer is redacted before it is journaled, stored or cached.
                if response.text:
                    response = replace(response, text=self._redact(response.text))
                cost = run.call_cost(provider, model, response)
                call = self._row(i, model_id, answering, "ok", response=response, cost=cost,
                                 attempts=attempts, waited=waited)
                ledger_rows.append(self._ledger(call, provider, model, i))
                total_cost += cost or 0.0
                entry = (provider, request, run.tasks[i], run.inputs[i], response.text,
                         response.input_tokens, response.output_tokens, key)
                return call, ledger_rows, entry, total_cost
            error, attempts, waited, latency = outcome
            last = self._row(i, model_id, answering, "failed", error=error, attempts=attempts,
                             waited=waited, latency=latency)
            if attempts:  # a call that was never sent is not in the ledger: nothing was spent
                ledger_rows.append(self._ledger(last, provider, model, i, status=error.kind))
        return last, ledger_rows, None, total_cost

    def _cache_lookup(self, provider: str, request: ChatRequest, i: int, key: str):
        if self.cache is None:
            return None
        hit = self.cache.get(provider, request, key)
        if hit is None:
            hit = self.cache.get_similar(provider, request.model, self.run.tasks[i],
                                         self.run.inputs[i])
        return hit

    async def _call(self, provider_name: str, request: ChatRequest):
        """One logical call with retries. Returns (response, attempts, waited) on success,
        (error, attempts, waited, latency_ms) on failure, None when cancelled while waiting."""
        provider = self.providers[provider_name]
        breaker = self.breakers[provider_name]
        bucket = self.buckets.get(provider_name)
        attempts, waited = 0, 0.0
        started = time.perf_counter()
        while True:
            if not breaker.allow():
                down = self._provider_down(provider_name, breaker)
                if down is not None:
                    return down, attempts, waited, (time.perf_counter() - started) * 1000
                # Open: wait for the cool-down (a probe may be in flight: check back soon).
                pause = min(max(breaker.retry_in(), 0.05), 1.0)
                if not await self._sleep(pause):
                    return None
                waited += pause
                continue
            if bucket is not None:
                await bucket.acquire()
            attempts += 1
            try:
                # A safety net over the adapter's own timeout (no extra task per call).
                async with asyncio.timeout(self.config.timeout_s + 5.0):
                    response = await provider.complete(request)
            except ProviderError as exc:
                error = exc
            except TimeoutError:
                error = ProviderError(provider_name, "timeout",
                                      f"no answer within {self.config.timeout_s:g}s", retryable=True)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # an SDK surprise: recorded, never raised into the run
                error = ProviderError(provider_name, "error", type(exc).__name__, retryable=False)
            else:
                breaker.record_success()
                if not response.latency_ms:
                    response = replace(response, latency_ms=(time.perf_counter() - started) * 1000)
                return response, attempts, waited
            if error.kind not in ("bad_request", "malformed"):
                breaker.record_failure()
                self.last_errors[provider_name] = error
            if not error.retryable or attempts > self.config.max_retries:
                return error, attempts, waited, (time.perf_counter() - started) * 1000
            delay = backoff_delay(attempts - 1, self.config.backoff_base_s,
                                  self.config.backoff_cap_s, error.retry_after, self.rng)
            if not await self._sleep(delay):
                return None
            waited += delay

    def _provider_down(self, provider: str, breaker: CircuitBreaker) -> ProviderError | None:
        """The provider's own last error, once its breaker's probes failed ``breaker_probes``
        times in a row: the calls still waiting are not sent, and say why in its words."""
        if breaker.failed_probes < max(1, self.config.breaker_probes):
            return None
        last = self.last_errors.get(provider)
        cause = str(last) if last is not None else "no answer"
        return ProviderError(
            provider, last.kind if last is not None else "connection",
            f"not sent: {provider} failed {breaker.threshold} calls in a row, then "
            f"{breaker.failed_probes} probe(s) after {self.config.breaker_cooldown_s:g} s "
            f"cool-downs; last error: {cause}",
            status=last.status if last is not None else None, retryable=False)

    async def _sleep(self, seconds: float) -> bool:
        """Sleep, waking early on cancel; False when cancelled."""
        end = time.monotonic() + seconds
        while True:
            if self.cancel.is_set():
                return False
            left = end - time.monotonic()
            if left <= 0:
                return True
            await asyncio.sleep(min(left, 0.25))

    # -- rows ---------------------------------------------------------------------------------------
    def _row(self, i: int, model_id: str, answering: str, status: str, *, response=None, hit=None,
             cost=None, error: ProviderError | None = None, attempts: int = 0, waited: float = 0.0,
             latency: float | None = None) -> dict:
        run = self.run
        item_id = str(run.item_ids[i])
        row = {"run_id": run.run_id, "item_id": item_id, "idx": i, "model": model_id,
               "answered_by": answering, "ts": datetime.now(UTC).replace(tzinfo=None),
               "status": status, "attempts": attempts, "retry_wait_s": waited,
               "cache_hit": hit is not None, "error_kind": None, "error_message": None}
        provider = run.model_ids[answering][0]
        if response is not None or hit is not None:
            text = response.text if response is not None else hit.text
            task = run.tasks[i]
            labels = run.label_sets.get(task if task is not None else "*")
            parsed = run.parse_answer(provider, text, labels)
            confidence = parsed.confidence
            logprob = response.logprob_confidence if response is not None else None
            if logprob is not None and (confidence is None
                                        or self.config.confidence_source == "logprob"):
                confidence = logprob  # what the run was asked to use, or all there is
            row["logprob_confidence"] = logprob
            row.update(output=text, prediction=parsed.label if parsed.parse_ok else None,
                       confidence=confidence, parse_ok=bool(parsed.parse_ok),
                       error_message=None if parsed.parse_ok else _clip(parsed.error))
            if response is not None:
                row.update(input_tokens=response.input_tokens, output_tokens=response.output_tokens,
                           cached_read_tokens=response.cached_read_tokens,
                           cached_write_tokens=response.cached_write_tokens, cost_usd=cost,
                           item_cost_usd=cost, latency_ms=response.latency_ms,
                           request_id=response.request_id)
                row["call_id"] = f"{run.run_id}|{item_id}|{model_id}|{answering}"
            else:
                # A cache hit spends nothing (cost_usd 0, as the ledger records it), but the
                # answer has the model's price for its tokens: the eval set carries that.
                row.update(input_tokens=hit.input_tokens, output_tokens=hit.output_tokens,
                           cached_read_tokens=0, cached_write_tokens=0, cost_usd=0.0,
                           item_cost_usd=run.call_cost(provider, run.model_ids[answering][1], ChatResponse(
                               text=hit.text, input_tokens=hit.input_tokens,
                               output_tokens=hit.output_tokens)),
                           latency_ms=0.0, request_id=None)
                row["call_id"] = f"{run.run_id}|{item_id}|{model_id}|{answering}|cache"
        else:
            message = self._redact(str(error)) if error is not None else None
            row.update(error_kind=error.kind if error else None, error_message=_clip(message),
                       latency_ms=latency, cost_usd=0.0,
                       call_id=f"{run.run_id}|{item_id}|{model_id}|{answering}|"
                               f"{row['status']}|{uuid.uuid4().hex[:10]}")
        return row

    def _ledger(self, call: dict, provider: str, model: str, i: int, status: str | None = None) -> dict:
        """The spend row of a call: what was spent, never what was said."""
        cached = call["status"] == "cached"
        return {
            "call_id": call["call_id"], "ts": call["ts"], "provider": provider, "model": model,
            "task": self.run.tasks[i], "eval_run": self.run.run_id,
            "input_tokens": 0 if cached else int(call.get("input_tokens") or 0),
            "cached_input_tokens": 0 if cached else int(call.get("cached_read_tokens") or 0),
            "cache_write_tokens": 0 if cached else int(call.get("cached_write_tokens") or 0),
            "output_tokens": 0 if cached else int(call.get("output_tokens") or 0),
            "cost_usd": call.get("cost_usd"), "latency_ms": call.get("latency_ms"),
            "status": "ok" if call["status"] in run_store.SUCCESS else (status or call["status"]),
            "cache_hit": cached, "source": self.config.source,
            "experiment": self.config.experiment, "variant": None,
            "request_id": call.get("request_id"), "import_file": None,
        }

    def _redact(self, text: str) -> str:
        return redact(text, extra=self.secrets)


def _write_with_retry(ws, calls: pd.DataFrame, ledger: pd.DataFrame, attempts: int = 5) -> None:
    """A write that lost a race with another writer of the workspace (the page, the
    playground) is simply tried again: the batch holds paid-for answers."""
    import duckdb

    for attempt in range(attempts):
        try:
            run_store.write_calls(ws, calls, ledger)
            return
        except duckdb.TransactionException:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def _clip(text: str | None, limit: int = 500) -> str | None:
    if text is None:
        return None
    return text if len(text) <= limit else text[: limit - 3] + "..."
