"""The task spec: one YAML document that names the user's columns and drives every component.

`preprocessing_fn`, `run_fn` and the EvalConfig builder read nothing else: the pipeline hands
each of them `TaskSpec.model_dump()` (TFX `custom_config`, JSON-able), they parse it back with
`TaskSpec.model_validate` and agree on every name through `FeatureNames`. A user's column names
are written once, in the spec; the names of our transformed features are derived from them
(`tf_name`), so a column called ``sepal length (cm)`` or ``8x8/r0.c0`` works end to end.

This module imports pydantic and yaml only: `losskit check` and `losskit tasks` use it without
paying for TensorFlow. The format, key by key, is in docs/task-spec.md.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

KINDS = ("classification", "multilabel", "tagging", "sequence_regression", "multitask")
CLASS_WEIGHTS = ("balanced", "inverse", "inverse_sqrt", "effective_number", "none")
BALANCERS = ("uncertainty", "alpha", "fixed", "dwa", "gradnorm", "famo")
# The parameters each dynamic balancer's layer takes (losses.DynamicWeightAverage, GradNorm,
# FAMO); their values are checked by the layers themselves before a run starts.
BALANCER_PARAMS = {
    "dwa": ("temperature",),
    "gradnorm": ("alpha",),
    "famo": ("learning_rate", "gamma"),
}
# tf.distribute strategies run_fn can pick (components.trainer.distribution).
DISTRIBUTIONS = ("auto", "default", "mirrored", "multi_worker")
EMBEDDED_PREFIX = "embedded:"
# The length bucket every sequence kind can be sliced by (a transformed feature of ours).
LENGTH_BUCKET = "length_bucket"
_HEAD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_PIPELINE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class SpecError(ValueError):
    """A spec that does not validate; the message names the file, the key and a fix."""


def _loss(value):
    # `loss: mse` is short for `loss: {name: mse}`.
    return {"name": value} if isinstance(value, str) else value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LossSpec(_Strict):
    """Anything `losses.get` resolves: a losskit class or alias, a Keras loss by name
    (``mse``, ``Huber``), a registered ``package>Name``, or ``module.path.ClassName``."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)


Loss = Annotated[LossSpec, BeforeValidator(_loss)]


class Label(_Strict):
    """The target column (a feature of tf.Example for TFRecord data).

    classification: one value per row (string or integer); `classes` fixes the ids (their
    order); `losskit run` and `compile` fill it from the data when left out
    (`pipelines.tasks.with_classes`).
    `costs` (classification): the cost of each kind of error by class names,
    {true class: {predicted class: cost}}, pairs left out cost 0; it adds TFMA's decision
    costs (argmax and cost-aware) to the evaluation and is the `cost_matrix` of a loss that
    takes one (CostSensitiveCrossentropy).
    multilabel: a list of positive label ids in [0, L) per example; L from `num_labels` or
    `len(classes)`; `pos_weight` auto (n_neg / n_pos per label, from tf.Transform) or none.
    tagging: one tag per token (equal length to the token feature).
    sequence_regression: one float per step (equal length to the step features).
    """

    column: str
    classes: list[str | int] | None = None
    class_weight: Literal[CLASS_WEIGHTS] = "balanced"
    beta: float = Field(0.999, ge=0.0, lt=1.0)
    num_labels: int | None = Field(None, ge=1)
    pos_weight: Literal["auto", "none"] = "auto"
    costs: dict[str | int, dict[str | int, Annotated[float, Field(ge=0.0)]]] | None = None

    @model_validator(mode="after")
    def _check(self):
        for truth, row in (self.costs or {}).items():
            if any(str(decided) == str(truth) and cost != 0 for decided, cost in row.items()):
                raise ValueError(
                    f"label.costs.{truth}.{truth}: a right decision costs nothing (leave it out)"
                )
        if self.costs and self.classes is not None:
            self.cost_matrix()
        return self

    @property
    def class_names(self) -> list[str] | None:
        return None if self.classes is None else [str(c) for c in self.classes]

    def cost_matrix(self) -> list[list[float]] | None:
        """`costs` as a (C, C) matrix in class-id order, C[y][k] the cost of deciding k when
        the truth is y; None without costs. Needs `classes`."""
        if not self.costs:
            return None
        names = self.class_names
        if names is None:
            raise ValueError(
                "label.costs names classes, so label.classes must be known "
                "(losskit run and compile fill it in from the data)"
            )
        matrix = [[0.0] * len(names) for _ in names]
        for truth, row in self.costs.items():
            if str(truth) not in names:
                raise ValueError(_unknown("label.costs class", str(truth), names))
            for decided, cost in row.items():
                if str(decided) not in names:
                    raise ValueError(_unknown(f"label.costs.{truth} class", str(decided), names))
                matrix[names.index(str(truth))][names.index(str(decided))] = float(cost)
        return matrix


