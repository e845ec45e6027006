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

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from losses._base import Loss
from losses._checks import (
    align_mask,
    as_steps,
    check_compatible,
    check_mask_value,
    compute_dtype,
    keras_mask,
    shape_error,
    unmasked_steps,
)
from losses._reduction import Reduction, mean_over_batch
from losses._xla import compiled_by_xla


def _sequences(owner, y_true, y_pred, sample_weight, mask_value):
    """Checked ``(y_true, y_pred)`` (B, T) in the compute dtype, their :class:`_Steps` (None
    when every step is real with weight 1), and the sequence weights (B,) or None."""
    mask = keras_mask(y_pred)
    y_pred = tf.convert_to_tensor(y_pred)
    dtype = compute_dtype(y_pred)
    y_true = as_steps(owner, "y_true", tf.convert_to_tensor(y_true))
    y_pred = as_steps(owner, "y_pred", y_pred)
    check_compatible(
        owner,
        "`y_true` and `y_pred` must have the same (B, T) shape",
        y_true=y_true.shape,
        y_pred=y_pred.shape,
    )
    # real stays None while every step is real, so the moments skip the masking passes.
    real = unmasked_steps(y_true, mask_value)
    if mask is not None:
        mask = align_mask(owner, mask, y_true)
        real = mask if real is None else tf.logical_and(real, mask)
    y_true, y_pred = tf.cast(y_true, dtype), tf.cast(y_pred, dtype)
    steps = None if real is None else _Steps(real, None)
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
    real = weight > 0 if steps is None else tf.logical_and(steps.real, weight > 0)
    return y_true, y_pred, _Steps(real, weight), None


class _Steps(NamedTuple):
    """The real steps (B, T) bool, and their weights (B, T) (what they hold at steps that are
    not real is ignored), or None when every real step has weight 1."""

    real: tf.Tensor
    weights: tf.Tensor | None


def _real_steps(y, steps):
    """(whether each sequence has ≥ 2 real steps (B,), the real steps (B, T) bool, their
    weights (B, T), whether those are 0/1); the middle two are None when every step is real with
    weight 1, so the moments skip the masking passes. A lone real step is masked too, so not even
    a NaN there reaches the gradient of a sequence that contributes nothing."""
    if steps is None:
        return tf.fill(tf.shape(y)[:1], tf.shape(y)[1] >= 2), None, None, False
    if steps.weights is not None:
        real = steps.real
        defined = tf.reduce_sum(tf.cast(real, tf.int32), axis=-1) >= 2
        real = tf.logical_and(real, defined[:, None])
        return defined, real, tf.where(real, steps.weights, tf.zeros_like(steps.weights)), False
    # 0/1 weights count the real steps themselves (exactly, below 2**24 steps per sequence).
    w = tf.cast(steps.real, y.dtype)
    count = tf.reduce_sum(w, axis=-1)
    defined = count >= 2

    def unmask_lone_steps():
        real = tf.logical_and(steps.real, defined[:, None])
        return real, tf.cast(real, y.dtype)

    real, w = tf.cond(tf.reduce_any(tf.equal(count, 1)), unmask_lone_steps, lambda: (steps.real, w))
    return defined, real, w, True


def _first_real(real, w, binary):
    """Index of each sequence's first real step (B,) int32, 0 when every sequence starts real
    (the usual right-padded batch: one strided read instead of a pass over the steps)."""

    def search():
        # argmax finds the first 1 of a 0/1 tensor: the weights when they are 0/1, saving a cast.
        return tf.argmax(w if binary else tf.cast(real, tf.int32), axis=-1, output_type=tf.int32)

    return tf.cond(
        tf.reduce_all(real[:, 0]), lambda: tf.zeros(tf.shape(real)[:1], tf.int32), search
    )


def _reference(x, first, defined):
    """x at the first real step (B,) (``first`` from :func:`_first_real`, None: step 0), 0 for a
    sequence that contributes nothing (whatever sits in its steps)."""
    if first is None:
        return x[:, 0]
    ref = tf.gather(x, first, axis=1, batch_dims=1)
    return tf.where(defined, ref, tf.zeros_like(ref))


def _shifted(x, ref, real):
    """x minus its :func:`_reference` value ``ref``, 0 at masked steps.

    Correlations ignore the shift, and subtracting an observed value makes a constant sequence
    exactly 0, so its variance is exactly 0 rather than round-off noise. The gradients below
    hold the shift constant; the coefficients do not depend on it.
    """
    if real is None:
        return x - ref[:, None]
    return tf.where(real, x - ref[:, None], tf.zeros_like(x))


