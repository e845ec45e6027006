"""The TFMA custom metrics against the losskit Keras metrics and sklearn, run by TFMA on Beam.

Most tests feed extracts (labels, predictions, example_weights arrays) straight into each
metric's combiner on Beam's DirectRunner, as TFMA's own metric tests do; one runs the whole of
`tfma.run_model_analysis` on tf.Examples that carry pre-computed predictions for three outputs.
"""

import math
import pickle

import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma
from sklearn.metrics import confusion_matrix, hamming_loss, label_ranking_loss
from tensorflow_model_analysis.metrics import metric_specs, metric_types, metric_util

import losses
from components.evaluator import metrics

MASK = -9999.0
PAD = -1
# The Keras metrics compute in float32, ours in float64; NaN must never pass as a match.
TOL = dict(rtol=1e-5, atol=1e-6, equal_nan=False)


def _dump(value, path):
    with open(path, "wb") as f:
        pickle.dump(value, f)


def run_combiners(tfma_metrics, examples, tmp_path):
    """{(metric name, example_weighted): value} of each metric over `examples` (extract dicts),
    unweighted and weighted, from the metrics' own computations on Beam."""
    computations = [
        computation
        for metric in tfma_metrics
        for weighted in (False, True)
        for computation in metric.computations(example_weighted=weighted)
    ]
    path = tmp_path / "metrics.pkl"
    with beam.Pipeline() as pipeline:
        inputs = (
            pipeline
            | beam.Create(examples, reshuffle=False)
            | beam.Map(metric_util.to_standard_metric_inputs)
            | beam.Map(lambda inputs: ((), inputs))
        )
        results = [
            inputs | f"Combine{i}" >> beam.CombinePerKey(computation.combiner)
            for i, computation in enumerate(computations)
        ]
        _ = (
            results
            | beam.Flatten()
            | beam.Map(lambda slice_and_metrics: slice_and_metrics[1])
            | beam.combiners.ToList()
            | beam.Map(_dump, str(path))
        )
    with open(path, "rb") as f:
        values = {key: value for result in pickle.load(f) for key, value in result.items()}
    return {(key.name, key.example_weighted): value for key, value in values.items()}


def keras_result(metric, batches):
    """A streaming Keras metric after one update per (y_true, y_pred, sample_weight) batch."""
    for y_true, y_pred, weight in batches:
        metric.update_state(y_true, y_pred, sample_weight=weight)
    return float(metric.result())


def _combine_directly(metric, examples):
    """The metric's value through the CombineFn API without Beam (for error and empty cases)."""
    (computation,) = metric.computations()
    combiner = computation.combiner
    accumulator = combiner.create_accumulator()
    for example in examples:
        inputs = metric_util.to_standard_metric_inputs(example)
        accumulator = combiner.add_input(accumulator, inputs)
    return combiner.extract_output(accumulator)[computation.keys[0]]


# --- sequences ---------------------------------------------------------------------------------


def _sequence_examples(rng):
    """(label, prediction) pairs of varying length with every degenerate case; labels are
    float32 as TFMA reads them from tf.Examples, padding holds MASK / garbage predictions."""
    garbage = np.array([np.nan, 1e30, -np.inf], np.float32)

    def padded(label, prediction, n_pad):
        label = np.concatenate([label, np.full(n_pad, MASK)]).astype(np.float32)
        prediction = np.concatenate([prediction, garbage[np.arange(n_pad) % 3]])
        return label, prediction.astype(np.float32)

    normal = rng.normal(size=10)
    middle_label, middle_pred = padded(rng.normal(size=6), rng.normal(size=6), 3)
    # A masked step in the middle: its garbage prediction must not reach the value.
    middle_label[2], middle_pred[2] = MASK, np.nan
    return [
        (normal.astype(np.float32), (normal + rng.normal(size=10)).astype(np.float32)),
        (middle_label, middle_pred),
        padded(rng.normal(size=1), rng.normal(size=1), 5),  # one real step: skipped
        padded(np.zeros(0), np.zeros(0), 4),  # no real step: skipped
        padded(np.full(5, 0.1), rng.normal(size=5), 2),  # constant label: r = 0, CCC = 0
        padded(np.full(4, 0.1), np.full(4, 0.1), 1),  # constant and equal: r = 0, CCC = 1
        padded(rng.normal(size=5), np.full(5, 3.0), 3),  # constant prediction
        padded(np.arange(6.0), -2 * np.arange(6.0) + 1, 0),  # r = -1
        padded(np.arange(3.0) * 1e6, np.arange(3.0) * 1e6 + 5e5, 2),  # large offset
    ]


