"""EvalConfig builders, one per task: metrics, slices and the thresholds that bless a model.

Value thresholds apply to the overall slice only (per_slice_thresholds): a slice that lacks
a class (Torgersen island has only Adelie) reports that class's AUC as 0, so per-slice
thresholds would refuse every model.
"""

import json

import tensorflow_model_analysis as tfma
from google.protobuf import wrappers_pb2

import losses


def _overall_only(threshold: tfma.MetricThreshold) -> dict:
    """MetricConfig kwargs that put `threshold` on the overall slice alone
    (MetricConfig.threshold would apply it to every slice)."""
    return {
        "per_slice_thresholds": [
            tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=threshold)
        ]
    }


def _threshold(lower=None, max_drop=None):
    value = (
        tfma.GenericValueThreshold(lower_bound=wrappers_pb2.DoubleValue(value=lower))
        if lower is not None
        else None
    )
    change = (
        tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER,
            absolute={"value": -max_drop},
        )
        if max_drop is not None
        else None
    )
    return tfma.MetricThreshold(value_threshold=value, change_threshold=change)


def _model_specs(label_key, with_baseline, **extra):
    spec = dict(
        signature_name="serving_default",
        preprocessing_function_names=["transform_features"],
        model_type=tfma.TF_KERAS,
        **extra,
    )
    if isinstance(label_key, dict):
        spec["label_keys"] = label_key
    else:
        spec["label_key"] = label_key
    specs = [tfma.ModelSpec(name="candidate", **spec)]
    if with_baseline:
        specs.append(tfma.ModelSpec(name="baseline", is_baseline=True, **spec))
    return specs


def loss_metric(loss, name=None) -> tfma.MetricConfig:
    """A losskit loss reported by TFMA next to AUC (TFMA accepts Keras Loss classes)."""
    config = dict(loss.get_config())
    if name:
        config["name"] = name
    return tfma.MetricConfig(
        class_name=type(loss).__name__, module=losses.__name__, config=json.dumps(config)
    )


def penguins(
    *,
    num_classes=3,
    label_key="species_id",
    slice_features=("island", "sex"),
    min_macro_auc=0.9,
    max_auc_drop=0.05,
    with_baseline=True,
) -> tfma.EvalConfig:
    """One-vs-rest ROC-AUC and PR-AUC per class and their macro mean; accuracy (the compiled
    class-weighted loss comes with the Keras model); slices by island and sex. Blessed when macro AUC (and every class's
    AUC) on the overall slice is ≥ `min_macro_auc` and no worse than the baseline's by more
    than `max_auc_drop`."""
    class_ids = list(range(num_classes))
    auc_threshold = _threshold(min_macro_auc, max_auc_drop if with_baseline else None)
    return tfma.EvalConfig(
        model_specs=_model_specs(label_key, with_baseline),
        slicing_specs=[tfma.SlicingSpec()]
        + [tfma.SlicingSpec(feature_keys=[key]) for key in slice_features],
        metrics_specs=[
            tfma.MetricsSpec(
                metrics=[
                    tfma.MetricConfig(class_name="ExampleCount"),
                    tfma.MetricConfig(
                        class_name="SparseCategoricalAccuracy",
                        config=json.dumps({"name": "accuracy"}),
                    ),
                ]
            ),
            tfma.MetricsSpec(
                binarize=tfma.BinarizationOptions(class_ids={"values": class_ids}),
                aggregate=tfma.AggregationOptions(
                    macro_average=True, class_weights={i: 1.0 for i in class_ids}
                ),
                metrics=[
                    tfma.MetricConfig(class_name="AUC", **_overall_only(auc_threshold)),
                    tfma.MetricConfig(
                        class_name="AUC", config=json.dumps({"name": "pr_auc", "curve": "PR"})
                    ),
                ],
            ),
            tfma.MetricsSpec(
                binarize=tfma.BinarizationOptions(class_ids={"values": class_ids}),
                metrics=[tfma.MetricConfig(class_name="ConfusionMatrixPlot")],
            ),
        ],
    )


def _custom(class_name, **config) -> tfma.MetricConfig:
    """A TFMA custom metric from components.evaluator.metrics."""
    return tfma.MetricConfig(
        class_name=class_name, module="components.evaluator.metrics", config=json.dumps(config)
    )


def _bounded(
    metric: tfma.MetricConfig, *, lower=None, upper=None, max_worse=None
) -> tfma.MetricConfig:
    """`metric` bounded on the overall slice by value (`lower` / `upper`) and, when
    `max_worse` is given, by change: no worse than the baseline's by more than `max_worse`
    (higher is better when a lower bound is given, lower is better otherwise)."""
    bound = {}
    if lower is not None:
        bound["lower_bound"] = wrappers_pb2.DoubleValue(value=lower)
    if upper is not None:
        bound["upper_bound"] = wrappers_pb2.DoubleValue(value=upper)
    change = None
    if max_worse is not None:
        higher_is_better = lower is not None
        change = tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER
            if higher_is_better
            else tfma.MetricDirection.LOWER_IS_BETTER,
            absolute={"value": -max_worse if higher_is_better else max_worse},
        )
    threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(**bound), change_threshold=change
    )
    metric.per_slice_thresholds.extend(_overall_only(threshold)["per_slice_thresholds"])
    return metric


