"""label_features through tf.Transform: explicit and data-ordered classes, string and int labels;
and the spec's label.classes and class_weight through the preprocessing_fn."""

import numpy as np
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

from components import spec as spec_lib
from components.transform import (
    UNKNOWN_LABEL_ID,
    label_features,
    read_class_weight_table,
    read_vocabulary_counts,
)
from components.transform import (
    preprocessing_fn as spec_preprocessing_fn,
)

ANIMALS = ["cat"] * 5 + ["dog"] * 3 + ["big cat"] * 2 + ["fish"] + [None]
DIGITS = [0, 2, 2, 0, 2, 2, 5, 0, 2, 2, 0, 2]  # class 1 never seen; 5 is not a class
NAMED = ["cat", "dog", "bird", "big cat"]  # "bird" never seen, "fish" not listed
FEATURE_SPEC = {
    "animal": tf.io.VarLenFeature(tf.string),
    "digit": tf.io.FixedLenFeature([], tf.int64),
}


def preprocessing_fn(inputs):
    outputs = {}
    for key, label in {
        "named": label_features(
            inputs["animal"], vocab_name="animal_named", scheme="inverse", class_names=NAMED
        ),
        "by_data": label_features(
            inputs["animal"], vocab_name="animal_by_data", scheme="inverse_sqrt"
        ),
        "digit": label_features(inputs["digit"], vocab_name="digit", class_names=range(3)),
    }.items():
        outputs[f"{key}_id"] = label.label_id
        outputs[f"{key}_weight"] = label.example_weight
    return outputs


def normalised(raw):
    """Scale so the weights sum to the number of classes."""
    return raw * len(raw) / raw.sum()


def expected_example_weights(labels, names, weights):
    by_name = dict(zip(names, weights, strict=True))
    return np.array([by_name.get(label, 0.0) for label in labels])


def test_class_weight_tables_ids_and_example_weights(run_transform):
    rows = [{"animal": a, "digit": d} for a, d in zip(ANIMALS, DIGITS, strict=True)]
    run = run_transform(preprocessing_fn, rows, FEATURE_SPEC)

    # Explicit classes: ids in the given order; unseen "bird" weighs 1.0 and leaves the
    # others as without it; "fish" and the missing label are unknown: id −1, weight 0.
    names, weights = read_class_weight_table(
        run.output, "animal_named", scheme="inverse", class_names=NAMED
    )
    assert names == NAMED
    seen = normalised(1 / np.array([5.0, 3.0, 2.0]))
    np.testing.assert_allclose(weights, [seen[0], seen[1], 1.0, seen[2]], rtol=1e-6)
    expected_ids = [NAMED.index(a) if a in NAMED else UNKNOWN_LABEL_ID for a in ANIMALS]
    np.testing.assert_array_equal(run.column("named_id"), expected_ids)
    np.testing.assert_allclose(
        run.column("named_weight"), expected_example_weights(ANIMALS, names, weights)
    )

    # Classes from the data: most frequent first, spaces in labels round-trip.
    names, weights = read_class_weight_table(run.output, "animal_by_data", scheme="inverse_sqrt")
    assert names == ["cat", "dog", "big cat", "fish"]
    np.testing.assert_allclose(weights, normalised(1 / np.sqrt([5.0, 3.0, 2.0, 1.0])), rtol=1e-6)
    expected_ids = [UNKNOWN_LABEL_ID if a is None else names.index(a) for a in ANIMALS]
    np.testing.assert_array_equal(run.column("by_data_id"), expected_ids)
    np.testing.assert_allclose(
        run.column("by_data_weight"), expected_example_weights(ANIMALS, names, weights)
    )

    # Integer labels with class_names=range(3): id == label; class 1 unseen → 1.0;
    # balanced over the seen classes is scikit-learn's.
    names, weights = read_class_weight_table(run.output, "digit", class_names=range(3))
    assert names == ["0", "1", "2"]
    known = np.array([d for d in DIGITS if d < 3])
    sklearn = compute_class_weight("balanced", classes=np.array([0, 2]), y=known)
    np.testing.assert_allclose(weights, [sklearn[0], 1.0, sklearn[1]], rtol=1e-6)
    np.testing.assert_array_equal(
        run.column("digit_id"), [d if d < 3 else UNKNOWN_LABEL_ID for d in DIGITS]
    )
    np.testing.assert_allclose(
        run.column("digit_weight"), [weights[d] if d < 3 else 0.0 for d in DIGITS], rtol=1e-6
    )

    run.assert_serving_matches()
    # A label first met at serving time is unknown too, not a crash or a NaN.
    served = run.serve([run.example({"animal": "zebra", "digit": 7})])
    for key in ("named", "by_data", "digit"):
        assert served[f"{key}_id"].tolist() == [UNKNOWN_LABEL_ID]
        assert served[f"{key}_weight"].tolist() == [0.0]


def test_spec_classes_fix_ids_and_scheme_none_weighs_one(run_transform):
    # label.classes: id = position in the classes; class_weight none: every known class
    # weighs 1, a missing or unlisted label 0 (id −1); the counts are still stored.
    spec = {
        "name": "animals",
        "kind": "classification",
        "label": {"column": "animal", "classes": NAMED, "class_weight": "none"},
        "features": {"numeric": ["digit"]},
    }
    rows = [{"animal": a, "digit": d} for a, d in zip(ANIMALS, DIGITS, strict=True)]
    run = run_transform(
        lambda inputs: spec_preprocessing_fn(inputs, {"spec": spec}), rows, FEATURE_SPEC
    )

    assert set(run.output_spec()) == {"label", "example_weight", "x_digit"}
    expected_ids = [NAMED.index(a) if a in NAMED else UNKNOWN_LABEL_ID for a in ANIMALS]
    np.testing.assert_array_equal(run.column("label"), expected_ids)
    np.testing.assert_array_equal(
        run.column("example_weight"), [1.0 if i >= 0 else 0.0 for i in expected_ids]
    )
    names, weights = read_class_weight_table(
        run.output, spec_lib.head_vocab(""), scheme="none", class_names=NAMED
    )
    assert names == NAMED
    assert weights == [1.0, 1.0, 1.0, 1.0]
    counts = read_vocabulary_counts(run.output, "label")
    assert counts == {"cat": 5, "dog": 3, "big__SPACE__cat": 2, "fish": 1}

    run.assert_serving_matches()
    served = run.serve([run.example({"animal": "dog", "digit": 0})])
    assert served["label"].tolist() == [NAMED.index("dog")]
    assert served["example_weight"].tolist() == [1.0]
