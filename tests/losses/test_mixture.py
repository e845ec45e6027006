"""Gaussian-mixture curve loss: values, gradients, grids, argument errors."""

import math

import numpy as np
import pytest
import tensorflow as tf

from losses import GaussianMixtureCurveLoss


def reference_curve_loss(y_true, y_pred, num_components, grid=None, distance="mae"):
    batch, steps = y_true.shape
    grid = np.linspace(0, 1, steps) if grid is None else np.asarray(grid)
    total = 0.0
    for b in range(batch):
        for t in range(steps):
            curve = 0.0
            for k in range(num_components):
                a, centre, var = y_pred[b, 3 * k : 3 * k + 3]
                curve += a * math.exp(-((grid[t] - centre) ** 2) / (2 * max(var, 1e-6)))
            error = y_true[b, t] - curve
            total += abs(error) if distance == "mae" else error**2
    return total / (batch * steps)


def mixture_params(rng, batch, num_components):
    params = rng.normal(size=(batch, num_components, 3))
    params[..., 2] = rng.uniform(0.01, 0.2, (batch, num_components))
    return params.reshape(batch, -1)


@pytest.mark.parametrize("batch, steps, num_components", [(1, 1, 1), (3, 10, 2), (5, 33, 4)])
@pytest.mark.parametrize("distance", ["mae", "mse"])
def test_matches_reference(rng, batch, steps, num_components, distance):
    y_true = rng.normal(size=(batch, steps))
    y_pred = mixture_params(rng, batch, num_components)
    loss = GaussianMixtureCurveLoss(num_components, distance=distance)
    expected = reference_curve_loss(y_true, y_pred, num_components, distance=distance)
    np.testing.assert_allclose(float(loss(y_true, y_pred.astype("float32"))), expected, rtol=1e-5)


def test_custom_grid_and_variance_floor(rng):
    grid = [0.0, 0.5, 2.0, 3.0]
    y_true = rng.normal(size=(2, 4))
    y_pred = mixture_params(rng, 2, 2)
    y_pred[0, 2] = -5.0  # a negative variance is floored at 1e-6
    loss = GaussianMixtureCurveLoss(2, grid=grid, distance="mse")
    np.testing.assert_allclose(
        float(loss(y_true, y_pred)), reference_curve_loss(y_true, y_pred, 2, grid, "mse")
    )


@pytest.mark.parametrize("distance", ["mae", "mse"])
def test_gradient_matches_finite_differences(rng, assert_gradient_matches, distance):
    y_true = rng.normal(size=(2, 6))
    loss = GaussianMixtureCurveLoss(2, distance=distance)
    assert_gradient_matches(lambda y: loss(y_true, y), mixture_params(rng, 2, 2))


def test_perfect_fit_is_zero():
    params = np.array([[1.0, 0.3, 0.02, 0.5, 0.8, 0.01]])
    grid = np.linspace(0, 1, 12)
    curve = sum(a * np.exp(-((grid - b) ** 2) / (2 * c)) for a, b, c in params.reshape(-1, 3))[None]
    assert float(GaussianMixtureCurveLoss(2)(curve, params)) == pytest.approx(0, abs=1e-12)


def test_errors_name_arguments():
    loss = GaussianMixtureCurveLoss(2, grid=[0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match=r"num_components.*6.*y_pred shape \(4, 9\)"):
        loss(np.zeros((4, 3)), np.zeros((4, 9)))
    with pytest.raises(ValueError, match=r"grid.*length 3.*T .* 5.*y_true shape \(4, 5\)"):
        loss(np.zeros((4, 5)), np.zeros((4, 6)))
    with pytest.raises(ValueError, match=r"y_true shape \(3, 5\), y_pred shape \(4, 6\)"):
        GaussianMixtureCurveLoss(2)(np.zeros((3, 5)), np.zeros((4, 6)))
    with pytest.raises(ValueError, match=r"y_true.*rank 2"):
        GaussianMixtureCurveLoss(2)(np.zeros((4, 5, 1)), np.zeros((4, 6)))
    with pytest.raises(ValueError, match="distance"):
        GaussianMixtureCurveLoss(2, distance="huber")
    with pytest.raises(ValueError, match="num_components"):
        GaussianMixtureCurveLoss(0)
    with pytest.raises(ValueError, match="grid"):
        GaussianMixtureCurveLoss(1, grid=[0.0, float("nan")])


def test_dynamic_length_under_tf_function(rng):
    loss = GaussianMixtureCurveLoss(1)
    fn = tf.function(loss, input_signature=[tf.TensorSpec((None, None)), tf.TensorSpec((None, 3))])
    y_true, y_pred = rng.normal(size=(2, 7)), mixture_params(rng, 2, 1)
    np.testing.assert_allclose(
        float(fn(y_true, y_pred)), reference_curve_loss(y_true, y_pred, 1), rtol=1e-5
    )


def test_sizes_known_only_at_run_time_are_checked_at_run_time(rng):
    """Under a tf.function whose signature leaves the widths open, the width and grid
    checks run as Assert ops and still name the argument."""
    unknown = [tf.TensorSpec((None, None)), tf.TensorSpec((None, None))]
    wide = tf.function(GaussianMixtureCurveLoss(1), input_signature=unknown)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"num_components.*width 3·K = 3"):
        wide(rng.normal(size=(2, 7)), mixture_params(rng, 2, 2))
    gridded = tf.function(
        GaussianMixtureCurveLoss(1, grid=[0.0, 0.5, 1.0]), input_signature=unknown
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"`grid` has length 3"):
        gridded(rng.normal(size=(2, 7)), mixture_params(rng, 2, 1))
    y_true, y_pred = rng.normal(size=(2, 3)), mixture_params(rng, 2, 1)
    eager = GaussianMixtureCurveLoss(1, grid=[0.0, 0.5, 1.0])(y_true, y_pred)
    np.testing.assert_allclose(float(gridded(y_true, y_pred)), float(eager), rtol=1e-6)
