"""MaskedStepLoss: a Keras loss per real step, averaged over real steps."""

import numpy as np
import pytest
import tensorflow as tf

from losses import MaskedStepLoss

MASK = -9.0


def padded(rng, batch=4, steps=7):
    y_true = rng.normal(size=(batch, steps))
    real = np.arange(steps)[None, :] < rng.integers(0, steps + 1, (batch, 1))
    real[0, :2] = True
    return np.where(real, y_true, MASK), rng.normal(size=(batch, steps)), real


@pytest.mark.parametrize(
    "loss, per_step",
    [
        ("mse", lambda e: e**2),
        (tf.keras.losses.MeanAbsoluteError(), np.abs),
        (
            tf.keras.losses.Huber(delta=0.5),
            lambda e: np.where(abs(e) <= 0.5, e**2 / 2, 0.5 * abs(e) - 0.125),
        ),
    ],
)
def test_matches_numpy_over_real_steps(rng, loss, per_step):
    y_true, y_pred, real = padded(rng)
    y_true, y_pred = y_true.astype(np.float32), y_pred.astype(np.float32)  # Keras's Huber
    weight = rng.random(4).astype(np.float32)
    wrapped = MaskedStepLoss(loss, mask_value=MASK)
    values = per_step(y_pred - y_true)
    w = np.broadcast_to(weight[:, None], real.shape) * real
    np.testing.assert_allclose(wrapped(y_true, y_pred), values[real].mean(), rtol=1e-5)
    np.testing.assert_allclose(
        wrapped(y_true[..., None], y_pred[..., None], sample_weight=weight),
        (w * np.where(real, values, 0)).sum() / w.sum(),
        rtol=1e-5,
    )


def test_garbage_at_padding_reaches_neither_value_nor_gradient(rng, value_and_gradient):
    y_true, y_pred, real = padded(rng)
    dirty = np.where(real, y_pred, np.nan)
    loss = MaskedStepLoss("mse", mask_value=MASK)
    clean = value_and_gradient(lambda y: loss(y_true, y), y_pred)
    value, grad = value_and_gradient(lambda y: loss(y_true, y), dirty)
    assert value == clean[0]
    np.testing.assert_array_equal(grad, clean[1])
    assert np.all(grad[~real] == 0)


def test_all_padding_is_zero_with_zero_gradient(value_and_gradient):
    loss = MaskedStepLoss("mse", mask_value=MASK)
    value, grad = value_and_gradient(lambda y: loss(np.full((2, 3), MASK), y), np.ones((2, 3)))
    assert value == 0
    np.testing.assert_array_equal(grad, 0)


def test_serializes_with_its_loss():
    loss = MaskedStepLoss(tf.keras.losses.Huber(delta=2.0), mask_value=MASK)
    restored = tf.keras.losses.deserialize(tf.keras.losses.serialize(loss))
    assert type(restored) is MaskedStepLoss and restored.mask_value == MASK
    assert restored.loss.get_config()["delta"] == 2.0
    y_true, y_pred = [[1.0, MASK]], [[3.0, 5.0]]
    assert float(restored(y_true, y_pred)) == float(loss(y_true, y_pred)) == 2.0  # ½·2²


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="loss"):
        MaskedStepLoss("no_such_loss")
    with pytest.raises(ValueError, match=r"y_pred.*\(2, 3, 4\)"):
        MaskedStepLoss("mse")(np.zeros((2, 3)), np.zeros((2, 3, 4)))
