"""z-scores whose mean and variance tf.Transform computes over the values actually present.

z = (x − mean) / std with the biased (population) variance of `tft.scale_to_z_score`;
when the analysis data has a single distinct value std is 0 and z = x − mean. A missing
value becomes 0 after scaling, i.e. the mean, and never enters the statistics; for scalar
features a NaN or ±Inf counts as missing (a CSV "nan" must not poison the mean).
"""

from typing import NamedTuple

import tensorflow as tf
import tensorflow_transform as tft

from components.transform.inputs import as_optional_scalar, as_ragged


class ZScored(NamedTuple):
    """value: (B,) float32 z-score, 0.0 where missing; present: (B,) float32 0/1."""

    value: tf.Tensor
    present: tf.Tensor


def z_score(x, *, name: str) -> ZScored:
    """A numeric scalar feature in any input form, possibly missing → `ZScored`."""
    values, present = as_optional_scalar(x, name)
    if values.dtype.is_floating:
        present = tf.logical_and(present, tf.math.is_finite(values))
    where_present = tf.where(present)
    scaled = tft.scale_to_z_score(
        tf.cast(tf.gather_nd(values, where_present), tf.float32), name=name
    )
    value = tf.scatter_nd(where_present, scaled, tf.shape(values, out_type=tf.int64))
    return ZScored(value, tf.cast(present, tf.float32))


def z_score_vector(x, dim: int, *, name: str) -> tf.Tensor:
    """A numeric list feature of exactly `dim` values per example → (B, dim) float32.

    Each of the `dim` positions is scaled with its own mean and variance. An example with
    a different number of values is an error naming the feature.
    """
    rows = as_ragged(x, name)
    lengths = rows.row_lengths()
    check = tf.debugging.assert_equal(
        lengths,
        tf.constant(dim, lengths.dtype),
        message=f"{name}: expected {dim} values per example",
    )
    with tf.control_dependencies([check]):
        dense = tf.cast(rows.to_tensor(shape=[None, dim]), tf.float32)
    return tft.scale_to_z_score(dense, elementwise=True, name=name)


def z_score_steps(rows: tf.RaggedTensor, *, name: str) -> tf.RaggedTensor:
    """Ragged (B, None) numeric sequences → the same rows as float32 z-scores.

    Mean and variance run over every real step of every sequence (padding does not exist
    yet, so it cannot bias them).
    """
    scaled = tft.scale_to_z_score(tf.cast(rows.flat_values, tf.float32), name=name)
    return rows.with_flat_values(scaled)
