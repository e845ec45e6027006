"""Fit a curve sampled on a grid with a sum of K Gaussian bumps predicted as (a, b, c) triples."""

import tensorflow as tf

from losses._base import Loss
from losses._checks import (
    check_floats,
    check_int,
    check_length,
    check_rank,
    check_size,
    compute_dtype,
    shape_error,
)
from losses._reduction import Reduction

DISTANCES = ("mae", "mse")
# Variances below this make the bumps numerically degenerate (and c = 0 divides by zero).
MIN_VARIANCE = 1e-6


def gaussian_mixture_curve(params, grid):
    """Σ_k a_k·exp(−(x − b_k)² / (2·max(c_k, 1e-6))) at each grid point.

    params: (B, 3K) laid out [a₀, b₀, c₀, a₁, b₁, c₁, …]; grid: (T,). Returns (B, T). Vectorised
    over k through a (B, K, T) intermediate.
    """
    triples = tf.reshape(params, [tf.shape(params)[0], -1, 3])
    a, b, c = triples[..., 0:1], triples[..., 1:2], triples[..., 2:3]
    c = tf.maximum(c, MIN_VARIANCE)
    return tf.reduce_sum(a * tf.exp(-tf.square(grid - b) / (2 * c)), axis=1)


@tf.keras.utils.register_keras_serializable(package="losskit")
class GaussianMixtureCurveLoss(Loss):
    """Distance between a sampled curve and a predicted mixture of Gaussian bumps.

    Shapes: ``y_true`` the curve sampled at T grid points (B, T); ``y_pred`` (B, 3K) with
    K = ``num_components`` triples [a₀, b₀, c₀, a₁, …] (amplitude, centre, variance c_k, clipped
    to ≥ 1e-6). ``grid``: T points, default ``linspace(0, 1, T)``.

    Value with the default reduction: the mean over batch and grid of |y − ŷ| (``"mae"``) or
    (y − ŷ)² (``"mse"``), ŷ(x) = Σ_k a_k·exp(−(x − b_k)² / (2c_k)).
    """

    def __init__(
        self,
        num_components,
        grid=None,
        distance="mae",
        reduction=Reduction.AUTO,
        name="gaussian_mixture_curve_loss",
    ):
        super().__init__(reduction=reduction, name=name)
        owner = type(self).__name__
        self.num_components = check_int(owner, "num_components", num_components, minimum=1)
        self.grid = None if grid is None else check_floats(owner, "grid", grid)
        if distance not in DISTANCES:
            raise ValueError(f"{owner}: `distance` must be one of {DISTANCES}; got {distance!r}.")
        self.distance = distance

    def call(self, y_true, y_pred):
        owner = type(self).__name__
        y_pred = tf.convert_to_tensor(y_pred)
        y_pred = tf.cast(y_pred, compute_dtype(y_pred))
        y_true = tf.cast(tf.convert_to_tensor(y_true), y_pred.dtype)
        check_rank(owner, "y_true", y_true, (2,))
        check_rank(owner, "y_pred", y_pred, (2,))
        if not y_true.shape[:1].is_compatible_with(y_pred.shape[:1]):
            raise shape_error(
                owner,
                "`y_true` (B, T) and `y_pred` (B, 3K) must have the same batch size",
                y_true=y_true.shape,
                y_pred=y_pred.shape,
            )
        width = 3 * self.num_components
        needs = f"`num_components`={self.num_components} needs `y_pred` of width 3·K = {width}"
        y_pred = check_size(owner, y_pred, width, needs, "y_pred")
        steps = y_true.shape[-1]
        if self.grid is None:
            grid = tf.linspace(
                tf.constant(0, y_pred.dtype),
                tf.constant(1, y_pred.dtype),
                steps if steps is not None else tf.shape(y_true)[-1],
            )
        else:
            y_true = check_length(
                owner,
                "grid",
                len(self.grid),
                y_true,
                "the number of curve points T in `y_true`",
                "y_true",
            )
            grid = tf.constant(self.grid, y_pred.dtype)
        error = y_true - gaussian_mixture_curve(y_pred, grid)
        distance = tf.abs(error) if self.distance == "mae" else tf.square(error)
        return tf.reduce_mean(distance, axis=-1)

    def get_config(self):
        return {
            **super().get_config(),
            "num_components": self.num_components,
            "grid": self.grid,
            "distance": self.distance,
        }
