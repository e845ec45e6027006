"""Read a finished run back through ML Metadata: the latest artifacts of a pipeline, the TFMA
metrics per slice, the blessing. Shared by `losskit report` and the tests."""

import dataclasses
import os
from typing import NamedTuple

import tensorflow_model_analysis as tfma
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tensorflow_model_analysis.writers import eval_config_writer


class NoEvaluation(LookupError):
    """The root holds no finished Evaluator output."""


def _store(metadata_path: str) -> metadata_store.MetadataStore:
    if not os.path.exists(metadata_path):
        raise FileNotFoundError(
            f"{metadata_path}: no ML Metadata database (run `losskit run` first)"
        )
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(config)


def pipeline_names(metadata_path: str) -> list[str]:
    return sorted(c.name for c in _store(metadata_path).get_contexts_by_type("pipeline"))


def latest_artifacts(metadata_path: str, pipeline_name: str) -> dict:
    """{artifact type name: newest LIVE artifact} of `pipeline_name`."""
    store = _store(metadata_path)
    context = store.get_context_by_type_and_name("pipeline", pipeline_name)
    if context is None:
        raise LookupError(f"no pipeline {pipeline_name!r} in {metadata_path}")
    types = {t.id: t.name for t in store.get_artifact_types()}
    newest = {}
    for artifact in store.get_artifacts_by_context(context.id):
        if artifact.state != metadata_store_pb2.Artifact.LIVE:
            continue
        name = types[artifact.type_id]
        if name not in newest or artifact.id > newest[name].id:
            newest[name] = artifact
    return newest


class ExecutionRow(NamedTuple):
    id: int
    component: str
    state: str  # NEW | RUNNING | COMPLETE | FAILED | CACHED | CANCELED
    seconds: float


def latest_output(metadata_path: str, pipeline_name: str, component: str, key: str) -> str:
    """URI of the newest LIVE artifact `component` wrote under output `key` (TFX lays
    outputs out as <pipeline_root>/<component>/<key>/<execution id>)."""
    store = _store(metadata_path)
    context = store.get_context_by_type_and_name("pipeline", pipeline_name)
    if context is None:
        raise LookupError(f"no pipeline {pipeline_name!r} in {metadata_path}")
    marker = f"{os.sep}{component}{os.sep}{key}{os.sep}"
    found = [
        a
        for a in store.get_artifacts_by_context(context.id)
        if marker in a.uri and a.state == metadata_store_pb2.Artifact.LIVE
    ]
    if not found:
        raise LookupError(f"{pipeline_name}: no {component}.{key} output in {metadata_path}")
    return max(found, key=lambda a: a.id).uri


def executions(metadata_path: str, pipeline_name: str) -> list[ExecutionRow]:
    """Every execution of the pipeline, oldest first; [] before the pipeline registered."""
    store = _store(metadata_path)
    context = store.get_context_by_type_and_name("pipeline", pipeline_name)
    if context is None:
        return []
    types = {t.id: t.name for t in store.get_execution_types()}
    rows = []
    for execution in sorted(store.get_executions_by_context(context.id), key=lambda e: e.id):
        seconds = (
            execution.last_update_time_since_epoch - execution.create_time_since_epoch
        ) / 1000
        state = metadata_store_pb2.Execution.State.Name(execution.last_known_state)
        component = types[execution.type_id].split(".")[-1]
        rows.append(ExecutionRow(execution.id, component, state, seconds))
    return rows


@dataclasses.dataclass
class Evaluation:
    uri: str
    blessed: bool
    validation_ok: bool
    metrics: dict  # {slice name: {metric key: value}}

    def overall(self) -> dict:
        return self.metrics.get("Overall", {})


def slice_name(slice_key) -> str:
    if not slice_key:
        return "Overall"
    return ", ".join(f"{k}={v}" for k, v in slice_key)


