"""Loss-balancing layers and the loss-weight schedule callback."""

import math

import numpy as np
import pytest
import tensorflow as tf

from losses import AlphaBalancing, LossWeightSchedule, UncertaintyWeighting


def scalars(*values):
    return [tf.constant(value, tf.float32) for value in values]


def test_uncertainty_weighting_value_and_gradients():
    layer = UncertaintyWeighting(3)
    losses = scalars(1.0, 2.0, 0.5)
    layer(losses)
    layer.log_vars.assign([0.0, 0.5, -1.0])
    with tf.GradientTape() as tape:
        tape.watch(losses)
        value = layer(losses)
    grads = tape.gradient(value, [layer.log_vars, *losses])
    s, values = np.array([0.0, 0.5, -1.0]), np.array([1.0, 2.0, 0.5])
    np.testing.assert_allclose(float(value), np.sum(np.exp(-s) * values + s), rtol=1e-6)
    np.testing.assert_allclose(grads[0].numpy(), 1 - np.exp(-s) * values, rtol=1e-6)
    np.testing.assert_allclose([g.numpy() for g in grads[1:]], np.exp(-s), rtol=1e-6)


def test_uncertainty_weighting_starts_at_plain_sum():
    assert float(UncertaintyWeighting(2)(scalars(1.5, 2.0))) == pytest.approx(3.5)


def test_alpha_balancing_value_and_stop_gradients():
    layer = AlphaBalancing()
    first, second = scalars(3.0, 1.0)
    with tf.GradientTape() as tape:
        tape.watch([first, second])
        value = layer([first, second])
    d_alpha, d_first, d_second = tape.gradient(value, [layer.alpha, first, second])
    alpha = 0.5
    balance = alpha * 3.0 - (1 - alpha) * 1.0
    assert float(value) == pytest.approx(balance**2 + alpha * 3.0 + (1 - alpha) * 1.0)
    assert float(d_alpha) == pytest.approx(2 * balance * (3.0 + 1.0))
    assert float(d_first) == pytest.approx(alpha)
    assert float(d_second) == pytest.approx(1 - alpha)


def test_alpha_is_clipped_to_unit_interval_by_the_optimizer():
    layer = AlphaBalancing()
    optimizer = tf.keras.optimizers.SGD(learning_rate=10.0)
    for losses, expected in ((scalars(10.0, 0.01), 0.0), (scalars(0.01, 10.0), 1.0)):
        with tf.GradientTape() as tape:
            value = layer(losses)
        optimizer.apply_gradients([(tape.gradient(value, layer.alpha), layer.alpha)])
        assert float(layer.alpha) == expected


@pytest.mark.parametrize(
    "layer, losses, message",
    [
        (UncertaintyWeighting(2), scalars(1.0, 2.0, 3.0), "2 scalar losses; got 3"),
        (AlphaBalancing(), scalars(1.0), "2 scalar losses; got 1"),
        (
            UncertaintyWeighting(2),
            [tf.ones(3), tf.ones(())],
            r"scalar; got shapes \[\(3,\), \(\)\]",
        ),
    ],
)
def test_loss_list_errors(layer, losses, message):
    with pytest.raises(ValueError, match=message):
        layer(losses)


def test_num_losses_validation():
    for bad in (0, 1.5, None):
        with pytest.raises(ValueError, match="num_losses"):
            UncertaintyWeighting(bad)


@pytest.mark.parametrize("layer", [UncertaintyWeighting(3), AlphaBalancing()])
def test_layers_serialize(layer):
    config = tf.keras.layers.serialize(layer)
    assert config["registered_name"] == f"losskit>{type(layer).__name__}"
    restored = tf.keras.layers.deserialize(config)
    assert type(restored) is type(layer)
    assert restored.get_config() == layer.get_config()


class TwoHeads(tf.keras.Model):
    """A regression head (B, 3) and a binary head (B, 1) combined by a balancing layer."""

    def __init__(self, balancer):
        super().__init__()
        self.trunk = tf.keras.layers.Dense(16, activation="tanh")
        self.regress = tf.keras.layers.Dense(3)
        self.classify = tf.keras.layers.Dense(1)
        self.balancer = balancer

    def call(self, inputs):
        features, targets, labels = inputs
        hidden = self.trunk(features)
        regression = self.regress(hidden)
        squared = tf.reduce_mean(tf.square(targets - regression))
        logits = self.classify(hidden)
        binary = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels, logits))
        self.add_loss(self.balancer([10.0 * squared, binary]))
        return regression


@pytest.mark.parametrize("balancer", [UncertaintyWeighting(2), AlphaBalancing()])
def test_two_head_model_trains_and_moves_the_weights(rng, balancer):
    tf.keras.utils.set_random_seed(0)
    features = rng.normal(size=(128, 4)).astype("float32")
    targets = features @ rng.normal(size=(4, 3)).astype("float32")
    labels = (features[:, :1] > 0).astype("float32")
    model = TwoHeads(balancer)
    model.compile(optimizer=tf.keras.optimizers.Adam(0.05))
    history = model.fit((features, targets, labels), epochs=8, batch_size=32, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0] - 0.5
    weights = balancer.get_weights()[0]
    initial = 0.0 if isinstance(balancer, UncertaintyWeighting) else 0.5
    assert np.all(np.abs(weights - initial) > 1e-3)
    if isinstance(balancer, AlphaBalancing):
        assert 0.0 <= float(weights) <= 1.0


def schedule_run(schedule, unit, epochs=4, initial=1.0):
    """Fits a tiny regression whose loss is weight·MSE; returns the History logs."""
    tf.keras.utils.set_random_seed(0)
    weight = tf.Variable(initial, trainable=False, name="aux_weight")
    model = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(1)])
    model.compile(
        optimizer="sgd", loss=lambda y, p: weight * tf.reduce_mean(tf.square(y - p), axis=-1)
    )
    features = np.ones((8, 2), np.float32)
    callback = LossWeightSchedule(weight, schedule, unit=unit)
    return model.fit(
        features, np.ones((8, 1)), batch_size=4, epochs=epochs, verbose=0, callbacks=[callback]
    ).history


def test_epoch_dict_schedule_is_piecewise_constant_and_logged():
    history = schedule_run({"1": 0.5, 3: 0.0}, "epoch", initial=2.0)
    assert history["aux_weight"] == [2.0, 0.5, 0.5, 0.0]
    assert history["loss"][-1] == 0.0


def test_step_callable_schedule_uses_global_step():
    history = schedule_run(lambda step: 0.1 * step, "step", epochs=3)
    np.testing.assert_allclose(history["aux_weight"], [0.1, 0.3, 0.5], rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"schedule": 3.0}, "schedule"),
        ({"schedule": {-1: 1.0}}, "schedule"),
        ({"schedule": {1.5: 1.0}}, "schedule"),
        ({"schedule": {}}, "schedule"),
        ({"schedule": {0: 1.0}, "unit": "batch"}, "unit"),
    ],
)
def test_schedule_validation(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        LossWeightSchedule(tf.Variable(1.0), **kwargs)
    with pytest.raises(ValueError, match="variable"):
        LossWeightSchedule(math.pi, {0: 1.0})
