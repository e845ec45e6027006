"""KL divergence between label distributions, skipping samples whose label is an ignored class."""

import tensorflow as tf

from losses._checks import (
    EPSILON,
    align_mask,
    check_int,
    keras_mask,
    matrix_pair,
    shape_error,
)
from losses._reduction import RealElementMeanLoss, Reduction


def kl_divergence(y_true, y_pred):
    """KL(y_true ‖ y_pred) = Σ_c y_c·(log y_c − log clip(p_c, 1e-7, 1)) over the last axis.

    0·log 0 = 0 for y_true (no clipping there, unlike Keras, so a one-hot target gives exactly
    −log p of its class); y_pred is clipped to [1e-7, 1] as Keras does. Returns (...,).
    """
    positive = y_true > 0
    log_true = tf.math.log(tf.where(positive, y_true, tf.ones_like(y_true)))
    log_pred = tf.math.log(tf.clip_by_value(y_pred, EPSILON, 1))
    terms = tf.where(positive, y_true * (log_true - log_pred), tf.zeros_like(y_true))
    return tf.reduce_sum(terms, axis=-1)


@tf.keras.utils.register_keras_serializable(package="losskit")
class IgnoredLabelKLDivergence(RealElementMeanLoss):
    """KL(y_true ‖ y_pred) averaged over the samples whose label is not ``ignore_class``.

    Shapes: ``y_true`` target distributions (B, C); ``y_pred`` predicted distributions (B, C).
    A sample is kept when argmax(y_true) ≠ ignore_class (ties go to the lowest class), the Keras
    mask keeps it and its sample weight is non-zero.

    Value with the default reduction: Σ w·m·KL / Σ w·m over samples (0 when none is kept), with
    KL as in :func:`kl_divergence` (0·log 0 = 0 for y_true, y_pred clipped to [1e-7, 1]).
    Ignored samples are replaced by safe values before the math, so they give exactly zero
    gradient. ``ignore_class`` must lie in [0, C); that is checked when C is known statically.
    """

    def __init__(self, ignore_class, reduction=Reduction.AUTO, name="ignored_label_kl_divergence"):
        super().__init__(reduction=reduction, name=name)
        self.ignore_class = check_int(type(self).__name__, "ignore_class", ignore_class, minimum=0)

    def _prepare(self, y_true, y_pred):
        owner = type(self).__name__
        mask = keras_mask(y_pred)
        y_true, y_pred = matrix_pair(
            owner, y_true, y_pred, "`y_true` and `y_pred` must both be (B, C) distributions"
        )
        num_classes = y_pred.shape[-1]
        if num_classes is not None and self.ignore_class >= num_classes:
            raise shape_error(
                owner,
                f"`ignore_class`={self.ignore_class} must lie in [0, C) with C = {num_classes}",
                y_true=y_true.shape,
                y_pred=y_pred.shape,
            )
        kept = tf.not_equal(tf.argmax(y_true, axis=-1, output_type=tf.int32), self.ignore_class)
        if mask is not None:
            kept = tf.logical_and(kept, align_mask(owner, mask, kept))
        return y_true, y_pred, tf.cast(kept, y_pred.dtype)

    def _elementwise(self, y_true, y_pred, real):
        y_true = tf.where(real[:, None], y_true, tf.zeros_like(y_true))
        y_pred = tf.where(real[:, None], y_pred, tf.ones_like(y_pred))
        losses = kl_divergence(y_true, y_pred)
        return tf.where(real, losses, tf.zeros_like(losses))

    def get_config(self):
        return {**super().get_config(), "ignore_class": self.ignore_class}
