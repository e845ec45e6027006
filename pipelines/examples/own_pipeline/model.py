"""The user's model builder: `model.builder: pipelines.examples.own_pipeline.model.build_model`.

Called by losskit's run_fn as `build_model(inputs, outputs, **model.params)`: `inputs` is a
`components.trainer.models.ModelInputs` (one Keras Input per transformed feature, vocabulary
sizes of the id features), `outputs` a list of `components.trainer.models.Output` (name,
kind, units, activation). It returns a Keras model built on those inputs whose output has
`Output.activation` (softmax probabilities for a classification, which the losses and TFMA
read).
"""

import tensorflow as tf


def build_model(inputs, outputs, *, units=32, dropout=0.1):
    (head,) = outputs
    x = tf.keras.layers.Concatenate(name="user_features")(
        [inputs.inputs[name][:, None] for name in inputs.numeric]
    )
    x = tf.keras.layers.Dense(units, activation="relu")(x)
    x = tf.keras.layers.Dropout(dropout, name="user_dropout")(x)
    probabilities = tf.keras.layers.Dense(head.units, activation=head.activation)(x)
    return tf.keras.Model(inputs.inputs, probabilities, name="user_model")
