"""Dynamic multi-task weighting for Keras 2: DWA, GradNorm and FAMO as layers.

Each layer takes the list of per-task scalar losses (``[L_1, …, L_n]``) and returns one scalar
for ``model.add_loss``, like :class:`losses.UncertaintyWeighting`. The weights are layer state,
so they live in the model (checkpoints, SavedModel) and need no custom training loop.

Only a training call (``training=True``, as ``fit`` makes) moves the state; ``evaluate`` and
``predict`` read it. Under ``tf.distribute`` the task losses are averaged over the replicas
before they update the state, so every replica holds the same weights; the state variables
are written by the first replica (``ONLY_FIRST_REPLICA``), which then holds that common value.
"""

import tensorflow as tf

from losses._checks import check_int
from losses.balancing import _stack_losses

_FIRST = tf.VariableAggregation.ONLY_FIRST_REPLICA


def _positive(owner, arg, value, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{owner}: `{arg}` must be a number; got {value!r}.")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{owner}: `{arg}` must be {bound}; got {value}.")
    return float(value)


def _replica_mean(values):
    """The mean of `values` over the replicas in sync (itself outside a strategy)."""
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
        return context.all_reduce(tf.distribute.ReduceOp.MEAN, values)
    return values


class _State(tf.keras.layers.Layer):
    """Shared plumbing: float32 compute, state variables, the loss list as a vector."""

    def __init__(self, num_losses, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.num_losses = check_int(type(self).__name__, "num_losses", num_losses, minimum=2)

    def _state(self, name, shape=None, initializer="zeros"):
        return self.add_weight(
            name=name,
            shape=(self.num_losses,) if shape is None else shape,
            initializer=initializer,
            trainable=False,
            aggregation=_FIRST,
        )

    def _stack(self, losses):
        return _stack_losses(self, list(losses), self.num_losses)

    def get_config(self):
        return {**super().get_config(), "num_losses": self.num_losses}


@tf.keras.utils.register_keras_serializable(package="losskit")
class DynamicWeightAverage(_State):
    """Dynamic Weight Average (Liu, Johns & Davison, "End-to-End Multi-Task Learning with
    Attention", CVPR 2019).

    ``call([L_1, …, L_n])`` returns Σ_k w_k·L_k. The weights are fixed within an epoch and set
    at its end (:class:`BalancerCallback` calls :meth:`end_epoch`) from the mean loss of each
    task over the last two epochs:

        r_k = L̄_k(t−1) / L̄_k(t−2),   w_k(t) = n·exp(r_k / T) / Σ_i exp(r_i / T),

    w = 1 for the first two epochs. A task whose loss falls more slowly gets more weight;
    T (``temperature``, 2 in the paper) softens the weighting, T → ∞ gives equal weights.

    >>> layer = DynamicWeightAverage(2)
    >>> float(layer([tf.constant(1.0), tf.constant(3.0)]))  # w = (1, 1) before two epochs
    4.0
    """

    def __init__(self, num_losses, temperature=2.0, **kwargs):
        super().__init__(num_losses, **kwargs)
        self.temperature = _positive(type(self).__name__, "temperature", temperature)

    def build(self, input_shape):
        self.loss_weights = self._state("loss_weights", initializer="ones")
        self.epoch_sum = self._state("epoch_sum")
        self.epoch_steps = self._state("epoch_steps", shape=())
        self.history = self._state("history", shape=(2, self.num_losses))
        self.epochs_seen = self._state("epochs_seen", shape=())
        super().build(input_shape)

    def call(self, losses, training=None):
        stacked = self._stack(losses)
        if training:
            self.epoch_sum.assign_add(_replica_mean(tf.stop_gradient(stacked)))
            self.epoch_steps.assign_add(1.0)
        return tf.reduce_sum(tf.convert_to_tensor(self.loss_weights) * stacked)

    def end_epoch(self):
        """Closes an epoch: records its mean losses, sets the next epoch's weights."""
        if float(self.epoch_steps.numpy()) == 0:
            return
        mean = self.epoch_sum / self.epoch_steps
        self.history.assign(tf.stack([self.history[1], mean]))
        self.epochs_seen.assign_add(1.0)
        self.epoch_sum.assign(tf.zeros_like(self.epoch_sum))
        self.epoch_steps.assign(0.0)
        if float(self.epochs_seen.numpy()) >= 2:
            ratios = tf.math.divide_no_nan(self.history[1], self.history[0])
            self.loss_weights.assign(self.num_losses * tf.nn.softmax(ratios / self.temperature))

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}


