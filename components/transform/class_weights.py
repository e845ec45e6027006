"""Class-weight table from label counts that tf.Transform computes over the whole dataset.

Counts: `tft.vocabulary(label, store_frequency=True)` stores "count label" lines in the
transform output under `vocab_name`. That one file is the single source of truth: the
transform graph reads it (through `tft.apply_vocabulary` lookup tables) to emit the label id
and the per-example weight, and `read_class_weight_table` reads it for the Trainer; both
turn counts into weights with the same pure function, `weights_from_counts`.

Label ids (deterministic, and the order of the names `read_class_weight_table` returns):
  * `class_names` given: id = position in `class_names` (for integer labels pass
    `range(C)` to keep id == label).
  * otherwise: tf.Transform's vocabulary order, most frequent label first, ties in
    decreasing byte order of the label's text. The pipelines always pass `class_names`
    (`pipelines.tasks.with_classes` lists them from the data), so this order only applies
    to callers of this block of their own.

Weights, with n_c the count of class c, n = sum n_c, C = number of classes with n_c > 0:
  balanced          n / (C · n_c)                      (scikit-learn's "balanced")
  inverse           1 / n_c             scaled so the weights of the C classes sum to C
  inverse_sqrt      1 / sqrt(n_c)       scaled so the weights of the C classes sum to C
  effective_number  (1 − β) / (1 − β^n_c) scaled so they sum to C (Cui et al., 2019)
  none              1 for every class (the counts are still stored, for the report)
A class in `class_names` that the data never shows (n_c = 0) gets weight 1.0 and does not
count in C, so the other classes get exactly the weights they would get without it.
A label that is missing, or not a class (unseen at analysis time, or outside
`class_names`), gets id UNKNOWN_LABEL_ID (−1) and example weight 0.0: it drops out of any
weighted loss or metric instead of being counted as some real class.
"""

from typing import NamedTuple

import tensorflow as tf
import tensorflow_transform as tft

from components.spec import CLASS_WEIGHTS as SCHEMES
from components.transform.inputs import as_optional_scalar
from components.transform.vocabulary import read_vocabulary_counts

DEFAULT_BETA = 0.999
UNKNOWN_LABEL_ID = -1
# tf.Transform's text vocabulary separates count and token with a space; escape spaces in
# labels the way tft.compute_and_apply_vocabulary does, so the lines parse back unambiguously.
_SPACE = " "
_SPACE_ESCAPE = "__SPACE__"


class LabelFeatures(NamedTuple):
    """label_id: (B,) int64 class id or −1; example_weight: (B,) float32 class weight or 0."""

    label_id: tf.Tensor
    example_weight: tf.Tensor


def validate_scheme(scheme: str, beta: float) -> None:
    """Raise ValueError naming the argument for an unknown scheme or a β outside [0, 1)."""
    if scheme not in SCHEMES:
        raise ValueError(f"class weight scheme must be one of {SCHEMES}, got {scheme!r}")
    if scheme == "effective_number" and not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1) for effective_number, got {beta!r}")


def weights_from_counts(counts, scheme: str = "balanced", beta: float = DEFAULT_BETA) -> tf.Tensor:
    """Per-class counts (C,) → per-class weights (C,) float32; formulas in the module doc.

    Pure TensorFlow: the transform graph and the Trainer call the same function.
    """
    validate_scheme(scheme, beta)
    counts = tf.cast(counts, tf.float64)
    seen = counts > 0
    num_seen = tf.reduce_sum(tf.cast(seen, tf.float64))
    # Zero counts take the value 1 inside the formulas, then are overwritten with weight 1.
    safe = tf.where(seen, counts, tf.ones_like(counts))
    if scheme == "none":
        return tf.ones_like(counts, tf.float32)
    if scheme == "balanced":
        weights = tf.reduce_sum(counts) / (num_seen * safe)
    else:
        if scheme == "inverse":
            raw = 1.0 / safe
        elif scheme == "inverse_sqrt":
            raw = tf.math.rsqrt(safe)
        else:
            raw = (1.0 - beta) / (1.0 - tf.pow(tf.constant(beta, tf.float64), safe))
        raw = tf.where(seen, raw, tf.zeros_like(raw))
        weights = raw * num_seen / tf.reduce_sum(raw)
    return tf.cast(tf.where(seen, weights, tf.ones_like(weights)), tf.float32)


def class_tokens(class_names) -> list[str]:
    """Explicit class names (strings or ints) → the labels' vocabulary tokens, in order."""
    tokens = [str(name).replace(_SPACE, _SPACE_ESCAPE) for name in class_names]
    if not tokens:
        raise ValueError("class_names must not be empty")
    if len(set(tokens)) != len(tokens):
        raise ValueError(f"class_names must be unique, got {list(class_names)!r}")
    return tokens


