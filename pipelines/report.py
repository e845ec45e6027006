"""`losskit report`: one self-contained HTML page for a run root, read back through ML Metadata.

Every task under the root that has an Evaluator output gets a section (tasks without one are
listed as such): the blessing and the thresholds that decided it, the overall metrics, per-class
(per-label) metrics, ROC and PR curves, every slice's metrics with small slices flagged, the
Trainer's training curves and the loss it was trained with. Charts are drawn with matplotlib
and embedded as SVG data URIs; the page loads nothing else and its Content-Security-Policy
forbids it to, so it can be mailed, archived or attached to a CI run as one file.

Classes are named as the Trainer's `loss.json` names them (`classes`: {head: [names in id
order]}); runs without that list show class ids. A class a slice lacks (its `mean_label` is 0 or
1: no positives or no negatives) has no one-vs-rest AUC, whatever TFMA reports for it (0): the
page shows such metrics, and the macro mean over them, as absent.

Stable hooks for tests and scrapers: `section[data-task]`, `table[data-table=thresholds|overall|
slices|loss]`, `tr[data-slice]` (with `data-example-count`, `data-small`), `td[data-metric]
[data-slice]` (with the unrounded `data-value`, or `data-absent` and TFMA's `data-reported`;
per-class cells add `data-class-name` and `data-mean-label`), `th[data-metric]` (slice table
columns), `figure[data-chart]`. `data-metric` is always TFMA's key (`auc/classId:0`).
"""

import base64
import dataclasses
import glob
import html
import io
import json
import math
import os
import re

import matplotlib
import tensorflow as tf
import tensorflow_model_analysis as tfma
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from tensorflow_model_analysis.metrics import metric_specs, metric_types
from tensorflow_model_analysis.proto import config_pb2
from tensorflow_model_analysis.slicer import slicer_lib
from tensorflow_model_analysis.utils import model_util
from tensorflow_model_analysis.writers import metrics_plots_and_validations_writer

from pipelines import results

# Below this many examples a slice's metrics rest on a handful of positives per class (one
# island has a single species, so its other species' one-vs-rest AUCs are undefined).
SMALL_SLICE = 20
_PER_CLASS = re.compile(r"^(?:(?P<head>.+)/)?(?P<metric>[^/]+)/classId:(?P<class_id>\d+)$")
# A macro mean weighs every class alike, so one undefined class AUC spoils it; micro pools the
# examples and stays defined.
_MACRO = re.compile(r"^(?:(?P<head>.+)/)?(?P<metric>[^/]+)/macro$")
# TFMA's MeanLabel on the one-vs-rest binarization: the class's share of a slice's examples.
MEAN_LABEL = "mean_label"
_CURVE = re.compile(r"^(?:(?P<head>.+)/)?classId:(?P<class_id>\d+)$")
# AggregationType field → the suffix `results.evaluation` gives aggregated metrics.
_AGGREGATIONS = {
    "micro_average": "micro",
    "macro_average": "macro",
    "weighted_macro_average": "weighted",
}


@dataclasses.dataclass
class Check:
    """One threshold applied to one slice, and TFMA's verdict on it."""

    slice: str
    metric: str
    kind: str  # "value" (an absolute bound) or "change" (against the baseline model)
    bound: str
    value: float | None  # the metric, or its difference from the baseline for "change"
    passed: bool


@dataclasses.dataclass
class Section:
    """What the page shows for one task."""

    task: str
    evaluation: results.Evaluation
    checks: list
    missing_slices: list  # slices the thresholds name that the eval data lacks
    curves: dict  # {sub key: {"fpr", "tpr", "recall", "precision": [float]}}, overall slice
    training: dict  # {metric: {"train"|"validation": [(epoch, value)]}}
    loss: dict | None  # the Trainer's loss.json
    model_run: str | None


def write_report(root: str, output: str | None = None) -> str:
    """Write the page for the run under `root` to `output` (default ROOT/report.html) and
    return its path. Raises FileNotFoundError when no task under `root` has been evaluated."""
    root = os.path.abspath(root)
    sections, unevaluated = _collect(root)
    output = os.path.abspath(output or os.path.join(root, "report.html"))
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with open(output, "w", encoding="utf-8") as f:
        f.write(_page(root, sections, unevaluated))
    return output


# --- reading the run --------------------------------------------------------------------------


