"""`losskit init`: a commented task spec inferred from the data and a label column.

`infer(profile, label)` picks the kind and every column's role from a `DataProfile`;
`write(profile, label, output)` writes them as a commented YAML file for the user to edit
(the text is written here, not dumped, so the comments survive; it always validates with
`components.spec.load` and passes `pipelines.contracts.check`). No TensorFlow is imported.

The kind, unless `kind` forces one (an error says why the data cannot fit it):

* the label must be a column (else an error naming the nearest one);
* a scalar label (CSV; TFRecord with at most one value per record) of strings, or of
  integers (or integral floats such as 0.0/1.0) with 2..50 distinct values →
  classification; a label with a single value is an error; numbers with more than 50
  values, or floats with fractions, are a regression target: an error that shows the
  `multitask` head to write (or use kind multitask);
* a TFRecord label of integer or string lists whose length equals, in every record, the
  length of another integer or string list column → tagging, that column the tokens (a
  string one first; the other equal-length columns are skipped);
* a label of float lists of the same length as float list columns in every record →
  sequence_regression, those columns the steps;
* a label of integer lists of varying length without such a partner → multilabel, with
  num_labels = the largest id + 1;
* kind multitask (forced only) makes one head of the label: classification as above,
  else regression; the user adds the other heads.

Features of the tabular kinds (classification, multilabel, multitask), in the data's order:
integer and float columns (and fixed-length number lists) → numeric; string columns with at
most 50 distinct values and at most half as many values as rows → categorical. Skipped, with
a ``# skipped: <col> (reason)`` comment: columns empty in every row, constant columns, row
indexes (consecutive integers, one per row), high-cardinality strings (ids, free text),
variable-length lists. Sequence kinds read only their tokens or steps.

Defaults written: the loss per kind (ClassWeightedCrossentropy, BPMLLLoss,
MaskedSparseCategoricalCrossentropy, ConcordanceCorrelationLoss; multitask heads
ClassWeightedCrossentropy / MeanSquaredError); classification `classes` unset (ids from the
vocabulary) with the observed classes in a comment; sequence kinds truncate at the 0.95
length quantile capped at the observed maximum, with `length_buckets` at the observed length
quartiles; trainer epochs 20 (tabular) or 8 (sequence), batch 32, learning rate 0.01;
thresholds (placeholders, to tighten): auc min 0.7, ranking_loss max 0.4,
masked_token_accuracy min 0.5, sequence_ccc min 0.3, each with max_worse 0.05; slices: up to
three categorical features with at most 10 values, `length_bucket` for sequence kinds.
`name` comes from the output file's stem (lower case, other characters → ``-``); `data` is
the path as given, relative to the spec's directory when possible.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re

import numpy as np
import yaml

from components import spec as spec_lib
from pipelines import contracts
from pipelines.profile import ColumnProfile, DataError, DataProfile, describe_value

MAX_CLASSES = 50  # a numeric label with more distinct values is a regression target
MAX_CATEGORIES = 50
MAX_SLICE_VALUES = 10
MAX_SLICES = 3
SHOWN_CLASSES = 20

LOSSES = {
    "classification": "ClassWeightedCrossentropy",
    "multilabel": "BPMLLLoss",
    "tagging": "MaskedSparseCategoricalCrossentropy",
    "sequence_regression": "ConcordanceCorrelationLoss",
}
HEAD_LOSSES = {"classification": "ClassWeightedCrossentropy", "regression": "MeanSquaredError"}
THRESHOLDS = {
    "classification": ("auc", {"min": 0.7, "max_worse": 0.05}),
    "multilabel": ("ranking_loss", {"max": 0.4, "max_worse": 0.05}),
    "tagging": ("masked_token_accuracy", {"min": 0.5, "max_worse": 0.05}),
    "sequence_regression": ("sequence_ccc", {"min": 0.3, "max_worse": 0.05}),
    # the target is z-scored by the transform: MSE 1.0 is predicting the mean
    "regression": ("mean_squared_error", {"max": 1.0, "max_worse": 0.05}),
}
SEQUENCE_KINDS = ("tagging", "sequence_regression")


@dataclasses.dataclass
class Plan:
    """What init decided: the spec (a dict that `components.spec.parse` accepts) and why."""

    kind: str
    spec: dict
    skipped: list[tuple[str, str]]  # (column, reason)
    label_note: str = ""  # the observed classes / tags, for a comment
    warnings: list[str] = dataclasses.field(default_factory=list)  # contracts.check's
    text: str = ""  # the YAML written


def infer(
    profile: DataProfile, label: str, kind: str | None = None, name: str | None = None
) -> tuple[str, dict]:
    """(kind, spec dict) for `label` on the profiled data; DataError if it cannot be done."""
    found = plan(profile, label, kind, name)
    return found.kind, found.spec


def write(
    profile: DataProfile,
    label: str,
    output: str,
    kind: str | None = None,
    data: str | None = None,
    *,
    name: str | None = None,
    force: bool = False,
) -> Plan:
    """Writes the commented spec to `output` (refusing to replace a file unless `force`).

    `data` (default: the profiled path as given) is written relative to the spec's directory.
    """
    if os.path.exists(output) and not force:
        raise FileExistsError(f"{output} exists; pass --force to replace it")
    found = plan(profile, label, kind, name or slug(_stem(output)))
    found.spec["data"] = relative_data(data or profile.source, output)
    spec_lib.parse(found.spec, source=output)
    found.text = render(found, profile)
    if yaml.safe_load(found.text) != found.spec:  # pragma: no cover - a bug in render
        raise AssertionError(f"the YAML written for {output} does not read back as the spec")
    directory = os.path.dirname(os.path.abspath(output))
    os.makedirs(directory, exist_ok=True)
    with open(output, "w", encoding="utf-8") as f:
        f.write(found.text)
    spec_lib.load(output)
    return found


def slug(text: str) -> str:
    """A pipeline name: lower case; runs of characters other than a-z, 0-9 → '-'."""
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return name or "task"


def relative_data(data: str, output: str) -> str:
    """`data` relative to the directory of `output` when both are local paths."""
    if data.startswith(spec_lib.EMBEDDED_PREFIX) or "://" in data:
        return data
    try:
        return os.path.relpath(os.path.abspath(data), os.path.dirname(os.path.abspath(output)))
    except ValueError:  # another drive (Windows)
        return os.path.abspath(data)


def _stem(path: str) -> str:
    base = os.path.basename(os.path.normpath(path))
    for suffix in (".yaml", ".yml", ".gz", ".csv", ".tfrecords", ".tfrecord"):
        if base.lower().endswith(suffix):
            base = base[: -len(suffix)]
    return base


# -- the decisions ----------------------------------------------------------------------------


def plan(
    profile: DataProfile, label: str, kind: str | None = None, name: str | None = None
) -> Plan:
    """The Plan for `label`; see the module docstring for the rules."""
    if kind is not None and kind not in spec_lib.KINDS:
        raise DataError(f"unknown kind {kind!r}; kinds are {', '.join(spec_lib.KINDS)}")
    if label not in profile:
        raise DataError(profile.no_column(label, "the label"))
    column = profile[label]
    if column.present == 0:
        raise DataError(f"{profile.where}: the label {label!r} is empty in every row")
    chosen = kind or _auto_kind(profile, column)
    builder = _Builder(profile, column, chosen)
    getattr(builder, chosen)()
    spec = builder.finish(name or slug(_stem(profile.source)))
    found = Plan(chosen, spec, builder.skipped, builder.label_note)
    parsed = spec_lib.parse(spec, source="the inferred spec")
    found.warnings = contracts.check_profile(parsed, profile).warnings
    return found


def _scalar_label_kind(profile: DataProfile, column: ColumnProfile) -> str:
    """classification or regression for a scalar label (errors for a single value)."""
    values = column.values
    if values is not None and len(values) < 2:
        raise DataError(
            f"{profile.where}: the label {column.name!r} has a single value "
            f"{describe_value(values[0])!r}; a classifier needs two classes or more"
        )
    if column.type in ("string", "bytes"):
        return "classification"
    if column.type == "float" and values is not None:
        values = [v for v in values if not math.isnan(v)]
        if not all(float(v).is_integer() for v in values):
            return "regression"  # fractions: a measurement, not class codes
    if values is not None and len(values) <= MAX_CLASSES:
        return "classification"
    return "regression"


def _auto_kind(profile: DataProfile, column: ColumnProfile) -> str:
    if not column.is_list:
        if _scalar_label_kind(profile, column) == "regression":
            raise DataError(_regression_hint(profile, column))
        return "classification"
    if column.type in ("int", "bytes") and _partners(profile, column, ("int", "bytes")):
        return "tagging"
    if column.type == "float" and _partners(profile, column, ("float",)):
        return "sequence_regression"
    if column.type == "int":
        return "multilabel"
    kind = "strings" if column.type == "bytes" else "floats"
    partner = "integer or string" if column.type == "bytes" else "float"
    raise DataError(
        f"{profile.where}: the label {column.name!r} is a list of {kind} per record, but no "
        f"{partner} list column has its length in every record: tagging needs a tokens column "
        "of equal lengths, sequence_regression float steps of equal lengths, multilabel "
        "integer ids"
    )


def _regression_hint(profile: DataProfile, column: ColumnProfile) -> str:
    distinct = f"more than {column.distinct - 1}" if column.distinct_capped else column.distinct
    head = spec_lib.tf_name(column.name)
    return (
        f"{profile.where}: the label {column.name!r} is a number with {distinct} distinct "
        "values: a regression target. Regression is a head of kind multitask: run init with "
        "--kind multitask, or write\n"
        "  kind: multitask\n"
        "  heads:\n"
        f"    - {{name: {head}, kind: regression, column: {_yaml_scalar(column.name)}, "
        "loss: MeanSquaredError}"
    )


def _partners(profile, column, types) -> list[ColumnProfile]:
    """Other list columns of `types` whose length equals the label's in every record."""
    return [
        other
        for other in profile.columns.values()
        if other.name != column.name
        and other.type in types
        and other.lengths is not None
        and other.present
        and np.array_equal(other.lengths, column.lengths)
    ]


