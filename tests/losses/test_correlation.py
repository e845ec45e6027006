"""Pearson and concordance losses: values, gradients, masking, step weights, Keras masks."""

import math

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from losses import ConcordanceCorrelationLoss, PearsonCorrelationLoss
from tests.losses.gradients import tape_gradient

MASK = -1.0


def coefficient(kind, t, p, w):
    """Pearson r or CCC of one sequence from weighted population moments (None if < 2 steps)."""
    keep = w > 0
    t, p, w = t[keep], p[keep], w[keep]
    if len(t) < 2:
        return None
    n = w.sum()
    mt, mp = (w * t).sum() / n, (w * p).sum() / n
    var_t, var_p = (w * (t - mt) ** 2).sum() / n, (w * (p - mp) ** 2).sum() / n
    cov = (w * (t - mt) * (p - mp)).sum() / n
    t_const, p_const = np.all(t == t[0]), np.all(p == p[0])
    if kind == "pearson":
        if t_const or p_const:
            return 0.0
        return min(1.0, max(-1.0, cov / math.sqrt(var_t * var_p)))
    if t_const and p_const and t[0] == p[0]:
        return 1.0
    return 2 * cov / (var_t + var_p + (mt - mp) ** 2)


def reference_loss(kind, y_true, y_pred, step_weight=None, seq_weight=None, mask_value=MASK):
    y_true = np.asarray(y_true, np.float64).reshape(len(y_true), -1)
    y_pred = np.asarray(y_pred, np.float64).reshape(len(y_pred), -1)
    real = y_true != mask_value if mask_value is not None else np.ones(y_true.shape, bool)
    steps = real * (1.0 if step_weight is None else step_weight)
    total = 0.0
    for b in range(len(y_true)):
        value = coefficient(kind, y_true[b], y_pred[b], steps[b])
        if value is not None:
            total += (1.0 if seq_weight is None else seq_weight[b]) * (1 - value)
    return total / len(y_true)


LOSSES = {"pearson": PearsonCorrelationLoss, "ccc": ConcordanceCorrelationLoss}


def padded(rng, batch, steps, min_length=0):
    y_true = rng.normal(size=(batch, steps))
    y_pred = y_true * rng.normal() + rng.normal(size=(batch, steps))
    lengths = rng.integers(min_length, steps + 1, batch)
    real = np.arange(steps)[None, :] < lengths[:, None]
    y_true[~real] = MASK
    return y_true, y_pred, real


@pytest.mark.parametrize("kind", LOSSES)
@pytest.mark.parametrize("shape", [(3, 5), (4, 9), (2, 2), (6, 1)])
def test_matches_reference(rng, kind, shape):
    y_true, y_pred, _ = padded(rng, *shape)
    loss = LOSSES[kind](mask_value=MASK)
    expected = reference_loss(kind, y_true, y_pred)
    np.testing.assert_allclose(float(loss(y_true, y_pred.astype("float32"))), expected, atol=1e-6)
    trailing = loss(y_true[..., None], y_pred[..., None].astype("float32"))
    np.testing.assert_allclose(float(trailing), expected, atol=1e-6)


def test_pearson_equals_numpy_corrcoef(rng):
    y_true, y_pred = rng.normal(size=(4, 8)), rng.normal(size=(4, 8))
    expected = np.mean([1 - np.corrcoef(t, p)[0, 1] for t, p in zip(y_true, y_pred, strict=True)])
    np.testing.assert_allclose(
        float(PearsonCorrelationLoss()(y_true, y_pred)), expected, rtol=1e-12
    )


@pytest.mark.parametrize("kind", LOSSES)
def test_gradient_matches_finite_differences(rng, assert_gradient_matches, kind):
    y_true, y_pred, _ = padded(rng, 3, 5, min_length=2)
    loss = LOSSES[kind](mask_value=MASK)
    assert_gradient_matches(lambda y: loss(y_true, y), y_pred)


@pytest.mark.parametrize("kind", LOSSES)
def test_step_weights_gradient(rng, assert_gradient_matches, kind):
    y_true, y_pred = rng.normal(size=(2, 5)), rng.normal(size=(2, 5))
    weight = rng.random((2, 5)) + 0.1
    loss = LOSSES[kind]()
    assert_gradient_matches(lambda y: loss(y_true, y, sample_weight=weight), y_pred)


def test_zero_variance_gives_r_zero_and_finite_gradient(value_and_gradient):
    y_true = np.array([[1.0, 2.0, 3.0], [0.1, 0.1, 0.1], [1.0, 2.0, 4.0]])
    y_pred = np.array([[0.3, 0.3, 0.3], [1.0, 2.0, 0.0], [1.0, 2.0, 3.0]])
    value, grad = value_and_gradient(lambda y: PearsonCorrelationLoss()(y_true, y), y_pred)
    r_last = np.corrcoef(y_true[2], y_pred[2])[0, 1]
    np.testing.assert_allclose(value, (1 + 1 + 1 - r_last) / 3)
    assert np.all(np.isfinite(grad))
    np.testing.assert_array_equal(grad[:2], 0)


