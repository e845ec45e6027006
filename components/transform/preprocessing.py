"""The one `preprocessing_fn`: a task spec (TFX `custom_config["spec"]`) → transformed features.

Transform calls `preprocessing_fn(inputs, custom_config)`; the spec says which raw columns
play which role, and `components.spec.FeatureNames` derives every output name, so the Trainer
and the Evaluator read the same names from the same spec. Outputs (B = batch, T = steps):

every kind      x_<column> per numeric feature: (B,) float32 z-score, or (B, D) for a
                fixed-length list (each position scaled on its own); 0 = missing
                x_<column> per categorical feature: (B,) int64, 0 = missing, V+1 = unseen
classification  label (B,) int64 class id (−1: missing or unknown class), example_weight
                (B,) float32 from the Transform-built class-weight table (0 for id −1)
multilabel      label (B, L) float32 multi-hot; per-label positive counts stored for
                pos_weight
tagging         x_<tokens> (B, T) int64 token ids (0 = padding), label (B, T) int64 tag
                ids (−1 = padding or unknown tag)
sequence_regr.  x_steps (B, T, F) float32 z-scored steps (0 = padding), label (B, T)
                float32 (sequence.mask_value = padding)
sequence kinds  mask (B, T) float32, length (B,) int64, length_bucket (B,) string
multitask       <head>_label per head: class id (classification, with <head>_weight) or
                z-scored target with <head>_present 0/1 (regression)

Serving requests carry no label columns: everything but the label outputs is computed from
the features alone, so there is deliberately no in-graph check that tags and tokens (or the
target and the steps) have equal lengths; `pipelines.contracts` checks that on the data,
naming the record.
"""

import tensorflow as tf

from components import spec as spec_lib
from components.transform.class_weights import label_features
from components.transform.inputs import as_ragged
from components.transform.label_frequencies import count_positives, multi_hot
from components.transform.padding import analyze_max_length, pad
from components.transform.scaling import z_score, z_score_steps, z_score_vector
from components.transform.vocabulary import PAD_ID, categorical_ids, token_ids

# The pad_class of MaskedSparseCategoricalCrossentropy for tag ids.
TAG_PAD_ID = -1
LABEL_COUNTS_VOCAB = "label_counts"


def spec_of(custom_config) -> spec_lib.TaskSpec:
    """The TaskSpec a component's custom_config carries."""
    if not custom_config or "spec" not in custom_config:
        raise ValueError("custom_config needs 'spec', the task spec (components.spec.TaskSpec)")
    return spec_lib.parse(custom_config["spec"], source="custom_config['spec']")


def preprocessing_fn(inputs, custom_config=None):
    spec = spec_of(custom_config)
    names = spec_lib.FeatureNames.of(spec)
    outputs = _tabular(inputs, spec, names)
    if spec.kind == "classification":
        outputs.update(_class_label(inputs, spec.label, ""))
    elif spec.kind == "multilabel":
        labels = multi_hot(_raw(inputs, spec.label.column), num_labels(spec), name="label")
        count_positives(labels, vocab_name=LABEL_COUNTS_VOCAB)
        outputs[spec_lib.LABEL] = labels
    elif spec.kind == "multitask":
        for head in spec.heads:
            outputs.update(_head(inputs, head))
    else:
        outputs.update(_sequences(inputs, spec, names))
    return outputs


def num_labels(spec: spec_lib.TaskSpec) -> int:
    """multilabel L: label.num_labels, else the number of label.classes."""
    return spec.label.num_labels or len(spec.label.classes)


def _tabular(inputs, spec, names) -> dict:
    outputs = {}
    for column, output in names.numeric.items():
        raw = _raw(inputs, column)
        if isinstance(raw, tf.Tensor) and raw.shape.rank == 2 and (raw.shape[1] or 1) > 1:
            outputs[output] = z_score_vector(raw, raw.shape[1], name=names.base[column])
        else:
            outputs[output] = z_score(raw, name=names.base[column]).value
    for column, output in names.categorical.items():
        outputs[output] = categorical_ids(_raw(inputs, column), vocab_name=names.vocab[column])
    return outputs


