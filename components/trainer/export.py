"""Serving and evaluation signatures: raw serialized tf.Examples in, the transform graph
applied inside the SavedModel, so serving and TFMA see what training saw."""

import tensorflow as tf
import tensorflow_transform as tft


def _examples_spec():
    return tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")


def signatures(model: tf.keras.Model, tft_output: tft.TFTransformOutput, label_keys, feature_keys):
    """`serving_default`: raw examples (labels absent) → predictions.
    `transform_features`: raw examples → transformed features and labels, for TFMA's
    `preprocessing_function_names`.
    """
    model.tft_layer = tft_output.transform_features_layer()
    raw_spec = tft_output.raw_feature_spec()
    serving_spec = {k: v for k, v in raw_spec.items() if k not in label_keys}

    @tf.function(input_signature=[_examples_spec()])
    def serve(examples):
        features = model.tft_layer(tf.io.parse_example(examples, serving_spec))
        outputs = model({k: features[k] for k in feature_keys})
        return outputs if isinstance(outputs, dict) else {"outputs": outputs}

    @tf.function(input_signature=[_examples_spec()])
    def transform_features(examples):
        return model.tft_layer(tf.io.parse_example(examples, raw_spec))

    return {
        "serving_default": serve.get_concrete_function(),
        "transform_features": transform_features.get_concrete_function(),
    }
