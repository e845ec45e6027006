"""When things go wrong: bad data and bad configuration stop early with one clear line and
leave nothing half-written; a killed run resumes from cache; a NaN loss stops training."""

import glob
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from components.trainer.callbacks import NonFiniteLossError, StopOnNonFiniteLoss
from pipelines import contracts, results, tasks
from pipelines.cli import main

HEADER = "species,island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year"
GOOD_ROW = "Adelie,Torgersen,39.1,18.7,181,3750,male,2007"


def _csv(tmp_path, *rows, header=HEADER):
    path = tmp_path / "data.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return str(path)


def _run(args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    message = result.output.strip().splitlines()
    assert message and message[0].startswith("Error: "), result.output
    return result.output


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ((GOOD_ROW, "Adelie,Dream,40.0,18.0,190"), r"data.csv, row 3: 5 fields, the header has 8"),
        (
            (GOOD_ROW, "Gentoo,Dream,forty,18.0,190,3700,male,2008"),
            "row 3: column 'bill_length_mm' (features.numeric) is not a number: 'forty'",
        ),
        (
            (GOOD_ROW, ",Dream,40.0,18.0,190,3700,male,2008"),
            "label 'species' (label.column) has a single class 'Adelie'",
        ),
        ((), "a header but no rows"),
    ],
)
def test_a_malformed_csv_stops_before_any_component_and_names_the_row(tmp_path, rows, expected):
    root = tmp_path / "root"
    output = _run(["run", "penguins", "--data", _csv(tmp_path, *rows), "--root", str(root)])
    assert expected in output
    assert not root.exists(), "nothing under the pipeline root may be touched"


def test_a_missing_label_column_is_named(tmp_path):
    header = HEADER.replace("species,", "")
    data = _csv(tmp_path, GOOD_ROW.split(",", 1)[1], header=header)
    assert "no column 'species' (label.column)" in _run(["run", "penguins", "--data", data])


def test_an_empty_file_is_named(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("")
    assert "the file is empty" in _run(["run", "penguins", "--data", str(path)])


def _write_records(path, examples):
    with tf.io.TFRecordWriter(str(path)) as writer:
        for example in examples:
            writer.write(example.SerializeToString())
    return str(path)


def _example(**features):
    feature = {}
    for name, values in features.items():
        if isinstance(values[0], bytes):
            feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
        elif isinstance(values[0], float):
            feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=values))
        else:
            feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=values))
    return tf.train.Example(features=tf.train.Features(feature=feature))


def test_non_numeric_tokens_are_named_by_record(tmp_path):
    data = _write_records(
        tmp_path / "data.tfrecord",
        [_example(tokens=[1, 2], tags=[0, 1]), _example(tokens=[b"a", b"b"], tags=[0, 1])],
    )
    output = _run(["run", "tagging", "--data", data])
    assert "record 1: feature 'tokens' is bytes_list here but int64_list" in output


def test_unequal_sequence_lengths_are_named_by_record(tmp_path):
    data = _write_records(
        tmp_path / "data.tfrecord",
        [_example(tokens=[1, 2], tags=[0, 1]), _example(tokens=[1, 2, 3], tags=[0])],
    )
    assert "record 1: 'tokens' has 3 values, 'tags' has 1" in _run(
        ["run", "tagging", "--data", data]
    )


def test_a_file_that_is_not_a_tfrecord_is_named(tmp_path):
    path = tmp_path / "data.tfrecord"
    path.write_bytes(b"not a tfrecord at all, just bytes")
    assert "not a TFRecord file" in _run(["run", "tagging", "--data", str(path)])