def _max_abs(x):
    if compiled_by_xla():
        return tf.reduce_max(tf.abs(x), axis=-1)  # XLA fuses the abs into the reduction
    # Two reductions that read x, rather than abs() writing a copy of it first.
    return tf.maximum(tf.reduce_max(x, axis=-1), -tf.reduce_min(x, axis=-1))


def _safe_inverse(scale):
    """1 / ``scale``, with 0 (an all-zero sequence) taken as 1."""
    return 1 / tf.where(scale > 0, scale, tf.ones_like(scale))


def _dot(a, b):
    # Σ_t a·b per row. Not einsum: its batched matrix-vector product measured 2.7× slower on
    # CPU, with XLA too, than the product and a reduction.
    return tf.reduce_sum(a * b, axis=-1)


def _sum_of_squares(d):
    # One read of d without writing d² first: EuclideanNorm measured 3.5× faster on CPU than
    # the product and a sum. XLA has no EuclideanNorm kernel, but fuses the product into the sum.
    if compiled_by_xla():
        return _dot(d, d)
    return tf.square(tf.math.reduce_euclidean_norm(d, axis=-1))


class _Moments(NamedTuple):
    """Weighted population moments of two (B, T) series over the last axis, and the
    deviations the closed-form gradients are made of: ``wdt`` = w·(t − μ_t), ``wdp``
    likewise, ``n`` = Σ w (a scalar when every step has weight 1)."""

    n: tf.Tensor
    mean_t: tf.Tensor
    mean_p: tf.Tensor
    wdt: tf.Tensor
    wdp: tf.Tensor
    var_t: tf.Tensor
    var_p: tf.Tensor
    cov: tf.Tensor


def _moments(t, p, w, binary):
    """:class:`_Moments` of t and p with step weights w (None: every step 1); ``binary``: w is
    0/1 and t, p are 0 where it is 0, so weighted sums are plain sums."""
    if w is None:
        n = tf.cast(tf.shape(t)[-1], t.dtype)
        mean_t, mean_p = tf.reduce_sum(t, axis=-1) / n, tf.reduce_sum(p, axis=-1) / n
        dt, dp = t - mean_t[:, None], p - mean_p[:, None]
        return _Moments(
            n,
            mean_t,
            mean_p,
            dt,
            dp,
            _sum_of_squares(dt) / n,
            _sum_of_squares(dp) / n,
            _dot(dt, dp) / n,
        )
    n = tf.reduce_sum(w, axis=-1)
    n = tf.where(n > 0, n, tf.ones_like(n))
    if binary:
        mean_t, mean_p = tf.reduce_sum(t, axis=-1) / n, tf.reduce_sum(p, axis=-1) / n
        wdt, wdp = w * (t - mean_t[:, None]), w * (p - mean_p[:, None])
        # w·d² = (w·d)² for 0/1 weights.
        var_t, var_p = _sum_of_squares(wdt) / n, _sum_of_squares(wdp) / n
        return _Moments(n, mean_t, mean_p, wdt, wdp, var_t, var_p, _dot(wdt, wdp) / n)
    mean_t, mean_p = _dot(w, t) / n, _dot(w, p) / n
    dt, dp = t - mean_t[:, None], p - mean_p[:, None]
    wdt, wdp = w * dt, w * dp
    return _Moments(
        n, mean_t, mean_p, wdt, wdp, _dot(wdt, dt) / n, _dot(wdp, dp) / n, _dot(wdt, dp) / n
    )


def _combine(m, w, a, b, c=None):
    """a·wdt + b·wdp (+ c·w) with per-sequence (B,) coefficients: a gradient."""
    grad = a[:, None] * m.wdt + b[:, None] * m.wdp
    if c is None:
        return grad
    return grad + (c[:, None] if w is None else c[:, None] * w)


