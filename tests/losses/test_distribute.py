"""A loss and a metric under tf.distribute.MirroredStrategy over two logical CPU devices.

Logical devices must be configured before TensorFlow initialises, so this runs in a fresh
interpreter.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json
import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import losses

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
rng = np.random.default_rng(0)
features = rng.normal(size=(64, 6, 3)).astype("float32")
labels = np.argmax(features @ rng.normal(size=(3, 4)), -1)
labels[:, 4:] = -1
tf.keras.utils.set_random_seed(0)
with strategy.scope():
    model = tf.keras.Sequential([tf.keras.Input((6, 3)), tf.keras.layers.Dense(4)])
    model.compile(
        optimizer=tf.keras.optimizers.Adam(0.05),
        loss=losses.MaskedSparseCategoricalCrossentropy(pad_class=-1, from_logits=True),
        metrics=[losses.MaskedSparseCategoricalAccuracy(pad_class=-1)],
    )
history = model.fit(features, labels, batch_size=16, epochs=4, verbose=0).history
# Padding that falls unevenly: the first replica's half of the batch is all real tokens, the
# second's has one real token per row. The loss Keras reports is the global token mean.
# The second half's tokens are mislabelled, so the two halves' means differ widely.
uneven = np.argmax(features @ rng.normal(size=(3, 4)), -1)
uneven[32:, 0] = (uneven[32:, 0] + 1) % 4
uneven[32:, 1:] = -1
distributed = model.evaluate(features, uneven, batch_size=64, verbose=0)[0]
logits = model.predict(features, batch_size=64, verbose=0)
real = uneven != -1
ce = -tf.nn.log_softmax(logits).numpy()[real, uneven[real]]
# Outside compile (a fresh instance: compile lifts the guard on its own), AUTO under a strategy
# keeps Keras's guard.
with strategy.scope():
    try:
        losses.MaskedSparseCategoricalCrossentropy(-1, True)(labels, model(features))
        guarded = False
    except ValueError:
        guarded = True
print(json.dumps({
    "replicas": strategy.num_replicas_in_sync,
    "history": history,
    "guarded": guarded,
    "uneven": {"distributed": distributed, "global_token_mean": float(ce.mean()),
               "mean_of_replica_means": float((ce[:32 * 6].mean() + ce[32 * 6:].mean()) / 2)},
}))
"""


def test_mirrored_strategy_fit():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    losses = result["history"]["loss"]
    assert all(math.isfinite(value) for value in losses)
    assert losses[-1] < losses[0]
    assert result["history"]["masked_sparse_categorical_accuracy"][-1] > 0.5
    assert result["guarded"]
    uneven = result["uneven"]
    assert uneven["distributed"] == pytest.approx(uneven["global_token_mean"], rel=1e-5)
    assert abs(uneven["mean_of_replica_means"] - uneven["global_token_mean"]) > 0.1
