"""ExampleValidator's verdict as a gate: data with anomalies stops the run before Transform."""

from components.validator.gate import AnomaliesGate, anomaly_lines, read_anomalies

__all__ = ["AnomaliesGate", "anomaly_lines", "read_anomalies"]
