"""Training callbacks the Trainer always installs."""

import math

import tensorflow as tf


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or Inf loss; the model must not be exported."""


class StopOnNonFiniteLoss(tf.keras.callbacks.Callback):
    """Like TerminateOnNaN, but raises with the epoch, step and batch named.

    Keras's TerminateOnNaN only sets `stop_training`, so `fit` returns and the Trainer would
    go on to export a NaN model; raising fails the component instead.
    """

    def __init__(self):
        super().__init__()
        self._epoch = 0
        self._step = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise NonFiniteLossError(
                f"training loss became {float(loss)} at epoch {self._epoch + 1}, "
                f"batch {batch} (global step {self._step}); stopping before export"
            )
