"""MultiWorkerMirroredStrategy for real: two worker processes on this machine, a cluster
named by TF_CONFIG as a Kubeflow/TFX cluster names it. The strategy `auto` picks spans both
workers, they train in lock step on a losskit loss, and only the chief writes the model
where the run's outputs go."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

WORKER = """
import json, os, sys

os.environ["TF_USE_LEGACY_KERAS"] = "1"
from components.trainer import distribution

strategy = distribution.choose_strategy("auto")  # before any other TF work, as run_fn does

import numpy as np
import tensorflow as tf

import losses

with strategy.scope():
    model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(3)])
    model.compile(
        optimizer=tf.keras.optimizers.Adam(0.05),
        loss=losses.ClassWeightedCrossentropy([1.0, 2.0, 1.0], from_logits=True),
    )
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 3)).astype("float32")
batches = tf.data.Dataset.from_tensor_slices((x, np.argmax(x, -1))).batch(16)
options = tf.data.Options()
options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
history = model.fit(batches.with_options(options), epochs=3, verbose=0).history
target = distribution.output_dir(strategy, os.path.join(sys.argv[1], "model"))
model.save(target)
print(json.dumps({
    "replicas": strategy.num_replicas_in_sync,
    "multi_worker": isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy),
    "chief": distribution.is_chief(strategy),
    "target": target,
    "loss": history["loss"],
}))
"""


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_train_in_lock_step_and_only_the_chief_writes(tmp_path):
    workers = [f"localhost:{port}" for port in _free_ports(2)]
    processes = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "TF_CONFIG": json.dumps(tf_config),
        }
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", WORKER, str(tmp_path / "out")],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outcomes = []
    try:
        for process in processes:
            stdout, stderr = process.communicate(timeout=300)
            assert process.returncode == 0, stderr[-3000:]
            outcomes.append(json.loads(stdout.strip().splitlines()[-1]))
    finally:
        for process in processes:
            process.kill()
    chief, other = outcomes
    assert chief["multi_worker"] and other["multi_worker"]
    assert chief["replicas"] == other["replicas"] == 2
    assert chief["loss"] == other["loss"]  # one model, trained in lock step
    assert chief["loss"][-1] < chief["loss"][0]
    assert (chief["chief"], other["chief"]) == (True, False)
    assert chief["target"] == str(tmp_path / "out" / "model")
    assert (tmp_path / "out" / "model" / "saved_model.pb").exists()
    assert not other["target"].startswith(str(tmp_path))
    assert os.listdir(tmp_path / "out") == ["model"]