class _Builder:
    def __init__(self, profile: DataProfile, label: ColumnProfile, kind: str):
        self.p, self.label, self.kind = profile, label, kind
        self.spec: dict = {"kind": kind}
        self.features: dict[str, list[str]] = {}
        self.skipped: list[tuple[str, str]] = []
        self.label_note = ""
        self.thresholds: dict = {}
        self.slices: list[str] = []

    def fail(self, why: str):
        raise DataError(f"{self.p.where}: kind {self.kind} does not fit: {why}")

    # -- kinds --------------------------------------------------------------------------------

    def classification(self):
        label = self.label
        if label.is_list:
            index = int(np.argmax(label.lengths > 1))
            path, local = self.p.locate(index)
            self.fail(
                f"the label {label.name!r} has {label.lengths[index]} values in {path}, "
                f"record {local}; classification takes one per example"
            )
        values = label.values
        if values is not None and len(values) < 2:
            _scalar_label_kind(self.p, label)  # raises: a single class
        self.spec["label"] = {"column": label.name, "class_weight": "balanced"}
        self.label_note = _classes_note(label)
        self.tabular()
        self.threshold("classification")
        self.spec["loss"] = LOSSES["classification"]

    def multilabel(self):
        label = self.label
        if self.p.fmt != "tfrecord" or label.type != "int":
            self.fail(
                f"multilabel reads a list of integer label ids per example from TFRecord "
                f"data; {label.name!r} is {label.type}" + (" (CSV)" if self.p.fmt == "csv" else "")
            )
        if label.value_min < 0:
            self.fail(f"the label ids of {label.name!r} must be ≥ 0, found {label.value_min}")
        self.spec["label"] = {
            "column": label.name,
            "num_labels": int(label.value_max) + 1,
            "pos_weight": "auto",
        }
        self.tabular()
        self.threshold("multilabel")
        self.spec["loss"] = LOSSES["multilabel"]

    def tagging(self):
        label = self.label
        partners = self._sequence_partners(("int", "bytes"), "integer or string")
        partners.sort(key=lambda c: c.type != "bytes")  # string tokens first
        tokens = partners[0]
        self.features["tokens"] = [tokens.name]
        for other in partners[1:]:
            self.skipped.append(
                (other.name, f"equal-length list; tagging reads one tokens column, {tokens.name}")
            )
        self.spec["label"] = {"column": label.name}
        self.label_note = _classes_note(label, what="tags")
        self.sequence(used={label.name, tokens.name, *(c.name for c in partners)})
        self.threshold("tagging")
        self.spec["loss"] = LOSSES["tagging"]

    def sequence_regression(self):
        label = self.label
        steps = self._sequence_partners(("float",), "float")
        self.features["steps"] = [c.name for c in steps]
        self.spec["label"] = {"column": label.name}
        self.sequence(used={label.name, *self.features["steps"]})
        self.threshold("sequence_regression")
        self.spec["loss"] = LOSSES["sequence_regression"]

    def multitask(self):
        label = self.label
        if label.is_list:
            self.fail(f"a head's column holds one value per example; {label.name!r} is a list")
        head_kind = _scalar_label_kind(self.p, label)  # strings classify
        name = spec_lib.tf_name(label.name)
        head = {"name": name, "kind": head_kind, "column": label.name}
        if head_kind == "classification":
            head["class_weight"] = "balanced"
            self.label_note = _classes_note(label)
        head["loss"] = HEAD_LOSSES[head_kind]
        self.spec["heads"] = [head]
        self.tabular()
        metric, threshold = THRESHOLDS[head_kind]
        self.thresholds[f"{name}/{metric}"] = threshold

    # -- roles --------------------------------------------------------------------------------

    def _sequence_partners(self, types, what) -> list[ColumnProfile]:
        label = self.label
        if self.p.fmt != "tfrecord":
            self.fail(f"{self.kind} reads lists per example from TFRecord data, not CSV")
        label_types = ("int", "bytes") if self.kind == "tagging" else ("float", "int")
        if label.type not in label_types:
            self.fail(
                f"the label {label.name!r} is a {label.type} list; {self.kind} takes "
                f"{' or '.join(label_types)} values"
            )
        partners = _partners(self.p, label, types)
        if not partners:
            self.fail(
                f"no {what} list column has the length of {label.name!r} in every record"
                + self._nearest_lengths(types)
            )
        return partners

    def _nearest_lengths(self, types) -> str:
        """Where the first list column of `types` differs in length from the label."""
        label = self.label
        for other in self.p.columns.values():
            if other.name == label.name or other.type not in types or other.lengths is None:
                continue
            if not other.is_list:
                continue
            i = int(np.argmax(other.lengths != label.lengths))
            path, local = self.p.locate(i)
            return (
                f" (e.g. {other.name!r} has {other.lengths[i]} values in {path}, record "
                f"{local}, {label.name!r} {label.lengths[i]})"
            )
        return ""

    def tabular(self):
        numeric, categorical = [], []
        for column in self.p.columns.values():
            if column.name == self.label.name:
                continue
            role, reason = _tabular_role(column, self.p.rows)
            if role == "numeric":
                numeric.append(column.name)
            elif role == "categorical":
                categorical.append(column.name)
            else:
                self.skipped.append((column.name, reason))
        if not numeric and not categorical:
            reasons = "; ".join(f"{c}: {r}" for c, r in self.skipped) or "no other column"
            self.fail(f"no column is usable as a feature ({reasons})")
        if numeric:
            self.features["numeric"] = numeric
        if categorical:
            self.features["categorical"] = categorical
        small = [c for c in categorical if self.p[c].distinct <= MAX_SLICE_VALUES]
        self.slices = small[:MAX_SLICES]

    def sequence(self, used: set[str]):
        label = self.label
        for column in self.p.columns.values():
            if column.name not in used:
                role = "features.tokens" if self.kind == "tagging" else "features.steps"
                self.skipped.append((column.name, f"kind {self.kind} reads only {role}"))
        present = label.lengths[label.lengths > 0]
        quartiles = np.percentile(present, [25, 50, 75])
        buckets = sorted({int(round(q)) for q in quartiles if round(q) > 0}) or [
            int(label.max_length)
        ]
        self.spec["sequence"] = {
            "max_length_quantile": 0.95,
            "max_length_cap": int(label.max_length),
            "truncate": "post",
            "length_buckets": buckets,
        }
        self.slices = [spec_lib.LENGTH_BUCKET]

    def threshold(self, kind: str):
        metric, threshold = THRESHOLDS[kind]
        self.thresholds[metric] = threshold

    def finish(self, name: str) -> dict:
        sequence = self.kind in SEQUENCE_KINDS
        label = self.label.name
        spec = {
            "name": name,
            "summary": f"{self.kind} of {label} (inferred by losskit init from "
            f"{self.p.rows} rows)",
            "kind": self.kind,
            "data": self.p.source,
        }
        for key in ("label", "heads"):
            if key in self.spec:
                spec[key] = self.spec[key]
        spec["features"] = self.features
        if "sequence" in self.spec:
            spec["sequence"] = self.spec["sequence"]
        if "loss" in self.spec:
            spec["loss"] = self.spec["loss"]
        spec["model"] = {"family": "bigru" if sequence else "mlp"}
        spec["trainer"] = {
            "epochs": 8 if sequence else 20,
            "batch_size": 32,
            "learning_rate": 0.01,
        }
        evaluation: dict = {}
        if self.slices:
            evaluation["slices"] = self.slices
        evaluation["thresholds"] = self.thresholds
        spec["eval"] = evaluation
        return spec