class Head(_Strict):
    """One output of a multitask model: a classification or a regression of one column."""

    name: str
    kind: Literal["classification", "regression"]
    column: str
    classes: list[str | int] | None = None
    class_weight: Literal[CLASS_WEIGHTS] = "balanced"
    beta: float = Field(0.999, ge=0.0, lt=1.0)
    loss: Loss | None = None

    @model_validator(mode="after")
    def _check(self):
        if not _HEAD_NAME.match(self.name):
            raise ValueError(
                f"head name {self.name!r} must start with a letter and hold only letters, "
                "digits and _ (it names a Keras output)"
            )
        return self

    @property
    def class_names(self) -> list[str] | None:
        return None if self.classes is None else [str(c) for c in self.classes]


class Features(_Strict):
    """Model inputs by role, each listed by the user's own column names.

    numeric:     a number per row (or a fixed-length list of numbers), z-scored; missing = 0.
    categorical: a string or integer per row → vocabulary id (0 = missing, one OOV bucket).
    tokens:      a list of tokens per example (strings or ints) → padded token ids.
    steps:       a list of floats per example, one per step → z-scored, padded, stacked.
    """

    numeric: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)
    tokens: list[str] = Field(default_factory=list)
    steps: list[str] = Field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *self.categorical, *self.tokens, *self.steps]


class Sequence(_Strict):
    """How sequences become (B, T): T fixed (`max_length`), else analysed over the data as
    the maximum or a `max_length_quantile`, limited by `max_length_cap`."""

    max_length: int | None = Field(None, ge=1)
    max_length_quantile: float | None = Field(None, ge=0.001, le=0.999)
    max_length_cap: int | None = Field(None, ge=1)
    truncate: Literal["post", "pre"] = "post"
    length_buckets: list[int] = Field(default_factory=lambda: [10, 20, 30, 40])
    mask_value: float = -9999.0

    @model_validator(mode="after")
    def _check(self):
        edges = self.length_buckets
        if not edges or edges != sorted(set(edges)) or edges[0] <= 0:
            raise ValueError(f"length_buckets must be increasing positive ints, got {edges}")
        return self


class Warmup(_Strict):
    """A head's loss weight rises linearly from `start` to 1 over the first `epochs` epochs."""

    start: float = Field(0.1, ge=0.0, le=1.0)
    epochs: int = Field(3, ge=1)


class Balancer(_Strict):
    """How multitask head losses combine: uncertainty (Kendall et al. 2018), alpha
    (AlphaBalancing, two heads), fixed `weights` by head name, or a dynamic weighting: dwa
    (Liu et al. 2019; `params.temperature`), gradnorm (Chen et al. 2018; `params.alpha`),
    famo (Liu et al. 2023; `params.learning_rate`, `params.gamma`); `warmup` by head name."""

    method: Literal[BALANCERS] = "uncertainty"
    weights: dict[str, float] | None = None
    params: dict[str, float] = Field(default_factory=dict)
    warmup: dict[str, Warmup] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self):
        valid = list(BALANCER_PARAMS.get(self.method, ()))
        for name in self.params:
            if name not in valid:
                takes = f"takes {', '.join(valid)}" if valid else "takes no params"
                raise ValueError(
                    f"balancer.params.{name}: balancer {self.method} {takes}"
                    + (f"; did you mean {near[0]!r}?" if (near := _near(name, valid)) else "")
                )
        return self


class Model(_Strict):
    """A built-in family (`mlp` for tabular kinds, `bigru` for sequence kinds) or `builder`,
    the dotted path of the user's `build_model(inputs, outputs, **params)`; `params` go to
    either (mlp: hidden, depth, embed; bigru: embed, units)."""

    family: Literal["mlp", "bigru"] | None = None
    builder: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self):
        if self.family and self.builder:
            raise ValueError("model takes `family` or `builder`, not both")
        if self.builder is not None and "." not in self.builder:
            raise ValueError(
                f"model.builder {self.builder!r} must be a dotted path, module.function"
            )
        return self


