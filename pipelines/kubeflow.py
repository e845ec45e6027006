"""Compile a task's pipeline for Kubeflow Pipelines 2: TFX's Kubeflow V2 runner builds the
PipelineSpec; we write it as the YAML that `kfp.Client` and `kfp run create` accept, with a
`platforms.kubernetes` document that puts the Trainer (alone) on the GPU node pool.

TFX emits the accelerator request (ResourceSpec) but cannot emit node selectors or
tolerations; those are the fields kfp-kubernetes writes (`nodeSelector.labels`,
`tolerations`).
"""

import dataclasses
import json
import os
import re
import tempfile

import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner, pipeline_builder

from pipelines import contracts, datasets, profile, tasks
from pipelines import kubeflow_defaults as defaults
from pipelines.pipeline import create_pipeline

TRAINER_NODE = "Trainer"
# tf.keras must be Keras 2 inside every step, before Python starts (the executor imports
# TensorFlow before any of our code runs); the image sets it too.
EXECUTOR_COMMAND = [
    "env",
    "TF_USE_LEGACY_KERAS=1",
    "python",
    "-m",
    "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor",
]
# The image ships every task's embedded data here (deploy/Dockerfile writes it at build time).
IMAGE_DATA_ROOT = "/opt/losskit/data"
_GPU = re.compile(r"^(?P<type>[a-z0-9][a-z0-9.\-]*):(?P<count>[1-9][0-9]*)$")
_LABEL = re.compile(r"^(?P<key>[A-Za-z0-9./\-_]+)=(?P<value>[A-Za-z0-9.\-_]*)$")


@dataclasses.dataclass(frozen=True)
class GpuRequest:
    type: str  # the GPU model, matched through GKE's accelerator node label
    count: int


def parse_gpu(text: str) -> GpuRequest:
    match = _GPU.match(text or "")
    if not match:
        raise ValueError(f"--gpu must be TYPE:COUNT such as nvidia-tesla-t4:1; got {text!r}")
    return GpuRequest(match["type"], int(match["count"]))


def parse_node_pool(text: str) -> tuple[str, str]:
    match = _LABEL.match(text or "")
    if not match:
        raise ValueError(
            f"--node-pool must be LABEL=VALUE such as losskit.dev/node-pool=gpu; got {text!r}"
        )
    return match["key"], match["value"]


def trainer_resources(gpu: GpuRequest | None):
    spec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec()
    if gpu:
        # Open-source KFP reads the accelerator type as the Kubernetes resource name.
        spec.accelerator.type = defaults.GPU_RESOURCE
        spec.accelerator.count = gpu.count
    return spec


def platform_document(executor: str, gpu: GpuRequest | None, node_pool: tuple[str, str]):
    labels = {node_pool[0]: node_pool[1]}
    if gpu:
        labels[defaults.GKE_ACCELERATOR_LABEL] = gpu.type
    config = {
        "nodeSelector": {"labels": labels},
        "tolerations": [
            {
                "key": defaults.GPU_TAINT_KEY,
                "operator": "Equal",
                "value": defaults.GPU_TAINT_VALUE,
                "effect": defaults.GPU_TAINT_EFFECT,
            }
        ],
    }
    return {"platforms": {"kubernetes": {"deploymentSpec": {"executors": {executor: config}}}}}


def cluster_data(spec, data: str | None):
    """(spec with data and classes resolved, ExampleGen input base, pattern, format) as the
    cluster will see them: `data` (a URI every step can read), else the spec's own, else the
    image's copy of the embedded dataset. Classes are read from data this machine can read
    (the embedded dataset, a local file); remote data needs `classes` in the spec."""
    spec = spec.with_overrides(data=data)
    dataset = tasks.embedded(spec)
    if dataset is not None:
        with tempfile.TemporaryDirectory() as scratch:
            info = datasets.write_default(dataset, scratch)
            spec = tasks.with_classes_from(spec, profile.profile(info.path))
        spec = spec.with_overrides(data=f"{IMAGE_DATA_ROOT}/{dataset}/{info.file_name}")
    elif spec.data is None:
        raise ValueError(f"{spec.name}: the spec names no data; set `data:` or pass --data")
    elif "://" in spec.data:
        spec = tasks.with_classes(spec, lambda column: _unknown_classes(spec, column))
    else:
        spec = tasks.with_classes_from(spec, contracts.check(spec).profile)
    return (spec, *tasks.example_gen_input(spec.data))