def _tabular_role(column: ColumnProfile, rows: int) -> tuple[str | None, str]:
    """("numeric" | "categorical" | None, the reason when skipped)."""
    if column.present == 0:
        return None, "empty in every row"
    if column.row_index:
        return None, "a row index: consecutive integers, one per row"
    if not column.distinct_capped and column.distinct == 1:
        return None, f"constant: {describe_value(column.values[0])}"
    if column.is_list:
        if column.numeric and column.fixed_length:
            return "numeric", ""
        if column.numeric:
            return (
                None,
                f"a list of numbers of varying length ({column.min_length}..{column.max_length})",
            )
        return None, "a list of strings per example"
    if column.numeric:
        return "numeric", ""
    distinct = f"more than {column.distinct - 1}" if column.distinct_capped else column.distinct
    if column.distinct_capped or column.distinct > MAX_CATEGORIES:
        return None, f"high-cardinality string: {distinct} distinct values (an id or free text)"
    if column.distinct > rows / 2:
        return None, (f"string with {distinct} distinct values in {rows} rows (an id or free text)")
    return "categorical", ""


def _classes_note(column: ColumnProfile, what: str = "classes") -> str:
    if column.counts is None:
        return f"{what} seen: more than {column.distinct - 1}"
    values = column.values
    shown = ", ".join(f"{describe_value(v)} ({column.counts[v]})" for v in values[:SHOWN_CLASSES])
    more = f", … ({len(values)} in all)" if len(values) > SHOWN_CLASSES else ""
    return f"{what} seen (count): {shown}{more}"


