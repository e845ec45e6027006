import numpy as np

from pipelines.datasets import multilabel


def labels_matrix(data):
    ids = data["labels"]
    y = np.zeros((ids.shape[0], multilabel.NUM_LABELS), dtype=int)
    rows = np.repeat(np.arange(ids.shape[0]), ids.row_lengths().numpy())
    y[rows, ids.flat_values.numpy()] = 1
    return y, ids.row_lengths().numpy()


def test_parameters_hit_target_frequencies():
    p = multilabel.parameters()
    scale = np.linalg.norm(p["B"], axis=1)
    np.testing.assert_allclose(
        multilabel.expected_sigmoid(p["b"], scale), multilabel.TARGET_FREQUENCIES, atol=1e-9
    )
    # Quadrature against Monte Carlo.
    z = np.random.default_rng(0).standard_normal(200_000)
    mc = multilabel._sigmoid(p["b"][:, None] + scale[:, None] * z).mean(axis=1)
    np.testing.assert_allclose(mc, multilabel.TARGET_FREQUENCIES, atol=4e-3)


def test_written_records(written, parse_all):
    info = written["multilabel"]
    meta = info.metadata
    data = parse_all(info)
    assert (data["features"].row_lengths().numpy() == multilabel.NUM_FEATURES).all()
    y, counts = labels_matrix(data)
    assert y.shape == (3000, 8)
    assert (y.sum(axis=1) == counts).all()  # label ids are distinct
    assert (counts == 0).sum() >= 1  # some empty label sets
    assert np.isclose((counts == 0).mean(), meta["empty_label_fraction"])
    assert y.sum(axis=0).tolist() == meta["label_counts"]
    freq = y.mean(axis=0)
    assert freq.max() >= 0.3 and freq.min() <= 0.07  # imbalanced
    corr = np.corrcoef(y.T)
    off = corr[~np.eye(8, dtype=bool)]
    assert np.abs(off).max() > 0.15 and off.min() < -0.05  # correlated labels, both signs


def test_ranking_loss_metadata(written, parse_all):
    meta = written["multilabel"].metadata
    data = parse_all(written["multilabel"])
    y, counts = labels_matrix(data)
    mixed = ((counts > 0) & (counts < 8)).mean()
    assert np.isclose(meta["ranking_loss_constant"], mixed, atol=1e-6)
    assert (
        meta["ranking_loss_true_logits"]
        < meta["ranking_loss_bayes_posterior"]
        < meta["ranking_loss_label_frequency"]
        < meta["ranking_loss_constant"]
    )
    assert meta["D"] == 24 and meta["L"] == 8


def test_posterior_is_calibrated():
    data = multilabel.sample(np.random.default_rng(9), 20_000)
    post = multilabel.posterior_scores(data["x"])
    np.testing.assert_allclose(post.mean(axis=0), data["y"].mean(axis=0), atol=0.015)
    # Calibration within bins of the posterior score.
    bins = np.digitize(post.ravel(), [0.1, 0.3, 0.5, 0.7])
    for k in np.unique(bins):
        sel = bins == k
        if sel.sum() > 500:
            assert abs(post.ravel()[sel].mean() - data["y"].ravel()[sel].mean()) < 0.03
