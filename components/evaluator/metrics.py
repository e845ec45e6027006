"""TFMA custom metrics that report what the losskit Keras metrics report, computed in Beam.

Each metric is a ``tfma.metrics.Metric`` with one ``MetricComputation`` per (model, output),
whose ``beam.CombineFn`` reads one example at a time through
``metric_util.to_label_prediction_example_weight(..., flatten=False)`` (so a sequence stays one
example rather than T scalar ones), computes that example's contribution in NumPy (float64) and
sums it. Every metric is a ratio Σ_i w_i·a_i / Σ_i w_i·b_i over examples i, w_i being the
example weight (1 unless the MetricsSpec asks for weighted metrics; an example must carry one
weight, or identical per-element ones, else TFMA raises).

Use them from an EvalConfig with :func:`metric_config`, or spelled out::

    tfma.MetricConfig(
        class_name="SequencePearson",
        module="components.evaluator.metrics",
        config=json.dumps({"mask_value": -9999.0}),
    )

Per-example shapes (a trailing 1 is squeezed by TFMA):

* ``SequencePearson`` / ``SequenceConcordance``: label (T,), prediction (T,) — as
  ``losses.PearsonCorrelation`` / ``losses.ConcordanceCorrelation``.
* ``MaskedTokenAccuracy``: label (T,) class ids, prediction (T, S) probabilities, or the same
  T·S values flattened (as a tf.Example float list holds them) — as
  ``losses.MaskedSparseCategoricalAccuracy``.
* ``RankingLoss`` / ``HammingLoss``: label (L,) multi-hot, prediction (L,) scores in [0, 1] —
  as ``sklearn.metrics.label_ranking_loss`` / ``hamming_loss``.
* ``DecisionCost``: label () or (1,) a class id, prediction (C,) class probabilities — the
  mean cost C[y, k] of the decision k that argmax, or the Bayes (cost-aware) rule, takes.

Empty and degenerate inputs: when the denominator is 0 (no example in the slice, no sequence
with ≥ 2 real steps, no real token, all weights 0) the value is NaN, as TFMA's own mean metrics
(MeanAbsoluteError, SquaredPearsonCorrelation) report; the Keras metrics report 0 there, and
agree everywhere else. A NaN or Inf prediction at a real step makes the correlations NaN (as
in Keras) and a NaN score makes the multi-label losses NaN, so a broken model is not hidden;
whatever sits at padded steps and tokens is ignored.

Binarization, micro/macro aggregation and class weights do not apply to these metrics: a
MetricsSpec that asks for them raises ValueError (class weights: TFMA raises itself).
"""

import dataclasses
import json
import math
import numbers

import apache_beam as beam
import numpy as np
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_types, metric_util

from losses._checks import check_cost_matrix, check_mask_value

# ---------------------------------------------------------------------------------------------
# Per-example formulas (NumPy, float64). The correlations mirror losses.correlation.pearson_r
# and concordance_cc step by step, so degenerate sequences give the same numbers.
# ---------------------------------------------------------------------------------------------


def _safe(scale):
    """A scale-invariant quantity is computed on x / scale so squares neither overflow nor
    underflow; 0 (all zeros) and NaN divide by 1, as in ``losses.correlation._safe``."""
    return scale if scale > 0 else 1.0


def _moments(t, p):
    """Population means, variances and covariance of two 1-D arrays."""
    mean_t, mean_p = t.mean(), p.mean()
    dt, dp = t - mean_t, p - mean_p
    return mean_t, mean_p, np.mean(dt * dt), np.mean(dp * dp), np.mean(dt * dp)


def pearson_r(y_true, y_pred):
    """Pearson r of two 1-D float64 arrays of real steps (n ≥ 2): cov / √(var_t·var_p).

    Population moments; r = 0 when either variance is 0; clipped to [-1, 1]; NaN/Inf in the
    inputs gives NaN. Each series is first shifted by its first value, so a constant series has
    a variance of exactly 0 instead of round-off noise, then scaled by its largest magnitude.
    """
    with np.errstate(invalid="ignore", over="ignore"):  # NaN/Inf inputs: NaN, without warnings
        t, p = y_true - y_true[0], y_pred - y_pred[0]
        t, p = t / _safe(np.max(np.abs(t))), p / _safe(np.max(np.abs(p)))
        _, _, var_t, var_p, cov = _moments(t, p)
        denom = var_t * var_p
        # `not <= 0` rather than `> 0` lets NaN through, so a broken model is not hidden.
        r = cov / math.sqrt(denom) if not denom <= 0 else 0.0
    return float(np.clip(r, -1.0, 1.0))