# -- the YAML ---------------------------------------------------------------------------------

# Written unquoted: no YAML indicator, no comma (flow context), no leading/trailing space.
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-/ ()]*(?<! )$")
_COMMENT_COLUMN = 32


def _yaml_scalar(value) -> str:
    if isinstance(value, bool) or value is None:  # pragma: no cover - not written
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)  # YAML 1.1 (PyYAML) reads 1e-05 as a string: write 1.0e-05
        mantissa, e, exponent = text.partition("e")
        if "." not in mantissa and mantissa.lstrip("-").isdigit():
            mantissa += ".0"
        return mantissa + e + exponent
    text = str(value)
    if _PLAIN.match(text) and "  " not in text and yaml.safe_load(text) == text:
        return text
    return json.dumps(text, ensure_ascii=False)


def _flow(mapping: dict) -> str:
    return "{" + ", ".join(f"{k}: {_yaml_scalar(v)}" for k, v in mapping.items()) + "}"


class _Lines:
    def __init__(self):
        self.lines: list[str] = []

    def add(self, text: str = "", comment: str = ""):
        if comment:
            text = f"{text:<{_COMMENT_COLUMN - 1}} # {comment}" if text else f"# {comment}"
        self.lines.append(text)

    def key(self, indent: int, key: str, value, comment: str = ""):
        self.add(f"{' ' * indent}{key}: {_yaml_scalar(value)}", comment)

    def items(self, indent: int, key: str, values: list, comment: str = ""):
        pad = " " * indent
        self.add(f"{pad}{key}:", comment)
        for value in values:
            self.add(f"{pad}  - {_yaml_scalar(value)}")

    def comment(self, indent: int, text: str):
        self.lines.append(f"{' ' * indent}# {text}")


