"""Per-sequence correlation losses (Pearson, concordance) and their streaming metrics.

Inputs are sequences ``(B, T)`` or ``(B, T, 1)``. A step is real when ``y_true`` differs from
``mask_value`` (NaN as ``mask_value`` masks NaN steps), the Keras mask on ``y_pred`` keeps it and
its step weight is positive. Moments are weighted population moments over real steps:
μ = Σ w·y / Σ w, var = Σ w·(y − μ)² / Σ w, cov = Σ w·(y_t − μ_t)(y_p − μ_p) / Σ w, with w the
step weight (1 for every real step unless a (B, T) ``sample_weight`` says otherwise).

``sample_weight`` is read by rank. One with the rank of the step dims, (B, T) (what Keras passes
when a ``Masking`` layer is upstream), gives step weights and every sequence weight 1; a scalar,
(B,) or (B, 1) one (static last dim 1) weights whole sequences, Keras-style. Keras multiplies a
(B,) ``fit`` weight into the (B, T) mask before the loss sees it, so with a ``Masking`` layer
upstream per-sequence weights do not survive (weighted moments ignore a common factor).
"""

import math

import tensorflow as tf

from losses._base import Loss
from losses._checks import (
    align_mask,
    check_compatible,
    check_mask_value,
    compute_dtype,
    keras_mask,
    shape_error,
)
from losses._reduction import Reduction, mean_over_batch


def _as_steps(owner, arg, x):
    """(B, T, 1) → (B, T); anything else that is not (B, T) is an error."""
    if x.shape.rank == 3 and x.shape[-1] == 1:
        return tf.squeeze(x, -1)
    if x.shape.rank is not None and x.shape.rank != 2:
        raise shape_error(owner, f"`{arg}` must be (B, T) or (B, T, 1)", **{arg: x.shape})
    return x


def _sequences(owner, y_true, y_pred, sample_weight, mask_value):
    """Checked ``(y_true, y_pred, step_weights)`` (B, T) in the compute dtype, and the sequence
    weights (B,) or None."""
    mask = keras_mask(y_pred)
    y_pred = tf.convert_to_tensor(y_pred)
    dtype = compute_dtype(y_pred)
    y_true = _as_steps(owner, "y_true", tf.convert_to_tensor(y_true))
    y_pred = _as_steps(owner, "y_pred", y_pred)
    check_compatible(
        owner,
        "`y_true` and `y_pred` must have the same (B, T) shape",
        y_true=y_true.shape,
        y_pred=y_pred.shape,
    )
    if mask_value is None:
        real = tf.ones_like(y_true, dtype=tf.bool)
    elif math.isnan(mask_value):
        real = tf.logical_not(tf.math.is_nan(y_true))
    else:
        real = tf.not_equal(y_true, tf.cast(mask_value, y_true.dtype))
    if mask is not None:
        real = tf.logical_and(real, align_mask(owner, mask, y_true))
    y_true, y_pred = tf.cast(y_true, dtype), tf.cast(y_pred, dtype)
    steps = tf.cast(real, dtype)
    if sample_weight is None:
        return y_true, y_pred, steps, None
    weight = tf.cast(tf.convert_to_tensor(sample_weight), dtype)
    rank = weight.shape.rank
    if rank == 0:
        return y_true, y_pred, steps, tf.fill(tf.shape(y_true)[:1], weight)
    if rank == 1 or (rank == 2 and weight.shape[-1] == 1):
        if not weight.shape[:1].is_compatible_with(y_true.shape[:1]):
            raise shape_error(
                owner,
                "a per-sequence `sample_weight` needs one weight per sequence",
                sample_weight=weight.shape,
                y_true=y_true.shape,
            )
        return y_true, y_pred, steps, tf.reshape(weight, [-1])
    if rank == 3 and weight.shape[-1] == 1:
        weight = tf.squeeze(weight, -1)
    if weight.shape.rank != 2:
        raise shape_error(
            owner,
            "`sample_weight` must be a scalar, (B,), (B, 1) or per-step (B, T)",
            sample_weight=weight.shape,
            y_true=y_true.shape,
        )
    check_compatible(
        owner,
        "a per-step `sample_weight` must match the (B, T) steps",
        sample_weight=weight.shape,
        y_true=y_true.shape,
    )
    return y_true, y_pred, steps * weight, None


def _shifted(x, real):
    """x minus its value at the first real step (0 at masked steps), and that value.

    Correlations ignore the shift, and subtracting an observed value makes a constant sequence
    exactly 0, so its variance is exactly 0 rather than round-off noise. The shift is held
    constant for gradients; the correlation does not depend on it.
    """
    x = tf.where(real, x, tf.zeros_like(x))
    first = tf.argmax(tf.cast(real, tf.int32), axis=-1, output_type=tf.int32)
    ref = tf.stop_gradient(tf.gather(x, first, axis=1, batch_dims=1))
    return tf.where(real, x - ref[:, None], tf.zeros_like(x)), ref


