"""BP-MLL: the pairwise multi-label ranking loss of Zhang & Zhou (2006), in O(B·L)."""

import tensorflow as tf

from losses._base import Loss
from losses._checks import matrix_pair
from losses._reduction import Reduction


def _masked_logsumexp(x, mask):
    """log Σ_{mask} exp(x) over the last axis, and whether any element is selected.

    The max is held constant for gradients (the value does not depend on it), and unselected
    elements are replaced before exp so nothing there reaches the value or the gradient.
    """
    nonempty = tf.reduce_any(mask, axis=-1)
    lowest = tf.fill(tf.shape(x), tf.constant(-float("inf"), x.dtype))
    top = tf.stop_gradient(tf.reduce_max(tf.where(mask, x, lowest), axis=-1))
    top = tf.where(nonempty, top, tf.zeros_like(top))
    terms = tf.where(mask, tf.exp(tf.where(mask, x - top[:, None], tf.zeros_like(x))), 0)
    total = tf.reduce_sum(terms, axis=-1)
    return top + tf.math.log(tf.where(nonempty, total, tf.ones_like(total))), nonempty


def bpmll(y_true, y_pred):
    """Per-sample BP-MLL error E_i (B,) from labels y_true {0, 1} (B, L) and scores y_pred (B, L).

    E_i = Σ_{k∈Y_i, l∉Y_i} exp(c_l − c_k) / (|Y_i|·|Ȳ_i|), and 0 when Y_i or Ȳ_i is empty.
    The double sum factorises as [Σ_{l∉Y} exp(c_l)]·[Σ_{k∈Y} exp(−c_k)], evaluated as
    exp(LSE_{l∉Y}(c_l) + LSE_{k∈Y}(−c_k) − log|Y| − log|Ȳ|), so time and memory are O(B·L) and
    large scores do not overflow unless E_i itself does.
    """
    positive = y_true > 0.5
    negative = tf.logical_not(positive)
    lse_negative, any_negative = _masked_logsumexp(y_pred, negative)
    lse_positive, any_positive = _masked_logsumexp(-y_pred, positive)
    both = tf.logical_and(any_positive, any_negative)
    n_positive = tf.reduce_sum(tf.cast(positive, y_pred.dtype), axis=-1)
    n_negative = tf.reduce_sum(tf.cast(negative, y_pred.dtype), axis=-1)
    log_error = (
        lse_negative
        + lse_positive
        - tf.math.log(tf.maximum(n_positive, 1))
        - tf.math.log(tf.maximum(n_negative, 1))
    )
    return tf.where(both, tf.exp(tf.where(both, log_error, tf.zeros_like(log_error))), 0)


@tf.keras.utils.register_keras_serializable(package="losskit")
class BPMLLLoss(Loss):
    """Backpropagation for multi-label learning (BP-MLL) loss, Zhang & Zhou 2006.

    Shapes: ``y_true`` {0, 1} labels (B, L); ``y_pred`` real-valued scores c (B, L), e.g. the
    output of a sigmoid or tanh layer.

    Value with the default reduction: (1/B)·Σ_i w_i·E_i with
    E_i = Σ_{k∈Y_i, l∉Y_i} exp(c_l − c_k) / (|Y_i|·|Ȳ_i|), Y_i = {l : y_true[i, l] = 1};
    E_i = 0 (with a zero gradient) when Y_i or its complement is empty. O(B·L) time and memory
    (see :func:`bpmll`). ``y_true`` must hold only 0 and 1: checked by an Assert op, which XLA
    (``jit_compile=True``) drops.
    """

    def __init__(self, reduction=Reduction.AUTO, name="bpmll_loss"):
        super().__init__(reduction=reduction, name=name)

    def call(self, y_true, y_pred):
        owner = type(self).__name__
        y_true, y_pred = matrix_pair(
            owner, y_true, y_pred, "`y_true` and `y_pred` must both be (B, L)"
        )
        binary = tf.reduce_all(tf.logical_or(tf.equal(y_true, 0), tf.equal(y_true, 1)))
        assertion = tf.debugging.Assert(
            binary, [f"{owner}: `y_true` must hold only 0 and 1; shape =", tf.shape(y_true)]
        )
        with tf.control_dependencies([assertion]):
            return bpmll(tf.identity(y_true), y_pred)