class Trainer(_Strict):
    """`batch_size` is per replica; the distribution strategy is chosen from the devices
    (`distribution: auto`) unless named."""

    epochs: int = Field(20, ge=1)
    batch_size: int = Field(32, ge=1)
    learning_rate: float = Field(0.01, gt=0.0)
    seed: int = 0
    distribution: Literal[DISTRIBUTIONS] = "auto"


class Threshold(_Strict):
    """Bless only if the metric (overall slice) is within [min, max] and no worse than the
    baseline model's by more than `max_worse` (direction: higher is better when `min` is
    set or the metric is known to be, else lower)."""

    min: float | None = None
    max: float | None = None
    max_worse: float | None = Field(None, ge=0.0)


class Metric(_Strict):
    """An extra TFMA metric: a TFMA or Keras metric class by name (`module` for others);
    `per_class` binarizes it one-vs-rest like the AUCs."""

    class_name: str
    name: str | None = None
    module: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    per_class: bool = False
    head: str | None = None


def _metric(value):
    return {"class_name": value} if isinstance(value, str) else value


class Eval(_Strict):
    metrics: list[Annotated[Metric, BeforeValidator(_metric)]] = Field(default_factory=list)
    slices: list[str] = Field(default_factory=list)
    thresholds: dict[str, Threshold] = Field(default_factory=dict)
    baseline: bool = True


class TaskSpec(_Strict):
    name: str
    summary: str = ""
    kind: Literal[KINDS]
    data: str | None = None
    label: Label | None = None
    heads: list[Head] | None = None
    features: Features = Field(default_factory=Features)
    sequence: Sequence = Field(default_factory=Sequence)
    loss: Loss | None = None
    balancer: Balancer = Field(default_factory=Balancer)
    model: Model = Field(default_factory=Model)
    trainer: Trainer = Field(default_factory=Trainer)
    eval: Eval = Field(default_factory=Eval)

    @model_validator(mode="after")
    def _check(self):
        _check_kind(self)
        return self

    # -- what the components ask ----------------------------------------------------------

    @property
    def is_sequence(self) -> bool:
        return self.kind in ("tagging", "sequence_regression")

    @property
    def label_columns(self) -> list[str]:
        """The raw columns serving requests do not carry."""
        if self.kind == "multitask":
            return [head.column for head in self.heads]
        return [self.label.column]

    @property
    def columns(self) -> list[str]:
        """Every raw column the spec names (features, labels, slices)."""
        slices = [s for s in self.eval.slices if s != LENGTH_BUCKET]
        return list(dict.fromkeys([*self.features.columns, *self.label_columns, *slices]))

    @property
    def model_family(self) -> str:
        return self.model.family or ("bigru" if self.is_sequence else "mlp")

    def head_names(self) -> list[str]:
        return [head.name for head in self.heads] if self.kind == "multitask" else [""]

    def component_config(self, component: str) -> dict:
        """The part of the spec a component reads, as its JSON-able custom_config.

        Each component gets only what it uses, so TFX's cache holds across unrelated edits:
        a new loss or learning rate reruns the Trainer, not Transform; a new threshold reruns
        only the Evaluator (which gets the EvalConfig, not a custom_config)."""
        raw = self.model_dump(mode="json")
        dropped = {"summary", "data", "eval"}
        if component == "transform":
            dropped |= {"loss", "balancer", "model", "trainer"}
            for head in raw.get("heads") or []:
                head.pop("loss")
        elif component != "trainer":
            raise ValueError(f"component must be transform or trainer, got {component!r}")
        return {"spec": {k: v for k, v in raw.items() if k not in dropped}}

    def with_overrides(self, **overrides) -> TaskSpec:
        """A copy with trainer fields (`epochs`, …), `loss` or `data` replaced; validated."""
        raw = self.model_dump()
        for key, value in overrides.items():
            if value is None:
                continue
            if key in Trainer.model_fields:
                raw["trainer"][key] = value
            elif key == "loss" and self.kind == "multitask":
                if not isinstance(value, dict) or "name" in value:
                    raise SpecError(
                        "the multitask loss is one spec per head, e.g. "
                        '{"<head>": {"name": "Huber"}}; heads are '
                        f"{', '.join(self.head_names())}"
                    )
                heads = {head["name"]: head for head in raw["heads"]}
                for head, spec in value.items():
                    if head not in heads:
                        raise SpecError(_unknown("--loss head", head, list(heads)))
                    heads[head]["loss"] = _loss(spec)
            elif key in ("loss", "data"):
                raw[key] = value
            else:
                raise SpecError(f"unknown override {key!r}")
        return parse(raw, source="overrides")