def _reference(label, prediction):
    """Independent NumPy Pearson r and CCC over the real steps, or None when < 2 of them."""
    real = label != MASK
    if real.sum() < 2:
        return None
    t, p = label[real].astype(np.float64), prediction[real].astype(np.float64)
    constant = np.ptp(t) == 0 or np.ptp(p) == 0
    r = 0.0 if constant else np.corrcoef(t, p)[0, 1]
    denom = t.var() + p.var() + (t.mean() - p.mean()) ** 2
    ccc = 1.0 if denom == 0 else 2 * np.mean((t - t.mean()) * (p - p.mean())) / denom
    return r, ccc


def test_sequence_correlations_match_keras_and_numpy(rng, tmp_path):
    pairs = _sequence_examples(rng)
    weights = rng.uniform(0.5, 2.0, len(pairs)).astype(np.float32)
    weights[1] = 0.0
    examples = [
        # Alternate (T,) and (T, 1) predictions: TFMA squeezes the trailing 1.
        {
            "labels": label,
            "predictions": prediction if i % 2 else prediction[:, None],
            "example_weights": np.array([weight]),
        }
        for i, ((label, prediction), weight) in enumerate(zip(pairs, weights, strict=True))
    ]
    got = run_combiners(
        [metrics.SequencePearson(), metrics.SequenceConcordance(mask_value=MASK, name="ccc")],
        examples,
        tmp_path,
    )

    references = [_reference(label, prediction) for label, prediction in pairs]
    for keras_cls, name, column in (
        (losses.PearsonCorrelation, "sequence_pearson", 0),
        (losses.ConcordanceCorrelation, "ccc", 1),
    ):
        for weighted in (False, True):
            batches = [
                (label[None], prediction[None], weight[None] if weighted else None)
                for (label, prediction), weight in zip(pairs, weights, strict=True)
            ]
            expected = keras_result(keras_cls(mask_value=MASK), batches)
            np.testing.assert_allclose(got[name, weighted], expected, **TOL, err_msg=name)

            use = [
                (ref[column], w if weighted else 1.0)
                for ref, w in zip(references, weights, strict=True)
                if ref
            ]
            values, ws = np.array(use).T
            np.testing.assert_allclose(got[name, weighted], np.sum(values * ws) / np.sum(ws), **TOL)


def test_sequence_coefficients_of_degenerate_sequences():
    constant = np.full(4, 0.1)  # not exact in binary: a mean-subtracted variance would not be 0
    ramp = np.arange(4.0)
    assert metrics.pearson_r(constant, ramp) == 0.0
    assert metrics.pearson_r(ramp, constant) == 0.0
    assert metrics.concordance_cc(constant, constant) == 1.0
    assert metrics.concordance_cc(constant, ramp) == 0.0
    assert metrics.pearson_r(ramp, -3 * ramp) == -1.0
    assert math.isnan(metrics.pearson_r(np.array([0.0, np.nan, 1.0]), ramp[:3]))
    assert math.isnan(metrics.concordance_cc(ramp[:3], np.array([0.0, np.inf, 1.0])))


