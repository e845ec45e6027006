"""Per-task wiring: which transformed features feed the model, what the labels are, which
model and loss train it. The model builders and the losses themselves live elsewhere."""

import dataclasses
import inspect
from collections.abc import Callable

import tensorflow as tf
import tensorflow_transform as tft

import losses
from components.trainer import models
from components.trainer.config import TrainerConfig
from components.trainer.heads import ScaledLoss
from components.transform import (
    TAG_PAD_ID,
    read_multilabel_pos_weight,
    read_species_class_weights,
    read_tagging_vocab_size,
)
from losses.registry import ALIASES

PENGUIN_NUMERIC = ("bill_length_mm_z", "bill_depth_mm_z", "flipper_length_mm_z", "body_mass_g_z")
PENGUIN_CATEGORICAL = ("island_id", "sex_id")


@dataclasses.dataclass
class Built:
    """What a task hands to `run_fn`.

    `model` is trained. `export_model` (features → predictions) is saved for serving and
    TFMA, compiled with `loss` so the registered losses travel with the SavedModel; it is
    `model` itself unless training needs labels as inputs (balanced heads). `split` maps a
    transformed batch to Keras's (x, y[, sample_weight]). `raw_label_keys` are the raw
    features serving requests do not carry.
    """

    model: tf.keras.Model
    loss: object
    metrics: object
    split: Callable
    raw_label_keys: tuple
    export_model: tf.keras.Model | None = None
    callbacks: list = dataclasses.field(default_factory=list)

    def __post_init__(self):
        if self.export_model is None:
            self.export_model = self.model

    @property
    def uses_add_loss(self) -> bool:
        return self.model is not self.export_model


def resolve_loss(spec, default_name: str, **derived):
    """`losses.get` on the user's spec, filling the parameters the transform output derived
    (class_weights, pos_weight) when the loss takes them and the user did not set them."""
    spec = {"name": spec} if isinstance(spec, str) else dict(spec or {"name": default_name})
    if "name" not in spec:
        raise ValueError(f"loss spec needs a 'name'; got {spec!r}")
    params = dict(spec.get("params") or {})
    accepted = inspect.signature(_loss_class(spec["name"])).parameters
    params.update({k: v for k, v in derived.items() if k in accepted and k not in params})
    return losses.get({"name": spec["name"], "params": params})


def _loss_class(name):
    bare = name.removeprefix("losskit>") if isinstance(name, str) else name
    cls = ALIASES.get(bare) or getattr(losses, str(bare), None)
    if not (isinstance(cls, type) and issubclass(cls, tf.keras.losses.Loss)):
        losses.get(name)  # raises the registry's error, which lists the valid names
    return cls


def _categorical_sizes(tft_output: tft.TFTransformOutput, keys):
    return {key: tft_output.num_buckets_for_transformed_feature(key) for key in keys}


def _step_count(tft_output, key):
    return int(tft_output.transformed_feature_spec()[key].shape[0])


def _known_species(batch):
    """Drops examples whose label the Transform did not know (species_id −1, weight 0): a
    species seen only outside the analysed split cannot be a training target."""
    known = batch["species_id"] >= 0
    return {key: tf.boolean_mask(value, known) for key, value in batch.items()}