def concordance_cc(y_true, y_pred):
    """Lin's CCC of two 1-D float64 arrays of real steps (n ≥ 2):
    2·cov / (var_t + var_p + (μ_t − μ_p)²), population moments.

    CCC = 1 when both series are constant and equal (0/0); NaN/Inf in the inputs gives NaN.
    Shifted and scaled as :func:`pearson_r`, with one scale for both series (CCC is invariant
    to scaling both by the same factor, not each by its own).
    """
    with np.errstate(invalid="ignore", over="ignore"):
        t, p = y_true - y_true[0], y_pred - y_pred[0]
        offset = y_true[0] - y_pred[0]
        scale = _safe(np.max([np.max(np.abs(t)), np.max(np.abs(p)), abs(offset)]))
        t, p, offset = t / scale, p / scale, offset / scale
        mean_t, mean_p, var_t, var_p, cov = _moments(t, p)
        denom = var_t + var_p + (mean_t - mean_p + offset) ** 2
        return float(2 * cov / denom) if not denom <= 0 else 1.0


def ranking_loss(relevant, scores):
    """Fraction of (relevant k, irrelevant l) label pairs with scores[k] ≤ scores[l].

    relevant: (L,) bool; scores: (L,). Ties count as wrongly ordered and a row with no
    relevant or no irrelevant label scores 0, as in ``sklearn.metrics.label_ranking_loss``.
    O(L·log L): for each relevant score, count the irrelevant scores ≥ it in the sorted
    irrelevant scores. NaN scores give NaN.
    """
    if np.isnan(scores).any():
        return math.nan
    positive, negative = scores[relevant], np.sort(scores[~relevant])
    if positive.size == 0 or negative.size == 0:
        return 0.0
    below = np.searchsorted(negative, positive, side="left")
    wrong = np.sum(negative.size - below)
    return float(wrong) / (positive.size * negative.size)


# ---------------------------------------------------------------------------------------------
# The Beam combiners: Σ w·numerator / Σ w·denominator over examples.
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Ratio:
    numerator: float = 0.0
    denominator: float = 0.0


class _RatioCombiner(beam.CombineFn):
    """Σ_i w_i·a_i / Σ_i w_i·b_i with (a_i, b_i) = ``_contribution(label_i, prediction_i)``;
    NaN when the denominator is 0, as TFMA's own mean metrics."""

    def __init__(self, key, eval_config, example_weighted):
        self._key = key
        self._eval_config = eval_config
        self._example_weighted = example_weighted

    def _contribution(self, label, prediction):
        """(numerator, denominator) of one example, before its weight."""
        raise NotImplementedError

    def _check_same_shape(self, label, prediction):
        if label.shape != prediction.shape:
            raise ValueError(
                f"{self._key.name}: label and prediction must have the same shape per example;"
                f" got label {label.shape}, prediction {prediction.shape}."
            )

    def create_accumulator(self):
        return _Ratio()

    def add_input(self, accumulator, element):
        for label, prediction, weight in metric_util.to_label_prediction_example_weight(
            element,
            eval_config=self._eval_config,
            model_name=self._key.model_name,
            output_name=self._key.output_name,
            example_weighted=self._example_weighted,
            flatten=False,
            require_single_example_weight=True,
        ):
            numerator, denominator = self._contribution(np.asarray(label), np.asarray(prediction))
            weight = float(metric_util.safe_to_scalar(weight))
            accumulator.numerator += weight * numerator
            accumulator.denominator += weight * denominator
        return accumulator

    def merge_accumulators(self, accumulators):
        accumulators = iter(accumulators)
        result = next(accumulators)
        for accumulator in accumulators:
            result.numerator += accumulator.numerator
            result.denominator += accumulator.denominator
        return result

    def extract_output(self, accumulator):
        if accumulator.denominator == 0:
            return {self._key: math.nan}
        return {self._key: accumulator.numerator / accumulator.denominator}


