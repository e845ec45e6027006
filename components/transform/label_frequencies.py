"""Multi-label targets: a dense multi-hot (B, L) and per-label positive weights.

Counts: `tft.vocabulary(..., store_frequency=True)` over, per example, the ids of its
positive labels (each once, as text "0".."L−1") plus the token EXAMPLES_TOKEN, stores
"count token" lines under `vocab_name`: n_pos_l for every label seen positive and the number
of examples n. `read_pos_weight` turns them into

  pos_weight_l = n_neg_l / n_pos_l,   n_neg_l = n − n_pos_l,

the weight of the positive term of WeightedBinaryCrossentropy, through the pure function
`pos_weight_from_counts`. A label never positive (n_pos_l = 0) or never negative
(n_neg_l = 0) has no balance to restore and gets 1.0, the unweighted loss.
"""

import tensorflow as tf
import tensorflow_transform as tft

from components.transform.inputs import as_ragged
from components.transform.vocabulary import read_vocabulary_counts

ENCODINGS = ("ids", "multi_hot")
EXAMPLES_TOKEN = "__examples__"


def multi_hot(labels, num_labels: int, *, encoding: str = "ids", name: str) -> tf.Tensor:
    """Multi-label targets → (B, L) float32 multi-hot, L = `num_labels`.

    encoding="ids":       a list of positive label ids in [0, L) per example (VarLen sparse,
                          ragged or dense), possibly empty; repeats count once. An id
                          outside [0, L) is an error naming the feature.
    encoding="multi_hot": dense (B, L) of 0/1 (any value > 0 is positive).
    """
    _validate_num_labels(num_labels)
    if encoding == "multi_hot":
        dense = tf.convert_to_tensor(labels)
        if dense.shape.rank != 2 or dense.shape[1] != num_labels:
            raise ValueError(
                f"{name}: expected a dense (B, {num_labels}) multi-hot, got {dense.shape}"
            )
        return tf.cast(dense > 0, tf.float32)
    if encoding != "ids":
        raise ValueError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    rows = as_ragged(labels, name)
    ids = tf.cast(rows.flat_values, tf.int64)
    checks = [
        tf.debugging.assert_non_negative(ids, message=f"{name}: label id < 0"),
        tf.debugging.assert_less(
            ids, tf.constant(num_labels, tf.int64), message=f"{name}: label id >= num_labels"
        ),
    ]
    with tf.control_dependencies(checks):
        indices = tf.stack([rows.value_rowids(), ids], axis=1)
    batch_size = rows.nrows(out_type=tf.int64)
    hits = tf.scatter_nd(indices, tf.ones_like(ids, tf.float32), [batch_size, num_labels])
    return tf.minimum(hits, 1.0)


def count_positives(multi_hot_labels: tf.Tensor, *, vocab_name: str) -> None:
    """Store n_pos_l and n of a (B, L) multi-hot under `vocab_name` (see the module doc)."""
    positive = tf.where(multi_hot_labels > 0)
    tokens = tf.concat(
        [
            tf.strings.as_string(positive[:, 1]),
            tf.fill(tf.shape(multi_hot_labels)[:1], EXAMPLES_TOKEN),
        ],
        axis=0,
    )
    tft.vocabulary(tokens, vocab_filename=vocab_name, store_frequency=True, name=vocab_name)


def pos_weight_from_counts(positive_counts, num_examples) -> tf.Tensor:
    """n_pos (L,) and n (scalar) → pos_weight (L,) float32; formula in the module doc."""
    positive = tf.cast(positive_counts, tf.float64)
    negative = tf.cast(num_examples, tf.float64) - positive
    balanced = (positive > 0) & (negative > 0)
    ratio = negative / tf.where(balanced, positive, tf.ones_like(positive))
    return tf.cast(tf.where(balanced, ratio, tf.ones_like(ratio)), tf.float32)


def read_pos_weight(
    tf_transform_output: tft.TFTransformOutput, vocab_name: str, num_labels: int
) -> list[float]:
    """pos_weight_l for l = 0..L−1 from a transform output; same `vocab_name` as stored."""
    _validate_num_labels(num_labels)
    counts = read_vocabulary_counts(tf_transform_output, vocab_name)
    positives = [counts.get(str(label), 0) for label in range(num_labels)]
    weights = pos_weight_from_counts(positives, counts.get(EXAMPLES_TOKEN, 0))
    return weights.numpy().tolist()


def _validate_num_labels(num_labels) -> None:
    if isinstance(num_labels, bool) or not isinstance(num_labels, int) or num_labels < 1:
        raise ValueError(f"num_labels must be a positive int, got {num_labels!r}")