def test_sequence_metrics_without_a_defined_sequence_are_nan():
    """NaN, as TFMA's own mean metrics report an empty mean; the Keras metrics report 0."""
    short = {
        "labels": np.array([1.0, MASK, MASK], np.float32),
        "predictions": np.array([0.5, np.nan, 2.0], np.float32),
    }
    for metric in (metrics.SequencePearson(), metrics.SequenceConcordance()):
        assert math.isnan(_combine_directly(metric, []))
        assert math.isnan(_combine_directly(metric, [short]))
    keras = losses.PearsonCorrelation(mask_value=MASK)
    assert keras_result(keras, [(short["labels"][None], short["predictions"][None], None)]) == 0


def test_sequence_nan_at_a_real_step_propagates_like_keras():
    example = {
        "labels": np.array([1.0, 2.0, 3.0, MASK], np.float32),
        "predictions": np.array([0.5, np.nan, 2.0, 7.0], np.float32),
    }
    for metric, keras in (
        (metrics.SequencePearson(), losses.PearsonCorrelation(mask_value=MASK)),
        (metrics.SequenceConcordance(), losses.ConcordanceCorrelation(mask_value=MASK)),
    ):
        assert math.isnan(_combine_directly(metric, [example]))
        batch = (example["labels"][None], example["predictions"][None], None)
        assert math.isnan(keras_result(keras, [batch]))


def test_sequence_nan_mask_value_masks_nan_labels():
    example = {
        "labels": np.array([1.0, np.nan, 2.0, 4.0], np.float32),
        "predictions": np.array([1.0, 100.0, 2.5, 3.0], np.float32),
    }
    keras = losses.PearsonCorrelation(mask_value=float("nan"))
    expected = keras_result(keras, [(example["labels"][None], example["predictions"][None], None)])
    got = _combine_directly(metrics.SequencePearson(mask_value=float("nan")), [example])
    np.testing.assert_allclose(got, expected, **TOL)
    np.testing.assert_allclose(got, np.corrcoef([1, 2, 4], [1, 2.5, 3])[0, 1], **TOL)


# --- tokens ------------------------------------------------------------------------------------


def _token_examples(rng, num_classes=4):
    """(labels (T,), probabilities (T, S)) of varying T, padded with PAD and NaN scores."""
    pairs = []
    for length, n_real in ((7, 7), (7, 4), (5, 0), (1, 1), (6, 3)):
        labels = np.full(length, PAD, np.float32)
        labels[:n_real] = rng.integers(0, num_classes, n_real)
        probs = rng.dirichlet(np.ones(num_classes), length).astype(np.float32)
        probs[n_real:] = np.nan
        # Make about half the real tokens right, so the accuracy is not near 0 or 1 by chance.
        right = rng.random(n_real) < 0.5
        probs[np.flatnonzero(right), labels[:n_real][right].astype(int)] = 2.0
        pairs.append((labels, probs))
    return pairs


def test_masked_token_accuracy_matches_keras(rng, tmp_path):
    pairs = _token_examples(rng)
    weights = rng.uniform(0.5, 2.0, len(pairs)).astype(np.float32)
    examples = [
        # (T, S) and flattened T·S predictions, the latter as a tf.Example float list holds them;
        # T = 1 arrives squeezed to (S,).
        {
            "labels": labels,
            "predictions": probs.reshape(-1) if i % 2 else probs,
            "example_weights": np.array([weight]),
        }
        for i, ((labels, probs), weight) in enumerate(zip(pairs, weights, strict=True))
    ]
    got = run_combiners([metrics.MaskedTokenAccuracy()], examples, tmp_path)
    for weighted in (False, True):
        batches = [
            (labels[None].astype(np.int64), probs[None], weight[None] if weighted else None)
            for (labels, probs), weight in zip(pairs, weights, strict=True)
        ]
        expected = keras_result(losses.MaskedSparseCategoricalAccuracy(pad_class=PAD), batches)
        np.testing.assert_allclose(got["masked_token_accuracy", weighted], expected, **TOL)
        hits = [
            (np.argmax(probs[labels != PAD], -1) == labels[labels != PAD]).sum()
            for labels, probs in pairs
        ]
        real = [(labels != PAD).sum() for labels, _ in pairs]
        w = weights if weighted else np.ones_like(weights)
        np.testing.assert_allclose(
            got["masked_token_accuracy", weighted], np.dot(w, hits) / np.dot(w, real), **TOL
        )


