"""The TensorFlow side of the loss benchmarks: inputs, implementations and the per-case
measurement that runs in a child process (see :mod:`benchmarks.losses_bench` for the plan and
:mod:`benchmarks.measure` for the methods).

Implementations per family (names as the results show them; the first is the reference):

* ``bpmll``: ``BPMLLLoss`` (factorised) · the (B, L, L) pairwise form · a per-sample
  ``tf.map_fn`` loop (:mod:`benchmarks.baselines`). Labels Bernoulli(0.2), scores N(0, 1).
* ``masked_ce``: ``MaskedSparseCategoricalCrossentropy(pad_class=-1, from_logits=True)`` ·
  Keras's ``SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)`` · the unmasked
  Keras loss, given the same tokens with the pads relabelled 0 (outside the timed step).
  Sequence lengths uniform in [T/2, T], the rest padding.
* ``masked_cce``: ``MaskedCategoricalCrossentropy(pad_class=0, from_logits=True)`` · Keras's
  ``CategoricalCrossentropy`` with the real-token mask as ``sample_weight``
  (:func:`benchmarks.baselines.keras_masked_categorical`), on one-hot float32 targets: the same
  tokens as ``masked_ce`` with labels in [1, V) and class 0 at the pads.
* ``correlation``: Keras's ``MeanSquaredError`` (reference) · ``PearsonCorrelationLoss`` ·
  ``ConcordanceCorrelationLoss``, on the same (B, T) tensors · ``ConcordanceCorrelationLoss
  (padded)`` with ``mask_value`` (the shipped correlation task's loss), the same tensors with
  sequence lengths uniform in [T/2, T] and ``y_true`` = the mask value after them.
* ``gmm``: ``GaussianMixtureCurveLoss(K)`` · the per-component loop.
"""

import math
import statistics

import numpy as np
import tensorflow as tf

import losses
from benchmarks import baselines, measure

DEVICES = {"cpu": "/CPU:0", "gpu": "/GPU:0"}
# The names tf.config.experimental's memory statistics take.
ALLOCATOR_DEVICES = {"cpu": "CPU:0", "gpu": "GPU:0"}
BPMLL_LABEL_DENSITY = 0.2
GMM_PARAM_RANGES = ((0.5, 1.5), (0.0, 1.0), (1e-3, 2e-2))  # amplitude a, centre b, variance c


def _bpmll_inputs(shape, impl, rng):
    b, n = shape["B"], shape["L"]
    y_true = (rng.random((b, n)) < BPMLL_LABEL_DENSITY).astype(np.float32)
    return y_true, rng.standard_normal((b, n), dtype=np.float32)


