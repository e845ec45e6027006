"""Cross-entropies with fixed per-class weights: multi-class by class, multi-label positives."""

import tensorflow as tf

from losses._base import Loss
from losses._checks import (
    EPSILON,
    assert_class_ids,
    check_bool,
    check_floats,
    check_length,
    check_rank,
    check_weight,
    compute_dtype,
    matrix_pair,
    shape_error,
)
from losses._crossentropy import sparse_crossentropy
from losses._reduction import Reduction


@tf.keras.utils.register_keras_serializable(package="losskit")
class ClassWeightedCrossentropy(Loss):
    """Sparse categorical cross-entropy with a fixed weight per true class.

    Shapes: ``y_true`` int class ids (B,) or (B, 1); ``y_pred`` (B, C) probabilities, or logits
    with ``from_logits=True``; ``class_weights`` C non-negative numbers.

    Value with the default reduction: (1/B)·Σ_i s_i·w[y_i]·CE_i, with s the sample weight and
    CE_i = −log p_i[y_i] (probabilities clipped to [1e-7, 1 − 1e-7] and renormalised, as Keras
    does). Labels must lie in [0, C): checked by an Assert op, which XLA (``jit_compile=True``)
    drops.
    """

    def __init__(
        self,
        class_weights,
        from_logits=False,
        reduction=Reduction.AUTO,
        name="class_weighted_crossentropy",
    ):
        super().__init__(reduction=reduction, name=name)
        owner = type(self).__name__
        self.class_weights = check_floats(owner, "class_weights", class_weights, non_negative=True)
        self.from_logits = check_bool(owner, "from_logits", from_logits)

    def call(self, y_true, y_pred):
        owner = type(self).__name__
        y_pred = tf.convert_to_tensor(y_pred)
        y_pred = tf.cast(y_pred, compute_dtype(y_pred))
        y_true = tf.convert_to_tensor(y_true)
        if y_true.shape.rank == 2 and y_true.shape[-1] == 1:
            y_true = tf.squeeze(y_true, -1)
        check_rank(owner, "y_pred", y_pred, (2,))
        if y_true.shape.rank is not None and (
            y_true.shape.rank != 1 or not y_true.shape.is_compatible_with(y_pred.shape[:1])
        ):
            raise shape_error(
                owner,
                "`y_true` must be class ids (B,) or (B, 1) for `y_pred` (B, C)",
                y_true=y_true.shape,
                y_pred=y_pred.shape,
            )
        y_pred = check_length(
            owner,
            "class_weights",
            len(self.class_weights),
            y_pred,
            "the number of classes C in `y_pred`",
            "y_pred",
        )
        labels = tf.cast(y_true, tf.int32)
        labels = assert_class_ids(
            owner, labels, len(self.class_weights), tf.ones_like(labels, dtype=tf.bool)
        )
        weights = tf.gather(tf.constant(self.class_weights, y_pred.dtype), labels)
        return weights * sparse_crossentropy(labels, y_pred, self.from_logits)

    def get_config(self):
        return {
            **super().get_config(),
            "class_weights": self.class_weights,
            "from_logits": self.from_logits,
        }


@tf.keras.utils.register_keras_serializable(package="losskit")
class WeightedBinaryCrossentropy(Loss):
    """Multi-label binary cross-entropy with the positive term of each label up-weighted.

    Shapes: ``y_true`` (B, L) in [0, 1]; ``y_pred`` (B, L) probabilities, or logits with
    ``from_logits=True``; ``pos_weight`` a non-negative scalar or L non-negative numbers.

    Value with the default reduction: the mean over batch and labels of
    −(pw_l·y·log p + (1 − y)·log(1 − p)), p clipped to [1e-7, 1 − 1e-7]. From logits it is
    ``tf.nn.weighted_cross_entropy_with_logits``, the overflow-free form of the same formula.
    """

    def __init__(
        self,
        pos_weight,
        from_logits=False,
        reduction=Reduction.AUTO,
        name="weighted_binary_crossentropy",
    ):
        super().__init__(reduction=reduction, name=name)
        owner = type(self).__name__
        self.pos_weight = check_weight(owner, "pos_weight", pos_weight)
        self.from_logits = check_bool(owner, "from_logits", from_logits)

    def call(self, y_true, y_pred):
        owner = type(self).__name__
        y_true, y_pred = matrix_pair(
            owner, y_true, y_pred, "`y_true` and `y_pred` must both be (B, L)"
        )
        if isinstance(self.pos_weight, list):
            # Both inputs: `pos_weight * y_true` must not run ahead of a run-time check.
            y_pred, y_true = (
                check_length(
                    owner,
                    "pos_weight",
                    len(self.pos_weight),
                    tensor,
                    f"the number of labels L in `{name}`",
                    name,
                )
                for tensor, name in ((y_pred, "y_pred"), (y_true, "y_true"))
            )
        pos_weight = tf.constant(self.pos_weight, y_pred.dtype)
        if self.from_logits:
            losses = tf.nn.weighted_cross_entropy_with_logits(y_true, y_pred, pos_weight)
        else:
            p = tf.clip_by_value(y_pred, EPSILON, 1 - EPSILON)
            losses = -(pos_weight * y_true * tf.math.log(p) + (1 - y_true) * tf.math.log1p(-p))
        return tf.reduce_mean(losses, axis=-1)

    def get_config(self):
        return {
            **super().get_config(),
            "pos_weight": self.pos_weight,
            "from_logits": self.from_logits,
        }
