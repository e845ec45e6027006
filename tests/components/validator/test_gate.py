"""The AnomaliesGate's reader goes through tf.io.gfile: a root only tf.io.gfile can reach
(TF's in-memory `ram://` filesystem, standing in for gs:// or s3://) reads like a local one."""

import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.types import artifact_utils, standard_artifacts

from components.validator import anomaly_lines, read_anomalies
from components.validator.gate import ANOMALIES_FILE


def test_anomalies_are_read_from_a_root_only_tf_io_gfile_can_reach():
    artifact = standard_artifacts.ExampleAnomalies()
    artifact.uri = "ram://losskit-gate/anomalies"
    artifact.split_names = artifact_utils.encode_split_names(["train", "eval"])
    for split, value in (("train", 5850), ("eval", 6300)):
        proto = anomalies_pb2.Anomalies()
        reason = proto.anomaly_info["body_mass_g"].reason.add()
        reason.description = f"Unexpectedly large value: {value}."
        directory = artifact_utils.get_split_uri([artifact], split)
        tf.io.gfile.makedirs(directory)
        with tf.io.gfile.GFile(f"{directory}/{ANOMALIES_FILE}", "wb") as f:
            f.write(proto.SerializeToString())
    assert anomaly_lines(read_anomalies(artifact)) == [
        "split eval, feature body_mass_g: Unexpectedly large value: 6300.",
        "split train, feature body_mass_g: Unexpectedly large value: 5850.",
    ]
