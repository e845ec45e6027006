"""Any Keras loss applied to each real step of padded sequences, averaged over real steps.

Keras's own losses cannot do this for a sequence regressor: given a (B, T) target and the
model's (B, T, 1) output with its (B, T) Keras mask, ``MeanSquaredError`` squeezes the output
and reduces over T before the mask applies (a Squeeze error); given matching (B, T, 1) shapes,
``compile`` multiplies the mask into the sample weights but still divides by every B·T slot, so
the value shrinks with the padding; and padded targets (``mask_value``) would be read as data
by a model with no Keras mask. :class:`MaskedStepLoss` fixes all three, as the masked
cross-entropies do for tokens.
"""

import tensorflow as tf

from losses._checks import (
    align_mask,
    as_steps,
    check_mask_value,
    float_pair,
    shape_error,
    unmasked_steps,
)
from losses._reduction import RealElementMeanLoss, Reduction


def _per_step(loss):
    """The wrapped loss as a function (y_true, y_pred) (B, T, 1) -> per-step values (B, T)."""
    if isinstance(loss, tf.keras.losses.Loss):
        config = {**loss.get_config(), "reduction": Reduction.NONE}
        return type(loss).from_config(config)
    return loss


@tf.keras.utils.register_keras_serializable(package="losskit")
class MaskedStepLoss(RealElementMeanLoss):
    """``loss`` per step of (B, T) sequences, averaged over real steps.

    Shapes: ``y_true``, ``y_pred`` (B, T) or (B, T, 1). A step is real when ``y_true`` differs
    from ``mask_value`` (NaN masks NaN steps; None: only the Keras mask and weights mark
    padding), the Keras mask on ``y_pred`` keeps it and its sample weight is non-zero.

    Value with the default reduction: Σ w·m·L / Σ w·m (0 when no step is real), where L (B, T)
    is ``loss`` on each step's (1,) target and prediction (for MeanSquaredError, the squared
    error), m the real steps and w = sample_weight (scalar, (B,), (B, 1) or (B, T)). Targets and
    predictions at padded steps are replaced by 0 before ``loss`` sees them, so nothing there
    reaches the value or the gradient.

    >>> loss = MaskedStepLoss("mse", mask_value=-1.0)
    >>> float(loss([[1.0, 3.0, -1.0]], [[2.0, 3.0, 7.0]]))
    0.5
    """

    def __init__(self, loss, mask_value=None, reduction=Reduction.AUTO, name=None):
        owner = type(self).__name__
        inner = tf.keras.losses.get(loss)
        if inner is None or not callable(inner):
            raise ValueError(f"{owner}: `loss` must name a Keras loss, got {loss!r}.")
        super().__init__(reduction=reduction, name=name or f"masked_step_{_name_of(inner)}")
        self.loss = inner
        self._step_loss = _per_step(inner)
        self.mask_value = check_mask_value(owner, mask_value)

    def _prepare(self, y_true, y_pred):
        owner = type(self).__name__
        y_true, y_pred, mask = float_pair(y_true, y_pred)
        y_true, y_pred = as_steps(owner, "y_true", y_true), as_steps(owner, "y_pred", y_pred)
        if not y_true.shape.is_compatible_with(y_pred.shape):
            raise shape_error(
                owner,
                "`y_true` and `y_pred` must have the same (B, T) shape",
                y_true=y_true.shape,
                y_pred=y_pred.shape,
            )
        real = unmasked_steps(y_true, self.mask_value)
        if real is None:
            real = tf.ones_like(y_true, dtype=tf.bool)
        if mask is not None:
            real = tf.logical_and(real, align_mask(owner, mask, y_true))
        return y_true, y_pred, tf.cast(real, y_pred.dtype)

    def _elementwise(self, y_true, y_pred, real):
        y_true = tf.where(real, y_true, tf.zeros_like(y_true))
        y_pred = tf.where(real, y_pred, tf.zeros_like(y_pred))
        per_step = self._step_loss(y_true[..., None], y_pred[..., None])
        return tf.where(real, per_step, tf.zeros_like(per_step))

    def get_config(self):
        return {
            **super().get_config(),
            "loss": tf.keras.losses.serialize(self.loss),
            "mask_value": self.mask_value,
        }


def _name_of(loss):
    return getattr(loss, "name", None) or getattr(loss, "__name__", "loss")
