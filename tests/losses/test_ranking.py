"""BP-MLL: values against the naive pairwise sum, gradients, empty label sets, O(B·L) graph."""

import math

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from losses import BPMLLLoss


def reference_bpmll(y_true, y_pred):
    """Mean over samples of Σ_{k∈Y, l∉Y} exp(c_l − c_k) / (|Y|·|Ȳ|), by explicit loops."""
    total = 0.0
    for labels, scores in zip(y_true, y_pred, strict=True):
        positive = [k for k, label in enumerate(labels) if label == 1]
        negative = [j for j, label in enumerate(labels) if label == 0]
        if not positive or not negative:
            continue
        pairs = sum(math.exp(scores[j] - scores[k]) for k in positive for j in negative)
        total += pairs / (len(positive) * len(negative))
    return total / len(y_true)


def naive_pairwise(y_true, y_pred):
    """The textbook (B, L, L) version, as a control for the graph-size test and the benchmark."""
    y_true = tf.cast(y_true, y_pred.dtype)
    pairs = y_true[:, :, None] * (1 - y_true[:, None, :])  # k positive, l negative
    exps = tf.exp(y_pred[:, None, :] - y_pred[:, :, None])
    sizes = tf.reduce_sum(y_true, -1) * tf.reduce_sum(1 - y_true, -1)
    return tf.reduce_mean(tf.math.divide_no_nan(tf.reduce_sum(pairs * exps, [1, 2]), sizes))


@pytest.mark.parametrize("shape", [(1, 2), (4, 6), (8, 18), (3, 50)])
def test_matches_reference(rng, shape):
    y_true = rng.integers(0, 2, shape)
    y_pred = rng.normal(size=shape)
    expected = reference_bpmll(y_true, y_pred)
    np.testing.assert_allclose(
        float(BPMLLLoss()(y_true, y_pred.astype("float32"))), expected, rtol=1e-5
    )
    np.testing.assert_allclose(float(naive_pairwise(y_true, tf.constant(y_pred))), expected)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    batch=st.integers(1, 5),
    labels=st.integers(1, 12),
    spread=st.floats(0.1, 20.0),
)
def test_equals_naive_double_sum(seed, batch, labels, spread):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 2, (batch, labels))
    y_true[0] = rng.integers(0, 2)  # an all-0 or all-1 row
    y_pred = spread * rng.normal(size=(batch, labels))
    np.testing.assert_allclose(
        float(BPMLLLoss()(y_true, y_pred)), reference_bpmll(y_true, y_pred), rtol=1e-9
    )


def test_gradient_matches_finite_differences(rng, assert_gradient_matches):
    y_true = np.array([[1, 0, 1, 0, 0], [0, 0, 0, 0, 0], [1, 1, 0, 1, 0]])
    assert_gradient_matches(lambda y: BPMLLLoss()(y_true, y), rng.normal(size=(3, 5)))


def test_empty_label_sets_give_zero_and_finite_gradient(value_and_gradient):
    y_true = np.array([[0, 0, 0], [1, 1, 1], [1, 0, 0]])
    y_pred = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [0.0, 1.0, -1.0]])
    value, grad = value_and_gradient(lambda y: BPMLLLoss()(y_true, y), y_pred)
    np.testing.assert_allclose(value, reference_bpmll(y_true, y_pred))
    np.testing.assert_array_equal(grad[:2], 0)
    assert np.all(np.isfinite(grad))


def test_large_scores_do_not_overflow(rng, value_and_gradient):
    y_true = rng.integers(0, 2, (4, 10))
    y_true[:, 0], y_true[:, 1] = 0, 1
    y_pred = 500.0 + rng.normal(size=(4, 10))
    value, grad = value_and_gradient(lambda y: BPMLLLoss()(y_true, y), y_pred.astype("float32"))
    np.testing.assert_allclose(value, reference_bpmll(y_true, y_pred), rtol=1e-4)
    assert np.all(np.isfinite(grad))


def test_nan_score_propagates(rng):
    y_true = np.array([[1, 0, 0]])
    assert np.isnan(float(BPMLLLoss()(y_true, np.array([[0.0, np.nan, 1.0]]))))


def test_non_binary_labels_raise():
    with pytest.raises(tf.errors.InvalidArgumentError, match="only 0 and 1"):
        BPMLLLoss()(np.array([[0, 2, 1]]), np.zeros((1, 3)))


def test_shape_errors_name_arguments():
    with pytest.raises(ValueError, match=r"y_true shape \(2, 3\), y_pred shape \(2, 4\)"):
        BPMLLLoss()(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"y_pred.*rank 2"):
        BPMLLLoss()(np.zeros((2, 3, 1)), np.zeros((2, 3, 1)))


def largest_intermediate(fn, batch, labels):
    """Traces value and gradient of ``fn`` and returns (largest tensor size, op types, op count)."""

    @tf.function
    def step(y_true, y_pred):
        with tf.GradientTape() as tape:
            tape.watch(y_pred)
            value = fn(y_true, y_pred)
        return value, tape.gradient(value, y_pred)

    spec = tf.TensorSpec((batch, labels), tf.float32)
    graph = step.get_concrete_function(spec, spec).graph
    sizes = [output.shape.num_elements() for op in graph.get_operations() for output in op.outputs]
    assert None not in sizes, "every intermediate shape is static"
    return max(sizes), {op.type for op in graph.get_operations()}, len(graph.get_operations())


def test_no_quadratic_intermediate_in_value_or_gradient():
    batch, labels = 8, 4096
    largest, op_types, op_count = largest_intermediate(BPMLLLoss(), batch, labels)
    assert largest <= batch * labels
    assert not op_types & {"While", "StatelessWhile", "PartitionedCall", "StatefulPartitionedCall"}
    # No per-sample Python loop: the graph does not grow with the batch.
    assert largest_intermediate(BPMLLLoss(), 2 * batch, labels)[2] == op_count
    # The check does catch the naive version's (B, L, L) tensor.
    assert largest_intermediate(naive_pairwise, batch, 64)[0] == batch * 64 * 64
