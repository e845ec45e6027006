"""Bring the tensor forms a raw feature can arrive in to the two shapes the blocks work on.

Transform hands a preprocessing_fn the same logical feature in different forms depending on
the schema: a FixedLen scalar as dense (B,), or (B, 1) once SchemaGen ran with
`infer_feature_shape=True`; a column with missing values as a VarLen `tf.SparseTensor`
(B, <=1); a sequence as a `tf.SparseTensor` or `tf.RaggedTensor` (B, None), or dense (B, K)
when every example happened to have K values. Every block goes through one of the two
functions below, so none of them has to care which form it got.
"""

from typing import NamedTuple

import tensorflow as tf


class OptionalScalar(NamedTuple):
    """One value per example, with the examples that had none marked.

    values:  (B,) the example's value, zero (or "") where it had none.
    present: (B,) bool, False where the example had no value.
    """

    values: tf.Tensor
    present: tf.Tensor


def as_ragged(x, name: str) -> tf.RaggedTensor:
    """Any input form of a per-example list → `tf.RaggedTensor` (B, None), rows in order.

    Dense (B,) is read as one value per example and dense (B, K) as K values per example;
    a `tf.SparseTensor` (B, N) keeps each row's values in index order (as VarLen parsing
    produces them), dropping the implicit zeros.
    """
    if isinstance(x, tf.RaggedTensor):
        if x.shape.rank != 2:
            raise ValueError(f"{name}: expected a RaggedTensor of rank 2, got shape {x.shape}")
        return x
    if isinstance(x, tf.SparseTensor):
        if x.shape.rank != 2:
            raise ValueError(f"{name}: expected a SparseTensor of rank 2, got shape {x.shape}")
        return tf.RaggedTensor.from_sparse(x)
    x = tf.convert_to_tensor(x)
    if x.shape.rank == 1:
        return tf.RaggedTensor.from_tensor(x[:, tf.newaxis])
    if x.shape.rank == 2:
        return tf.RaggedTensor.from_tensor(x)
    raise ValueError(f"{name}: expected a tensor of rank 1 or 2, got shape {x.shape}")


def as_optional_scalar(x, name: str) -> OptionalScalar:
    """Any input form of a scalar feature → (values (B,), present (B,)).

    Dense inputs are present everywhere; a VarLen (sparse or ragged) input is missing in
    the rows without a value. A row with more than one value is an error rather than being
    silently cut to its first value.
    """
    if not isinstance(x, tf.SparseTensor | tf.RaggedTensor):
        x = tf.convert_to_tensor(x)
        if x.shape.rank == 2 and x.shape[1] == 1:
            x = x[:, 0]
        if x.shape.rank != 1:
            raise ValueError(
                f"{name}: expected one value per example (shape (B,) or (B, 1)), got {x.shape}"
            )
        return OptionalScalar(x, tf.ones_like(x, dtype=tf.bool))
    rows = as_ragged(x, name)
    lengths = rows.row_lengths()
    check = tf.debugging.assert_less_equal(
        lengths,
        tf.constant(1, lengths.dtype),
        message=f"{name}: expected at most one value per example",
    )
    with tf.control_dependencies([check]):
        values = rows[:, :1].to_tensor(shape=[None, 1])[:, 0]
    return OptionalScalar(values, lengths > 0)
