"""A step after ExampleValidator that fails when it found anomalies.

ExampleValidator only writes its anomalies to disk (and a `blessed` property nothing
reads), so a run on data that breaks the schema would go on to train. This step reads the
anomalies of every split and raises one line naming the split, the feature and TFDV's
description; Transform waits for it, so nothing downstream runs on such data.
"""

import os

import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import v1 as tfx
from tfx.types import artifact_utils

ANOMALIES_FILE = "SchemaDiff.pb"  # what ExampleValidator writes in each split's directory


def read_anomalies(artifact) -> dict[str, anomalies_pb2.Anomalies]:
    """{split: Anomalies} from an ExampleAnomalies artifact, read through tf.io.gfile so a
    gs:// or s3:// pipeline root works as a local one does."""
    found = {}
    for split in artifact_utils.decode_split_names(artifact.split_names):
        path = os.path.join(artifact_utils.get_split_uri([artifact], split), ANOMALIES_FILE)
        anomalies = anomalies_pb2.Anomalies()
        with tf.io.gfile.GFile(path, "rb") as handle:
            anomalies.ParseFromString(handle.read())
        found[split] = anomalies
    return found


def anomaly_lines(anomalies: dict[str, anomalies_pb2.Anomalies]) -> list[str]:
    """'split <split>, feature <feature>: <TFDV's description>' for each anomaly."""
    lines = []
    for split, proto in sorted(anomalies.items()):
        for feature, info in sorted(proto.anomaly_info.items()):
            reasons = [r.description or r.short_description for r in info.reason]
            lines.append(f"split {split}, feature {feature}: {'; '.join(reasons)}")
        if proto.HasField("dataset_anomaly_info"):
            reasons = [r.description for r in proto.dataset_anomaly_info.reason]
            lines.append(f"split {split}, dataset: {'; '.join(reasons)}")
    return lines


@tfx.dsl.components.component
def AnomaliesGate(
    anomalies: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ExampleAnomalies],
):
    """Raises ValueError, in one line, when ExampleValidator found any anomaly."""
    lines = anomaly_lines(read_anomalies(anomalies))
    if lines:
        raise ValueError(
            f"ExampleValidator found {len(lines)} anomal{'y' if len(lines) == 1 else 'ies'} "
            f"against the schema: {' | '.join(lines)}"
        )