def _safe(scale):
    """``scale`` held constant for gradients, 0 (an all-zero sequence) replaced by 1.

    The coefficients do not change when the series are divided by it, and dividing keeps the
    squares in the moments from overflowing or underflowing for very large or small values.
    """
    scale = tf.stop_gradient(scale)
    return tf.where(scale > 0, scale, tf.ones_like(scale))


def _moments(t, p, w):
    """Weighted population means, variances and covariance over the last axis."""
    n = tf.reduce_sum(w, axis=-1)
    n = tf.where(n > 0, n, tf.ones_like(n))
    mean_t = tf.reduce_sum(w * t, axis=-1) / n
    mean_p = tf.reduce_sum(w * p, axis=-1) / n
    dt, dp = t - mean_t[:, None], p - mean_p[:, None]
    var_t = tf.reduce_sum(w * dt * dt, axis=-1) / n
    var_p = tf.reduce_sum(w * dp * dp, axis=-1) / n
    cov = tf.reduce_sum(w * dt * dp, axis=-1) / n
    return mean_t, mean_p, var_t, var_p, cov


def _real_steps(weights):
    """Whether each sequence has ≥ 2 real steps, the real steps of those sequences, and their
    weights (0 elsewhere). A lone real step is masked too, so not even a NaN there reaches the
    gradient of a sequence that contributes nothing."""
    real = weights > 0
    defined = tf.reduce_sum(tf.cast(real, tf.int32), axis=-1) >= 2
    real = tf.logical_and(real, defined[:, None])
    return defined, real, tf.where(real, weights, tf.zeros_like(weights))


def pearson_r(y_true, y_pred, weights):
    """Per-sequence Pearson r = cov / √(var_t·var_p), clipped to [-1, 1].

    y_true, y_pred, weights: (B, T); steps with weight ≤ 0 are masked and whatever sits there is
    ignored. Returns ``(r, defined)``, both (B,): r = 0 when either variance is 0, and
    ``defined`` says whether the sequence has ≥ 2 real steps. NaN/Inf at real steps gives NaN.
    """
    defined, real, w = _real_steps(weights)
    t, _ = _shifted(y_true, real)
    p, _ = _shifted(y_pred, real)
    t = t / _safe(tf.reduce_max(tf.abs(t), axis=-1, keepdims=True))
    p = p / _safe(tf.reduce_max(tf.abs(p), axis=-1, keepdims=True))
    _, _, var_t, var_p, cov = _moments(t, p, w)
    denom = var_t * var_p
    # `not <= 0` rather than `> 0` lets NaN through, so a broken model is not hidden.
    nonzero = tf.logical_not(denom <= 0)
    r = tf.where(nonzero, cov / tf.sqrt(tf.where(nonzero, denom, tf.ones_like(denom))), 0)
    return tf.clip_by_value(r, -1, 1), defined


def concordance_cc(y_true, y_pred, weights):
    """Per-sequence Lin's CCC = 2·cov / (var_t + var_p + (μ_t − μ_p)²).

    Same arguments and masking as :func:`pearson_r`. CCC = 1 when both sequences are constant
    and equal (0/0). Returns ``(ccc, defined)``, both (B,).
    """
    defined, real, w = _real_steps(weights)
    t, ref_t = _shifted(y_true, real)
    p, ref_p = _shifted(y_pred, real)
    offset = ref_t - ref_p
    # CCC is invariant to scaling both series by the same factor, not each by its own.
    scale = tf.maximum(
        tf.maximum(tf.reduce_max(tf.abs(t), axis=-1), tf.reduce_max(tf.abs(p), axis=-1)),
        tf.abs(offset),
    )
    scale = _safe(scale)
    t, p, offset = t / scale[:, None], p / scale[:, None], offset / scale
    mean_t, mean_p, var_t, var_p, cov = _moments(t, p, w)
    denom = var_t + var_p + tf.square(mean_t - mean_p + offset)
    nonzero = tf.logical_not(denom <= 0)
    return tf.where(nonzero, 2 * cov / tf.where(nonzero, denom, tf.ones_like(denom)), 1), defined


