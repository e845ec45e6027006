"""The Kubeflow path as far as this machine goes: compile with TFX's V2 runner, parse with
kfp's protos, check the GPU request and placement, and the file kfp.Client would send."""

import json
import os
import re
import shlex

import pytest
import yaml
from click.testing import CliRunner
from google.protobuf import json_format

from pipelines import kubeflow, tasks
from pipelines import kubeflow_defaults as defaults
from pipelines.cli import main

ROOT = "gs://bucket/root"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("kfp") / "penguins.yaml"
    kubeflow.compile_task(
        "penguins",
        str(out),
        image="registry.example/tfx-losskit:test",
        gpu_image="registry.example/tfx-losskit:test-gpu",
        gpu=kubeflow.GpuRequest("nvidia-l4", 2),
        node_pool=("losskit.dev/node-pool", "gpu-l4"),
        pipeline_root=ROOT,
    )
    return str(out)


def _executors(spec):
    return json_format.MessageToDict(spec.deployment_spec)["executors"]


def _platform_executors(platform):
    return {
        name: json_format.MessageToDict(config)
        for name, config in platform.platforms["kubernetes"].deployment_spec.executors.items()
    }


def _trainer_executor(spec):
    component = spec.root.dag.tasks[kubeflow.TRAINER_NODE].component_ref.name
    return spec.components[component].executor_label


def test_compiled_file_is_two_yaml_documents_kfp_parses(compiled):
    with open(compiled) as f:
        documents = list(yaml.safe_load_all(f))
    assert len(documents) == 2
    spec, platform = kubeflow.load(compiled)
    assert set(spec.root.dag.tasks) >= {
        "CsvExampleGen",
        "StatisticsGen",
        "SchemaGen",
        "ExampleValidator",
        "Transform",
        "Trainer",
        "Evaluator",
        "Pusher",
    }
    assert spec.pipeline_info.name == "losskit-penguins"
    assert platform is not None


def test_gpu_is_requested_by_the_trainer_alone(compiled):
    spec, _ = kubeflow.load(compiled)
    trainer = _trainer_executor(spec)
    for name, executor in _executors(spec).items():
        if "container" not in executor:
            continue
        accelerator = executor["container"].get("resources", {}).get("accelerator")
        if name == trainer:
            assert accelerator["type"] == defaults.GPU_RESOURCE
            assert int(accelerator["count"]) == 2
        else:
            assert not accelerator, f"{name} requests a GPU"


def test_trainer_lands_on_the_gpu_pool_and_tolerates_its_taint(compiled):
    spec, platform = kubeflow.load(compiled)
    executors = _platform_executors(platform)
    trainer = _trainer_executor(spec)
    assert set(executors) == {trainer}
    config = executors[trainer]
    assert config["nodeSelector"]["labels"] == {
        "losskit.dev/node-pool": "gpu-l4",
        defaults.GKE_ACCELERATOR_LABEL: "nvidia-l4",
    }
    [toleration] = config["tolerations"]
    assert toleration == {
        "key": defaults.GPU_TAINT_KEY,
        "operator": "Equal",
        "value": defaults.GPU_TAINT_VALUE,
        "effect": defaults.GPU_TAINT_EFFECT,
    }


def test_every_step_runs_the_image_with_legacy_keras(compiled):
    spec, _ = kubeflow.load(compiled)
    trainer = _trainer_executor(spec)
    for name, executor in _executors(spec).items():
        if "container" not in executor:
            continue
        container = executor["container"]
        expected = "registry.example/tfx-losskit:test" + ("-gpu" if name == trainer else "")
        assert container["image"] == expected, name
        assert list(container["command"])[:2] == ["env", "TF_USE_LEGACY_KERAS=1"], name


def test_the_deploy_readme_compile_command_gives_each_step_its_registry_image(tmp_path):
    """The `losskit compile` command deploy/README.md tells users to run, as written."""
    readme = os.path.join(os.path.dirname(__file__), "..", "..", "deploy", "README.md")
    with open(readme) as f:
        text = f.read()
    command = re.search(r"^losskit compile (.+?)\n(?!\s)", text, re.M | re.S).group(1)
    command = command.replace("\\\n", " ").replace("$REGISTRY", "registry.example")
    args = shlex.split(command.replace("$BUCKET", "bucket"))
    args[args.index("-o") + 1] = str(tmp_path / "penguins.yaml")
    outcome = CliRunner().invoke(main, ["compile", *args])
    assert outcome.exit_code == 0, outcome.output
    spec, _ = kubeflow.load(str(tmp_path / "penguins.yaml"))
    trainer = _trainer_executor(spec)
    for name, executor in _executors(spec).items():
        if "container" in executor:
            image = executor["container"]["image"]
            assert image.startswith("registry.example/"), (name, image)
            assert image.endswith("-gpu") == (name == trainer), (name, image)


def test_no_gpu_leaves_every_step_on_cpu(tmp_path):
    out = kubeflow.compile_task(
        "penguins", str(tmp_path / "cpu.yaml"), pipeline_root=ROOT, gpu=None
    )
    spec, platform = kubeflow.load(out)
    for executor in _executors(spec).values():
        if "container" in executor:
            assert "accelerator" not in executor["container"].get("resources", {})
    # The node selector still pins the Trainer to the pool the user named.
    assert platform is not None


@pytest.mark.parametrize("text", ["t4", "nvidia-tesla-t4:0", "nvidia-tesla-t4:x", ":1", ""])
def test_bad_gpu_flag_is_named(text):
    with pytest.raises(ValueError, match="--gpu must be TYPE:COUNT"):
        kubeflow.parse_gpu(text)


