"""The benchmark baselines compute the losskit losses' values, so the benchmark compares
implementations of one loss; plus the pure-Python planning pieces of the runner."""

import numpy as np
import pytest
import tensorflow as tf

from benchmarks import baselines, loss_cases, losses_bench, report
from losses import (
    BPMLLLoss,
    GaussianMixtureCurveLoss,
    MaskedCategoricalCrossentropy,
    MaskedSparseCategoricalCrossentropy,
)


def _bpmll_inputs(rng, batch=6, labels=9):
    y_true = (rng.random((batch, labels)) < 0.3).astype(np.float64)
    y_true[0] = 0  # no positive label: E = 0
    y_true[1] = 1  # no negative label: E = 0
    return y_true, rng.normal(size=(batch, labels))


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize(
    "baseline", [baselines.bpmll_pairwise_loss, baselines.bpmll_per_sample_loss]
)
def test_bpmll_baselines_match_loss(rng, baseline, jit):
    y_true, y_pred = _bpmll_inputs(rng)
    expected = BPMLLLoss()(y_true, y_pred).numpy()
    got = tf.function(baseline, jit_compile=jit)(tf.constant(y_true), tf.constant(y_pred))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)


def test_bpmll_baselines_match_gradient(rng):
    y_true, y_pred = _bpmll_inputs(rng)
    scores = tf.constant(y_pred)
    gradients = []
    for loss in (BPMLLLoss(), baselines.bpmll_pairwise_loss, baselines.bpmll_per_sample_loss):
        with tf.GradientTape() as tape:
            tape.watch(scores)
            value = loss(y_true, scores)
        gradients.append(tape.gradient(value, scores).numpy())
    np.testing.assert_allclose(gradients[1], gradients[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gradients[2], gradients[0], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("distance", ["mae", "mse"])
def test_gmm_loop_matches_loss(rng, distance):
    batch, steps, components = 5, 17, 3
    params = np.stack(
        [
            rng.uniform(0.5, 1.5, (batch, components)),
            rng.uniform(0, 1, (batch, components)),
            rng.uniform(1e-3, 2e-2, (batch, components)),
        ],
        axis=-1,
    ).reshape(batch, 3 * components)
    params[0, 2] = -1.0  # a variance below the floor is clipped the same way
    y_true = rng.normal(size=(batch, steps))
    loss = GaussianMixtureCurveLoss(num_components=components, distance=distance)
    np.testing.assert_allclose(
        baselines.gmm_curve_loss_loop(y_true, params, distance).numpy(),
        loss(y_true, params).numpy(),
        rtol=1e-10,
    )


def test_keras_ignore_class_is_the_same_loss(rng):
    """The masked-CE benchmark's Keras baseline averages over the same real tokens."""
    labels = rng.integers(0, 7, (4, 10))
    labels[:, 6:] = -1
    logits = rng.normal(size=(4, 10, 7)).astype(np.float32)
    keras = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    ours = MaskedSparseCategoricalCrossentropy(pad_class=-1, from_logits=True)
    np.testing.assert_allclose(keras(labels, logits), ours(labels, logits), rtol=1e-6)


def test_keras_masked_categorical_is_the_same_loss(rng):
    """The one-hot benchmark's Keras baseline averages over the same real tokens."""
    labels = rng.integers(1, 7, (4, 10))
    labels[:, 6:] = 0
    y_true = np.eye(7, dtype=np.float32)[labels]
    logits = rng.normal(size=(4, 10, 7)).astype(np.float32)
    ours = MaskedCategoricalCrossentropy(pad_class=0, from_logits=True)
    np.testing.assert_allclose(
        baselines.keras_masked_categorical(0)(y_true, logits), ours(y_true, logits), rtol=1e-6
    )


def test_every_planned_family_has_inputs_and_implementations():
    assert set(losses_bench.SHAPES) == set(loss_cases.IMPLEMENTATIONS) == set(loss_cases.INPUTS)
    for family, quadratic in loss_cases.QUADRATIC.items():
        assert set(quadratic) <= set(loss_cases.IMPLEMENTATIONS[family])


def _row(length, status="ok", alloc=0, seconds=0.01):
    return {
        "family": "bpmll",
        "impl": "pairwise (B,L,L)",
        "reference": "BPMLLLoss (factorised)",
        "shape": {"B": 32, "L": length},
        "jit": False,
        "status": status,
        "peak_alloc_bytes": alloc,
        "seconds": {"median": seconds, "min": seconds, "max": seconds, "n": 1},
    }


def test_skip_extrapolates_from_the_previous_shape():
    done = [_row(256, alloc=10**6), _row(1024, alloc=10**9)]
    reason = losses_bench.skip_reason(_row(4096), done, "L", 4e9, 600, 5)
    assert reason.startswith("skipped: would need ≈16.0 GB (1.00 GB at L=1024 × 16")
    assert losses_bench.skip_reason(_row(4096), done, "L", 20e9, 600, 5) is None
    slow = [_row(1024, alloc=1, seconds=10.0)]
    assert "per call" in losses_bench.skip_reason(_row(4096), slow, "L", 20e9, 600, 5)


def test_skip_without_a_previous_shape_counts_pair_tensors():
    reason = losses_bench.skip_reason(_row(4096), [], "L", 1e9, 600, 5)
    pair_tensor_gb = 4 * 32 * 4096**2 / 1e9
    assert f"≈{losses_bench.PAIR_TENSORS_LIVE * pair_tensor_gb:.1f} GB" in reason


def test_markdown_renders_every_kind(tmp_path):
    rows = [
        {**_row(1024, alloc=2**20), "impl": "BPMLLLoss (factorised)", "min_bytes": 10**6},
        {**_row(1024, alloc=2**30, seconds=0.1), "min_bytes": 10**6},
        {**_row(4096, status="skipped"), "note": "skipped: would need ≈17.2 GB"},
    ]
    losses_bench.derive(rows, reference_gbps=10.0)
    assert rows[1]["time_ratio"] == pytest.approx(10) and rows[1]["memory_ratio"] == 1024
    host = {"cpu": "x", "cpu_count": 2, "memory_total_bytes": 2**34, "time": "now"}
    losses = {
        "kind": "losses",
        "device": {"kind": "cpu", "name": "cpu", "tensorflow": "2.16.2"},
        "host": host,
        "config": {"quick": True, "repeats": 3},
        "bandwidth": {"copy_gbps": {"numpy": 10.0}, "reference_gbps": 10.0},
        "cases": rows,
    }
    transform = {
        "kind": "transform",
        "host": host,
        "config": {"repeats": 1},
        "cases": [
            {
                "num_examples": 10,
                "mode": "in_memory",
                "beam_args": ["--direct_num_workers=1"],
                "status": "ok",
                "seconds": {"median": 1.0, "min": 1.0, "max": 1.0, "n": 1},
                "examples_per_s": 10.0,
            }
        ],
    }
    for name, document in (("losses-cpu.json", losses), ("transform-cpu.json", transform)):
        losses_bench.measure.write_json(str(tmp_path / name), document)
    text = report.render(str(tmp_path))
    assert "| B=32, L=1024 | no | pairwise (B,L,L) |" in text
    assert "10×" in text and "skipped: would need ≈17.2 GB" in text
    assert "| 10 | `--direct_num_workers=1` |" in text
    readme = tmp_path / "project-README.md"
    readme.write_text(f"# x\n\n{report.README_START}\nold\n{report.README_END}\n\nafter\n")
    report.write(str(tmp_path), readme=str(readme))
    block = readme.read_text()
    assert "old" not in block and block.endswith("after\n")
    assert "pairwise (B,L,L) ÷ BPMLLLoss (factorised)" in block
    assert "| 10 | `--direct_num_workers=1` |" in block
