"""Keras reductions for losses averaged over real elements, and the base class that uses them.

Keras's own ``Loss.__call__`` divides by the number of elements, which would turn a mean over
real tokens into a mean over every (B, T) slot, so :class:`RealElementMeanLoss` overrides it.
Only the four ``tf.keras.losses.Reduction`` values are used, with Keras's meaning, so
``Model.compile`` keeps its 1/num_replicas scaling under ``tf.distribute``. Keras then averages
the replicas' values, and a mean of per-replica token means is not the token mean of the
global batch when padding falls unevenly; so inside a replica context the count of real
elements is summed over the replicas first (see :func:`mean_over_real`).
"""

import tensorflow as tf

from losses._base import Loss
from losses._checks import shape_error

Reduction = tf.keras.losses.Reduction


def broadcast_weight(owner, sample_weight, like):
    """``sample_weight`` in ``like``'s dtype, broadcast to ``like``'s shape.

    Accepts None, a scalar, a per-sample (B,) or (B, 1) weight, or one weight per element
    (``like``'s shape, optionally with a trailing 1).
    """
    if sample_weight is None:
        return tf.ones_like(like)
    weight = tf.cast(tf.convert_to_tensor(sample_weight), like.dtype)
    if weight.shape.rank is None:
        raise ValueError(f"{owner}: `sample_weight` must have a known rank.")
    message = "`sample_weight` cannot be broadcast to the loss elements"
    if weight.shape.rank == like.shape.rank + 1 and weight.shape[-1] == 1:
        weight = tf.squeeze(weight, -1)
    if weight.shape.rank > like.shape.rank:
        raise shape_error(owner, message, sample_weight=weight.shape, elements=like.shape)
    if weight.shape.rank > 0:
        for _ in range(like.shape.rank - weight.shape.rank):
            weight = weight[..., None]
        for dim, target in zip(weight.shape, like.shape, strict=True):
            if dim not in (None, 1) and target is not None and dim != target:
                raise shape_error(owner, message, sample_weight=weight.shape, elements=like.shape)
    return tf.broadcast_to(weight, tf.shape(like))


def mean_over_real(losses, weights, reduction):
    """Reduces per-element ``losses`` weighted by ``weights`` (0 at masked elements).

    SUM_OVER_BATCH_SIZE: Σ w·L / Σ w, and 0 with a zero gradient when Σ w = 0.
    SUM: Σ w·L. NONE: w·L, shaped like ``losses``.

    In a replica context of R > 1 replicas, SUM_OVER_BATCH_SIZE is R·Σ w·L / Σ_replicas Σ w:
    the mean Keras takes of the replicas' values is then Σ w·L / Σ w over the global batch.
    """
    weighted = losses * weights
    if reduction == Reduction.NONE:
        return weighted
    total = tf.reduce_sum(weighted)
    if reduction == Reduction.SUM:
        return total
    count = tf.reduce_sum(weights)
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
        replicas = context.num_replicas_in_sync
        count = context.all_reduce(tf.distribute.ReduceOp.SUM, count) / replicas
    nonzero = tf.not_equal(count, 0)
    return tf.where(nonzero, total / tf.where(nonzero, count, tf.ones_like(count)), 0)


def mean_over_batch(losses, weights, reduction):
    """Keras's reduction of per-sample ``losses``: Σ w·L / B, Σ w·L, or w·L (NONE)."""
    weighted = losses * weights
    if reduction == Reduction.NONE:
        return weighted
    total = tf.reduce_sum(weighted)
    if reduction == Reduction.SUM:
        return total
    return total / tf.cast(tf.size(weighted), total.dtype)


class RealElementMeanLoss(Loss):
    """Base for losses that average per-element values over real elements only.

    Subclasses implement ``_prepare(y_true, y_pred) -> (y_true, y_pred, m)``, where ``m`` (float,
    loss-element shape) is the element weight before sample weights (0 at padding, the Keras mask
    folded in), and ``_elementwise(y_true, y_pred, real) -> L``, which must keep whatever sits
    where ``real`` is False out of both the value and the gradient.
    """

    def call(self, y_true, y_pred):
        """Per-element m·L; Keras's generic reduction of this is NOT the contract's mean."""
        y_true, y_pred, m = self._prepare(y_true, y_pred)
        return self._elementwise(y_true, y_pred, tf.not_equal(m, 0)) * m

    def _compute(self, y_true, y_pred, sample_weight=None):
        """Σ w·m·L / Σ w·m (AUTO, SUM_OVER_BATCH_SIZE), Σ w·m·L (SUM) or w·m·L (NONE).

        Elements with zero weight (padding, Keras mask, zero ``sample_weight``) count as padding:
        nothing at them reaches the value or the gradient.
        """
        with tf.name_scope(self._name_scope):
            y_true, y_pred, m = self._prepare(y_true, y_pred)
            weights = m * broadcast_weight(type(self).__name__, sample_weight, m)
            losses = self._elementwise(y_true, y_pred, tf.not_equal(weights, 0))
            return mean_over_real(losses, weights, self._get_reduction())