class _CorrelationCombiner(_RatioCombiner):
    """Per-example coefficient over the real steps (label ≠ mask_value) of examples with ≥ 2
    of them; examples with fewer add nothing, to the numerator or the denominator. Subclasses
    set ``coefficient`` to :func:`pearson_r` or :func:`concordance_cc`."""

    def __init__(self, key, eval_config, example_weighted, mask_value):
        super().__init__(key, eval_config, example_weighted)
        self._mask_value = mask_value

    def _contribution(self, label, prediction):
        self._check_same_shape(label, prediction)
        if self._mask_value is None:
            real = np.ones(label.shape, dtype=bool)
        elif math.isnan(self._mask_value):
            real = ~np.isnan(label)
        else:
            # Compared in the label's dtype, as Keras does: float32 0.1 ≠ float64 0.1.
            real = label != np.asarray(self._mask_value).astype(label.dtype)
        if np.count_nonzero(real) < 2:
            return 0.0, 0.0
        t = label[real].astype(np.float64)
        return self.coefficient(t, prediction[real].astype(np.float64)), 1.0


class _PearsonCombiner(_CorrelationCombiner):
    coefficient = staticmethod(pearson_r)


class _ConcordanceCombiner(_CorrelationCombiner):
    coefficient = staticmethod(concordance_cc)


class _TokenAccuracyCombiner(_RatioCombiner):
    """(Σ_t real_t·[argmax_s p_ts = y_t], Σ_t real_t) per example, real_t = [y_t ≠ pad_class]."""

    def __init__(self, key, eval_config, example_weighted, pad_class):
        super().__init__(key, eval_config, example_weighted)
        self._pad_class = pad_class

    def _contribution(self, label, prediction):
        label = label.reshape(-1)
        if label.size == 0 or prediction.size % label.size:
            raise ValueError(
                f"{self._key.name}: the prediction must hold S class probabilities per label,"
                f" (T, S) or flattened; got label {label.shape}, prediction {prediction.shape}."
            )
        # (T, S) arrives squeezed to (S,) when T = 1, and flattened from a tf.Example.
        prediction = prediction.reshape(label.size, -1)
        num_classes = prediction.shape[-1]
        if self._pad_class is None:
            real = np.ones(label.shape, dtype=bool)
        else:
            real = label != np.asarray(self._pad_class).astype(label.dtype)
        classes = label[real].astype(np.int64)
        if classes.size and (classes.min() < 0 or classes.max() >= num_classes):
            raise ValueError(
                f"{self._key.name}: labels at real tokens must lie in [0, {num_classes});"
                f" got {np.unique(classes).tolist()} (is pad_class={self._pad_class} right?)."
            )
        hits = np.argmax(prediction[real], axis=-1) == classes
        return float(np.count_nonzero(hits)), float(classes.size)


def _relevant(label):
    """Multi-hot labels as bool; > 0.5 as in losses.ranking.bpmll (sklearn's ≠ 0 on {0, 1})."""
    return label > 0.5


class _RankingLossCombiner(_RatioCombiner):
    """(ranking_loss_i, 1) per example, so rows with no relevant or no irrelevant label add 0
    and still count, as in sklearn."""

    def _contribution(self, label, prediction):
        self._check_same_shape(label, prediction)
        return ranking_loss(_relevant(label), prediction.astype(np.float64)), 1.0


class _HammingLossCombiner(_RatioCombiner):
    """(Σ_l [(p_l ≥ threshold) ≠ y_l], L) per example: the fraction of label slots pooled over
    examples, which for a fixed L is sklearn's hamming_loss."""

    def __init__(self, key, eval_config, example_weighted, threshold):
        super().__init__(key, eval_config, example_weighted)
        self._threshold = threshold

    def _contribution(self, label, prediction):
        self._check_same_shape(label, prediction)
        if np.isnan(prediction).any():
            return math.nan, float(label.size)
        wrong = (prediction >= self._threshold) != _relevant(label)
        return float(np.count_nonzero(wrong)), float(label.size)


