import itertools

import numpy as np

from pipelines.datasets import hmm


def brute_force(tokens):
    """p(z_t | x) and p(x) by summing the joint over every state path."""
    s, t_len = hmm.NUM_STATES, len(tokens)
    post, total = np.zeros((t_len, s)), 0.0
    for path in itertools.product(range(s), repeat=t_len):
        p = hmm.INITIAL[path[0]] * hmm.EMISSION[path[0], tokens[0]]
        for t in range(1, t_len):
            p *= hmm.TRANSITION[path[t - 1], path[t]] * hmm.EMISSION[path[t], tokens[t]]
        total += p
        post[np.arange(t_len), path] += p
    return post / total, np.log(total)


def test_parameters_are_distributions():
    for m in (hmm.INITIAL[None], hmm.TRANSITION, hmm.EMISSION):
        np.testing.assert_allclose(m.sum(axis=1), 1.0)
    assert hmm.EMISSION.shape == (4, 12) and (hmm.EMISSION > 0).all()
    assert (np.diag(hmm.TRANSITION) >= 0.75).all()  # sticky


def test_forward_backward_matches_enumeration():
    for tokens in ([0, 5, 5, 11], [3, 3, 9, 1], [7, 2, 2, 7]):
        post, loglik = hmm.posterior_marginals(tokens)
        want, want_loglik = brute_force(tokens)
        np.testing.assert_allclose(post, want, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(loglik, want_loglik, rtol=1e-10)
    post, _ = hmm.posterior_marginals([4])
    want, _ = brute_force([4])
    np.testing.assert_allclose(post, want)


def test_posteriors_sum_to_one_and_batch_matches_single():
    tokens, _ = hmm.sample(np.random.default_rng(1), 6, min_len=0, max_len=30)
    tokens.append(np.arange(12).repeat(30))  # long: scaling must keep it finite
    obs, lengths = hmm._pad(tokens)
    gamma, loglik = hmm.posterior_marginals_batch(obs, lengths)
    for i, x in enumerate(tokens):
        single, ll = hmm.posterior_marginals(x)
        assert np.isfinite(single).all() and np.isfinite(ll)
        np.testing.assert_allclose(single.sum(axis=1), 1.0)
        np.testing.assert_allclose(gamma[i, : len(x)], single, atol=1e-12)
        np.testing.assert_allclose(loglik[i], ll)
        assert (gamma[i, len(x) :] == 0).all()


def test_written_records(written, parse_all):
    info = written["tagging"]
    meta = info.metadata
    data = parse_all(info)
    tokens, tags = data["tokens"], data["tags"]
    assert tokens.shape[0] == meta["num_examples"] == 2000
    lengths = tokens.row_lengths().numpy()
    assert (lengths == tags.row_lengths().numpy()).all()
    assert lengths.min() >= 5 and lengths.max() <= 40
    assert lengths.sum() == meta["num_tokens"]
    flat_tokens, flat_tags = tokens.flat_values.numpy(), tags.flat_values.numpy()
    assert flat_tokens.min() >= 0 and flat_tokens.max() < meta["vocab_size"] == 12
    assert np.bincount(flat_tags, minlength=4).tolist() == meta["tag_counts"]


def test_bayes_accuracy_metadata(written):
    meta = written["tagging"].metadata
    acc, emp = meta["bayes_token_accuracy"], meta["bayes_token_accuracy_empirical"]
    assert 0.75 <= acc <= 0.9
    assert abs(acc - emp) < 0.02
    assert acc > meta["per_token_bayes_accuracy_without_context"] > meta["majority_tag_accuracy"]
    assert meta["S"] == 4 and meta["V"] == 12
    np.testing.assert_allclose(meta["parameters"]["transition"], hmm.TRANSITION)