def _unknown_classes(spec, column):
    raise ValueError(
        f"{spec.name}: data {spec.data} is not readable here, so the classes of {column!r} "
        "cannot be read from it; list them in the spec (label.classes or the head's classes)"
    )


def compile_task(
    spec_or_task,
    output: str,
    *,
    pipeline_root: str,
    image: str = defaults.DEFAULT_IMAGE,
    gpu_image: str = defaults.DEFAULT_GPU_IMAGE,
    gpu: GpuRequest | None = GpuRequest(defaults.DEFAULT_GPU_TYPE, defaults.DEFAULT_GPU_COUNT),
    node_pool: tuple[str, str] = (defaults.NODE_POOL_LABEL_KEY, defaults.NODE_POOL_LABEL_VALUE),
    data: str | None = None,
    schema: str | None = None,
    beam_args=(),
    **overrides,
) -> str:
    """Writes `output` (.yaml): the PipelineSpec, then the platform document.

    `spec_or_task` is a TaskSpec, a spec file or a shipped task's name; `overrides` (epochs,
    loss, …) replace the spec's, and the spec travels in the compiled file as the Transform
    and Trainer custom_config. `pipeline_root` must be a location every step reads and
    writes through tf.io.gfile (gs://, s3://, or a mounted volume path); KFP's minio://
    default is not one. With a GPU request the Trainer runs `gpu_image` (the CUDA variant)
    and every other step `image`.
    """
    if not output.endswith((".yaml", ".yml")):
        raise ValueError(f"-o {output}: KFP 2 takes .yaml/.yml pipeline files")
    spec = spec_or_task if not isinstance(spec_or_task, str) else tasks.load(spec_or_task)
    spec = spec.with_overrides(**overrides)
    spec, data_root, pattern, fmt = cluster_data(spec, data)
    pipeline = create_pipeline(
        pipeline_name=f"losskit-{spec.name}",
        pipeline_root=pipeline_root,
        data_root=data_root,
        data_pattern=pattern,
        data_format=fmt,
        spec=spec,
        serving_model_dir=f"{pipeline_root}/serving/{spec.name}",
        schema_path=schema,
        beam_pipeline_args=list(beam_args),
        trainer_platform_config=trainer_resources(gpu),
    )
    images = {pipeline_builder.DEFAULT_IMAGE_PATH_KEY: image}
    if gpu:
        images[TRAINER_NODE] = gpu_image
    runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
        config=kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(
            default_image=images,
            default_commands=EXECUTOR_COMMAND,
            # Schema 2.1, as the kfp 2 SDK writes: typed `parameterType` inputs, and each step
            # reads the ExecutorInput's `parameterValues`, the only parameters open-source
            # KFP's driver fills in (the 2.0 schema's steps read the legacy `parameters`).
            use_pipeline_spec_2_1=True,
        )
    )
    job = runner.run(pipeline, write_out=False)
    pipeline_spec = job["pipelineSpec"]
    component = pipeline_spec["root"]["dag"]["tasks"][TRAINER_NODE]["componentRef"]["name"]
    executor = pipeline_spec["components"][component]["executorLabel"]
    documents = [pipeline_spec, platform_document(executor, gpu, node_pool)]
    text = f"# losskit {spec.name}: KFP 2 PipelineSpec + Kubernetes platform spec\n"
    text += yaml.safe_dump_all(documents, sort_keys=True)
    # Checked before anything is written: a file open-source KFP would refuse never exists.
    check_documents(output, [d for d in yaml.safe_load_all(text) if d])
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(output, "w") as f:
        f.write(text)
    return output


# What open-source KFP 2's backend accepts (kubeflow/pipelines backend/src/v2/compiler:
# visitor.go `dfs()` fails run creation on "non-container and non-importer executor"; the
# API server takes PipelineSpec schema 2.1.0 only).
KFP_SCHEMA_VERSION = "2.1.0"
KFP_EXECUTORS = ("container", "importer")


