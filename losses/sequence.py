"""Token-level cross-entropies averaged over real tokens only, and the matching accuracy.

A token is real when its label is not the pad class, the Keras mask on ``y_pred`` (left by an
upstream ``Embedding(mask_zero=True)`` or ``Masking`` layer) keeps it, and its sample weight is
non-zero. Padded tokens get label 0 and their per-token losses are replaced by 0 with
``tf.where``; the gradient kernels below multiply by the upstream gradient with
``multiply_no_nan``, which is exactly 0 there. So whatever sits at padding (NaN, ±Inf,
out-of-range pad ids such as -1) reaches neither the value nor the gradient, while NaN/Inf at
real tokens still propagates.

Speed. The (B, T, V) tensor dominates: every pass over it costs about as much as the rest of the
loss. The kernels here therefore take the prediction as it is (no sanitising copy, no one-hot,
no cast of float32 input), compute the gradient in the forward pass and write it back into the
buffer of the forward's softmax. Measured in ``benchmarks/results/losses-cpu.json`` against
Keras's ``SparseCategoricalCrossentropy(ignore_class=...)`` (family ``masked_ce``) and, for the
one-hot loss, Keras's ``CategoricalCrossentropy`` with the mask as ``sample_weight``
(``masked_cce``).
"""

import tensorflow as tf

from losses._checks import (
    EPSILON,
    align_mask,
    assert_class_ids,
    check_bool,
    check_int,
    compute_dtype,
    float_pair,
    keras_mask,
    shape_error,
)
from losses._reduction import RealElementMeanLoss, Reduction, broadcast_weight
from losses._xla import compiled_by_xla


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


# InplaceSub addresses rows by int32; beyond this many (N, V) entries the scatter fallback runs.
_INT32_ENTRIES = 2**31 - 1


def _subtract_at_labels(grad, labels, values):
    """``grad`` (N, V) with ``values`` (N,) subtracted at [n, labels[n]].

    Without XLA, ``tf.tensor_scatter_nd_sub`` first copies all of ``grad`` (one more (N, V)
    tensor and ~3× the time of the multiply that made it), so the rows are patched in place by
    ``InplaceSub`` on a flat view: safe because ``grad`` is a fresh tensor nothing else reads.
    XLA has no InplaceSub kernel but updates a scatter's operand in place itself.
    """
    num_rows, num_classes = tf.shape(grad)[0], tf.shape(grad)[1]
    indices = tf.stack([tf.range(num_rows), labels], -1)
    if compiled_by_xla():
        return tf.tensor_scatter_nd_sub(grad, indices, values)

    def in_place():
        flat = tf.reshape(grad, [-1, 1])
        rows = tf.range(num_rows) * num_classes + labels
        return tf.reshape(
            tf.raw_ops.InplaceSub(x=flat, i=rows, v=values[:, None]), [-1, num_classes]
        )

    size = grad.shape.num_elements()
    if size is not None:
        return (
            in_place()
            if size <= _INT32_ENTRIES
            else tf.tensor_scatter_nd_sub(grad, indices, values)
        )
    fits = tf.cast(num_rows, tf.int64) * tf.cast(num_classes, tf.int64) <= _INT32_ENTRIES
    return tf.cond(fits, in_place, lambda: tf.tensor_scatter_nd_sub(grad, indices, values))


def _fused(kernel, labels, logits):
    """TF's fused softmax cross-entropy ``kernel`` (sparse or dense ``labels``), with
    ``multiply_no_nan`` in place of its gradient's plain multiply: 0·NaN would leak padding."""

    @tf.custom_gradient
    def fused(logits):
        loss, backprop = kernel(features=logits, labels=labels)
        return loss, lambda g: tf.math.multiply_no_nan(backprop, g[:, None])

    return fused(logits)


def _softmax(logits):
    """(softmax p (N, V), max p (N,), log Σ exp(x) (N,)) from one oneDNN softmax pass:
    log Σ exp(x) = max x − log max p, and max p ≥ 1/V cannot underflow."""
    probs = tf.nn.softmax(logits)
    max_prob = tf.reduce_max(probs, -1)
    return probs, max_prob, tf.reduce_max(logits, -1) - tf.math.log(max_prob)


