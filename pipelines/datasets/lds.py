"""Sequence correlation data (task `correlation`): a linear dynamical system.

Written as `data.tfrecord`: uncompressed TFRecord of tf.Example, one sequence per record.

=================  ===========================  ==========================================
feature            tf.Example type / shape      notes
=================  ===========================  ==========================================
``x0`` .. ``x4``   float list, variable length  the 5 observed input channels, per step
``y``              float list, same length      the per-step regression target
=================  ===========================  ==========================================

A user's own ``--data`` for this task is one such file (uncompressed TFRecord of
tf.Example; any name not ending ``.csv``): every example holds ``x0`` .. ``x4`` and ``y``
as float lists, all of the same length within an example (lengths vary between examples;
at least 2 steps for a per-sequence correlation to exist).

The generator is fixed: a hidden state z_t in R^3 (a damped rotation plus a slow decaying
component) with z_{t+1} = A z_t + w_t, w_t ~ N(0, Q), z_1 drawn from the stationary law;
inputs x_t = C z_t + v_t, v_t ~ N(0, R); target y_t = h . z_t (noise-free). Lengths are
uniform in [10, 60]; `seed` only drives the sampling. The best predictor of y_t from the
whole input sequence is h . E[z_t | x_1..x_T] (Kalman filter + RTS smoother); its mean
per-sequence concordance correlation (CCC, population moments) against y is stored in
`metadata.json` as `optimal_ccc_mean` (and Pearson as `optimal_pearson_mean`), with the
best causal predictor (Kalman filter) and the best per-step (memoryless) one for reference.
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

STATE_DIM = 3
NUM_CHANNELS = 5
DEFAULT_NUM_EXAMPLES = 2000
MIN_LEN = 10
MAX_LEN = 60
INPUT_KEYS = tuple(f"x{i}" for i in range(NUM_CHANNELS))
TARGET_KEY = "y"
FEATURES = {**{k: "float" for k in INPUT_KEYS}, TARGET_KEY: "float"}

_THETA = 0.3
TRANSITION = np.array(
    [
        [0.95 * np.cos(_THETA), -0.95 * np.sin(_THETA), 0.0],
        [0.95 * np.sin(_THETA), 0.95 * np.cos(_THETA), 0.0],
        [0.0, 0.0, 0.9],
    ]
)  # A
STATE_NOISE = 0.1 * np.eye(STATE_DIM)  # Q (diagonal)
OBSERVATION = np.array(
    [
        [1.0, 0.3, -0.2],
        [-0.4, 0.9, 0.5],
        [0.6, -0.7, 0.8],
        [0.2, 0.5, -0.9],
        [-0.8, -0.3, 0.4],
    ]
)  # C
OBSERVATION_NOISE = 0.4 * np.eye(NUM_CHANNELS)  # R (diagonal)
READOUT = np.array([1.0, 0.0, 1.0])  # h


def feature_spec() -> dict:
    """`tf.io.parse_example` spec of the written records (VarLenFeature per column)."""
    return varlen_feature_spec(FEATURES)


def stationary_covariance(transition: np.ndarray, state_noise: np.ndarray) -> np.ndarray:
    """P solving P = A P A' + Q (discrete Lyapunov equation, via vec)."""
    d = transition.shape[0]
    vec = np.linalg.solve(np.eye(d * d) - np.kron(transition, transition), state_noise.ravel())
    p = vec.reshape(d, d)
    return (p + p.T) / 2


