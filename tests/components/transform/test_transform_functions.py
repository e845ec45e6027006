"""The pure functions and input checks, eagerly (no tf.Transform run)."""

import numpy as np
import pytest
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

from components.spec import SpecError
from components.transform import (
    analyze_max_length,
    as_optional_scalar,
    label_features,
    multi_hot,
    pos_weight_from_counts,
    preprocessing_fn,
    weights_from_counts,
)
from components.transform.preprocessing import length_bucket, num_labels, spec_of

PENGUINS = {
    "name": "penguins",
    "kind": "classification",
    "label": {"column": "species"},
    "features": {"numeric": ["bill_length_mm"], "categorical": ["island"]},
}
TAGGING = {
    "name": "tagging",
    "kind": "tagging",
    "label": {"column": "tags"},
    "features": {"tokens": ["tokens"]},
}
MULTILABEL = {
    "name": "multilabel",
    "kind": "multilabel",
    "label": {"column": "labels", "num_labels": 4},
    "features": {"numeric": ["features"]},
}


def with_keys(spec, **keys):
    """A copy of a spec dict with top-level keys and `label` keys (label_*) replaced."""
    label = {k.removeprefix("label_"): v for k, v in keys.items() if k.startswith("label_")}
    rest = {k: v for k, v in keys.items() if not k.startswith("label_")}
    return {**spec, **rest, "label": {**spec["label"], **label}}


def numpy_weights(counts, scheme, beta=0.999):
    """Reference for the non-balanced schemes over the seen classes, 1.0 for the unseen."""
    counts = np.asarray(counts, np.float64)
    seen = counts > 0
    raw = {
        "inverse": lambda n: 1 / n,
        "inverse_sqrt": lambda n: 1 / np.sqrt(n),
        "effective_number": lambda n: (1 - beta) / (1 - beta**n),
    }[scheme](counts[seen])
    weights = np.ones_like(counts)
    weights[seen] = raw * seen.sum() / raw.sum()
    return weights


def test_balanced_is_scikit_learns(rng):
    labels = rng.choice(5, size=500, p=[0.5, 0.25, 0.15, 0.07, 0.03])
    counts = np.bincount(labels, minlength=5)
    expected = compute_class_weight("balanced", classes=np.arange(5), y=labels)
    np.testing.assert_allclose(weights_from_counts(counts, "balanced"), expected, rtol=1e-6)


@pytest.mark.parametrize("scheme", ["inverse", "inverse_sqrt", "effective_number"])
@pytest.mark.parametrize("beta", [0.9, 0.999])
def test_normalised_schemes_match_numpy_and_sum_to_num_classes(scheme, beta):
    counts = [1200, 300, 45, 7, 1]
    weights = weights_from_counts(counts, scheme, beta).numpy()
    np.testing.assert_allclose(weights, numpy_weights(counts, scheme, beta), rtol=1e-5)
    assert weights.sum() == pytest.approx(5.0)
    assert np.all(np.diff(weights) >= 0)  # rarer class, no smaller weight


@pytest.mark.parametrize("scheme", ["balanced", "inverse", "inverse_sqrt", "effective_number"])
def test_zero_count_class_weighs_one_and_leaves_the_others_alone(scheme):
    with_empty = weights_from_counts([40, 0, 10], scheme).numpy()
    without = weights_from_counts([40, 10], scheme).numpy()
    np.testing.assert_allclose(with_empty, [without[0], 1.0, without[1]], rtol=1e-6)
    np.testing.assert_array_equal(weights_from_counts([0, 0], scheme), [1.0, 1.0])


def test_bad_scheme_or_beta_is_a_clear_error():
    with pytest.raises(ValueError, match="class weight scheme must be one of"):
        weights_from_counts([1, 2], "focal")
    with pytest.raises(ValueError, match="beta must be in"):
        weights_from_counts([1, 2], "effective_number", beta=1.0)
    with pytest.raises(ValueError, match="class_names must be unique"):
        label_features(tf.constant(["a"]), vocab_name="y", class_names=["a", "a"])
    with pytest.raises(ValueError, match="class weight scheme must be one of"):
        label_features(tf.constant(["a"]), vocab_name="y", scheme="focal")
    # Through the preprocessing_fn, the spec refuses the scheme before any tensor is built.
    with pytest.raises(SpecError, match=r"label\.class_weight: Input should be 'balanced'"):
        preprocessing_fn(
            {"species": tf.constant(["Adelie"])},
            {"spec": with_keys(PENGUINS, label_class_weight="focal")},
        )
    with pytest.raises(SpecError, match=r"label\.beta"):
        preprocessing_fn(
            {"species": tf.constant(["Adelie"])},
            {"spec": with_keys(PENGUINS, label_class_weight="effective_number", label_beta=1.0)},
        )


def test_none_scheme_weighs_every_class_one():
    np.testing.assert_array_equal(weights_from_counts([40, 0, 10, 1], "none"), [1.0] * 4)
    assert weights_from_counts([3], "none").dtype == tf.float32


def test_pos_weight_is_negatives_over_positives_and_one_when_undefined():
    positive = np.array([10, 1, 0, 40, 25])
    weights = pos_weight_from_counts(positive, 40).numpy()
    np.testing.assert_allclose(weights, [30 / 10, 39 / 1, 1.0, 1.0, 15 / 25], rtol=1e-6)


