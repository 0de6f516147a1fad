"""Live experiments over real HTTP: the official openai client -> the gateway -> the fake providers.

The split follows the hash and the share; both arms and the shadow are in the ledger with the
experiment and the arm, row for row what the fake providers saw; shadow calls never delay or
break the served answer; feedback joins by the completion's id; a rollout advances on a good
candidate and rolls back on an injected breach, with the webhook delivered to a local receiver.
"""
from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import openai
import pytest

from core.experiments import live_data
from core.experiments.assignment import unit_bucket
from core.experiments.live import LiveSpec, Settings, current_specs, transitions
from core.gateway.experiment_admin import act, start_experiment
from core.routing.policies import SingleModel
from tests.gateway.helpers import chat

CTRL, CAND = "openai:ctrl-lat20ms", "openai:cand-lat20ms"


@pytest.fixture(scope="module")
def routes(gateway_server):
    for model in (CTRL, CAND, "openai:bad-cand", "openai:slow-cand"):
        gateway_server.set_price(model, 1.0, 2.0)
    gateway_server.deploy("support", SingleModel(CTRL))
    gateway_server.deploy("cheap", SingleModel(CAND))
    gateway_server.deploy("bad", SingleModel("openai:bad-cand"))
    gateway_server.deploy("slow", SingleModel("openai:slow-cand"))
    return gateway_server


def start(gw, spec: LiveSpec) -> LiveSpec:
    ws = gw.open_ws()
    try:
        for old in current_specs(ws).values():
            if old.state in ("running", "paused"):
                act(ws, old.name, "stop")
        started = start_experiment(ws, spec)
    finally:
        ws.close()
    published(gw, spec.name, started.revision)
    return started


def published(gw, name: str, revision: int | None = None, timeout: float = 10) -> dict:
    """Wait until the running worker serves this revision of the experiment (or it is gone)."""
    gw.agent.cycle(force_poll=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        exp = next((e for e in gw.gateway.experiments.by_route.values() if e["name"] == name), None)
        if exp is not None and (revision is None or exp["revision"] == revision):
            return exp
        time.sleep(0.02)
    raise AssertionError(f"experiment {name} revision {revision} did not reach the worker")


def spec_now(gw, name: str) -> LiveSpec:
    ws = gw.open_ws()
    try:
        return current_specs(ws)[name]
    finally:
        ws.close()


async def burst(gw, n: int, start_at: int = 0, concurrency: int = 16, tag: str = "q") -> list[dict]:
    """n requests on tradeoff/support; each one's request id, arm and answering model."""
    client = gw.async_client()
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> dict:
        async with sem:
            raw = await client.chat.completions.with_raw_response.create(
                model="tradeoff/support", messages=[{"role": "user", "content": f"{tag}{i} answer: B"}],
                extra_headers={"X-Tradeoff-User": f"user-{i % 97}"})
            body = raw.parse()
            return {"i": i, "id": body.id, "request_id": raw.headers["x-tradeoff-request-id"],
                    "arm": raw.headers.get("x-tradeoff-experiment", ":").split(":")[1],
                    "model": raw.headers["x-tradeoff-answered-by"], "text": body.choices[0].message.content}

    try:
        return await asyncio.gather(*(one(i) for i in range(start_at, start_at + n)))
    finally:
        await client.close()


def feedback(gw, body: dict):
    client = gw.client()
    return client.post("/feedback", body=body, cast_to=httpx.Response)


def test_split_follows_the_hash_and_share_and_the_ledger_has_both_arms(routes, fake_llm):
    gw = routes
    start(gw, LiveSpec("ab-split", route="support", control="support", candidate="cheap", mode="ab",
                       share=0.3, unit="x-tradeoff-user"))
    got = asyncio.run(burst(gw, 120))
    for r in got:
        expected = "candidate" if unit_bucket(f"user-{r['i'] % 97}", "ab-split") < 0.3 else "control"
        assert r["arm"] == expected
        assert r["model"] == (CAND if expected == "candidate" else CTRL)
    users = {f"user-{i % 97}" for i in range(120)}
    n_cand_users = sum(unit_bucket(u, "ab-split") < 0.3 for u in users)
    assert 0 < n_cand_users < len(users)  # both arms are used by this set of users
    rows = gw.ledger_rows([r["request_id"] for r in got])
    assert (rows["experiment"] == "ab-split").all() and (rows["source"] == "gateway").all()
    by_arm = Counter(zip(rows["variant"], rows["model"]))
    fake = Counter(c["model"] for c in fake_llm.calls)
    assert by_arm == {("candidate", "cand-lat20ms"): fake["cand-lat20ms"],
                      ("control", "ctrl-lat20ms"): fake["ctrl-lat20ms"]}
    assert sum(by_arm.values()) == 120 == len(fake_llm.calls)


def test_feedback_joins_by_completion_id_and_bad_feedback_is_refused(routes, fake_llm):
    gw = routes
    start(gw, LiveSpec("fb", route="support", control="support", candidate="cheap", mode="ab",
                       share=0.5, unit="request"))
    got = asyncio.run(burst(gw, 6))
    assert feedback(gw, {"request_id": got[0]["id"], "score": 0.25}).json()["recorded"] is True
    assert feedback(gw, {"request_id": got[1]["id"], "thumbs": "up"}).json()["score"] == 1.0
    assert feedback(gw, {"request_id": got[2]["request_id"], "label": "resolved"}).status_code == 200
    feedback(gw, {"request_id": got[0]["id"], "score": 0.75})  # a duplicate: the last one wins
    with pytest.raises(openai.NotFoundError) as err:
        feedback(gw, {"request_id": "chatcmpl-never-served", "score": 1})
    assert "chatcmpl-never-served" in err.value.body["message"]
    assert err.value.body["code"] == "request_not_found"
    for bad, says in (({"request_id": got[0]["id"], "score": 1.5}, "between 0 and 1"),
                      ({"request_id": got[0]["id"], "thumbs": "sideways"}, "'up' or 'down'"),
                      ({"request_id": got[0]["id"]}, "score (0..1), thumbs"),
                      ({"score": 1}, "request_id")):
        with pytest.raises(openai.BadRequestError) as err:
            feedback(gw, bad)
        assert says in err.value.body["message"]
    gw.commit()
    gw.gateway.experiments.close()
    gw.agent.cycle()
    ws = gw.open_ws()
    try:
        frame = live_data.requests(ws, "fb").set_index("request_id")
    finally:
        ws.close()
    assert frame.loc[got[0]["request_id"], "score"] == 0.75
    assert frame.loc[got[1]["request_id"], "score"] == 1.0
    assert frame.loc[got[2]["request_id"], "label"] == "resolved"
    assert frame["score"].notna().sum() == 2