def test_ccc_constant_sequences(value_and_gradient):
    y_true = np.array([[2.0, 2.0, 2.0], [2.0, 2.0, 2.0], [0.5, 0.5, 0.5]])
    y_pred = np.array([[2.0, 2.0, 2.0], [1.0, 1.0, 1.0], [0.0, 1.0, 2.0]])
    loss = ConcordanceCorrelationLoss(reduction=tf.keras.losses.Reduction.NONE)
    value, grad = value_and_gradient(lambda y: tf.reduce_sum(loss(y_true, y)), y_pred)
    np.testing.assert_allclose(loss(y_true, y_pred).numpy(), [0.0, 1.0, 1.0])
    assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("jit", [False, True])
def test_ccc_tiny_constants_in_float32(jit):
    """Constants whose difference squares to below float32's smallest normal: different ones
    are still discordant (CCC 0), equal ones concordant (CCC 1)."""
    y_true = np.array([[1e-25] * 4, [1e-25] * 4, [1e-25] * 4], np.float32)
    y_pred = np.array([[2e-25] * 4, [1e-25] * 4, [-1e-25, 0.0, 1e-25, 2e-25]], np.float32)
    loss = ConcordanceCorrelationLoss(reduction="none")
    value, grad = value_and_grad_fn(loss, tf.constant(y_true), jit)(tf.constant(y_pred))
    np.testing.assert_allclose(value, [1.0, 0.0, 1.0], atol=1e-6)
    assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("kind", LOSSES)
def test_fewer_than_two_real_steps_add_zero_and_no_gradient(value_and_gradient, kind):
    y_true = np.array([[0.5, MASK, MASK], [MASK, MASK, MASK], [1.0, 2.0, 3.0]])
    y_pred = np.array([[np.nan, np.nan, np.inf], [np.nan, 1.0, 2.0], [3.0, 1.0, 2.0]])
    loss = LOSSES[kind](mask_value=MASK)
    value, grad = value_and_gradient(lambda y: loss(y_true, y), y_pred)
    np.testing.assert_allclose(value, reference_loss(kind, y_true, np.nan_to_num(y_pred)))
    np.testing.assert_array_equal(grad[:2], 0)
    assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("kind", LOSSES)
def test_all_masked_batch(value_and_gradient, kind):
    y_true = np.full((2, 4), MASK)
    value, grad = value_and_gradient(
        lambda y: LOSSES[kind](mask_value=MASK)(y_true, y), np.full((2, 4), np.nan)
    )
    assert value == 0
    np.testing.assert_array_equal(grad, 0)


@pytest.mark.parametrize("kind", LOSSES)
def test_nan_at_real_step_propagates(rng, kind):
    y_true, y_pred = rng.normal(size=(2, 4)), rng.normal(size=(2, 4))
    y_pred[1, 2] = np.nan
    assert np.isnan(float(LOSSES[kind]()(y_true, y_pred)))


@pytest.mark.parametrize("kind", LOSSES)
def test_extreme_magnitudes_in_float32(rng, kind):
    y_true, y_pred, _ = padded(rng, 3, 6, min_length=3)
    real = y_true != MASK
    loss = LOSSES[kind](mask_value=MASK)
    expected = float(loss(y_true.astype("float32"), y_pred.astype("float32")))
    for scale in (1e-25, 1e25):
        scaled_true = np.where(real, y_true * scale, MASK).astype("float32")
        value = float(loss(scaled_true, (y_pred * scale).astype("float32")))
        np.testing.assert_allclose(value, expected, atol=1e-5)


def value_and_grad_fn(loss, y_true, jit):
    def value_and_grad(y_pred):
        with tf.GradientTape() as tape:
            tape.watch(y_pred)
            value = loss(y_true, y_pred)
        return value, tape.gradient(value, y_pred)

    return tf.function(value_and_grad, jit_compile=True) if jit else value_and_grad


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("kind", LOSSES)
def test_rows_far_from_unit_scale_in_float32(rng, kind, masked, jit):
    """A batch mixing rows at 1e-25, 1, 1e25, a constant and a tiny constant: each row's loss
    and gradient are the unit-scale row's (the gradient divided by the scale), whichever path
    the batch takes, with XLA or without."""
    y_true, y_pred, real = padded(rng, 5, 8, min_length=3)
    if not masked:
        y_true, real = np.where(real, y_true, y_pred), np.ones_like(real)
    y_true[3], y_pred[3] = np.where(real[3], 2.0, MASK), y_pred[0]
    y_true[4], y_pred[4] = np.where(real[4], 3e-25, MASK), 1e-25 * y_pred[0]
    loss = LOSSES[kind](mask_value=MASK if masked else None, reduction="none")
    expected = [reference_loss(kind, y_true[i : i + 1], y_pred[i : i + 1]) for i in range(5)]
    if kind == "ccc":
        assert expected[3] == pytest.approx(1) and expected[4] == pytest.approx(1)
    # float64 inputs stay float64, where nothing here under- or overflows.
    _, unit_grad = value_and_grad_fn(loss, tf.constant(y_true), False)(tf.constant(y_pred))
    scales = np.array([1e-25, 1.0, 1e25, 1.0, 1.0])[:, None]
    scaled_true = np.where(y_true == MASK, MASK, y_true * scales) if masked else y_true * scales
    value, grad = value_and_grad_fn(loss, tf.constant(scaled_true, tf.float32), jit)(
        tf.constant(y_pred * scales, tf.float32)
    )
    np.testing.assert_allclose(value, expected, atol=2e-5)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad * scales, unit_grad, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("kind", LOSSES)
