"""Sequence tagging data (task `tagging`): sequences sampled from a hidden Markov model.

Written as `data.tfrecord`: uncompressed TFRecord of tf.Example, one sequence per record.

==========  ===========================  ================================================
feature     tf.Example type / shape      notes
==========  ===========================  ================================================
``tokens``  int64 list, variable length  observation ids in ``[0, vocab_size)``
``tags``    int64 list, same length      tag (hidden state) ids in ``[0, num_tags)``
==========  ===========================  ================================================

A user's own ``--data`` for this task is one such file (uncompressed TFRecord of
tf.Example; any name not ending ``.csv``): each example holds ``tokens`` and ``tags`` as
int64 lists of equal length (lengths vary per example; empty sequences are allowed). Ids
are already integer-encoded and dense from 0; here ``vocab_size`` = 12, ``num_tags`` = 4.

The generator is a fixed HMM (S = 4 hidden states, V = 12 symbols; sticky transitions,
overlapping emissions); `seed` only drives the sampling. `metadata.json` records the
parameters and the Bayes-optimal per-token accuracy on the written data (forward-backward
posterior marginals, argmax per position): `bayes_token_accuracy` is its exact expectation
(mean over tokens of the largest posterior) and `bayes_token_accuracy_empirical` the
accuracy of that decoding against the sampled tags.
"""

from __future__ import annotations

import os

import numpy as np

from pipelines.datasets._common import (
    TFRECORD_FILE,
    DatasetInfo,
    check_num_examples,
    finish,
    prepare_dir,
    rounded,
    varlen_feature_spec,
    write_tfrecord,
)

NUM_STATES = 4  # S
VOCAB_SIZE = 12  # V
DEFAULT_NUM_EXAMPLES = 2000
MIN_LEN = 5
MAX_LEN = 40
FEATURES = {"tokens": "int64", "tags": "int64"}

INITIAL = np.array([0.4, 0.3, 0.2, 0.1])
# Sticky, asymmetric transitions (row = from-state).
TRANSITION = np.array(
    [
        [0.90, 0.05, 0.03, 0.02],
        [0.06, 0.85, 0.06, 0.03],
        [0.04, 0.08, 0.80, 0.08],
        [0.05, 0.05, 0.15, 0.75],
    ]
)
# State s prefers symbols 3s..3s+2 and shares the neighbouring symbols (and a floor of
# weight 1 on everything) with the other states, so no symbol identifies its state.
_EMISSION_WEIGHTS = np.array(
    [
        [10, 8, 6, 3, 1, 1, 1, 1, 1, 1, 1, 3],
        [1, 1, 3, 10, 8, 6, 3, 1, 1, 1, 1, 1],
        [1, 1, 1, 1, 1, 3, 10, 8, 6, 3, 1, 1],
        [3, 1, 1, 1, 1, 1, 1, 1, 3, 10, 8, 6],
    ],
    dtype=np.float64,
)
EMISSION = _EMISSION_WEIGHTS / _EMISSION_WEIGHTS.sum(axis=1, keepdims=True)


def feature_spec() -> dict:
    """`tf.io.parse_example` spec of the written records (VarLenFeature per column)."""
    return varlen_feature_spec(FEATURES)