def _collect(root: str) -> tuple[list, list]:
    """(sections of evaluated tasks, names of pipelines without an Evaluator output)."""
    hint = f"(run `losskit run TASK --root {root}` first)"
    metadata_path = os.path.join(root, "metadata.sqlite")
    if not os.path.isfile(metadata_path):
        raise FileNotFoundError(f"{root}: no run here, no ML Metadata database {hint}")
    sections, unevaluated = [], []
    for pipeline_name in results.pipeline_names(metadata_path):
        try:
            sections.append(_section(metadata_path, pipeline_name))
        except results.NoEvaluation:
            unevaluated.append(pipeline_name)
    if not sections:
        raise FileNotFoundError(f"{root}: no Evaluator output yet {hint}")
    return sections, unevaluated


def _section(metadata_path: str, pipeline_name: str) -> Section:
    evaluation = results.evaluation(metadata_path, pipeline_name)
    result = results.load_eval_result(evaluation.uri)
    validation = tfma.load_validation_result(evaluation.uri)
    model_run = results.model_run_uri(metadata_path, pipeline_name)
    return Section(
        task=pipeline_name.removeprefix("losskit-"),
        evaluation=evaluation,
        checks=_checks(evaluation.uri, result.config, validation),
        missing_slices=[slicer_lib.SingleSliceSpec(spec=s) for s in validation.missing_slices],
        curves=_curves(result),
        training=_training_curves(model_run) if model_run else {},
        loss=_loss_record(model_run) if model_run else None,
        model_run=model_run,
    )


def metric_name(key: metric_types.MetricKey) -> str:
    """A TFMA MetricKey spelled as `results.evaluation` spells it: `auc/classId:0`,
    `auc/macro`, `species/accuracy`. Diff (vs baseline) keys get the plain metric's name."""
    name = key.name
    if key.aggregation_type:
        for field, short in _AGGREGATIONS.items():
            if getattr(key.aggregation_type, field):
                name = f"{name}/{short}"
    if key.sub_key:
        name = f"{name}/{key.sub_key}"
    return f"{key.output_name}/{name}" if key.output_name else name


def _slice_values(uri: str):
    """(slice key, {MetricKey: value}) per slice, from TFMA's metrics file."""
    for metrics in metrics_plots_and_validations_writer.load_and_deserialize_metrics(uri):
        if metrics.HasField("cross_slice_key"):
            continue
        yield (
            slicer_lib.deserialize_slice_key(metrics.slice_key),
            {
                metric_types.MetricKey.from_proto(kv.key): kv.value.double_value.value
                for kv in metrics.metric_keys_and_values
                if kv.value.HasField("double_value")
            },
        )


def _bound(threshold) -> str:
    if isinstance(threshold, config_pb2.GenericValueThreshold):
        parts = []
        if threshold.HasField("lower_bound"):
            parts.append(f"≥ {threshold.lower_bound.value:g}")
        if threshold.HasField("upper_bound"):
            parts.append(f"≤ {threshold.upper_bound.value:g}")
        return " and ".join(parts)
    higher = threshold.direction == config_pb2.MetricDirection.HIGHER_IS_BETTER
    op = "≥" if higher else "≤"
    parts = []
    if threshold.HasField("absolute"):
        parts.append(f"Δ {op} {threshold.absolute.value:g}")
    if threshold.HasField("relative"):
        parts.append(f"Δ/baseline {op} {threshold.relative.value:g}")
    return " and ".join(parts) + " vs baseline"


def _failures(validation) -> set:
    """{(slice name, MetricKey, serialized threshold)} that TFMA's validator refused."""
    failed = set()
    for per_slice in validation.metric_validations_per_slice:
        if per_slice.HasField("cross_slice_key"):
            continue
        name = results.slice_name(slicer_lib.deserialize_slice_key(per_slice.slice_key))
        for failure in per_slice.failures:
            # A failure carries the one threshold (value or change) it broke.
            broken = failure.metric_threshold
            threshold = (
                broken.value_threshold
                if broken.HasField("value_threshold")
                else broken.change_threshold
            )
            key = metric_types.MetricKey.from_proto(failure.metric_key)
            failed.add((name, key, threshold.SerializeToString()))
    return failed


