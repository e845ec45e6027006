"""The GPU node pool: gke-node-pool.sh and the device plugin DaemonSet carry the taint and
labels of pipelines/kubeflow_defaults.py, so the compiled Trainer's node selector and
toleration land it there and nothing else does."""

import os
import re
import shlex
import shutil
import subprocess

import kubernetes_validate
import pytest
import yaml

from deploy import render
from pipelines import kubeflow_defaults as defaults

POOL_TAINT = {
    "key": defaults.GPU_TAINT_KEY,
    "value": defaults.GPU_TAINT_VALUE,
    "effect": defaults.GPU_TAINT_EFFECT,
}


def run_script(env_overrides=None, *args):
    """gke-node-pool.sh in a clean environment (no gcloud config or credentials leak in)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent"}
    env.update(env_overrides or {})
    return subprocess.run(
        ["bash", str(render.NODE_POOL_SCRIPT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def dry_run(**overrides) -> dict[str, str | None]:
    """The gcloud command the script would run, as {flag: value}."""
    done = run_script({"DRY_RUN": "1", "CLUSTER": "c", "LOCATION": "us-central1-a", **overrides})
    assert done.returncode == 0, done.stderr
    words = shlex.split(done.stdout)
    assert words[:5] == [
        "gcloud",
        "container",
        "node-pools",
        "create",
        overrides.get("POOL_NAME", "losskit-gpu"),
    ]
    flags = {}
    for word in words[5:]:
        name, _, value = word.partition("=")
        flags[name] = value or None
    return flags


def test_node_pool_spec_is_kubeflow_defaults():
    spec = render.node_pool_spec()
    assert render.GKE_ACCELERATOR_LABEL == defaults.GKE_ACCELERATOR_LABEL
    assert spec == {
        "labels": {
            defaults.NODE_POOL_LABEL_KEY: defaults.NODE_POOL_LABEL_VALUE,
            defaults.GKE_ACCELERATOR_LABEL: defaults.DEFAULT_GPU_TYPE,
        },
        "taints": [POOL_TAINT],
        "accelerator": {"type": defaults.DEFAULT_GPU_TYPE, "count": defaults.DEFAULT_GPU_COUNT},
    }


def test_the_compiled_trainer_placement_fits_the_pool():
    """What `losskit compile` puts on the Trainer (kubeflow_defaults) selects and tolerates
    the pool; the lead's compile test checks the compiled file itself against node_pool_spec()."""
    spec = render.node_pool_spec()
    selector = {
        defaults.NODE_POOL_LABEL_KEY: defaults.NODE_POOL_LABEL_VALUE,
        defaults.GKE_ACCELERATOR_LABEL: defaults.DEFAULT_GPU_TYPE,
    }
    toleration = {**POOL_TAINT, "operator": "Equal"}
    assert render.selects(selector, spec["labels"])
    assert render.tolerates_all([toleration], spec["taints"])


def test_dry_run_creates_the_pool_with_the_defaults():
    flags = dry_run()
    assert flags["--node-taints"] == (
        f"{defaults.GPU_TAINT_KEY}={defaults.GPU_TAINT_VALUE}:{defaults.GPU_TAINT_EFFECT}"
    )
    assert (
        flags["--node-labels"] == f"{defaults.NODE_POOL_LABEL_KEY}={defaults.NODE_POOL_LABEL_VALUE}"
    )
    assert flags["--accelerator"] == (
        f"type={defaults.DEFAULT_GPU_TYPE},count={defaults.DEFAULT_GPU_COUNT},gpu-driver-version=default"
    )
    assert flags["--cluster"] == "c" and flags["--location"] == "us-central1-a"
    assert "--enable-autoscaling" in flags and flags["--min-nodes"] == "0"
    assert "--spot" not in flags and "--project" not in flags


def test_dry_run_honours_overrides():
    flags = dry_run(
        GPU_TYPE="nvidia-l4", GPU_COUNT="2", MACHINE_TYPE="g2-standard-8", SPOT="1", PROJECT="p"
    )
    assert flags["--accelerator"].startswith("type=nvidia-l4,count=2,")
    assert flags["--machine-type"] == "g2-standard-8"
    assert "--spot" in flags and flags["--project"] == "p"


@pytest.mark.parametrize("missing", ["CLUSTER", "LOCATION"])
def test_cluster_and_location_are_required(missing):
    env = {"DRY_RUN": "1", "CLUSTER": "c", "LOCATION": "l"}
    del env[missing]
    done = run_script(env)
    assert done.returncode != 0 and missing in done.stderr


