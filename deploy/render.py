"""Render the deploy/ Kubernetes manifests without a cluster, and read the GPU pool's shape.

`render()` uses a `kustomize` or `kubectl` binary when one is on PATH (`kustomize build` /
`kubectl kustomize`), else `compose()`: a small Python kustomize for what deploy/ uses
(resources, nested local kustomizations, namespace, labels, commonLabels,
commonAnnotations). Anything else in a kustomization.yaml is refused rather than half
rendered. Remote bases (the pinned Kubeflow Pipelines release) need the network and a real
kustomize; `compose(..., skip_remote=True)` renders just the local part.

`node_pool_spec()` reads the defaults of deploy/gpu/gke-node-pool.sh: the labels and taints
of the GPU nodes the compiled Trainer must select and tolerate.

    python -m deploy.render [DIR ...]        # YAML stream, default deploy/kubeflow/losskit
    python -m deploy.render --node-pool-spec # JSON
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEPLOY_DIR = REPO_ROOT / "deploy"
KUBEFLOW_DIR = DEPLOY_DIR / "kubeflow"
LOSSKIT_KUSTOMIZATION = KUBEFLOW_DIR / "losskit"
STANDALONE_OVERLAY = KUBEFLOW_DIR / "overlays" / "standalone"
KFP_KUSTOMIZATIONS = (
    KUBEFLOW_DIR / "kfp" / "cluster-scoped",
    KUBEFLOW_DIR / "kfp" / "platform-agnostic",
)
ARTIFACT_SECRET_TEMPLATE = LOSSKIT_KUSTOMIZATION / "artifact-store-secret.template.yaml"
GPU_DIR = DEPLOY_DIR / "gpu"
NODE_POOL_SCRIPT = GPU_DIR / "gke-node-pool.sh"
DEVICE_PLUGIN_MANIFEST = GPU_DIR / "nvidia-device-plugin.yaml"

# GKE puts this label on every GPU node, valued with the accelerator type of its pool.
GKE_ACCELERATOR_LABEL = "cloud.google.com/gke-accelerator"

KUSTOMIZATION_FILENAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")

# Kinds kustomize's namespace transformer leaves alone (the ones deploy/ could plausibly use).
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService",
        "ClusterRole",
        "ClusterRoleBinding",
        "CSIDriver",
        "CustomResourceDefinition",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "RuntimeClass",
        "StorageClass",
        "ValidatingWebhookConfiguration",
    }
)
# Kinds with selectors / pod templates: commonLabels would have to rewrite those too.
_SELECTOR_KINDS = frozenset(
    {"CronJob", "DaemonSet", "Deployment", "Job", "ReplicaSet", "Service", "StatefulSet"}
)
_SUPPORTED_KEYS = frozenset(
    {"apiVersion", "kind", "resources", "namespace", "labels", "commonLabels", "commonAnnotations"}
)
_REMOTE_PREFIXES = ("github.com/", "gitlab.com/", "bitbucket.org/", "git@", "git::")


class RenderError(Exception):
    """A kustomization the Python renderer cannot render faithfully."""


def is_remote(entry: str) -> bool:
    """Whether a `resources` entry is a remote base (URL or git repository)."""
    return "://" in entry or entry.startswith(_REMOTE_PREFIXES) or "?ref=" in entry


def load_documents(path: Path) -> list[dict[str, Any]]:
    """Every non-empty YAML document of a manifest file, each a mapping."""
    docs = [doc for doc in yaml.safe_load_all(Path(path).read_text()) if doc is not None]
    for doc in docs:
        if not isinstance(doc, dict):
            raise RenderError(f"{path}: a document is not a mapping: {doc!r}")
    return docs


def kustomization_file(directory: Path) -> Path:
    for name in KUSTOMIZATION_FILENAMES:
        candidate = Path(directory) / name
        if candidate.is_file():
            return candidate
    raise RenderError(f"no kustomization file in {directory}")


def load_kustomization(directory: Path) -> dict[str, Any]:
    (doc,) = load_documents(kustomization_file(directory))
    return doc


def remote_resources(directory: Path) -> list[str]:
    """The remote bases a kustomization pulls in, its local sub-kustomizations' included."""
    found: list[str] = []
    for entry in load_kustomization(directory).get("resources", []):
        if is_remote(entry):
            found.append(entry)
        elif (Path(directory) / entry).is_dir():
            found.extend(remote_resources(Path(directory) / entry))
    return found