def check_documents(path: str, documents: list) -> None:
    """Raises ValueError naming the executor (or field) when the documents are not what an
    open-source KFP 2 cluster runs: one bare PipelineSpec (not a Vertex PipelineJob), schema
    2.1.0, container/importer executors only, every platform-document executor in the spec;
    then the kfp and Kubernetes schemas (`validate_documents`)."""
    if not documents:
        raise ValueError(f"{path}: empty pipeline file")
    spec = documents[0]
    if "pipelineSpec" in spec or "pipelineInfo" not in spec:
        raise ValueError(f"{path}: the first document must be a bare PipelineSpec")
    if spec.get("schemaVersion") != KFP_SCHEMA_VERSION:
        raise ValueError(
            f"{path}: schemaVersion {spec.get('schemaVersion')!r}; open-source KFP 2 takes "
            f"{KFP_SCHEMA_VERSION}"
        )
    executors = spec.get("deploymentSpec", {}).get("executors", {})
    for name, executor in sorted(executors.items()):
        if len(executor) != 1 or next(iter(executor)) not in KFP_EXECUTORS:
            raise ValueError(
                f"{path}: executor {name!r} is a {'/'.join(sorted(executor))} executor; "
                "open-source KFP 2 runs container and importer executors only"
            )
    for platform in documents[1:2]:
        for single in platform.get("platforms", {}).values():
            for name in single.get("deploymentSpec", {}).get("executors", {}):
                if name not in executors:
                    raise ValueError(f"{path}: platform spec names unknown executor {name!r}")
    validate_documents(path, documents)


def load(path: str):
    """(PipelineSpec, PlatformSpec | None) parsed with kfp's own protos."""
    with open(path) as f:
        documents = [d for d in yaml.safe_load_all(f) if d]
    if not documents:
        raise ValueError(f"{path}: empty pipeline file")
    spec = json_format.ParseDict(documents[0], pipeline_spec_pb2.PipelineSpec())
    platform = None
    if len(documents) > 1:
        platform = json_format.ParseDict(documents[1], pipeline_spec_pb2.PlatformSpec())
    return spec, platform


def validate(path: str) -> None:
    """`check_documents` on a written pipeline file."""
    with open(path) as f:
        check_documents(path, [d for d in yaml.safe_load_all(f) if d])


def validate_documents(path: str, documents: list) -> None:
    """Parses the documents with kfp's protos and checks each Kubernetes executor config: the
    node selector against kfp-kubernetes' KubernetesExecutorConfig proto, tolerations against
    the Kubernetes core/v1 Toleration schema (kfp-kubernetes 1.0, the last release that
    installs beside kfp 2.5, predates tolerations in its proto)."""
    import jsonschema
    import kubernetes_validate
    from kfp.kubernetes import kubernetes_executor_config_pb2

    spec = json_format.ParseDict(documents[0], pipeline_spec_pb2.PipelineSpec())
    platform = None
    if len(documents) > 1:
        platform = json_format.ParseDict(documents[1], pipeline_spec_pb2.PlatformSpec())
    if not spec.root.dag.tasks:
        raise ValueError(f"{path}: the PipelineSpec has no tasks")
    if platform is None:
        return
    schema_dir = os.path.join(
        os.path.dirname(kubernetes_validate.__file__),
        "kubernetes-json-schema",
        "v1.29.0-local-strict",
    )
    with open(os.path.join(schema_dir, "toleration-v1.json")) as f:
        toleration_schema = json.load(f)
    executors = spec.deployment_spec["executors"]
    for single in platform.platforms.values():
        for name, config in single.deployment_spec.executors.items():
            if name not in executors:
                raise ValueError(f"{path}: platform spec names unknown executor {name!r}")
            config = json_format.MessageToDict(config)
            for toleration in config.pop("tolerations", []):
                jsonschema.validate(toleration, toleration_schema)
            json_format.ParseDict(config, kubernetes_executor_config_pb2.KubernetesExecutorConfig())
