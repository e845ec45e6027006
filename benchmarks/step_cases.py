"""The TensorFlow side of the training-step benchmark: a shipped task's model and loss built as
the Trainer builds them, on synthetic transformed features, and the per-case measurement that
runs in a child process (see :mod:`benchmarks.step_bench` for the plan).

The model is the spec's family (``components.trainer.models``) with the spec's params, on Keras
Inputs shaped as Transform writes the task's features; the loss comes from
``components.trainer.build.resolve_loss`` with what Transform would derive (pad class, mask
value); the optimizer is the Trainer's Adam at the spec's learning rate. One step is Keras's own
``make_train_function()`` (what ``fit`` calls per batch: forward, compiled loss with the
output's Keras mask as sample weight, backward, Adam apply), ``jit_compile`` as compiled. No
metrics are compiled, so the step is model + loss + optimizer.

Synthetic features follow the embedded generators' shapes and ranges: tagging token ids in
[1, V+1] over lengths uniform in [5, T], tags in [0, 4) and −1 at padding; correlation steps
N(0, 1) (B, T, 5) with the mask over lengths uniform in [10, T] and the target's padding at the
spec's mask value; multilabel features N(0, 1) (B, 24) and labels Bernoulli(0.2).
"""

import math

import numpy as np
import tensorflow as tf

from benchmarks import measure
from benchmarks.loss_cases import ALLOCATOR_DEVICES, DEVICES, device_details
from components import spec as spec_lib
from components.trainer import build, models
from components.transform.preprocessing import TAG_PAD_ID
from components.transform.vocabulary import NUM_OOV_BUCKETS
from pipelines import tasks
from pipelines.datasets import hmm, lds, multilabel

# Steps run before timing: the first traces (and compiles), the next create Adam's slots and
# settle the allocator pools.
WARMUP_STEPS = 3
LABEL_DENSITY = 0.2


def _lengths(rng, batch_size, low, high):
    return rng.integers(low, high + 1, size=batch_size)


def _step_mask(lengths, max_length):
    return (np.arange(max_length)[None, :] < lengths[:, None]).astype(np.float32)


def features(spec, batch_size, rng):
    """(model inputs, Keras Inputs by name, transformed features, label) for one batch."""
    names = spec_lib.FeatureNames.of(spec)
    if spec.kind == "tagging":
        T = spec.sequence.max_length
        (token,) = names.tokens.values()
        size = hmm.VOCAB_SIZE + NUM_OOV_BUCKETS + 1
        mask = _step_mask(_lengths(rng, batch_size, hmm.MIN_LEN, T), T)
        ids = rng.integers(1, size, size=(batch_size, T)) * mask
        tags = np.where(mask > 0, rng.integers(0, hmm.NUM_STATES, size=(batch_size, T)), TAG_PAD_ID)
        inputs = {token: tf.keras.Input(shape=(T,), name=token, dtype=tf.int64)}
        model_inputs = models.ModelInputs(inputs=inputs, tokens={token: size}, max_length=T)
        return model_inputs, {token: ids.astype(np.int64)}, tags.astype(np.int64)
    if spec.kind == "sequence_regression":
        T = spec.sequence.max_length
        mask = _step_mask(_lengths(rng, batch_size, lds.MIN_LEN, T), T)
        steps = rng.standard_normal((batch_size, T, lds.NUM_CHANNELS)).astype(np.float32)
        steps *= mask[..., None]
        target = rng.standard_normal((batch_size, T)).astype(np.float32)
        target = np.where(mask > 0, target, spec.sequence.mask_value).astype(np.float32)
        inputs = {
            names.steps: tf.keras.Input(shape=(T, lds.NUM_CHANNELS), name=names.steps),
            spec_lib.MASK: tf.keras.Input(shape=(T,), name=spec_lib.MASK),
        }
        model_inputs = models.ModelInputs(
            inputs=inputs, steps=names.steps, mask=spec_lib.MASK, max_length=T
        )
        return model_inputs, {names.steps: steps, spec_lib.MASK: mask}, target
    if spec.kind == "multilabel":
        (name,) = names.numeric.values()
        x = rng.standard_normal((batch_size, multilabel.NUM_FEATURES)).astype(np.float32)
        labels = rng.random((batch_size, spec.label.num_labels)) < LABEL_DENSITY
        inputs = {name: tf.keras.Input(shape=(multilabel.NUM_FEATURES,), name=name)}
        model_inputs = models.ModelInputs(inputs=inputs, numeric=(name,))
        return model_inputs, {name: x}, labels.astype(np.float32)
    raise ValueError(f"no synthetic features for kind {spec.kind!r}")