def compose(directory: Path = LOSSKIT_KUSTOMIZATION, *, skip_remote: bool = False) -> list[dict]:
    """Render a kustomization in Python (no binary, no network)."""
    directory = Path(directory)
    kustomization = load_kustomization(directory)
    unsupported = sorted(set(kustomization) - _SUPPORTED_KEYS)
    if unsupported:
        raise RenderError(f"{directory}: the Python renderer does not support {unsupported}")

    objects: list[dict] = []
    for entry in kustomization.get("resources", []):
        if is_remote(entry):
            if skip_remote:
                continue
            raise RenderError(f"{directory}: {entry} is remote; render it with kustomize")
        path = directory / entry
        if path.is_dir():
            objects.extend(compose(path, skip_remote=skip_remote))
        elif path.is_file():
            objects.extend(copy.deepcopy(load_documents(path)))
        else:
            raise RenderError(f"{directory}: resource {entry} does not exist")

    namespace = kustomization.get("namespace")
    if namespace:
        _set_namespace(objects, namespace)
    for spec in kustomization.get("labels", []):
        if spec.get("includeSelectors") or spec.get("includeTemplates") or spec.get("fields"):
            raise RenderError(f"{directory}: labels with selectors/templates/fields: use kustomize")
        for obj in objects:
            obj.setdefault("metadata", {}).setdefault("labels", {}).update(spec["pairs"])
    if kustomization.get("commonLabels"):
        for obj in objects:
            if obj.get("kind") in _SELECTOR_KINDS:
                raise RenderError(f"{directory}: commonLabels on a {obj['kind']}: use kustomize")
            labels = obj.setdefault("metadata", {}).setdefault("labels", {})
            labels.update(kustomization["commonLabels"])
    if kustomization.get("commonAnnotations"):
        for obj in objects:
            annotations = obj.setdefault("metadata", {}).setdefault("annotations", {})
            annotations.update(kustomization["commonAnnotations"])

    seen: set[tuple[str, str, str, str]] = set()
    for obj in objects:
        key = object_key(obj)
        if key in seen:
            raise RenderError(f"{directory}: {key} is defined twice")
        seen.add(key)
    return objects


def _set_namespace(objects: list[dict], namespace: str) -> None:
    """kustomize's namespace transformer: namespaced objects move to `namespace`, and binding
    subjects that name a ServiceAccount of this build follow it (other subjects stay)."""
    moved = {
        (o["metadata"]["name"], o["metadata"].get("namespace"))
        for o in objects
        if o.get("kind") == "ServiceAccount"
    }
    for obj in objects:
        if obj.get("kind") not in CLUSTER_SCOPED_KINDS:
            obj.setdefault("metadata", {})["namespace"] = namespace
    for obj in objects:
        if obj.get("kind") not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        for subject in obj.get("subjects", []):
            if subject.get("kind") != "ServiceAccount":
                continue
            if (subject.get("name"), subject.get("namespace")) in moved:
                subject["namespace"] = namespace


def object_key(obj: dict) -> tuple[str, str, str, str]:
    metadata = obj.get("metadata", {})
    return (
        obj.get("apiVersion", ""),
        obj.get("kind", ""),
        metadata.get("namespace", ""),
        metadata.get("name", ""),
    )


def kustomize_command(directory: Path) -> list[str] | None:
    """The binary command that builds `directory`, or None when neither tool is on PATH."""
    if shutil.which("kustomize"):
        return ["kustomize", "build", str(directory)]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize", str(directory)]
    return None


