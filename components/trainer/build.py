"""Spec → what `run_fn` trains: the model on the transformed features, the loss with the
tables tf.Transform derived (class weights, pos_weight), the label split and the metrics.

Nothing here knows a dataset: the inputs are the transformed features `FeatureNames` derives
from the spec, sized from the transform output (vocabulary sizes, sequence length), and the
labels are our own outputs (`label`, `<head>_label`).
"""

import dataclasses
import importlib
import inspect
from collections.abc import Callable

import tensorflow as tf
import tensorflow_transform as tft

import losses
from components import spec as spec_lib
from components.trainer import models
from components.trainer.heads import ScaledLoss
from components.transform.class_weights import read_class_weight_table
from components.transform.label_frequencies import read_pos_weight
from components.transform.preprocessing import LABEL_COUNTS_VOCAB, TAG_PAD_ID, num_labels
from components.transform.vocabulary import token_vocab_size


@dataclasses.dataclass
class Built:
    """What `run_fn` trains and exports.

    `model` is trained. `export_model` (features → predictions) is saved for serving and
    TFMA, compiled with `loss` so the registered losses travel with the SavedModel; it is
    `model` itself unless training needs labels as inputs (balanced heads). `split` maps a
    transformed batch to Keras's (x, y[, sample_weight]). `classes` names each head's class
    (label) ids, for the report.
    """

    model: tf.keras.Model
    loss: object
    metrics: object
    split: Callable
    classes: dict
    export_model: tf.keras.Model | None = None
    callbacks: list = dataclasses.field(default_factory=list)

    def __post_init__(self):
        if self.export_model is None:
            self.export_model = self.model

    @property
    def uses_add_loss(self) -> bool:
        return self.model is not self.export_model


def resolve_loss(loss_spec, kind: str, **derived):
    """`losses.get` on the spec's loss (the kind's default when None), filling the parameters
    the transform output derived (class_weights, pos_weight, pad_class, …) when the loss
    takes them and the user did not set them; for sequence regression a loss without a
    `mask_value` is wrapped in `losses.MaskedStepLoss`. Returns (loss, the derived names it
    took)."""
    name, params, signature = _loss_signature(loss_spec, kind)
    accepted = signature.parameters
    taken = {
        k: v for k, v in derived.items() if k in accepted and k not in params and v is not None
    }
    loss = losses.get({"name": name, "params": {**params, **taken}})
    if kind == "sequence_regression" and "mask_value" not in accepted:
        # A loss that knows nothing of padding (MeanSquaredError, Huber, …) runs on each real
        # step: Keras's own cannot take a (B, T) target with the (B, T) mask of a (B, T, 1) output.
        loss = losses.MaskedStepLoss(loss, mask_value=derived.get("mask_value"))
        taken["mask_value"] = derived.get("mask_value")
    return loss, set(taken)


def _loss_signature(loss_spec, kind: str):
    """(name, the spec's params, the loss class's constructor signature)."""
    name = loss_spec.name if loss_spec else spec_lib.DEFAULT_LOSS[kind]
    params = dict(loss_spec.params) if loss_spec else {}
    return name, params, inspect.signature(losses.registry.loss_class(name))


def builder(spec: spec_lib.TaskSpec):
    """The model builder the spec names: a built-in family or the user's dotted path."""
    if spec.model.builder is None:
        return models.FAMILIES[spec.model_family]
    module_name, _, attr = spec.model.builder.rpartition(".")
    try:
        fn = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"model.builder {spec.model.builder!r} does not import: {err}") from None
    if not callable(fn):
        raise ValueError(f"model.builder {spec.model.builder!r} is not a function")
    return fn


def model_inputs(spec: spec_lib.TaskSpec, tft_output: tft.TFTransformOutput) -> models.ModelInputs:
    """A Keras Input per transformed feature the spec's model reads, shaped from the
    transformed schema and sized from the vocabularies."""
    names = spec_lib.FeatureNames.of(spec)
    feature_spec = tft_output.transformed_feature_spec()

    def keras_input(name):
        feature = feature_spec[name]
        return tf.keras.Input(shape=tuple(feature.shape), name=name, dtype=feature.dtype)

    inputs = {name: keras_input(name) for name in names.inputs}
    tokens = {
        output: token_vocab_size(tft_output, names.vocab[column])
        for column, output in names.tokens.items()
    }
    categorical = {
        output: tft_output.num_buckets_for_transformed_feature(output)
        for output in names.categorical.values()
    }
    sequence = names.steps or next(iter(names.tokens.values()), None)
    return models.ModelInputs(
        inputs=inputs,
        numeric=tuple(names.numeric.values()),
        categorical=categorical,
        tokens=tokens,
        steps=names.steps,
        mask=spec_lib.MASK if names.steps else None,
        max_length=int(feature_spec[sequence].shape[0]) if sequence else None,
    )


def _class_table(tft_output, label, head: str):
    return read_class_weight_table(
        tft_output,
        spec_lib.head_vocab(head),
        scheme=label.class_weight,
        beta=label.beta,
        class_names=label.class_names,
    )


