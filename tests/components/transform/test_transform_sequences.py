"""Padding through tf.Transform (fixed and analysed T), and the tagging / sequence_regression
kinds of the spec-driven preprocessing_fn."""

import numpy as np
import pytest
import tensorflow as tf

from components.transform import (
    PAD_ID,
    TAG_PAD_ID,
    UNKNOWN_LABEL_ID,
    analyze_max_length,
    as_ragged,
    pad,
    preprocessing_fn,
    read_vocabulary_counts,
    token_ids,
    token_vocab_size,
)

CORRELATION_INPUTS = ("x0", "x1", "x2", "x3", "x4")
TOKEN_VOCAB = "x_tokens"  # the vocabulary file is named as the output


def tagging_spec(**sequence) -> dict:
    return {
        "name": "tagging",
        "kind": "tagging",
        "label": {"column": "tags", "classes": [0, 1, 2]},  # tag id == the raw tag
        "features": {"tokens": ["tokens"]},
        "sequence": sequence,
    }


def with_spec(spec):
    """The preprocessing_fn as TFX's Transform calls it, custom_config bound."""
    return lambda inputs: preprocessing_fn(inputs, {"spec": spec})


# Lengths 0..10: the median is 2, the maximum 10.
LENGTHS = [0, 1, 2, 2, 2, 2, 2, 2, 3, 5, 8, 10]


def sequences(rng, high=50):
    return [rng.integers(0, high, n).tolist() for n in LENGTHS]


def numpy_pad(rows, max_length, pad_value, truncate):
    """Reference: (values, mask, length) of `pad`."""
    values = np.full((len(rows), max_length), pad_value)
    mask = np.zeros((len(rows), max_length), np.float32)
    for i, row in enumerate(rows):
        kept = row[:max_length] if truncate == "post" else row[max(len(row) - max_length, 0) :]
        values[i, : len(kept)] = kept
        mask[i, : len(kept)] = 1.0
    return values, mask, np.array([len(row) for row in rows])


@pytest.mark.parametrize("truncate", ["post", "pre"])
@pytest.mark.parametrize("max_length", [1, 3, 12])
def test_pad_matches_numpy_for_every_input_form(rng, truncate, max_length):
    rows = sequences(rng)
    ragged = tf.ragged.constant(rows, dtype=tf.int64)
    expected = numpy_pad(rows, max_length, -1, truncate)
    for x in (ragged, ragged.to_sparse()):
        padded = pad(as_ragged(x, "seq"), max_length, pad_value=-1, truncate=truncate)
        for got, want in zip(padded, expected, strict=True):
            np.testing.assert_array_equal(got, want)
        assert padded.values.shape == (len(rows), max_length)


def test_dense_inputs_are_sequences_of_their_width():
    one = pad(as_ragged(tf.constant([4, 5]), "seq"), 2, pad_value=0)
    np.testing.assert_array_equal(one.values, [[4, 0], [5, 0]])
    np.testing.assert_array_equal(one.length, [1, 1])
    wide = pad(as_ragged(tf.constant([[1, 2, 3], [4, 5, 6]]), "seq"), 2, pad_value=0)
    np.testing.assert_array_equal(wide.values, [[1, 2], [4, 5]])
    np.testing.assert_array_equal(wide.length, [3, 3])


def test_unknown_truncate_end_is_a_clear_error():
    with pytest.raises(ValueError, match="truncate must be one of"):
        pad(tf.ragged.constant([[1]]), 2, pad_value=0, truncate="middle")


def check_padded(run, prefix, rows, max_length, pad_value, truncate):
    values, mask, length = numpy_pad(rows, max_length, pad_value, truncate)
    np.testing.assert_array_equal(run.column(f"{prefix}_values"), values)
    np.testing.assert_array_equal(run.column(f"{prefix}_mask"), mask)
    np.testing.assert_array_equal(run.column(f"{prefix}_length"), length)
    # An analysed T is static by the final trace, so the Trainer reads FixedLen [T].
    assert run.output_spec()[f"{prefix}_values"] == tf.io.FixedLenFeature([max_length], tf.int64)


def padding_fn(inputs):
    rows = as_ragged(inputs["seq"], "seq")
    lengths = rows.row_lengths()
    max_lengths = {
        "fixed": 3,
        "max": analyze_max_length(lengths, name="max"),
        "median": analyze_max_length(lengths, quantile=0.5, name="median"),
        "capped": analyze_max_length(lengths, cap=4, name="capped"),
    }
    outputs = {}
    for name, max_length in max_lengths.items():
        for truncate in ("post", "pre"):
            padded = pad(rows, max_length, pad_value=-7, truncate=truncate)
            outputs[f"{name}_{truncate}_values"] = padded.values
            outputs[f"{name}_{truncate}_mask"] = padded.mask
            outputs[f"{name}_{truncate}_length"] = padded.length
    return outputs


