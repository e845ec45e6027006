"""The warm-up weight of a head's loss, as a layer of the training model.

Keras's `compile(loss=...)` weighs heads with constants; balancing them with trainable
weights (UncertaintyWeighting, AlphaBalancing) needs the head losses as tensors inside the
model (`losses.LossLayer`), and a scheduled weight as a variable the schedule can set.
"""

import tensorflow as tf


class ScaledLoss(tf.keras.layers.Layer):
    """Multiplies a loss by a (scheduled, non-trainable) weight variable."""

    def __init__(self, initial=1.0, **kwargs):
        super().__init__(**kwargs)
        self.weight = tf.Variable(initial, trainable=False, dtype=tf.float32, name="weight")

    def call(self, loss):
        return self.weight * loss