class _RenormalisedPositive(tf.keras.constraints.Constraint):
    """After each optimizer step: w ← n·max(w, ε) / Σ max(w, ε), so weights stay positive and
    sum to the number of tasks n."""

    def __call__(self, w):
        w = tf.maximum(w, 1e-6)
        return tf.cast(tf.size(w), w.dtype) * w / tf.reduce_sum(w)


@tf.keras.utils.register_keras_serializable(package="losskit")
class GradNorm(_State):
    """GradNorm (Chen, Badrinarayanan, Lee & Rabinovich, ICML 2018): trained loss weights
    that equalise the tasks' training rates through their gradient norms.

    ``call([L_1, …, L_n], shared)``: ``shared`` is the last tensor every head is computed
    from (:func:`last_shared_tensor` finds it in a functional model). With g_k = ‖∂L_k/∂shared‖,
    G_k = w_k·g_k, the relative inverse training rate r_k = (L_k/L_k(0)) / mean_i(L_i/L_i(0))
    and G̅ = mean_k G_k, the weights follow the gradient of

        L_grad = Σ_k |G_k − sg(G̅·r_k^α)|

    (g and the target held constant, as in the paper), while the model trains on
    Σ_k sg(w_k)·L_k, the value returned (L_grad's gradient is added with a zero value, so the
    reported loss stays the weighted task loss). After each optimizer step the weights are
    renormalised to stay positive and sum to n. L_k(0) is the first training step's loss.

    The paper differentiates at the last shared layer's weights; this layer takes the norm
    at that layer's output, the cheaper variant (LibMTL's ``rep_grad``), so it needs no
    reference to the weights. The norms are symbolic gradients (``tf.gradients``): training
    runs in graph mode, as ``fit`` does unless ``run_eagerly=True`` (then a clear error).
    """

    def __init__(self, num_losses, alpha=1.5, **kwargs):
        super().__init__(num_losses, **kwargs)
        self.alpha = _positive(type(self).__name__, "alpha", alpha, allow_zero=True)

    def build(self, input_shape):
        self.loss_weights = self.add_weight(
            name="loss_weights",
            shape=(self.num_losses,),
            initializer="ones",
            constraint=_RenormalisedPositive(),
            trainable=True,
        )
        self.initial_losses = self._state("initial_losses")
        self.steps = self._state("steps", shape=())
        super().build(input_shape)

    def call(self, losses, shared, training=None):
        terms = [tf.cast(loss, self.compute_dtype) for loss in losses]
        stacked = self._stack(terms)
        weights = tf.convert_to_tensor(self.loss_weights)
        weighted = tf.reduce_sum(tf.stop_gradient(weights) * stacked)
        if not training:
            return weighted
        if tf.executing_eagerly():
            raise RuntimeError(
                "GradNorm: training needs graph mode for its gradient norms; compile the model"
                " without run_eagerly=True (fit runs in a tf.function by default)."
            )
        norms = tf.stack([self._norm(term, shared) for term in terms])
        norms, current = tf.unstack(_replica_mean(tf.stop_gradient(tf.stack([norms, stacked]))))
        first = tf.equal(self.steps, 0)
        initial = tf.where(first, current, tf.convert_to_tensor(self.initial_losses))
        self.initial_losses.assign(initial)
        self.steps.assign_add(1.0)
        inverse_rate = tf.math.divide_no_nan(current, initial)
        inverse_rate = tf.math.divide_no_nan(inverse_rate, tf.reduce_mean(inverse_rate))
        grad_norms = weights * norms
        target = tf.stop_gradient(tf.reduce_mean(grad_norms) * inverse_rate**self.alpha)
        balance = tf.reduce_sum(tf.abs(grad_norms - target))
        return weighted + balance - tf.stop_gradient(balance)

    @staticmethod
    def _norm(loss, shared):
        (gradient,) = tf.gradients(loss, [shared])
        if gradient is None:  # not connected: Keras tracing the layer on its own
            return tf.zeros((), loss.dtype)
        return tf.cast(tf.norm(gradient), loss.dtype)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


