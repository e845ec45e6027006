"""Model builders. A builder is any function

    build_model(inputs: ModelInputs, outputs: list[Output], **params) -> tf.keras.Model

`inputs.inputs` holds one `tf.keras.Input` per transformed feature the model may read (named
as Transform wrote it, shapes and dtypes set); the model must be built on them (any subset)
and return, for a single output, one tensor, or for several a dict keyed by `Output.name`,
with the activation `Output.activation` names (probabilities for classes, sigmoid scores for
labels, raw values for regression): the losses and TFMA read probabilities, not logits.
The two built-in families below have exactly this signature; a user's `model.builder` in the
spec is the dotted path of another one, called with `model.params`.
"""

import dataclasses

import tensorflow as tf

layers = tf.keras.layers


@dataclasses.dataclass(frozen=True)
class Output:
    """One head. kind: classification (units classes) · multilabel (units labels) · regression
    (1 value) · tagging (units tags per step) · sequence_regression (1 value per step)."""

    name: str
    kind: str
    units: int

    @property
    def activation(self) -> str | None:
        return {"classification": "softmax", "tagging": "softmax", "multilabel": "sigmoid"}.get(
            self.kind
        )


@dataclasses.dataclass(frozen=True)
class ModelInputs:
    """`inputs`: name → Keras Input. `numeric`: names of float inputs, (B,) or (B, D).
    `categorical` / `tokens`: name → number of ids (an Embedding's input_dim; 0 is missing or
    padding). `steps`: the (B, T, F) float input, `mask` its (B, T) 0/1 step mask.
    `max_length`: T for sequence kinds."""

    inputs: dict
    numeric: tuple = ()
    categorical: dict = dataclasses.field(default_factory=dict)
    tokens: dict = dataclasses.field(default_factory=dict)
    steps: str | None = None
    mask: str | None = None
    max_length: int | None = None


def _heads(x, outputs):
    built = {
        out.name: layers.Dense(out.units, activation=out.activation, name=out.name or "outputs")(x)
        for out in outputs
    }
    return built if len(outputs) > 1 else next(iter(built.values()))


def mlp(inputs: ModelInputs, outputs, *, hidden=16, depth=1, embed=None):
    """Tabular features → `depth` ReLU layers of `hidden` units → one dense head per output.

    Numeric inputs are concatenated; each categorical input is one-hot (or, with `embed`,
    embedded in that many dimensions)."""
    parts = []
    for name in inputs.numeric:
        x = inputs.inputs[name]
        parts.append(x[:, None] if x.shape.rank == 1 else x)
    for name, size in inputs.categorical.items():
        ids = inputs.inputs[name]
        if embed:
            parts.append(layers.Embedding(size, embed)(ids))
        else:
            parts.append(layers.CategoryEncoding(num_tokens=size, output_mode="one_hot")(ids))
    x = layers.Concatenate()(parts) if len(parts) > 1 else parts[0]
    for _ in range(depth):
        x = layers.Dense(hidden, activation="relu")(x)
    return tf.keras.Model(inputs.inputs, _heads(x, outputs), name="mlp")


def bigru(inputs: ModelInputs, outputs, *, embed=32, units=32):
    """Sequences → a bidirectional GRU → one value (or a distribution) per step.

    Token ids (B, T) are embedded with `mask_zero`, so the padding mask reaches the loss as
    Keras masking; float steps (B, T, F) are read under their step mask."""
    if inputs.tokens:
        name, size = next(iter(inputs.tokens.items()))
        x = layers.Embedding(size, embed, mask_zero=True)(inputs.inputs[name])
        x = layers.Bidirectional(layers.GRU(units, return_sequences=True))(x)
    else:
        step_mask = layers.Lambda(lambda m: tf.cast(m, tf.bool), name="step_mask")(
            inputs.inputs[inputs.mask]
        )
        x = layers.Bidirectional(layers.GRU(units, return_sequences=True))(
            inputs.inputs[inputs.steps], mask=step_mask
        )
    return tf.keras.Model(inputs.inputs, _heads(x, outputs), name="bigru")


FAMILIES = {"mlp": mlp, "bigru": bigru}
