"""components.trainer.build without a pipeline: loss resolution, the resolvability check, the
model builders on hand-made inputs; and the distribution strategy choice."""

import json

import numpy as np
import pytest
import tensorflow as tf

import losses
from components import spec as spec_lib
from components.spec import LossSpec
from components.trainer import build, distribution, models
from components.trainer.models import ModelInputs, Output
from components.transform import TAG_PAD_ID

T = 6  # steps of the sequence inputs


def build_model(inputs, outputs, *, units=3):
    """A user's builder, named by its dotted path in a spec."""
    x = inputs.inputs[inputs.numeric[0]][:, None]
    x = tf.keras.layers.Dense(units, activation="relu")(x)
    return tf.keras.Model(inputs.inputs, models._heads(x, outputs))


NOT_CALLABLE = 3


def spec(**overrides) -> spec_lib.TaskSpec:
    raw = {
        "name": "t",
        "kind": "classification",
        "label": {"column": "species"},
        "features": {"numeric": ["bill"], "categorical": ["island"]},
        **overrides,
    }
    return spec_lib.parse(raw)


def multitask(*head_losses) -> spec_lib.TaskSpec:
    heads = [
        {"name": "species", "kind": "classification", "column": "species"},
        {"name": "body_mass", "kind": "regression", "column": "body_mass_g"},
    ]
    for head, loss in zip(heads, head_losses, strict=False):
        head["loss"] = loss
    return spec_lib.parse(
        {"name": "t", "kind": "multitask", "heads": heads, "features": {"numeric": ["bill"]}}
    )


# -- resolve_loss ------------------------------------------------------------------------------


def test_default_losses_take_what_the_transform_derived():
    loss, taken = build.resolve_loss(None, "classification", class_weights=[1.0, 2.0, 3.0])
    assert type(loss) is losses.ClassWeightedCrossentropy
    assert loss.get_config()["class_weights"] == [1.0, 2.0, 3.0]
    assert taken == {"class_weights"}

    loss, taken = build.resolve_loss(None, "tagging", pad_class=TAG_PAD_ID, ignore_class=TAG_PAD_ID)
    assert type(loss) is losses.MaskedSparseCategoricalCrossentropy
    assert (loss.pad_class, taken) == (TAG_PAD_ID, {"pad_class"})

    loss, taken = build.resolve_loss(None, "sequence_regression", mask_value=-9999.0)
    assert type(loss) is losses.ConcordanceCorrelationLoss
    assert (loss.mask_value, taken) == (-9999.0, {"mask_value"})

    loss, taken = build.resolve_loss(None, "multilabel", pos_weight=[2.0, 3.0])
    assert type(loss) is losses.BPMLLLoss and taken == set()  # BPMLL takes no pos_weight

    loss, taken = build.resolve_loss(None, "regression")
    assert type(loss) is tf.keras.losses.MeanSquaredError and taken == set()


def test_a_parameter_the_user_set_is_not_overwritten():
    user = LossSpec(name="class_weighted_ce", params={"class_weights": [1.0, 1.0, 1.0]})
    loss, taken = build.resolve_loss(user, "classification", class_weights=[9.0, 9.0, 9.0])
    assert loss.get_config()["class_weights"] == [1.0, 1.0, 1.0]
    assert taken == set()
    user = LossSpec(name="weighted_bce", params={"pos_weight": 5.0})
    loss, taken = build.resolve_loss(user, "multilabel", pos_weight=[2.0, 3.0])
    assert loss.pos_weight == 5.0 and taken == set()


def test_a_loss_that_does_not_take_a_derived_parameter_ignores_it():
    loss, taken = build.resolve_loss(LossSpec(name="bpmll"), "classification", class_weights=[1.0])
    assert type(loss) is losses.BPMLLLoss and taken == set()
    loss, taken = build.resolve_loss(
        LossSpec(name="weighted_bce"), "multilabel", pos_weight=[2.0, 3.0]
    )
    assert type(loss) is losses.WeightedBinaryCrossentropy
    assert taken == {"pos_weight"}
    np.testing.assert_allclose(loss.pos_weight, [2.0, 3.0])