def numpy_bucket(length, edges=(10, 20, 30, 40)):
    """Reference for length_bucket: "0-9", "10-19", …, "40+"."""
    starts = (0, *edges)
    for start, end in zip(starts, edges, strict=False):
        if length < end:
            return f"{start}-{end - 1}"
    return f"{edges[-1]}+"


def test_pad_fixed_and_analysed_lengths(run_transform, rng):
    rows = sequences(rng)
    run = run_transform(
        padding_fn, [{"seq": row} for row in rows], {"seq": tf.io.VarLenFeature(tf.int64)}
    )
    for name, max_length in {"fixed": 3, "max": 10, "median": 2, "capped": 4}.items():
        for truncate in ("post", "pre"):
            check_padded(run, f"{name}_{truncate}", rows, max_length, -7, truncate)
    run.assert_serving_matches()


def test_tagging_quantile_length_and_pre_truncation(run_transform, rng):
    tokens = sequences(rng, high=8)
    tags = sequences(rng, high=3)
    spec = tagging_spec(max_length_quantile=0.5, truncate="pre")
    run = run_transform(
        with_spec(spec),
        [{"tokens": t, "tags": s} for t, s in zip(tokens, tags, strict=True)],
        {"tokens": tf.io.VarLenFeature(tf.int64), "tags": tf.io.VarLenFeature(tf.int64)},
        ragged=("tokens", "tags"),
    )

    assert run.output_spec() == {
        "x_tokens": tf.io.FixedLenFeature([2], tf.int64),
        "label": tf.io.FixedLenFeature([2], tf.int64),
        "mask": tf.io.FixedLenFeature([2], tf.float32),
        "length": tf.io.FixedLenFeature([], tf.int64),
        "length_bucket": tf.io.FixedLenFeature([], tf.string),
    }
    vocabulary = [int(token) for token in run.output.vocabulary_by_name(TOKEN_VOCAB)]
    assert sorted(vocabulary) == sorted({t for row in tokens for t in row})
    token_id = {token: index + 1 for index, token in enumerate(vocabulary)}  # 0 = padding
    ids = [[token_id[t] for t in row] for row in tokens]
    values, mask, length = numpy_pad(ids, 2, PAD_ID, "pre")
    np.testing.assert_array_equal(run.column("x_tokens"), values)
    np.testing.assert_array_equal(run.column("mask"), mask)
    np.testing.assert_array_equal(run.column("length"), length)
    np.testing.assert_array_equal(run.column("label"), numpy_pad(tags, 2, TAG_PAD_ID, "pre")[0])
    assert token_vocab_size(run.output, TOKEN_VOCAB) == len(vocabulary) + 2  # padding and OOV
    expected_buckets = [numpy_bucket(n) for n in length]
    assert [b.decode() for b in run.column("length_bucket")] == expected_buckets

    run.assert_serving_matches()
    # Serving requests carry no tags: the token features must not depend on them.
    served = run.serve(drop=("tags",))
    for name in ("x_tokens", "mask", "length", "length_bucket"):
        np.testing.assert_array_equal(served[name], run.column(name), err_msg=name)


def test_correlation_z_scores_real_steps_and_pads_y_with_mask_value(run_transform, rng):
    channels = {
        name: [rng.normal(3.0, 2.0, n).tolist() for n in LENGTHS] for name in CORRELATION_INPUTS
    }
    targets = [rng.normal(size=n).tolist() for n in LENGTHS]
    rows = [
        {"y": targets[i], **{name: channels[name][i] for name in CORRELATION_INPUTS}}
        for i in range(len(LENGTHS))
    ]
    feature_spec = {name: tf.io.VarLenFeature(tf.float32) for name in (*CORRELATION_INPUTS, "y")}
    spec = {
        "name": "correlation",
        "kind": "sequence_regression",
        "label": {"column": "y"},
        "features": {"steps": list(CORRELATION_INPUTS)},
        "sequence": {"max_length": 4, "length_buckets": [2, 5]},
    }
    run = run_transform(with_spec(spec), rows, feature_spec)

    assert run.output_spec() == {
        "x_steps": tf.io.FixedLenFeature([4, 5], tf.float32),
        "label": tf.io.FixedLenFeature([4], tf.float32),
        "mask": tf.io.FixedLenFeature([4], tf.float32),
        "length": tf.io.FixedLenFeature([], tf.int64),
        "length_bucket": tf.io.FixedLenFeature([], tf.string),
    }
    x = run.column("x_steps")
    for channel, name in enumerate(CORRELATION_INPUTS):
        steps = np.concatenate(channels[name])
        scaled = [((np.array(row) - steps.mean()) / steps.std()).tolist() for row in channels[name]]
        np.testing.assert_allclose(x[..., channel], numpy_pad(scaled, 4, 0.0, "post")[0], atol=1e-5)
    values, mask, length = numpy_pad(targets, 4, -9999.0, "post")
    np.testing.assert_allclose(run.column("label"), values, rtol=1e-6)
    np.testing.assert_array_equal(run.column("mask"), mask)
    np.testing.assert_array_equal(run.column("length"), length)
    # The spec's length_buckets edges name the slices.
    expected_buckets = [numpy_bucket(n, edges=(2, 5)) for n in length]
    assert [b.decode() for b in run.column("length_bucket")] == expected_buckets

    run.assert_serving_matches()
    served = run.serve(drop=("y",))
    for name in ("x_steps", "mask", "length", "length_bucket"):
        np.testing.assert_array_equal(served[name], run.column(name), err_msg=name)