def _check_kind(spec: TaskSpec) -> None:
    kind, features = spec.kind, spec.features
    if not _PIPELINE_NAME.match(spec.name):
        raise ValueError(
            f"name {spec.name!r} must be lower-case letters, digits and - (it names the pipeline)"
        )
    if kind == "multitask":
        if not spec.heads:
            raise ValueError("kind multitask needs `heads` (one per output)")
        if spec.label is not None or spec.loss is not None:
            raise ValueError(
                "kind multitask takes `heads` (each with its loss), not `label`/`loss`"
            )
        names = [head.name for head in spec.heads]
        if len(set(names)) != len(names):
            raise ValueError(f"heads must have distinct names, got {names}")
        balancer = spec.balancer
        if balancer.method == "alpha" and len(names) != 2:
            raise ValueError("balancer.method alpha balances exactly two heads")
        if balancer.method in BALANCER_PARAMS and len(names) < 2:
            raise ValueError(f"balancer.method {balancer.method} balances two or more heads")
        if balancer.method == "fixed" and set(balancer.weights or {}) != set(names):
            raise ValueError(f"balancer.method fixed needs `weights` for each head: {names}")
        for head in balancer.warmup:
            if head not in names:
                raise ValueError(_unknown("balancer.warmup head", head, names))
    else:
        if spec.label is None:
            raise ValueError(f"kind {kind} needs `label` (its column)")
        if spec.heads is not None:
            raise ValueError(f"`heads` is for kind multitask, not {kind}")
        if spec.label.costs and kind != "classification":
            raise ValueError(f"label.costs is for kind classification, not {kind}")
    tabular = features.numeric or features.categorical
    if kind in ("classification", "multilabel", "multitask"):
        if not tabular:
            raise ValueError(f"kind {kind} needs features.numeric and/or features.categorical")
        if features.tokens or features.steps:
            raise ValueError(f"kind {kind} takes numeric/categorical features, not tokens/steps")
    if kind == "tagging" and (len(features.tokens) != 1 or tabular or features.steps):
        raise ValueError("kind tagging takes exactly one features.tokens column (and no others)")
    if kind == "sequence_regression" and (not features.steps or tabular or features.tokens):
        raise ValueError("kind sequence_regression takes features.steps columns (and no others)")
    if kind == "multilabel" and spec.label.num_labels is None and spec.label.classes is None:
        raise ValueError("kind multilabel needs label.num_labels or label.classes")
    if (
        kind == "multilabel"
        and spec.label.num_labels is not None
        and spec.label.classes is not None
        and len(spec.label.classes) != spec.label.num_labels
    ):
        raise ValueError("label.classes must have label.num_labels names")
    columns = features.columns
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise ValueError(f"features list {duplicated} more than once")
    leaked = sorted(set(spec.label_columns) & set(columns))
    if leaked:
        raise ValueError(
            f"label column(s) {leaked} are also features: the model would see its target"
        )
    if spec.eval.slices and LENGTH_BUCKET in spec.eval.slices and not spec.is_sequence:
        raise ValueError(f"slice {LENGTH_BUCKET} exists for sequence kinds only")
    _check_thresholds(spec)


def metric_names(spec: TaskSpec) -> dict[str, bool | None]:
    """{metric name TFMA reports: higher is better (None: unknown)} for thresholds.

    Per-head metrics of multitask are ``head/metric``. The names are the ones
    `components.evaluator.configs` configures; both read `DEFAULT_METRICS`.
    """
    names = {}
    heads = spec.heads if spec.kind == "multitask" else [None]
    for head in heads:
        kind = spec.kind if head is None else head.kind
        prefix = "" if head is None else f"{head.name}/"
        for metric, higher in DEFAULT_METRICS[kind].items():
            names[prefix + metric] = higher
    if spec.kind == "classification" and spec.label.costs:
        names.update(dict.fromkeys(DECISION_COSTS, False))
    for metric in spec.eval.metrics:
        prefix = f"{metric.head}/" if metric.head else ""
        names[prefix + metric_name(metric)] = None
    return names


def metric_name(metric: Metric) -> str:
    """The name TFMA reports an extra metric under: its `name`, else its class in snake case
    as Keras spells it (`to_snake_case`: AUC → auc, MeanIoU → mean_io_u)."""
    if metric.name:
        return metric.name
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", metric.class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


