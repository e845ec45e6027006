"""Masked token cross-entropies: values, gradients, padding, weights, Keras masks, errors."""

import math

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from losses import MaskedCategoricalCrossentropy, MaskedSparseCategoricalCrossentropy
from tests.losses.gradients import tape_gradient

EPS = 1e-7
NONE, SUM = tf.keras.losses.Reduction.NONE, tf.keras.losses.Reduction.SUM


def log_probs(row, from_logits):
    row = np.asarray(row, np.float64)
    if from_logits:
        top = row.max()
        return row - top - math.log(sum(math.exp(v - top) for v in row))
    clipped = np.clip(row, EPS, 1 - EPS)
    return np.log(clipped / clipped.sum())


def token_weights(sample_weight, shape):
    if sample_weight is None:
        return np.ones(shape)
    weight = np.asarray(sample_weight, np.float64)
    if weight.ndim == 1:
        weight = weight[:, None]
    return np.broadcast_to(weight, shape)


def reference_sparse(y_true, y_pred, pad_class, from_logits, sample_weight=None, mask=None):
    batch, steps = y_true.shape
    weight = token_weights(sample_weight, (batch, steps))
    total = count = 0.0
    for b in range(batch):
        for t in range(steps):
            if y_true[b, t] == pad_class or (mask is not None and not mask[b, t]):
                continue
            ce = -log_probs(y_pred[b, t], from_logits)[y_true[b, t]]
            total += weight[b, t] * ce
            count += weight[b, t]
    return total / count if count else 0.0


def reference_categorical(y_true, y_pred, pad_class, from_logits):
    batch, steps, _ = y_true.shape
    total = count = 0.0
    for b in range(batch):
        for t in range(steps):
            m = 1 - y_true[b, t, pad_class]
            if m == 0:
                continue
            if from_logits:
                logp = log_probs(y_pred[b, t], True)
            else:
                p = np.clip(y_pred[b, t] / y_pred[b, t].sum(), EPS, 1 - EPS)
                logp = np.log(p)
            total += m * -np.dot(y_true[b, t], logp)
            count += m
    return total / count if count else 0.0


def padded_batch(rng, batch, steps, classes, pad_class=-1):
    """Labels with a random-length tail of pad_class, logits, and the real-token mask."""
    labels = rng.integers(0, classes, (batch, steps))
    lengths = rng.integers(0, steps + 1, batch)
    real = np.arange(steps)[None, :] < lengths[:, None]
    labels[~real] = pad_class
    return labels, rng.normal(size=(batch, steps, classes)), real


@pytest.mark.parametrize("shape", [(2, 3, 4), (3, 6, 5), (1, 1, 2), (4, 9, 11)])
@pytest.mark.parametrize("from_logits", [True, False])
def test_sparse_matches_reference(rng, shape, from_logits):
    labels, logits, _ = padded_batch(rng, *shape)
    y_pred = logits if from_logits else tf.nn.softmax(logits).numpy()
    loss = MaskedSparseCategoricalCrossentropy(pad_class=-1, from_logits=from_logits)
    expected = reference_sparse(labels, y_pred, -1, from_logits)
    np.testing.assert_allclose(float(loss(labels, y_pred.astype("float32"))), expected, rtol=1e-5)


def test_sparse_equals_keras_without_padding(rng):
    labels = rng.integers(0, 5, (3, 4))
    logits = rng.normal(size=(3, 4, 5)).astype("float32")
    ours = MaskedSparseCategoricalCrossentropy(pad_class=None, from_logits=True)(labels, logits)
    keras = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)
    np.testing.assert_allclose(float(ours), float(keras), rtol=1e-6)


@pytest.mark.parametrize(
    "make_weight",
    [lambda rng, b, t: 2.5, lambda rng, b, t: rng.random(b), lambda rng, b, t: rng.random((b, t))],
    ids=["scalar", "per_sequence", "per_token"],
)
def test_sparse_sample_weight(rng, make_weight):
    labels, logits, _ = padded_batch(rng, 4, 6, 5)
    weight = make_weight(rng, 4, 6)
    loss = MaskedSparseCategoricalCrossentropy(pad_class=-1, from_logits=True)
    expected = reference_sparse(labels, logits, -1, True, sample_weight=weight)
    np.testing.assert_allclose(
        float(loss(labels, logits, sample_weight=weight)), expected, rtol=1e-6
    )