@tf.keras.utils.register_keras_serializable(package="losskit")
class FAMO(_State):
    """Fast Adaptive Multitask Optimization (Liu, Feng, Stone & Liu, NeurIPS 2023).

    Task weights z = softmax(ξ) over n logits ξ (O(1) extra memory per task). Each training
    step returns a loss whose gradient is FAMO's update direction,

        Σ_k c·z_k·∇L_k / L_k,   c = (Σ_k z_k / L_k)⁻¹,

    i.e. a descent on Σ_k z_k·log L_k rescaled by c; the value returned is c, the
    z-weighted harmonic mean of the losses. Then, from the losses the model reaches after
    the step, the logits move (Algorithm 1 of the paper) by

        δ_k = log L_k(t) − log L_k(t+1),   ξ ← ξ − β·(J_zᵀ·δ + γ·ξ),   J_z = diag(z) − z·zᵀ,

    with β = ``learning_rate`` and γ = ``gamma`` (weight decay): tasks whose loss fell less
    gain weight. L(t+1) is read at the next training step, on the next batch, rather than
    by a second forward pass on the same batch. Losses must be positive (ε = 1e-8 is added).
    """

    def __init__(self, num_losses, learning_rate=0.025, gamma=0.001, **kwargs):
        super().__init__(num_losses, **kwargs)
        owner = type(self).__name__
        self.learning_rate = _positive(owner, "learning_rate", learning_rate)
        self.gamma = _positive(owner, "gamma", gamma, allow_zero=True)

    def build(self, input_shape):
        self.logits = self._state("logits")
        self.previous_losses = self._state("previous_losses", initializer="ones")
        self.steps = self._state("steps", shape=())
        super().build(input_shape)

    def call(self, losses, training=None):
        stacked = self._stack(losses) + 1e-8
        if training:
            current = _replica_mean(tf.stop_gradient(stacked))
            logits = tf.convert_to_tensor(self.logits)
            z = tf.nn.softmax(logits)
            delta = tf.math.log(tf.convert_to_tensor(self.previous_losses)) - tf.math.log(current)
            step = z * (delta - tf.reduce_sum(z * delta))  # J_zᵀ·δ
            update = self.learning_rate * (step + self.gamma * logits)
            self.logits.assign(tf.where(self.steps > 0, logits - update, logits))
            self.previous_losses.assign(current)
            self.steps.assign_add(1.0)
        z = tf.nn.softmax(tf.convert_to_tensor(self.logits))
        scale = tf.stop_gradient(z / stacked)
        return tf.reduce_sum(scale * stacked) / tf.reduce_sum(scale)

    @property
    def task_weights(self):
        """z = softmax(ξ), the current task weights (sum to 1)."""
        return tf.nn.softmax(self.logits)

    def get_config(self):
        return {
            **super().get_config(),
            "learning_rate": self.learning_rate,
            "gamma": self.gamma,
        }


class BalancerCallback(tf.keras.callbacks.Callback):
    """Closes each epoch for the model's :class:`DynamicWeightAverage` layers and writes every
    dynamic balancer's task weights to the epoch logs (``<layer>/weight_<k>``), so
    ``History`` records them; on one scale, summing to the number of tasks n (FAMO's z·n).
    Pass it to ``fit`` whenever the model holds such a layer."""

    def on_epoch_end(self, epoch, logs=None):
        for layer in self.model.submodules:
            if isinstance(layer, DynamicWeightAverage):
                layer.end_epoch()
            if logs is None or not isinstance(layer, DynamicWeightAverage | GradNorm | FAMO):
                continue
            if isinstance(layer, FAMO):
                weights = layer.num_losses * layer.task_weights
            else:
                weights = tf.convert_to_tensor(layer.loss_weights)
            for k, value in enumerate(weights.numpy()):
                logs[f"{layer.name}/weight_{k}"] = float(value)


def last_shared_tensor(model: tf.keras.Model):
    """The last tensor of a functional ``model`` that every output is computed from (the
    trunk's output, where the heads branch), for :class:`GradNorm`'s ``shared``.

    Raises ValueError when the outputs share nothing but the model's inputs.
    """
    outputs = tf.nest.flatten(model.outputs)
    order = {id(layer): i for i, layer in enumerate(model.layers)}
    common = None
    for output in outputs:
        found = _ancestors(output)
        common = found if common is None else {k: v for k, v in found.items() if k in common}
    candidates = [
        (order.get(id(tensor._keras_history.layer), -1), tensor)
        for tensor in (common or {}).values()
        if not isinstance(tensor._keras_history.layer, tf.keras.layers.InputLayer)
    ]
    if not candidates:
        raise ValueError(
            f"model {model.name!r}: its outputs share no layer (only inputs), so there is no "
            "shared representation to balance gradient norms at"
        )
    return max(candidates, key=lambda pair: pair[0])[1]


def _ancestors(tensor) -> dict:
    """{id: KerasTensor} of every tensor `tensor` is computed from (itself excluded)."""
    found, stack = {}, [tensor]
    while stack:
        layer, node_index, _ = stack.pop()._keras_history
        for parent in layer._inbound_nodes[node_index].keras_inputs:
            if id(parent) not in found:
                found[id(parent)] = parent
                stack.append(parent)
    return found