def build_with_binary(directory: Path, timeout: float = 120) -> list[dict]:
    command = kustomize_command(directory)
    if command is None:
        raise RenderError("neither kustomize nor kubectl is on PATH")
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RenderError(f"{' '.join(command)} failed:\n{done.stderr}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc is not None]


def render(directory: Path = LOSSKIT_KUSTOMIZATION, *, prefer_binary: bool = True) -> list[dict]:
    """Render with kustomize/kubectl when available, else with `compose()`."""
    if prefer_binary and kustomize_command(directory) is not None:
        return build_with_binary(directory)
    return compose(directory)


# --- the GPU node pool -----------------------------------------------------------------

# `NAME="${NAME:-default}"`, the form gke-node-pool.sh declares each overridable setting in.
_DEFAULT_RE = re.compile(
    r'^[ \t]*(?:export[ \t]+)?([A-Z][A-Z0-9_]*)="\$\{\1:-([^}]*)\}"[ \t]*(?:#.*)?$', re.M
)


def script_defaults(path: Path = NODE_POOL_SCRIPT) -> dict[str, str]:
    """The default of every `NAME="${NAME:-default}"` setting in a shell script."""
    return dict(_DEFAULT_RE.findall(Path(path).read_text()))


def parse_taint(text: str) -> dict[str, str]:
    """`key=value:Effect` (or `key:Effect`) as a Kubernetes taint."""
    match = re.fullmatch(r"([^=:\s]+)(?:=([^:\s]*))?:(NoSchedule|PreferNoSchedule|NoExecute)", text)
    if not match:
        raise ValueError(f"not a taint: {text!r}")
    key, value, effect = match.groups()
    taint = {"key": key, "effect": effect}
    if value:
        taint["value"] = value
    return taint


def parse_label(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"not a label: {text!r}")
    return key, value


def node_pool_spec(path: Path = NODE_POOL_SCRIPT) -> dict[str, Any]:
    """What the GPU nodes made by gke-node-pool.sh (with its defaults) look like to Kubernetes.

    {"labels": {...}, "taints": [{"key", "value", "effect"}], "accelerator": {"type", "count"}}

    `labels` holds the ones the script sets (--node-labels) plus the accelerator label GKE
    adds from --accelerator type; a pod scheduled there must select a subset of `labels`
    and tolerate every taint in `taints` (see `selects` and `tolerates`).
    """
    defaults = script_defaults(path)
    labels = dict(parse_label(item) for item in _split(defaults["NODE_LABELS"]))
    labels[GKE_ACCELERATOR_LABEL] = defaults["GPU_TYPE"]
    return {
        "labels": labels,
        "taints": [parse_taint(item) for item in _split(defaults["NODE_TAINTS"])],
        "accelerator": {"type": defaults["GPU_TYPE"], "count": int(defaults["GPU_COUNT"])},
    }


def _split(csv: str) -> list[str]:
    return [item.strip() for item in csv.split(",") if item.strip()]


def tolerates(toleration: dict[str, Any], taint: dict[str, Any]) -> bool:
    """Kubernetes' rule for whether `toleration` tolerates `taint`."""
    if toleration.get("effect") and toleration["effect"] != taint["effect"]:
        return False
    operator = toleration.get("operator", "Equal")
    if not toleration.get("key"):
        return operator == "Exists"  # an empty key with Exists tolerates everything
    if toleration["key"] != taint["key"]:
        return False
    if operator == "Exists":
        return True
    return operator == "Equal" and toleration.get("value", "") == taint.get("value", "")


def tolerates_all(tolerations: Iterable[dict[str, Any]], taints: Iterable[dict[str, Any]]) -> bool:
    tolerations = list(tolerations)
    return all(any(tolerates(t, taint) for t in tolerations) for taint in taints)


def selects(node_selector: dict[str, str], labels: dict[str, str]) -> bool:
    """Whether a nodeSelector matches a node with `labels`."""
    return all(labels.get(key) == value for key, value in node_selector.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.render", description=__doc__.split("\n")[0]
    )
    parser.add_argument("directories", nargs="*", type=Path, default=[LOSSKIT_KUSTOMIZATION])
    parser.add_argument("--python", action="store_true", help="never use kustomize/kubectl")
    parser.add_argument("--node-pool-spec", action="store_true", help="print node_pool_spec()")
    args = parser.parse_args(argv)
    if args.node_pool_spec:
        print(json.dumps(node_pool_spec(), indent=2))
        return 0
    objects = []
    try:
        for directory in args.directories:
            objects.extend(render(directory, prefer_binary=not args.python))
    except (RenderError, subprocess.TimeoutExpired) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    sys.stdout.write(yaml.safe_dump_all(objects, sort_keys=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