class _DecisionCostCombiner(_RatioCombiner):
    """(C[y, k], 1) per example, k the decision the rule takes from the probabilities:
    argmax_k p_k, or argmin_k Σ_y p_y·C[y, k] (the Bayes decision under the costs; ties
    go to the lower class id, as argmax's do)."""

    def __init__(self, key, eval_config, example_weighted, cost_matrix, decision):
        super().__init__(key, eval_config, example_weighted)
        self._costs = np.asarray(cost_matrix, np.float64)
        self._decision = decision

    def _contribution(self, label, prediction):
        probabilities = prediction.reshape(-1).astype(np.float64)
        size = len(self._costs)
        if probabilities.size != size or label.size != 1:
            raise ValueError(
                f"{self._key.name}: one class id and {size} class probabilities per example"
                f" (the cost matrix is {size}×{size}); got label {label.shape},"
                f" prediction {prediction.shape}."
            )
        truth = int(label.reshape(-1)[0])
        if not 0 <= truth < size:
            raise ValueError(f"{self._key.name}: class id {truth} outside [0, {size}).")
        if np.isnan(probabilities).any():
            return math.nan, 1.0
        if self._decision == "argmax":
            choice = int(np.argmax(probabilities))
        else:
            choice = int(np.argmin(probabilities @ self._costs))
        return float(self._costs[truth, choice]), 1.0


# ---------------------------------------------------------------------------------------------
# The TFMA metrics.
# ---------------------------------------------------------------------------------------------


def _computations(combiner_cls):
    """The create-computations function TFMA calls with the metric's config (name and the
    combiner's parameters) and one (model_name, output_name, sub_key) at a time."""

    def computations(
        name,
        eval_config=None,
        model_name="",
        output_name="",
        sub_key=None,
        aggregation_type=None,
        example_weighted=False,
        **params,
    ):
        if sub_key is not None or aggregation_type is not None:
            raise ValueError(
                f"{name}: binarization and micro/macro aggregation do not apply to this metric;"
                f" put it in a MetricsSpec without `binarize` / `aggregate`"
                f" (sub_key={sub_key}, aggregation_type={aggregation_type})."
            )
        key = metric_types.MetricKey(
            name=name,
            model_name=model_name,
            output_name=output_name,
            example_weighted=example_weighted,
        )
        combiner = combiner_cls(key, eval_config, example_weighted, **params)
        return [metric_types.MetricComputation(keys=[key], preprocessors=None, combiner=combiner)]

    return metric_util.merge_per_key_computations(computations)


class SequencePearson(tfma.metrics.Metric):
    """Mean per-example Pearson r over real steps, = ``losses.PearsonCorrelation``.

    Per example: label (T,), prediction (T,) or (T, 1); real steps are label ≠ ``mask_value``
    (NaN masks NaN labels, None masks nothing). Value: Σ_i w_i·r_i / Σ_i w_i over examples with
    ≥ 2 real steps, r_i the population Pearson r over them (0 when either variance is 0).
    """

    def __init__(self, mask_value=-9999.0, name="sequence_pearson"):
        mask_value = check_mask_value(type(self).__name__, mask_value)
        super().__init__(_computations(_PearsonCombiner), mask_value=mask_value, name=name)


class SequenceConcordance(tfma.metrics.Metric):
    """Mean per-example Lin's CCC over real steps, = ``losses.ConcordanceCorrelation``.

    Same inputs and masking as :class:`SequencePearson`. Value: Σ_i w_i·CCC_i / Σ_i w_i over
    examples with ≥ 2 real steps, CCC = 2·cov / (var_t + var_p + (μ_t − μ_p)²) with population
    moments (1 when both are constant and equal).
    """

    def __init__(self, mask_value=-9999.0, name="sequence_ccc"):
        mask_value = check_mask_value(type(self).__name__, mask_value)
        super().__init__(_computations(_ConcordanceCombiner), mask_value=mask_value, name=name)