def test_masked_token_accuracy_edge_cases():
    padded_only = {"labels": np.array([PAD, PAD], np.float32), "predictions": np.ones((2, 3))}
    assert math.isnan(_combine_directly(metrics.MaskedTokenAccuracy(), [padded_only]))
    out_of_range = {"labels": np.array([0, 3], np.float32), "predictions": np.ones((2, 3))}
    with pytest.raises(ValueError, match=r"must lie in \[0, 3\)"):
        _combine_directly(metrics.MaskedTokenAccuracy(), [out_of_range])
    ragged = {"labels": np.array([0, 1], np.float32), "predictions": np.ones(5)}
    with pytest.raises(ValueError, match="S class probabilities per label"):
        _combine_directly(metrics.MaskedTokenAccuracy(), [ragged])
    unpadded = {"labels": np.array([2, 0], np.int64), "predictions": np.eye(3)[[2, 1]]}
    assert _combine_directly(metrics.MaskedTokenAccuracy(pad_class=None), [unpadded]) == 0.5


# --- multi-label -------------------------------------------------------------------------------


def _multilabel_data(rng, n=24, num_labels=6):
    labels = (rng.random((n, num_labels)) < 0.4).astype(np.float32)
    labels[0], labels[1] = 0, 1  # no relevant / no irrelevant label: ranking loss 0
    # One decimal: plenty of ties between relevant and irrelevant scores.
    scores = np.round(rng.random((n, num_labels)), 1).astype(np.float32)
    return labels, scores


def test_multilabel_losses_match_sklearn(rng, tmp_path):
    labels, scores = _multilabel_data(rng)
    weights = rng.uniform(0.5, 2.0, len(labels))
    examples = [
        {"labels": y, "predictions": s, "example_weights": np.array([w])}
        for y, s, w in zip(labels, scores, weights, strict=True)
    ]
    got = run_combiners(
        [metrics.RankingLoss(), metrics.HammingLoss(), metrics.HammingLoss(0.3, name="h03")],
        examples,
        tmp_path,
    )
    for weighted in (False, True):
        w = weights if weighted else None
        np.testing.assert_allclose(
            got["ranking_loss", weighted],
            label_ranking_loss(labels, scores, sample_weight=w),
            **TOL,
        )
        for name, threshold in (("hamming_loss", 0.5), ("h03", 0.3)):
            expected = hamming_loss(labels, scores >= threshold, sample_weight=w)
            np.testing.assert_allclose(got[name, weighted], expected, **TOL)


def test_ranking_loss_counts_ties_as_wrong():
    relevant = np.array([True, False, True, False])
    assert metrics.ranking_loss(relevant, np.array([0.5, 0.5, 0.9, 0.1])) == 0.25
    assert metrics.ranking_loss(np.zeros(3, bool), np.array([0.1, 0.2, 0.3])) == 0.0
    assert metrics.ranking_loss(np.ones(3, bool), np.array([0.1, 0.2, 0.3])) == 0.0


def test_multilabel_losses_nan_and_empty():
    example = {"labels": np.array([1, 0, 1], np.float32), "predictions": np.array([0.2, np.nan, 1])}
    for metric in (metrics.RankingLoss(), metrics.HammingLoss()):
        assert math.isnan(_combine_directly(metric, [example]))
        assert math.isnan(_combine_directly(metric, []))
    mismatched = {"labels": np.ones(3, np.float32), "predictions": np.ones(4)}
    with pytest.raises(ValueError, match="same shape"):
        _combine_directly(metrics.HammingLoss(), [mismatched])


# --- decision costs ----------------------------------------------------------------------------

COSTS = np.array([[0.0, 1.0, 1.0], [8.0, 0.0, 1.0], [2.0, 1.0, 0.0]])


