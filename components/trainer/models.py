"""Keras model builders, one per task shape. They take sizes, not TFX objects."""

import tensorflow as tf

layers = tf.keras.layers


def _numeric_and_categorical(numeric_keys, categorical_sizes):
    inputs = {key: tf.keras.Input(shape=(), name=key, dtype=tf.float32) for key in numeric_keys}
    parts = [tf.stack([inputs[k] for k in numeric_keys], axis=-1)] if numeric_keys else []
    for key, size in categorical_sizes.items():
        inputs[key] = tf.keras.Input(shape=(), name=key, dtype=tf.int64)
        parts.append(layers.CategoryEncoding(num_tokens=size, output_mode="one_hot")(inputs[key]))
    return inputs, layers.Concatenate()(parts) if len(parts) > 1 else parts[0]


def classifier(numeric_keys, categorical_sizes, num_classes, hidden=16):
    """Features → MLP → softmax over `num_classes` (B, C)."""
    inputs, x = _numeric_and_categorical(numeric_keys, categorical_sizes)
    x = layers.Dense(hidden, activation="relu")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return tf.keras.Model(inputs, outputs, name="classifier")


def two_heads(numeric_keys, categorical_sizes, num_classes, hidden=16):
    """Shared trunk with a softmax head (B, C) and a regression head (B, 1)."""
    inputs, x = _numeric_and_categorical(numeric_keys, categorical_sizes)
    x = layers.Dense(hidden, activation="relu")(x)
    outputs = {
        "species": layers.Dense(num_classes, activation="softmax", name="species")(x),
        "body_mass": layers.Dense(1, name="body_mass")(x),
    }
    return tf.keras.Model(inputs, outputs, name="two_heads")


def sequence_tagger(max_length, num_tokens, num_tags, embed=32, units=32):
    """Token ids (B, T), 0 = padding → per-token tag probabilities (B, T, S).

    `mask_zero` carries the padding mask down to the loss as Keras masking.
    """
    tokens = tf.keras.Input(shape=(max_length,), name="token_ids", dtype=tf.int64)
    x = layers.Embedding(num_tokens, embed, mask_zero=True)(tokens)
    x = layers.Bidirectional(layers.GRU(units, return_sequences=True))(x)
    outputs = layers.Dense(num_tags, activation="softmax", name="tag_probabilities")(x)
    return tf.keras.Model({"token_ids": tokens}, outputs, name="sequence_tagger")


def sequence_regressor(max_length, num_channels, units=32):
    """Inputs (B, T, F) and a step mask (B, T) → one value per step (B, T, 1)."""
    x_in = tf.keras.Input(shape=(max_length, num_channels), name="x", dtype=tf.float32)
    mask = tf.keras.Input(shape=(max_length,), name="mask", dtype=tf.float32)
    step_mask = layers.Lambda(lambda m: tf.cast(m, tf.bool), name="step_mask")(mask)
    x = layers.Bidirectional(layers.GRU(units, return_sequences=True))(x_in, mask=step_mask)
    outputs = layers.Dense(1, name="y_hat")(x)
    return tf.keras.Model({"x": x_in, "mask": mask}, outputs, name="sequence_regressor")


def multilabel_scorer(num_features, num_labels, hidden=64):
    """Features (B, D) → one sigmoid score per label (B, L); higher means more relevant."""
    features = tf.keras.Input(shape=(num_features,), name="features_z", dtype=tf.float32)
    x = layers.Dense(hidden, activation="relu")(features)
    outputs = layers.Dense(num_labels, activation="sigmoid", name="label_scores")(x)
    return tf.keras.Model({"features_z": features}, outputs, name="multilabel_scorer")