def test_the_cost_matrix_goes_to_a_loss_that_takes_one():
    costs = [[0.0, 5.0], [1.0, 0.0]]
    loss, taken = build.resolve_loss(
        LossSpec(name="cost_sensitive_ce"),
        "classification",
        class_weights=[1, 2],
        cost_matrix=costs,
    )
    assert type(loss) is losses.CostSensitiveCrossentropy
    assert (loss.cost_matrix, taken) == (costs, {"cost_matrix"})
    loss, taken = build.resolve_loss(None, "classification", class_weights=[1, 2], cost_matrix=None)
    assert type(loss) is losses.ClassWeightedCrossentropy and taken == {"class_weights"}


def test_keras_built_ins_by_name():
    loss, taken = build.resolve_loss(LossSpec(name="mse"), "regression", class_weights=[1.0])
    assert type(loss) is tf.keras.losses.MeanSquaredError and taken == set()
    loss, _ = build.resolve_loss(LossSpec(name="Huber", params={"delta": 2.5}), "regression")
    assert type(loss) is tf.keras.losses.Huber
    assert loss.get_config()["delta"] == 2.5
    # Keras's own sparse cross-entropy skips padded tags through its ignore_class.
    loss, taken = build.resolve_loss(
        LossSpec(name="sparse_categorical_crossentropy"),
        "tagging",
        pad_class=TAG_PAD_ID,
        ignore_class=TAG_PAD_ID,
    )
    assert type(loss) is tf.keras.losses.SparseCategoricalCrossentropy
    assert loss.get_config()["ignore_class"] == TAG_PAD_ID
    assert taken == {"ignore_class"}
    # …and the padded steps then do not count: equal to the loss over the real steps.
    y_true = tf.constant([[0, 2, TAG_PAD_ID]])
    y_pred = tf.constant([[[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.9, 0.05, 0.05]]])
    np.testing.assert_allclose(loss(y_true, y_pred), -np.mean(np.log([0.7, 0.6])), rtol=1e-5)


def test_dotted_path_and_registered_names():
    loss, taken = build.resolve_loss(
        LossSpec(name="losses.correlation.PearsonCorrelationLoss"),
        "sequence_regression",
        mask_value=-1.0,
    )
    assert type(loss) is losses.PearsonCorrelationLoss
    assert (loss.mask_value, taken) == (-1.0, {"mask_value"})
    loss, _ = build.resolve_loss(LossSpec(name="losskit>BPMLLLoss"), "multilabel")
    assert type(loss) is losses.BPMLLLoss


def test_an_unknown_loss_is_a_value_error():
    with pytest.raises(ValueError, match="Unknown loss 'focal'"):
        build.resolve_loss(LossSpec(name="focal"), "classification")


# -- check_resolvable ----------------------------------------------------------------------


def test_resolvable_specs_pass():
    for path in ("penguins", "multitask", "tagging", "correlation", "multilabel"):
        build.check_resolvable(spec_lib.load(f"pipelines/specs/{path}.yaml"))
    build.check_resolvable(spec(loss={"name": "Huber", "params": {"delta": 1.0}}))
    build.check_resolvable(spec(loss="losskit>BPMLLLoss"))
    build.check_resolvable(spec(model={"builder": f"{__name__}.build_model"}))
    # A derived parameter the user leaves to the Transform is not missing.
    build.check_resolvable(spec(loss="ClassWeightedCrossentropy"))
    costs = {"column": "species", "costs": {"a": {"b": 2.0}}}
    build.check_resolvable(spec(loss="cost_sensitive_ce", label=costs))


