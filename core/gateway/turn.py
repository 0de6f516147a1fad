"""One request's conversation with the providers: who was asked, what they answered, what it cost.

A policy's live executor asks models through a :class:`Turn`; the turn builds each provider
request from the client's messages, makes the call (retries included), reads the answer the way
live runs read it, and keeps every call for the response headers and the ledger::

    answer = await turn.ask("openai:gpt-4o-mini")                     # the client's own prompt
    answer = await turn.ask("openai:gpt-4o-mini", structured=True)    # + answer and confidence

``structured=True`` asks for the answer and a confidence in the provider's structured format,
exactly as live runs asked when the policy was measured (:func:`core.live.prompts.system_prompt`:
JSON schema for OpenAI-compatible providers and Gemini, XML tags for Claude), and the answer
kept is the label alone. Confidence is the stated one, or the label token's probability where
the provider returned log-probabilities and the deployment says ``confidence_source="logprob"``
(or nothing was stated): the rule of :mod:`core.live.execute`.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from core.gateway.calls import Caller, CallOutcome
from core.gateway.request import ChatInput
from core.gateway.wire import UpstreamRequest, split_system
from core.live.prompts import answer_schema, parse_answer, system_prompt
from core.live.providers import parse_model_id
from core.live.providers.logprobs import label_token_probability

STRUCTURED_MAX_TOKENS = 256  # what live runs give a labelled answer (core.live.prompts)


@dataclass
class Answer:
    """A model's reply as a policy sees it."""

    model_id: str
    outcome: CallOutcome
    text: str | None = None  # what the client gets if this answer is kept
    confidence: float | None = None
    label: str | None = None  # the label read from a structured answer

    @property
    def ok(self) -> bool:
        return self.outcome.ok

    @property
    def conclusion(self) -> str | None:
        """What the answer concludes: its label, else its text (read only when a policy
        compares answers, so a plain pass-through never parses)."""
        if not self.ok:
            return None
        if self.label is None:
            parsed = parse_answer(self.model_id.split(":", 1)[0], self.outcome.result.text, None)
            self.label = parsed.label if parsed.parse_ok else self.outcome.result.text
        return self.label


@dataclass
class Turn:
    chat: ChatInput
    caller: Caller
    confidence_source: str = "stated"
    calls: list[CallOutcome] = field(default_factory=list)
    _answers: dict[tuple[str, bool], asyncio.Future] = field(default_factory=dict)

    def models_tried(self) -> list[str]:
        return [c.model_id for c in self.calls]

    async def ask(self, model_id: str, structured: bool = False) -> Answer:
        """The answer of ``model_id`` (asked once per request, whoever asks again)."""
        key = (model_id, structured)
        found = self._answers.get(key)
        if found is not None:
            return await asyncio.shield(found)
        future = self._answers[key] = asyncio.get_running_loop().create_future()
        try:
            answer = await self._ask(model_id, structured)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody else waits
            raise
        future.set_result(answer)
        return answer

    async def ask_all(self, model_ids, structured: bool = False) -> list[Answer]:
        """Several models at once (agreement, the ensemble)."""
        return list(await asyncio.gather(*(self.ask(m, structured) for m in model_ids)))

    def known(self, model_id: str) -> Answer | None:
        """An answer already received from ``model_id`` (in either form), else None."""
        for structured in (False, True):
            task = self._answers.get((model_id, structured))
            if task is not None and task.done() and not task.cancelled() and task.exception() is None:
                return task.result()
        return None

    def request_for(self, model_id: str, structured: bool) -> UpstreamRequest:
        provider, model = parse_model_id(model_id)
        chat = self.chat
        extra = dict(chat.extra) if provider in ("openai", "local") else {}
        schema = None
        messages = chat.messages
        max_tokens = chat.max_tokens
        logprobs = False
        if structured:
            system, turns = split_system(chat.messages)
            messages = [{"role": "system", "content": system_prompt(provider, chat.task, None,
                                                                    system or None)}, *turns]
            if provider != "anthropic":  # Claude answers in XML tags, as live runs ask it to
                schema = answer_schema(None, closed=provider != "gemini")
            logprobs = provider == "openai"
            max_tokens = max_tokens or STRUCTURED_MAX_TOKENS
        elif chat.response_format is not None:
            if provider in ("openai", "local"):
                extra["response_format"] = chat.response_format
            elif chat.response_format.get("type") == "json_schema":
                schema = (chat.response_format.get("json_schema") or {}).get("schema")
        return UpstreamRequest(provider, model, messages, max_tokens, chat.temperature, chat.top_p,
                               chat.stop, schema, logprobs, extra)

    async def _ask(self, model_id: str, structured: bool) -> Answer:
        request = self.request_for(model_id, structured)
        outcome = await self.caller.call(request)
        self.calls.append(outcome)
        answer = Answer(model_id, outcome)
        if not outcome.ok:
            return answer
        text = outcome.result.text
        if structured:
            parsed = parse_answer(request.provider, text, None)
            answer.label = parsed.label if parsed.parse_ok else text
            answer.text = answer.label
            confidence = parsed.confidence
            tokens = outcome.result.logprob_tokens
            logprob = label_token_probability(tokens) if tokens else None
            if logprob is not None and (confidence is None or self.confidence_source == "logprob"):
                confidence = logprob
            answer.confidence = confidence
        else:
            answer.text = text
        return answer