def test_tag_ids_without_classes_follow_the_tag_vocabulary(run_transform):
    # String tags, no label.classes: ids are positions in tf.Transform's vocabulary of the
    # tags (most frequent first, ties in decreasing byte order), stored as "label".
    tokens = [["a", "b", "c"], ["a"], ["b", "b"], []]
    tags = [["N", "V", "N"], ["D"], ["N", "V"], []]
    spec = {**tagging_spec(max_length=3), "label": {"column": "tags"}}
    run = run_transform(
        with_spec(spec),
        [{"tokens": t, "tags": s} for t, s in zip(tokens, tags, strict=True)],
        {"tokens": tf.io.VarLenFeature(tf.string), "tags": tf.io.VarLenFeature(tf.string)},
        ragged=("tokens", "tags"),
    )
    counts = read_vocabulary_counts(run.output, "label")
    assert counts == {"N": 3, "V": 2, "D": 1}
    names = list(counts)
    assert names == ["N", "V", "D"]  # most frequent first
    tag_id = {tag: index for index, tag in enumerate(names)}
    expected = numpy_pad([[tag_id[t] for t in row] for row in tags], 3, TAG_PAD_ID, "post")[0]
    np.testing.assert_array_equal(run.column("label"), expected)
    run.assert_serving_matches()
    # A tag the analysis never saw is unknown, the same id as padding (the loss skips both).
    served = run.serve([run.example({"tokens": ["a", "b"], "tags": ["N", "X"]})])
    assert TAG_PAD_ID == UNKNOWN_LABEL_ID
    np.testing.assert_array_equal(served["label"], [[tag_id["N"], UNKNOWN_LABEL_ID, TAG_PAD_ID]])


def words_fn(inputs):
    """String tokens: vocabulary ids (0 kept for padding) padded to T = 3, the last 3 kept."""
    ids = token_ids(as_ragged(inputs["words"], "words"), vocab_name="words")
    padded = pad(ids, 3, pad_value=PAD_ID, truncate="pre")
    return {"word_ids": padded.values, "mask": padded.mask, "length": padded.length}


def test_string_tokens_get_vocabulary_ids_and_padding(run_transform):
    rows = [[], ["the"], ["the", "cat"], ["a", "cat", "sat", "on", "the", "mat"], ["the", "dog"]]
    run = run_transform(
        words_fn,
        [{"words": row} for row in rows],
        {"words": tf.io.VarLenFeature(tf.string)},
    )
    vocabulary = [t.decode() for t in run.output.vocabulary_by_name("words")]
    assert vocabulary[:2] == ["the", "cat"]  # most frequent first
    assert sorted(vocabulary) == sorted({w for row in rows for w in row})
    word_id = {word: index + 1 for index, word in enumerate(vocabulary)}  # 0 = padding
    values, mask, length = numpy_pad([[word_id[w] for w in row] for row in rows], 3, PAD_ID, "pre")
    np.testing.assert_array_equal(run.column("word_ids"), values)
    np.testing.assert_array_equal(run.column("mask"), mask)
    np.testing.assert_array_equal(run.column("length"), length)
    # A word the analysis never saw gets the out-of-vocabulary id at serving time.
    unseen = run.serve([run.example({"words": ["the", "zebra"]})])
    np.testing.assert_array_equal(unseen["word_ids"], [[word_id["the"], len(vocabulary) + 1, 0]])
    run.assert_serving_matches()