def penguins(tft_output, config: TrainerConfig) -> Built:
    label_key = config.transform.get("label_key", "species")
    names, weights = read_species_class_weights(tft_output, config.transform)
    model = models.classifier(
        PENGUIN_NUMERIC, _categorical_sizes(tft_output, PENGUIN_CATEGORICAL), len(names)
    )
    loss = resolve_loss(config.loss, "ClassWeightedCrossentropy", class_weights=list(weights))
    keys = PENGUIN_NUMERIC + PENGUIN_CATEGORICAL

    def split(batch):
        batch = _known_species(batch)
        return {k: batch[k] for k in keys}, batch["species_id"]

    metrics = [tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    return Built(model, loss, metrics, split, raw_label_keys=(label_key,))


def multitask(tft_output, config: TrainerConfig) -> Built:
    """Species (B, 3) and body mass (B, 1) from one trunk; the two head losses are balanced
    by UncertaintyWeighting or AlphaBalancing, and the regression head is warmed up by a
    LossWeightSchedule (0.1 → 1 over the first epochs) so it cannot swamp the classifier
    while the trunk is random."""
    label_key = config.transform.get("label_key", "species")
    names, weights = read_species_class_weights(tft_output, config.transform)
    numeric = tuple(k for k in PENGUIN_NUMERIC if k != "body_mass_g_z")
    export = models.two_heads(
        numeric, _categorical_sizes(tft_output, PENGUIN_CATEGORICAL), len(names)
    )
    head_specs = config.loss or {}
    species_loss = resolve_loss(
        head_specs.get("species"), "ClassWeightedCrossentropy", class_weights=list(weights)
    )
    mass_spec = head_specs.get("body_mass")
    mass_loss = resolve_loss(mass_spec, "") if mass_spec else tf.keras.losses.MeanSquaredError()

    species = tf.keras.Input(shape=(), name="species_id", dtype=tf.int64)
    mass = tf.keras.Input(shape=(1,), name="body_mass_target", dtype=tf.float32)
    present = tf.keras.Input(shape=(), name="body_mass_present", dtype=tf.float32)
    outputs = export(export.input)
    l_species = losses.LossLayer(species_loss, name="species_loss")(species, outputs["species"])
    warmup = ScaledLoss(0.1, name="body_mass_warmup")
    l_mass = warmup(
        losses.LossLayer(mass_loss, name="body_mass_loss")(mass, outputs["body_mass"], present)
    )
    balancer = (
        losses.UncertaintyWeighting(2)
        if config.balancer == "uncertainty"
        else losses.AlphaBalancing()
    )
    model = tf.keras.Model([export.input, species, mass, present], outputs)
    model.add_loss(balancer([l_species, l_mass]))
    model.add_metric(l_species, name="species_loss")
    model.add_metric(l_mass, name="body_mass_loss")
    keys = numeric + PENGUIN_CATEGORICAL

    def split(batch):
        batch = _known_species(batch)
        features = {k: batch[k] for k in keys}
        labels = (
            batch["species_id"],
            batch["body_mass_target"][:, None],
            batch["body_mass_present"],
        )
        return ((features, *labels),)

    schedule = losses.LossWeightSchedule(
        warmup.weight, lambda epoch: min(1.0, 0.1 + 0.3 * epoch), unit="epoch"
    )
    return Built(
        model,
        loss={"species": species_loss, "body_mass": mass_loss},
        metrics={
            "species": [tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            "body_mass": [tf.keras.metrics.MeanAbsoluteError(name="mae")],
        },
        split=split,
        raw_label_keys=(label_key, "body_mass_g"),
        export_model=export,
        callbacks=[schedule],
    )


def tagging(tft_output, config: TrainerConfig) -> Built:
    max_length = _step_count(tft_output, "token_ids")
    num_tokens = read_tagging_vocab_size(tft_output)
    num_tags = int(config.transform["num_tags"])
    model = models.sequence_tagger(max_length, num_tokens, num_tags)
    loss = resolve_loss(config.loss, "MaskedSparseCategoricalCrossentropy", pad_class=TAG_PAD_ID)

    def split(batch):
        return {"token_ids": batch["token_ids"]}, batch["tag_ids"]

    metrics = [losses.MaskedSparseCategoricalAccuracy(pad_class=TAG_PAD_ID, name="token_accuracy")]
    return Built(model, loss, metrics, split, raw_label_keys=("tags",))


def correlation(tft_output, config: TrainerConfig) -> Built:
    max_length = _step_count(tft_output, "x")
    channels = int(tft_output.transformed_feature_spec()["x"].shape[1])
    mask_value = float(config.transform.get("mask_value", -9999.0))
    model = models.sequence_regressor(max_length, channels)
    loss = resolve_loss(config.loss, "ConcordanceCorrelationLoss", mask_value=mask_value)

    def split(batch):
        return {"x": batch["x"], "mask": batch["mask"]}, batch["y"]

    metrics = [
        losses.ConcordanceCorrelation(mask_value=mask_value, name="ccc"),
        losses.PearsonCorrelation(mask_value=mask_value, name="pearson"),
    ]
    return Built(model, loss, metrics, split, raw_label_keys=("y",))


def multilabel(tft_output, config: TrainerConfig) -> Built:
    """Sigmoid scores per label: BP-MLL only ranks labels, and TFMA's AUC wants [0, 1]."""
    num_features = _step_count(tft_output, "features_z")
    pos_weight = read_multilabel_pos_weight(tft_output, config.transform)
    model = models.multilabel_scorer(num_features, len(pos_weight))
    loss = resolve_loss(config.loss, "BPMLLLoss", pos_weight=list(pos_weight))

    def split(batch):
        return {"features_z": batch["features_z"]}, batch["labels_multi_hot"]

    # Not multi_label=True: its per-label variables are built on first use, and TFMA cannot
    # restore them when it loads the compiled model.
    metrics = [tf.keras.metrics.AUC(name="micro_auc")]
    return Built(model, loss, metrics, split, raw_label_keys=("labels",))


TASKS = {
    "penguins": penguins,
    "multitask": multitask,
    "tagging": tagging,
    "correlation": correlation,
    "multilabel": multilabel,
}


def build(task: str, tft_output, config: TrainerConfig) -> Built:
    return TASKS[task](tft_output, config)