def _expected_cost(labels, decisions, weights):
    """Σ w·C[y, k] / Σ w from sklearn's (weighted) confusion matrix."""
    counts = confusion_matrix(labels, decisions, labels=[0, 1, 2], sample_weight=weights)
    return float(np.sum(counts * COSTS) / np.sum(counts))


def test_decision_costs_match_the_confusion_matrix(rng, tmp_path):
    labels = rng.integers(0, 3, 60)
    probabilities = rng.dirichlet([1.0, 1.0, 1.0], 60)
    weights = rng.uniform(0.5, 2.0, 60)
    examples = [
        {"labels": np.array([y]), "predictions": p, "example_weights": np.array([w])}
        for y, p, w in zip(labels, probabilities, weights, strict=True)
    ]
    got = run_combiners(
        [metrics.DecisionCost(COSTS.tolist()), metrics.DecisionCost(COSTS, "cost_aware")],
        examples,
        tmp_path,
    )
    # The Bayes decision, spelled out: the class whose expected cost Σ_y p_y·C[y, k] is least.
    expected_costs = np.stack([probabilities @ COSTS[:, k] for k in range(3)], axis=1)
    for weighted in (False, True):
        w = weights if weighted else None
        argmax = _expected_cost(labels, probabilities.argmax(1), w)
        aware = _expected_cost(labels, expected_costs.argmin(1), w)
        np.testing.assert_allclose(got["decision_cost", weighted], argmax, **TOL)
        np.testing.assert_allclose(got["cost_aware_decision_cost", weighted], aware, **TOL)
    # Costly errors (a 1 decided as 0 costs 8) are what the cost-aware rule avoids.
    assert got["cost_aware_decision_cost", False] < got["decision_cost", False]


def test_decision_cost_errors_and_nan():
    with pytest.raises(ValueError, match="cost_matrix.*zero diagonal"):
        metrics.DecisionCost([[1, 0], [0, 0]])
    with pytest.raises(ValueError, match="decision"):
        metrics.DecisionCost(COSTS, decision="min")
    metric = metrics.DecisionCost(COSTS)
    assert math.isnan(_combine_directly(metric, []))
    nan = {"labels": np.array([1]), "predictions": np.array([0.2, np.nan, 0.3])}
    assert math.isnan(_combine_directly(metric, [nan]))
    with pytest.raises(ValueError, match="3 class probabilities"):
        _combine_directly(metric, [{"labels": np.array([1]), "predictions": np.ones(4) / 4}])
    with pytest.raises(ValueError, match="class id 3"):
        _combine_directly(metric, [{"labels": np.array([3]), "predictions": np.ones(3) / 3}])


# --- configuration -----------------------------------------------------------------------------


def test_metric_config_round_trips_through_tfma():
    config = metrics.metric_config("SequencePearson", mask_value=-1.0, name="pearson")
    assert config.class_name == "SequencePearson"
    assert config.module == "components.evaluator.metrics"
    instance = metric_specs.metric_instance(config)
    assert isinstance(instance, metrics.SequencePearson)
    assert instance.get_config() == {"mask_value": -1.0, "name": "pearson"}
    (computation,) = instance.computations(output_names=["seq"], example_weighted=True)
    (key,) = computation.keys
    assert (key.name, key.output_name, key.example_weighted) == ("pearson", "seq", True)


def test_metric_config_rejects_bad_names_and_params():
    with pytest.raises(ValueError, match="unknown metric"):
        metrics.metric_config("SequenceSpearman")
    with pytest.raises(ValueError, match="mask_value"):
        metrics.metric_config("SequencePearson", mask_value="pad")
    with pytest.raises(ValueError, match="pad_class"):
        metrics.metric_config("MaskedTokenAccuracy", pad_class=0.5)
    with pytest.raises(TypeError):
        metrics.metric_config("RankingLoss", threshold=0.5)


def test_binarization_is_rejected():
    with pytest.raises(ValueError, match="binarization"):
        metrics.HammingLoss().computations(sub_keys=[metric_types.SubKey(class_id=0)])


# --- the whole of TFMA ---------------------------------------------------------------------------


