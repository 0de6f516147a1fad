"""The worker's budget counters: published spend merged with the worker's own, never twice."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

from core.gateway.admission import AdmissionRequest, Refuse, Swap
from core.gateway.guard import Guard
from core.gateway.request import parse_chat_request

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def state(spent: float, action: str = "stop", since: str = "2027-01-15", **kw) -> dict:
    return {"budget_id": "b1", "scope": "team", "subject": "ml", "period": "daily", "limit_usd": 10.0,
            "spent_usd": spent, "action": action, "switch_to": kw.get("switch_to"),
            "action_at": kw.get("action_at", 100), "since": since, "resets_at": "2027-01-16T00:00:00Z"}


def guard_with(*states) -> Guard:
    g = Guard(None, clock=lambda: NOW)
    g.load({"keys_required": False, "keys": {}, "budgets": list(states)})
    return g


def decide(g: Guard, team: str = "ml", headers=None, model: str = "tradeoff/main"):
    chat = parse_chat_request({"model": model, "messages": [{"role": "user", "content": "x"}]},
                              {"x-tradeoff-team": team, **(headers or {})})
    return asyncio.run(g(AdmissionRequest(chat, headers or {}, SimpleNamespace(model=model))))


def spend(g: Guard, cost: float, team: str = "ml") -> None:
    g.account(SimpleNamespace(attempts=[SimpleNamespace(cost_usd=cost)], chat=SimpleNamespace(tags={"team": team})))


def test_reload_keeps_the_larger_of_published_and_own_spend():
    g = guard_with(state(4.0))
    spend(g, 3.0)  # own: 4 + 3 = 7
    assert g.counters["b1"].spent == 7.0
    g.load({"budgets": [state(5.0)]})  # the agent has committed only $1 of the $3 yet
    assert g.counters["b1"].spent == 7.0 and g.counters["b1"].local == 0.0
    g.load({"budgets": [state(9.5)]})  # the agent saw other workers' $2.50 too
    assert g.counters["b1"].spent == 9.5
    spend(g, 0.5)  # 10.0 of 10: the next request is refused
    assert isinstance(decide(g), Refuse)
    g.load({"budgets": [state(0.25, since="2027-01-16")]})  # a new period starts from the ledger
    assert g.counters["b1"].spent == 0.25


def test_actions_apply_from_their_threshold_and_the_strictest_wins():
    g = guard_with(state(8.9, action="switch", switch_to="cheap", action_at=90))
    assert decide(g) is None  # 89%
    spend(g, 0.1)  # 90%
    assert decide(g) == Swap("tradeoff/cheap", "daily budget of team 'ml' reached 90%")
    assert decide(g, model="tradeoff/cheap") is None  # already on the cheaper policy
    assert decide(g, team="other") is None
    refuse = {**state(10.0, action="refuse"), "budget_id": "b2", "scope": "overall", "subject": None}
    g = guard_with(state(9.0, action="switch", switch_to="cheap", action_at=90), refuse)
    refused = decide(g)
    assert isinstance(refused, Refuse) and refused.status == 429
    assert refused.retry_after_s == 16 * 3600  # 08:00 to midnight UTC
    assert decide(g, headers={"x-tradeoff-urgent": "true"}) == Swap("tradeoff/cheap", "daily budget of team 'ml' reached 90%")