def test_sequence_weights(rng, kind):
    y_true, y_pred, _ = padded(rng, 4, 6)
    weight = rng.random(4)
    loss = LOSSES[kind](mask_value=MASK)
    expected = reference_loss(kind, y_true, y_pred, seq_weight=weight)
    for shaped in (weight, weight[:, None]):
        np.testing.assert_allclose(float(loss(y_true, y_pred, sample_weight=shaped)), expected)
    np.testing.assert_allclose(
        float(loss(y_true, y_pred, sample_weight=2.0)), 2 * reference_loss(kind, y_true, y_pred)
    )


@pytest.mark.parametrize("kind", LOSSES)
def test_step_weights(rng, kind):
    y_true, y_pred, real = padded(rng, 4, 6)
    weight = rng.random((4, 6))
    loss = LOSSES[kind](mask_value=MASK)
    expected = reference_loss(kind, y_true, y_pred, step_weight=weight)
    np.testing.assert_allclose(float(loss(y_true, y_pred, sample_weight=weight)), expected)
    # A 0/1 step mask (what Keras passes under a Masking layer) equals masking by value.
    unmasked = np.where(real, y_true, 123.0)
    np.testing.assert_allclose(
        float(LOSSES[kind]()(unmasked, y_pred, sample_weight=real.astype(float))),
        reference_loss(kind, y_true, y_pred),
    )


def test_nan_mask_value(rng):
    y_true, y_pred, real = padded(rng, 3, 5)
    with_nan = np.where(real, y_true, np.nan)
    np.testing.assert_allclose(
        float(PearsonCorrelationLoss(mask_value=float("nan"))(with_nan, y_pred)),
        reference_loss("pearson", y_true, y_pred),
    )


@pytest.mark.parametrize("kind", LOSSES)
def test_masking_layer_model(rng, kind):
    """Keras passes the Masking layer's mask on y_pred and as a (B, T) sample_weight."""
    tf.keras.utils.set_random_seed(0)
    features = rng.normal(size=(5, 6, 3))
    lengths = np.array([6, 4, 1, 0, 3])
    real = np.arange(6)[None, :] < lengths[:, None]
    features[~real] = 0.0
    y_true = rng.normal(size=(5, 6))
    inputs = tf.keras.Input((6, 3))
    hidden = tf.keras.layers.Masking(0.0)(inputs)
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(1)(hidden))
    model.compile(loss=LOSSES[kind]())
    y_pred = model.predict(features, verbose=0)
    result = model.evaluate(features, y_true, batch_size=5, verbose=0)
    expected = reference_loss(kind, np.where(real, y_true, MASK), y_pred)
    np.testing.assert_allclose(result, expected, rtol=1e-5)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    scale=st.floats(1e-3, 1e3),
    shift=st.floats(-1e3, 1e3),
)
def test_pearson_invariant_to_positive_affine_maps(seed, scale, shift):
    rng = np.random.default_rng(seed)
    y_true, y_pred, _ = padded(rng, 3, 6)
    loss = PearsonCorrelationLoss(mask_value=MASK)
    np.testing.assert_allclose(
        float(loss(y_true, scale * y_pred + shift)), float(loss(y_true, y_pred)), atol=1e-9
    )


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    garbage=st.sampled_from([np.nan, np.inf, 1e30, 0.0]),
    kind=st.sampled_from(sorted(LOSSES)),
)
def test_masked_steps_never_matter(seed, garbage, kind):
    rng = np.random.default_rng(seed)
    y_true, y_pred, real = padded(rng, 3, 5)
    dirty = np.where(real, y_pred, garbage)
    loss = LOSSES[kind](mask_value=MASK)

    clean_value, clean_grad = tape_gradient(lambda y: loss(y_true, y), y_pred)
    value, grad = tape_gradient(lambda y: loss(y_true, y), dirty)
    assert value == clean_value
    np.testing.assert_array_equal(grad, clean_grad)
    assert np.all(grad[~real] == 0)


def test_shape_errors_name_arguments():
    loss = PearsonCorrelationLoss()
    with pytest.raises(ValueError, match=r"y_pred.*\(B, T\).*y_pred shape \(2, 3, 2\)"):
        loss(np.zeros((2, 3)), np.zeros((2, 3, 2)))
    with pytest.raises(ValueError, match=r"y_true shape \(2, 3\), y_pred shape \(2, 4\)"):
        loss(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="sample_weight"):
        loss(np.zeros((2, 3)), np.zeros((2, 3)), sample_weight=np.ones((2, 4)))
    with pytest.raises(ValueError, match="mask_value"):
        ConcordanceCorrelationLoss(mask_value="pad")
