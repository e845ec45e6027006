"""Variable-length sequences → fixed-length dense (B, T) tensors, a 0/1 mask and true lengths.

The Trainer reads every emitted feature as FixedLen, so T has to be a Python int when the
transform graph is finally traced. T is either given, or analysed from the data:
`analyze_max_length` takes the longest sequence (`tft.max`) or a length quantile
(`tft.quantiles`, which caps the few outliers that would otherwise set T), optionally capped.

How an analysed T becomes a static shape: with `force_tf_compat_v1=False` tf.Transform traces
the preprocessing_fn once per analysis phase with placeholders for analyzer outputs, then a
last time with every analyzer output replaced by its computed value as an eager constant,
and infers the output schema from that last trace (schema inference explicitly allows
unknown dimensions before evaluation is complete). `analyze_max_length` therefore returns
a scalar tensor during analysis (the padded shape is (B, None) there) and a Python int in
the final trace (shape (B, T), schema FixedLen [T]). Under `force_tf_compat_v1=True` the
value is never static and the shape stays (B, None), which cannot be FixedLen: pass a fixed T.

One visible side effect in a TFX pipeline (checked with a real Transform component): the
component validates its post-transform statistics against the schema inferred before
analysis, where T is still unknown, so `post_transform_anomalies` flags the padded features
with "Shape.dim.size must be a positive integer". The transformed examples and the
transformed_metadata the Trainer reads are right (FixedLen [T]); a fixed T avoids the flag.
"""

from typing import NamedTuple

import tensorflow as tf
import tensorflow_transform as tft

TRUNCATE_ENDS = ("post", "pre")
# Resolution of `quantile`: tft.quantiles returns num_buckets - 1 boundaries at k/num_buckets.
_QUANTILE_BUCKETS = 1000
_QUANTILE_EPSILON = 1.0 / (10 * _QUANTILE_BUCKETS)


class Padded(NamedTuple):
    """A padded batch of sequences.

    values: (B, T) the first (truncate="post") or last ("pre") T values of each row,
            followed by `pad_value`.
    mask:   (B, T) float32, 1.0 on kept values and 0.0 on padding.
    length: (B,) int64 true length of each row before truncation; `mask` sums to
            min(length, T).
    """

    values: tf.Tensor
    mask: tf.Tensor
    length: tf.Tensor


def analyze_max_length(
    lengths: tf.Tensor,
    *,
    quantile: float | None = None,
    cap: int | None = None,
    name: str = "max_length",
) -> int | tf.Tensor:
    """T over the whole dataset from per-example `lengths` (B,) int64.

    T = max(lengths), or the `quantile` (0.001 <= q <= 0.999, resolution 0.001) of lengths rounded up,
    then limited to `cap` when given, and at least 1 so a dataset of empty sequences still
    gives a usable (B, 1) shape. Returns a Python int once tf.Transform has evaluated the
    analyzer (final trace), a scalar int64 tensor before (see module docstring).
    """
    index = None if quantile is None else round(quantile * _QUANTILE_BUCKETS) - 1
    if index is not None and not 0 <= index < _QUANTILE_BUCKETS - 1:
        raise ValueError(f"quantile must be in [0.001, 0.999], got {quantile!r}")
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
        raise ValueError(f"cap must be a positive int, got {cap!r}")
    with tf.name_scope(name):
        lengths = tf.cast(lengths, tf.int64)
        if index is None:
            raw = tft.max(lengths, name="max")
        else:
            raw = tft.quantiles(
                tf.cast(lengths, tf.float32),
                num_buckets=_QUANTILE_BUCKETS,
                epsilon=_QUANTILE_EPSILON,
                name="quantiles",
            )
        # Read the analyzer output itself: constant folding does not see through later ops.
        known = tf.get_static_value(raw)
        if known is None:
            return _finish_length(raw, index, cap)
        with tf.init_scope():  # the value is known: do the same arithmetic eagerly
            return int(_finish_length(tf.constant(known), index, cap))


def _finish_length(raw: tf.Tensor, index: int | None, cap: int | None) -> tf.Tensor:
    """ceil(max, or quantile boundary `index` of `raw`), limited to [1, cap]; scalar int64."""
    statistic = raw if index is None else raw[0, index]
    length = tf.cast(tf.math.ceil(tf.cast(statistic, tf.float64)), tf.int64)
    length = tf.maximum(length, 1)
    return length if cap is None else tf.minimum(length, cap)


def _truncate(rows: tf.RaggedTensor, max_length: int | tf.Tensor, end: str) -> tf.RaggedTensor:
    """Keep at most `max_length` values per row: the first ("post") or the last ("pre")."""
    if end == "post":
        return rows[:, :max_length]
    if end == "pre":
        lengths = rows.row_lengths()
        drop = tf.maximum(lengths - tf.cast(max_length, lengths.dtype), 0)
        # Value j of row i is kept iff j >= drop_i; ragged slicing only takes one start.
        position = tf.ragged.range(lengths).flat_values
        keep = position >= tf.repeat(drop, lengths)
        return tf.RaggedTensor.from_row_lengths(
            tf.boolean_mask(rows.flat_values, keep), lengths - drop, validate=False
        )
    raise ValueError(f"truncate must be one of {TRUNCATE_ENDS}, got {end!r}")


def pad(
    rows: tf.RaggedTensor,
    max_length: int | tf.Tensor,
    *,
    pad_value,
    truncate: str = "post",
) -> Padded:
    """Ragged (B, None) → `Padded` with values (B, T), T = `max_length`; see `Padded`.

    Padding always goes after the kept values; `truncate` only chooses which values survive
    when a row is longer than T: the first T ("post") or the last T ("pre").
    """
    kept = _truncate(rows, max_length, truncate)
    values = kept.to_tensor(
        default_value=tf.constant(pad_value, rows.dtype), shape=_padded_shape(max_length)
    )
    mask = tf.sequence_mask(kept.row_lengths(), max_length, dtype=tf.float32)
    return Padded(values, mask, tf.cast(rows.row_lengths(), tf.int64))


def _padded_shape(max_length: int | tf.Tensor):
    """[None, T] for `RaggedTensor.to_tensor`: static when T is an int."""
    if isinstance(max_length, int):
        return [None, max_length]
    return tf.stack([tf.constant(-1, tf.int64), tf.cast(max_length, tf.int64)])
