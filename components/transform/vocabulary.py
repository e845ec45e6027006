"""Vocabulary ids for tokens and categorical features, with id 0 kept for "nothing here".

Both vocabularies are computed by tf.Transform over the whole dataset
(`tft.compute_and_apply_vocabulary`, most frequent first) and stored in the transform
output under `vocab_name`, so the Trainer can size its embeddings from them.
`read_vocabulary_counts` reads back the vocabularies stored with their counts
(`store_frequency=True`), which the class-weight and label-frequency tables are.

Tokens:      0 = padding, 1..V = vocabulary, V+1..V+oov = out-of-vocabulary buckets.
             Shifting the vocabulary by one (rather than reserving a token) keeps id 0
             free whatever the token values are, integer or string.
Categorical: 0 = missing, 1..V = vocabulary, V+1..V+oov = out-of-vocabulary buckets.
             The missing marker is a reserved vocabulary token, so id 0 is the missing
             value even when no training example lacks the feature.
"""

import tensorflow as tf
import tensorflow_transform as tft

from components.transform.inputs import as_optional_scalar

PAD_ID = 0
MISSING_ID = 0
MISSING_TOKEN = "__missing__"
NUM_OOV_BUCKETS = 1


def token_ids(tokens: tf.RaggedTensor, *, vocab_name: str) -> tf.RaggedTensor:
    """Ragged (B, None) string or integer tokens → ragged (B, None) int64 ids in 1..V+oov."""
    ids = tft.compute_and_apply_vocabulary(
        tokens.flat_values,
        num_oov_buckets=NUM_OOV_BUCKETS,
        vocab_filename=vocab_name,
        name=vocab_name,
    )
    return tokens.with_flat_values(ids + 1)


def token_vocab_size(tf_transform_output: tft.TFTransformOutput, vocab_name: str) -> int:
    """Number of distinct token ids, padding included: V + oov + 1 (an embedding's input_dim)."""
    return tf_transform_output.vocabulary_size_by_name(vocab_name) + NUM_OOV_BUCKETS + 1


def categorical_ids(x, *, vocab_name: str) -> tf.Tensor:
    """A string or integer feature, any input form, possibly missing → (B,) int64 ids.

    Ids are 0 for missing, 1..V for the vocabulary and V+1 for values not seen in the
    analysis data. The Trainer gets the number of ids from the transformed schema:
    `tf_transform_output.num_buckets_for_transformed_feature(<output name>)`.
    """
    values, present = as_optional_scalar(x, vocab_name)
    if values.dtype != tf.string:
        values = tf.strings.as_string(values)
    return tft.compute_and_apply_vocabulary(
        tf.where(present, values, MISSING_TOKEN),
        num_oov_buckets=NUM_OOV_BUCKETS,
        vocab_filename=vocab_name,
        reserved_tokens=[MISSING_TOKEN],
        name=vocab_name,
    )


def read_vocabulary_counts(
    tf_transform_output: tft.TFTransformOutput, vocab_name: str
) -> dict[str, int]:
    """{token: count} of a `store_frequency=True` vocabulary, in file (= id) order."""
    path = tf_transform_output.vocabulary_file_by_name(vocab_name)
    if path is None:
        raise ValueError(f"no vocabulary named {vocab_name!r} in the transform output")
    counts = {}
    with tf.io.gfile.GFile(path, "rb") as lines:
        for line in lines:
            count, token = line.rstrip(b"\r\n").split(b" ", 1)
            counts[token.decode("utf-8")] = int(count)
    return counts