def sample(
    rng: np.random.Generator,
    num_examples: int,
    min_len: int = MIN_LEN,
    max_len: int = MAX_LEN,
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """(x, y, z) lists: x (T, 5), y (T,), z (T, 3) per sequence, T uniform in [min, max]."""
    if not 1 <= min_len <= max_len:
        raise ValueError(f"need 1 <= min_len <= max_len; got {min_len}, {max_len}")
    lengths = rng.integers(min_len, max_len + 1, size=num_examples)
    p0 = stationary_covariance(TRANSITION, STATE_NOISE)
    z = np.empty((num_examples, max_len, STATE_DIM))
    # `dot`, not `@`: fixed summation order, so the same bytes on every machine.
    z[:, 0] = dot(rng.standard_normal((num_examples, STATE_DIM)), np.linalg.cholesky(p0).T)
    w = dot(rng.standard_normal((num_examples, max_len, STATE_DIM)), np.sqrt(STATE_NOISE))
    for t in range(1, max_len):
        z[:, t] = dot(z[:, t - 1], TRANSITION.T) + w[:, t]
    v = rng.standard_normal((num_examples, max_len, NUM_CHANNELS))
    x = dot(z, OBSERVATION.T) + dot(v, np.sqrt(OBSERVATION_NOISE))
    y = dot(z, READOUT[:, None])[..., 0]
    return (
        [x[i, :n] for i, n in enumerate(lengths)],
        [y[i, :n] for i, n in enumerate(lengths)],
        [z[i, :n] for i, n in enumerate(lengths)],
    )


def kalman_batch(x: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kalman filter and RTS smoother means for a padded batch x (N, T, 5).

    The model is time-invariant and every sequence starts from the stationary law, so the
    covariances and gains depend on t only and are shared by the whole batch.
    Returns (filtered E[z_t | x_1..x_t], smoothed E[z_t | x_1..x_len]), each (N, T, 3);
    values past a sequence's length are meaningless.
    """
    a, c, q, r = TRANSITION, OBSERVATION, STATE_NOISE, OBSERVATION_NOISE
    n, width, _ = x.shape
    lengths = np.asarray(lengths)
    p_pred = stationary_covariance(a, q)
    m_pred = np.zeros((n, STATE_DIM))
    m_filt = np.zeros((n, width, STATE_DIM))
    m_preds = np.zeros((n, width, STATE_DIM))
    p_filts, p_preds = [], []
    for t in range(width):
        if t > 0:
            m_pred = m_filt[:, t - 1] @ a.T
            p_pred = a @ p_filts[-1] @ a.T + q
        s = c @ p_pred @ c.T + r
        gain = np.linalg.solve(s, c @ p_pred).T  # P C' S^-1
        m_preds[:, t] = m_pred
        m_filt[:, t] = m_pred + (x[:, t] - m_pred @ c.T) @ gain.T
        p_filt = p_pred - gain @ c @ p_pred
        p_filts.append((p_filt + p_filt.T) / 2)
        p_preds.append(p_pred)
    m_smooth = m_filt.copy()
    for t in range(width - 2, -1, -1):
        j = np.linalg.solve(p_preds[t + 1], a @ p_filts[t]).T  # P_t|t A' P_t+1|t^-1
        back = m_filt[:, t] + (m_smooth[:, t + 1] - m_preds[:, t + 1]) @ j.T
        m_smooth[:, t] = np.where((t < lengths - 1)[:, None], back, m_filt[:, t])
    return m_filt, m_smooth


def kalman_smoother(x: np.ndarray) -> np.ndarray:
    """E[z_t | x_1..x_T] for one sequence x (T, 5): (T, 3)."""
    x = np.asarray(x, dtype=np.float64)
    return kalman_batch(x[None], np.array([len(x)]))[1][0]


def ccc(pred: np.ndarray, target: np.ndarray) -> float:
    """Concordance correlation coefficient with population (1/n) moments."""
    mp, mt = pred.mean(), target.mean()
    cov = ((pred - mp) * (target - mt)).mean()
    return float(2 * cov / (pred.var() + target.var() + (mp - mt) ** 2))


def pearson(pred: np.ndarray, target: np.ndarray) -> float:
    dp, dt = pred - pred.mean(), target - target.mean()
    return float((dp * dt).sum() / np.sqrt((dp * dp).sum() * (dt * dt).sum()))


def _pad(seqs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.array([len(s) for s in seqs])
    out = np.zeros((len(seqs), int(lengths.max()), *seqs[0].shape[1:]))
    for i, s in enumerate(seqs):
        out[i, : len(s)] = s
    return out, lengths


def optimal_scores(xs: list[np.ndarray], ys: list[np.ndarray]) -> dict:
    """Mean per-sequence CCC / Pearson of the smoother (optimal), the filter (optimal
    causal) and the per-step E[y_t | x_t] (optimal memoryless) predictors."""
    x, lengths = _pad(xs)
    m_filt, m_smooth = kalman_batch(x, lengths)
    p0 = stationary_covariance(TRANSITION, STATE_NOISE)
    c, r = OBSERVATION, OBSERVATION_NOISE
    per_step = READOUT @ p0 @ c.T @ np.linalg.inv(c @ p0 @ c.T + r)  # E[y_t | x_t] weights
    preds = {
        "optimal": m_smooth @ READOUT,
        "causal_filter": m_filt @ READOUT,
        "per_step": x @ per_step,
    }
    out = {}
    for name, pred in preds.items():
        cccs, rs = [], []
        for i, (n, y) in enumerate(zip(lengths, ys, strict=True)):
            if n >= 2:
                cccs.append(ccc(pred[i, :n], y))
                rs.append(pearson(pred[i, :n], y))
        out[f"{name}_ccc_mean"] = float(np.mean(cccs))
        out[f"{name}_pearson_mean"] = float(np.mean(rs))
    return out


def write(
    output_dir: str,
    *,
    seed: int = 0,
    num_examples: int = DEFAULT_NUM_EXAMPLES,
    min_len: int = MIN_LEN,
    max_len: int = MAX_LEN,
) -> DatasetInfo:
    """Sample `num_examples` sequences and write `data.tfrecord` + `metadata.json`."""
    num_examples = check_num_examples(num_examples)
    output_dir = prepare_dir(output_dir)
    rng = np.random.default_rng(seed)
    xs, ys, _ = sample(rng, num_examples, min_len, max_len)
    # Score what is written: the float32 values the records hold.
    xs = [x.astype(np.float32).astype(np.float64) for x in xs]
    ys = [y.astype(np.float32).astype(np.float64) for y in ys]
    write_tfrecord(
        os.path.join(output_dir, TFRECORD_FILE),
        FEATURES,
        (
            {**{k: x[:, i] for i, k in enumerate(INPUT_KEYS)}, TARGET_KEY: y}
            for x, y in zip(xs, ys, strict=True)
        ),
    )
    scores = optimal_scores(xs, ys)
    lengths = np.array([len(y) for y in ys])
    y_all = np.concatenate(ys)
    metadata = {
        "dataset": "lds",
        "tasks": ["correlation"],
        "seed": int(seed),
        "features": FEATURES,
        "input_keys": list(INPUT_KEYS),
        "target_key": TARGET_KEY,
        "state_dim": STATE_DIM,
        "num_channels": NUM_CHANNELS,
        "min_len": int(min_len),
        "max_len": int(max_len),
        "mean_len": round(float(lengths.mean()), 4),
        "num_steps": int(lengths.sum()),
        "y_mean": round(float(y_all.mean()), 6),
        "y_std": round(float(y_all.std()), 6),
        "parameters": {
            "A": rounded(TRANSITION, 10),
            "Q": STATE_NOISE.tolist(),
            "C": OBSERVATION.tolist(),
            "R": OBSERVATION_NOISE.tolist(),
            "h": READOUT.tolist(),
            "z1_covariance": rounded(stationary_covariance(TRANSITION, STATE_NOISE), 10),
        },
        **{k: round(v, 6) for k, v in scores.items()},
    }
    return finish(output_dir, TFRECORD_FILE, "tfrecord", num_examples, metadata)
