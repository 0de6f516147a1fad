"""Saved policies, executed live: one small class per policy kind, registered in :data:`EXECUTORS`.

Each executor answers one request through a :class:`~core.gateway.turn.Turn` and decides the
way the policy's offline ``evaluate()`` decides, by calling the policy itself on a one-row eval
set built from the request (its text, task, metadata and, for cascades and ensembles, the
answers received so far). What ships is therefore what was measured: the same table lookups,
tiers, fitted weights, thresholds, signals and tie-breaks.

=================  ===========================================================================
single             the model
task_router        the task's model (task from ``X-Tradeoff-Task`` or ``metadata.task``)
value_tiers        the tier the item's value reaches (``X-Tradeoff-Value`` or metadata)
weighted           the fitted task table
learned_router     the cheapest model predicted right on the request text (fitted weights)
prompt_router      cheap or strong by P(right | prompt) gap per predicted dollar (fitted members)
mix                the hash of the request's prompt text picks one of two policies, each run by
                   its own executor (``Mix.to_b`` on the one-row eval set: the offline split)
hybrid             the task's entry: its model, or its cascade at the task's thresholds (below)
cascade            step by step; each step's signal decides (self-reported confidence through
                   structured output, logprobs, agreement of cheaper models called at once, or
                   learned P(correct)); the last step always answers
fallback           the next model only when the previous one failed (after retries)
majority           every model at once; the answer most gave (ties: the earliest model)
=================  ===========================================================================

A new policy kind adds one class here and one line in :data:`EXECUTORS`; an executor that
combines policies (e.g. a hash split between two) builds its parts with :func:`executor_for`.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.gateway.turn import Answer, Turn
from core.live.providers import parse_model_id
from core.routing.policies import Policy


class NotDeployable(InputError):
    """A policy that cannot serve live traffic (and why)."""


@dataclass(frozen=True)
class LiveOptions:
    """How a deployment executes: ``confidence_source`` is ``stated`` (the confidence the model
    writes) or ``logprob`` (the label token's probability where the provider returns it), as
    the live run that measured the policy was configured (``RunConfig.confidence_source``)."""

    confidence_source: str = "stated"

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> LiveOptions:
        d = dict(d or {})
        source = d.get("confidence_source", "stated")
        if source not in ("stated", "logprob"):
            raise NotDeployable(f"confidence_source must be 'stated' or 'logprob'; got {source!r}")
        return cls(confidence_source=source)


def one_row(models, turn: Turn, extra: dict[str, Any] | None = None) -> EvalSet:
    """The request as a one-item eval set over ``models``: its text, task and metadata, and the
    answers ``turn`` received so far (prediction, output text, confidence)."""
    chat = turn.chat
    items = {"item_id": ["live"], "input": [chat.user_text], "task": [chat.task]}
    for key, value in chat.metadata.items():
        if key not in items and isinstance(value, (str, int, float)) and not isinstance(value, bool):
            items[key] = [value]
    for key, value in (extra or {}).items():
        items[key] = [value]
    models = tuple(models)
    m = len(models)
    prediction = np.full((1, m), None, dtype=object)
    output = np.full((1, m), None, dtype=object)
    confidence = np.full((1, m), np.nan)
    for j, model in enumerate(models):
        answer = turn.known(model)
        if answer is not None and answer.ok:
            prediction[0, j], output[0, j] = answer.conclusion, answer.text
            if answer.confidence is not None:
                confidence[0, j] = answer.confidence
    return EvalSet.from_arrays("live request", models, score=np.full((1, m), np.nan),
                               items=pd.DataFrame(items), prediction=prediction, output=output,
                               confidence=confidence, latency_ms=np.zeros((1, m)))


class LiveExecutor(ABC):
    """Runs one policy kind live. ``models()`` lists every model it may call."""

    kind: ClassVar[str] = "policy"

    def __init__(self, policy: Policy, options: LiveOptions | None = None):
        self.policy = policy
        self.options = options or LiveOptions()
        if not policy.is_fitted:
            raise NotDeployable(f"This {policy.kind} policy is not fitted: fit it on a labeled eval "
                                "set before deploying it")
        for model in self.models():
            try:
                parse_model_id(model)
            except InputError:
                raise NotDeployable(
                    f"The policy calls '{model}', which names no provider: a deployed policy's models "
                    "must be PROVIDER:MODEL (e.g. openai:gpt-4o-mini), as live runs name them") from None

    def models(self) -> tuple[str, ...]:
        return tuple(self.policy.models_called())

    @abstractmethod
    async def run(self, turn: Turn) -> Answer:
        """The answer the client gets (its call may have failed: the caller reports it)."""


class SingleLive(LiveExecutor):
    kind = "single"

    async def run(self, turn: Turn) -> Answer:
        return await turn.ask(self.policy.model)


class RouterLive(LiveExecutor):
    """A rule that picks one model before any call: the policy's ``evaluate`` on the request."""

    memo_size: ClassVar[int] = 4096

    def __init__(self, policy: Policy, options: LiveOptions | None = None):
        super().__init__(policy, options)
        self._memo: OrderedDict[Hashable, str] = OrderedDict()

    def memo_key(self, turn: Turn) -> Hashable | None:
        """What the choice depends on (None: the whole request, never memoized)."""
        return None

    def extra_columns(self, turn: Turn) -> dict[str, Any]:
        return {}

    def choose(self, turn: Turn) -> str:
        key = self.memo_key(turn)
        if key is not None and key in self._memo:
            return self._memo[key]
        outcome = self.policy.evaluate(one_row(self.models(), turn, self.extra_columns(turn)))
        model = outcome.models[int(outcome.kept[0])]
        if key is not None:
            self._memo[key] = model
            if len(self._memo) > self.memo_size:
                self._memo.popitem(last=False)
        return model

    async def run(self, turn: Turn) -> Answer:
        return await turn.ask(self.choose(turn))


class TaskRouterLive(RouterLive):
    kind = "task_router"

    def memo_key(self, turn: Turn) -> Hashable:
        return turn.chat.task


class WeightedLive(TaskRouterLive):
    kind = "weighted"


class ValueTiersLive(RouterLive):
    kind = "value_tiers"

    def memo_key(self, turn: Turn) -> Hashable:
        return turn.chat.task, turn.chat.value_for(self.policy.value_column)

    def extra_columns(self, turn: Turn) -> dict[str, Any]:
        value = turn.chat.value_for(self.policy.value_column)
        return {self.policy.value_column: np.nan if value is None else value}


class LearnedRouterLive(RouterLive):
    kind = "learned_router"

    def choose(self, turn: Turn) -> str:
        try:
            return super().choose(turn)
        finally:
            self.policy.signal_.features_.forget_items()


class PromptRouterLive(RouterLive):
    kind = "prompt_router"


class MixLive(LiveExecutor):
    """Two policies split by the hash of the request's prompt text, as ``Mix.evaluate`` splits
    the eval set's items: the same prompt always goes to the same part."""

    kind = "mix"

    def __init__(self, policy: Policy, options: LiveOptions | None = None):
        super().__init__(policy, options)
        self.parts = (executor_for(policy.a, self.options), executor_for(policy.b, self.options))

    def part(self, turn: Turn) -> LiveExecutor:
        """The executor answering this request."""
        return self.parts[int(self.policy.to_b(one_row(self.models(), turn))[0])]

    async def run(self, turn: Turn) -> Answer:
        return await self.part(turn).run(turn)


class HybridLive(LiveExecutor):
    """The request's task picks its entry (``X-Tradeoff-Task`` or ``metadata.task``; none, or a
    task not in the table: the default), run by that entry's own executor: the model alone, or
    the cascade with the router's fitted signal and the task's thresholds
    (``HybridRouter.entry_policy``, which decides as ``HybridRouter.evaluate``)."""

    kind = "hybrid"

    def __init__(self, policy: Policy, options: LiveOptions | None = None):
        super().__init__(policy, options)
        self._parts: dict[str, LiveExecutor] = {}

    def part(self, turn: Turn) -> LiveExecutor:
        """The executor answering this request (one per distinct entry, built once)."""
        task = turn.chat.task
        key = repr(self.policy.entry_for(task))
        if key not in self._parts:
            self._parts[key] = executor_for(self.policy.entry_policy(task), self.options)
        return self._parts[key]

    async def run(self, turn: Turn) -> Answer:
        return await self.part(turn).run(turn)


class CascadeLive(LiveExecutor):
    """Each step's model (and the models its signal consults, at once); the step's answer is kept
    where the signal clears its threshold, as :func:`core.routing.policies.cascade.plan_cascade`
    counts it: a model already called at an earlier step is not called again."""

    kind = "cascade"

    async def run(self, turn: Turn) -> Answer:
        policy = self.policy
        signal = policy.fitted_signal
        structured = signal.kind == "confidence"
        models = policy.models
        answer: Answer | None = None
        for s, model in enumerate(models):
            if s == len(models) - 1:
                return turn.known(model) or await turn.ask(model)
            consulted = [m for m in signal.consulted(None, model) if m != model]
            if consulted:  # the step's model and its peers, at once
                await turn.ask_all([model, *consulted])
            answer = await turn.ask(model, structured=structured)
            if answer.ok and self.score(turn, model) >= policy.thresholds[s]:
                return answer
        return answer  # unreachable: the last step returns

    def score(self, turn: Turn, model: str) -> float:
        """The step's signal on this request (0 where it has no opinion, as offline)."""
        signal = self.policy.fitted_signal
        try:
            value = float(signal.scores(one_row(self.models(), turn), model)[0])
        except InputError:  # no confidence stated, no answer to agree with
            value = 0.0
        finally:
            forget = getattr(getattr(signal, "features_", None), "forget_items", None)
            if forget is not None:
                forget()
        return 0.0 if np.isnan(value) else value


class FallbackLive(LiveExecutor):
    kind = "fallback"

    async def run(self, turn: Turn) -> Answer:
        answer = None
        for model in self.policy.models:
            answer = await turn.ask(model)
            if answer.ok:
                return answer
        return answer


class MajorityLive(LiveExecutor):
    kind = "majority"

    async def run(self, turn: Turn) -> Answer:
        answers = await turn.ask_all(self.policy.models)
        answered = [a for a in answers if a.ok]
        if not answered:
            return answers[-1]
        outcome = self.policy.evaluate(one_row(self.policy.models, turn))
        kept = turn.known(outcome.models[int(outcome.kept[0])])
        return kept if kept is not None and kept.ok else answered[0]


EXECUTORS: dict[str, type[LiveExecutor]] = {
    cls.kind: cls for cls in (SingleLive, TaskRouterLive, ValueTiersLive, WeightedLive,
                              LearnedRouterLive, PromptRouterLive, MixLive, HybridLive, CascadeLive,
                              FallbackLive, MajorityLive)
}


def executor_for(policy: Policy, options: LiveOptions | None = None) -> LiveExecutor:
    """The live executor of ``policy``; :class:`NotDeployable` says why a policy cannot serve."""
    cls = EXECUTORS.get(policy.kind)
    if cls is None:
        why = ("the oracle knows each item's answer, which live traffic does not carry"
               if policy.kind == "oracle" else f"known kinds are {', '.join(sorted(EXECUTORS))}")
        raise NotDeployable(f"A '{policy.kind}' policy cannot serve live traffic: {why}")
    return cls(policy, options)
