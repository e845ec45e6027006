"""Compiled Kubeflow steps run here as the KFP 2 launcher runs them in their containers:
same command, same args, the ExecutorInput built from the PipelineSpec (parameterValues only,
as open-source KFP's driver fills it) and the upstream steps' executor_output.json."""

import json
import os

import pytest
import tensorflow as tf

from pipelines import datasets, kubeflow, kubeflow_launch, results

STEPS = (
    "CsvExampleGen",
    "StatisticsGen",
    "SchemaGen",
    "ExampleValidator",
    "AnomaliesGate",
    "Transform",
    "Trainer",
    "LatestPushedModel",
    "Evaluator",
    "Pusher",
)
RETRAIN = STEPS[STEPS.index("Trainer") :]


def _metadata(outputs, key):
    (artifact,) = outputs[key]["artifacts"]
    return artifact


@pytest.mark.e2e
@pytest.mark.xdist_group("penguins")
def test_every_step_runs_from_the_compiled_file_twice_on_one_root(tmp_path, penguins_run):
    """Every compiled step, as the KFP launcher runs it; then a second run from the Trainer
    on (what KFP's cache leaves to rerun) judges its candidate against the first run's pushed
    model, found by the LatestPushedModel step with no ML Metadata access."""
    data = datasets.write_default("penguins", str(tmp_path / "data"))
    root = str(tmp_path / "root")
    path = kubeflow.compile_task(
        "penguins",
        str(tmp_path / "penguins.yaml"),
        pipeline_root=root,
        data=data.path,
        gpu=None,
        epochs=30,  # as the penguins_run fixture, the LocalDagRunner-side reference
    )
    serving = os.path.join(root, "serving", "penguins")
    upstream, runs = {}, {}
    for run_id, steps in (("run-1", STEPS), ("run-2", RETRAIN)):
        for task in steps:
            step = kubeflow_launch.run_step(path, task, root, upstream, run_id=run_id)
            assert step.returncode == 0, f"{run_id} {task}:\n{step.output[-3000:]}"
            upstream[task] = step.outputs
        runs[run_id] = {
            "baseline": _metadata(upstream["LatestPushedModel"], "model"),
            "blessing": _metadata(upstream["Evaluator"], "blessing"),
            "evaluation": _metadata(upstream["Evaluator"], "evaluation"),
            "pushed": sorted(os.listdir(serving)),
        }

    examples = _metadata(upstream["CsvExampleGen"], "examples")
    assert json.loads(examples["metadata"]["split_names"]) == ["train", "eval"]
    rows = 0
    for split in ("train", "eval"):
        files = tf.io.gfile.glob(os.path.join(examples["uri"], f"Split-{split}", "*"))
        rows += sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP"))
    assert rows == 344  # every penguin, split 2:1 by the compiled output_config

    first, second = runs["run-1"], runs["run-2"]
    assert not first["baseline"]["metadata"]["found"]  # nothing pushed yet
    assert "baseline_model" not in first["blessing"]["metadata"]
    assert first["blessing"]["metadata"]["blessed"] == 1 and len(first["pushed"]) == 1
    assert second["baseline"]["metadata"]["found"]
    assert second["baseline"]["metadata"]["pushed_from"] == os.path.join(
        serving, first["pushed"][0]
    )
    assert second["blessing"]["metadata"]["baseline_model"] == second["baseline"]["uri"]
    assert second["blessing"]["metadata"]["blessed"] == 1 and len(second["pushed"]) == 2

    # The same spec on BeamDagRunner (penguins_run): the same metrics within tolerance.
    local = results.evaluation(penguins_run.metadata_path, penguins_run.pipeline_name).overall()
    launched = results.slice_metrics(first["evaluation"]["uri"])["Overall"]
    for metric in ("auc/macro", "accuracy", "example_count"):
        assert launched[metric] == pytest.approx(local[metric], abs=0.02), metric
    # …and the model it pushed predicts as the one the BeamDagRunner run pushed.
    (local_push,) = os.listdir(penguins_run.serving_dir)
    records = [
        r.numpy()
        for r in tf.data.TFRecordDataset(
            tf.io.gfile.glob(os.path.join(examples["uri"], "Split-eval", "*")),
            compression_type="GZIP",
        )
    ]
    predictions = [
        tf.saved_model.load(model).signatures["serving_default"](examples=tf.constant(records))
        for model in (
            os.path.join(serving, first["pushed"][0]),
            os.path.join(penguins_run.serving_dir, local_push),
        )
    ]
    launched_ids, local_ids = (p["outputs"].numpy().argmax(axis=1) for p in predictions)
    assert (launched_ids == local_ids).mean() >= 0.97


def test_a_step_whose_input_has_not_run_is_named(tmp_path):
    path = kubeflow.compile_task(
        "penguins", str(tmp_path / "penguins.yaml"), pipeline_root=str(tmp_path), gpu=None
    )
    with pytest.raises(ValueError, match="step StatisticsGen needs CsvExampleGen's output"):
        kubeflow_launch.run_step(path, "StatisticsGen", str(tmp_path), upstream={})


@pytest.mark.e2e
def test_a_sequence_task_runs_from_the_compiled_file(tmp_path):
    """Tagging's padded sequences through every compiled step, twice on one root: the first
    run has no baseline and is judged on its value threshold; the second (from the Trainer
    on) is judged against the first run's pushed model."""
    data = datasets.write_default("tagging", str(tmp_path / "data"))
    root = str(tmp_path / "root")
    path = kubeflow.compile_task(
        "tagging", str(tmp_path / "tagging.yaml"), pipeline_root=root, data=data.path, gpu=None
    )
    serving = os.path.join(root, "serving", "tagging")
    upstream = {}
    steps = [s.replace("CsvExampleGen", "ImportExampleGen") for s in STEPS]
    for run_id, run_steps in (("run-1", steps), ("run-2", RETRAIN)):
        for task in run_steps:
            step = kubeflow_launch.run_step(path, task, root, upstream, run_id=run_id)
            assert step.returncode == 0, f"{run_id} {task}:\n{step.output[-3000:]}"
            upstream[task] = step.outputs
        blessing = _metadata(upstream["Evaluator"], "blessing")
        assert blessing["metadata"]["blessed"] == 1
        if run_id == "run-1":
            assert "baseline_model" not in blessing["metadata"]
            overall = results.slice_metrics(_metadata(upstream["Evaluator"], "evaluation")["uri"])
            (first_push,) = os.listdir(serving)
    ceiling = datasets.read_metadata(data.directory)["bayes_token_accuracy"]
    assert overall["Overall"]["masked_token_accuracy"] >= ceiling - 0.03
    assert any(name.startswith("length_bucket=") for name in overall)
    baseline = _metadata(upstream["LatestPushedModel"], "model")
    assert baseline["metadata"]["pushed_from"] == os.path.join(serving, first_push)
    assert blessing["metadata"]["baseline_model"] == baseline["uri"]
    assert len(os.listdir(serving)) == 2