def _float_feature(values):
    return tf.train.Feature(float_list=tf.train.FloatList(value=np.ravel(values)))


def test_run_model_analysis_on_precomputed_predictions(rng, tmp_path):
    """Three outputs of one model, predictions materialised in the tf.Examples, weighted."""
    seq = [(np.resize(t, 8), np.resize(p, 8)) for t, p in _sequence_examples(rng)]  # one T
    n = len(seq)
    tokens = _token_examples(rng)
    tokens = [tokens[i % len(tokens)] for i in range(n)]
    tag_labels, tag_scores = _multilabel_data(rng, n=n)
    weights = rng.uniform(0.5, 2.0, n).astype(np.float32)

    data = tmp_path / "examples.tfrecord"
    with tf.io.TFRecordWriter(str(data)) as writer:
        for i in range(n):
            features = {
                "seq_label": seq[i][0],
                "seq_pred": seq[i][1],
                "tok_label": tokens[i][0],
                "tok_pred": tokens[i][1],
                "tag_label": tag_labels[i],
                "tag_pred": tag_scores[i],
                "weight": weights[i],
            }
            example = tf.train.Example(
                features=tf.train.Features(
                    feature={name: _float_feature(value) for name, value in features.items()}
                )
            )
            writer.write(example.SerializeToString())

    outputs = {"seq": "seq", "tokens": "tok", "tags": "tag"}
    weighted = tfma.ExampleWeightOptions(weighted=True)
    eval_config = tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                label_keys={out: f"{prefix}_label" for out, prefix in outputs.items()},
                prediction_keys={out: f"{prefix}_pred" for out, prefix in outputs.items()},
                example_weight_keys={out: "weight" for out in outputs},
            )
        ],
        slicing_specs=[tfma.SlicingSpec()],
        metrics_specs=[
            tfma.MetricsSpec(
                output_names=["seq"],
                example_weights=weighted,
                metrics=[
                    metrics.metric_config("SequencePearson"),
                    metrics.metric_config("SequenceConcordance"),
                ],
            ),
            tfma.MetricsSpec(
                output_names=["tokens"],
                example_weights=weighted,
                metrics=[metrics.metric_config("MaskedTokenAccuracy", pad_class=PAD)],
            ),
            tfma.MetricsSpec(
                output_names=["tags"],
                example_weights=weighted,
                metrics=[
                    metrics.metric_config("RankingLoss"),
                    metrics.metric_config("HammingLoss"),
                ],
            ),
        ],
    )
    output_path = tmp_path / "eval"
    tfma.run_model_analysis(
        eval_config=eval_config, data_location=str(data), output_path=str(output_path)
    )
    ((slice_key, by_output),) = tfma.load_eval_result(str(output_path)).slicing_metrics
    assert slice_key == ()

    def got(output, name):
        return by_output[output][""][name]["doubleValue"]

    seq_true, seq_pred = (np.stack(column) for column in zip(*seq, strict=True))
    for name, keras in (
        ("sequence_pearson", losses.PearsonCorrelation(mask_value=MASK)),
        ("sequence_ccc", losses.ConcordanceCorrelation(mask_value=MASK)),
    ):
        expected = keras_result(keras, [(seq_true, seq_pred, weights)])
        np.testing.assert_allclose(got("seq", name), expected, **TOL, err_msg=name)

    batches = [
        (labels[None].astype(np.int64), probs[None], weight[None])
        for (labels, probs), weight in zip(tokens, weights, strict=True)
    ]
    expected = keras_result(losses.MaskedSparseCategoricalAccuracy(pad_class=PAD), batches)
    np.testing.assert_allclose(got("tokens", "masked_token_accuracy"), expected, **TOL)

    np.testing.assert_allclose(
        got("tags", "ranking_loss"),
        label_ranking_loss(tag_labels, tag_scores, sample_weight=weights),
        **TOL,
    )
    np.testing.assert_allclose(
        got("tags", "hamming_loss"),
        hamming_loss(tag_labels, tag_scores >= 0.5, sample_weight=weights),
        **TOL,
    )