def sparse_logits_crossentropy(labels, logits):
    """CE = log Σ_c exp(x_c) − x_y per row, with gradient g·(softmax(x) − onehot(y)).

    labels: int32 (N,) in [0, V); logits: float (N, V). Returns (N,). The gradient is exactly 0
    in rows whose upstream gradient g is 0, whatever their logits hold (NaN, ±Inf); NaN/Inf in
    other rows propagates.

    Without XLA this is the oneDNN softmax p (one fused pass, ~10× faster on CPU than TF's
    fused sparse-xent kernel, which makes five Eigen passes), with
    log Σ exp(x) = max x − log max p: max p ≥ 1/V cannot underflow, so the value is as exact
    as the fused kernel's, (max x − x_y) − log max p. The gradient multiplies p in its own
    buffer and subtracts g at the labels in place. Under XLA, which fuses the kernel's passes
    itself, TF's SparseSoftmaxCrossEntropyWithLogits is faster, with ``multiply_no_nan`` in
    place of its gradient's plain multiply (0·NaN would leak padding).

    >>> sparse_logits_crossentropy(tf.constant([0]), tf.math.log([[0.5, 0.25, 0.25]])).numpy()
    array([0.6931472], dtype=float32)
    """
    if compiled_by_xla():
        return _fused(tf.raw_ops.SparseSoftmaxCrossEntropyWithLogits, labels, logits)

    @tf.custom_gradient
    def via_softmax(logits):
        probs, max_prob, log_total = _softmax(logits)
        loss = log_total - tf.gather(logits, labels, batch_dims=1)

        def grad(g):
            # The upstream gradient does not depend on the forward's values, so without this
            # edge the multiply could start while max_prob still reads probs, and would then
            # need a buffer of its own instead of reusing probs'.
            with tf.control_dependencies([max_prob]):
                scaled = tf.math.multiply_no_nan(probs, g[:, None])
            return _subtract_at_labels(scaled, labels, g)

        return loss, grad

    return via_softmax(logits)


def sparse_probs_crossentropy(labels, probs):
    """CE = log Σ_c p̂_c − log p̂_y per row, p̂ = clip(p, ε, 1 − ε) (Keras's clip + log + softmax).

    labels: int32 (N,) in [0, V); probs: float (N, V). Returns (N,). Gradient
    g·[p_k = p̂_k]·(1/Σp̂ − [k = y]/p̂_y): clipping stops it where it changed p, as the
    gradient of ``tf.clip_by_value`` does (except at NaN entries, whose own entry gets 0; the
    rest of their row is NaN). Exactly 0 in rows whose upstream gradient is 0.

    Three passes forward (clip, sum, the 1-byte unclipped mask), one back (a select); p̂ itself
    is not kept.

    >>> sparse_probs_crossentropy(tf.constant([0]), tf.constant([[0.5, 0.25, 0.25]])).numpy()
    array([0.6931472], dtype=float32)
    """

    @tf.custom_gradient
    def clipped_xent(probs):
        clipped = tf.clip_by_value(probs, EPSILON, 1 - EPSILON)
        total = tf.reduce_sum(clipped, -1)
        picked = tf.gather(clipped, labels, batch_dims=1)
        unclipped = tf.equal(clipped, probs)
        loss = tf.math.log(total) - tf.math.log(picked)

        def grad(g):
            scale = tf.math.multiply_no_nan(1 / total, g)
            at_label = tf.cast(tf.gather(unclipped, labels, batch_dims=1), g.dtype)
            grad = tf.where(unclipped, scale[:, None], tf.zeros([], g.dtype))
            return _subtract_at_labels(grad, labels, tf.math.multiply_no_nan(at_label / picked, g))

        return loss, grad

    return clipped_xent(probs)