class _CorrelationLoss(Loss):
    """Mean over the batch of (1 − coefficient) per sequence; sequences with < 2 real steps add 0
    and no gradient (they still count in the batch size, as Keras's mean does). Subclasses set
    ``coefficient`` to :func:`pearson_r` or :func:`concordance_cc`."""

    def __init__(self, mask_value=None, reduction=Reduction.AUTO, name=None):
        super().__init__(reduction=reduction, name=name)
        self.mask_value = check_mask_value(type(self).__name__, mask_value)

    def _per_sequence(self, y_true, y_pred, steps):
        value, defined = self.coefficient(y_true, y_pred, steps)
        return tf.where(defined, 1 - value, tf.zeros_like(value))

    def call(self, y_true, y_pred):
        """Per-sequence losses (B,) with the mask_value and Keras-mask step rule."""
        y_true, y_pred, steps, _ = _sequences(
            type(self).__name__, y_true, y_pred, None, self.mask_value
        )
        return self._per_sequence(y_true, y_pred, steps)

    def _compute(self, y_true, y_pred, sample_weight=None):
        """Σ_b w_b·L_b / B (AUTO, SUM_OVER_BATCH_SIZE), Σ w_b·L_b (SUM) or w_b·L_b (NONE), with
        per-step weights taken from a (B, T) ``sample_weight`` as the module docstring says."""
        with tf.name_scope(self._name_scope):
            y_true, y_pred, steps, seq_weight = _sequences(
                type(self).__name__, y_true, y_pred, sample_weight, self.mask_value
            )
            losses = self._per_sequence(y_true, y_pred, steps)
            if seq_weight is None:
                seq_weight = tf.ones_like(losses)
            return mean_over_batch(losses, seq_weight, self._get_reduction())

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


@tf.keras.utils.register_keras_serializable(package="losskit")
class PearsonCorrelationLoss(_CorrelationLoss):
    """1 − Pearson r per sequence, averaged over the batch.

    Shapes: ``y_true``, ``y_pred`` (B, T) or (B, T, 1). Value: (1/B)·Σ_b w_b·(1 − r_b), with r_b
    the weighted Pearson correlation over the real steps of sequence b (see the module
    docstring), clipped to [-1, 1]; r = 0 when a sequence has zero variance; a sequence with
    fewer than 2 real steps adds 0 and no gradient.
    """

    coefficient = staticmethod(pearson_r)

    def __init__(self, mask_value=None, reduction=Reduction.AUTO, name="pearson_correlation_loss"):
        super().__init__(mask_value=mask_value, reduction=reduction, name=name)


@tf.keras.utils.register_keras_serializable(package="losskit")
class ConcordanceCorrelationLoss(_CorrelationLoss):
    """1 − Lin's concordance correlation coefficient per sequence, averaged over the batch.

    Shapes: ``y_true``, ``y_pred`` (B, T) or (B, T, 1). Value: (1/B)·Σ_b w_b·(1 − CCC_b),
    CCC = 2·cov / (var_t + var_p + (μ_t − μ_p)²) with population moments over real steps;
    CCC = 1 when both are constant and equal (0/0); a sequence with fewer than 2 real steps adds
    0 and no gradient.
    """

    coefficient = staticmethod(concordance_cc)

    def __init__(
        self, mask_value=None, reduction=Reduction.AUTO, name="concordance_correlation_loss"
    ):
        super().__init__(mask_value=mask_value, reduction=reduction, name=name)


class _CorrelationMetric(tf.keras.metrics.Metric):
    """Streaming mean of the per-sequence coefficient: Σ w_b·c_b / Σ w_b over sequences with
    ≥ 2 real steps (0 when there is none). Same masking, weights and ``coefficient`` functions as
    the losses."""

    def __init__(self, mask_value=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.mask_value = check_mask_value(type(self).__name__, mask_value)
        self.total = self.add_weight(name="total", initializer="zeros")
        self.count = self.add_weight(name="count", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred, steps, seq_weight = _sequences(
            type(self).__name__, y_true, y_pred, sample_weight, self.mask_value
        )
        value, defined = self.coefficient(y_true, y_pred, steps)
        if seq_weight is None:
            seq_weight = tf.ones_like(value)
        seq_weight = tf.where(defined, seq_weight, tf.zeros_like(seq_weight))
        self.total.assign_add(tf.cast(tf.reduce_sum(seq_weight * value), self.dtype))
        self.count.assign_add(tf.cast(tf.reduce_sum(seq_weight), self.dtype))

    def result(self):
        return tf.math.divide_no_nan(self.total, self.count)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


@tf.keras.utils.register_keras_serializable(package="losskit")
class PearsonCorrelation(_CorrelationMetric):
    """Streaming per-sequence mean Pearson r (see :func:`pearson_r` and the module docstring)."""

    coefficient = staticmethod(pearson_r)

    def __init__(self, mask_value=None, name="pearson_correlation", dtype=None):
        super().__init__(mask_value=mask_value, name=name, dtype=dtype)


@tf.keras.utils.register_keras_serializable(package="losskit")
class ConcordanceCorrelation(_CorrelationMetric):
    """Streaming per-sequence mean CCC (see :func:`concordance_cc` and the module docstring)."""

    coefficient = staticmethod(concordance_cc)

    def __init__(self, mask_value=None, name="concordance_correlation", dtype=None):
        super().__init__(mask_value=mask_value, name=name, dtype=dtype)
