"""The one EvalConfig builder: a task spec → metrics per kind (and per head), slices, and the
thresholds that bless a model.

Each kind's metrics are those `components.spec.DEFAULT_METRICS` names (the spec validates
thresholds against that table); `eval.metrics` adds more. Value thresholds apply to the
overall slice only (`per_slice_thresholds`): a slice that lacks a class reports that class's
AUC as 0, so per-slice thresholds would refuse every model. Per-class metrics are computed
one-vs-rest (`BinarizationOptions`) with a macro mean, and each class's `mean_label` (its
share of the slice) beside them, so the report can tell an undefined AUC (a slice with no
example, or only examples, of that class) from a real 0. A classification spec with
`label.costs` adds the mean decision cost of argmax and of cost-aware decisions (per slice).
"""

import json

import tensorflow_model_analysis as tfma
from google.protobuf import wrappers_pb2

from components import spec as spec_lib
from components.transform.preprocessing import TAG_PAD_ID, num_labels

CUSTOM_METRICS = "components.evaluator.metrics"


def eval_config(spec: spec_lib.TaskSpec, *, with_baseline: bool | None = None) -> tfma.EvalConfig:
    """The Evaluator's EvalConfig. `with_baseline` (default `spec.eval.baseline`) adds the
    baseline model spec and the change thresholds (`max_worse`)."""
    baseline = spec.eval.baseline if with_baseline is None else with_baseline
    if spec.kind == "multitask":
        label_key = {h.name: spec_lib.head_label(h.name) for h in spec.heads}
        heads = [(h.name, h.kind, _class_ids(spec, h.kind, h)) for h in spec.heads]
    else:
        label_key = spec_lib.LABEL
        heads = [("", spec.kind, _class_ids(spec, spec.kind, spec.label))]
    metrics_specs = [tfma.MetricsSpec(metrics=[tfma.MetricConfig(class_name="ExampleCount")])]
    for head, kind, class_ids in heads:
        metrics_specs.extend(_head_specs(spec, head, kind, class_ids, baseline))
    return tfma.EvalConfig(
        model_specs=_model_specs(label_key, baseline),
        slicing_specs=[tfma.SlicingSpec()]
        + [tfma.SlicingSpec(feature_keys=[key]) for key in spec.eval.slices],
        metrics_specs=metrics_specs,
    )


def _class_ids(spec, kind: str, label) -> list[int]:
    """The ids TFMA binarizes one-vs-rest: every class, or every label for multilabel."""
    if kind == "multilabel":
        return list(range(num_labels(spec)))
    if kind != "classification":
        return []
    if label.classes is None:
        raise ValueError(
            f"{label.column}: the class list must be known to configure TFMA's one-vs-rest "
            "metrics; set label.classes (losskit run and compile fill it in from the data)"
        )
    return list(range(len(label.classes)))


