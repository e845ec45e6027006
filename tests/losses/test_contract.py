"""The contract every loss keeps (docs/design.md): config and Keras serialization round trips, XLA,
half-precision inputs, and a tiny model that trains with it."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import tensorflow as tf

import losses

N, T, F = 64, 6, 3


def padded_tokens(rng, labels, pad_class):
    lengths = rng.integers(1, labels.shape[1] + 1, len(labels))
    labels = labels.copy()
    labels[np.arange(labels.shape[1])[None, :] >= lengths[:, None]] = pad_class
    return labels


def sparse_tokens(rng):
    x = rng.normal(size=(N, T, F))
    return x, padded_tokens(rng, np.argmax(x @ rng.normal(size=(F, 4)), -1), -1)


def one_hot_tokens(rng):
    x = rng.normal(size=(N, T, F))
    labels = 1 + np.argmax(x @ rng.normal(size=(F, 3)), -1)
    return x, np.eye(4)[padded_tokens(rng, labels, 0)]


def sequences(rng):
    x = rng.normal(size=(N, T, F))
    return x, np.where(padded_tokens(rng, np.zeros((N, T)), -1) == -1, -1.0, x @ [1.0, -2.0, 0.5])


def multilabel(rng):
    x = rng.normal(size=(N, F))
    return x, (x @ rng.normal(size=(F, 5)) > 0).astype(float)


def classes(rng):
    x = rng.normal(size=(N, F))
    return x, np.argmax(x @ rng.normal(size=(F, 3)), -1)


def distributions(rng):
    x = rng.normal(size=(N, F))
    return x, tf.nn.softmax(2 * x @ rng.normal(size=(F, 4))).numpy()


def curves(rng):
    x = rng.normal(size=(N, F))
    varying = 0.05 * x @ rng.normal(size=(F, 6)) * [1, 1, 0, 1, 1, 0]  # variances stay fixed
    triples = (np.array([1.0, 0.3, 0.02, 0.5, 0.7, 0.01]) + varying).reshape(N, 2, 3)
    a, b, c = triples[..., :1], triples[..., 1:2], triples[..., 2:]
    return x, np.sum(a * np.exp(-((np.linspace(0, 1, 8) - b) ** 2) / (2 * c)), axis=1)


@dataclass(frozen=True)
class Case:
    alias: str
    params: dict
    data: Callable  # rng -> (features, y_true)
    units: int
    activation: str | None = None


CASES = [
    Case("masked_sparse_ce", {"pad_class": -1, "from_logits": True}, sparse_tokens, 4),
    Case("masked_ce", {"pad_class": 0}, one_hot_tokens, 4, "softmax"),
    Case("pearson", {"mask_value": -1.0}, sequences, 1),
    Case("ccc", {"mask_value": -1.0}, sequences, 1),
    Case("bpmll", {}, multilabel, 5),
    Case("class_weighted_ce", {"class_weights": [1.0, 2.0, 0.5], "from_logits": True}, classes, 3),
    Case(
        "cost_sensitive_ce",
        {"cost_matrix": [[0, 2.0, 0.5], [1.0, 0, 3.0], [0.5, 0.5, 0]], "from_logits": True},
        classes,
        3,
    ),
    Case("weighted_bce", {"pos_weight": [2.0, 1.0, 0.5, 3.0, 1.0]}, multilabel, 5, "sigmoid"),
    Case("ignored_label_kl", {"ignore_class": 0}, distributions, 4, "softmax"),
    Case("gaussian_mixture_curve", {"num_components": 2, "distance": "mse"}, curves, 6),
]


def model_for(case, features):
    return tf.keras.Sequential(
        [tf.keras.Input(features.shape[1:]), tf.keras.layers.Dense(case.units, case.activation)]
    )


@pytest.fixture(params=CASES, ids=[case.alias for case in CASES])
def case_inputs(request, rng):
    """(case, loss, y_true, y_pred float32, y_pred_as_tf) for a small untrained model."""
    case = request.param
    tf.keras.utils.set_random_seed(1)
    features, y_true = case.data(rng)
    features, y_true = features[:8], y_true[:8]
    y_pred = model_for(case, features)(features.astype("float32")).numpy()
    if case.alias == "gaussian_mixture_curve":
        y_pred = y_pred + np.tile([1.0, 0.5, 0.05], 2)  # variances away from the 1e-6 floor
    return case, losses.get({"name": case.alias, "params": case.params}), y_true, y_pred


def test_get_config_round_trip(case_inputs):
    _, loss, y_true, y_pred = case_inputs
    clone = type(loss).from_config(loss.get_config())
    assert clone.get_config() == loss.get_config()
    assert float(clone(y_true, y_pred)) == float(loss(y_true, y_pred))


def test_keras_serialize_round_trip(case_inputs):
    _, loss, y_true, y_pred = case_inputs
    config = tf.keras.losses.serialize(loss)
    assert config["registered_name"] == f"losskit>{type(loss).__name__}"
    clone = tf.keras.losses.deserialize(config)
    assert type(clone) is type(loss)
    assert float(clone(y_true, y_pred)) == float(loss(y_true, y_pred))


def test_jit_compile_matches_eager(case_inputs):
    _, loss, y_true, y_pred = case_inputs

    def value_and_grad(y):
        with tf.GradientTape() as tape:
            tape.watch(y)
            value = loss(y_true, y)
        return value, tape.gradient(value, y)

    y_pred = tf.constant(y_pred)
    eager = value_and_grad(y_pred)
    compiled = tf.function(value_and_grad, jit_compile=True)(y_pred)
    for expected, got in zip(eager, compiled, strict=True):
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16])
def test_half_precision_inputs_compute_in_float32(case_inputs, dtype):
    _, loss, y_true, y_pred = case_inputs
    half_pred = tf.cast(y_pred, dtype)
    half_true = tf.cast(y_true, dtype) if np.issubdtype(y_true.dtype, np.floating) else y_true
    value = loss(half_true, half_pred)
    assert value.dtype == tf.float32
    rounded = loss(tf.cast(half_true, tf.float32), tf.cast(half_pred, tf.float32))
    np.testing.assert_allclose(float(value), float(rounded), rtol=1e-6)
    np.testing.assert_allclose(float(value), float(loss(y_true, y_pred)), rtol=0.1, atol=0.02)


# Keras's reduction (mean over the batch of w·L) versus the mean over real elements (Σw·m·L/Σw·m).
PER_SAMPLE = {
    "pearson",
    "ccc",
    "bpmll",
    "class_weighted_ce",
    "cost_sensitive_ce",
    "weighted_bce",
    "gaussian_mixture_curve",
}


def test_sample_weight_semantics(case_inputs):
    case, loss, y_true, y_pred = case_inputs
    plain = float(loss(y_true, y_pred))
    scale = 2.0 if case.alias in PER_SAMPLE else 1.0
    np.testing.assert_allclose(
        float(loss(y_true, y_pred, sample_weight=2.0)), scale * plain, rtol=1e-6
    )
    y_pred = tf.constant(y_pred)
    with tf.GradientTape() as tape:
        tape.watch(y_pred)
        value = loss(y_true, y_pred, sample_weight=np.zeros(len(y_true)))
    assert float(value) == 0
    np.testing.assert_array_equal(tape.gradient(value, y_pred).numpy(), 0)


@pytest.mark.parametrize("case", CASES, ids=[case.alias for case in CASES])
def test_tiny_model_trains(rng, case):
    tf.keras.utils.set_random_seed(0)
    features, y_true = case.data(rng)
    model = model_for(case, features)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(0.05),
        loss=losses.get({"name": case.alias, "params": case.params}),
    )
    history = model.fit(features, y_true, batch_size=32, epochs=6, verbose=0).history["loss"]
    assert np.all(np.isfinite(history))
    assert history[-1] < 0.8 * history[0]


@pytest.mark.parametrize("case", CASES, ids=[case.alias for case in CASES])
def test_add_loss_on_symbolic_model_tensors(rng, case):
    """`model.add_loss(loss(y_true_input, head))` in a functional model: the loss (label
    checks included) becomes one node, its value is the loss's on the same tensors, and the
    model trains on it."""
    tf.keras.utils.set_random_seed(0)
    features, y_true = case.data(rng)
    features, y_true = features.astype("float32"), y_true.astype("float32")
    x = tf.keras.Input(features.shape[1:])
    labels = tf.keras.Input(y_true.shape[1:])
    head = tf.keras.layers.Dense(case.units, case.activation)(x)
    loss = losses.get({"name": case.alias, "params": case.params})
    model = tf.keras.Model([x, labels], head)
    model.add_loss(loss(labels, head))
    model.compile(optimizer=tf.keras.optimizers.Adam(0.05))
    expected = float(loss(y_true, model.predict([features, y_true], batch_size=N, verbose=0)))
    assert model.evaluate([features, y_true], batch_size=N, verbose=0) == pytest.approx(
        expected, rel=1e-5
    )
    history = model.fit([features, y_true], batch_size=32, epochs=6, verbose=0).history["loss"]
    assert np.all(np.isfinite(history)) and history[-1] < 0.8 * history[0]


def test_saved_model_and_keras_file_load_without_custom_objects(rng, tmp_path):
    tf.keras.utils.set_random_seed(0)
    tokens = rng.integers(1, 10, (8, 5))
    tokens[:, 3:] = 0
    labels = rng.integers(0, 4, (8, 5))
    labels[:, 3:] = -1
    inputs = tf.keras.Input((5,), dtype="int32")
    hidden = tf.keras.layers.Embedding(10, 4, mask_zero=True)(inputs)
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(4)(hidden))
    model.compile(
        loss=losses.MaskedSparseCategoricalCrossentropy(pad_class=-1, from_logits=True),
        metrics=[losses.MaskedSparseCategoricalAccuracy(pad_class=-1)],
    )
    expected = model.evaluate(tokens, labels, batch_size=8, verbose=0)
    for path in (tmp_path / "saved_model", tmp_path / "model.keras"):
        model.save(path)
        loaded = tf.keras.models.load_model(path)
        assert isinstance(loaded.loss, losses.MaskedSparseCategoricalCrossentropy)
        assert loaded.loss.get_config() == model.loss.get_config()
        np.testing.assert_allclose(
            loaded.evaluate(tokens, labels, batch_size=8, verbose=0), expected, rtol=1e-6
        )