def test_sparse_sum_and_none_reductions(rng):
    labels, logits, real = padded_batch(rng, 3, 5, 4)
    weight = rng.random((3, 1))
    mean = MaskedSparseCategoricalCrossentropy(pad_class=-1, from_logits=True)
    total = MaskedSparseCategoricalCrossentropy(pad_class=-1, from_logits=True, reduction=SUM)
    per_token = MaskedSparseCategoricalCrossentropy(pad_class=-1, from_logits=True, reduction=NONE)
    elements = per_token(labels, logits, sample_weight=weight).numpy()
    assert elements.shape == (3, 5)
    assert np.all(elements[~real] == 0)
    w = np.broadcast_to(weight, (3, 5)) * real
    np.testing.assert_allclose(float(total(labels, logits, sample_weight=weight)), elements.sum())
    np.testing.assert_allclose(
        float(mean(labels, logits, sample_weight=weight)), elements.sum() / w.sum(), rtol=1e-6
    )
    np.testing.assert_allclose(per_token.call(labels, logits).numpy(), per_token(labels, logits))


@pytest.mark.parametrize("from_logits", [True, False])
def test_sparse_gradient_matches_finite_differences(rng, assert_gradient_matches, from_logits):
    labels, logits, _ = padded_batch(rng, 2, 4, 3)
    labels[0, 0] = 1  # at least one real token
    y_pred = logits if from_logits else tf.nn.softmax(logits).numpy()
    loss = MaskedSparseCategoricalCrossentropy(pad_class=-1, from_logits=from_logits)
    assert_gradient_matches(lambda y: loss(labels, y), y_pred)


def test_nan_and_out_of_range_labels_at_padding_are_ignored(rng, value_and_gradient):
    labels, logits, real = padded_batch(rng, 3, 6, 4)
    labels[0, 0], real[0, 0] = 2, True
    dirty = logits.copy()
    dirty[~real] = np.nan
    loss = MaskedSparseCategoricalCrossentropy(pad_class=-1, from_logits=True)
    clean_value, clean_grad = value_and_gradient(lambda y: loss(labels, y), logits)
    value, grad = value_and_gradient(lambda y: loss(labels, y), dirty)
    assert value == clean_value
    np.testing.assert_array_equal(grad, clean_grad)
    assert np.all(grad[~real] == 0)


def test_nan_at_a_real_token_propagates(rng):
    labels, logits, _ = padded_batch(rng, 2, 3, 4)
    labels[1, 1] = 0
    logits[1, 1, 2] = np.nan
    assert np.isnan(float(MaskedSparseCategoricalCrossentropy(-1, True)(labels, logits)))


def test_all_padding_gives_zero_with_finite_zero_gradient(value_and_gradient):
    labels = -np.ones((2, 3), np.int64)
    logits = np.full((2, 3, 4), np.nan)
    for loss in (
        MaskedSparseCategoricalCrossentropy(pad_class=-1, from_logits=True),
        MaskedSparseCategoricalCrossentropy(pad_class=-1),
    ):
        value, grad = value_and_gradient(lambda y, loss=loss: loss(labels, y), logits)
        assert value == 0
        np.testing.assert_array_equal(grad, np.zeros_like(grad))


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    garbage=st.sampled_from([np.nan, np.inf, -np.inf, 1e30, -7.0]),
    pad_label=st.sampled_from([-1, 10**6]),
)
def test_padding_contents_never_matter(seed, garbage, pad_label):
    rng = np.random.default_rng(seed)
    batch, steps, classes = rng.integers(1, 4), rng.integers(1, 6), rng.integers(2, 5)
    labels, logits, real = padded_batch(rng, batch, steps, classes, pad_class=pad_label)
    dirty = logits.copy()
    dirty[~real] = garbage
    loss = MaskedSparseCategoricalCrossentropy(pad_class=pad_label, from_logits=True)

    clean_value, clean_grad = tape_gradient(lambda y: loss(labels, y), logits)
    value, grad = tape_gradient(lambda y: loss(labels, y), dirty)
    assert value == clean_value
    np.testing.assert_array_equal(grad, clean_grad)


def test_keras_mask_on_y_pred_marks_padding(rng):
    labels, logits, real = padded_batch(rng, 3, 5, 4, pad_class=0)
    y_pred = tf.constant(logits)
    y_pred._keras_mask = tf.constant(real)
    loss = MaskedSparseCategoricalCrossentropy(from_logits=True)
    expected = reference_sparse(labels, logits, None, True, mask=real)
    np.testing.assert_allclose(float(loss(labels, y_pred)), expected, rtol=1e-10)