class MaskedTokenAccuracy(tfma.metrics.Metric):
    """Token accuracy over real tokens, = ``losses.MaskedSparseCategoricalAccuracy``.

    Per example: label (T,) class ids, prediction (T, S) probabilities (or flattened to T·S);
    real tokens are label ≠ ``pad_class`` (None: every token). Value:
    Σ_i w_i·Σ_t real·[argmax p_t = y_t] / Σ_i w_i·Σ_t real, pooled over all tokens of all
    examples. A real label outside [0, S) raises ValueError.
    """

    def __init__(self, pad_class=-1, name="masked_token_accuracy"):
        if pad_class is not None and (
            isinstance(pad_class, bool) or not isinstance(pad_class, numbers.Integral)
        ):
            raise ValueError(
                f"{type(self).__name__}: `pad_class` must be an int or None; got {pad_class!r}."
            )
        super().__init__(_computations(_TokenAccuracyCombiner), pad_class=pad_class, name=name)


class RankingLoss(tfma.metrics.Metric):
    """BP-MLL's ranking loss, = ``sklearn.metrics.label_ranking_loss``.

    Per example: label (L,) multi-hot (relevant: > 0.5), prediction (L,) scores. Value:
    Σ_i w_i·RL_i / Σ_i w_i with RL_i = |{(k, l): k ∈ Y_i, l ∉ Y_i, s_k ≤ s_l}| / (|Y_i|·|Ȳ_i|)
    (ties are errors), RL_i = 0 when Y_i or Ȳ_i is empty.
    """

    def __init__(self, name="ranking_loss"):
        super().__init__(_computations(_RankingLossCombiner), name=name)


class HammingLoss(tfma.metrics.Metric):
    """Multi-label Hamming loss, = ``sklearn.metrics.hamming_loss(y, p ≥ threshold)``.

    Per example: label (L,) multi-hot (relevant: > 0.5), prediction (L,) scores in [0, 1].
    Value: Σ_i w_i·|{l: [p_il ≥ threshold] ≠ y_il}| / Σ_i w_i·L_i.
    """

    def __init__(self, threshold=0.5, name="hamming_loss"):
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
            raise ValueError(
                f"{type(self).__name__}: `threshold` must be a number; got {threshold!r}."
            )
        super().__init__(_computations(_HammingLossCombiner), threshold=float(threshold), name=name)


DECISIONS = ("argmax", "cost_aware")


class DecisionCost(tfma.metrics.Metric):
    """Mean cost of the decisions a classifier's probabilities lead to, under a cost matrix.

    ``cost_matrix[y][k]``: the cost of deciding k when the truth is y (C×C, non-negative, zero
    diagonal: the matrix ``losses.CostSensitiveCrossentropy`` trains with). ``decision``:
    ``argmax`` (the most probable class) or ``cost_aware`` (argmin_k Σ_y p_y·C[y, k], the
    decision that minimises the expected cost if the probabilities are calibrated).
    Per example: label a class id, prediction (C,) probabilities. Value:
    Σ_i w_i·C[y_i, k_i] / Σ_i w_i; NaN for an empty slice or a NaN prediction.
    """

    def __init__(self, cost_matrix, decision="argmax", name=None):
        owner = type(self).__name__
        if decision not in DECISIONS:
            raise ValueError(f"{owner}: `decision` must be one of {DECISIONS}; got {decision!r}.")
        cost_matrix = check_cost_matrix(owner, cost_matrix)
        name = name or ("decision_cost" if decision == "argmax" else "cost_aware_decision_cost")
        super().__init__(
            _computations(_DecisionCostCombiner),
            cost_matrix=cost_matrix,
            decision=decision,
            name=name,
        )


METRICS = {
    cls.__name__: cls
    for cls in (
        SequencePearson,
        SequenceConcordance,
        MaskedTokenAccuracy,
        RankingLoss,
        HammingLoss,
        DecisionCost,
    )
}


def metric_config(cls_name: str, **config) -> tfma.MetricConfig:
    """``tfma.MetricConfig`` for one of this module's metrics, e.g.
    ``metric_config("SequencePearson", mask_value=-1.0, name="pearson")``.

    The metric is built once here so that an unknown name or a bad parameter fails when the
    EvalConfig is built rather than inside the Beam job.
    """
    if cls_name not in METRICS:
        raise ValueError(f"unknown metric {cls_name!r}; expected one of {sorted(METRICS)}.")
    METRICS[cls_name](**config)
    return tfma.MetricConfig(
        class_name=cls_name, module=__name__, config=json.dumps(config, sort_keys=True)
    )
