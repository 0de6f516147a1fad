"""Acceptance: choice extraction re-scores RouterBench's real ARC-Challenge answers.

The file has no gold column. The gold letter of an item is recovered from the answers the file
itself scores as correct (the option letter those answers name; every correct answer of an item
names the same one). Then every model's ``M|model_response`` is scored by the ``choice`` scorer
against that letter, and compared with the file's own 0/1 score. Measured on the test split:
4,776 answers compared (7 items have no correct answer, so no gold), 100.0% agreement; 152
answers name no option (claude-v2's "I do not..." refusals, for instance): unparsed, scored 0,
and the file scores 0 every one of them that it scores (151; one is blank in the file).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from core.evaluation.loading import load_csv
from core.evaluation.rescore import apply_parts, score_task
from core.evaluation.scorers import parse_scorer
from core.evaluation.scorers.choice import extract_choice
from core.settings import REPO_ROOT

pytestmark = pytest.mark.acceptance

ARC_TEST = REPO_ROOT.parent / "shared" / "acceptance" / "routerbench" / "arc_challenge_test.csv"


@pytest.fixture(scope="module")
def arc():
    if not ARC_TEST.exists():
        pytest.skip(f"acceptance data absent: {ARC_TEST} (shared/acceptance is not beside this checkout)")
    return load_csv(ARC_TEST)


def recovered_gold(es) -> tuple[list, int]:
    """The option letter named by the answers the file scores 1, per item (None: no such answer),
    and how many items had correct answers naming different letters."""
    gold, conflicts = [], 0
    for i in range(es.n_items):
        named = Counter(extract_choice(es.output[i, j], "ABCDE") for j in range(es.n_models)
                        if es.score[i, j] == 1)
        named.pop(None, None)
        conflicts += len(named) > 1
        gold.append(named.most_common(1)[0][0] if named else None)
    return gold, conflicts


def test_choice_extraction_agrees_with_the_files_own_scores(arc, ws):
    gold, conflicts = recovered_gold(arc)
    assert conflicts == 0  # every correct answer of an item names the same letter
    assert sum(g is None for g in gold) == 7
    items = arc.items.assign(reference=gold)
    with_gold = replace(arc, items=items)
    part = score_task(ws, with_gold, parse_scorer("choice"))
    scored = apply_parts(with_gold, [part]).evalset
    both = ~np.isnan(scored.score) & ~np.isnan(arc.score)
    agreement = float((scored.score[both] == arc.score[both]).mean())
    print(f"\nARC-Challenge test: choice extraction agrees with the file's scores on "
          f"{agreement:.2%} of {int(both.sum()):,} answers; {int(part.scores.unparsed.sum())} unparsed")
    assert int(both.sum()) == 4776
    assert agreement >= 0.99
    assert int(part.scores.unparsed.sum()) == 152
    unparsed = both & ~part.scores.parsed  # 151 of them have a score in the file: always 0
    assert unparsed.sum() == 151 and (arc.score[unparsed] == 0).all()
    # per model, the re-scored quality is the file's accuracy on the items with a gold letter
    for j, model in enumerate(arc.models):
        known = both[:, j]
        assert scored.score[known, j].mean() == pytest.approx(arc.score[known, j].mean(), abs=0.01), model
    # a second pass reuses every stored score
    assert score_task(ws, with_gold, parse_scorer("choice")).computed == 0
