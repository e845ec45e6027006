"""The straightforward implementations the losskit losses are benchmarked against.

Each baseline computes the same value as its losskit counterpart with the default reduction
(checked by tests/benchmarks/test_baselines.py), the way one would write it without the
factorisation or vectorisation losskit uses, so the benchmark compares algorithms, not
definitions:

* :func:`bpmll_pairwise` — BP-MLL through the explicit (B, L, L) matrix of label pairs,
  O(B·L²) time and memory (the form found in most public BP-MLL code).
* :func:`bpmll_per_sample` — the same pairwise sum one sample at a time with ``tf.map_fn``:
  an (L, L) matrix per step, O(B·L²) time.
* :func:`gmm_curve_loss_loop` — the Gaussian-mixture curve built by a Python loop over the K
  components (unrolled by ``tf.function``) instead of one (B, K, T) tensor.
* :func:`keras_masked_categorical` — Keras's ``CategoricalCrossentropy`` (which has no
  ``ignore_class``) with the real-token mask as ``sample_weight``, summed and divided by the
  number of real tokens: how one averages one-hot token losses over real tokens with Keras.

Scores are assumed moderate (|c_l − c_k| well below 88): the pairwise forms exponentiate every
difference, including those of pairs that do not count, and overflow where the factorised
log-sum-exp form does not.
"""

import tensorflow as tf

from losses._checks import compute_dtype
from losses.mixture import MIN_VARIANCE


def _pairwise_error(positive, negative, scores_k, scores_l, axes):
    """Σ_{k∈Y, l∉Y} exp(c_l − c_k) / (|Y|·|Ȳ|), 0 where Y or Ȳ is empty.

    ``positive`` / ``negative`` are the 0/1 indicators along the k and l axes already broadcast
    against the pair matrix ``exp(scores_l − scores_k)``; ``axes`` are the pair axes summed.
    """
    total = tf.reduce_sum(positive * negative * tf.exp(scores_l - scores_k), axis=axes)
    count = tf.reduce_sum(positive, axis=axes) * tf.reduce_sum(negative, axis=axes)
    return tf.where(count > 0, total / tf.maximum(count, 1), tf.zeros_like(total))


def _scores(y_pred):
    """y_pred as a tensor in the dtype the losskit losses compute in (float64 stays)."""
    y_pred = tf.convert_to_tensor(y_pred)
    return tf.cast(y_pred, compute_dtype(y_pred))


def bpmll_pairwise(y_true, y_pred):
    """Per-sample BP-MLL error (B,) through explicit (B, L, L) pair tensors.

    y_true: {0, 1} labels (B, L); y_pred: scores (B, L). Axis 1 indexes k (a positive label),
    axis 2 indexes l (a negative one).
    """
    y_pred = _scores(y_pred)
    positive = tf.cast(tf.cast(y_true, y_pred.dtype) > 0.5, y_pred.dtype)
    negative = 1 - positive
    return _pairwise_error(
        positive[:, :, None],
        negative[:, None, :],
        y_pred[:, :, None],
        y_pred[:, None, :],
        axes=[1, 2],
    )


def bpmll_per_sample(y_true, y_pred):
    """Per-sample BP-MLL error (B,) from a ``tf.map_fn`` loop with an (L, L) matrix per sample."""
    y_pred = _scores(y_pred)
    y_true = tf.cast(tf.convert_to_tensor(y_true), y_pred.dtype)

    def one_sample(row):
        labels, scores = row
        positive = tf.cast(labels > 0.5, scores.dtype)
        negative = 1 - positive
        return _pairwise_error(
            positive[:, None], negative[None, :], scores[:, None], scores[None, :], axes=[0, 1]
        )

    return tf.map_fn(one_sample, (y_true, y_pred), fn_output_signature=y_pred.dtype)


def bpmll_pairwise_loss(y_true, y_pred):
    """Batch mean of :func:`bpmll_pairwise`: ``BPMLLLoss()``'s value."""
    return tf.reduce_mean(bpmll_pairwise(y_true, y_pred))


def bpmll_per_sample_loss(y_true, y_pred):
    """Batch mean of :func:`bpmll_per_sample`: ``BPMLLLoss()``'s value."""
    return tf.reduce_mean(bpmll_per_sample(y_true, y_pred))


def gmm_curve_loop(params, grid):
    """Σ_k a_k·exp(−(x − b_k)² / (2·max(c_k, 1e-6))) accumulated one component at a time.

    params: (B, 3K) laid out [a₀, b₀, c₀, a₁, …] with static K; grid: (T,). Returns (B, T).
    """
    num_components = params.shape[-1] // 3
    curve = tf.zeros([tf.shape(params)[0], tf.shape(grid)[0]], params.dtype)
    for k in range(num_components):
        a = params[:, 3 * k, None]
        b = params[:, 3 * k + 1, None]
        c = tf.maximum(params[:, 3 * k + 2, None], MIN_VARIANCE)
        curve += a * tf.exp(-tf.square(grid - b) / (2 * c))
    return curve


def gmm_curve_loss_loop(y_true, params, distance="mae"):
    """``GaussianMixtureCurveLoss(num_components=K, distance=distance)``'s value (default grid
    ``linspace(0, 1, T)``) with the curve from :func:`gmm_curve_loop`."""
    params = _scores(params)
    y_true = tf.cast(tf.convert_to_tensor(y_true), params.dtype)
    grid = tf.linspace(tf.constant(0, params.dtype), tf.constant(1, params.dtype), y_true.shape[-1])
    error = y_true - gmm_curve_loop(params, grid)
    distance_fn = tf.abs if distance == "mae" else tf.square
    return tf.reduce_mean(distance_fn(error))


def keras_masked_categorical(pad_class, from_logits=True):
    """(y_true one-hot (B, T, C), y_pred (B, T, C)) -> Σ m·CE / Σ m with m = 1 − y_true[pad]."""
    keras = tf.keras.losses.CategoricalCrossentropy(
        from_logits=from_logits, reduction=tf.keras.losses.Reduction.SUM
    )

    def loss(y_true, y_pred):
        real = 1 - y_true[..., pad_class]
        return keras(y_true, y_pred, sample_weight=real) / tf.reduce_sum(real)

    return loss