# Each kind's TFMA metrics by the name TFMA reports them under, and whether higher is better.
DEFAULT_METRICS = {
    "classification": {"accuracy": True, "auc": True, "pr_auc": True},
    "regression": {"mean_squared_error": False, "mean_absolute_error": False},
    "multilabel": {"ranking_loss": False, "hamming_loss": False, "auc": True},
    "tagging": {"masked_token_accuracy": True},
    "sequence_regression": {"sequence_ccc": True, "sequence_pearson": True},
}


# The decision costs TFMA reports when a classification spec sets `label.costs`, by the
# decision rule each one scores (components.evaluator.metrics.DecisionCost).
DECISION_COSTS = {"decision_cost": "argmax", "cost_aware_decision_cost": "cost_aware"}


# The loss a kind (or a multitask head's kind) trains with when the spec names none.
DEFAULT_LOSS = {
    "classification": "ClassWeightedCrossentropy",
    "regression": "MeanSquaredError",
    "multilabel": "BPMLLLoss",
    "tagging": "MaskedSparseCategoricalCrossentropy",
    "sequence_regression": "ConcordanceCorrelationLoss",
}


def _check_metrics(spec: TaskSpec) -> None:
    """An extra metric the EvalConfig could not place would silently vanish: refuse it."""
    heads = {h.name: h.kind for h in spec.heads} if spec.kind == "multitask" else {}
    for i, metric in enumerate(spec.eval.metrics):
        key = f"eval.metrics.{i}"
        if heads and metric.head not in heads:
            raise ValueError(_unknown(f"{key}.head", str(metric.head), list(heads)))
        if not heads and metric.head is not None:
            raise ValueError(f"{key}.head: only multitask metrics name a head")
        kind = heads.get(metric.head, spec.kind)
        if metric.per_class and kind not in ("classification", "multilabel"):
            raise ValueError(f"{key}.per_class: {kind} has no classes to binarize")


def _check_thresholds(spec: TaskSpec) -> None:
    _check_metrics(spec)
    known = metric_names(spec)
    for metric, threshold in spec.eval.thresholds.items():
        if metric not in known:
            raise ValueError(_unknown("eval.thresholds metric", metric, list(known)))
        if threshold.min is None and threshold.max is None and threshold.max_worse is None:
            raise ValueError(f"eval.thresholds.{metric} sets none of min, max, max_worse")
        if (
            known[metric] is None
            and threshold.max_worse is not None
            and (threshold.min is None) == (threshold.max is None)
        ):
            raise ValueError(
                f"eval.thresholds.{metric}: with max_worse on an extra metric, set exactly one "
                "of min (higher is better) or max (lower is better)"
            )


def higher_is_better(spec: TaskSpec, metric: str) -> bool:
    known = metric_names(spec).get(metric)
    if known is not None:
        return known
    return spec.eval.thresholds[metric].min is not None


def _near(name: str, valid: list[str]) -> list[str]:
    return difflib.get_close_matches(name, valid, n=1, cutoff=0.5)


def _unknown(what: str, name: str, valid: list[str]) -> str:
    near = _near(name, valid)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    return f"unknown {what} {name!r}{hint} (valid: {', '.join(valid)})"


# -- names of our transformed features --------------------------------------------------------

_NOT_NAME = re.compile(r"[^A-Za-z0-9]+")


def tf_name(column: str) -> str:
    """A user's column name → a name valid as a Keras input, TF scope and file name:
    runs of other characters become ``_``, and a leading digit gets a ``c`` before it."""
    name = _NOT_NAME.sub("_", column).strip("_") or "column"
    return f"c{name}" if name[0].isdigit() else name