@pytest.mark.parametrize("text", ["gpu", "=gpu", "a b=c"])
def test_bad_node_pool_flag_is_named(text):
    with pytest.raises(ValueError, match="--node-pool must be LABEL=VALUE"):
        kubeflow.parse_node_pool(text)


def test_json_output_is_refused(tmp_path):
    with pytest.raises(ValueError, match="yaml"):
        kubeflow.compile_task("penguins", str(tmp_path / "p.json"), pipeline_root=ROOT)


@pytest.mark.parametrize("task", sorted(tasks.shipped()))
def test_every_task_compiles(task, tmp_path):
    out = kubeflow.compile_task(task, str(tmp_path / f"{task}.yaml"), pipeline_root=ROOT)
    assert os.path.getsize(out) > 0


def test_trainer_placement_matches_the_node_pool_deploy_creates(tmp_path):
    from deploy.render import node_pool_spec, selects, tolerates_all

    out = kubeflow.compile_task("penguins", str(tmp_path / "p.yaml"), pipeline_root=ROOT)
    spec, platform = kubeflow.load(out)
    config = _platform_executors(platform)[_trainer_executor(spec)]
    pool = node_pool_spec()
    assert selects(config["nodeSelector"]["labels"], pool["labels"])
    assert tolerates_all(config["tolerations"], pool["taints"])


def test_no_secret_reaches_the_compiled_file(compiled):
    import re

    with open(compiled) as f:
        text = f.read()
    for pattern in (
        r"(?i)password",
        r"(?i)secret",
        r"(?i)\btoken\b",  # a bearer or API token; the spec's `features.tokens` is a role
        r"(?i)api[_-]?key",
        r"(?i)credential",
        r"AKIA[0-9A-Z]{16}",
        r"-----BEGIN",
    ):
        assert not re.search(pattern, text), pattern


def test_the_specs_loss_travels_into_the_compiled_file(tmp_path):
    """`losskit compile SPEC --loss` puts the loss in the Trainer's custom_config (and not in
    Transform's, whose cache must not depend on it); the class list read from the data too."""
    out = str(tmp_path / "p.yaml")
    result = CliRunner().invoke(
        main,
        ["compile", "penguins", "-o", out, "--pipeline-root", ROOT, "--gpu", "none"]
        + ["--loss", '{"name": "Huber", "params": {"delta": 2.0}}'],
    )
    assert result.exit_code == 0, result.output
    spec, _ = kubeflow.load(out)

    def custom_config(node):
        component = spec.root.dag.tasks[node].component_ref.name
        parameter = spec.components[component].input_definitions.parameters
        assert "custom_config" in parameter
        executor = spec.root.dag.tasks[node].inputs.parameters["custom_config"]
        return json.loads(executor.runtime_value.constant.string_value)["spec"]

    trainer, transform = custom_config("Trainer"), custom_config("Transform")
    assert trainer["loss"] == {"name": "Huber", "params": {"delta": 2.0}}
    assert "loss" not in transform and "trainer" not in transform
    assert (
        trainer["label"]["classes"]
        == transform["label"]["classes"]
        == [
            "Adelie",
            "Chinstrap",
            "Gentoo",
        ]
    )


def test_every_executor_is_one_open_source_kfp_runs(compiled):
    with open(compiled) as f:
        spec = next(yaml.safe_load_all(f))
    assert spec["schemaVersion"] == kubeflow.KFP_SCHEMA_VERSION
    executors = spec["deploymentSpec"]["executors"]
    assert {kind for executor in executors.values() for kind in executor} == {"container"}
    assert "LatestPushedModel" in spec["root"]["dag"]["tasks"]
    assert not any("resolver" in name for name in executors)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda spec: spec["deploymentSpec"]["executors"].update(
                {"r_executor": {"resolver": {"outputArtifactQueries": {}}}}
            ),
            "executor 'r_executor' is a resolver executor",
        ),
        (lambda spec: spec.update(schemaVersion="2.0.0"), "schemaVersion '2.0.0'"),
    ],
)
def test_what_open_source_kfp_refuses_is_named(compiled, change, expected):
    with open(compiled) as f:
        documents = [d for d in yaml.safe_load_all(f) if d]
    change(documents[0])
    with pytest.raises(ValueError, match=re.escape(expected)):
        kubeflow.check_documents("p.yaml", documents)
    with pytest.raises(ValueError, match="bare PipelineSpec"):
        kubeflow.check_documents("p.yaml", [{"pipelineSpec": documents[0]}])


def test_a_pipeline_with_a_resolver_is_refused_and_nothing_written(tmp_path, monkeypatch):
    """TFX's Resolver compiles to `resolver` executors (Vertex only): compile refuses it."""
    from tfx import v1 as tfx

    original = kubeflow.create_pipeline

    def with_resolver(**kwargs):
        pipeline = original(**kwargs)
        resolver = tfx.dsl.Resolver(
            strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
            model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
            model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
        ).with_id("latest_blessed_model_resolver")
        pipeline.components = [*pipeline.components, resolver]
        return pipeline

    monkeypatch.setattr(kubeflow, "create_pipeline", with_resolver)
    out = tmp_path / "p.yaml"
    with pytest.raises(ValueError, match="resolver executor; open-source KFP 2 runs container"):
        kubeflow.compile_task("penguins", str(out), pipeline_root=ROOT)
    assert not out.exists()