def _scaled_moments(series, w, binary, defined, scales, in_range, joint=False):
    """Moments of the shifted series, unscaled where float arithmetic keeps them exact.

    ``series()`` -> (t, p), the shifted (B, T) series; ``scales(max_t, max_p)`` -> (k_t, k_p),
    the factors the series are divided by otherwise (B,), from their max-abs values;
    ``in_range(m)`` -> (B,) bool, whether the quantities the coefficient builds from unscaled
    moments are finite and representable; ``joint``: ``scales`` depends only on the larger of
    the two max-abs values. Returns ``(moments, k_t, k_p)`` (k = 1 on the unscaled path).

    Dividing by the max-abs value keeps squares of very large or small values from
    overflowing or flushing to 0 (float32 squares are finite for |x| in ~[1e-19, 1e19]), but
    without XLA costs four reductions and two passes. So there the unscaled moments are taken
    first and kept unless a sequence that contributes is out of range (an overflow, say) or
    has a sum of squares small enough that squares below the dtype's smallest normal could
    matter; only then are the max-abs values read, and the moments recomputed scaled unless
    every such sequence is exactly constant (all 0 after the shift, whose unscaled moments
    are exact).
    """
    if compiled_by_xla():
        # XLA fuses the shift, the scaling and the centring into the reductions and the
        # gradient, so there scaling always costs only the two max-abs reductions. A cond
        # would have XLA reserve the other branch's (B, T) temporaries (4.8× MSE's peak at
        # (1024, 16384)) and measured 1.25× the time of a CCC training step without it.
        t, p = series()
        if joint:  # one reduction over both series: XLA's CPU max-reductions are slow
            both = tf.reduce_max(tf.maximum(tf.abs(t), tf.abs(p)), axis=-1)
            k_t, k_p = scales(both, both)
        else:
            k_t, k_p = scales(_max_abs(t), _max_abs(p))
        return _moments(t * k_t[:, None], p * k_p[:, None], w, binary), k_t, k_p
    plain = _moments(*series(), w, binary)
    info = np.finfo(plain.var_t.dtype.as_numpy_dtype)
    floor = tf.cast(tf.shape(plain.wdt)[-1], plain.var_t.dtype) * (info.tiny / info.eps)
    low_t = tf.logical_and(defined, plain.var_t * plain.n < floor)
    low_p = tf.logical_and(defined, plain.var_p * plain.n < floor)
    bad = tf.logical_and(defined, tf.logical_not(in_range(plain)))
    ones = tf.ones_like(plain.mean_t)

    def keep():
        return plain, ones, ones

    def checked():
        # The series again from the inputs: keeping t and p for this branch would hold their
        # buffers while the centring runs.
        t, p = series()
        max_t, max_p = _max_abs(t), _max_abs(p)
        constant = tf.logical_and(
            tf.logical_or(tf.logical_not(low_t), tf.equal(max_t, 0)),
            tf.logical_or(tf.logical_not(low_p), tf.equal(max_p, 0)),
        )

        def rescale():
            k_t, k_p = scales(max_t, max_p)
            return _moments(t * k_t[:, None], p * k_p[:, None], w, binary), k_t, k_p

        exact = tf.logical_and(tf.reduce_all(constant), tf.logical_not(tf.reduce_any(bad)))
        return tf.cond(exact, keep, rescale)

    suspect = tf.reduce_any(tf.logical_or(tf.logical_or(low_t, low_p), bad))
    return tf.cond(suspect, checked, keep)


def _only(ok, x):
    """x where ``ok``, else 0; applied to per-sequence coefficients so the gradient of a
    sequence that contributes nothing (or a degenerate one) is exactly 0, never 0·NaN."""
    return tf.where(ok, x, tf.zeros_like(x))


