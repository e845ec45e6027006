"""Multi-label data (task `multilabel`): a latent Gaussian factor model.

Written as `data.tfrecord`: uncompressed TFRecord of tf.Example, one example per record.

============  ===============================  =============================================
feature       tf.Example type / shape          notes
============  ===============================  =============================================
``features``  float list, fixed length D = 24  the input vector
``labels``    int64 list, variable length      ids in ``[0, L)`` of the positive labels, L = 8;
                                               may be empty (no label applies)
============  ===============================  =============================================

A user's own ``--data`` for this task is one such file (uncompressed TFRecord of
tf.Example; any name not ending ``.csv``): ``features`` has the same length in every
example; ``labels`` lists the distinct positive label ids (sparse form, possibly empty).

The generator is fixed: a latent u ~ N(0, I_4) per example; features x = W u + e,
e ~ N(0, 2^2 I); label l is Bernoulli(sigmoid(b_l + B_l . u)). The shared latent makes the
labels correlated (positively and negatively), and the biases b are set so the label
frequencies run from 40% down to 4%; about a quarter of the examples have no label.
`seed` only drives the sampling. `metadata.json` holds the label frequencies and the
label-ranking loss (sklearn `label_ranking_loss`) of constant scores, of the label
frequencies, of the Bayes posterior p(y_l = 1 | x), and of the true logits b + B u.
"""

from __future__ import annotations

import os

import numpy as np

from pipelines.datasets._common import (
    TFRECORD_FILE,
    DatasetInfo,
    check_num_examples,
    dot,
    finish,
    prepare_dir,
    rounded,
    varlen_feature_spec,
    write_tfrecord,
)

NUM_FEATURES = 24  # D
NUM_LABELS = 8  # L
LATENT_DIM = 4
NOISE_STD = 2.0
LOGIT_SCALE = 2.0  # |B_l|: how strongly the latent drives each label
DEFAULT_NUM_EXAMPLES = 3000
PARAM_SEED = 12345  # the model's parameters are fixed; `seed` draws the data
TARGET_FREQUENCIES = np.array([0.40, 0.32, 0.25, 0.18, 0.12, 0.08, 0.06, 0.04])
FEATURES = {"features": "float", "labels": "int64"}

_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(48)
_GH_WEIGHTS = _GH_WEIGHTS / _GH_WEIGHTS.sum()


def feature_spec() -> dict:
    """`tf.io.parse_example` spec of the written records (VarLenFeature per column)."""
    return varlen_feature_spec(FEATURES)


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def expected_sigmoid(mean, std) -> np.ndarray:
    """E[sigmoid(m + s N(0, 1))] by Gauss-Hermite quadrature (elementwise)."""
    mean, std = np.broadcast_arrays(np.asarray(mean, float), np.asarray(std, float))
    return (_sigmoid(mean[..., None] + std[..., None] * _GH_NODES) * _GH_WEIGHTS).sum(-1)


def parameters() -> dict:
    """The fixed model: W (D, K), B (L, K), b (L,) with E[sigmoid(b_l + B_l u)] = target."""
    prng = np.random.default_rng(PARAM_SEED)
    w = prng.standard_normal((NUM_FEATURES, LATENT_DIM))
    b_mat = prng.standard_normal((NUM_LABELS, LATENT_DIM))
    b_mat *= LOGIT_SCALE / np.linalg.norm(b_mat, axis=1, keepdims=True)
    scale = np.linalg.norm(b_mat, axis=1)
    lo, hi = np.full(NUM_LABELS, -30.0), np.full(NUM_LABELS, 30.0)
    for _ in range(80):  # bisection: the marginal frequency is increasing in the bias
        mid = (lo + hi) / 2
        below = expected_sigmoid(mid, scale) < TARGET_FREQUENCIES
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return {"W": w, "B": b_mat, "b": (lo + hi) / 2}