def test_optional_scalar_accepts_every_input_form():
    expected_values, expected_present = [1.5, 0.0, 2.5], [True, False, True]
    sparse = tf.SparseTensor([[0, 0], [2, 0]], [1.5, 2.5], [3, 1])
    for x in (
        sparse,
        tf.RaggedTensor.from_sparse(sparse),
    ):
        values, present = as_optional_scalar(x, "x")
        np.testing.assert_array_equal(values, expected_values)
        np.testing.assert_array_equal(present, expected_present)
    for x in (tf.constant([1.5, 0.0, 2.5]), tf.constant([[1.5], [0.0], [2.5]])):
        values, present = as_optional_scalar(x, "x")
        np.testing.assert_array_equal(values, [1.5, 0.0, 2.5])
        np.testing.assert_array_equal(present, [True, True, True])
    with pytest.raises(tf.errors.InvalidArgumentError, match="x: expected at most one value"):
        as_optional_scalar(tf.ragged.constant([[1.0, 2.0], []]), "x")
    with pytest.raises(ValueError, match="x: expected one value per example"):
        as_optional_scalar(tf.zeros([3, 2]), "x")


def test_multi_hot_from_ids_and_from_a_dense_multi_hot():
    ids = tf.ragged.constant([[2, 0, 2], [], [3]], dtype=tf.int64)
    expected = [[1, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 1]]
    np.testing.assert_array_equal(multi_hot(ids, 4, name="labels"), expected)
    np.testing.assert_array_equal(multi_hot(ids.to_sparse(), 4, name="labels"), expected)
    dense = tf.constant([[1, 0, 3, 0], [0, 0, 0, 0], [0, 0, 0, 1]])
    np.testing.assert_array_equal(
        multi_hot(dense, 4, encoding="multi_hot", name="labels"), expected
    )


def test_multi_hot_rejects_bad_ids_and_arguments():
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels: label id >= num_labels"):
        multi_hot(tf.ragged.constant([[1], [4]], dtype=tf.int64), 4, name="labels")
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels: label id < 0"):
        multi_hot(tf.ragged.constant([[-1]], dtype=tf.int64), 4, name="labels")
    with pytest.raises(ValueError, match=r"labels: expected a dense \(B, 4\) multi-hot"):
        multi_hot(tf.zeros([2, 3]), 4, encoding="multi_hot", name="labels")
    with pytest.raises(ValueError, match="encoding must be one of"):
        multi_hot(tf.zeros([2, 4]), 4, encoding="one_hot", name="labels")
    with pytest.raises(ValueError, match="num_labels must be a positive int"):
        multi_hot(tf.zeros([2, 4]), 0, name="labels")


def test_spec_errors_name_the_key():
    tokens = tf.ragged.constant([[1, 2], [3]], dtype=tf.int64)
    # multilabel needs L.
    spec = with_keys(MULTILABEL, label_num_labels=None)
    with pytest.raises(SpecError, match="kind multilabel needs label.num_labels or label.classes"):
        preprocessing_fn(
            {"features": tf.zeros([2, 3]), "labels": tf.ragged.constant([[0], []])}, {"spec": spec}
        )
    with pytest.raises(SpecError, match=r"sequence\.max_length: Input should be greater than"):
        preprocessing_fn(
            {"tokens": tokens, "tags": tokens}, {"spec": {**TAGGING, "sequence": {"max_length": 0}}}
        )
    with pytest.raises(SpecError, match=r"sequence\.max_length_cap"):
        preprocessing_fn(
            {"tokens": tokens, "tags": tokens},
            {"spec": {**TAGGING, "sequence": {"max_length_cap": 0}}},
        )
    with pytest.raises(SpecError, match="length_buckets must be increasing positive ints"):
        spec_of({"spec": {**TAGGING, "sequence": {"length_buckets": [10, 10]}}})
    with pytest.raises(SpecError, match=r"custom_config\['spec'\]: unknown key 'label.colum'"):
        spec_of({"spec": {**PENGUINS, "label": {"colum": "species"}}})
    with pytest.raises(ValueError, match="quantile must be in"):
        analyze_max_length(tf.constant([1, 2]), quantile=1.0)
    with pytest.raises(ValueError, match="cap must be a positive int"):
        analyze_max_length(tf.constant([1, 2]), cap=0)


def test_a_missing_raw_feature_is_named():
    # A feature column: found before any analyzer runs.
    with pytest.raises(ValueError, match="raw feature 'bill_length_mm' not in the inputs"):
        preprocessing_fn({"island": tf.constant(["Biscoe"])}, {"spec": PENGUINS})
    # The label column, after the features' analyzers (which need a graph, not eager).
    with tf.Graph().as_default():
        inputs = {"bill_length_mm": tf.constant([40.0]), "island": tf.constant(["Biscoe"])}
        with pytest.raises(ValueError, match=r"raw feature 'species' not in the inputs \(have"):
            preprocessing_fn(inputs, {"spec": PENGUINS})


def test_num_labels_from_num_labels_or_classes():
    assert num_labels(spec_of({"spec": MULTILABEL})) == 4
    named = with_keys(MULTILABEL, label_num_labels=None, label_classes=["a", "b", "c"])
    assert num_labels(spec_of({"spec": named})) == 3


def test_length_bucket_names():
    lengths = tf.constant([0, 9, 10, 19, 39, 40, 100], tf.int64)
    np.testing.assert_array_equal(
        length_bucket(lengths, [10, 20, 30, 40]).numpy().astype(str),
        ["0-9", "0-9", "10-19", "10-19", "30-39", "40+", "40+"],
    )
    np.testing.assert_array_equal(
        length_bucket(tf.constant([0, 4, 5]), [5]).numpy().astype(str), ["0-4", "0-4", "5+"]
    )
