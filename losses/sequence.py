"""Token-level cross-entropies averaged over real tokens only, and the matching accuracy.

A token is real when its label is not the pad class, the Keras mask on ``y_pred`` (left by an
upstream ``Embedding(mask_zero=True)`` or ``Masking`` layer) keeps it, and its sample weight is
non-zero. Padded tokens are replaced by safe values (label 0, uniform prediction) before the
math, so whatever sits there (NaN, out-of-range pad ids such as -1) reaches neither the value nor
the gradient, while NaN/Inf at real tokens still propagates.
"""

import tensorflow as tf

from losses._checks import (
    align_mask,
    assert_class_ids,
    check_bool,
    check_int,
    compute_dtype,
    keras_mask,
    shape_error,
)
from losses._crossentropy import categorical_crossentropy, sparse_crossentropy
from losses._reduction import RealElementMeanLoss, Reduction, broadcast_weight


def _sparse_tokens(owner, y_true, y_pred, pad_class):
    """Checked ``(y_true (B, T), y_pred (B, T, V), m (B, T))``, m = [y_true ≠ pad]·keras_mask."""
    mask = keras_mask(y_pred)
    y_pred = tf.convert_to_tensor(y_pred)
    y_pred = tf.cast(y_pred, compute_dtype(y_pred))
    y_true = tf.convert_to_tensor(y_true)
    true_rank, pred_rank = y_true.shape.rank, y_pred.shape.rank
    if true_rank is not None and pred_rank is not None:
        if true_rank == pred_rank and y_true.shape[-1] == 1:
            y_true = tf.squeeze(y_true, -1)
        if pred_rank < 2 or y_true.shape.rank != pred_rank - 1:
            raise shape_error(
                owner,
                "`y_true` must hold class ids shaped like `y_pred` without its class axis,"
                " e.g. y_true (B, T) for y_pred (B, T, V)",
                y_true=y_true.shape,
                y_pred=y_pred.shape,
            )
        if not y_true.shape.is_compatible_with(y_pred.shape[:-1]):
            raise shape_error(
                owner,
                "`y_true` and `y_pred` disagree on the (B, T) dims",
                y_true=y_true.shape,
                y_pred=y_pred.shape,
            )
    real = tf.ones_like(y_true, dtype=tf.bool)
    if pad_class is not None:
        real = tf.not_equal(y_true, tf.cast(pad_class, y_true.dtype))
    if mask is not None:
        real = tf.logical_and(real, align_mask(owner, mask, y_true))
    return y_true, y_pred, tf.cast(real, y_pred.dtype)


def _real_class_ids(owner, y_true, real, num_classes):
    """int32 class ids, 0 at non-real tokens, checked to lie in [0, num_classes) where real."""
    labels = tf.cast(tf.where(real, y_true, tf.zeros_like(y_true)), tf.int32)
    return assert_class_ids(owner, labels, num_classes, real)


@tf.keras.utils.register_keras_serializable(package="losskit")
class MaskedSparseCategoricalCrossentropy(RealElementMeanLoss):
    """Sparse categorical cross-entropy averaged over real tokens.

    Shapes: ``y_true`` int class ids (B, T) (or (B, T, 1)); ``y_pred`` (B, T, V) probabilities,
    or logits with ``from_logits=True``. Any (B, ..., V) works the same way.

    Value with the default reduction:  Σ w·m·CE / Σ w·m  (0 when there is no real token), where
    m = [y_true ≠ pad_class]·keras_mask, w = sample_weight (scalar, (B,), (B, 1) or (B, T)) and
    CE = −log p[y_true] (probabilities clipped to [1e-7, 1 − 1e-7] and renormalised, as Keras
    does). SUM gives Σ w·m·CE and NONE the (B, T) tensor w·m·CE.

    ``pad_class`` is only a label value, so it may lie outside [0, V) (e.g. -1); None means only
    the Keras mask and sample weights mark padding. Labels at real tokens must lie in [0, V): that
    is checked by an Assert op, which XLA (``jit_compile=True``) drops.
    """

    def __init__(
        self,
        pad_class=None,
        from_logits=False,
        reduction=Reduction.AUTO,
        name="masked_sparse_categorical_crossentropy",
    ):
        super().__init__(reduction=reduction, name=name)
        owner = type(self).__name__
        self.pad_class = check_int(owner, "pad_class", pad_class, allow_none=True)
        self.from_logits = check_bool(owner, "from_logits", from_logits)

    def _prepare(self, y_true, y_pred):
        return _sparse_tokens(type(self).__name__, y_true, y_pred, self.pad_class)

    def _elementwise(self, y_true, y_pred, real):
        labels = _real_class_ids(type(self).__name__, y_true, real, tf.shape(y_pred)[-1])
        y_pred = tf.where(real[..., None], y_pred, tf.ones_like(y_pred))
        losses = sparse_crossentropy(labels, y_pred, self.from_logits)
        return tf.where(real, losses, tf.zeros_like(losses))

    def get_config(self):
        return {
            **super().get_config(),
            "pad_class": self.pad_class,
            "from_logits": self.from_logits,
        }