_FEATURE_COMMENTS = {
    "numeric": "z-scored; missing = 0",
    "categorical": "vocabulary ids; 0 = missing",
    "tokens": "padded token ids; 0 = padding",
    "steps": "one float per step, z-scored and stacked",
}


def render(found: Plan, profile: DataProfile) -> str:
    """The commented YAML of a Plan."""
    spec, kind = found.spec, found.kind
    out = _Lines()
    columns = len(profile.columns)
    out.comment(
        0, f"A task spec written by `losskit init` from {profile.rows} rows, {columns} columns."
    )
    out.comment(
        0, "Edit freely: `losskit check <this file>` checks it against the data before a run."
    )
    out.comment(0, "Every key is described in docs/task-spec.md.")
    out.key(0, "name", spec["name"], "names the pipeline: lower case, digits and -")
    out.key(0, "summary", spec["summary"])
    out.key(0, "kind", kind, " | ".join(spec_lib.KINDS))
    out.key(0, "data", spec["data"], "relative to this file; a file, a glob or a directory")
    out.add()
    if "label" in spec:
        label = spec["label"]
        out.add("label:")
        out.key(2, "column", label["column"])
        if "class_weight" in label:
            out.key(2, "class_weight", label["class_weight"], " | ".join(spec_lib.CLASS_WEIGHTS))
        if "num_labels" in label:
            out.key(2, "num_labels", label["num_labels"], "label ids are 0..num_labels-1")
            out.key(2, "pos_weight", label["pos_weight"], "auto: n_neg / n_pos per label, or none")
        if found.label_note:
            out.comment(2, found.label_note)
            out.comment(
                2,
                "losskit run lists them from the data (numbers in order, else text order); `classes: [...]` fixes them",
            )
    if "heads" in spec:
        out.add("heads:", "one output each; add heads of other columns here")
        for head in spec["heads"]:
            out.add(f"  - name: {_yaml_scalar(head['name'])}")
            for key in ("kind", "column", "class_weight", "loss"):
                if key in head:
                    out.key(4, key, head[key])
        if found.label_note:
            out.comment(2, found.label_note)
        out.comment(
            2, "e.g. - {name: other, kind: regression, column: other, loss: MeanSquaredError}"
        )
    out.add()
    out.add("features:")
    for role, names in spec["features"].items():
        out.items(2, role, names, _FEATURE_COMMENTS[role])
    for name, reason in found.skipped:
        out.comment(2, f"skipped: {describe_value(name)} ({reason})")
    if "sequence" in spec:
        out.add()
        seq = spec["sequence"]
        out.add("sequence:")
        out.key(
            2,
            "max_length_quantile",
            seq["max_length_quantile"],
            "T = this quantile of the lengths…",
        )
        out.key(2, "max_length_cap", seq["max_length_cap"], "…at most this (the longest seen)")
        out.key(2, "truncate", seq["truncate"], "post | pre: which end a long sequence loses")
        out.add(
            f"  length_buckets: {_flow_list(seq['length_buckets'])}",
            "the length_bucket slice edges",
        )
    if "loss" in spec:
        out.add()
        out.key(0, "loss", spec["loss"], "a losskit or Keras loss; `{name: ..., params: {...}}`")
    out.add()
    out.add("model:")
    family = spec["model"]["family"]
    out.key(2, "family", family, "mlp | bigru, or `builder: module.function`")
    out.comment(2, "params: {hidden: 16}" if family == "mlp" else "params: {embed: 32, units: 32}")
    out.add()
    out.add("trainer:")
    for key, value in spec["trainer"].items():
        out.key(2, key, value)
    out.add()
    out.add("eval:")
    evaluation = spec["eval"]
    if "slices" in evaluation:
        out.items(2, "slices", evaluation["slices"], "TFMA reports each metric per value")
    else:
        out.comment(2, "slices: [a categorical column]   (TFMA reports each metric per value)")
    out.add("  thresholds:", "placeholders: tighten them once you know what the model reaches")
    for metric, threshold in evaluation["thresholds"].items():
        out.add(f"    {_yaml_scalar(metric)}: {_flow(threshold)}")
    return "\n".join(out.lines) + "\n"


def _flow_list(values: list) -> str:
    return "[" + ", ".join(_yaml_scalar(v) for v in values) + "]"
