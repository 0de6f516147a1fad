"""The regression gate's files: the policy it checks, the baseline it compares with, the JUnit
report CI shows.

* ``--policy``: a policy file (``fit`` writes one; a bare ``to_dict()`` JSON also works), or the
  name of one model column of the eval set (a pinned model version checked on its own).
* The baseline (``PREVIOUS.json``) is what ``check --write-baseline FILE`` wrote on an earlier
  run that passed: the items' hash and, per item, the policy's score and cost. The next run on
  the same items compares item by item; a baseline of other items is refused (exit 2).
* ``--junit FILE``: one ``testcase`` per check (quality floor, cost ceiling, paired regression vs
  baseline); a failed check carries its reason in ``<failure message=...>``, one not asked for is
  ``<skipped>``.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.exports import json_safe
from core.routing.gate import Baseline, GateResult
from core.routing.optimize.policy_file import load_policy_file
from core.routing.optimize.search import check_policy_models
from core.routing.policies import Policy, SingleModel

BASELINE_FORMAT = "tradeoff-gate-baseline/1"


def resolve_policy(text: str, evalset: EvalSet) -> tuple[Policy, str]:
    """The policy ``--policy`` names and how messages call it; InputError for a missing file or
    a policy calling a model the eval set lacks."""
    path = Path(text)
    if not path.exists() and text in evalset.models:
        return SingleModel(text), f"model {text}"
    if not path.exists():
        raise InputError(f"{text}: no such policy file, and {evalset.name} has no model of that "
                         f"name (it has {', '.join(evalset.models) or 'no model results'})")
    policy, _ = load_policy_file(path)
    check_policy_models(policy, evalset, f"The policy in {path.name}")
    return policy, f"{path.name} ({policy.kind})"


def baseline_dict(result: GateResult) -> dict[str, Any]:
    """What ``--write-baseline`` writes: the items' hash and the per-item results."""
    out = result.outcome
    return json_safe({
        "format": BASELINE_FORMAT,
        "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "evalset": {"name": result.evalset, "items": result.n_items,
                    "items_sha256": result.items_digest},
        "policy": result.policy,
        "quality": result.quality.value, "cost_per_item": result.cost_per_item,
        "prices": result.prices,
        "items": {"item_id": result.item_ids.tolist(), "score": out.score.tolist(),
                  "cost_usd": out.cost.tolist()},
    })


def write_baseline(result: GateResult, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(baseline_dict(result), indent=1))


def read_baseline(path: str | Path) -> Baseline:
    """A baseline file, checked (InputError naming the file and what is wrong)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such baseline file (write one with check --write-baseline)")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path.name}: not a JSON baseline file ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or data.get("format") != BASELINE_FORMAT:
        raise InputError(f"{path.name}: not a baseline written by check --write-baseline "
                         f"(expected \"format\": \"{BASELINE_FORMAT}\")")
    items, head = data.get("items"), data.get("evalset")
    try:
        ids = np.array([str(i) for i in items["item_id"]], dtype=object)
        score = np.array([math.nan if v is None else float(v) for v in items["score"]])
        cost = np.array([math.nan if v is None else float(v) for v in items["cost_usd"]])
        digest, name = str(head["items_sha256"]), str(head["name"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path.name}: a baseline needs evalset.items_sha256 and items.item_id, "
                         f".score, .cost_usd lists ({type(exc).__name__}: {exc})") from None
    if not (len(ids) == len(score) == len(cost)) or len(set(ids)) != len(ids):
        raise InputError(f"{path.name}: items.item_id, .score and .cost_usd must be lists of one "
                         "length with each item once")
    bad = np.flatnonzero(~np.isnan(score) & ((score < 0) | (score > 1)))
    if len(bad):
        raise InputError(f"{path.name}: item {ids[bad[0]]!r}: expected a score between 0 and 1, "
                         f"got {score[bad[0]]:g}")
    return Baseline(path.name, name, digest, ids, score, cost, str(data.get("policy", "")),
                    data.get("written_at"))


def write_junit(result: GateResult, path: str | Path, suite: str = "tradeoff check") -> None:
    """A JUnit XML report: one testsuite, one testcase per check."""
    checks = result.checks
    root = ET.Element("testsuites")
    node = ET.SubElement(root, "testsuite", {
        "name": suite, "tests": str(len(checks)),
        "failures": str(sum(c.status == "failed" for c in checks)), "errors": "0",
        "skipped": str(sum(c.status == "skipped" for c in checks)),
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")})
    props = ET.SubElement(node, "properties")
    for name, value in (("evalset", result.evalset), ("items_sha256", result.items_digest),
                        ("policy", result.policy), ("baseline", result.baseline or ""),
                        ("prices", result.prices)):
        ET.SubElement(props, "property", {"name": name, "value": str(value)})
    classname = f"tradeoff.check.{Path(result.evalset).stem}"
    for check in checks:
        case = ET.SubElement(node, "testcase", {"classname": classname, "name": check.name,
                                                "time": "0"})
        if check.status == "failed":
            ET.SubElement(case, "failure", {"message": check.message,
                                            "type": "regression"}).text = check.message
        elif check.status == "skipped":
            ET.SubElement(case, "skipped", {"message": check.message})
        else:
            ET.SubElement(case, "system-out").text = check.message
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
