"""The real run_fn, with FnArgs built the way TFX's Trainer executor builds them, on the
transform output of a real penguins pipeline run; then TFMA on the model it exports."""

import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma
import tensorflow_transform as tft
from sklearn.metrics import roc_auc_score
from tfx.utils import path_utils

from components import spec as spec_lib
from components.evaluator import configs
from components.evaluator.model_loader import custom_eval_shared_model
from components.trainer.export import signatures
from components.trainer.run import LOSS_RECORD, run_fn
from components.transform import read_class_weight_table
from pipelines import profile, tasks
from tests.components.trainer import fn_args as trainer_inputs

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("penguins")]


def penguins_spec(data_dir, **changes) -> spec_lib.TaskSpec:
    """The shipped penguins spec as `losskit run` resolves it (classes read from the data),
    with `changes` merged into its top-level sections."""
    spec = tasks.with_classes_from(
        tasks.load("penguins"), profile.profile(os.path.join(data_dir, "data.csv"))
    )
    raw = spec.model_dump()
    for section, values in changes.items():
        raw[section] = {**raw[section], **values}
    return spec_lib.parse(raw)


def _raw_eval(outputs):
    files = glob.glob(os.path.join(outputs["examples"], "Split-eval", "*"))
    records = list(tf.data.TFRecordDataset(files, compression_type="GZIP").as_numpy_iterator())
    examples = [tf.train.Example.FromString(r) for r in records]
    return files, records, examples


def _feature(example, key):
    values = example.features.feature[key].bytes_list.value
    return values[0].decode() if values else None


@pytest.fixture(scope="module")
def trained(penguins_run, tmp_path_factory):
    outputs = trainer_inputs.transform_outputs(penguins_run)
    out = tmp_path_factory.mktemp("run_fn")
    spec = penguins_spec(penguins_run.data_dir, trainer={"epochs": 15, "batch_size": 16})
    fn_args = trainer_inputs.fn_args(outputs, out, spec.component_config("trainer"))
    run_fn(fn_args)
    return outputs, fn_args, spec


def _analyze(model_dir, outputs, out_dir, spec):
    files, _, _ = _raw_eval(outputs)
    eval_config = configs.eval_config(spec, with_baseline=False)
    shared = custom_eval_shared_model(model_dir, "", eval_config)
    return tfma.run_model_analysis(
        eval_shared_model=shared,
        eval_config=eval_config,
        data_location=files[0],
        file_format="tfrecords",
        output_path=str(out_dir),
    ), eval_config


def _predict(model_dir, records):
    model = tf.saved_model.load(model_dir)
    return model.signatures["serving_default"](examples=tf.constant(records))["outputs"].numpy()


def test_run_fn_exports_a_raw_example_signature_and_the_loss_record(trained):
    outputs, fn_args, spec = trained
    model = tf.saved_model.load(fn_args.serving_model_dir)
    assert {"serving_default", "transform_features"} <= set(model.signatures)
    with open(os.path.join(fn_args.model_run_dir, LOSS_RECORD)) as f:
        record = json.load(f)
    assert record["loss"][""]["registered_name"] == "losskit>ClassWeightedCrossentropy"
    weights = record["loss"][""]["config"]["class_weights"]
    # The balanced table of the analysed (train) split: n / (C · n_c).
    names, expected = read_class_weight_table(
        tft.TFTransformOutput(outputs["graph"]), "label", class_names=spec.label.class_names
    )
    np.testing.assert_allclose(weights, expected, rtol=1e-6)
    assert record["classes"] == {"": names} and names == spec.label.class_names
    assert glob.glob(os.path.join(fn_args.model_run_dir, "train", "events.*"))


def test_run_fn_trains_the_cost_sensitive_loss_with_the_specs_matrix(penguins_run, tmp_path):
    """`loss: cost_sensitive_ce` takes label.costs as its matrix in class-id order; it takes no
    class_weights, so the Transform's balanced weights arrive as sample weights."""
    outputs = trainer_inputs.transform_outputs(penguins_run)
    raw = penguins_spec(penguins_run.data_dir, trainer={"epochs": 15}).model_dump()
    raw["loss"] = {"name": "cost_sensitive_ce"}
    spec = spec_lib.parse(raw)
    fn_args = trainer_inputs.fn_args(outputs, tmp_path, spec.component_config("trainer"))
    run_fn(fn_args)
    with open(os.path.join(fn_args.model_run_dir, LOSS_RECORD)) as f:
        record = json.load(f)["loss"][""]
    assert record["registered_name"] == "losskit>CostSensitiveCrossentropy"
    assert record["config"]["cost_matrix"] == spec.label.cost_matrix()
    assert spec.label.cost_matrix()[spec.label.class_names.index("Chinstrap")][0] == 5
    _, records, examples = _raw_eval(outputs)
    labels = [spec.label.class_names.index(_feature(e, "species")) for e in examples]
    predicted = _predict(fn_args.serving_model_dir, records).argmax(1)
    assert np.mean(predicted == labels) >= 0.9


