"""The four other tasks end to end, each against a floor a broken model cannot reach."""

import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from components import spec as spec_lib
from components.trainer.run import LOSS_RECORD, run_fn
from pipelines import datasets, profile, report, results, tasks
from tests.components.trainer import fn_args as trainer_inputs

pytestmark = pytest.mark.e2e


def _evaluate(layout):
    rows = results.executions(layout.metadata_path, layout.pipeline_name)
    failed = [row.component for row in rows if row.state == "FAILED"]
    assert not failed, failed
    return results.evaluation(layout.metadata_path, layout.pipeline_name)


def test_tagging_reaches_the_bayes_ceiling_within_3_points(tmp_path, run_task):
    layout = run_task(tmp_path, "tagging")
    ceiling = datasets.read_metadata(layout.data_dir)["bayes_token_accuracy"]
    evaluation = _evaluate(layout)
    accuracy = evaluation.overall()["masked_token_accuracy"]
    assert accuracy >= ceiling - 0.03, (accuracy, ceiling)
    assert accuracy <= ceiling + 0.02  # above Bayes-optimal would mean leaked labels
    buckets = {s for s in evaluation.metrics if s.startswith("length_bucket=")}
    assert len(buckets) >= 3, buckets
    assert evaluation.blessed


def test_correlation_reaches_90_percent_of_the_optimal_ccc(tmp_path, run_task):
    layout = run_task(tmp_path, "correlation")
    optimum = datasets.read_metadata(layout.data_dir)["optimal_ccc_mean"]
    evaluation = _evaluate(layout)
    ccc = evaluation.overall()["sequence_ccc"]
    assert ccc >= 0.9 * optimum, (ccc, optimum)
    assert evaluation.overall()["sequence_pearson"] >= 0.9 * optimum
    assert evaluation.blessed


def test_multilabel_bpmll_ranks_far_better_than_constant_scores(tmp_path, run_task):
    # The default Beam args: the DirectRunner in multi-processing mode over all cores.
    layout = run_task(tmp_path, "multilabel", beam_args=None)
    metadata = datasets.read_metadata(layout.data_dir)
    constant = metadata["ranking_loss_constant"]
    evaluation = _evaluate(layout)
    overall = evaluation.overall()
    assert overall["ranking_loss"] <= 0.4 * constant, (overall["ranking_loss"], constant)
    assert overall["auc/macro"] >= 0.75
    assert overall["auc/micro"] >= 0.75
    assert {f"auc/classId:{i}" for i in range(8)} <= set(overall)
    assert 0.0 <= overall["hamming_loss"] <= 0.5
    assert evaluation.blessed
    # The report draws the per-label bars and one ROC / PR curve per label.
    with open(report.write_report(layout.root), encoding="utf-8") as handle:
        page = handle.read()
    assert page.count('data-chart="per-class"') == 1 and 'data-chart="curves"' in page
    assert sorted(report._curves(results.load_eval_result(evaluation.uri))) == [
        f"classId:{i}" for i in range(8)
    ]


@pytest.fixture(scope="module")
def multitask_run(penguins_run, run_task):
    """The multitask pipeline on LocalDagRunner in the penguins run's root (one MLMD database,
    two pipelines): (the penguins evaluation before it ran, the multitask layout)."""
    before = results.evaluation(penguins_run.metadata_path, penguins_run.pipeline_name)
    return before, run_task(penguins_run.root, "multitask", orchestrator="local")


@pytest.mark.xdist_group("penguins")
def test_multitask_on_local_dag_runner_shares_a_root_and_beats_constant_predictors(
    penguins_run, multitask_run
):
    before, layout = multitask_run
    assert layout.metadata_path == penguins_run.metadata_path
    after = results.evaluation(penguins_run.metadata_path, penguins_run.pipeline_name)
    assert after.uri == before.uri and after.metrics == before.metrics
    assert set(results.pipeline_names(layout.metadata_path)) >= {
        "losskit-penguins",
        "losskit-multitask",
    }
    overall = _evaluate(layout).overall()
    # Constant predictors: accuracy of the majority class (152 of 344), MSE of the mean on a
    # z-scored target (≈ 1).
    assert overall["species/accuracy"] >= 0.9
    assert overall["species/auc/macro"] >= 0.95
    assert overall["body_mass/mean_squared_error"] <= 0.5


@pytest.mark.xdist_group("penguins")
@pytest.mark.parametrize("method", ["dwa", "gradnorm", "famo"])
def test_multitask_trains_with_each_dynamic_balancer(multitask_run, method, tmp_path):
    """`balancer: dwa | gradnorm | famo` by name: the real run_fn on the multitask run's
    Transform output; the weights it logs move, and both heads learn."""
    _, layout = multitask_run
    found = profile.profile(os.path.join(layout.data_dir, "data.csv"))
    raw = tasks.with_classes_from(tasks.load("multitask"), found).model_dump()
    raw["balancer"] = {"method": method, "warmup": raw["balancer"]["warmup"]}
    raw["trainer"]["epochs"] = 12
    spec = spec_lib.parse(raw)
    args = trainer_inputs.fn_args(
        trainer_inputs.transform_outputs(layout), tmp_path, spec.component_config("trainer")
    )
    run_fn(args)
    with open(os.path.join(args.model_run_dir, LOSS_RECORD)) as f:
        balancer = json.load(f)["balancer"]
    assert balancer["method"] == method
    weights = np.array([balancer["weights"][head] for head in ("species", "body_mass")])
    assert weights.shape == (2, 12) and np.all(weights > 0)
    np.testing.assert_allclose(weights.sum(0), 2.0, rtol=1e-4)
    assert not np.allclose(weights[:, -1], 1.0)
    # Both heads beat a constant predictor on the eval split (majority class 44 %, MSE 1).
    examples = trainer_inputs.transform_outputs(layout)["examples"]
    files = glob.glob(os.path.join(examples, "Split-eval", "*"))
    records = list(tf.data.TFRecordDataset(files, compression_type="GZIP").as_numpy_iterator())
    model = tf.saved_model.load(args.serving_model_dir)
    predicted = model.signatures["serving_default"](examples=tf.constant(records))
    species = [tf.train.Example.FromString(r).features.feature["species"] for r in records]
    names = spec.heads[0].class_names
    labels = [names.index(f.bytes_list.value[0].decode()) for f in species]
    accuracy = np.mean(predicted["species"].numpy().argmax(1) == labels)
    assert accuracy >= 0.85, accuracy