def _checks(uri: str, eval_config, validation) -> list:
    """Every (slice, threshold) pair the Evaluator checked; pass/fail is TFMA's own verdict
    from the validation result, not a re-computation. Cross-slice thresholds are left out."""
    thresholds = metric_specs.metric_thresholds_from_metrics_specs(
        eval_config.metrics_specs, eval_config
    )
    baseline = model_util.get_baseline_model_spec(eval_config)
    failed = _failures(validation)
    checks, seen = [], set()
    for slice_key, values in _slice_values(uri):
        name = results.slice_name(slice_key)
        for key, pairs in thresholds.items():
            if baseline is not None and key.model_name == baseline.name:
                continue  # TFMA does not validate the baseline itself
            for spec, threshold in pairs:
                if isinstance(spec, config_pb2.CrossSlicingSpec):
                    continue
                if spec is not None and not slicer_lib.SingleSliceSpec(
                    spec=spec
                ).is_slice_applicable(slice_key):
                    continue
                identity = (name, key, threshold.SerializeToString())
                if identity in seen:  # the same threshold reached through two slice specs
                    continue
                seen.add(identity)
                checks.append(
                    Check(
                        slice=name,
                        metric=metric_name(key),
                        kind="change" if key.is_diff else "value",
                        bound=_bound(threshold),
                        value=values.get(key),
                        passed=identity not in failed,
                    )
                )
    return sorted(checks, key=lambda c: (c.slice != "Overall", c.slice, c.metric))


def _curves(result) -> dict:
    """ROC and PR points of every ConfusionMatrixPlot on the overall slice, by sub key."""
    curves = {}
    for slice_key, by_output in result.plots or ():
        if slice_key != ():
            continue
        for output, by_sub_key in (by_output or {}).items():
            for sub_key, plots in by_sub_key.items():
                matrices = plots.get("confusionMatrixAtThresholds", {}).get("matrices")
                if not matrices:
                    continue
                matrices = sorted(matrices, key=lambda m: float(m.get("threshold", 0.0)))
                name = "/".join(part for part in (output, sub_key) if part) or "model"
                curves[name] = {
                    field: [float(m.get(source, 0.0)) for m in matrices]
                    for field, source in (
                        ("fpr", "falsePositiveRate"),
                        ("tpr", "recall"),
                        ("recall", "recall"),
                        ("precision", "precision"),
                    )
                }
    return curves


def _training_curves(model_run: str) -> dict:
    """Per-epoch scalars (`epoch_*` tags of the Keras TensorBoard callback) of the train and
    validation logs, epochs counted from 1."""
    curves = {}
    for split in ("train", "validation"):
        for path in sorted(glob.glob(os.path.join(model_run, split, "events.out.tfevents.*"))):
            for event in tf.compat.v1.train.summary_iterator(path):
                for value in event.summary.value:
                    if not value.tag.startswith("epoch_"):
                        continue
                    if value.HasField("tensor"):
                        number = tf.make_ndarray(value.tensor)
                        if number.ndim:
                            continue
                    else:
                        number = value.simple_value
                    points = curves.setdefault(value.tag.removeprefix("epoch_"), {})
                    points.setdefault(split, {})[event.step + 1] = float(number)
    return {
        metric: {split: sorted(points.items()) for split, points in splits.items()}
        for metric, splits in sorted(curves.items(), key=lambda item: item[0] != "loss")
    }


def _loss_record(model_run: str) -> dict | None:
    path = os.path.join(model_run, "loss.json")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# --- the page ---------------------------------------------------------------------------------

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;
  max-width:1180px;margin:0 auto;padding:0 24px 48px}