def build(spec: spec_lib.TaskSpec, tft_output: tft.TFTransformOutput) -> Built:
    inputs = model_inputs(spec, tft_output)
    make = builder(spec)
    if spec.kind == "multitask":
        return _multitask(spec, tft_output, inputs, make)
    keys = list(inputs.inputs)
    label = spec.label
    known = None  # drop examples whose class the Transform did not know (id −1)
    weight = None  # a per-example weight to pass when the loss did not take the table
    if spec.kind == "classification":
        classes, weights = _class_table(tft_output, label, "")
        loss, taken = resolve_loss(
            spec.loss, spec.kind, class_weights=list(weights), cost_matrix=label.cost_matrix()
        )
        known = spec_lib.LABEL
        if "class_weights" not in taken and label.class_weight != "none":
            weight = spec_lib.EXAMPLE_WEIGHT
        units = len(classes)
        metrics = [tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    elif spec.kind == "multilabel":
        units = num_labels(spec)
        classes = label.class_names or [str(i) for i in range(units)]
        pos_weight = (
            read_pos_weight(tft_output, LABEL_COUNTS_VOCAB, units)
            if label.pos_weight == "auto"
            else [1.0] * units
        )
        loss, _ = resolve_loss(spec.loss, spec.kind, pos_weight=list(pos_weight))
        # Not multi_label=True: its per-label variables are built on first use, and TFMA
        # cannot restore them when it loads the compiled model.
        metrics = [tf.keras.metrics.AUC(name="micro_auc")]
    elif spec.kind == "tagging":
        classes, _ = _class_table(tft_output, label.model_copy(update={"class_weight": "none"}), "")
        units = len(classes)
        loss, _ = resolve_loss(spec.loss, spec.kind, pad_class=TAG_PAD_ID, ignore_class=TAG_PAD_ID)
        metrics = [
            losses.MaskedSparseCategoricalAccuracy(pad_class=TAG_PAD_ID, name="token_accuracy")
        ]
    else:
        classes, units = [], 1
        mask_value = spec.sequence.mask_value
        loss, _ = resolve_loss(spec.loss, spec.kind, mask_value=mask_value)
        metrics = [
            losses.ConcordanceCorrelation(mask_value=mask_value, name="ccc"),
            losses.PearsonCorrelation(mask_value=mask_value, name="pearson"),
        ]
    model = make(inputs, [models.Output("", spec.kind, units)], **spec.model.params)

    def split(batch):
        if known is not None:
            keep = batch[known] >= 0
            batch = {key: tf.boolean_mask(value, keep) for key, value in batch.items()}
        x = {k: batch[k] for k in keys}
        if weight is None:
            return x, batch[spec_lib.LABEL]
        return x, batch[spec_lib.LABEL], batch[weight]

    return Built(model, loss, metrics, split, classes={"": classes})


def _multitask(spec, tft_output, inputs, make) -> Built:
    """One trunk, a head per spec head; the head losses are tensors in the training model
    (`losses.LossLayer`) so a trainable balancer can weigh them, each optionally warmed up
    by a LossWeightSchedule."""
    outputs, head_losses, metrics, classes, labels, weights = [], {}, {}, {}, {}, {}
    for head in spec.heads:
        label_name = spec_lib.head_label(head.name)
        if head.kind == "classification":
            names, table = _class_table(tft_output, head, head.name)
            loss, taken = resolve_loss(head.loss, head.kind, class_weights=list(table))
            outputs.append(models.Output(head.name, "classification", len(names)))
            classes[head.name] = names
            labels[head.name] = tf.keras.Input(shape=(), name=label_name, dtype=tf.int64)
            if "class_weights" not in taken and head.class_weight != "none":
                weights[head.name] = f"{head.name}_weight"
            metrics[head.name] = [tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        else:
            loss, _ = resolve_loss(head.loss, head.kind)
            outputs.append(models.Output(head.name, "regression", 1))
            labels[head.name] = tf.keras.Input(shape=(1,), name=label_name, dtype=tf.float32)
            weights[head.name] = spec_lib.head_present(head.name)
            metrics[head.name] = [tf.keras.metrics.MeanAbsoluteError(name="mae")]
        head_losses[head.name] = loss
    export = make(inputs, outputs, **spec.model.params)
    predicted, shared = heads_and_trunk(export, spec.balancer)
    weight_inputs = {
        head: tf.keras.Input(shape=(), name=name, dtype=tf.float32)
        for head, name in weights.items()
    }
    terms, callbacks = [], []
    for head in spec.heads:
        args = [labels[head.name], predicted[head.name]]
        if head.name in weight_inputs:
            args.append(weight_inputs[head.name])
        term = losses.LossLayer(head_losses[head.name], name=f"{head.name}_loss")(*args)
        warmup = spec.balancer.warmup.get(head.name)
        if warmup is not None:
            scale = ScaledLoss(warmup.start, name=f"{head.name}_warmup")
            term = scale(term)
            callbacks.append(
                losses.LossWeightSchedule(
                    scale.weight,
                    lambda epoch, w=warmup: min(1.0, w.start + (1.0 - w.start) * epoch / w.epochs),
                    unit="epoch",
                )
            )
        terms.append(term)
    model = tf.keras.Model([export.input, *labels.values(), *weight_inputs.values()], predicted)
    model.add_loss(balance(spec.balancer, terms, [h.name for h in spec.heads], shared))
    if spec.balancer.method in spec_lib.BALANCER_PARAMS:
        callbacks.append(losses.BalancerCallback())
    for head, term in zip(spec.heads, terms, strict=True):
        model.add_metric(term, name=f"{head.name}_loss")
    keys = list(inputs.inputs)
    class_labels = [spec_lib.head_label(h.name) for h in spec.heads if h.kind == "classification"]

    def split(batch):
        # An example whose class a classification head does not know (id −1) cannot train it.
        keep = tf.reduce_all([batch[name] >= 0 for name in class_labels], axis=0)
        batch = {key: tf.boolean_mask(value, keep) for key, value in batch.items()}
        features = {k: batch[k] for k in keys}
        targets = [
            batch[spec_lib.head_label(h.name)]
            if h.kind == "classification"
            else batch[spec_lib.head_label(h.name)][:, None]
            for h in spec.heads
        ]
        return ((features, *targets, *(batch[name] for name in weights.values())),)

    return Built(
        model,
        loss=head_losses,
        metrics=metrics,
        split=split,
        classes=classes,
        export_model=export,
        callbacks=callbacks,
    )


def heads_and_trunk(export: tf.keras.Model, balancer):
    """(the heads of `export` called on its inputs, by name; the trunk output for GradNorm,
    else None). GradNorm differentiates each head's loss at the trunk's output, so heads
    and trunk must come out of one call of the model's layers."""
    if balancer.method != "gradnorm":
        return export(export.input), None
    trunk = tf.keras.Model(export.input, [*export.outputs, losses.last_shared_tensor(export)])
    *heads, shared = trunk(export.input)
    return dict(zip(export.output_names, heads, strict=True)), shared


def _dynamic_balancer(balancer, count: int):
    """The dwa / gradnorm / famo layer the spec names, with its params."""
    layer = {
        "dwa": losses.DynamicWeightAverage,
        "gradnorm": losses.GradNorm,
        "famo": losses.FAMO,
    }[balancer.method]
    return layer(count, **balancer.params, name="balancer")


def balance(balancer, terms, heads, shared=None):
    """One scalar from the head losses `terms`, as the spec's `balancer` combines them (`shared`:
    the trunk output GradNorm differentiates at)."""
    if balancer.method == "uncertainty":
        return losses.UncertaintyWeighting(len(terms))(terms)
    if balancer.method == "alpha":
        return losses.AlphaBalancing()(terms)
    if balancer.method == "gradnorm":
        return _dynamic_balancer(balancer, len(terms))(terms, shared)
    if balancer.method in spec_lib.BALANCER_PARAMS:
        return _dynamic_balancer(balancer, len(terms))(terms)
    weighted = [balancer.weights[head] * term for head, term in zip(heads, terms, strict=True)]
    return weighted[0] if len(weighted) == 1 else tf.keras.layers.Add()(weighted)


def check_resolvable(spec: spec_lib.TaskSpec) -> None:
    """Resolves the spec's losses and model builder as `run_fn` will, so a name that resolves
    to nothing, a bad parameter or a builder that does not import stops a run before any
    component starts (ValueError naming the key)."""
    heads = spec.heads if spec.kind == "multitask" else [spec]
    for i, head in enumerate(heads):
        key = f"heads.{i}.loss" if spec.kind == "multitask" else "loss"
        try:
            name, params, signature = _loss_signature(head.loss, head.kind)
            signature.bind_partial(**params)
        except (ValueError, TypeError) as err:
            raise ValueError(f"{key}: {err}") from None
        derived = _DERIVED.get(head.kind, set())
        if spec.kind == "classification" and spec.label.costs:
            derived = derived | {"cost_matrix"}
        missing = [
            p
            for p, parameter in signature.parameters.items()
            if parameter.default is inspect.Parameter.empty
            and parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
            and p not in params
            and p not in derived
        ]
        if missing:
            hint = " (or set label.costs, by class names)" if "cost_matrix" in missing else ""
            raise ValueError(f"{key}: {name} needs params {missing}{hint}")
    if spec.kind == "multitask" and spec.balancer.method in spec_lib.BALANCER_PARAMS:
        try:
            _dynamic_balancer(spec.balancer, len(spec.heads))
        except ValueError as err:
            raise ValueError(f"balancer.params: {err}") from None
    builder(spec)


# The loss parameters `build` fills in from the transform output, by kind.
_DERIVED = {
    "classification": {"class_weights"},
    "multilabel": {"pos_weight"},
    "tagging": {"pad_class", "ignore_class"},
    "sequence_regression": {"mask_value"},
}
