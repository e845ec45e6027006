import numpy as np

from pipelines.datasets import lds


def brute_force_posterior_mean(x):
    """E[z_1..z_T | x_1..x_T] by conditioning the joint Gaussian of (z, x) directly."""
    t_len, d = len(x), lds.STATE_DIM
    a, c = lds.TRANSITION, lds.OBSERVATION
    p0 = lds.stationary_covariance(a, lds.STATE_NOISE)
    szz = np.zeros((t_len * d, t_len * d))
    for s in range(t_len):
        for t in range(s, t_len):
            block = np.linalg.matrix_power(a, t - s) @ p0  # Cov(z_t, z_s), stationary
            szz[t * d : (t + 1) * d, s * d : (s + 1) * d] = block
            szz[s * d : (s + 1) * d, t * d : (t + 1) * d] = block.T
    big_c = np.kron(np.eye(t_len), c)
    sxx = big_c @ szz @ big_c.T + np.kron(np.eye(t_len), lds.OBSERVATION_NOISE)
    szx = szz @ big_c.T
    return (szx @ np.linalg.solve(sxx, x.ravel())).reshape(t_len, d)


def test_stationary_covariance():
    p = lds.stationary_covariance(lds.TRANSITION, lds.STATE_NOISE)
    np.testing.assert_allclose(
        p, lds.TRANSITION @ p @ lds.TRANSITION.T + lds.STATE_NOISE, atol=1e-12
    )
    assert np.all(np.linalg.eigvalsh(p) > 0)


def test_smoother_matches_gaussian_conditioning():
    xs, _, _ = lds.sample(np.random.default_rng(5), 3, min_len=6, max_len=6)
    for x in xs:
        np.testing.assert_allclose(lds.kalman_smoother(x), brute_force_posterior_mean(x), atol=1e-9)
        # The filter mean at t is the same conditioning on the prefix x_1..x_t.
        filt, _ = lds.kalman_batch(x[None], np.array([len(x)]))
        for t in range(1, len(x) + 1):
            np.testing.assert_allclose(
                filt[0, t - 1], brute_force_posterior_mean(x[:t])[-1], atol=1e-9
            )


def test_batch_with_mixed_lengths_matches_single():
    xs, _, _ = lds.sample(np.random.default_rng(2), 5, min_len=1, max_len=12)
    padded, lengths = lds._pad(xs)
    _, smooth = lds.kalman_batch(padded, lengths)
    for i, x in enumerate(xs):
        np.testing.assert_allclose(smooth[i, : len(x)], lds.kalman_smoother(x), atol=1e-12)


def test_ccc():
    y = np.array([0.0, 1.0, 3.0, 2.0])
    assert np.isclose(lds.ccc(y, y), 1.0)
    assert np.isclose(lds.pearson(0.5 * y + 1, y), 1.0)
    assert lds.ccc(0.5 * y + 1, y) < 1.0
    p = np.array([0.2, 0.9, 2.0, 2.5])
    mp, my = p.mean(), y.mean()
    want = 2 * np.mean((p - mp) * (y - my)) / (p.var() + y.var() + (mp - my) ** 2)
    assert np.isclose(lds.ccc(p, y), want)


def test_written_records(written, parse_all):
    info = written["correlation"]
    data = parse_all(info)
    lengths = data["y"].row_lengths().numpy()
    assert len(lengths) == 2000 and lengths.min() >= 10 and lengths.max() <= 60
    for key in lds.INPUT_KEYS:
        assert (data[key].row_lengths().numpy() == lengths).all()
    assert lengths.sum() == info.metadata["num_steps"]
    y = data["y"].flat_values.numpy()
    assert abs(y.std() - info.metadata["y_std"]) < 1e-3


def test_optimal_scores_metadata(written):
    meta = written["correlation"].metadata
    assert 0.85 <= meta["optimal_ccc_mean"] <= 0.95
    assert meta["optimal_ccc_mean"] < meta["optimal_pearson_mean"] < 1
    assert meta["optimal_ccc_mean"] > meta["causal_filter_ccc_mean"] > meta["per_step_ccc_mean"]
    assert meta["causal_filter_ccc_mean"] > 0.8  # a causal model can get close
