"""Per-head losses as layers, so a functional model can `add_loss` their balanced sum.

Keras's `compile(loss=...)` weighs heads with constants; balancing them with trainable
weights (UncertaintyWeighting, AlphaBalancing) needs the head losses as tensors inside the
model. The labels enter as extra model inputs of the training model only.
"""

import tensorflow as tf


class HeadLoss(tf.keras.layers.Layer):
    """Applies a Keras loss to (y_true, y_pred[, sample_weight]) and returns the scalar."""

    def __init__(self, loss, **kwargs):
        super().__init__(**kwargs)
        self.loss = loss

    def call(self, y_true, y_pred, sample_weight=None):
        return self.loss(y_true, y_pred, sample_weight=sample_weight)


class ScaledLoss(tf.keras.layers.Layer):
    """Multiplies a loss by a (scheduled, non-trainable) weight variable."""

    def __init__(self, initial=1.0, **kwargs):
        super().__init__(**kwargs)
        self.weight = tf.Variable(initial, trainable=False, dtype=tf.float32, name="weight")

    def call(self, loss):
        return self.weight * loss
