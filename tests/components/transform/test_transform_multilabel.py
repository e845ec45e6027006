"""multilabel preprocessing_fn: multi-hot labels, per-position z-scores, pos_weight table."""

import numpy as np
import tensorflow as tf

from components.transform import preprocessing_fn, read_pos_weight
from components.transform.preprocessing import LABEL_COUNTS_VOCAB

NUM_LABELS = 4
# Label 3 is never positive; label 1 is repeated in one example; two examples have none.
LABELS = [[0], [0, 1], [1, 1, 2], [], [0, 2], [0], [], [1]]
SPEC = {
    "name": "multilabel",
    "kind": "multilabel",
    "label": {"column": "labels", "num_labels": NUM_LABELS},
    "features": {"numeric": ["features"]},
}


def test_multi_hot_z_scores_and_pos_weight(run_transform, rng):
    features = rng.normal([0.0, 10.0, -5.0], [1.0, 3.0, 0.5], size=(len(LABELS), 3))
    run = run_transform(
        lambda inputs: preprocessing_fn(inputs, {"spec": SPEC}),
        [
            {"features": f.tolist(), "labels": labels}
            for f, labels in zip(features, LABELS, strict=True)
        ],
        {
            "features": tf.io.FixedLenFeature([3], tf.float32),
            "labels": tf.io.VarLenFeature(tf.int64),
        },
    )

    assert run.output_spec() == {
        "x_features": tf.io.FixedLenFeature([3], tf.float32),
        "label": tf.io.FixedLenFeature([NUM_LABELS], tf.float32),
    }
    multi_hot = np.zeros((len(LABELS), NUM_LABELS), np.float32)
    for row, labels in enumerate(LABELS):
        multi_hot[row, labels] = 1.0
    np.testing.assert_array_equal(run.column("label"), multi_hot)
    np.testing.assert_allclose(
        run.column("x_features"),
        (features - features.mean(axis=0)) / features.std(axis=0),
        atol=1e-5,
    )

    positives = multi_hot.sum(axis=0)
    negatives = len(LABELS) - positives
    expected = np.where(positives > 0, negatives / np.maximum(positives, 1), 1.0)
    assert LABEL_COUNTS_VOCAB == "label_counts"
    np.testing.assert_allclose(
        read_pos_weight(run.output, LABEL_COUNTS_VOCAB, NUM_LABELS), expected
    )
    assert expected[3] == 1.0  # never positive

    run.assert_serving_matches()
    # Serving requests carry no labels: the features do not depend on them.
    served = run.serve(drop=("labels",))
    np.testing.assert_allclose(served["x_features"], run.column("x_features"))