def test_script_is_valid_bash():
    done = subprocess.run(
        ["bash", "-n", str(render.NODE_POOL_SCRIPT)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_gcloud_knows_every_flag_the_script_uses(tmp_path):
    """Against the installed gcloud's own help (read only: nothing is created)."""
    if shutil.which("gcloud") is None:
        pytest.skip("gcloud not on PATH")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"),
        "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
    }
    done = subprocess.run(
        ["gcloud", "container", "node-pools", "create", "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"gcloud help unavailable: {done.stderr[-200:]}")
    help_text = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout)
    documented = set(re.findall(r"--[a-z][a-z0-9-]*", help_text))
    flags = dry_run(SPOT="1", PROJECT="p")
    unknown = set(flags) - documented - {"--project"}  # --project is a gcloud-wide flag
    assert not unknown, unknown
    for key in re.findall(r"([a-z-]+)=", flags["--accelerator"]):
        assert f"{key}=" in help_text, key


# --- the device plugin for clusters other than GKE ------------------------------------


@pytest.fixture(scope="module")
def daemonset():
    (obj,) = render.load_documents(render.DEVICE_PLUGIN_MANIFEST)
    assert obj["kind"] == "DaemonSet"
    return obj


def test_device_plugin_runs_on_the_pool_and_only_there(daemonset):
    pod = daemonset["spec"]["template"]["spec"]
    spec = render.node_pool_spec()
    assert pod["nodeSelector"] == {defaults.NODE_POOL_LABEL_KEY: defaults.NODE_POOL_LABEL_VALUE}
    assert render.selects(pod["nodeSelector"], spec["labels"])
    assert render.tolerates_all(pod["tolerations"], spec["taints"])


def test_device_plugin_image_is_pinned_and_unprivileged(daemonset):
    (container,) = daemonset["spec"]["template"]["spec"]["containers"]
    assert re.fullmatch(r"nvcr\.io/nvidia/k8s-device-plugin:v\d+\.\d+\.\d+", container["image"])
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert not security.get("privileged")
    assert daemonset["metadata"]["namespace"] == "kube-system"
    mount = container["volumeMounts"][0]["mountPath"]
    assert mount == "/var/lib/kubelet/device-plugins"


@pytest.mark.parametrize(
    "toleration,expected",
    [
        ({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}, True),
        (
            {
                "key": "nvidia.com/gpu",
                "operator": "Equal",
                "value": "present",
                "effect": "NoSchedule",
            },
            True,
        ),
        ({"key": "nvidia.com/gpu", "value": "present"}, True),  # Equal by default, any effect
        ({"key": "nvidia.com/gpu", "operator": "Equal", "value": "absent"}, False),
        ({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoExecute"}, False),
        ({"key": "other", "operator": "Exists"}, False),
        ({"operator": "Exists"}, True),  # the empty key tolerates every taint
    ],
)
def test_toleration_matching_follows_kubernetes(toleration, expected):
    assert render.tolerates(toleration, POOL_TAINT) is expected


def test_taint_and_label_parsing():
    assert render.parse_taint("k=v:NoExecute") == {"key": "k", "value": "v", "effect": "NoExecute"}
    assert render.parse_taint("k:NoSchedule") == {"key": "k", "effect": "NoSchedule"}
    with pytest.raises(ValueError):
        render.parse_taint("k=v:Sometimes")
    assert render.parse_label("a/b=c") == ("a/b", "c")
    assert not render.selects({"a": "b"}, {"a": "c"})


def test_readme_gpu_check_pod_is_valid_and_lands_on_the_pool():
    readme = (render.DEPLOY_DIR / "README.md").read_text()
    (manifest,) = re.findall(r"kubectl apply -f - <<EOF\n(.*?)\nEOF\n", readme, re.S)
    pod = yaml.safe_load(manifest.replace("$REGISTRY", "registry.example/losskit"))
    kubernetes_validate.validate(pod, "1.29", strict=True)
    spec = render.node_pool_spec()
    assert render.selects(pod["spec"]["nodeSelector"], spec["labels"])
    assert render.tolerates_all(pod["spec"]["tolerations"], spec["taints"])
    (container,) = pod["spec"]["containers"]
    assert container["image"].endswith("/" + defaults.DEFAULT_GPU_IMAGE)
    assert container["resources"]["limits"] == {defaults.GPU_RESOURCE: 1}
