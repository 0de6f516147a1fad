"""Deployments: the console's deploy(ws, name, saved_policy_id), revisions, undeploy, refusals."""
from __future__ import annotations

import pytest

from core.errors import InputError
from core.gateway.deployments import current_deployments, deploy, deployments_version, history, undeploy
from core.gateway.executors import NotDeployable
from core.routing.optimize.store import save_policy
from core.routing.policies import Cascade, Oracle, SingleModel


def test_deploy_a_saved_policy_then_redeploy_then_undeploy(ws):
    first = save_policy(ws, "cheap", SingleModel("openai:gpt-4o-mini"))
    second = save_policy(ws, "cascade", Cascade(["openai:gpt-4o-mini", "openai:gpt-4o"], [0.8]))
    v0 = deployments_version(ws)
    assert deploy(ws, "support", first)["revision"] == 1
    v1 = deployments_version(ws)
    assert deploy(ws, "support", second, confidence_source="logprob")["revision"] == 2
    served = current_deployments(ws)["support"]
    assert (served["revision"], served["policy_id"], served["spec"]["kind"]) == (2, second, "cascade")
    assert served["options"] == {"confidence_source": "logprob"}
    assert len({v0, v1, deployments_version(ws)}) == 3
    assert undeploy(ws, "support") is True and current_deployments(ws) == {}
    assert undeploy(ws, "support") is False
    assert list(history(ws)["revision"]) == [3, 2, 1]


def test_what_cannot_serve_is_never_deployed(ws):
    bare = save_policy(ws, "bare", SingleModel("small"))
    with pytest.raises(NotDeployable, match="names no provider"):
        deploy(ws, "bare", bare)
    oracle = save_policy(ws, "oracle", Oracle(["openai:a", "openai:b"]))
    with pytest.raises(NotDeployable, match="cannot serve live traffic"):
        deploy(ws, "oracle", oracle)
    ok = save_policy(ws, "ok", SingleModel("openai:gpt-4o-mini"))
    with pytest.raises(InputError, match="Deployment name"):
        deploy(ws, "has spaces", ok)
    with pytest.raises(InputError, match="confidence_source"):
        deploy(ws, "ok", ok, confidence_source="vibes")
    assert current_deployments(ws) == {}