def test_tfma_auc_equals_sklearn_on_the_same_predictions(trained, tmp_path):
    outputs, fn_args, spec = trained
    result, _ = _analyze(fn_args.serving_model_dir, outputs, tmp_path, spec)
    _, records, examples = _raw_eval(outputs)
    probs = _predict(fn_args.serving_model_dir, records)
    names = spec.label.class_names
    labels = np.array([names.index(_feature(e, "species")) for e in examples])
    overall = dict(result.slicing_metrics)[()][""]
    for class_id in range(3):
        tfma_auc = overall[f"classId:{class_id}"]["auc"]["doubleValue"]
        sk_auc = roc_auc_score(labels == class_id, probs[:, class_id])
        # TFMA's AUC is a 10k-threshold Riemann sum; sklearn's is exact.
        assert tfma_auc == pytest.approx(sk_auc, abs=2e-3)
    # The spec's costs: TFMA's decision costs are C[y, k] averaged, k by argmax and by the
    # least expected cost.
    costs = np.array(spec.label.cost_matrix())
    argmax = costs[labels, probs.argmax(1)].mean()
    aware = costs[labels, (probs @ costs).argmin(1)].mean()
    assert overall[""]["decision_cost"]["doubleValue"] == pytest.approx(argmax, abs=1e-9)
    assert overall[""]["cost_aware_decision_cost"]["doubleValue"] == pytest.approx(aware, abs=1e-9)
    islands = {}
    for example in examples:
        islands[_feature(example, "island")] = islands.get(_feature(example, "island"), 0) + 1
    for slice_key, metrics in result.slicing_metrics:
        if slice_key and slice_key[0][0] == "island":
            count = metrics[""][""]["example_count"]["doubleValue"]
            assert count == islands[slice_key[0][1]]
    assert sum(1 for k, _ in result.slicing_metrics if k and k[0][0] == "island") == len(islands)


def test_tfma_loaded_the_model_as_keras(trained, tmp_path):
    outputs, fn_args, spec = trained
    result, _ = _analyze(fn_args.serving_model_dir, outputs, tmp_path, spec)
    overall = dict(result.slicing_metrics)[()][""][""]
    # The compiled ClassWeightedCrossentropy appears only on the Keras path.
    assert np.isfinite(overall["loss"]["doubleValue"])


def _constant_model(trained, path) -> str:
    """The trained model with its output layer zeroed: every example gets the same scores."""
    outputs, fn_args, _ = trained
    import losses  # noqa: F401  registers the compiled loss for load_model

    model = tf.keras.models.load_model(fn_args.serving_model_dir)
    head = model.get_layer("outputs")
    head.set_weights([np.zeros_like(w) for w in head.get_weights()])
    tft_output = tft.TFTransformOutput(outputs["graph"])
    model.save(
        str(path),
        save_format="tf",
        signatures=signatures(model, tft_output, ("species",), model.input_names),
    )
    return str(path)


def test_a_model_with_constant_outputs_is_not_blessed(trained, tmp_path):
    outputs, _, spec = trained
    _analyze(_constant_model(trained, tmp_path / "bad"), outputs, tmp_path / "eval", spec)
    validation = tfma.load_validation_result(str(tmp_path / "eval"))
    assert not validation.validation_ok


def test_a_candidate_worse_than_the_blessed_baseline_is_not_blessed(trained, tmp_path):
    """With the value bound out of play (macro AUC ≥ 0), only the change threshold against
    the baseline (the trained model) can refuse the constant model, and it does."""
    outputs, fn_args, spec = trained
    files, _, _ = _raw_eval(outputs)
    raw = spec.model_dump()
    raw["eval"]["thresholds"] = {"auc": {"min": 0.0, "max_worse": 0.05}}
    eval_config = configs.eval_config(spec_lib.parse(raw))
    models = [
        custom_eval_shared_model(_constant_model(trained, tmp_path / "bad"), name, eval_config)
        if name == "candidate"
        else custom_eval_shared_model(fn_args.serving_model_dir, name, eval_config)
        for name in ("candidate", "baseline")
    ]
    tfma.run_model_analysis(
        eval_shared_model=models,
        eval_config=eval_config,
        data_location=files[0],
        file_format="tfrecords",
        output_path=str(tmp_path / "eval"),
    )
    validation = tfma.load_validation_result(str(tmp_path / "eval"))
    assert not validation.validation_ok
    failures = [f for s in validation.metric_validations_per_slice for f in s.failures]
    assert {f.metric_key.name for f in failures} == {"auc"}
    assert all(f.metric_key.is_diff for f in failures), failures


_MIRRORED_SCRIPT = """
import json, pathlib, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
sys.path.insert(0, sys.argv[3])
from test_trainer_run_fn import penguins_spec
from tests.components.trainer import fn_args as trainer_inputs
from components.trainer.distribution import choose_strategy
from components.trainer.run import run_fn
assert choose_strategy("auto").num_replicas_in_sync == 2
spec = penguins_spec(sys.argv[4], trainer={"epochs": 3, "batch_size": 8, "distribution": "auto"})
run_fn(trainer_inputs.fn_args(json.loads(sys.argv[1]), pathlib.Path(sys.argv[2]), spec.component_config("trainer")))
"""


def test_run_fn_trains_with_mirrored_strategy_over_two_logical_cpus(penguins_run, tmp_path):
    import subprocess
    import sys

    outputs = trainer_inputs.transform_outputs(penguins_run)
    subprocess.run(
        [
            sys.executable,
            "-c",
            _MIRRORED_SCRIPT,
            json.dumps(outputs),
            str(tmp_path),
            os.path.dirname(__file__),
            penguins_run.data_dir,
        ],
        check=True,
        timeout=600,
    )
    model_dir = path_utils.serving_model_dir(str(tmp_path / "model"))
    _, records, _ = _raw_eval(outputs)
    probs = _predict(model_dir, records)
    assert np.all(np.isfinite(probs))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
