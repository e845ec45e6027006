"""The balancer comparison: its data, one real (short) training per dynamic balancer through
the pipeline's wiring, and the summary the results README is rendered from."""

import numpy as np
import pytest

from benchmarks import balancers_bench, report


def test_the_multitask_data_is_the_penguins_csv_prepared_as_the_transform_does():
    numeric, categorical, labels, mass, train, test = balancers_bench.multitask_data(seed=0)
    assert len(labels) == 342  # 344 rows, two without species measurements or body mass
    assert sorted(set(train) | set(test)) == list(range(342)) and not set(train) & set(test)
    np.testing.assert_allclose(numeric[train].mean(0), 0, atol=1e-9)
    np.testing.assert_allclose(mass[train].std(), 1, rtol=1e-9)
    assert set(np.unique(labels)) == {0, 1, 2}
    assert {name: ids.max() for name, ids in categorical.items()} == {"island": 3, "sex": 2}
    assert (categorical["sex"] == 0).sum() > 0  # missing sex is id 0


def test_the_scales_problem_has_heads_of_very_different_scales():
    _, _, labels, target, _, _ = balancers_bench.scales_data(seed=0)
    assert set(np.unique(labels)) == {0, 1, 2, 3}
    assert target.std() > 20  # regression spread ~50 against a 4-class cross-entropy of ~1.4


@pytest.mark.parametrize("method", ["gradnorm", "famo"])
def test_one_short_training_per_method_learns(monkeypatch, method):
    settings = {**balancers_bench.PROBLEMS["scales"], "epochs": 3}
    monkeypatch.setitem(balancers_bench.PROBLEMS, "scales", settings)
    result = balancers_bench.train_once("scales", method, seed=0)
    assert result["accuracy"] > 0.4  # 4 classes: chance is 0.25
    assert result["nmse"] < 1.0  # better than predicting the mean
    assert result["step_seconds"] > 0


def test_summary_and_verdicts():
    runs = [
        {"problem": "p", "method": m, "seed": s, "accuracy": a, "nmse": n, "step_seconds": t}
        for m, s, a, n, t in [
            ("fixed", 0, 0.80, 0.50, 0.010),
            ("fixed", 1, 0.82, 0.52, 0.012),
            ("famo", 0, 0.90, 0.40, 0.020),
            ("famo", 1, 0.91, 0.60, 0.022),
        ]
    ]
    document = {"runs": runs}
    rows = {row["method"]: row for row in balancers_bench.summary_rows(document)}
    assert rows["famo"]["accuracy"] == pytest.approx((0.905, np.std([0.9, 0.91], ddof=1)))
    assert rows["famo"]["step_vs_fixed"] == pytest.approx(0.021 / 0.011)
    assert rows["fixed"]["step_vs_fixed"] == pytest.approx(1.0)
    verdicts = report._balancer_verdicts(list(rows.values()))
    assert verdicts[0] == "- p, accuracy: best famo (0.905)."
    # famo's NMSE spread (0.14) covers fixed's mean: the two are not told apart.
    assert verdicts[1] == "- p, nmse: best famo (0.500); within one std of it: fixed."