@pytest.mark.parametrize(
    "bad, match",
    [
        (spec(loss="focal"), r"^loss: Unknown loss 'focal'"),
        (
            spec(loss="cost_sensitive_ce"),
            r"^loss: cost_sensitive_ce needs params \['cost_matrix'\] \(or set label.costs",
        ),
        (spec(loss="GaussianMixtureCurveLoss"), r"^loss: .*needs params \['num_components'\]$"),
        (spec(loss={"name": "Huber", "params": {"deltaa": 1.0}}), r"^loss: .*'deltaa'"),
        (spec(loss="no_such_module.Loss"), r"^loss: loss 'no_such_module.Loss': cannot import"),
        (spec(loss="losses.correlation.Nope"), r"^loss: .*no tf.keras.losses.Loss named 'Nope'"),
        (multitask(None, "focal"), r"^heads\.1\.loss: Unknown loss 'focal'"),
        (
            multitask({"name": "class_weighted_ce", "params": {"margin": 1}}),
            r"^heads\.0\.loss: .*'margin'",
        ),
        (
            spec(model={"builder": "no_such_module.build_model"}),
            r"^model\.builder .*does not import",
        ),
        (spec(model={"builder": f"{__name__}.missing"}), r"^model\.builder .*does not import"),
        (spec(model={"builder": f"{__name__}.NOT_CALLABLE"}), r"^model\.builder .*not a function"),
        (
            spec_lib.parse(
                {
                    **multitask().model_dump(),
                    "balancer": {"method": "dwa", "params": {"temperature": 0.0}},
                }
            ),
            r"^balancer.params: DynamicWeightAverage: `temperature` must be > 0",
        ),
    ],
)
def test_unresolvable_specs_name_the_key(bad, match):
    with pytest.raises(ValueError, match=match):
        build.check_resolvable(bad)


def test_builder_is_the_family_or_the_users_function():
    assert build.builder(spec()) is models.mlp
    assert build.builder(spec(model={"family": "bigru"})) is models.bigru
    assert build.builder(spec_lib.load("pipelines/specs/tagging.yaml")) is models.bigru
    assert build.builder(spec(model={"builder": f"{__name__}.build_model"})) is build_model


# -- model builders ------------------------------------------------------------------------


def tabular_inputs() -> ModelInputs:
    return ModelInputs(
        inputs={
            "x_bill": tf.keras.Input(shape=(), name="x_bill", dtype=tf.float32),
            "x_vector": tf.keras.Input(shape=(3,), name="x_vector", dtype=tf.float32),
            "x_island": tf.keras.Input(shape=(), name="x_island", dtype=tf.int64),
        },
        numeric=("x_bill", "x_vector"),
        categorical={"x_island": 5},
    )


def tabular_batch(rng, n=8) -> dict:
    return {
        "x_bill": tf.constant(rng.normal(size=n), tf.float32),
        "x_vector": tf.constant(rng.normal(size=(n, 3)), tf.float32),
        "x_island": tf.constant(rng.integers(0, 5, n), tf.int64),
    }


def activation(model, layer="outputs") -> str:
    return model.get_layer(layer).get_config()["activation"]


@pytest.mark.parametrize("params", [{}, {"hidden": 4, "depth": 2, "embed": 2}])
def test_mlp_classification_gives_class_probabilities(rng, params):
    model = models.mlp(tabular_inputs(), [Output("", "classification", 3)], **params)
    assert model.output_shape == (None, 3)
    assert activation(model) == "softmax"
    probabilities = model(tabular_batch(rng)).numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert np.all(probabilities > 0)
    hidden = [layer for layer in model.layers if layer.name.startswith("dense")]
    assert len(hidden) == params.get("depth", 1)
    assert all(layer.units == params.get("hidden", 16) for layer in hidden)


def test_mlp_multilabel_gives_independent_sigmoid_scores(rng):
    model = models.mlp(tabular_inputs(), [Output("", "multilabel", 4)])
    assert model.output_shape == (None, 4)
    assert activation(model) == "sigmoid"
    scores = model(tabular_batch(rng)).numpy()
    assert np.all((scores > 0) & (scores < 1))


def test_mlp_multitask_gives_a_dict_of_heads(rng):
    outputs = [Output("species", "classification", 3), Output("body_mass", "regression", 1)]
    model = models.mlp(tabular_inputs(), outputs)
    assert model.output_shape == {"species": (None, 3), "body_mass": (None, 1)}
    assert activation(model, "species") == "softmax"
    assert activation(model, "body_mass") == "linear"
    predicted = model(tabular_batch(rng))
    assert set(predicted) == {"species", "body_mass"}
    np.testing.assert_allclose(predicted["species"].numpy().sum(axis=1), 1.0, rtol=1e-5)