def categorical_logits_crossentropy(targets, logits):
    """CE = Σ_c y_c·(log Σ_k exp(x_k) − x_c) per row, with gradient g·(softmax(x) − y).

    targets: float (N, V), each row a distribution (one-hot or soft, summing to 1), as
    ``tf.nn.softmax_cross_entropy_with_logits`` and Keras's CategoricalCrossentropy require: for
    other rows the gradient is still g·(softmax(x) − y), their convention, not Σy·softmax(x) − y.
    No gradient flows into the targets. logits: float (N, V). Returns (N,). Exactly 0 gradient
    in rows whose upstream gradient g is 0, whatever their logits or targets hold; NaN/Inf in
    other rows propagates.

    Without XLA the oneDNN softmax p (one fused pass) gives log Σ exp(x) = max x − log max p, as
    in :func:`sparse_logits_crossentropy`, and the gradient is written into p's buffer. Under
    XLA, TF's fused SoftmaxCrossEntropyWithLogits kernel, which XLA fuses further, is faster.

    >>> categorical_logits_crossentropy(
    ...     tf.constant([[1.0, 0.0, 0.0]]), tf.math.log([[0.5, 0.25, 0.25]])).numpy()
    array([0.6931472], dtype=float32)
    """
    if compiled_by_xla():
        return _fused(tf.raw_ops.SoftmaxCrossEntropyWithLogits, targets, logits)

    @tf.custom_gradient
    def via_softmax(logits):
        probs, max_prob, log_total = _softmax(logits)
        loss = tf.reduce_sum(targets, -1) * log_total - tf.reduce_sum(targets * logits, -1)

        def grad(g):
            # As in sparse_logits_crossentropy: the edge lets the subtraction reuse probs' buffer.
            with tf.control_dependencies([max_prob]):
                backprop = probs - targets
            return tf.math.multiply_no_nan(backprop, g[:, None])

        return loss, grad

    return via_softmax(logits)


def categorical_probs_crossentropy(targets, probs):
    """CE = −Σ_c y_c·log q̂_c per row, q̂ = clip(p / Σp, ε, 1 − ε) (Keras's normalise + clip).

    targets, probs: float (N, V). Returns (N,). With u = [q̂ = q] (the clip did not bind), the
    gradient is g·(Σ_c y_c·u_c − u_k·y_k / q_k) / Σp, as autodiff through the normalisation and
    ``tf.clip_by_value`` gives; exactly 0 in rows whose upstream gradient is 0.

    >>> categorical_probs_crossentropy(
    ...     tf.constant([[1.0, 0.0, 0.0]]), tf.constant([[0.5, 0.25, 0.25]])).numpy()
    array([0.6931472], dtype=float32)
    """

    @tf.custom_gradient
    def clipped_xent(probs):
        total = tf.reduce_sum(probs, -1)
        normalised = probs / total[:, None]
        clipped = tf.clip_by_value(normalised, EPSILON, 1 - EPSILON)
        loss = -tf.reduce_sum(targets * tf.math.log(clipped), -1)

        def grad(g):
            unclipped = tf.equal(clipped, normalised)
            kept = tf.where(unclipped, targets, tf.zeros([], targets.dtype))
            scale = tf.math.multiply_no_nan(1 / total, g)
            return tf.math.multiply_no_nan(
                tf.reduce_sum(kept, -1)[:, None] - kept / normalised, scale[:, None]
            )

        return loss, grad

    return clipped_xent(probs)


def _per_row(fn, y_true, y_pred):
    """``fn(y_true rows, y_pred rows (N, V)) -> (N,)`` applied to (B, ..., V), reshaped to
    (B, ...); y_true is (B, ...) class ids or (B, ..., V) targets, flattened to match."""
    # A static rank keeps the rows' ranks static, which the kernels' gathers need.
    lead = tf.rank(y_pred) - 1 if y_pred.shape.rank is None else y_pred.shape.rank - 1
    rows_true = tf.reshape(y_true, tf.concat([[-1], tf.shape(y_true)[lead:]], 0))
    rows = fn(rows_true, tf.reshape(y_pred, [-1, tf.shape(y_pred)[-1]]))
    return tf.reshape(rows, tf.shape(y_pred)[:-1])


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
        crossentropy = sparse_logits_crossentropy if self.from_logits else sparse_probs_crossentropy
        losses = _per_row(crossentropy, labels, y_pred)
        # A select, not a product, so NaN/Inf at padding stays out; it also makes the upstream
        # gradient exactly 0 there, which the kernels' multiply_no_nan relies on.
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
        y_true, y_pred, mask = float_pair(y_true, y_pred)
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
        crossentropy = (
            categorical_logits_crossentropy if self.from_logits else categorical_probs_crossentropy
        )
        losses = _per_row(crossentropy, y_true, y_pred)
        # As in the sparse loss: the select keeps padding out and zeroes its upstream gradient.
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
