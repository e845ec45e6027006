"""Run steps of a compiled Kubeflow pipeline here, the way the KFP 2 launcher runs them in
their containers: the executor's command and args from the PipelineSpec, `{{$}}` replaced by
the ExecutorInput the KFP driver builds — `parameterValues` from the task's constants, input
artifacts from the upstream steps' executor_output.json, an output URI per output artifact
under the pipeline root, and the path the step writes its executor_output.json to. A step
with a `preCacheCheck` hook (file-based ExampleGen) runs that command first, as the launcher
does.

The local environment stands in for the image (its interpreter first on PATH, the image's
environment variables set). What only a cluster does is not done here: pulling images, ML
Metadata bookkeeping and caching, retries, pod placement.
"""

import dataclasses
import json
import os
import subprocess
import sys

from google.protobuf import json_format

from pipelines import kubeflow

# What deploy/Dockerfile sets with ENV for every step.
IMAGE_ENV = {"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}


@dataclasses.dataclass
class StepRun:
    task: str
    returncode: int
    output: str  # stdout and stderr of the step's commands
    outputs: dict  # output key -> ExecutorInput artifact list, as downstream steps receive it


def _spec(path: str) -> dict:
    spec, _ = kubeflow.load(path)
    return json_format.MessageToDict(spec)


def executor_input(
    spec: dict, task: str, pipeline_root: str, upstream: dict, run_id: str = "run-1"
) -> dict:
    """The ExecutorInput for `task`; `upstream` maps producer task → its StepRun.outputs.
    Outputs go under <pipeline_root>/local-launch/<run_id>/<task>, one folder per run as the
    KFP launcher keeps them apart by run."""
    definition = spec["root"]["dag"]["tasks"][task]
    component = spec["components"][definition["componentRef"]["name"]]
    inputs = definition.get("inputs", {})
    parameters = {
        name: value["runtimeValue"]["constant"]
        for name, value in inputs.get("parameters", {}).items()
    }
    artifacts = {}
    for name, value in inputs.get("artifacts", {}).items():
        source = value["taskOutputArtifact"]
        producer = source["producerTask"]
        if producer not in upstream:
            raise ValueError(f"step {task} needs {producer}'s output {name}: run {producer} first")
        artifacts[name] = upstream[producer][source["outputArtifactKey"]]
    step_root = os.path.join(pipeline_root, "local-launch", run_id, task)
    outputs = {
        key: {
            "artifacts": [
                {
                    "name": f"{task}-{key}",
                    "uri": os.path.join(step_root, key),
                    "type": definition_type["artifactType"],
                    "metadata": {},
                }
            ]
        }
        for key, definition_type in component.get("outputDefinitions", {})
        .get("artifacts", {})
        .items()
    }
    return {
        "inputs": {"parameterValues": parameters, "artifacts": artifacts},
        "outputs": {
            "artifacts": outputs,
            "outputFile": os.path.join(step_root, "executor_output.json"),
        },
    }


def _container(spec: dict, task: str) -> dict:
    component = spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]
    executor = spec["components"][component]["executorLabel"]
    return spec["deploymentSpec"]["executors"][executor]["container"]


def _substitute(args: list, invocation: str) -> list:
    return [invocation if arg == "{{$}}" else arg for arg in args]


def run_step(
    path: str, task: str, pipeline_root: str, upstream: dict, timeout=900, run_id: str = "run-1"
) -> StepRun:
    """Runs `task` of the compiled pipeline file `path` and returns what it produced."""
    spec = _spec(path)
    invocation = executor_input(spec, task, pipeline_root, upstream, run_id)
    os.makedirs(os.path.dirname(invocation["outputs"]["outputFile"]), exist_ok=True)
    serialized = json.dumps(invocation)
    container = _container(spec, task)
    commands = []
    hook = container.get("lifecycle", {}).get("preCacheCheck")
    if hook:
        commands.append(hook["command"] + _substitute(hook.get("args", []), serialized))
    commands.append(container["command"] + _substitute(container.get("args", []), serialized))
    env = {
        **os.environ,
        **IMAGE_ENV,
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]),
    }
    output = []
    for command in commands:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        output.append(done.stdout + done.stderr)
        if done.returncode != 0:
            return StepRun(task, done.returncode, "\n".join(output), {})
    handed = invocation["outputs"]["artifacts"]
    with open(invocation["outputs"]["outputFile"]) as handle:
        written = json.load(handle).get("artifacts", {})
    # The executor's record (split names, span, ...) replaces what it was handed, except the
    # type it leaves out: the KFP driver re-attaches it from ML Metadata for downstream steps.
    outputs = {
        key: {
            "artifacts": [
                {**given, **record, "type": given["type"]}
                for given, record in zip(
                    value["artifacts"],
                    written.get(key, {}).get("artifacts", value["artifacts"]),
                    strict=True,
                )
            ]
        }
        for key, value in handed.items()
    }
    return StepRun(task, 0, "\n".join(output), outputs)
