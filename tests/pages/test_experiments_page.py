"""The Experiments page, driven headlessly: A/B, shadow, saving, errors shown (never tracebacks)."""
from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.evaluation import stats
from core.evaluation.loading import load_csv
from core.evaluation.store import save_evalset
from core.experiments.store import list_experiments, run_ab
from core.settings import REPO_ROOT

PAGE = str(REPO_ROOT / "app_pages" / "experiments.py")


def _csv(n: int = 300, blank_user: bool = False) -> bytes:
    rng = np.random.default_rng(9)
    big = rng.random(n) < 0.9
    cheap = big & (rng.random(n) < 0.9)
    lines = ["item_id,task,user,model,prediction,label,score,cost_usd,latency_ms"]
    for i in range(n):
        user = "" if (blank_user and i == 5) else f"user{i % 40}"
        task = ("billing", "triage")[i % 2]
        lines.append(f"q{i},{task},{user},big,{'yes' if big[i] else 'no'},yes,{int(big[i])},0.01,900")
        lines.append(f"q{i},{task},{user},cheap,{'yes' if cheap[i] else 'no'},yes,{int(cheap[i])},0.001,300")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def stored(ws):
    es = load_csv(_csv(), name="page-test.csv")
    return ws, es, save_evalset(ws, es, name="page-test.csv")


def _verdict(at) -> str:
    texts = [m.value for m in at.markdown if "Verdict:" in m.value]
    assert texts, "no verdict badge on the page"
    return texts[0].split("Verdict:")[1].rstrip("]").strip()


def test_ab_tab_shows_the_same_verdict_as_core_and_saves(stored):
    ws, es, _ = stored
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    # default: control = best model alone; switch the candidate to the cheap model alone
    assert at.selectbox(key="ab_a_model").value == "big"
    at.radio(key="ab_b_kind").set_value("Single model").run()
    at.selectbox(key="ab_b_model").set_value("cheap")
    at.number_input(key="ab_tol").set_value(0.05).run()
    assert at.number_input(key="ab_g_drop_0.05").value == 0.05  # the quality rule follows the tolerance
    assert not at.exception, [e.value for e in at.exception]
    expected = run_ab(es, {"kind": "single", "model": "big"}, {"kind": "single", "model": "cheap"},
                      name="cheaper-policy", tolerance=0.05)
    assert _verdict(at) == expected.verdict.decision
    shown = "\n".join(m.value for m in at.markdown)
    assert expected.verdict.reason.split(":")[0] in shown
    assert any("Too small to decide" in w.value for w in at.warning) == (not expected.sample_size.enough)
    # sample-size calculator agrees with core.evaluation.stats
    base = expected.arms["control"].quality.value
    at.number_input(key="ab_ss_mde").set_value(0.03).run()
    need = stats.sample_size_proportions(round(base, 3), 0.03, 0.05, 0.8, 1.0)
    assert any(m.value == f"{2 * need:,}" for m in at.metric)

    at.button(key="ab_save").click().run()
    assert any("Saved experiment 'cheaper-policy'" in s.value for s in at.success)
    saved = list_experiments(ws)
    assert saved["name"].tolist() == ["cheaper-policy"]
    assert saved["verdict"].iloc[0] == expected.verdict.decision
    assert at.selectbox(key="saved_pick").value == int(saved["id"].iloc[0])


def test_user_unit_warns_about_correlation_and_shadow_writes_the_ledger(stored):
    ws, es, _ = stored
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    at.selectbox(key="ab_unit").set_value("user").run()
    assert not at.exception
    assert any("correlated" in w.value for w in at.warning)

    at.radio(key="sh_b_kind").set_value("Single model").run()
    at.selectbox(key="sh_b_model").set_value("cheap")
    at.text_input(key="sh_name").set_value("shadow-cheap")
    at.button(key="sh_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    agree = float(np.mean([p == q for p, q in zip(es.prediction[:, 0], es.prediction[:, 1])]))
    assert metrics["Agreement"] == f"{agree:.1%}"
    # 300 items x 1 cheap call each: a replay on the eval set, recorded as simulated spend
    rows = ws.cursor().execute("select source, experiment, variant, count(*) from ledger group by all").fetchall()
    assert rows == [("simulation", "shadow-cheap", "candidate", 300)]
    assert any("Recorded 300 simulated call(s)" in c.value and "unbilled" in c.value
               for c in at.caption)
    assert metrics["Projected monthly savings"] == f"${(0.01 - 0.001) * 100_000:,.0f}"


def test_bad_unit_column_is_an_error_message_not_a_traceback(ws):
    es = load_csv(_csv(blank_user=True), name="blank-user.csv")
    save_evalset(ws, es, name="blank-user.csv")
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    at.selectbox(key="ab_unit").set_value("user").run()
    assert not at.exception
    assert any("empty on 1 item" in e.value for e in at.error)


def test_saved_policy_as_candidate_through_the_app_navigation(stored):
    from core.routing.optimize.store import save_policy
    from core.routing.policies import Cascade

    ws, es, _ = stored
    cascade = Cascade(["cheap", "big"], [0.5], {"kind": "agreement", "models": ["cheap", "big"]})
    save_policy(ws, "agree-cascade", cascade)
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("app_pages/experiments.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.radio(key="ab_b_kind").set_value("Saved policy").run()
    assert not at.exception, [e.value for e in at.exception]
    expected = run_ab(es, {"kind": "single", "model": "big"}, cascade, name="cheaper-policy", tolerance=0.02)
    assert _verdict(at) == expected.verdict.decision
    shown = "\n".join(str(v) for df in at.dataframe for v in df.value.to_numpy().ravel())
    assert "cascade cheap -> big" in shown  # the memo's setup names the saved policy
