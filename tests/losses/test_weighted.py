"""Class-weighted and positive-weighted cross-entropies."""

import math

import numpy as np
import pytest
import tensorflow as tf

from losses import (
    ClassWeightedCrossentropy,
    CostSensitiveCrossentropy,
    WeightedBinaryCrossentropy,
)

EPS = 1e-7


def reference_class_weighted(labels, y_pred, class_weights, from_logits, sample_weight=None):
    total = 0.0
    for i, (label, row) in enumerate(zip(labels, y_pred, strict=True)):
        row = np.asarray(row, np.float64)
        if from_logits:
            log_p = row[label] - math.log(sum(math.exp(v) for v in row))
        else:
            clipped = np.clip(row, EPS, 1 - EPS)
            log_p = math.log(clipped[label] / clipped.sum())
        weight = 1.0 if sample_weight is None else sample_weight[i]
        total += weight * class_weights[label] * -log_p
    return total / len(labels)


def reference_weighted_bce(y_true, y_pred, pos_weight, from_logits):
    batch, labels = y_true.shape
    pos_weight = np.broadcast_to(pos_weight, (labels,))
    total = 0.0
    for b in range(batch):
        for j in range(labels):
            p = 1 / (1 + math.exp(-y_pred[b, j])) if from_logits else y_pred[b, j]
            p = min(max(p, EPS), 1 - EPS)
            y = y_true[b, j]
            total += -(pos_weight[j] * y * math.log(p) + (1 - y) * math.log(1 - p))
    return total / (batch * labels)


@pytest.mark.parametrize("batch, classes", [(1, 2), (5, 3), (16, 7)])
@pytest.mark.parametrize("from_logits", [True, False])
def test_class_weighted_matches_reference(rng, batch, classes, from_logits):
    labels = rng.integers(0, classes, batch)
    logits = rng.normal(size=(batch, classes))
    y_pred = logits if from_logits else tf.nn.softmax(logits).numpy()
    weights = rng.random(classes) * 3
    loss = ClassWeightedCrossentropy(weights, from_logits=from_logits)
    expected = reference_class_weighted(labels, y_pred, weights, from_logits)
    np.testing.assert_allclose(float(loss(labels, y_pred.astype("float32"))), expected, rtol=1e-5)
    np.testing.assert_allclose(float(loss(labels[:, None], y_pred)), expected, rtol=1e-5)


def test_class_weighted_sample_weight_and_unit_weights(rng):
    labels, logits = rng.integers(0, 4, 6), rng.normal(size=(6, 4))
    sample_weight = rng.random(6)
    loss = ClassWeightedCrossentropy([1.0, 2.0, 0.0, 0.5], from_logits=True)
    expected = reference_class_weighted(labels, logits, [1.0, 2.0, 0.0, 0.5], True, sample_weight)
    np.testing.assert_allclose(float(loss(labels, logits, sample_weight=sample_weight)), expected)
    keras = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)
    ours = ClassWeightedCrossentropy([1.0] * 4, from_logits=True)(labels, logits)
    np.testing.assert_allclose(float(ours), float(keras), rtol=1e-6)


@pytest.mark.parametrize("from_logits", [True, False])
def test_class_weighted_gradient(rng, assert_gradient_matches, from_logits):
    labels = rng.integers(0, 3, 4)
    logits = rng.normal(size=(4, 3))
    y_pred = logits if from_logits else tf.nn.softmax(logits).numpy()
    loss = ClassWeightedCrossentropy([0.5, 2.0, 1.0], from_logits=from_logits)
    assert_gradient_matches(lambda y: loss(labels, y), y_pred)


def test_class_weighted_errors():
    loss = ClassWeightedCrossentropy([1.0, 2.0, 3.0], from_logits=True)
    with pytest.raises(ValueError, match=r"class_weights.*length 3.*C .* 4.*y_pred shape \(2, 4\)"):
        loss(np.array([0, 1]), np.zeros((2, 4)))
    with pytest.raises(tf.errors.InvalidArgumentError, match="y_true.*outside"):
        loss(np.array([0, 3]), np.zeros((2, 3)))
    with pytest.raises(tf.errors.InvalidArgumentError, match="y_true.*outside"):
        tf.function(loss)(np.array([-1, 0]), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"y_true shape \(2, 2\), y_pred shape \(2, 3\)"):
        loss(np.zeros((2, 2), np.int32), np.zeros((2, 3)))
    for bad in ([1.0, -1.0], [], [[1.0]], [float("inf")]):
        with pytest.raises(ValueError, match="class_weights"):
            ClassWeightedCrossentropy(bad)


