"""The baseline model without TFX's Resolver: the newest model the Pusher pushed.

TFX compiles `tfx.dsl.Resolver` (LatestBlessedModelStrategy) into `resolver` executors that
only Vertex AI Pipelines runs; open-source KFP 2 refuses any executor but `container` and
`importer` when a run is created. `LatestPushedModel` is an ordinary container step that needs
no ML Metadata access: the Pusher pushes a model only when the Evaluator blessed it, so the
newest version under the push destination *is* the latest blessed model, on any orchestrator.
It copies that SavedModel into its Model artifact (through tf.io.gfile, so gs:// and s3://
destinations work) for the Evaluator's `baseline_model`.

On the first run nothing has been pushed: the artifact is left empty and marked
`found = 0`, and `Evaluator` (this module's executor) then evaluates without a baseline, as
TFX's own executor does when the Resolver finds nothing (change thresholds are ignored).

The step takes the candidate model as an input so it reruns whenever the Trainer does (a
step whose inputs never change would be served from TFX's or KFP's cache, and would never see
a later push).
"""

import os

import tensorflow as tf
from tfx import v1 as tfx
from tfx.components.evaluator import executor as evaluator_executor
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_component_specs
from tfx.utils import io_utils, path_utils

FOUND = "found"
PUSHED_FROM = "pushed_from"


def latest_pushed(push_destination: str) -> str | None:
    """The newest pushed version directory (Pusher names them by Unix time), else None."""
    if not tf.io.gfile.isdir(push_destination):
        return None
    versions = [
        name.rstrip("/")
        for name in tf.io.gfile.listdir(push_destination)
        if name.rstrip("/").isdigit()
        and tf.io.gfile.exists(os.path.join(push_destination, name.rstrip("/"), "saved_model.pb"))
    ]
    if not versions:
        return None
    return os.path.join(push_destination, max(versions, key=int))


@tfx.dsl.components.component
def LatestPushedModel(
    candidate: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Model],
    model: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.Model],
    push_destination: tfx.dsl.components.Parameter[str],
) -> None:
    """Copies the newest model under `push_destination` into `model` (see module doc)."""
    del candidate  # only orders this step after the Trainer and defeats the cache
    source = latest_pushed(push_destination)
    model.set_int_custom_property(FOUND, int(source is not None))
    if source is not None:
        io_utils.copy_dir(source, path_utils.serving_model_dir(model.uri))
        model.set_string_custom_property(PUSHED_FROM, source)


def has_model(artifact) -> bool:
    """False for the empty artifact `LatestPushedModel` writes when nothing was pushed."""
    # Through KFP the property comes back as a float (ExecutorOutput metadata is JSON).
    return not artifact.has_custom_property(FOUND) or bool(artifact.get_custom_property(FOUND))


class Executor(evaluator_executor.Executor):
    """TFX's Evaluator executor, evaluating without a baseline when `LatestPushedModel`
    found none."""

    def Do(self, input_dict, output_dict, exec_properties):
        key = standard_component_specs.BASELINE_MODEL_KEY
        baseline = [a for a in input_dict.get(key) or [] if has_model(a)]
        input_dict = {k: v for k, v in input_dict.items() if k != key}
        if baseline:
            input_dict[key] = baseline
        return super().Do(input_dict, output_dict, exec_properties)


class Evaluator(tfx.components.Evaluator):
    """`tfx.components.Evaluator` with the executor above."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