def _masked_ce_inputs(shape, impl, rng):
    b, t, v = shape["B"], shape["T"], shape["V"]
    logits = rng.standard_normal((b, t, v), dtype=np.float32)
    labels = rng.integers(0, v, (b, t))
    lengths = rng.integers(t // 2, t + 1, (b, 1))
    # The unmasked loss gets the same tokens with in-range labels at the pads.
    pad = 0 if impl == "Keras SCCE unmasked" else -1
    return np.where(np.arange(t) < lengths, labels, pad), logits


def _masked_cce_inputs(shape, impl, rng):
    b, t, v = shape["B"], shape["T"], shape["V"]
    logits = rng.standard_normal((b, t, v), dtype=np.float32)
    labels = rng.integers(1, v, (b, t))
    lengths = rng.integers(t // 2, t + 1, (b, 1))
    labels = np.where(np.arange(t) < lengths, labels, 0)
    one_hot = np.zeros((b, t, v), np.float32)
    np.put_along_axis(one_hot, labels[..., None], 1, axis=-1)
    return one_hot, logits


CORRELATION_MASK = -9999.0


def _correlation_inputs(shape, impl, rng):
    y_true = rng.standard_normal((shape["B"], shape["T"]), dtype=np.float32)
    noise = rng.standard_normal(y_true.shape, dtype=np.float32)
    y_pred = 0.5 * y_true + noise
    if impl.endswith("(padded)"):
        t = shape["T"]
        lengths = rng.integers(t // 2, t + 1, (shape["B"], 1))
        y_true = np.where(np.arange(t) < lengths, y_true, np.float32(CORRELATION_MASK))
    return y_true, y_pred


def _gmm_inputs(shape, impl, rng):
    b, t, k = shape["B"], shape["T"], shape["K"]
    columns = [rng.uniform(low, high, (b, k)) for low, high in GMM_PARAM_RANGES]
    params = np.stack(columns, axis=-1).reshape(b, 3 * k)  # [a₀, b₀, c₀, a₁, …]
    return rng.random((b, t), dtype=np.float32), params.astype(np.float32)


# family → (shape, impl, numpy Generator) → (y_true, y_pred) NumPy arrays. NumPy, not TF ops:
# TF's temporaries would be freed into its CPU memory pool before the RSS baseline, and the
# first call would reuse those pages without showing them.
INPUTS = {
    "bpmll": _bpmll_inputs,
    "masked_ce": _masked_ce_inputs,
    "masked_cce": _masked_cce_inputs,
    "correlation": _correlation_inputs,
    "gmm": _gmm_inputs,
}

# family → implementation name → shape → loss callable (y_true, y_pred) -> scalar
IMPLEMENTATIONS = {
    "bpmll": {
        "BPMLLLoss (factorised)": lambda shape: losses.BPMLLLoss(),
        "pairwise (B,L,L)": lambda shape: baselines.bpmll_pairwise_loss,
        "per-sample map_fn": lambda shape: baselines.bpmll_per_sample_loss,
    },
    "masked_ce": {
        "MaskedSparseCategoricalCrossentropy": lambda shape: (
            losses.MaskedSparseCategoricalCrossentropy(pad_class=-1, from_logits=True)
        ),
        "Keras SCCE ignore_class": lambda shape: (
            tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
        ),
        "Keras SCCE unmasked": lambda shape: (
            tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        ),
    },
    "masked_cce": {
        "MaskedCategoricalCrossentropy": lambda shape: (
            losses.MaskedCategoricalCrossentropy(pad_class=0, from_logits=True)
        ),
        "Keras CCE sample_weight": lambda shape: baselines.keras_masked_categorical(0),
    },
    "correlation": {
        "MeanSquaredError": lambda shape: tf.keras.losses.MeanSquaredError(),
        "PearsonCorrelationLoss": lambda shape: losses.PearsonCorrelationLoss(),
        "ConcordanceCorrelationLoss": lambda shape: losses.ConcordanceCorrelationLoss(),
        "ConcordanceCorrelationLoss (padded)": lambda shape: losses.ConcordanceCorrelationLoss(
            mask_value=CORRELATION_MASK
        ),
    },
    "gmm": {
        "GaussianMixtureCurveLoss": lambda shape: losses.GaussianMixtureCurveLoss(shape["K"]),
        "per-component loop": lambda shape: baselines.gmm_curve_loss_loop,
    },
}


# Implementations whose memory and time grow with the square of one dimension; the runner
# extrapolates them from the previous shape and skips a shape that would not fit.
QUADRATIC = {"bpmll": {"pairwise (B,L,L)": "L", "per-sample map_fn": "L"}}


def _nbytes(x):
    return int(tf.size(x)) * x.dtype.size


def _sync(device):
    if device == "gpu":
        tf.test.experimental.sync_devices()


def run_case(family, impl, shape, jit, device, repeats, min_time, seed=0):
    """Child-process body of one case: times and peak memory of forward + backward.

    Returns a JSON-able dict: per-call seconds summary, calls per repeat, the loss value (the
    implementations of a family agree on it where they compute the same loss, see
    tests/benchmarks), ``peak_alloc_bytes``, on CPU ``peak_rss_bytes``, and ``min_bytes``: the
    traffic any implementation must have, every input read once and the gradient written once.
    """
    arrays = INPUTS[family](shape, impl, np.random.default_rng(seed))
    with tf.device(DEVICES[device]):
        y_true, y_pred = (tf.identity(tf.constant(x)) for x in arrays)
        del arrays
        loss_fn = IMPLEMENTATIONS[family][impl](shape)

        @tf.function(jit_compile=jit)
        def step(y_true, y_pred):
            with tf.GradientTape() as tape:
                tape.watch(y_pred)
                loss = loss_fn(y_true, y_pred)
            return loss, tape.gradient(loss, y_pred)

        outputs = {}

        def call():
            outputs["last"] = step(y_true, y_pred)
            _sync(device)

        # Trace before the RSS baseline: Python-side graph building is not the loss's memory.
        step.get_concrete_function(y_true, y_pred)
        result = {}
        if device == "cpu" and measure.rss_peak_available():
            result["peak_rss_bytes"] = measure.rss_peak_delta(call)
        else:
            call()
        outputs.clear()  # the first call's outputs must not count as live in the next one
        result["peak_alloc_bytes"] = measure.allocator_peak_delta(
            tf, ALLOCATOR_DEVICES[device], call
        )
        loss_value = float(outputs["last"][0].numpy())
        seconds, number = measure.time_calls(call, repeats, min_time)
    result["seconds"] = measure.summarize(seconds)
    result["calls_per_repeat"] = number
    result["min_bytes"] = _nbytes(y_true) + 2 * _nbytes(y_pred)
    result["loss"] = loss_value if math.isfinite(loss_value) else str(loss_value)
    return result


def probe(device, size_bytes, repeats):
    """What the runner needs before the cases: the device's details, its copy bandwidth
    (:func:`bandwidth_probe`) and each family's implementations, reference first."""
    families = {
        family: {"impls": list(impls), "quadratic": QUADRATIC.get(family, {})}
        for family, impls in IMPLEMENTATIONS.items()
    }
    return {
        "device": device_details(device),
        "bandwidth": bandwidth_probe(device, size_bytes, repeats),
        "families": families,
    }


def bandwidth_probe(device, size_bytes, repeats):
    """Copy-like bandwidth of the device (GB/s, bytes read + written), by method.

    ``tf`` / ``tf-xla``: ``y = 2·x`` on a float32 tensor of ``size_bytes`` in ``tf.function``
    without / with XLA (a fresh output per call, as the losses get); ``numpy`` (CPU only):
    ``np.copyto`` into a preallocated array, one thread. The largest is the reference the
    losses' achieved bandwidth is compared with.
    """
    bandwidth = {}
    n = size_bytes // 4
    with tf.device(DEVICES[device]):
        x = tf.random.stateless_normal([n], tf.constant([0, 0], tf.int32))
        for name, jit in (("tf", False), ("tf-xla", True)):
            scale = tf.function(lambda x: 2 * x, jit_compile=jit)

            def call(scale=scale):
                scale(x)
                _sync(device)

            call()
            seconds, _ = measure.time_calls(call, repeats, min_time=0.2)
            bandwidth[name] = 2 * size_bytes / statistics.median(seconds) / 1e9
    if device == "cpu":
        source = np.ones(n, np.float32)
        target = np.empty_like(source)
        seconds, _ = measure.time_calls(lambda: np.copyto(target, source), repeats, min_time=0.2)
        bandwidth["numpy"] = 2 * size_bytes / statistics.median(seconds) / 1e9
    return {"copy_gbps": bandwidth, "reference_gbps": max(bandwidth.values())}


def device_details(device):
    """What the results file records about the device. Raises a clear error when a GPU was
    asked for and TensorFlow sees none."""
    build = tf.sysconfig.get_build_info()
    details = {
        "kind": device,
        "tensorflow": tf.__version__,
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
    }
    if device == "cpu":
        details["name"] = "cpu"
        return details
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        raise RuntimeError(
            "--device gpu: TensorFlow sees no GPU (tf.config.list_physical_devices('GPU') is"
            f" empty; this TensorFlow is a CUDA build: {build.get('is_cuda_build')}, CUDA"
            f" {build.get('cuda_version')}). Install the CUDA libraries it was built against"
            " (pip install 'tensorflow[and-cuda]==2.16.2') and check that nvidia-smi sees the GPU."
        )
    info = tf.config.experimental.get_device_details(gpus[0])
    details["name"] = info.get("device_name", gpus[0].name)
    details["compute_capability"] = list(info.get("compute_capability", ()))
    details["gpu_count"] = len(gpus)
    details["cuda"] = build.get("cuda_version")
    details["cudnn"] = build.get("cudnn_version")
    return details
