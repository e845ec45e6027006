"""Cross-entropy kernels with Keras's conventions, shared by the class-weighted losses.

From probabilities, Keras clips to [ε, 1 − ε] (ε = 1e-7) and renormalises over classes; these
kernels do the same so values match ``tf.keras.losses`` up to float round-off.
"""

import tensorflow as tf

from losses._checks import EPSILON


def sparse_crossentropy(labels, y_pred, from_logits):
    """−log softmax(y_pred)[label] (logits) or −log(p̂[label] / Σ p̂), p̂ = clip(p, ε, 1 − ε).

    labels: int (...,) in [0, C); y_pred: float (..., C). Returns (...,).
    """
    if not from_logits:
        y_pred = tf.math.log(tf.clip_by_value(y_pred, EPSILON, 1 - EPSILON))
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=y_pred)