def pearson_r(y_true, y_pred, steps=None):
    """Per-sequence Pearson r = cov / √(var_t·var_p), clipped to [-1, 1].

    y_true, y_pred: (B, T); ``steps``: their :class:`_Steps` (None: every step real, weight 1);
    whatever sits at steps that are not real is ignored. Returns ``(r, defined)``, both (B,):
    r = 0 when either variance is 0, and ``defined`` says whether the sequence has ≥ 2 real
    steps. NaN/Inf at real steps gives NaN.

    The gradient is closed-form (one pass over the deviations): with d = x − μ per series,
    ∂r/∂p_i = w_i·(d_t,i / √(var_t·var_p) − r·d_p,i / var_p) / Σw, and ∂r/∂t_i likewise.
    """
    defined, real, w, binary = _real_steps(y_true, steps)
    first = None if real is None else _first_real(real, w, binary)

    @tf.custom_gradient
    def coefficient(y_true, y_pred):
        def series():
            return (
                _shifted(y_true, _reference(y_true, first, defined), real),
                _shifted(y_pred, _reference(y_pred, first, defined), real),
            )

        def in_range(m):
            return tf.math.is_finite(tf.sqrt(m.var_t) * tf.sqrt(m.var_p) + tf.abs(m.cov))

        m, k_t, k_p = _scaled_moments(
            series,
            w,
            binary,
            defined,
            lambda max_t, max_p: (_safe_inverse(max_t), _safe_inverse(max_p)),
            in_range,
        )
        root = tf.sqrt(m.var_t) * tf.sqrt(m.var_p)
        # `not <= 0` rather than `> 0` lets NaN through, so a broken model is not hidden.
        nonzero = tf.logical_not(root <= 0)
        root = tf.where(nonzero, root, tf.ones_like(root))
        raw = tf.where(nonzero, m.cov / root, tf.zeros_like(root))
        r = tf.clip_by_value(raw, -1, 1)
        # Where the clip binds, r is flat in both inputs (as clip_by_value's gradient says).
        ok = defined & nonzero & (tf.abs(raw) <= 1)

        def grad(upstream):
            g = _only(ok, upstream / m.n)
            over_root = _only(ok, 1 / root)
            r_ok = _only(ok, r)
            var_t = tf.where(ok, m.var_t, tf.ones_like(root))
            var_p = tf.where(ok, m.var_p, tf.ones_like(root))
            d_true = _combine(m, w, -r_ok / var_t * g * k_t, over_root * g * k_t)
            d_pred = _combine(m, w, over_root * g * k_p, -r_ok / var_p * g * k_p)
            return d_true, d_pred

        return r, grad

    return coefficient(y_true, y_pred), defined


def concordance_cc(y_true, y_pred, steps=None):
    """Per-sequence Lin's CCC = 2·cov / (var_t + var_p + (μ_t − μ_p)²).

    Same arguments and masking as :func:`pearson_r`. CCC = 1 when both sequences are constant
    and equal (0/0). Returns ``(ccc, defined)``, both (B,).

    The gradient is closed-form: with D the denominator, Δ = μ_t − μ_p and d = x − μ,
    ∂CCC/∂p_i = 2·w_i·(d_t,i − CCC·(d_p,i − Δ)) / (D·Σw), ∂CCC/∂t_i = 2·w_i·(d_p,i −
    CCC·(d_t,i + Δ)) / (D·Σw).
    """
    defined, real, w, binary = _real_steps(y_true, steps)
    first = None if real is None else _first_real(real, w, binary)

    @tf.custom_gradient
    def coefficient(y_true, y_pred):
        ref_t, ref_p = _reference(y_true, first, defined), _reference(y_pred, first, defined)
        offset = ref_t - ref_p

        def series():
            return _shifted(y_true, ref_t, real), _shifted(y_pred, ref_p, real)

        def scales(max_t, max_p):
            # CCC is invariant to scaling both series by one factor, not each by its own.
            k = _safe_inverse(tf.maximum(tf.maximum(max_t, max_p), tf.abs(offset)))
            return k, k

        def in_range(m):
            gap = m.mean_t - m.mean_p + offset
            info = np.finfo(gap.dtype.as_numpy_dtype)
            # A gap whose square flushes to 0 would make two different constants concordant.
            representable = tf.logical_or(tf.equal(gap, 0), tf.square(gap) >= info.tiny / info.eps)
            denom = m.var_t + m.var_p + tf.square(gap)
            return tf.logical_and(tf.math.is_finite(denom + tf.abs(m.cov)), representable)

        m, k, _ = _scaled_moments(series, w, binary, defined, scales, in_range, joint=True)
        gap = m.mean_t - m.mean_p + offset * k
        denom = m.var_t + m.var_p + tf.square(gap)
        nonzero = tf.logical_not(denom <= 0)
        safe = tf.where(nonzero, denom, tf.ones_like(denom))
        ccc = tf.where(nonzero, 2 * m.cov / safe, tf.ones_like(denom))
        ok = defined & nonzero

        def grad(upstream):
            g = _only(ok, 2 * upstream * k / (safe * m.n))
            c = _only(ok, ccc)
            gap_ok = _only(ok, gap)
            d_true = _combine(m, w, -c * g, g, -c * gap_ok * g)
            d_pred = _combine(m, w, g, -c * g, c * gap_ok * g)
            return d_true, d_pred

        return ccc, grad

    return coefficient(y_true, y_pred), defined


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