@dataclasses.dataclass(frozen=True)
class FeatureNames:
    """Every name Transform writes and the Trainer and Evaluator read, derived from a spec.

    Each feature column gets a `base` name (its tf_name; ``_2``, ``_3`` when two columns'
    tf_names coincide), which names its analyzers and vocabulary file. Feature outputs are
    ``x_<base>`` so no user column can collide with our own outputs (``label``, ``mask``, …).
    """

    base: dict[str, str]  # every feature column → its base name
    numeric: dict[str, str]  # column → output
    categorical: dict[str, str]
    tokens: dict[str, str]
    steps: str | None  # the stacked (B, T, F) output of every `steps` column

    @classmethod
    def of(cls, spec: TaskSpec) -> FeatureNames:
        base: dict[str, str] = {}
        for column in spec.features.columns:
            name = candidate = tf_name(column)
            n = 1
            while candidate in base.values():
                n += 1
                candidate = f"{name}_{n}"
            base[column] = candidate
        f = spec.features

        def outputs(columns):
            return {c: f"x_{base[c]}" for c in columns}

        return cls(
            base,
            outputs(f.numeric),
            outputs(f.categorical),
            outputs(f.tokens),
            "x_steps" if f.steps else None,
        )

    @property
    def vocab(self) -> dict[str, str]:
        """Vocabulary file name of each categorical and tokens column: its output's name,
        which cannot collide with our label vocabularies."""
        return {**self.categorical, **self.tokens}

    @property
    def inputs(self) -> list[str]:
        """The transformed features the model reads, in a fixed order."""
        steps = [self.steps, MASK] if self.steps else []
        return [*self.numeric.values(), *self.categorical.values(), *self.tokens.values(), *steps]


# Outputs of ours that do not depend on a column name.
LABEL = "label"
EXAMPLE_WEIGHT = "example_weight"
MASK = "mask"
LENGTH = "length"
LABEL_VOCAB = "label"


def head_label(head: str) -> str:
    """The transformed label of a head ("" for single-output kinds)."""
    return f"{head}_label" if head else LABEL


def head_present(head: str) -> str:
    """1.0 where a regression head's target is present, 0.0 where missing."""
    return f"{head}_present"


def head_vocab(head: str) -> str:
    return f"{head}_label" if head else LABEL_VOCAB


# -- reading specs ----------------------------------------------------------------------------


def parse(raw: Any, *, source: str = "spec") -> TaskSpec:
    """A dict (from YAML or custom_config) → TaskSpec, or SpecError naming `source` and the
    key, with the nearest valid key for a misspelt one."""
    if not isinstance(raw, dict):
        raise SpecError(f"{source}: a task spec is a mapping of keys, got {type(raw).__name__}")
    try:
        return TaskSpec.model_validate(raw)
    except ValidationError as err:
        raise SpecError(f"{source}: {_describe(err)}") from None


def load(path: str) -> TaskSpec:
    """Reads and validates a spec file; `data` relative to the file becomes absolute."""
    import os

    try:
        with open(path, encoding="utf-8") as f:
            raw = yaml.safe_load(f)
    except FileNotFoundError:
        raise SpecError(f"{path}: no such spec file") from None
    except yaml.YAMLError as err:
        raise SpecError(f"{path}: not valid YAML: {err}") from None
    if isinstance(raw, dict) and isinstance(raw.get("data"), str):
        data = raw["data"]
        if not data.startswith(EMBEDDED_PREFIX) and "://" not in data and not os.path.isabs(data):
            raw["data"] = os.path.normpath(
                os.path.join(os.path.dirname(os.path.abspath(path)), data)
            )
    return parse(raw, source=path)


def _describe(err: ValidationError) -> str:
    errors = err.errors()
    # A misspelt key also makes its correct spelling "missing": report the misspelling.
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = [str(part) for part in first["loc"]]
    key = ".".join(loc) or "(top level)"
    if first["type"] == "extra_forbidden":
        valid = _fields_at(loc[:-1])
        return _unknown("key", key, [".".join([*loc[:-1], v]) for v in valid])
    if first["type"] == "missing":
        return f"missing key {key}"
    message = first["msg"].removeprefix("Value error, ")
    return f"{key}: {message}" if loc else message


def _fields_at(loc: list[str]) -> list[str]:
    """The keys valid at `loc` (a path of keys and list indexes) of a TaskSpec."""
    model: Any = TaskSpec
    key = False  # the part is a user's key of a dict field (a metric, a head), not a field
    for part in loc:
        if key or part.isdigit() or model is None:
            key = False
            continue
        field = model.model_fields.get(part)
        model = _model_of(field.annotation) if field else None
        key = field is not None and getattr(field.annotation, "__origin__", None) is dict
    return list(model.model_fields) if model else []


def _model_of(annotation):
    """The BaseModel inside an annotation such as `Label | None` or `list[Head]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or getattr(annotation, "__metadata__", ()):
        found = _model_of(arg)
        if found:
            return found
    origin = getattr(annotation, "__origin__", None)
    return _model_of(origin) if origin not in (None, list, dict) else None