def sample(rng: np.random.Generator, num_examples: int, params: dict | None = None) -> dict:
    """Arrays u (N, K), x (N, D), logits (N, L), y (N, L) in {0, 1}."""
    p = params or parameters()
    u = rng.standard_normal((num_examples, LATENT_DIM))
    # `dot`, not `@`: fixed summation order, so the same bytes on every machine.
    x = dot(u, p["W"].T) + NOISE_STD * rng.standard_normal((num_examples, NUM_FEATURES))
    logits = p["b"] + dot(u, p["B"].T)
    y = (rng.random((num_examples, NUM_LABELS)) < _sigmoid(logits)).astype(np.int64)
    return {"u": u, "x": x, "logits": logits, "y": y}


def posterior_scores(x: np.ndarray, params: dict | None = None) -> np.ndarray:
    """Bayes posterior p(y_l = 1 | x): u | x is Gaussian, then one quadrature per label."""
    p = params or parameters()
    w, b_mat = p["W"], p["B"]
    cov = np.linalg.inv(np.eye(LATENT_DIM) + w.T @ w / NOISE_STD**2)
    mean = x @ w @ cov / NOISE_STD**2  # (N, K)
    logit_mean = p["b"] + mean @ b_mat.T
    logit_std = np.sqrt(np.einsum("lk,kj,lj->l", b_mat, cov, b_mat))
    return expected_sigmoid(logit_mean, np.broadcast_to(logit_std, logit_mean.shape))


def ranking_losses(y: np.ndarray, x: np.ndarray, logits: np.ndarray, params=None) -> dict:
    from sklearn.metrics import label_ranking_loss

    freq = y.mean(axis=0)
    return {
        # sklearn counts tied (positive, negative) pairs as mis-ordered, so constant scores
        # score 1 on every example with both a positive and a negative label.
        "ranking_loss_constant": label_ranking_loss(y, np.zeros(y.shape)),
        "ranking_loss_label_frequency": label_ranking_loss(y, np.broadcast_to(freq, y.shape)),
        "ranking_loss_bayes_posterior": label_ranking_loss(y, posterior_scores(x, params)),
        "ranking_loss_true_logits": label_ranking_loss(y, logits),
    }


def write(
    output_dir: str, *, seed: int = 0, num_examples: int = DEFAULT_NUM_EXAMPLES
) -> DatasetInfo:
    """Sample `num_examples` examples and write `data.tfrecord` + `metadata.json`."""
    num_examples = check_num_examples(num_examples)
    output_dir = prepare_dir(output_dir)
    params = parameters()
    data = sample(np.random.default_rng(seed), num_examples, params)
    x = data["x"].astype(np.float32).astype(np.float64)  # score what is written
    y = data["y"]
    write_tfrecord(
        os.path.join(output_dir, TFRECORD_FILE),
        FEATURES,
        ({"features": xi, "labels": np.flatnonzero(yi)} for xi, yi in zip(x, y, strict=True)),
    )
    counts = y.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.nan_to_num(np.corrcoef(y.T))
    metadata = {
        "dataset": "multilabel",
        "tasks": ["multilabel"],
        "seed": int(seed),
        "features": FEATURES,
        "D": NUM_FEATURES,
        "L": NUM_LABELS,
        "num_features": NUM_FEATURES,
        "num_labels": NUM_LABELS,
        "latent_dim": LATENT_DIM,
        "noise_std": NOISE_STD,
        "label_counts": counts.tolist(),
        "label_frequencies": rounded(counts / num_examples),
        "target_label_frequencies": TARGET_FREQUENCIES.tolist(),
        "empty_label_fraction": round(float((y.sum(axis=1) == 0).mean()), 6),
        "mean_labels_per_example": round(float(y.sum(axis=1).mean()), 6),
        "label_correlation": rounded(corr, 4),
        "parameters": {k: rounded(v, 8) for k, v in params.items()},
        **{k: round(float(v), 6) for k, v in ranking_losses(y, x, data["logits"], params).items()},
    }
    return finish(output_dir, TFRECORD_FILE, "tfrecord", num_examples, metadata)