def units(spec):
    if spec.kind == "tagging":
        return len(spec.label.classes)
    if spec.kind == "multilabel":
        return spec.label.num_labels
    return 1


def loss_of(spec):
    """The spec's loss as the Trainer resolves it, derived parameters filled in (MSE on
    sequences wrapped in ``losses.MaskedStepLoss``, as ``losskit run --loss
    MeanSquaredError`` gets it)."""
    derived = {
        "tagging": {"pad_class": TAG_PAD_ID, "ignore_class": TAG_PAD_ID},
        "sequence_regression": {"mask_value": spec.sequence.mask_value},
    }.get(spec.kind, {})
    loss, _ = build.resolve_loss(spec.loss, spec.kind, **derived)
    return loss


def _sync(device):
    if device == "gpu":
        tf.test.experimental.sync_devices()


def run_case(task, loss_name, batch_size, jit, device, repeats, min_time, seed=0):
    """Child-process body of one case: seconds per optimizer step, and per forward + backward of
    the loss alone on the model's output (same mask, same jit setting)."""
    spec = tasks.load(task).with_overrides(loss={"name": loss_name})
    rng = np.random.default_rng(seed)
    tf.keras.utils.set_random_seed(seed)
    with tf.device(DEVICES[device]):
        model_inputs, x, y = features(spec, batch_size, rng)
        model = build.builder(spec)(
            model_inputs, [models.Output("", spec.kind, units(spec))], **spec.model.params
        )
        loss = loss_of(spec)
        model.compile(
            optimizer=tf.keras.optimizers.Adam(spec.trainer.learning_rate),
            loss=loss,
            jit_compile=jit,
        )
        x = {name: tf.constant(value) for name, value in x.items()}
        y = tf.constant(y)
        iterator = iter(tf.data.Dataset.from_tensors((x, y)).repeat())
        train_function = model.make_train_function()

        def step():
            logs = train_function(iterator)
            _sync(device)
            return logs

        for _ in range(WARMUP_STEPS):
            logs = step()
        step_seconds, step_number = measure.time_calls(step, repeats, min_time)
        step_loss = float(logs["loss"])

        # The loss sees what the compiled loss sees in the step: the prediction and its Keras
        # mask (the padding mask the embedding or the step mask carries) as sample weight.
        predicted = model(x, training=False)
        mask = getattr(predicted, "_keras_mask", None)
        y_pred = tf.identity(predicted)
        weight = None if mask is None else tf.cast(mask, y_pred.dtype)

        @tf.function(jit_compile=jit)
        def loss_step(y_true, y_pred):
            with tf.GradientTape() as tape:
                tape.watch(y_pred)
                value = loss(y_true, y_pred, sample_weight=weight)
            return value, tape.gradient(value, y_pred)

        def loss_call():
            out = loss_step(y, y_pred)
            _sync(device)
            return out

        for _ in range(WARMUP_STEPS):
            loss_call()
        loss_seconds, loss_number = measure.time_calls(loss_call, repeats, min_time)
        peak = measure.allocator_peak_delta(tf, ALLOCATOR_DEVICES[device], step)
    return {
        "step_seconds": measure.summarize(step_seconds),
        "loss_seconds": measure.summarize(loss_seconds),
        "calls_per_repeat": {"step": step_number, "loss": loss_number},
        "step_peak_alloc_bytes": peak,
        "output_shape": list(y_pred.shape),
        "parameters": int(model.count_params()),
        "loss_class": type(loss).__name__,
        "loss": step_loss if math.isfinite(step_loss) else str(step_loss),
        "device": device_details(device),
    }
