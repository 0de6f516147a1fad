"""Eval set versions (content hash, upload time, parent) and the item-by-item diff of two."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.evaluation.evalset import EvalSet
from core.evaluation.item_diff import diff_items
from core.evaluation.store import list_evalsets, save_evalset
from core.evaluation.versions import items_digest


def evalset(name, scores, ids=None, inputs=None, label="x"):
    scores = np.asarray(scores, dtype=float).reshape(-1, 1)
    ids = ids or [f"i{k}" for k in range(len(scores))]
    items = pd.DataFrame({"item_id": ids, "input": inputs or [f"q {i}" for i in ids],
                          "label": [label] * len(ids)})
    return EvalSet.from_arrays(name, ["m"], score=scores, items=items,
                               cost=np.full_like(scores, 0.001))


def test_each_upload_of_a_name_is_a_version_whose_parent_is_the_one_before(ws):
    a = save_evalset(ws, evalset("x.csv", [1, 0]), digest="f1")
    other = save_evalset(ws, evalset("y.csv", [1, 1]))
    b = save_evalset(ws, evalset("x.csv", [0, 0]), digest="f2")
    c = save_evalset(ws, evalset("x.csv", [0, 0, 1]))
    table = list_evalsets(ws).set_index("id")
    assert table.loc[[a, b, c], "version"].tolist() == [1, 2, 3]
    assert pd.isna(table.loc[a, "parent_id"]) and pd.isna(table.loc[other, "parent_id"])
    assert (table.loc[b, "parent_id"], table.loc[c, "parent_id"]) == (a, b)
    # same items, other answers: one items hash; a third item: another
    assert table.loc[a, "items_digest"] == table.loc[b, "items_digest"] != table.loc[c, "items_digest"]
    assert table.loc[a, "created_at"] <= table.loc[b, "created_at"] <= table.loc[c, "created_at"]
    assert table.loc[[a, b], "digest"].tolist() == ["f1", "f2"]


def test_versions_of_a_workspace_stored_before_get_their_parents(ws, workspace_path):
    from core.evaluation.store import MIGRATIONS
    from core.workspace import open_workspace

    first, second = (save_evalset(ws, evalset("x.csv", [1])) for _ in range(2))
    # as a workspace of the last release: no parents known yet, schema v3; then reopened
    ws.write(lambda cur: cur.execute("update evalsets set parent_id = null"))
    ws.write(lambda cur: cur.execute(
        "update schema_versions set version = 3 where component = 'evalsets'"))
    ws.write(lambda cur: cur.execute(
        "alter table evalsets drop column parent_id; alter table evalsets drop column items_digest"))
    ws.close()
    assert len(MIGRATIONS) == 4
    table = list_evalsets(open_workspace(workspace_path)).set_index("id")
    assert pd.isna(table.loc[first, "parent_id"]) and table.loc[second, "parent_id"] == first


def test_the_items_hash_ignores_row_order_and_answers_but_not_questions():
    base = evalset("a", [1, 0, 1])
    reordered = evalset("b", [1, 0, 1], ids=["i2", "i0", "i1"], inputs=["q i2", "q i0", "q i1"])
    assert items_digest(base) == items_digest(reordered) == items_digest(evalset("c", [0, 0, 0]))
    assert items_digest(base) != items_digest(evalset("d", [1, 0, 1], label="y"))
    assert items_digest(base) != items_digest(evalset("e", [1, 0, 1], inputs=["q i0", "q i1", "?"]))


def test_diff_sorts_regressions_and_improvements_by_change():
    a = evalset("v1", [1.0, 1.0, 0.2, 0.5, 0.0, 0.9, np.nan], ids=list("abcdefg"))
    b = evalset("v2", [0.0, 0.75, 1.0, 0.5, 0.5, 0.9, 1.0, 1.0], ids=list("abcdefgh"),
                inputs=["q a", "q b", "q c", "q d", "q e", "CHANGED", "q g", "q h"])
    d = diff_items(a, "m", b, "m", "v1", "v2")
    assert d.regressions[["item_id", "change"]].values.tolist() == [["a", -1.0], ["b", -0.25]]
    assert d.improvements["item_id"].tolist() == ["c", "e"]  # +0.8, +0.5
    assert d.improvements["change"].tolist() == pytest.approx([0.8, 0.5])
    assert d.counts() == {"paired": 6, "regressed": 2, "improved": 2, "unchanged": 2,
                          "only_a": 0, "only_b": 1, "unscored": 1}
    assert d.table.set_index("item_id")["input_changed"].to_dict()["f"]
    assert d.test.diff == pytest.approx((-1 - 0.25 + 0.8 + 0.5) / 6)
    assert d.summary_line().startswith("6 items scored in both: 2 regressed, 2 improved, "
                                       "2 unchanged; mean change +0.008")
    assert d.summary_line().endswith("not compared: 1 only in v2, 1 unscored on one side.")
    # property: on a large random pair, regressions ascend, improvements descend, counts add up
    rng = np.random.default_rng(3)
    n = 2000
    big_a = evalset("A", rng.integers(0, 2, n))
    big_b = evalset("B", rng.integers(0, 2, n))
    big = diff_items(big_a, "m", big_b, "m")
    assert np.all(np.diff(big.regressions["change"]) >= 0)
    assert np.all(np.diff(big.improvements["change"]) <= 0)
    c = big.counts()
    assert c["regressed"] + c["improved"] + c["unchanged"] == n
    assert c["regressed"] == int(((big_a.score == 1) & (big_b.score == 0)).sum())


def test_diff_of_a_model_a_set_does_not_have_is_a_clear_message():
    from core.errors import InputError

    with pytest.raises(InputError, match="v1 has no model 'other'; it has m"):
        diff_items(evalset("v1", [1]), "other", evalset("v2", [1]), "m")