@tf.keras.utils.register_keras_serializable(package="losskit")
class MaskedCategoricalCrossentropy(RealElementMeanLoss):
    """Categorical cross-entropy on one-hot targets averaged over real tokens.

    Shapes: ``y_true`` one-hot (or soft) targets (B, T, C); ``y_pred`` (B, T, C) probabilities,
    or logits with ``from_logits=True``.

    Value with the default reduction:  Σ w·m·CE / Σ w·m  (0 when there is no real token), where
    m = (1 − y_true[..., pad_class])·keras_mask, w = sample_weight and CE = −Σ_c y_c·log p_c
    (probabilities renormalised and clipped to [1e-7, 1 − 1e-7], as Keras does).

    ``pad_class`` must lie in [0, C); that is checked when C is known statically.
    """

    def __init__(
        self,
        pad_class,
        from_logits=False,
        reduction=Reduction.AUTO,
        name="masked_categorical_crossentropy",
    ):
        super().__init__(reduction=reduction, name=name)
        owner = type(self).__name__
        self.pad_class = check_int(owner, "pad_class", pad_class, minimum=0)
        self.from_logits = check_bool(owner, "from_logits", from_logits)

    def _prepare(self, y_true, y_pred):
        owner = type(self).__name__
        mask = keras_mask(y_pred)
        y_pred = tf.convert_to_tensor(y_pred)
        y_pred = tf.cast(y_pred, compute_dtype(y_pred))
        y_true = tf.cast(tf.convert_to_tensor(y_true), y_pred.dtype)
        if not y_true.shape.is_compatible_with(y_pred.shape):
            raise shape_error(
                owner,
                "`y_true` must be one-hot targets shaped like `y_pred`, e.g. (B, T, C)",
                y_true=y_true.shape,
                y_pred=y_pred.shape,
            )
        num_classes = y_pred.shape[-1] if y_pred.shape.rank else None
        if num_classes is not None and self.pad_class >= num_classes:
            raise shape_error(
                owner,
                f"`pad_class`={self.pad_class} must lie in [0, C) with C = {num_classes}",
                y_true=y_true.shape,
                y_pred=y_pred.shape,
            )
        m = 1 - y_true[..., self.pad_class]
        if mask is not None:
            m *= tf.cast(align_mask(owner, mask, m), m.dtype)
        return y_true, y_pred, m

    def _elementwise(self, y_true, y_pred, real):
        y_true = tf.where(real[..., None], y_true, tf.zeros_like(y_true))
        y_pred = tf.where(real[..., None], y_pred, tf.ones_like(y_pred))
        losses = categorical_crossentropy(y_true, y_pred, self.from_logits)
        return tf.where(real, losses, tf.zeros_like(losses))

    def get_config(self):
        return {
            **super().get_config(),
            "pad_class": self.pad_class,
            "from_logits": self.from_logits,
        }


@tf.keras.utils.register_keras_serializable(package="losskit")
class MaskedSparseCategoricalAccuracy(tf.keras.metrics.Metric):
    """Accuracy of argmax(y_pred) over real tokens: Σ w·m·[argmax = y_true] / Σ w·m.

    Same shapes and the same notion of a real token as
    :class:`MaskedSparseCategoricalCrossentropy`; 0 before any real token was seen.
    """

    def __init__(self, pad_class=None, name="masked_sparse_categorical_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.pad_class = check_int(type(self).__name__, "pad_class", pad_class, allow_none=True)
        self.total = self.add_weight(name="total", initializer="zeros")
        self.count = self.add_weight(name="count", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        owner = type(self).__name__
        y_true, y_pred, m = _sparse_tokens(owner, y_true, y_pred, self.pad_class)
        weights = m * broadcast_weight(owner, sample_weight, m)
        real = tf.not_equal(weights, 0)
        labels = _real_class_ids(owner, y_true, real, tf.shape(y_pred)[-1])
        hits = tf.equal(tf.argmax(y_pred, axis=-1, output_type=tf.int32), labels)
        self.total.assign_add(
            tf.cast(tf.reduce_sum(tf.where(hits, weights, tf.zeros_like(weights))), self.dtype)
        )
        self.count.assign_add(tf.cast(tf.reduce_sum(weights), self.dtype))

    def result(self):
        return tf.math.divide_no_nan(self.total, self.count)

    def get_config(self):
        return {**super().get_config(), "pad_class": self.pad_class}