def _flatten(per_output: dict) -> dict:
    """TFMA nests {output: {sub_key: {metric: value}}}; keys become `metric`,
    `metric/classId:1`, `head/metric`…"""
    flat = {}
    for output, by_sub_key in per_output.items():
        for sub_key, by_metric in by_sub_key.items():
            for metric, value in by_metric.items():
                if "doubleValue" not in value:
                    continue
                if "\n_" in metric:  # aggregated: "macro_average: true\n_auc" → "auc/macro"
                    aggregation, metric = metric.split("\n_", 1)
                    metric = f"{metric}/{aggregation.split('_')[0]}"
                key = metric if not sub_key else f"{metric}/{sub_key}"
                flat[f"{output}/{key}" if output else key] = value["doubleValue"]
    return flat


def load_eval_result(uri: str) -> tfma.EvalResult:
    """The candidate's TFMA result (metrics and plots) in an Evaluator output directory."""
    # With a baseline, TFMA keys the candidate's metrics by model name; without one, the
    # Evaluator drops the baseline spec and the single model's name is empty. Asking for a
    # name the run lacks would log a warning per slice, so ask the run which it has.
    model_locations = eval_config_writer.load_eval_run(uri)[3]
    return tfma.load_eval_result(
        uri, model_name="candidate" if "candidate" in model_locations else None
    )


def slice_metrics(uri: str) -> dict:
    """{slice name: {metric key: value}} of an Evaluator output directory."""
    result = load_eval_result(uri)
    return {slice_name(key): _flatten(value) for key, value in result.slicing_metrics}


def evaluation(metadata_path: str, pipeline_name: str) -> Evaluation:
    artifacts = latest_artifacts(metadata_path, pipeline_name)
    if "ModelEvaluation" not in artifacts:
        raise NoEvaluation(f"{pipeline_name}: no Evaluator output under {metadata_path}")
    uri = artifacts["ModelEvaluation"].uri
    metrics = slice_metrics(uri)
    validation = tfma.load_validation_result(uri)
    blessing = artifacts.get("ModelBlessing")
    blessed = bool(blessing and blessing.custom_properties["blessed"].int_value == 1)
    return Evaluation(uri, blessed, bool(validation.validation_ok), metrics)


def _producer(store, artifact_id: int) -> int:
    """Id of the execution that output `artifact_id`."""
    events = store.get_events_by_artifact_ids([artifact_id])
    return next(e.execution_id for e in events if e.type == metadata_store_pb2.Event.OUTPUT)


def _linked(store, execution_id: int, event_type, key: str) -> list:
    """Artifacts an execution read (INPUT) or wrote (OUTPUT) under channel `key`."""
    ids = [
        e.artifact_id
        for e in store.get_events_by_execution_ids([execution_id])
        if e.type == event_type and e.path.steps and e.path.steps[0].key == key
    ]
    return store.get_artifacts_by_id(ids)


def model_run_uri(metadata_path: str, pipeline_name: str) -> str | None:
    """The Trainer's `model_run` directory (TensorBoard logs, loss.json) of the model the latest
    evaluation judged, followed through lineage so a newer, unevaluated Trainer run is not
    mistaken for it. None without an evaluation or a recorded Trainer run behind it."""
    store = _store(metadata_path)
    evaluation_artifact = latest_artifacts(metadata_path, pipeline_name).get("ModelEvaluation")
    if evaluation_artifact is None:
        return None
    evaluator = _producer(store, evaluation_artifact.id)
    models = _linked(store, evaluator, metadata_store_pb2.Event.INPUT, "model")
    if not models:
        return None
    trainer = _producer(store, models[0].id)
    runs = _linked(store, trainer, metadata_store_pb2.Event.OUTPUT, "model_run")
    return runs[0].uri if runs else None


def baseline(metadata_path: str, pipeline_name: str) -> str | None:
    """Where the baseline of the newest evaluation came from: the pushed model directory
    `LatestPushedModel` copied (components.evaluator.baseline), or None when the candidate
    was judged without one (the first run)."""
    newest = latest_artifacts(metadata_path, pipeline_name)
    blessing = newest.get("ModelBlessing")
    if blessing is None or "baseline_model_id" not in blessing.custom_properties:
        return None
    (model,) = _store(metadata_path).get_artifacts_by_id(
        [blessing.custom_properties["baseline_model_id"].int_value]
    )
    pushed = model.custom_properties.get("pushed_from")
    return pushed.string_value if pushed else model.uri
