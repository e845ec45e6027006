"""tf.Transform building blocks, the spec-driven preprocessing_fn and the Transform component.

Modules, one idea each: inputs (raw tensor forms), padding, vocabulary, scaling,
class_weights, label_frequencies, preprocessing (the one preprocessing_fn a task spec
drives), component (the TFX component factory).
"""

from components.transform.class_weights import (
    SCHEMES,
    UNKNOWN_LABEL_ID,
    label_features,
    read_class_weight_table,
    weights_from_counts,
)
from components.transform.component import make_transform
from components.transform.inputs import as_optional_scalar, as_ragged
from components.transform.label_frequencies import (
    count_positives,
    multi_hot,
    pos_weight_from_counts,
    read_pos_weight,
)
from components.transform.padding import Padded, analyze_max_length, pad
from components.transform.preprocessing import TAG_PAD_ID, preprocessing_fn
from components.transform.scaling import z_score, z_score_steps, z_score_vector
from components.transform.vocabulary import (
    MISSING_ID,
    PAD_ID,
    categorical_ids,
    read_vocabulary_counts,
    token_ids,
    token_vocab_size,
)

__all__ = [
    "MISSING_ID",
    "PAD_ID",
    "SCHEMES",
    "TAG_PAD_ID",
    "UNKNOWN_LABEL_ID",
    "Padded",
    "analyze_max_length",
    "as_optional_scalar",
    "as_ragged",
    "categorical_ids",
    "count_positives",
    "label_features",
    "make_transform",
    "multi_hot",
    "pad",
    "preprocessing_fn",
    "pos_weight_from_counts",
    "read_class_weight_table",
    "read_pos_weight",
    "read_vocabulary_counts",
    "token_ids",
    "token_vocab_size",
    "weights_from_counts",
    "z_score",
    "z_score_steps",
    "z_score_vector",
]