def test_bigru_tagging_gives_a_distribution_per_step(rng):
    inputs = ModelInputs(
        inputs={"x_tokens": tf.keras.Input(shape=(T,), name="x_tokens", dtype=tf.int64)},
        tokens={"x_tokens": 10},
        max_length=T,
    )
    model = models.bigru(inputs, [Output("", "tagging", 4)], embed=4, units=3)
    assert model.output_shape == (None, T, 4)
    assert activation(model) == "softmax"
    ids = rng.integers(1, 10, (5, T))
    ids[:, 4:] = 0  # padding
    probabilities = model({"x_tokens": tf.constant(ids, tf.int64)}).numpy()
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-5)


def sequence_inputs() -> ModelInputs:
    """(T, 2) steps under a (T,) step mask, as Transform writes a sequence task's features."""
    return ModelInputs(
        inputs={
            "x_steps": tf.keras.Input(shape=(T, 2), name="x_steps", dtype=tf.float32),
            "mask": tf.keras.Input(shape=(T,), name="mask", dtype=tf.float32),
        },
        steps="x_steps",
        mask="mask",
        max_length=T,
    )


def test_bigru_steps_read_under_their_mask(rng):
    inputs = sequence_inputs()
    model = models.bigru(inputs, [Output("", "sequence_regression", 1)], units=3)
    assert model.output_shape == (None, T, 1)
    assert activation(model) == "linear"
    steps = rng.normal(size=(4, T, 2)).astype(np.float32)
    mask = np.ones((4, T), np.float32)
    mask[:, 3:] = 0.0
    noise = steps.copy()
    noise[:, 3:] = rng.normal(size=(4, T - 3, 2))
    # What sits in the padding does not reach the real steps' outputs, in either direction.
    clean = model({"x_steps": steps, "mask": mask}).numpy()
    noisy = model({"x_steps": noise, "mask": mask}).numpy()
    np.testing.assert_allclose(noisy[:, :3], clean[:, :3], rtol=1e-5, atol=1e-6)


def test_a_keras_loss_trains_a_sequence_regressor_over_real_steps(rng):
    """`losskit run correlation --loss MeanSquaredError`: Keras's losses run per real step of
    the (B, T, 1) output, not over the padding, and Keras's compiled loss takes the (B, T)
    target (it failed with a Squeeze error before)."""
    inputs = sequence_inputs()
    model = models.bigru(inputs, [Output("", "sequence_regression", 1)], units=3)
    steps = rng.normal(size=(8, T, 2)).astype(np.float32)
    real = np.arange(T)[None, :] < rng.integers(2, T + 1, (8, 1))
    target = np.where(real, steps[..., 0], -9.0).astype(np.float32)
    x = {"x_steps": steps, "mask": real.astype(np.float32)}
    error = (model(x).numpy()[..., 0] - target)[real]
    expected = {
        "MeanSquaredError": np.mean(error**2),
        "mae": np.mean(np.abs(error)),
        "Huber": np.mean(np.where(np.abs(error) <= 1, 0.5 * error**2, np.abs(error) - 0.5)),
    }
    for name, value in expected.items():
        loss, taken = build.resolve_loss(
            LossSpec(name=name), "sequence_regression", mask_value=-9.0
        )
        assert type(loss) is losses.MaskedStepLoss and "mask_value" in taken
        np.testing.assert_allclose(loss(target, model(x)), value, rtol=1e-5)
    # Through Keras's compile (where the (B, T) mask joins as a sample weight), with Huber.
    model.compile(loss=loss)
    np.testing.assert_allclose(model.evaluate(x, target, verbose=0), value, rtol=1e-5)


def test_a_users_builder_builds_on_the_same_inputs(rng):
    make = build.builder(spec(model={"builder": f"{__name__}.build_model", "params": {"units": 2}}))
    model = make(tabular_inputs(), [Output("", "classification", 3)], units=2)
    np.testing.assert_allclose(model(tabular_batch(rng)).numpy().sum(axis=1), 1.0, rtol=1e-5)


# -- distribution strategy -----------------------------------------------------------------


def test_default_strategy_on_a_single_cpu(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    strategy = distribution.choose_strategy("auto")
    assert strategy.num_replicas_in_sync == 1
    assert distribution.global_batch_size(16, strategy) == 16


def test_tf_config_with_a_cluster_selects_multi_worker(monkeypatch):
    cluster = {"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(cluster))
    assert distribution._cluster_in_tf_config()
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1"]}}))
    assert not distribution._cluster_in_tf_config()
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        distribution._cluster_in_tf_config()
