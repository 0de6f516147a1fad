"""The scheduled re-run of docs/regression-gate.md, two "weeks" in one test: ``core run`` of an
inputs-only set against a pinned model (real OpenAI SDK over HTTP to the local fake server), then
``core check`` against last week's baseline; the second week's model answers 6 of 8 items wrong,
the gate fails (McNemar exact p = 0.5^6) and the ``gate.failed`` alert reaches a real HTTP
receiver through the workspace's webhooks. Both weeks' results are versions of one eval set."""
from __future__ import annotations

import re

import pandas as pd

from core.cli import main
from tests.helpers.gate import write_evalset
from tests.helpers.webhook_receiver import WebhookReceiver

MODEL = "openai:pinned-2026-01-15"


def _inputs(path):
    labels = ["spam", "ham"]
    pd.DataFrame([{"item_id": f"m{i}", "task": "filter", "label": labels[i % 2],
                   "input": f"Message {i}. Labels: spam | ham. answer: {labels[i % 2]}"}
                  for i in range(8)]).to_csv(path, index=False)
    return path


def _week(inputs, tmp_path, week: str) -> str:
    out = tmp_path / f"results-{week}.csv"
    assert main(["run", str(inputs), "--models", MODEL, "--out", str(out), "--run-id",
                 f"weekly-{week}", "--no-cache", "--concurrency", "4"]) == 0
    return str(out)


def test_weekly_rerun_fails_the_gate_and_alerts_the_webhook(fake_llm_env, fake_llm, ws, tmp_path,
                                                            capsys):
    from core.evaluation.item_diff import diff_items
    from core.evaluation.store import list_evalsets, load_evalset
    from core.gateway.webhooks import add_webhook, deliveries

    inputs = _inputs(tmp_path / "inputs.csv")
    baseline, report = str(tmp_path / "baseline.json"), str(tmp_path / "gate.xml")
    week1 = _week(inputs, tmp_path, "2026-W01")
    assert main(["check", week1, "--policy", MODEL, "--min-quality", "0.8",
                 "--write-baseline", baseline]) == 0
    assert "quality 1.000 >= floor 0.800" in capsys.readouterr().out

    def worse(parsed):  # the pinned name now serves a worse model: items 0-5 answered wrong
        gold = re.search(r"answer: (\w+)", parsed.user).group(1)
        index = int(re.search(r"Message (\d+)", parsed.user).group(1))
        return {"spam": "ham", "ham": "spam"}[gold] if index < 6 else gold

    fake_llm.answer_fn = worse
    asked = len(fake_llm.calls)
    week2 = _week(inputs, tmp_path, "2026-W02")
    assert len(fake_llm.calls) - asked == 8  # --no-cache and a new --run-id: every item asked again
    with WebhookReceiver() as hook:
        add_webhook(ws, "ci", hook.url, events="gate.")
        capsys.readouterr()
        code = main(["check", week2, "--policy", MODEL, "--min-quality", "0.2",
                     "--baseline", baseline, "--junit", report, "--alert"])
        err = capsys.readouterr().err
        body = hook.wait_for(1)[0]
    assert code == 1
    # d = six -1s and two 0s: mean -0.75, sd sqrt(1.5 / 7) = 0.4629, t(0.975, 7) = 2.3646:
    # -0.75 -/+ 2.3646 * 0.4629 / sqrt(8) = -1.137 to -0.363
    assert err.strip() == (
        "check failed: quality regressed against baseline.json: 1.000 -> 0.250 on the same 8 "
        "items, change -0.750 (95% -1.137 to -0.363; McNemar exact (one-sided) p = 0.0156), "
        "beyond the allowed drop 0.000 at alpha 0.05")
    assert body["kind"] == "gate.failed" and body["passed"] is False
    assert body["text"].startswith(f"Tradeoff: regression gate failed for model {MODEL} on "
                                   "results-2026-W02.csv: quality regressed against baseline.json")
    assert body["comparison"]["p_value"] == 0.015625 and body["items"] == 8
    sent = deliveries(ws)
    assert sent[["kind", "webhook", "ok", "final"]].values.tolist() == [["gate.failed", "ci", True, True]]

    # both weeks are versions of one stored eval set: same items, the second's parent the first
    runs = list_evalsets(ws).sort_values("id")
    assert runs["name"].tolist() == ["Live run: inputs.csv"] * 2
    assert runs["parent_id"].isna().tolist() == [True, False]
    assert int(runs["parent_id"].iloc[1]) == int(runs["id"].iloc[0])
    assert runs["items_digest"].nunique() == 1
    first, second = (load_evalset(ws, int(i)) for i in runs["id"])
    diff = diff_items(first, MODEL, second, MODEL)
    assert diff.regressions["item_id"].tolist() == [f"m{i}" for i in range(6)]
    assert diff.improvements.empty and diff.counts()["unchanged"] == 2


def test_a_passing_check_sends_no_alert(ws, tmp_path, capsys):
    from core.gateway.webhooks import add_webhook, events

    evalset = write_evalset(tmp_path / "ev.csv")
    with WebhookReceiver() as hook:
        add_webhook(ws, "ci", hook.url, events="*")
        assert main(["check", str(evalset), "--policy", "good", "--min-quality", "0.8",
                     "--alert"]) == 0
        assert main(["check", str(evalset), "--policy", "bad", "--min-quality", "0.8",
                     "--alert"]) == 1
        bodies = hook.wait_for(1)
    assert [b["kind"] for b in bodies] == ["gate.failed"] and "policy" in bodies[0]
    assert events(ws)["kind"].tolist() == ["gate.failed"]
    assert "quality 0.300 is below the floor 0.800" in bodies[0]["text"]


def test_no_webhook_for_the_alert_is_said(ws, tmp_path, capsys):
    evalset = write_evalset(tmp_path / "ev.csv")
    assert main(["check", str(evalset), "--policy", "bad", "--min-quality", "0.8", "--alert"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("check failed: quality 0.300")
    assert err[1] == ("note: no webhook takes gate.failed events; add one with `python -m core "
                      "webhooks add NAME URL --events gate.`")
