"""Pick a tf.distribute strategy from what the machine (or cluster) offers."""

import json
import os
import tempfile

import tensorflow as tf

from components.spec import DISTRIBUTIONS as STRATEGIES


def _cluster_in_tf_config() -> bool:
    try:
        cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    except json.JSONDecodeError as err:
        raise ValueError(f"TF_CONFIG is not valid JSON: {err}") from err
    return sum(len(hosts) for hosts in cluster.values()) > 1


def choose_strategy(kind: str = "auto") -> tf.distribute.Strategy:
    """Returns the strategy for `kind`.

    "auto": MultiWorkerMirroredStrategy when TF_CONFIG names a cluster of more than one task,
    MirroredStrategy over the node's GPUs when there are any (or over the logical CPU devices
    when more than one is configured), else the default strategy. "mirrored" forces
    MirroredStrategy over the GPUs, or the logical CPUs when there is no GPU.
    """
    if kind not in STRATEGIES:
        raise ValueError(f"distribution must be one of {', '.join(STRATEGIES)}; got {kind!r}")
    if kind == "default":
        return tf.distribute.get_strategy()
    if kind == "multi_worker" or (kind == "auto" and _cluster_in_tf_config()):
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    cpus = tf.config.list_logical_devices("CPU")
    devices = gpus or (cpus if len(cpus) > 1 or kind == "mirrored" else [])
    if devices:
        return tf.distribute.MirroredStrategy(devices=[d.name for d in devices])
    return tf.distribute.get_strategy()


def global_batch_size(per_replica_batch_size: int, strategy: tf.distribute.Strategy) -> int:
    """The batch size fed to the input pipeline: per-replica size times replicas in sync."""
    return per_replica_batch_size * strategy.num_replicas_in_sync


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run's outputs: always, except on the non-chief
    workers of a multi-worker cluster (the chief, or worker 0 when there is no chief)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def output_dir(strategy: tf.distribute.Strategy, path: str) -> str:
    """`path` on the chief; a scratch directory of its own on every other worker, which
    must still save (saving a distributed model is a collective) but not over the chief."""
    if is_chief(strategy):
        return path
    return tempfile.mkdtemp(prefix=f"losskit-worker-{strategy.cluster_resolver.task_id}-")