def _draw(u: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw: u[..., None] against the cumulative rows `probs[...]`."""
    cdf = np.cumsum(probs, axis=-1)
    return np.minimum((u[..., None] >= cdf).sum(axis=-1), probs.shape[-1] - 1)


def sample(
    rng: np.random.Generator,
    num_examples: int,
    min_len: int = MIN_LEN,
    max_len: int = MAX_LEN,
    initial: np.ndarray = INITIAL,
    transition: np.ndarray = TRANSITION,
    emission: np.ndarray = EMISSION,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(tokens, tags) lists of int64 arrays with lengths uniform in [min_len, max_len]."""
    if not 0 <= min_len <= max_len:
        raise ValueError(f"need 0 <= min_len <= max_len; got {min_len}, {max_len}")
    lengths = rng.integers(min_len, max_len + 1, size=num_examples)
    width = max(int(max_len), 1)
    u_state = rng.random((num_examples, width))
    u_obs = rng.random((num_examples, width))
    states = np.empty((num_examples, width), dtype=np.int64)
    states[:, 0] = _draw(u_state[:, 0], np.broadcast_to(initial, (num_examples, len(initial))))
    for t in range(1, width):
        states[:, t] = _draw(u_state[:, t], transition[states[:, t - 1]])
    obs = _draw(u_obs, emission[states]).astype(np.int64)
    tokens = [obs[i, :n].copy() for i, n in enumerate(lengths)]
    tags = [states[i, :n].copy() for i, n in enumerate(lengths)]
    return tokens, tags


def posterior_marginals_batch(
    obs: np.ndarray,
    lengths: np.ndarray,
    initial: np.ndarray = INITIAL,
    transition: np.ndarray = TRANSITION,
    emission: np.ndarray = EMISSION,
) -> tuple[np.ndarray, np.ndarray]:
    """Scaled forward-backward over a padded batch.

    obs: (N, T) int array (padding: any valid symbol), lengths: (N,).
    Returns (posteriors (N, T, S): p(z_t = s | x_1..x_len), zero past each length;
    log_likelihood (N,): log p(x_1..x_len)).
    """
    obs = np.asarray(obs, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    n, width = obs.shape
    s = len(initial)
    lik = emission[:, obs].transpose(1, 2, 0) if width else np.zeros((n, 0, s))  # (N, T, S)
    alpha = np.zeros((n, width, s))
    log_c = np.zeros((n, width))
    for t in range(width):
        a = initial * lik[:, 0] if t == 0 else (alpha[:, t - 1] @ transition) * lik[:, t]
        c = a.sum(axis=1)
        alpha[:, t] = a / c[:, None]
        log_c[:, t] = np.log(c)
    beta = np.ones((n, width, s))
    for t in range(width - 2, -1, -1):
        b = (lik[:, t + 1] * beta[:, t + 1]) @ transition.T
        b /= b.sum(axis=1, keepdims=True)  # any per-step scale cancels in the posterior
        last = t >= lengths - 1
        beta[:, t] = np.where(last[:, None], 1.0, b)
    gamma = alpha * beta
    gamma /= gamma.sum(axis=2, keepdims=True)
    valid = np.arange(width)[None, :] < lengths[:, None]
    gamma *= valid[:, :, None]
    return gamma, (log_c * valid).sum(axis=1)


def posterior_marginals(
    tokens,
    initial: np.ndarray = INITIAL,
    transition: np.ndarray = TRANSITION,
    emission: np.ndarray = EMISSION,
) -> tuple[np.ndarray, float]:
    """p(z_t | tokens) for one sequence: ((T, S) array, log p(tokens))."""
    tokens = np.asarray(tokens, dtype=np.int64)
    gamma, loglik = posterior_marginals_batch(
        tokens[None, :], np.array([len(tokens)]), initial, transition, emission
    )
    return gamma[0], float(loglik[0])


def _pad(seqs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.array([len(x) for x in seqs], dtype=np.int64)
    out = np.zeros((len(seqs), int(lengths.max(initial=0))), dtype=np.int64)
    for i, x in enumerate(seqs):
        out[i, : len(x)] = x
    return out, lengths


def bayes_accuracy(
    tokens: list[np.ndarray],
    tags: list[np.ndarray],
    initial: np.ndarray = INITIAL,
    transition: np.ndarray = TRANSITION,
    emission: np.ndarray = EMISSION,
) -> dict:
    """Bayes-optimal per-token accuracy (posterior-marginal decoding) and baselines."""
    obs, lengths = _pad(tokens)
    gamma, loglik = posterior_marginals_batch(obs, lengths, initial, transition, emission)
    valid = np.arange(obs.shape[1])[None, :] < lengths[:, None]
    true = _pad(tags)[0]
    num_tokens = int(valid.sum())
    expected = float(gamma.max(axis=2)[valid].sum() / num_tokens)
    empirical = float((gamma.argmax(axis=2) == true)[valid].sum() / num_tokens)
    tag_counts = np.bincount(true[valid], minlength=len(initial))
    # Context-free baseline: argmax_s p(s) p(x|s) with the empirical state frequencies.
    local = (tag_counts[:, None] * emission).argmax(axis=0)[obs]
    return {
        "bayes_token_accuracy": expected,
        "bayes_token_accuracy_empirical": empirical,
        "majority_tag_accuracy": float(tag_counts.max() / num_tokens),
        "per_token_bayes_accuracy_without_context": float(
            (local == true)[valid].sum() / num_tokens
        ),
        "mean_log_likelihood_per_token": float(loglik.sum() / num_tokens),
        "num_tokens": num_tokens,
        "tag_counts": tag_counts.tolist(),
    }


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
    tokens, tags = sample(rng, num_examples, min_len, max_len)
    write_tfrecord(
        os.path.join(output_dir, TFRECORD_FILE),
        FEATURES,
        ({"tokens": x, "tags": z} for x, z in zip(tokens, tags, strict=True)),
    )
    stats = bayes_accuracy(tokens, tags)
    lengths = np.array([len(x) for x in tokens])
    metadata = {
        "dataset": "hmm",
        "tasks": ["tagging"],
        "seed": int(seed),
        "features": FEATURES,
        "num_tags": NUM_STATES,
        "vocab_size": VOCAB_SIZE,
        "S": NUM_STATES,
        "V": VOCAB_SIZE,
        "min_len": int(min_len),
        "max_len": int(max_len),
        "mean_len": round(float(lengths.mean()), 4),
        "parameters": {
            "initial": INITIAL.tolist(),
            "transition": TRANSITION.tolist(),
            "emission": rounded(EMISSION, 8),
        },
        **{k: round(v, 6) if isinstance(v, float) else v for k, v in stats.items()},
    }
    return finish(output_dir, TFRECORD_FILE, "tfrecord", num_examples, metadata)
