"""One preprocessing_fn per task, and the readers the Trainer uses on their transform output.

TFX Transform calls `<task>_preprocessing_fn(inputs, custom_config)` (it binds
custom_config because the parameter is named so); `custom_config` is the JSON-able dict
given to `make_transform`, and the Trainer passes the same dict to the readers here so both
sides agree on vocabulary names and settings. Emitted features (B = batch):

penguins     species_id (B,) int64, example_weight (B,) float32, island_id / sex_id (B,)
             int64 (0 = missing), bill_length_mm_z, bill_depth_mm_z, flipper_length_mm_z,
             body_mass_g_z (B,) float32 (0 = missing)
multitask    as penguins without body_mass_g_z, plus body_mass_target (B,) float32
             (z-scored, 0 = missing) and body_mass_present (B,) float32 0/1
tagging      token_ids (B, T) int64 (0 = padding), tag_ids (B, T) int64 (−1 = padding),
             mask (B, T) float32, length (B,) int64, length_bucket (B,) string ("10-19")
correlation  x (B, T, 5) float32 (z-scored, 0 = padding), y (B, T) float32 (mask_value =
             padding), mask (B, T) float32, length (B,) int64, length_bucket (B,) string
multilabel   features_z (B, D) float32, labels_multi_hot (B, L) float32

custom_config keys (all optional unless stated):
  label_key            penguins/multitask raw label column, default "species"
  class_weight_scheme  balanced | inverse | inverse_sqrt | effective_number, default balanced
  class_weight_beta    β of effective_number, default 0.999
  class_names          explicit classes in id order (default: data order, see class_weights)
  max_length           tagging/correlation T; absent = analysed from the data, then
  max_length_quantile  analyse T as this length quantile instead of the maximum
  max_length_cap       upper bound on an analysed T
  truncate             "post" (keep the first T steps, default) or "pre" (keep the last T)
  length_buckets       tagging/correlation length_bucket edges, default 10, 20, 30, 40
  mask_value           correlation padding of y, default −9999.0
  num_labels           multilabel L (required)
  num_features         multilabel D, when `features` is not parsed with a fixed shape
"""

import tensorflow as tf
import tensorflow_transform as tft

from components.transform.class_weights import (
    DEFAULT_BETA,
    label_features,
    read_class_weight_table,
)
from components.transform.inputs import as_ragged
from components.transform.label_frequencies import count_positives, multi_hot, read_pos_weight
from components.transform.padding import analyze_max_length, pad
from components.transform.scaling import z_score, z_score_steps, z_score_vector
from components.transform.vocabulary import PAD_ID, categorical_ids, token_ids, token_vocab_size

TASKS = ("penguins", "multitask", "tagging", "correlation", "multilabel")

SPECIES_VOCAB = "species"
TOKEN_VOCAB = "tokens"
LABEL_COUNTS_VOCAB = "label_counts"
# The pad_class of MaskedSparseCategoricalCrossentropy for tag_ids.
TAG_PAD_ID = -1
DEFAULT_MASK_VALUE = -9999.0
DEFAULT_LENGTH_BUCKETS = (10, 20, 30, 40)

PENGUIN_MEASUREMENTS = ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g")
PENGUIN_CATEGORIES = ("island", "sex")
CORRELATION_INPUTS = ("x0", "x1", "x2", "x3", "x4")


def penguins_preprocessing_fn(inputs, custom_config=None):
    """Penguins classification: species label and class weight, z-scores, category ids."""
    config = custom_config or {}
    outputs = _species_label(inputs, config)
    for name in PENGUIN_MEASUREMENTS:
        outputs[f"{name}_z"] = z_score(_raw(inputs, name), name=name).value
    outputs.update(_category_ids(inputs))
    return outputs


def multitask_preprocessing_fn(inputs, custom_config=None):
    """Penguins species classification plus body mass regression (target may be missing)."""
    config = custom_config or {}
    outputs = _species_label(inputs, config)
    for name in PENGUIN_MEASUREMENTS:
        if name != "body_mass_g":
            outputs[f"{name}_z"] = z_score(_raw(inputs, name), name=name).value
    body_mass = z_score(_raw(inputs, "body_mass_g"), name="body_mass_g")
    outputs["body_mass_target"] = body_mass.value
    outputs["body_mass_present"] = body_mass.present
    outputs.update(_category_ids(inputs))
    return outputs


def tagging_preprocessing_fn(inputs, custom_config=None):
    """Sequence tagging: token ids padded with 0, tag ids padded with TAG_PAD_ID.

    Everything but `tag_ids` is computed from `tokens` alone. There is deliberately no
    in-graph check that tags and tokens have equal lengths: serving requests carry no tags,
    and the transform layer then feeds a placeholder tag list that such a check would
    reject. `pipelines.contracts` checks the lengths on the data instead, naming the record.
    """
    config = custom_config or {}
    tokens = as_ragged(_raw(inputs, "tokens"), "tokens")
    lengths = tokens.row_lengths()
    max_length = _max_length(lengths, config)
    truncate = config.get("truncate", "post")
    padded_tokens = pad(
        token_ids(tokens, vocab_name=TOKEN_VOCAB), max_length, pad_value=PAD_ID, truncate=truncate
    )
    tags = as_ragged(_raw(inputs, "tags"), "tags")
    padded_tags = pad(tf.cast(tags, tf.int64), max_length, pad_value=TAG_PAD_ID, truncate=truncate)
    return {
        "token_ids": padded_tokens.values,
        "tag_ids": padded_tags.values,
        "mask": padded_tokens.mask,
        "length": padded_tokens.length,
        "length_bucket": length_bucket(padded_tokens.length, config),
    }