def _class_label(inputs, label, head: str) -> dict:
    features = label_features(
        _raw(inputs, label.column),
        vocab_name=spec_lib.head_vocab(head),
        scheme=label.class_weight,
        beta=label.beta,
        class_names=label.class_names,
    )
    weight = f"{head}_weight" if head else spec_lib.EXAMPLE_WEIGHT
    return {spec_lib.head_label(head): features.label_id, weight: features.example_weight}


def _head(inputs, head) -> dict:
    if head.kind == "classification":
        return _class_label(inputs, head, head.name)
    target = z_score(_raw(inputs, head.column), name=spec_lib.head_label(head.name))
    return {
        spec_lib.head_label(head.name): target.value,
        spec_lib.head_present(head.name): target.present,
    }


def _sequences(inputs, spec, names) -> dict:
    seq = spec.sequence
    if spec.kind == "tagging":
        column, output = next(iter(names.tokens.items()))
        rows = as_ragged(_raw(inputs, column), column)
        max_length = _max_length(rows.row_lengths(), seq)
        padded = pad(
            token_ids(rows, vocab_name=names.vocab[column]),
            max_length,
            pad_value=PAD_ID,
            truncate=seq.truncate,
        )
        outputs = {output: padded.values}
        tags = as_ragged(_raw(inputs, spec.label.column), spec.label.column)
        # The tag vocabulary is a class-id table over every real token's tag.
        tag_ids = label_features(
            tags.flat_values,
            vocab_name=spec_lib.LABEL_VOCAB,
            scheme="none",
            class_names=spec.label.class_names,
        ).label_id
        label = pad(
            tags.with_flat_values(tag_ids), max_length, pad_value=TAG_PAD_ID, truncate=seq.truncate
        )
    else:
        channels = [as_ragged(_raw(inputs, column), column) for column in spec.features.steps]
        max_length = _max_length(channels[0].row_lengths(), seq)
        steps = [
            pad(
                z_score_steps(rows, name=names.base[column]),
                max_length,
                pad_value=0.0,
                truncate=seq.truncate,
            )
            for column, rows in zip(spec.features.steps, channels, strict=True)
        ]
        padded = steps[0]
        outputs = {names.steps: tf.stack([s.values for s in steps], axis=-1)}
        target = as_ragged(_raw(inputs, spec.label.column), spec.label.column)
        label = pad(
            tf.cast(target, tf.float32), max_length, pad_value=seq.mask_value, truncate=seq.truncate
        )
    outputs[spec_lib.LABEL] = label.values
    outputs[spec_lib.MASK] = padded.mask
    outputs[spec_lib.LENGTH] = padded.length
    outputs[spec_lib.LENGTH_BUCKET] = length_bucket(padded.length, seq.length_buckets)
    return outputs


def _raw(inputs, name: str):
    if name not in inputs:
        raise ValueError(f"raw feature {name!r} not in the inputs (have {sorted(inputs)})")
    return inputs[name]


def length_bucket(lengths, edges) -> tf.Tensor:
    """(B,) string slice of the true length for TFMA: "0-9", "10-19", …, "40+" for edges
    10, 20, 30, 40 (increasing positive ints, checked by the spec)."""
    edges = [int(e) for e in edges]
    starts = [0, *edges]
    names = [f"{a}-{b - 1}" for a, b in zip(starts, edges, strict=False)] + [f"{edges[-1]}+"]
    index = tf.raw_ops.Bucketize(
        input=tf.cast(lengths, tf.int64), boundaries=[float(e) for e in edges]
    )
    return tf.gather(tf.constant(names), index)


def _max_length(lengths, seq) -> int | tf.Tensor:
    """T: sequence.max_length, else analysed (quantile / cap)."""
    if seq.max_length is not None:
        return seq.max_length
    return analyze_max_length(lengths, quantile=seq.max_length_quantile, cap=seq.max_length_cap)
