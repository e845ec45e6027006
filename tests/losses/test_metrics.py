"""Streaming metrics: token accuracy and per-sequence correlations, consistent with the losses."""

import numpy as np
import pytest
import tensorflow as tf

from losses import (
    ConcordanceCorrelation,
    ConcordanceCorrelationLoss,
    MaskedSparseCategoricalAccuracy,
    PearsonCorrelation,
    PearsonCorrelationLoss,
)
from losses.correlation import _Steps, concordance_cc, pearson_r

MASK = -1.0


def reference_accuracy(batches, pad_class):
    hits = count = 0.0
    for labels, y_pred, weight in batches:
        weight = (
            np.ones(labels.shape)
            if weight is None
            else np.broadcast_to(np.reshape(weight, (len(labels), -1)), labels.shape)
        )
        for b, t in np.ndindex(labels.shape):
            if labels[b, t] == pad_class:
                continue
            hits += weight[b, t] * (np.argmax(y_pred[b, t]) == labels[b, t])
            count += weight[b, t]
    return hits / count if count else 0.0


def token_batch(rng, batch=4, steps=5, classes=3):
    labels = rng.integers(0, classes, (batch, steps))
    labels[rng.random((batch, steps)) < 0.3] = -1
    return labels, rng.normal(size=(batch, steps, classes))


def test_accuracy_streams_over_real_tokens(rng):
    metric = MaskedSparseCategoricalAccuracy(pad_class=-1)
    batches = [(*token_batch(rng), None), (*token_batch(rng, 2, 7), rng.random(2))]
    for labels, y_pred, weight in batches:
        metric.update_state(labels, y_pred, sample_weight=weight)
    np.testing.assert_allclose(float(metric.result()), reference_accuracy(batches, -1), rtol=1e-6)
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_accuracy_ignores_nan_and_out_of_range_pads():
    labels = np.array([[1, -1, -1]])
    y_pred = np.array([[[0.0, 1.0], [np.nan, np.nan], [5.0, 0.0]]])
    metric = MaskedSparseCategoricalAccuracy(pad_class=-1)
    metric.update_state(labels, y_pred)
    assert float(metric.result()) == 1.0
    with pytest.raises(tf.errors.InvalidArgumentError, match="outside"):
        metric.update_state(np.array([[2, -1, 0]]), y_pred)


def reference_coefficients(kind, y_true, y_pred, mask_value=MASK):
    """Per-sequence coefficients from the losses' own functions (checked against NumPy in
    test_correlation.py), so these tests check the streaming aggregation."""
    function = pearson_r if kind == "pearson" else concordance_cc
    steps = _Steps(tf.constant(y_true != mask_value), None)
    value, defined = function(*(tf.constant(x, tf.float64) for x in (y_true, y_pred)), steps)
    return value.numpy(), defined.numpy()


def manual_pearson(t, p):
    return np.corrcoef(t, p)[0, 1]


METRICS = {"pearson": PearsonCorrelation, "ccc": ConcordanceCorrelation}
LOSSES = {"pearson": PearsonCorrelationLoss, "ccc": ConcordanceCorrelationLoss}


def sequences(rng, batch, steps):
    y_true, y_pred = rng.normal(size=(batch, steps)), rng.normal(size=(batch, steps))
    lengths = rng.integers(0, steps + 1, batch)
    y_true[np.arange(steps)[None, :] >= lengths[:, None]] = MASK
    return y_true, y_pred


def test_pearson_metric_is_streaming_mean_over_defined_sequences(rng):
    metric = PearsonCorrelation(mask_value=MASK)
    values = []
    for batch in (sequences(rng, 5, 6), sequences(rng, 3, 4)):
        y_true, y_pred = batch
        metric.update_state(y_true, y_pred)
        for t, p in zip(y_true, y_pred, strict=True):
            real = t != MASK
            if real.sum() >= 2:
                values.append(manual_pearson(t[real], p[real]))
    np.testing.assert_allclose(float(metric.result()), np.mean(values), rtol=1e-5)


@pytest.mark.parametrize("kind", METRICS)
def test_metric_agrees_with_loss(rng, kind):
    y_true, y_pred = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    metric = METRICS[kind]()
    metric.update_state(y_true, y_pred)
    np.testing.assert_allclose(
        float(metric.result()), 1 - float(LOSSES[kind]()(y_true, y_pred)), rtol=1e-5
    )


@pytest.mark.parametrize("kind", METRICS)
def test_metric_weights(rng, kind):
    y_true, y_pred = sequences(rng, 6, 5)
    values, defined = reference_coefficients(kind, y_true, y_pred)
    weight = rng.random(6)
    metric = METRICS[kind](mask_value=MASK)
    metric.update_state(y_true, y_pred, sample_weight=weight)
    expected = np.sum((weight * values)[defined]) / np.sum(weight[defined])
    np.testing.assert_allclose(float(metric.result()), expected, rtol=1e-5)


@pytest.mark.parametrize("kind", METRICS)
def test_metric_is_zero_without_defined_sequences(kind):
    metric = METRICS[kind](mask_value=MASK)
    metric.update_state(np.array([[1.0, MASK], [MASK, MASK]]), np.full((2, 2), np.nan))
    assert float(metric.result()) == 0.0


@pytest.mark.parametrize(
    "metric",
    [
        MaskedSparseCategoricalAccuracy(pad_class=0),
        PearsonCorrelation(1.0),
        ConcordanceCorrelation(),
    ],
)
def test_metrics_serialize(metric):
    config = tf.keras.metrics.serialize(metric)
    assert config["registered_name"] == f"losskit>{type(metric).__name__}"
    clone = tf.keras.metrics.deserialize(config)
    assert type(clone) is type(metric) and clone.get_config() == metric.get_config()


def test_metrics_in_compile_follow_keras_masks(rng):
    tf.keras.utils.set_random_seed(0)
    features = rng.normal(size=(6, 5, 2))
    lengths = np.array([5, 3, 1, 4, 2, 0])
    real = np.arange(5)[None, :] < lengths[:, None]
    features[~real] = 0.0
    y_true = rng.normal(size=(6, 5))
    inputs = tf.keras.Input((5, 2))
    outputs = tf.keras.layers.Dense(1)(tf.keras.layers.Masking(0.0)(inputs))
    model = tf.keras.Model(inputs, outputs)
    model.compile(
        loss=PearsonCorrelationLoss(), metrics=[PearsonCorrelation(), ConcordanceCorrelation()]
    )
    result = model.evaluate(features, y_true, batch_size=6, verbose=0, return_dict=True)
    y_pred = model.predict(features, verbose=0)[..., 0]
    masked = np.where(real, y_true, MASK)
    for kind, name in (("pearson", "pearson_correlation"), ("ccc", "concordance_correlation")):
        values, defined = reference_coefficients(kind, masked, y_pred)
        np.testing.assert_allclose(result[name], values[defined].mean(), rtol=1e-5)