def _one_vs_rest(class_ids, output_names=(), threshold=None) -> tfma.MetricsSpec:
    auc = tfma.MetricConfig(class_name="AUC")
    if threshold is not None:
        auc.per_slice_thresholds.extend(_overall_only(threshold)["per_slice_thresholds"])
    return tfma.MetricsSpec(
        output_names=list(output_names),
        binarize=tfma.BinarizationOptions(class_ids={"values": list(class_ids)}),
        aggregate=tfma.AggregationOptions(
            macro_average=True, class_weights={i: 1.0 for i in class_ids}
        ),
        metrics=[
            auc,
            tfma.MetricConfig(
                class_name="AUC", config=json.dumps({"name": "pr_auc", "curve": "PR"})
            ),
        ],
    )


def multitask(
    *,
    num_classes=3,
    min_macro_auc=0.9,
    max_mse=0.5,
    max_auc_drop=0.05,
    max_mse_rise=0.1,
    with_baseline=True,
):
    """Per head: species one-vs-rest AUC (macro ≥ `min_macro_auc`) and accuracy; body mass
    MSE and MAE on the z-scored target (MSE ≤ `max_mse`; a constant predictor scores ≈ 1).
    Against a baseline, macro AUC may drop by `max_auc_drop` and MSE rise by `max_mse_rise`."""
    return tfma.EvalConfig(
        model_specs=_model_specs(
            {"species": "species_id", "body_mass": "body_mass_target"}, with_baseline
        ),
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=["island"])],
        metrics_specs=[
            tfma.MetricsSpec(metrics=[tfma.MetricConfig(class_name="ExampleCount")]),
            _one_vs_rest(
                range(num_classes),
                ["species"],
                _threshold(min_macro_auc, max_auc_drop if with_baseline else None),
            ),
            tfma.MetricsSpec(
                output_names=["species"],
                metrics=[
                    tfma.MetricConfig(
                        class_name="SparseCategoricalAccuracy",
                        config=json.dumps({"name": "accuracy"}),
                    )
                ],
            ),
            tfma.MetricsSpec(
                output_names=["body_mass"],
                metrics=[
                    _bounded(
                        tfma.MetricConfig(class_name="MeanSquaredError"),
                        upper=max_mse,
                        max_worse=max_mse_rise if with_baseline else None,
                    ),
                    tfma.MetricConfig(class_name="MeanAbsoluteError"),
                ],
            ),
        ],
    )


def tagging(*, min_token_accuracy=0.7, max_accuracy_drop=0.02, with_baseline=True):
    """Masked token accuracy (padding excluded), overall and by sequence-length bucket; ≥
    `min_token_accuracy`, and no more than `max_accuracy_drop` below a baseline's."""
    return tfma.EvalConfig(
        model_specs=_model_specs("tag_ids", with_baseline),
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=["length_bucket"])],
        metrics_specs=[
            tfma.MetricsSpec(
                metrics=[
                    tfma.MetricConfig(class_name="ExampleCount"),
                    _bounded(
                        _custom("MaskedTokenAccuracy", pad_class=-1),
                        lower=min_token_accuracy,
                        max_worse=max_accuracy_drop if with_baseline else None,
                    ),
                ]
            )
        ],
    )


def correlation(*, mask_value=-9999.0, min_ccc=0.6, max_ccc_drop=0.05, with_baseline=True):
    """Per-sequence CCC and Pearson r (mean over sequences), by sequence-length bucket; CCC ≥
    `min_ccc`, and no more than `max_ccc_drop` below a baseline's."""
    return tfma.EvalConfig(
        model_specs=_model_specs("y", with_baseline),
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=["length_bucket"])],
        metrics_specs=[
            tfma.MetricsSpec(
                metrics=[
                    tfma.MetricConfig(class_name="ExampleCount"),
                    _bounded(
                        _custom("SequenceConcordance", mask_value=mask_value),
                        lower=min_ccc,
                        max_worse=max_ccc_drop if with_baseline else None,
                    ),
                    _custom("SequencePearson", mask_value=mask_value),
                ]
            )
        ],
    )


def multilabel(
    *, num_labels=8, max_ranking_loss=0.4, max_ranking_loss_rise=0.03, with_baseline=True
):
    """Per-label AUC with micro and macro averages, ranking loss (BP-MLL's measure) and
    hamming loss; blessed when the ranking loss is ≤ `max_ranking_loss` and no more than
    `max_ranking_loss_rise` above a baseline's."""
    label_ids = list(range(num_labels))
    return tfma.EvalConfig(
        model_specs=_model_specs("labels_multi_hot", with_baseline),
        slicing_specs=[tfma.SlicingSpec()],
        metrics_specs=[
            tfma.MetricsSpec(
                metrics=[
                    tfma.MetricConfig(class_name="ExampleCount"),
                    _bounded(
                        _custom("RankingLoss"),
                        upper=max_ranking_loss,
                        max_worse=max_ranking_loss_rise if with_baseline else None,
                    ),
                    _custom("HammingLoss", threshold=0.5),
                ]
            ),
            tfma.MetricsSpec(
                binarize=tfma.BinarizationOptions(class_ids={"values": label_ids}),
                aggregate=tfma.AggregationOptions(
                    macro_average=True, class_weights={i: 1.0 for i in label_ids}
                ),
                metrics=[tfma.MetricConfig(class_name="AUC")],
            ),
            tfma.MetricsSpec(
                binarize=tfma.BinarizationOptions(class_ids={"values": label_ids}),
                aggregate=tfma.AggregationOptions(micro_average=True),
                metrics=[tfma.MetricConfig(class_name="AUC")],  # auc/micro beside auc/macro
            ),
            tfma.MetricsSpec(  # per-label ROC and PR curves for the report
                binarize=tfma.BinarizationOptions(class_ids={"values": label_ids}),
                metrics=[tfma.MetricConfig(class_name="ConfusionMatrixPlot")],
            ),
        ],
    )