def test_nan_in_a_numeric_column_is_accepted_as_missing(tmp_path):
    data = _csv(tmp_path, GOOD_ROW, "Gentoo,Biscoe,nan,15.0,220,5000,female,2008")
    assert contracts.check(tasks.load("penguins"), data).rows == 2


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "nosuchtask"], "unknown task 'nosuchtask'; did you mean 'multitask'?"),
        (["run", "penguins", "--loss", "nosuchloss"], "loss: Unknown loss 'nosuchloss'"),
        (["check", "penguins", "--data", "missing.csv"], "missing.csv: no such file"),
        (["run", "multitask", "--loss", "bpmll"], "the multitask loss is one spec per head"),
        (
            ["compile", "penguins", "-o", "x.yaml", "--pipeline-root", "gs://b/r", "--gpu", "t4"],
            "--gpu must be TYPE:COUNT",
        ),
        (
            ["compile", "nosuchtask", "-o", "x.yaml", "--pipeline-root", "gs://b/r"],
            "(valid: correlation, multilabel, multitask, penguins, tagging)",
        ),
        (["run", "penguins", "--root", "a-file/root"], "is not a writable directory"),
        (["report", "/nonexistent/root"], "no ML Metadata database"),
    ],
)
def test_bad_configuration_is_one_line_and_non_zero(args, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("")
    assert expected in _run(args)


def test_a_non_finite_loss_stops_training_naming_epoch_and_batch():
    model = tf.keras.Sequential([tf.keras.Input((1,)), tf.keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((8, 1), np.float32)
    y = np.ones((8, 1), np.float32)
    y[5] = np.nan  # the third batch of two
    with pytest.raises(NonFiniteLossError, match=r"epoch 1, batch 2 \(global step 3\)"):
        model.fit(
            x,
            y,
            batch_size=2,
            epochs=1,
            verbose=0,
            shuffle=False,
            callbacks=[StopOnNonFiniteLoss()],
        )


def _capped_schema(inferred_path, out_path, feature, maximum):
    """A curated schema as a user makes one: the schema SchemaGen inferred, with `feature`
    capped at `maximum`, which the data breaks."""
    schema = schema_pb2.Schema()
    with open(inferred_path) as handle:
        text_format.Parse(handle.read(), schema)
    (cap,) = (f for f in schema.feature if f.name == feature)
    if cap.type == schema_pb2.INT:
        cap.int_domain.max = int(maximum)
    else:
        cap.float_domain.max = float(maximum)
    out_path.write_text(text_format.MessageToString(schema))
    return str(out_path)


@pytest.mark.e2e
@pytest.mark.xdist_group("penguins")
def test_data_that_breaks_a_curated_schema_stops_before_transform(penguins_run, tmp_path):
    """ExampleValidator's anomalies gate the run: the AnomaliesGate fails naming the split and
    the feature, and neither Transform nor the Trainer runs."""
    (inferred,) = glob.glob(
        os.path.join(penguins_run.pipeline_root, "SchemaGen", "schema", "*", "schema.pbtxt")
    )
    schema = _capped_schema(inferred, tmp_path / "schema.pbtxt", "body_mass_g", 5000)
    root = tmp_path / "root"
    outcome = CliRunner().invoke(
        main,
        ["run", "penguins", "--schema", schema, "--root", str(root), "--"]
        + ["--direct_running_mode=in_memory"],
    )
    assert outcome.exit_code != 0 and "Traceback" not in outcome.output, outcome.output
    (error,) = (line for line in outcome.output.splitlines() if line.startswith("Error: "))
    assert error == (
        "Error: AnomaliesGate failed: ExampleValidator found 2 anomalies against the schema: "
        "split eval, feature body_mass_g: Unexpectedly large value: 6300. | "
        "split train, feature body_mass_g: Unexpectedly large value: 5850."
    )
    executions = results.executions(str(root / "metadata.sqlite"), "losskit-penguins")
    ran = {r.component: r.state for r in executions}
    assert ran["ExampleValidator"] == "COMPLETE" and ran["AnomaliesGate"] == "FAILED", ran
    assert "Transform" not in ran and "Trainer" not in ran, ran


def test_a_schema_that_is_not_a_schema_is_named(tmp_path):
    path = tmp_path / "schema.pbtxt"
    path.write_text("feature { name: 'x' type: NOT_A_TYPE }")
    assert f"--schema {path}: not a text-format Schema" in _run(
        ["run", "penguins", "--schema", str(path), "--root", str(tmp_path / "root")]
    )


def _losskit(*args):
    return [sys.executable, "-c", "from pipelines.cli import main; main()", *args]


@pytest.mark.e2e
@pytest.mark.xdist_group("penguins")
def test_a_run_killed_in_the_trainer_resumes_from_cache(penguins_run, tmp_path):
    """Kill `losskit run` while the Trainer runs, rerun the same command: the components
    that completed are reused, and the result matches the uninterrupted run."""
    root = str(tmp_path / "root")
    command = _losskit(
        "run", "penguins", "--root", root, "--epochs", "30", "--", "--direct_running_mode=in_memory"
    )
    metadata = os.path.join(root, "metadata.sqlite")
    first = subprocess.Popen(command, start_new_session=True)
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline:
            if os.path.exists(metadata):
                rows = results.executions(metadata, "losskit-penguins")
                if any(r.component == "Trainer" and r.state == "RUNNING" for r in rows):
                    break
            time.sleep(0.5)
        else:
            pytest.fail("the Trainer never started")
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    rows = results.executions(metadata, "losskit-penguins")
    before = {r.component for r in rows if r.state == "COMPLETE"}
    assert "Transform" in before and "Evaluator" not in before

    subprocess.run(command, check=True, timeout=900)
    rerun = [r for r in results.executions(metadata, "losskit-penguins") if r.id > rows[-1].id]
    states = {r.component: r.state for r in rerun}
    for component in ("CsvExampleGen", "StatisticsGen", "SchemaGen", "Transform"):
        assert states.get(component) == "CACHED", (component, states)
    assert states["Trainer"] == "COMPLETE" and states["Evaluator"] == "COMPLETE"

    # Nothing was pushed before this run completed: it was judged without a baseline.
    assert results.baseline(metadata, "losskit-penguins") is None
    (first_push,) = os.listdir(os.path.join(root, "serving", "penguins"))
    resumed = results.evaluation(metadata, "losskit-penguins")
    uninterrupted = results.evaluation(penguins_run.metadata_path, penguins_run.pipeline_name)
    assert resumed.blessed == uninterrupted.blessed is True
    assert resumed.overall()["auc/macro"] == pytest.approx(
        uninterrupted.overall()["auc/macro"], abs=0.02
    )

    # Changing the loss reruns the Trainer and what depends on it, nothing upstream.
    last = results.executions(metadata, "losskit-penguins")[-1].id
    loss = '{"name": "ClassWeightedCrossentropy", "params": {"class_weights": [1, 1, 1]}}'
    subprocess.run([*command[:-2], "--loss", loss, *command[-2:]], check=True, timeout=900)
    states = {
        r.component: r.state
        for r in results.executions(metadata, "losskit-penguins")
        if r.id > last
    }
    assert states["Transform"] == "CACHED" and states["Trainer"] == "COMPLETE", states
    # The new candidate was judged against the model the previous run pushed.
    assert states["LatestPushedModel"] == "COMPLETE", states
    assert results.baseline(metadata, "losskit-penguins") == os.path.join(
        root, "serving", "penguins", first_push
    )
    shutil.rmtree(root)
