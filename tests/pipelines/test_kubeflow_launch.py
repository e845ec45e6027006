"""Compiled Kubeflow steps run here as the KFP 2 launcher runs them in their containers:
same command, same args, the ExecutorInput built from the PipelineSpec (parameterValues only,
as open-source KFP's driver fills it) and the upstream steps' executor_output.json."""

import json
import os

import pytest
import tensorflow as tf

from pipelines import datasets, kubeflow, kubeflow_launch

STEPS = ("CsvExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "AnomaliesGate")


@pytest.mark.e2e
def test_the_data_steps_run_from_the_compiled_file(tmp_path):
    data = datasets.write_default("penguins", str(tmp_path / "data"))
    root = str(tmp_path / "root")
    path = kubeflow.compile_task(
        "penguins", str(tmp_path / "penguins.yaml"), pipeline_root=root, data=data.path, gpu=None
    )
    upstream = {}
    for task in STEPS:
        step = kubeflow_launch.run_step(path, task, root, upstream)
        assert step.returncode == 0, f"{task}:\n{step.output[-3000:]}"
        upstream[task] = step.outputs

    (examples,) = upstream["CsvExampleGen"]["examples"]["artifacts"]
    assert json.loads(examples["metadata"]["split_names"]) == ["train", "eval"]
    rows = 0
    for split in ("train", "eval"):
        files = tf.io.gfile.glob(os.path.join(examples["uri"], f"Split-{split}", "*"))
        rows += sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP"))
    assert rows == 344  # every penguin, split 2:1 by the compiled output_config
    (schema,) = upstream["SchemaGen"]["schema"]["artifacts"]
    with open(os.path.join(schema["uri"], "schema.pbtxt")) as handle:
        assert 'name: "species"' in handle.read()


def test_a_step_whose_input_has_not_run_is_named(tmp_path):
    path = kubeflow.compile_task(
        "penguins", str(tmp_path / "penguins.yaml"), pipeline_root=str(tmp_path), gpu=None
    )
    with pytest.raises(ValueError, match="step StatisticsGen needs CsvExampleGen's output"):
        kubeflow_launch.run_step(path, "StatisticsGen", str(tmp_path), upstream={})