h1{margin:24px 0 4px}h2{border-bottom:2px solid #d0d7de;padding-bottom:4px;margin-top:40px}
h3{margin:28px 0 6px}nav a{margin-right:12px}code{font-size:12px}
table{border-collapse:collapse;margin:6px 0 14px}
th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}
thead th{background:#f6f8fa}table.sortable thead th{cursor:pointer}
td.num{text-align:right;font-variant-numeric:tabular-nums}td.missing{color:#8c959f}
td.absent{color:#8c959f;text-align:center;cursor:help}
.scroll{overflow-x:auto}.note{color:#59636e}
.badge{display:inline-block;padding:2px 12px;border-radius:12px;font-weight:600}
.badge.pass{background:#dafbe1;color:#1a7f37}.badge.fail{background:#ffebe9;color:#cf222e}
td.pass{color:#1a7f37}td.fail{color:#cf222e;font-weight:600}
tr.small{background:#fff8c5}tbody th{white-space:nowrap}
.flag{font-size:11px;color:#9a6700;margin-left:6px}
figure{margin:10px 0}figure img{max-width:100%}figcaption{color:#59636e;font-size:12px}
.row{display:flex;flex-wrap:wrap;gap:8px 40px;align-items:flex-start}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px}dl.meta dd{margin:0}
"""

# Click a column header of a sortable table to sort by it (numbers by their unrounded value;
# absent and missing cells last either way, so an undefined AUC never sorts as a worst 0).
_SCRIPT = """
document.querySelectorAll("table.sortable").forEach((table) => {
  table.querySelectorAll("thead th").forEach((th, column) => {
    th.addEventListener("click", () => {
      const direction = th.dataset.sorted === "ascending" ? -1 : 1;
      th.dataset.sorted = direction > 0 ? "ascending" : "descending";
      const key = (row) => {
        const cell = row.cells[column];
        if (cell.matches(".absent, .missing")) return null;
        const number = parseFloat(cell.dataset.value);
        return Number.isNaN(number) ? cell.textContent : number;
      };
      const rows = Array.from(table.tBodies[0].rows);
      rows.sort((a, b) => {
        const [x, y] = [key(a), key(b)];
        if (x === null || y === null) return (x === null) - (y === null);
        return direction * (typeof x === "number" && typeof y === "number"
          ? x - y : String(x).localeCompare(String(y)));
      });
      table.tBodies[0].append(...rows);
    });
  });
});
"""

# The page may load nothing: no scripts, styles, fonts or images but its own.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _page(root: str, sections: list, unevaluated: list) -> str:
    nav = ""
    if len(sections) > 1:
        links = "".join(f'<a href="#task-{_e(s.task)}">{_e(s.task)}</a>' for s in sections)
        nav = f"<nav>{links}</nav>"
    notes = "".join(
        f'<p class="note" data-unevaluated="{_e(name)}">{_e(name)}: no Evaluator output yet</p>'
        for name in unevaluated
    )
    body = "".join(_section_html(s) for s in sections)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>losskit report · {_e(root)}</title><style>{_STYLE}</style></head>
<body><header><h1>losskit report</h1><p class="note">Run root <code>{_e(root)}</code></p>
{nav}{notes}</header>
{body}
<script>{_SCRIPT}</script>
</body></html>
"""


def _section_html(s: Section) -> str:
    overall = s.evaluation.overall()
    classes = _classes(s.loss)
    parts = [
        f'<section class="task" id="task-{_e(s.task)}" data-task="{_e(s.task)}">',
        f"<h2>{_e(s.task)}</h2>",
        '<dl class="meta">',
        f"<dt>Evaluation</dt><dd><code>{_e(s.evaluation.uri)}</code></dd>",
        f"<dt>Trainer run</dt><dd><code>{_e(s.model_run or '—')}</code></dd>",
        "</dl>",
        _blessing_html(s),
        '<div class="row"><div><h3>Overall metrics</h3>',
        _overall_html(overall, classes),
        f"</div><div>{_per_class_html(overall, classes)}</div></div>",
        _curves_html(s.curves, overall, classes),
        _slices_html(s.evaluation.metrics, classes),
        _training_html(s.training),
        _loss_html(s.loss),
        "</section>",
    ]
    return "\n".join(part for part in parts if part)


# --- classes: their names, and the ones a slice lacks -----------------------------------------


def _classes(loss: dict | None) -> dict:
    """{head: [class names in id order]} from the Trainer's loss.json (`""` is the head of a
    single-output task); {} for runs older than that list, whose pages show class ids."""
    classes = (loss or {}).get("classes") or {}
    return {head: [str(name) for name in names] for head, names in classes.items() if names}


def _class_name(classes: dict, head: str | None, class_id: int) -> str | None:
    names = classes.get(head or "", [])
    return names[class_id] if class_id < len(names) else None


def _key_class_name(key: str, classes: dict) -> str | None:
    """The name of the class a per-class metric key is about, where the run names it."""
    match = _PER_CLASS.match(key)
    return _class_name(classes, match["head"], int(match["class_id"])) if match else None


def _class_text(classes: dict, head: str | None, class_id: int) -> str:
    """The class in prose: its name, or `class k` where the run names none."""
    name = _class_name(classes, head, class_id)
    return f"class {class_id}" if name is None else name


def _class_key(head: str | None, metric: str, class_id: int) -> str:
    return f"{head}/{metric}/classId:{class_id}" if head else f"{metric}/classId:{class_id}"


def _absence_of(share: float) -> str | None:
    """Why a class with mean label `share` in a slice has no one-vs-rest AUC there (an AUC ranks
    positives against negatives, so it needs both), or None."""
    if math.isnan(share):
        return "no examples"
    # Exact comparisons hold: MeanLabel divides the weighted sum of 0/1 labels by the sum of
    # the same weights, so a slice of one kind gives exactly 0 or 1.
    if share == 0:
        return "no positives"
    if share == 1:
        return "no negatives"
    return None


def _absent_classes(values: dict) -> dict:
    """{(head, class id): why} for the classes a slice lacks, read from its `mean_label/
    classId:k`; runs older than that metric have none, and nothing is marked absent."""
    absent = {}
    for key, share in values.items():
        match = _PER_CLASS.match(key)
        if match and match["metric"] == MEAN_LABEL and (why := _absence_of(share)):
            absent[(match["head"] or "", int(match["class_id"]))] = why
    return absent


def _absence(key: str, absent: dict) -> str | None:
    """Why metric `key` is undefined in a slice lacking the classes `absent`, or None: an
    AUC-type metric (its name contains `auc`) of an absent class, or the macro mean of one over
    a head with an absent class."""
    match = _PER_CLASS.match(key)
    if match:
        if "auc" not in match["metric"]:
            return None
        return absent.get((match["head"] or "", int(match["class_id"])))
    match = _MACRO.match(key)
    if match and "auc" in match["metric"]:
        if any(head == (match["head"] or "") for head, _ in absent):
            return "a class is absent"
    return None


def _absence_title(key: str, why: str, reported: float, absent: dict, classes: dict) -> str:
    tfma = f"TFMA reports {reported:.4f}"
    if why == "a class is absent":
        head = _MACRO.match(key)["head"] or ""
        lacking = ", ".join(_class_text(classes, h, k) for h, k in sorted(absent) if h == head)
        return (
            f"Undefined: a mean over the classes, and this slice lacks {lacking}, whose AUC is "
            f"undefined ({tfma})."
        )
    match = _PER_CLASS.match(key)
    name = _class_text(classes, match["head"], int(match["class_id"]))
    has = {
        "no positives": f"no example of {name}",
        "no negatives": f"only examples of {name}",
        "no examples": "no (weighted) example",
    }[why]
    return (
        f"Undefined: this slice has {has}, and a one-vs-rest AUC needs positives and negatives "
        f"({tfma})."
    )


# --- the page: tables ------------------------------------------------------------------------


def _fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "—"
    if metric.endswith("example_count") and float(value).is_integer():
        return str(int(value))
    return f"{value:.4f}"


def _class_attributes(key: str, values: dict, classes: dict) -> tuple[str, str]:
    """(data attributes, tooltip) of a per-class cell: the class's name and its share of the
    slice (its mean label), which the slice table shows here rather than as columns."""
    match = _PER_CLASS.match(key)
    if not match:
        return "", ""
    head, class_id = match["head"], int(match["class_id"])
    name = _class_name(classes, head, class_id)
    attributes = "" if name is None else f' data-class-name="{_e(name)}"'
    share = values.get(_class_key(head, MEAN_LABEL, class_id))
    if share is None or math.isnan(share):
        return attributes, ""
    attributes += f' data-mean-label="{share!r}"'
    return attributes, f"{_class_text(classes, head, class_id)}: {share:.1%} of the slice"


def _metric_cell(key: str, slice_name: str, values: dict, absent: dict, classes: dict) -> str:
    """Metric `key` of one slice: its value; `—` with the reason where the slice lacks the
    class it needs (TFMA's number kept in data-reported); `—` where the slice has no such key."""
    if key not in values:
        return '<td class="missing">—</td>'
    value = values[key]
    class_attributes, title = _class_attributes(key, values, classes)
    attributes = f'data-metric="{_e(key)}" data-slice="{_e(slice_name)}"{class_attributes}'
    why = _absence(key, absent)
    if why:
        title = _absence_title(key, why, value, absent, classes)
        return (
            f'<td class="absent" {attributes} data-absent="{why}" data-reported="{value!r}" '
            f'title="{_e(title)}">—</td>'
        )
    title = f' title="{_e(title)}"' if title else ""
    return f'<td class="num" {attributes} data-value="{value!r}"{title}>{_fmt(key, value)}</td>'


def _metric_label(key: str, classes: dict) -> str:
    """A metric key as HTML: `auc · Adelie` where the run names the class, the key otherwise."""
    name = _key_class_name(key, classes)
    if name is None:
        return f"<code>{_e(key).replace('/', '/<wbr>')}</code>"
    match = _PER_CLASS.match(key)
    metric = "/".join(filter(None, (match["head"], match["metric"])))
    return f"<code>{_e(metric)}</code> · {_e(name)}"


def _ordered(keys) -> list:
    """Example count first, then whole-model metrics, then per-class ones by class id."""

    def order(key):
        match = _PER_CLASS.match(key)
        if match:
            return (2, match["head"] or "", match["metric"], int(match["class_id"]))
        return (0 if key.endswith("example_count") else 1, "", key, 0)

    return sorted(keys, key=order)


def _blessing_html(s: Section) -> str:
    blessed, validation_ok = s.evaluation.blessed, s.evaluation.validation_ok
    passed = sum(c.passed for c in s.checks)
    verdict = (
        f'<p><span class="badge {"pass" if blessed else "fail"}" '
        f'data-blessed="{str(blessed).lower()}" data-validation-ok="{str(validation_ok).lower()}">'
        f"{'BLESSED' if blessed else 'NOT BLESSED'}</span> "
        f"TFMA validation {'passed' if validation_ok else 'failed'}: "
        f"{passed} of {len(s.checks)} threshold checks passed.</p>"
    )
    missing = "".join(
        f'<p class="note" data-missing-slice="{_e(spec)}">The thresholds name slice {_e(spec)}, '
        "which has no examples in the eval data (a failure).</p>"
        for spec in s.missing_slices
    )
    if not s.checks:
        return f'<h3>Blessing</h3>{verdict}{missing}<p class="note">No thresholds are set.</p>'
    return (
        f"<h3>Blessing</h3>{verdict}{missing}"
        '<table data-table="thresholds"><thead><tr><th>slice</th><th>metric</th>'
        "<th>threshold</th><th>value</th><th>result</th></tr></thead>"
        f"<tbody>{''.join(_check_row(c) for c in s.checks)}</tbody></table>"
    )


def _check_row(check: Check) -> str:
    result = "pass" if check.passed else "fail"
    value = (
        f'<td class="num" data-value="{check.value!r}">{_fmt(check.metric, check.value)}</td>'
        if check.value is not None
        else '<td class="missing">missing</td>'
    )
    return (
        f'<tr data-slice="{_e(check.slice)}" data-metric="{_e(check.metric)}" '
        f'data-kind="{check.kind}" data-result="{result}"><td>{_e(check.slice)}</td>'
        f"<td><code>{_e(check.metric)}</code></td><td>{_e(check.bound)}</td>{value}"
        f'<td class="{result}">{result}</td></tr>'
    )


def _overall_html(overall: dict, classes: dict) -> str:
    absent = _absent_classes(overall)
    rows = "".join(
        f'<tr data-metric="{_e(key)}"><th scope="row">{_metric_label(key, classes)}</th>'
        f"{_metric_cell(key, 'Overall', overall, absent, classes)}</tr>"
        for key in _ordered(overall)
    )
    return (
        '<table data-table="overall"><thead><tr><th>metric</th><th>value</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )


def _is_mean_label(key: str) -> bool:
    match = _PER_CLASS.match(key)
    return bool(match) and match["metric"] == MEAN_LABEL


def _slice_columns(metrics: dict, count_key: str | None) -> list:
    """The slice table's metric columns: all but the example count, baseline differences and
    the mean labels (shown in the per-class cells' tooltips: a column per class per metric
    would double the width of a ten-class table)."""
    keys = {k for values in metrics.values() for k in values}
    return _ordered(
        k for k in keys if k != count_key and "_diff" not in k and not _is_mean_label(k)
    )


def _column_head(key: str, classes: dict) -> str:
    name = _key_class_name(key, classes)
    class_name = "" if name is None else f' data-class-name="{_e(name)}"'
    return (
        f'<th data-metric="{_e(key)}"{class_name} title="{_e(key)}">'
        f"{_metric_label(key, classes)}</th>"
    )


def _slice_row(name: str, values: dict, count_key, columns: list, classes: dict) -> str:
    count = values.get(count_key)
    small = count is not None and count < SMALL_SLICE
    flag = f'<span class="flag">n &lt; {SMALL_SLICE}</span>' if small else ""
    absent = _absent_classes(values)
    cells = "".join(
        _metric_cell(key, name, values, absent, classes)
        for key in ([count_key] if count_key else []) + columns
    )
    return (
        f'<tr data-slice="{_e(name)}" data-example-count="{_fmt("example_count", count)}" '
        f'data-small="{str(small).lower()}"{" class=small" if small else ""}>'
        f"<th scope='row'>{_e(name)}{flag}</th>{cells}</tr>"
    )


def _slices_html(metrics: dict, classes: dict) -> str:
    overall = metrics.get("Overall", {})
    count_key = next((k for k in _ordered(overall) if k.endswith("example_count")), None)
    columns = _slice_columns(metrics, count_key)
    head = "".join(_column_head(key, classes) for key in columns)
    rows = "".join(
        _slice_row(name, metrics[name], count_key, columns, classes)
        for name in sorted(metrics, key=lambda n: (n != "Overall", n))
    )
    count_head = "<th>examples</th>" if count_key else ""
    return (
        "<h3>Slices</h3>"
        f'<p class="note">Highlighted slices have fewer than {SMALL_SLICE} examples: their '
        "metrics rest on a handful of examples. A slice with no example of a class, or only "
        "examples of it, has no one-vs-rest AUC for that class, nor a macro mean over the "
        "classes: those cells show — (TFMA reports 0 there). Hover a per-class cell for the "
        "class's share of the slice, or a — for why. Click a column header to sort.</p>"
        '<div class="scroll"><table class="sortable" data-table="slices"><thead><tr>'
        f"<th>slice</th>{count_head}{head}</tr></thead><tbody>{rows}</tbody>"
        "</table></div>"
    )


# --- the page: charts ------------------------------------------------------------------------


def _chart_text(text: str) -> str:
    """User text (class names) as matplotlib should draw it, literally: `$` would start
    mathtext, and a legend drops labels that start with `_`."""
    text = text.replace("$", r"\$")
    return "\u200b" + text if text.startswith("_") else text


def _figure(fig: Figure, chart: str, caption: str, **data) -> str:
    """A matplotlib figure as an <img> with an SVG data URI (its own document, so the ids of
    several charts cannot clash)."""
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "losskit"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    uri = "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    attributes = "".join(f' data-{name}="{_e(value)}"' for name, value in data.items())
    return (
        f'<figure data-chart="{chart}"{attributes}><img alt="{_e(caption)}" src="{uri}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _per_class_values(overall: dict) -> dict:
    """{head: {metric: {class id: value}}} of the overall slice, NaN (no bar) where the metric
    is undefined for want of the class; mean labels (drawn in the tick labels) and baseline
    differences are left out."""
    absent = _absent_classes(overall)
    by_head: dict = {}
    for key, value in overall.items():
        match = _PER_CLASS.match(key)
        if match and not match["metric"].endswith("_diff") and match["metric"] != MEAN_LABEL:
            metrics = by_head.setdefault(match["head"] or "", {})
            value = math.nan if _absence(key, absent) else value
            metrics.setdefault(match["metric"], {})[int(match["class_id"])] = value
    return by_head


def _class_tick(overall: dict, classes: dict, head: str, class_id: int) -> str:
    """A bar group's label: the class's name (its id where unnamed) over its share."""
    name = _class_name(classes, head, class_id)
    tick = _chart_text(str(class_id) if name is None else name)
    share = overall.get(_class_key(head, MEAN_LABEL, class_id))
    return tick if share is None or math.isnan(share) else f"{tick}\n{share:.0%}"


def _per_class_html(overall: dict, classes: dict) -> str:
    """Grouped bars of every per-class metric of the overall slice, one chart per head; the
    macro / micro / weighted averages are drawn as dashed lines."""
    figures = [
        _per_class_figure(head, metrics, overall, classes)
        for head, metrics in _per_class_values(overall).items()
    ]
    return "<h3>Per class</h3>" + "".join(figures) if figures else ""


def _per_class_figure(head: str, metrics: dict, overall: dict, classes: dict) -> str:
    prefix = f"{head}/" if head else ""
    absent = _absent_classes(overall)
    class_ids = sorted({i for values in metrics.values() for i in values})
    fig = Figure(figsize=(max(6.0, 1.1 * len(class_ids) * len(metrics)), 3.8), layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / len(metrics)
    for n, (metric, values) in enumerate(sorted(metrics.items())):
        color = f"C{n}"
        offsets = [i + (n - (len(metrics) - 1) / 2) * width for i in range(len(class_ids))]
        heights = [values.get(i, math.nan) for i in class_ids]
        bars = ax.bar(offsets, heights, width * 0.95, label=metric, color=color)
        labels = ["" if math.isnan(h) else f"{h:.3f}" for h in heights]
        ax.bar_label(bars, labels=labels, fontsize=8, padding=2)
        for aggregation in _AGGREGATIONS.values():
            key = f"{prefix}{metric}/{aggregation}"
            if key in overall and not _absence(key, absent):
                average = overall[key]
                ax.axhline(
                    average,
                    color=color,
                    linestyle="--",
                    linewidth=1,
                    label=f"{metric} {aggregation} {average:.3f}",
                )
    ax.set_xticks(
        range(len(class_ids)), [_class_tick(overall, classes, head, i) for i in class_ids]
    )
    named = bool(classes.get(head))
    ax.set_xlabel("class" if named else "class id")
    finite = [v for values in metrics.values() for v in values.values() if not math.isnan(v)]
    if all(0 <= v <= 1 for v in finite):
        ax.set_ylim(0, 1.15)
    ax.set_title(" · ".join(filter(None, (head, "per class", "overall slice"))), fontsize=10)
    fig.legend(loc="outside lower center", ncols=4, fontsize=8, frameon=False)
    caption = (
        f"One-vs-rest metrics per {'class' if named else 'class id'} (per label for multi-label "
        "tasks), with the class's share of the examples; no bar where a class is absent"
        + (f", head {head}" if head else "")
    )
    data = {"head": head}
    if named:
        data["classes"] = json.dumps([_class_text(classes, head, i) for i in class_ids])
    return _figure(fig, "per-class", caption, **data)


def _curve_label(name: str, metric: str, overall: dict, absent: dict, classes: dict) -> str:
    """Legend entry of curve `name` (`classId:k`, `species/classId:k`): the class's name where
    the run names it, and the curve's area (`metric`) unless that is undefined."""
    match = _CURVE.match(name)
    if not match:
        return _chart_text(name)
    head, class_id = match["head"], int(match["class_id"])
    class_name = _class_name(classes, head, class_id)
    label = name if class_name is None else " · ".join(filter(None, (head, class_name)))
    key = _class_key(head, metric, class_id)
    short = {"auc": "AUC", "pr_auc": "PR-AUC"}[metric]
    why = _absence(key, absent)
    if why:
        label += f" ({short} undefined: {why})"
    elif key in overall:
        label += f" ({short} {overall[key]:.3f})"
    return _chart_text(label)


def _curves_html(curves: dict, overall: dict, classes: dict) -> str:
    if not curves:
        return ""
    absent = _absent_classes(overall)
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    roc, pr = fig.subplots(1, 2)
    for name, points in curves.items():
        roc.plot(
            points["fpr"], points["tpr"], label=_curve_label(name, "auc", overall, absent, classes)
        )
        pr.plot(
            points["recall"],
            points["precision"],
            label=_curve_label(name, "pr_auc", overall, absent, classes),
        )
    roc.plot([0, 1], [0, 1], color="0.7", linestyle=":", linewidth=1)
    roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    pr.set(xlabel="recall", ylabel="precision", title="Precision–recall", ylim=(0, 1.05))
    for ax in (roc, pr):
        ax.legend(fontsize=8, loc="lower right" if ax is roc else "lower left")
        ax.grid(alpha=0.3)
    caption = "From TFMA's ConfusionMatrixPlot at 1,000 thresholds, overall slice."
    return "<h3>ROC and precision–recall curves</h3>" + _figure(fig, "curves", caption)


def _training_html(training: dict) -> str:
    if not training:
        return ""
    columns = min(3, len(training))
    rows = math.ceil(len(training) / columns)
    fig = Figure(figsize=(4 * columns, 3 * rows), layout="constrained")
    axes = list(fig.subplots(rows, columns, squeeze=False).flat)
    for ax, (metric, splits) in zip(axes, training.items(), strict=False):
        for split, points in splits.items():
            epochs, values = zip(*points, strict=True)
            ax.plot(epochs, values, marker="." if len(points) < 30 else None, label=split)
        ax.set(title=metric, xlabel="epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in axes[len(training) :]:
        ax.set_visible(False)
    caption = "Per-epoch scalars from the Trainer's TensorBoard logs."
    return "<h3>Training</h3>" + _figure(fig, "training", caption, metrics=",".join(training))


def _param(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_param(v) for v in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _loss_html(record: dict | None) -> str:
    if not record:
        return ""
    rows = []
    for head, loss in record.get("loss", {}).items():
        params = "".join(
            f"<tr><th scope='row'>{_e(k)}</th><td><code>{_e(_param(v))}</code></td></tr>"
            for k, v in sorted(loss.get("config", {}).items())
        )
        rows.append(
            f'<tr data-head="{_e(head)}" data-loss="{_e(loss.get("class_name", ""))}">'
            f"<td>{_e(head or '(single output)')}</td>"
            f"<td><code>{_e(loss.get('class_name', '?'))}</code><br>"
            f"<span class='note'>{_e(loss.get('module', ''))}</span></td>"
            f"<td><table>{params}</table></td></tr>"
        )
    return (
        "<h3>Loss</h3>"
        '<table data-table="loss"><thead><tr><th>head</th><th>loss</th><th>parameters</th>'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