def test_embedding_mask_zero_model(rng):
    """Keras puts the Embedding mask on y_pred and into sample_weight; the value is Σm·CE/Σm."""
    tf.keras.utils.set_random_seed(0)
    tokens = rng.integers(1, 10, (6, 7))
    lengths = rng.integers(1, 8, 6)
    real = np.arange(7)[None, :] < lengths[:, None]
    tokens[~real] = 0
    labels = rng.integers(0, 4, (6, 7))
    labels[~real] = -5  # out of range: must be ignored, not checked
    inputs = tf.keras.Input((7,), dtype="int32")
    hidden = tf.keras.layers.Embedding(10, 8, mask_zero=True)(inputs)
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(4)(hidden))
    model.compile(loss=MaskedSparseCategoricalCrossentropy(from_logits=True))
    logits = model.predict(tokens, verbose=0)
    weight = rng.random(6)
    for sample_weight in (None, weight):
        result = model.evaluate(
            tokens, labels, sample_weight=sample_weight, batch_size=6, verbose=0
        )
        expected = reference_sparse(labels, logits, None, True, sample_weight, mask=real)
        np.testing.assert_allclose(result, expected, rtol=1e-5)


def test_out_of_range_label_at_real_token_raises(rng):
    labels, logits, _ = padded_batch(rng, 2, 3, 4)
    labels[0, 0] = 4
    loss = MaskedSparseCategoricalCrossentropy(pad_class=-1, from_logits=True)
    with pytest.raises(tf.errors.InvalidArgumentError, match="y_true.*outside"):
        loss(labels, logits)
    with pytest.raises(tf.errors.InvalidArgumentError, match="y_true.*outside"):
        tf.function(loss)(labels, logits)


def test_label_outside_classes_is_fine_as_pad_class(rng):
    labels, logits, _ = padded_batch(rng, 2, 3, 4, pad_class=4)
    loss = MaskedSparseCategoricalCrossentropy(pad_class=4, from_logits=True)
    assert np.isfinite(float(loss(labels, logits)))


def test_sparse_rank_mismatch_names_arguments():
    loss = MaskedSparseCategoricalCrossentropy(from_logits=True)
    with pytest.raises(ValueError, match=r"y_true.*y_true shape \(2, 3, 4\).*y_pred shape"):
        loss(np.zeros((2, 3, 4), np.int32), np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"y_true shape \(2, 5\), y_pred shape \(2, 3, 4\)"):
        loss(np.zeros((2, 5), np.int32), np.zeros((2, 3, 4)))


def test_sample_weight_shape_error_names_it(rng):
    labels, logits, _ = padded_batch(rng, 2, 3, 4)
    loss = MaskedSparseCategoricalCrossentropy(pad_class=-1, from_logits=True)
    with pytest.raises(ValueError, match="sample_weight shape"):
        loss(labels, logits, sample_weight=np.ones((2, 5)))