def correlation_preprocessing_fn(inputs, custom_config=None):
    """Sequence regression: 5 z-scored input channels and a target padded with mask_value.

    The inputs, mask and length come from the channels alone (serving carries no `y`).
    Equal lengths of the channels and `y` are checked on the data by `pipelines.contracts`
    (see tagging for why not in the graph).
    """
    config = custom_config or {}
    channels = [as_ragged(_raw(inputs, name), name) for name in CORRELATION_INPUTS]
    reference = channels[0]
    max_length = _max_length(reference.row_lengths(), config)
    truncate = config.get("truncate", "post")
    padded_channels = [
        pad(z_score_steps(channel, name=name), max_length, pad_value=0.0, truncate=truncate)
        for name, channel in zip(CORRELATION_INPUTS, channels, strict=True)
    ]
    target = as_ragged(_raw(inputs, "y"), "y")
    padded_target = pad(
        tf.cast(target, tf.float32),
        max_length,
        pad_value=float(config.get("mask_value", DEFAULT_MASK_VALUE)),
        truncate=truncate,
    )
    return {
        "x": tf.stack([channel.values for channel in padded_channels], axis=-1),
        "y": padded_target.values,
        "mask": padded_channels[0].mask,
        "length": padded_channels[0].length,
        "length_bucket": length_bucket(padded_channels[0].length, config),
    }


def multilabel_preprocessing_fn(inputs, custom_config=None):
    """Multi-label classification: z-scored feature vector and multi-hot labels."""
    config = custom_config or {}
    features = _raw(inputs, "features")
    labels = multi_hot(_raw(inputs, "labels"), _num_labels(config), name="labels")
    count_positives(labels, vocab_name=LABEL_COUNTS_VOCAB)
    return {
        "features_z": z_score_vector(features, _num_features(features, config), name="features"),
        "labels_multi_hot": labels,
    }


def read_species_class_weights(
    tf_transform_output: tft.TFTransformOutput, custom_config=None
) -> tuple[list[str], list[float]]:
    """penguins/multitask: (class names in species_id order, class weights)."""
    config = custom_config or {}
    return read_class_weight_table(
        tf_transform_output,
        SPECIES_VOCAB,
        scheme=config.get("class_weight_scheme", "balanced"),
        beta=config.get("class_weight_beta", DEFAULT_BETA),
        class_names=config.get("class_names"),
    )


def read_multilabel_pos_weight(
    tf_transform_output: tft.TFTransformOutput, custom_config=None
) -> list[float]:
    """multilabel: pos_weight for label ids 0..L−1."""
    return read_pos_weight(
        tf_transform_output, LABEL_COUNTS_VOCAB, _num_labels(custom_config or {})
    )


def read_tagging_vocab_size(tf_transform_output: tft.TFTransformOutput) -> int:
    """tagging: number of token ids, padding and OOV included (an embedding's input_dim)."""
    return token_vocab_size(tf_transform_output, TOKEN_VOCAB)


def _species_label(inputs, config) -> dict:
    label_key = config.get("label_key", "species")
    label = label_features(
        _raw(inputs, label_key),
        vocab_name=SPECIES_VOCAB,
        scheme=config.get("class_weight_scheme", "balanced"),
        beta=config.get("class_weight_beta", DEFAULT_BETA),
        class_names=config.get("class_names"),
    )
    return {"species_id": label.label_id, "example_weight": label.example_weight}


def _category_ids(inputs) -> dict:
    return {
        f"{name}_id": categorical_ids(_raw(inputs, name), vocab_name=name)
        for name in PENGUIN_CATEGORIES
    }


def _raw(inputs, name: str):
    if name not in inputs:
        raise ValueError(f"raw feature {name!r} not in the inputs (have {sorted(inputs)})")
    return inputs[name]


def length_bucket(lengths, config) -> tf.Tensor:
    """(B,) string slice of the true length for TFMA: "0-9", "10-19", …, "40+" with the
    bucket edges from custom_config["length_buckets"] (default 10, 20, 30, 40)."""
    edges = [int(e) for e in config.get("length_buckets", DEFAULT_LENGTH_BUCKETS)]
    if not edges or edges != sorted(set(edges)) or edges[0] <= 0:
        raise ValueError(f"length_buckets must be increasing positive ints, got {edges!r}")
    starts = [0, *edges]
    names = [f"{a}-{b - 1}" for a, b in zip(starts, edges, strict=False)] + [f"{edges[-1]}+"]
    index = tf.raw_ops.Bucketize(
        input=tf.cast(lengths, tf.int64), boundaries=[float(e) for e in edges]
    )
    return tf.gather(tf.constant(names), index)


def _max_length(lengths, config) -> int | tf.Tensor:
    """T: custom_config["max_length"], else analysed (quantile / cap from custom_config)."""
    fixed = config.get("max_length")
    if fixed is None:
        return analyze_max_length(
            lengths,
            quantile=config.get("max_length_quantile"),
            cap=config.get("max_length_cap"),
        )
    if isinstance(fixed, bool) or not isinstance(fixed, int) or fixed < 1:
        raise ValueError(f"custom_config['max_length'] must be a positive int, got {fixed!r}")
    return fixed


def _num_labels(config) -> int:
    if config.get("num_labels") is None:
        raise ValueError("multilabel needs custom_config['num_labels'] (the number of labels L)")
    return config["num_labels"]


def _num_features(features, config) -> int:
    """D from custom_config["num_features"], else from a dense input's static shape."""
    if config.get("num_features") is not None:
        return config["num_features"]
    if isinstance(features, tf.Tensor) and features.shape.rank == 2 and features.shape[1]:
        return features.shape[1]
    raise ValueError(
        "multilabel: `features` has no fixed length in the schema; "
        "set custom_config['num_features'] (D)"
    )