def _head_specs(spec, head, kind, class_ids, baseline) -> list:
    outputs = [head] if head else []
    prefix = f"{head}/" if head else ""

    def metric(name, class_name, module=None, **config):
        return _with_threshold(
            spec, prefix + name, baseline, _config(class_name, module, name=name, **config)
        )

    plain, per_class = [], []
    if kind == "classification":
        plain.append(metric("accuracy", "SparseCategoricalAccuracy"))
        per_class += [metric("auc", "AUC"), metric("pr_auc", "AUC", curve="PR")]
        costs = spec.label.cost_matrix() if spec.kind == "classification" else None
        if costs:
            plain += [
                metric(name, "DecisionCost", CUSTOM_METRICS, cost_matrix=costs, decision=rule)
                for name, rule in spec_lib.DECISION_COSTS.items()
            ]
    elif kind == "regression":
        plain += [
            metric("mean_squared_error", "MeanSquaredError"),
            metric("mean_absolute_error", "MeanAbsoluteError"),
        ]
    elif kind == "multilabel":
        plain += [
            metric("ranking_loss", "RankingLoss", CUSTOM_METRICS),
            metric("hamming_loss", "HammingLoss", CUSTOM_METRICS, threshold=0.5),
        ]
        per_class.append(metric("auc", "AUC"))
    elif kind == "tagging":
        plain.append(
            metric(
                "masked_token_accuracy", "MaskedTokenAccuracy", CUSTOM_METRICS, pad_class=TAG_PAD_ID
            )
        )
    else:
        mask_value = spec.sequence.mask_value
        plain += [
            metric("sequence_ccc", "SequenceConcordance", CUSTOM_METRICS, mask_value=mask_value),
            metric("sequence_pearson", "SequencePearson", CUSTOM_METRICS, mask_value=mask_value),
        ]
    for extra in spec.eval.metrics:
        if (extra.head or "") != head:
            continue
        config = _with_threshold(
            spec,
            prefix + spec_lib.metric_name(extra),
            baseline,
            _config(extra.class_name, extra.module, name=extra.name, **extra.config),
        )
        (per_class if extra.per_class else plain).append(config)
    specs = [tfma.MetricsSpec(output_names=outputs, metrics=plain)] if plain else []
    if class_ids:
        binarize = tfma.BinarizationOptions(class_ids={"values": class_ids})
        macro = tfma.AggregationOptions(
            macro_average=True, class_weights={i: 1.0 for i in class_ids}
        )
        specs += [
            tfma.MetricsSpec(
                output_names=outputs, binarize=binarize, aggregate=macro, metrics=per_class
            ),
            tfma.MetricsSpec(
                output_names=outputs,
                binarize=binarize,
                metrics=[
                    tfma.MetricConfig(class_name="MeanLabel"),
                    tfma.MetricConfig(class_name="ConfusionMatrixPlot"),
                ],
            ),
        ]
    if kind == "multilabel":
        specs.append(  # auc/micro beside auc/macro
            tfma.MetricsSpec(
                output_names=outputs,
                binarize=tfma.BinarizationOptions(class_ids={"values": class_ids}),
                aggregate=tfma.AggregationOptions(micro_average=True),
                metrics=[tfma.MetricConfig(class_name="AUC")],
            )
        )
    return specs


def _config(class_name, module=None, *, name=None, **config) -> tfma.MetricConfig:
    if name:
        config["name"] = name
    kwargs = {"module": module} if module else {}
    return tfma.MetricConfig(
        class_name=class_name, config=json.dumps(config, sort_keys=True) if config else "", **kwargs
    )


def _with_threshold(spec, metric_name, baseline, config: tfma.MetricConfig) -> tfma.MetricConfig:
    """Puts the spec's threshold for `metric_name`, if any, on the overall slice."""
    threshold = spec.eval.thresholds.get(metric_name)
    if threshold is None:
        return config
    value = None
    if threshold.min is not None or threshold.max is not None:
        bounds = {}
        if threshold.min is not None:
            bounds["lower_bound"] = wrappers_pb2.DoubleValue(value=threshold.min)
        if threshold.max is not None:
            bounds["upper_bound"] = wrappers_pb2.DoubleValue(value=threshold.max)
        value = tfma.GenericValueThreshold(**bounds)
    change = None
    if baseline and threshold.max_worse is not None:
        higher = spec_lib.higher_is_better(spec, metric_name)
        change = tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER
            if higher
            else tfma.MetricDirection.LOWER_IS_BETTER,
            absolute={"value": -threshold.max_worse if higher else threshold.max_worse},
        )
    config.per_slice_thresholds.append(
        tfma.PerSliceMetricThreshold(
            slicing_specs=[tfma.SlicingSpec()],
            threshold=tfma.MetricThreshold(value_threshold=value, change_threshold=change),
        )
    )
    return config


def _model_specs(label_key, with_baseline):
    spec = dict(
        signature_name="serving_default",
        preprocessing_function_names=["transform_features"],
        model_type=tfma.TF_KERAS,
    )
    if isinstance(label_key, dict):
        spec["label_keys"] = label_key
    else:
        spec["label_key"] = label_key
    specs = [tfma.ModelSpec(name="candidate", **spec)]
    if with_baseline:
        specs.append(tfma.ModelSpec(name="baseline", is_baseline=True, **spec))
    return specs
