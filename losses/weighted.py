"""Cross-entropies with fixed weights: per true class, per (true, predicted) pair of classes
(a cost matrix), and per positive label of a multi-label target."""

import tensorflow as tf

from losses._base import Loss
from losses._checks import (
    EPSILON,
    assert_class_ids,
    check_bool,
    check_cost_matrix,
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


def _class_ids_for(owner, y_true, y_pred, num_classes):
    """Checked int32 class ids (B,) for `y_pred` (B, C): y_true (B,) or (B, 1), ids in [0, C)."""
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
    labels = tf.cast(y_true, tf.int32)
    return assert_class_ids(owner, labels, num_classes, tf.ones_like(labels, dtype=tf.bool))


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
        labels = _class_ids_for(owner, y_true, y_pred, len(self.class_weights))
        y_pred = check_length(
            owner,
            "class_weights",
            len(self.class_weights),
            y_pred,
            "the number of classes C in `y_pred`",
            "y_pred",
        )
        weights = tf.gather(tf.constant(self.class_weights, y_pred.dtype), labels)
        return weights * sparse_crossentropy(labels, y_pred, self.from_logits)

    def get_config(self):
        return {
            **super().get_config(),
            "class_weights": self.class_weights,
            "from_logits": self.from_logits,
        }


def cost_sensitive_crossentropy(labels, y_pred, cost_matrix, from_logits):
    """−log p[y] − Σ_{j≠y} C[y, j]·log(1 − p_j) per row.

    labels: int (B,) in [0, C); y_pred: float (B, C); cost_matrix: (C, C) tensor, zero
    diagonal. p is softmax(y_pred) (logits) or y_pred clipped to [ε, 1 − ε] and renormalised,
    as Keras does; 1 − p_j is clipped to [ε, 1 − ε], so one cost term is at most 16.1·C[y, j].
    Returns (B,).
    """
    crossentropy = sparse_crossentropy(labels, y_pred, from_logits)
    if from_logits:
        p = tf.nn.softmax(y_pred, axis=-1)
    else:
        p = tf.clip_by_value(y_pred, EPSILON, 1 - EPSILON)
        p = p / tf.reduce_sum(p, axis=-1, keepdims=True)
    # The diagonal is 0, so the true class's own term drops out of the sum.
    costs = tf.gather(cost_matrix, labels)
    not_chosen = tf.math.log(tf.clip_by_value(1 - p, EPSILON, 1 - EPSILON))
    return crossentropy - tf.reduce_sum(costs * not_chosen, axis=-1)


@tf.keras.utils.register_keras_serializable(package="losskit")
class CostSensitiveCrossentropy(Loss):
    """Cross-entropy plus a prior cost for each kind of error (true class y, predicted j).

    Shapes: ``y_true`` int class ids (B,) or (B, 1); ``y_pred`` (B, C) probabilities, or logits
    with ``from_logits=True``; ``cost_matrix`` (C, C) non-negative with a zero diagonal,
    ``cost_matrix[y][j]`` the cost of putting probability on class j when the truth is y.

    Value with the default reduction, s the sample weight:

        (1/B)·Σ_i s_i·(−log p_i[y_i] − Σ_{j≠y_i} C[y_i, j]·log(1 − p_ij))

    Each cost term pushes p_ij down harder the costlier that error is; C = 0 is exactly
    sparse categorical cross-entropy. Probabilities and 1 − p are clipped to [1e-7, 1 − 1e-7]
    as Keras clips. Labels must lie in [0, C) (an Assert op, which XLA drops).

    >>> loss = CostSensitiveCrossentropy([[0, 1], [4, 0]])
    >>> round(float(loss([1], [[0.5, 0.5]])), 4)  # −log 0.5 − 4·log 0.5
    3.4657

    Reference: the "prior weight matrix" of error costs (Elkan, "The Foundations of
    Cost-Sensitive Learning", IJCAI 2001) folded into the cross-entropy as a penalty on the
    probability of each costly wrong class.
    """

    def __init__(
        self,
        cost_matrix,
        from_logits=False,
        reduction=Reduction.AUTO,
        name="cost_sensitive_crossentropy",
    ):
        super().__init__(reduction=reduction, name=name)
        owner = type(self).__name__
        self.cost_matrix = check_cost_matrix(owner, cost_matrix)
        self.from_logits = check_bool(owner, "from_logits", from_logits)

    def call(self, y_true, y_pred):
        owner = type(self).__name__
        y_pred = tf.convert_to_tensor(y_pred)
        y_pred = tf.cast(y_pred, compute_dtype(y_pred))
        size = len(self.cost_matrix)
        labels = _class_ids_for(owner, y_true, y_pred, size)
        y_pred = check_length(
            owner, "cost_matrix", size, y_pred, "the number of classes C in `y_pred`", "y_pred"
        )
        costs = tf.constant(self.cost_matrix, y_pred.dtype)
        return cost_sensitive_crossentropy(labels, y_pred, costs, self.from_logits)

    def get_config(self):
        return {
            **super().get_config(),
            "cost_matrix": self.cost_matrix,
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