def label_features(
    labels,
    *,
    vocab_name: str,
    scheme: str = "balanced",
    beta: float = DEFAULT_BETA,
    class_names=None,
) -> LabelFeatures:
    """A string or integer label in any input form → `LabelFeatures`; see the module doc.

    Also stores the label counts under `vocab_name` for `read_class_weight_table`.
    """
    validate_scheme(scheme, beta)
    names = None if class_names is None else tf.constant(class_tokens(class_names))
    values, present = as_optional_scalar(labels, vocab_name)
    if values.dtype != tf.string:
        values = tf.strings.as_string(values)
    tokens = tf.strings.regex_replace(values, _SPACE, _SPACE_ESCAPE)
    counts_file = tft.vocabulary(
        tf.boolean_mask(tokens, present),
        vocab_filename=vocab_name,
        store_frequency=True,
        name=vocab_name,
    )
    if names is None:
        label_id = tft.apply_vocabulary(tokens, counts_file, lookup_fn=_line_number_of_token)
        num_classes = tft.experimental.get_vocabulary_size_by_name(vocab_name)
        counts = tft.apply_vocabulary(
            tf.range(num_classes), counts_file, lookup_fn=_count_of_line_number
        )
    else:
        label_id = _position_in(tokens, names)
        counts = tft.apply_vocabulary(names, counts_file, lookup_fn=_count_of_token)
    label_id = tf.where(present, label_id, tf.constant(UNKNOWN_LABEL_ID, tf.int64))
    weights = weights_from_counts(counts, scheme, beta)
    known = label_id >= 0
    example_weight = tf.where(known, tf.gather(weights, tf.maximum(label_id, 0)), 0.0)
    return LabelFeatures(label_id, example_weight)


def read_class_weight_table(
    tf_transform_output: tft.TFTransformOutput,
    vocab_name: str,
    *,
    scheme: str = "balanced",
    beta: float = DEFAULT_BETA,
    class_names=None,
) -> tuple[list[str], list[float]]:
    """(class names in label-id order, their weights) from a transform output.

    Pass the same `vocab_name`, `scheme`, `beta` and `class_names` as to `label_features`.
    """
    counts_by_token = read_vocabulary_counts(tf_transform_output, vocab_name)
    tokens = list(counts_by_token) if class_names is None else class_tokens(class_names)
    counts = [counts_by_token.get(token, 0) for token in tokens]
    weights = weights_from_counts(tf.constant(counts, tf.int64), scheme, beta)
    names = [token.replace(_SPACE_ESCAPE, _SPACE) for token in tokens]
    return names, weights.numpy().tolist()


def _position_in(tokens: tf.Tensor, names: tf.Tensor) -> tf.Tensor:
    """(B,) index of each token in `names` (C,), or UNKNOWN_LABEL_ID; int64.

    A (B, C) comparison instead of a hash table: C is a handful of classes, and it keeps the
    graph free of a table that would need initialising.
    """
    matches = tf.equal(tokens[:, tf.newaxis], names[tf.newaxis, :])
    position = tf.argmax(tf.cast(matches, tf.int32), axis=1)
    return tf.where(tf.reduce_any(matches, axis=1), position, UNKNOWN_LABEL_ID)


def _text_table(path, key_dtype, key_index, value_index, default_value):
    """A lookup table over a "count token" vocabulary file.

    Built in the outer (eager) context when the file path is already known, as
    `tft.apply_vocabulary` does for its own tables, so the table is initialised once rather
    than on every call of the transform function.
    """

    def build():
        initializer = tf.lookup.TextFileInitializer(
            path,
            key_dtype=key_dtype,
            key_index=key_index,
            value_dtype=tf.int64,
            value_index=value_index,
            delimiter=" ",
        )
        return tf.lookup.StaticHashTable(initializer, default_value)

    if tf.inside_function() and not tf.is_symbolic_tensor(path):
        with tf.init_scope():
            return build()
    return build()


def _line_number_of_token(tokens, path):
    """`lookup_fn` for tft.apply_vocabulary: token → its line (= id), −1 if absent."""
    table = _text_table(path, tf.string, 1, tf.lookup.TextFileIndex.LINE_NUMBER, -1)
    return table.lookup(tokens), table.size()


def _count_of_line_number(line_numbers, path):
    """`lookup_fn` for tft.apply_vocabulary: line number → count on that line."""
    table = _text_table(path, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER, 0, 0)
    return table.lookup(line_numbers), table.size()


def _count_of_token(tokens, path):
    """`lookup_fn` for tft.apply_vocabulary: token → its count, 0 if absent."""
    table = _text_table(path, tf.string, 1, 0, 0)
    return table.lookup(tokens), table.size()
