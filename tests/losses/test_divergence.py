"""KL divergence that skips samples whose label is the ignored class."""

import math

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from losses import IgnoredLabelKLDivergence
from tests.losses.gradients import tape_gradient

EPS = 1e-7


def reference_kl(y_true, y_pred, ignore_class, sample_weight=None):
    total = count = 0.0
    for i, (target, pred) in enumerate(zip(y_true, y_pred, strict=True)):
        if int(np.argmax(target)) == ignore_class:
            continue
        kl = sum(
            t * (math.log(t) - math.log(min(max(p, EPS), 1.0)))
            for t, p in zip(target, pred, strict=True)
            if t > 0
        )
        weight = 1.0 if sample_weight is None else sample_weight[i]
        total += weight * kl
        count += weight
    return total / count if count else 0.0


def distributions(rng, batch, classes, sharp=1.0):
    return tf.nn.softmax(sharp * rng.normal(size=(batch, classes))).numpy()


@pytest.mark.parametrize("batch, classes", [(1, 2), (6, 3), (20, 5)])
def test_matches_reference(rng, batch, classes):
    y_true, y_pred = distributions(rng, batch, classes, 3.0), distributions(rng, batch, classes)
    loss = IgnoredLabelKLDivergence(ignore_class=0)
    np.testing.assert_allclose(
        float(loss(y_true, y_pred.astype("float32"))), reference_kl(y_true, y_pred, 0), rtol=1e-5
    )


def test_one_hot_targets_use_zero_log_zero(rng):
    labels = np.array([1, 2, 0, 2])
    y_true, y_pred = np.eye(3)[labels], distributions(rng, 4, 3)
    expected = np.mean([-math.log(y_pred[i, labels[i]]) for i in (0, 1, 3)])
    np.testing.assert_allclose(float(IgnoredLabelKLDivergence(0)(y_true, y_pred)), expected)


def test_sample_weight_and_reductions(rng):
    y_true, y_pred = distributions(rng, 8, 4, 3.0), distributions(rng, 8, 4)
    weight = rng.random(8)
    expected = reference_kl(y_true, y_pred, 1, weight)
    loss = IgnoredLabelKLDivergence(1)
    np.testing.assert_allclose(float(loss(y_true, y_pred, sample_weight=weight)), expected)
    none = IgnoredLabelKLDivergence(1, reduction=tf.keras.losses.Reduction.NONE)
    per_sample = none(y_true, y_pred, sample_weight=weight).numpy()
    assert per_sample.shape == (8,)
    assert np.all(per_sample[np.argmax(y_true, -1) == 1] == 0)


def test_gradient_matches_finite_differences(rng, assert_gradient_matches):
    y_true, y_pred = distributions(rng, 5, 3, 3.0), distributions(rng, 5, 3)
    y_true[0] = [0.1, 0.7, 0.2]
    loss = IgnoredLabelKLDivergence(0)
    assert_gradient_matches(lambda y: loss(y_true, y), y_pred)


def test_ignored_samples_give_exactly_zero_gradient(rng, value_and_gradient):
    y_true = np.array([[0.9, 0.1, 0.0], [0.1, 0.8, 0.1], [0.6, 0.2, 0.2]])
    y_pred = distributions(rng, 3, 3)
    dirty = y_pred.copy()
    dirty[[0, 2]] = [np.nan, -1.0, np.inf]
    loss = IgnoredLabelKLDivergence(0)
    clean_value, clean_grad = value_and_gradient(lambda y: loss(y_true, y), y_pred)
    value, grad = value_and_gradient(lambda y: loss(y_true, y), dirty)
    assert value == clean_value == pytest.approx(reference_kl(y_true, y_pred, 0))
    np.testing.assert_array_equal(grad, clean_grad)
    np.testing.assert_array_equal(grad[[0, 2]], 0)


def test_all_ignored_is_zero(value_and_gradient):
    y_true = np.array([[1.0, 0.0], [0.7, 0.3]])
    value, grad = value_and_gradient(
        lambda y: IgnoredLabelKLDivergence(0)(y_true, y), np.full((2, 2), np.nan)
    )
    assert value == 0
    np.testing.assert_array_equal(grad, 0)


def test_nan_in_kept_sample_propagates(rng):
    y_pred = distributions(rng, 2, 3)
    y_pred[1, 2] = np.nan
    assert np.isnan(float(IgnoredLabelKLDivergence(0)(np.eye(3)[[1, 2]], y_pred)))


def test_errors_name_arguments():
    with pytest.raises(ValueError, match=r"ignore_class.*C = 3.*y_pred shape \(2, 3\)"):
        IgnoredLabelKLDivergence(3)(np.eye(3)[[0, 1]], np.eye(3)[[0, 1]])
    with pytest.raises(ValueError, match=r"y_true shape \(2, 4\), y_pred shape \(2, 3\)"):
        IgnoredLabelKLDivergence(0)(np.eye(4)[[0, 1]], np.eye(3)[[0, 1]])
    with pytest.raises(ValueError, match="ignore_class"):
        IgnoredLabelKLDivergence(-1)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    garbage=st.sampled_from([np.nan, np.inf, -np.inf, 1e30, -1.0]),
)
def test_ignored_samples_never_matter(seed, garbage):
    """Whatever sits in y_pred for an n/a sample reaches neither the value nor the gradient."""
    rng = np.random.default_rng(seed)
    batch, classes = int(rng.integers(1, 8)), int(rng.integers(2, 6))
    y_true, y_pred = distributions(rng, batch, classes, 3.0), distributions(rng, batch, classes)
    ignored = np.argmax(y_true, -1) == 0
    dirty = y_pred.copy()
    dirty[ignored] = garbage
    loss = IgnoredLabelKLDivergence(0)

    clean_value, clean_grad = tape_gradient(lambda y: loss(y_true, y), y_pred)
    value, grad = tape_gradient(lambda y: loss(y_true, y), dirty)
    assert value == clean_value and np.isfinite(value)
    np.testing.assert_array_equal(grad, clean_grad)
    np.testing.assert_array_equal(grad[ignored], 0)