def reference_cost_sensitive(labels, y_pred, costs, from_logits, sample_weight=None):
    total = 0.0
    for i, (label, row) in enumerate(zip(labels, y_pred, strict=True)):
        row = np.asarray(row, np.float64)
        if from_logits:
            p = np.exp(row - row.max())
            p /= p.sum()
        else:
            p = np.clip(row, EPS, 1 - EPS)
            p /= p.sum()
        value = -math.log(max(p[label], 1e-300))
        for j, q in enumerate(p):
            if j != label:
                value -= costs[label][j] * math.log(min(max(1 - q, EPS), 1 - EPS))
        total += (1.0 if sample_weight is None else sample_weight[i]) * value
    return total / len(labels)


def random_costs(rng, classes):
    costs = rng.random((classes, classes)) * 4
    np.fill_diagonal(costs, 0)
    return costs


@pytest.mark.parametrize("batch, classes", [(1, 2), (5, 3), (16, 7)])
@pytest.mark.parametrize("from_logits", [True, False])
def test_cost_sensitive_matches_reference(rng, batch, classes, from_logits):
    labels = rng.integers(0, classes, batch)
    logits = 2 * rng.normal(size=(batch, classes))
    y_pred = logits if from_logits else tf.nn.softmax(logits).numpy()
    costs = random_costs(rng, classes)
    sample_weight = rng.random(batch)
    loss = CostSensitiveCrossentropy(costs, from_logits=from_logits)
    expected = reference_cost_sensitive(labels, y_pred, costs, from_logits, sample_weight)
    got = loss(labels[:, None], y_pred.astype("float32"), sample_weight=sample_weight)
    np.testing.assert_allclose(float(got), expected, rtol=1e-5)


@pytest.mark.parametrize("from_logits", [True, False])
def test_cost_sensitive_zero_costs_is_categorical_crossentropy(rng, from_logits):
    labels = rng.integers(0, 5, 32)
    logits = 3 * rng.normal(size=(32, 5)).astype("float32")
    y_pred = logits if from_logits else tf.nn.softmax(logits).numpy()
    keras = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    ours = CostSensitiveCrossentropy(np.zeros((5, 5)), from_logits=from_logits)
    np.testing.assert_allclose(float(ours(labels, y_pred)), float(keras(labels, y_pred)), rtol=1e-6)


def test_cost_sensitive_penalises_only_the_costly_error():
    """Truth 1: probability moved onto class 0 (costly) costs more than onto class 2 (free)."""
    loss = CostSensitiveCrossentropy([[0, 0, 0], [5, 0, 0], [0, 0, 0]])
    costly = float(loss([1], [[0.3, 0.6, 0.1]]))
    free = float(loss([1], [[0.1, 0.6, 0.3]]))
    np.testing.assert_allclose(free, -math.log(0.6) - 5 * math.log(0.9), rtol=1e-6)
    np.testing.assert_allclose(costly, -math.log(0.6) - 5 * math.log(0.7), rtol=1e-6)
    plain = tf.keras.losses.SparseCategoricalCrossentropy()
    assert float(plain([1], [[0.3, 0.6, 0.1]])) == pytest.approx(
        float(plain([1], [[0.1, 0.6, 0.3]]))
    )


@pytest.mark.parametrize("from_logits", [True, False])
def test_cost_sensitive_gradient(rng, assert_gradient_matches, from_logits):
    labels = rng.integers(0, 4, 5)
    logits = rng.normal(size=(5, 4))
    y_pred = logits if from_logits else tf.nn.softmax(logits).numpy()
    loss = CostSensitiveCrossentropy(random_costs(rng, 4), from_logits=from_logits)
    assert_gradient_matches(lambda y: loss(labels, y), y_pred)


def test_cost_sensitive_errors():
    for bad, match in (
        ([[0, 1], [1]], "square"),
        ([[0]], "C >= 2"),
        ([[0, -1], [1, 0]], "non-negative"),
        ([[0, float("nan")], [1, 0]], "finite"),
        ([[1, 1], [1, 0]], "zero diagonal"),
        ("costly", "matrix of numbers"),
    ):
        with pytest.raises(ValueError, match=rf"CostSensitiveCrossentropy: `cost_matrix`.*{match}"):
            CostSensitiveCrossentropy(bad)
    loss = CostSensitiveCrossentropy([[0, 1, 1], [1, 0, 1], [1, 1, 0]], from_logits=True)
    with pytest.raises(ValueError, match=r"cost_matrix.*length 3.*C .* 4.*y_pred shape \(2, 4\)"):
        loss(np.array([0, 1]), np.zeros((2, 4)))
    with pytest.raises(tf.errors.InvalidArgumentError, match="y_true.*outside"):
        loss(np.array([0, 3]), np.zeros((2, 3)))


