"""Balancing several scalar losses: learned weights (layers) and scheduled weights (callback).

The layers take a list of scalar losses and return one scalar for ``model.add_loss``. They
compute in float32 by default, whatever the global mixed-precision policy, because loss weights
are tiny updates on O(1) numbers.
"""

import numbers

import tensorflow as tf

from losses._checks import check_int


def _stack_losses(layer, losses, count):
    """The ``count`` scalar losses as one (count,) tensor in the layer's compute dtype."""
    owner = type(layer).__name__
    if not isinstance(losses, list | tuple) or len(losses) != count:
        got = len(losses) if isinstance(losses, list | tuple) else type(losses).__name__
        raise ValueError(f"{owner}: expects a list of {count} scalar losses; got {got}.")
    tensors = [tf.cast(loss, layer.compute_dtype) for loss in losses]
    shapes = [tuple(tensor.shape) for tensor in tensors]
    if any(tensor.shape.rank != 0 for tensor in tensors):
        raise ValueError(f"{owner}: every loss must be a scalar; got shapes {shapes}.")
    return tf.stack(tensors)


@tf.keras.utils.register_keras_serializable(package="losskit")
class UncertaintyWeighting(tf.keras.layers.Layer):
    """Homoscedastic-uncertainty weighting of ``num_losses`` losses (Kendall et al., 2018).

    ``call([L_1, …, L_n])`` returns Σ_i exp(−s_i)·L_i + s_i with the trainable ``log_vars`` s
    (shape (n,), initialised to 0); use it as ``model.add_loss(layer([l1, l2]))``. The list must
    have exactly ``num_losses`` scalars.
    """

    def __init__(self, num_losses, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.num_losses = check_int(type(self).__name__, "num_losses", num_losses, minimum=1)

    def build(self, input_shape):
        self.log_vars = self.add_weight(
            name="log_vars", shape=(self.num_losses,), initializer="zeros", trainable=True
        )
        super().build(input_shape)

    def call(self, losses):
        losses = _stack_losses(self, losses, self.num_losses)
        return tf.reduce_sum(tf.exp(-self.log_vars) * losses + self.log_vars)

    def get_config(self):
        return {**super().get_config(), "num_losses": self.num_losses}


def _unit_interval(alpha):
    return tf.clip_by_value(alpha, 0, 1)


@tf.keras.utils.register_keras_serializable(package="losskit")
class AlphaBalancing(tf.keras.layers.Layer):
    """Balances two losses with a trainable α ∈ [0, 1] (initialised to 0.5, clipped after each
    optimizer step by a constraint).

    ``call([L_1, L_2])`` returns, with sg = stop_gradient,
    (α·sg(L_1) − (1 − α)·sg(L_2))² + sg(α)·L_1 + (1 − sg(α))·L_2.
    The first term moves α only, towards α·L_1 = (1 − α)·L_2; the rest trains the model with the
    current α.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.alpha = self.add_weight(
            name="alpha",
            shape=(),
            initializer=tf.keras.initializers.Constant(0.5),
            constraint=_unit_interval,
            trainable=True,
        )
        super().build(input_shape)

    def call(self, losses):
        first, second = tf.unstack(_stack_losses(self, losses, 2))
        alpha = tf.convert_to_tensor(self.alpha)
        fixed = tf.stop_gradient(alpha)
        balance = alpha * tf.stop_gradient(first) - (1 - alpha) * tf.stop_gradient(second)
        return tf.square(balance) + fixed * first + (1 - fixed) * second


class LossWeightSchedule(tf.keras.callbacks.Callback):
    """Sets a loss-weight ``tf.Variable`` from the epoch or the training step.

    ``schedule`` is a callable index → value, or a dict {index: value} read as piecewise-constant
    (the value of the largest key ≤ index; before the smallest key the variable is left as it
    is; keys may be strings of integers, as JSON configs carry them).

    ``unit="epoch"`` sets the variable in ``on_epoch_begin`` from the epoch index (0-based,
    ``initial_epoch`` honoured); ``unit="step"`` sets it in ``on_train_batch_begin`` from
    ``model.optimizer.iterations``, the global step, so resumed training continues the schedule.
    The value in force is written to the epoch logs under the variable's name, so ``History``
    records it.
    """

    def __init__(self, variable, schedule, unit="epoch"):
        super().__init__()
        owner = type(self).__name__
        if not isinstance(variable, tf.Variable):
            raise ValueError(f"{owner}: `variable` must be a tf.Variable; got {variable!r}.")
        if unit not in ("epoch", "step"):
            raise ValueError(f"{owner}: `unit` must be 'epoch' or 'step'; got {unit!r}.")
        if isinstance(schedule, dict):
            schedule = _piecewise_constant(owner, schedule)
        elif not callable(schedule):
            raise ValueError(
                f"{owner}: `schedule` must be a callable or a dict {{index: value}};"
                f" got {schedule!r}."
            )
        self.variable = variable
        self.schedule = schedule
        self.unit = unit
        self.log_name = variable.name.split(":")[0]

    def _apply(self, index):
        value = self.schedule(index)
        if value is not None:
            self.variable.assign(tf.cast(value, self.variable.dtype))

    def on_epoch_begin(self, epoch, logs=None):
        if self.unit == "epoch":
            self._apply(epoch)

    def on_train_batch_begin(self, batch, logs=None):
        if self.unit == "step":
            self._apply(int(self.model.optimizer.iterations.numpy()))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs[self.log_name] = float(self.variable.numpy())


def _index(key):
    """An integer index from an int or a string of one (JSON object keys are strings)."""
    if isinstance(key, str) or (isinstance(key, numbers.Integral) and not isinstance(key, bool)):
        return int(key)
    raise TypeError(key)


def _piecewise_constant(owner, points):
    """index → value of the largest key ≤ index, or None before the first key."""
    try:
        table = sorted((_index(key), float(value)) for key, value in points.items())
    except (TypeError, ValueError):
        raise ValueError(
            f"{owner}: `schedule` dict must map integer indices to numbers; got {points!r}."
        ) from None
    if not table or table[0][0] < 0:
        raise ValueError(
            f"{owner}: `schedule` dict must be non-empty with indices >= 0; got {points!r}."
        )

    def value_at(index):
        current = None
        for start, value in table:
            if start > index:
                break
            current = value
        return current

    return value_at