@pytest.mark.parametrize(
    "kwargs, argument",
    [({"pad_class": 1.5}, "pad_class"), ({"from_logits": "yes"}, "from_logits")],
)
def test_sparse_constructor_validation(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        MaskedSparseCategoricalCrossentropy(**kwargs)


def one_hot_padded(rng, batch, steps, classes, pad_class=0):
    labels = rng.integers(1, classes, (batch, steps))
    lengths = rng.integers(0, steps + 1, batch)
    real = np.arange(steps)[None, :] < lengths[:, None]
    labels[~real] = pad_class
    return np.eye(classes)[labels], rng.normal(size=(batch, steps, classes)), real


@pytest.mark.parametrize("shape", [(2, 3, 4), (3, 7, 6)])
@pytest.mark.parametrize("from_logits", [True, False])
def test_categorical_matches_reference(rng, shape, from_logits):
    y_true, logits, _ = one_hot_padded(rng, *shape)
    y_pred = logits if from_logits else tf.nn.softmax(logits).numpy()
    loss = MaskedCategoricalCrossentropy(pad_class=0, from_logits=from_logits)
    expected = reference_categorical(y_true, y_pred, 0, from_logits)
    np.testing.assert_allclose(float(loss(y_true, y_pred.astype("float32"))), expected, rtol=1e-5)


def test_categorical_gradient_and_padding(rng, assert_gradient_matches, value_and_gradient):
    y_true, logits, real = one_hot_padded(rng, 2, 4, 3)
    y_true[0, 0], real[0, 0] = np.eye(3)[1], True
    loss = MaskedCategoricalCrossentropy(pad_class=0, from_logits=True)
    assert_gradient_matches(lambda y: loss(y_true, y), logits)
    dirty = logits.copy()
    dirty[~real] = np.nan
    _, clean = value_and_gradient(lambda y: loss(y_true, y), logits)
    value, grad = value_and_gradient(lambda y: loss(y_true, y), dirty)
    assert np.isfinite(value)
    np.testing.assert_array_equal(grad, clean)


def smoothed(y_true, pad_class=0, amount=0.1):
    """Label-smoothed targets at real tokens (rows still sum to 1), one-hot pads unchanged."""
    real = y_true[..., pad_class] == 0
    soft = y_true * (1 - amount) + amount / (y_true.shape[-1] - 1)
    soft[..., pad_class] = 0
    soft /= soft.sum(-1, keepdims=True)
    return np.where(real[..., None], soft, y_true)


@pytest.mark.parametrize("from_logits", [True, False])
def test_categorical_soft_targets_value_and_gradient(rng, assert_gradient_matches, from_logits):
    y_true, logits, real = one_hot_padded(rng, 3, 4, 5)
    y_true[0, 0], real[0, 0] = np.eye(5)[2], True
    y_true = smoothed(y_true)
    y_pred = logits if from_logits else tf.nn.softmax(logits).numpy()
    loss = MaskedCategoricalCrossentropy(pad_class=0, from_logits=from_logits)
    expected = reference_categorical(y_true, y_pred, 0, from_logits)
    np.testing.assert_allclose(float(loss(y_true, y_pred.astype("float32"))), expected, rtol=1e-5)
    assert_gradient_matches(lambda y: loss(y_true, y), y_pred)


@pytest.mark.parametrize("from_logits", [True, False])
def test_categorical_xla_matches_eager_with_garbage_at_padding(rng, from_logits):
    y_true, logits, real = one_hot_padded(rng, 4, 6, 5)
    y_true[0, 0], real[0, 0] = np.eye(5)[3], True
    y_true = smoothed(y_true).astype("float32")
    y_pred = (logits if from_logits else tf.nn.softmax(logits).numpy()).astype("float32")
    y_pred[~real] = np.nan
    loss = MaskedCategoricalCrossentropy(pad_class=0, from_logits=from_logits)

    def value_and_grad(y):
        with tf.GradientTape() as tape:
            tape.watch(y)
            value = loss(y_true, y)
        return value, tape.gradient(value, y)

    eager = value_and_grad(tf.constant(y_pred))
    compiled = tf.function(value_and_grad, jit_compile=True)(tf.constant(y_pred))
    for got, want in zip(compiled, eager, strict=True):
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    assert np.all(eager[1].numpy()[~real] == 0)


def test_categorical_all_padding_is_zero():
    y_true = np.eye(3)[np.zeros((2, 4), int)]
    assert float(MaskedCategoricalCrossentropy(0)(y_true, np.full((2, 4, 3), np.nan))) == 0


def test_categorical_errors_name_arguments():
    loss = MaskedCategoricalCrossentropy(pad_class=0)
    with pytest.raises(
        ValueError, match=r"y_true.*y_true shape \(2, 3\), y_pred shape \(2, 3, 4\)"
    ):
        loss(np.zeros((2, 3)), np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"pad_class.*C = 4"):
        MaskedCategoricalCrossentropy(pad_class=4)(np.zeros((2, 3, 4)), np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="pad_class"):
        MaskedCategoricalCrossentropy(pad_class=-1)


@pytest.mark.parametrize("from_logits", [True, False])
@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    garbage=st.sampled_from([np.nan, np.inf, -np.inf, 1e30, -7.0]),
)
def test_categorical_padding_contents_never_matter(from_logits, seed, garbage):
    rng = np.random.default_rng(seed)
    batch, steps, classes = rng.integers(1, 4), rng.integers(1, 6), rng.integers(2, 5)
    y_true, logits, real = one_hot_padded(rng, batch, steps, classes)
    if not from_logits:
        logits = tf.nn.softmax(logits).numpy()
    dirty = logits.copy()
    dirty[~real] = garbage
    loss = MaskedCategoricalCrossentropy(pad_class=0, from_logits=from_logits)

    clean_value, clean_grad = tape_gradient(lambda y: loss(y_true, y), logits)
    value, grad = tape_gradient(lambda y: loss(y_true, y), dirty)
    assert value == clean_value and np.isfinite(value)
    np.testing.assert_array_equal(grad, clean_grad)