@pytest.mark.parametrize(
    ("shape", "pos_weight"),
    [((5, 4), 3.0), ((5, 4), [0.5, 1.0, 2.0, 4.0]), ((1, 1), [2.0]), ((33, 8), 0.25)],
)
@pytest.mark.parametrize("from_logits", [True, False])
def test_weighted_bce_matches_reference(rng, shape, pos_weight, from_logits):
    y_true = rng.integers(0, 2, shape).astype(float)
    logits = rng.normal(size=shape)
    y_pred = logits if from_logits else 1 / (1 + np.exp(-logits))
    loss = WeightedBinaryCrossentropy(pos_weight, from_logits=from_logits)
    expected = reference_weighted_bce(
        y_true, logits if from_logits else y_pred, pos_weight, from_logits
    )
    np.testing.assert_allclose(float(loss(y_true, y_pred.astype("float32"))), expected, rtol=1e-5)


def test_weighted_bce_unit_weight_equals_keras(rng):
    y_true = rng.integers(0, 2, (6, 3)).astype("float32")
    probs = rng.random((6, 3)).astype("float32")
    keras = tf.keras.losses.BinaryCrossentropy()(y_true, probs)
    np.testing.assert_allclose(
        float(WeightedBinaryCrossentropy(1.0)(y_true, probs)), float(keras), rtol=1e-5
    )


def test_weighted_bce_logits_are_stable(rng):
    y_true = np.array([[1.0, 0.0, 1.0, 0.0]])
    logits = np.array([[-200.0, 200.0, 300.0, -300.0]], np.float32)
    value = float(WeightedBinaryCrossentropy(2.0, from_logits=True)(y_true, logits))
    np.testing.assert_allclose(value, (2 * 200 + 200) / 4, rtol=1e-6)


@pytest.mark.parametrize("from_logits", [True, False])
def test_weighted_bce_gradient(rng, assert_gradient_matches, from_logits):
    y_true = rng.integers(0, 2, (3, 4)).astype(float)
    logits = rng.normal(size=(3, 4))
    y_pred = logits if from_logits else 1 / (1 + np.exp(-logits))
    loss = WeightedBinaryCrossentropy([1.0, 2.0, 0.5, 3.0], from_logits=from_logits)
    assert_gradient_matches(lambda y: loss(y_true, y), y_pred)


def test_weighted_bce_errors():
    loss = WeightedBinaryCrossentropy([1.0, 2.0])
    with pytest.raises(ValueError, match=r"pos_weight.*length 2.*L .* 3.*y_pred shape \(4, 3\)"):
        loss(np.zeros((4, 3)), np.full((4, 3), 0.5))
    with pytest.raises(ValueError, match=r"y_true shape \(4, 2\), y_pred shape \(4, 3\)"):
        WeightedBinaryCrossentropy(1.0)(np.zeros((4, 2)), np.full((4, 3), 0.5))
    for bad in (-1.0, [1.0, -2.0], "heavy", float("nan")):
        with pytest.raises(ValueError, match="pos_weight"):
            WeightedBinaryCrossentropy(bad)


def test_weight_lengths_known_only_at_run_time_are_checked_at_run_time():
    unknown = [tf.TensorSpec((None,), tf.int32), tf.TensorSpec((None, None))]
    weighted = tf.function(ClassWeightedCrossentropy([1.0, 2.0, 3.0]), input_signature=unknown)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"`class_weights` has length 3"):
        weighted(np.array([0, 1], np.int32), np.full((2, 5), 0.2, np.float32))
    assert np.isfinite(float(weighted(np.array([0, 2], np.int32), np.full((2, 3), 1 / 3))))
    matrices = [tf.TensorSpec((None, None)), tf.TensorSpec((None, None))]
    bce = tf.function(WeightedBinaryCrossentropy([1.0, 2.0]), input_signature=matrices)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"`pos_weight` has length 2"):
        bce(np.zeros((2, 3), np.float32), np.full((2, 3), 0.5, np.float32))
