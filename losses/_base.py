"""The base of every losskit loss: usable on symbolic Keras tensors as well as real ones.

Called on the KerasTensors of a functional model under construction — the way a loss is
handed to ``model.add_loss(loss(y_true_input, head_output))`` — Keras would wrap each TF op
of the loss in a layer of its own, and it cannot wrap the Assert ops that check label values
(``TypeError: Could not build a TypeSpec``). The base makes the whole loss one layer
instead, which Keras runs on real tensors, checks included.
"""

import tensorflow as tf


def _symbolic(*tensors) -> bool:
    return any(isinstance(t, tf.keras.__internal__.KerasTensor) for t in tensors)


@tf.keras.utils.register_keras_serializable(package="losskit")
class LossLayer(tf.keras.layers.Layer):
    """Applies a Keras loss — losskit's or Keras's own — to (y_true, y_pred[, sample_weight])
    as one layer, so a functional model can hold per-head losses as tensors (to balance them
    with UncertaintyWeighting, GradNorm, … and `add_loss` the result). Serializable when its
    loss is, so such a training model saves and loads without custom_objects."""

    def __init__(self, loss, **kwargs):
        super().__init__(**kwargs)
        self.loss = tf.keras.losses.get(loss) if isinstance(loss, dict) else loss
        # Keras refuses a mean reduction under tf.distribute outside `compile`, lest the
        # replicas' means be summed. `add_loss` values are scaled by 1/replicas as compiled
        # losses are (LossesContainer), so the per-replica mean is right here; lift the guard
        # as `compile` does.
        self.loss._allow_sum_over_batch_size = True

    def call(self, y_true, y_pred, sample_weight=None):
        return self.loss(y_true, y_pred, sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), "loss": tf.keras.losses.serialize(self.loss)}


class Loss(tf.keras.losses.Loss):
    """``tf.keras.losses.Loss`` whose ``__call__`` also takes symbolic Keras tensors.

    Subclasses that replace Keras's reduction override :meth:`_compute`, not ``__call__``.
    """

    def __call__(self, y_true, y_pred, sample_weight=None):
        if _symbolic(y_true, y_pred, sample_weight):
            return LossLayer(self)(y_true, y_pred, sample_weight=sample_weight)
        return self._compute(y_true, y_pred, sample_weight)

    def _compute(self, y_true, y_pred, sample_weight=None):
        return super().__call__(y_true, y_pred, sample_weight=sample_weight)
