"""The Kubernetes manifests under deploy/: they render (Python composition, and kustomize
when a binary is there), validate against the Kubernetes OpenAPI schemas offline, agree with
pipelines/kubeflow_defaults.py, grant a run no more than it needs and pin the remote KFP
release."""

import copy
import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from deploy import render
from pipelines import kubeflow_defaults as defaults

# Oldest and newest Kubernetes minors this is meant for (GKE's supported range when written);
# kubernetes-validate ships the schemas, strict mode rejects unknown fields.
KUBERNETES_VERSIONS = ("1.29", "1.32")


@pytest.fixture(scope="module")
def local_objects():
    return render.compose(render.LOSSKIT_KUSTOMIZATION)


def _all_manifests():
    """(label, object) for every manifest deploy/ ships, rendered where it is a kustomization."""
    objects = [(f"losskit/{o['kind']}", o) for o in render.compose(render.LOSSKIT_KUSTOMIZATION)]
    for path in (render.ARTIFACT_SECRET_TEMPLATE, render.DEVICE_PLUGIN_MANIFEST):
        objects += [(f"{path.name}/{o['kind']}", o) for o in render.load_documents(path)]
    return objects


def _by_kind(objects, kind):
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(
    "label,obj", _all_manifests(), ids=[label for label, _ in _all_manifests()]
)
def test_manifest_validates_against_the_kubernetes_schema(label, obj, version):
    assert kubernetes_validate.validate(obj, version, strict=True) == version


def test_strict_validation_rejects_a_misspelt_field():
    (daemonset,) = render.load_documents(render.DEVICE_PLUGIN_MANIFEST)
    broken = copy.deepcopy(daemonset)
    broken["spec"]["template"]["spec"]["tolerationz"] = broken["spec"]["template"]["spec"].pop(
        "tolerations"
    )
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


def test_every_manifest_file_is_listed_or_a_template():
    listed = set(render.load_kustomization(render.LOSSKIT_KUSTOMIZATION)["resources"])
    for path in render.LOSSKIT_KUSTOMIZATION.glob("*.yaml"):
        if path.name in render.KUSTOMIZATION_FILENAMES:
            continue
        assert (path.name in listed) != path.name.endswith(".template.yaml"), path.name


def test_python_composition_matches_kustomize(local_objects):
    if render.kustomize_command(render.LOSSKIT_KUSTOMIZATION) is None:
        pytest.skip("neither kustomize nor kubectl on PATH")
    built = render.build_with_binary(render.LOSSKIT_KUSTOMIZATION)
    assert sorted(built, key=render.object_key) == sorted(local_objects, key=render.object_key)


def test_render_without_a_binary_is_the_python_composition(local_objects):
    assert render.render(render.LOSSKIT_KUSTOMIZATION, prefer_binary=False) == local_objects


def test_everything_lands_in_the_kfp_namespace_under_the_shared_names(local_objects):
    assert all(o["metadata"]["namespace"] == defaults.NAMESPACE for o in local_objects)
    assert all(
        o["metadata"]["labels"]["app.kubernetes.io/part-of"] == "tfx-losskit" for o in local_objects
    )
    # The namespace is KFP's: deleting our resources must never delete it.
    assert not [o for o in local_objects if o["kind"] == "Namespace"]
    account = _by_kind(local_objects, "ServiceAccount")
    assert account["metadata"]["name"] == defaults.RUN_SERVICE_ACCOUNT
    binding = _by_kind(local_objects, "RoleBinding")
    role = _by_kind(local_objects, "Role")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": defaults.RUN_SERVICE_ACCOUNT,
            "namespace": defaults.NAMESPACE,
        }
    ]


def test_the_run_role_grants_only_what_a_run_needs(local_objects):
    assert not [o for o in local_objects if o["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    rules = _by_kind(local_objects, "Role")["rules"]
    granted = {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert granted == {
        ("argoproj.io", "workflowtaskresults", "create"),
        ("argoproj.io", "workflowtaskresults", "patch"),
        ("", "configmaps", "get"),
        ("", "secrets", "get"),
    }
    for rule in rules:
        if rule["resources"] in (["secrets"], ["configmaps"]):
            # Named objects only, never every secret / config map of the namespace.
            assert rule["resourceNames"], rule
    secrets = next(r for r in rules if r["resources"] == ["secrets"])
    (template,) = render.load_documents(render.ARTIFACT_SECRET_TEMPLATE)
    assert template["metadata"]["name"] in secrets["resourceNames"]
    config_maps = next(r for r in rules if r["resources"] == ["configmaps"])
    assert config_maps["resourceNames"] == [
        _by_kind(local_objects, "ConfigMap")["metadata"]["name"]
    ]


def test_kfp_launcher_config_names_a_default_pipeline_root(local_objects):
    config = _by_kind(local_objects, "ConfigMap")
    assert config["metadata"]["name"] == "kfp-launcher"  # the name KFP looks up
    assert re.fullmatch(
        r"(minio|s3|gs)://[a-z0-9][a-z0-9.\-]+(/\S*)?", config["data"]["defaultPipelineRoot"]
    )


def test_the_artifact_secret_is_a_template_without_credentials(local_objects):
    (template,) = render.load_documents(render.ARTIFACT_SECRET_TEMPLATE)
    assert template["kind"] == "Secret"
    assert render.object_key(template) not in {render.object_key(o) for o in local_objects}
    assert "data" not in template  # nothing base64-encoded to hide a value in
    assert template["stringData"] and set(template["stringData"].values()) == {"REPLACE_ME"}


# Shapes of real credentials; none may appear anywhere under deploy/.
_CREDENTIAL_PATTERNS = [
    re.compile(r"AKIA[0-9A-Z]{16}"),  # AWS access key id
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r'"type":\s*"service_account"'),  # Google service account key file
    re.compile(r"ghp_[A-Za-z0-9]{36}"),  # GitHub token
    re.compile(r"minio123"),  # KFP's MinIO default, belongs in KFP's secret only
]


def test_no_credentials_anywhere_under_deploy():
    for path in render.DEPLOY_DIR.rglob("*"):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        text = path.read_text(errors="replace")
        for pattern in _CREDENTIAL_PATTERNS:
            assert not pattern.search(text), f"{path}: looks like a credential ({pattern.pattern})"


# --- the remote Kubeflow Pipelines release ----------------------------------------------


def _kustomizations():
    return sorted(
        path.parent
        for name in render.KUSTOMIZATION_FILENAMES
        for path in render.KUBEFLOW_DIR.rglob(name)
    )


def test_remote_bases_are_kubeflow_pipelines_pinned_to_kfp_version():
    remotes = [
        entry
        for d in _kustomizations()
        for entry in render.load_kustomization(d).get("resources", [])
        if render.is_remote(entry)
    ]
    assert len(remotes) == 2  # cluster-scoped resources, then the namespaced install
    for entry in remotes:
        match = re.fullmatch(
            r"(?:https://)?github\.com/kubeflow/pipelines/manifests/kustomize/(?P<path>[\w/\-]+)\?ref=(?P<ref>\S+)",
            entry,
        )
        assert match, entry
        assert match["ref"] == defaults.KFP_VERSION, entry
    paths = {re.search(r"kustomize/([\w/\-]+)\?", e)[1] for e in remotes}
    assert paths == {"cluster-scoped-resources", "env/platform-agnostic"}


def test_comments_name_the_same_kfp_version():
    for directory in _kustomizations():
        text = render.kustomization_file(directory).read_text()
        for version in re.findall(r"(?:KFP|Kubeflow Pipelines) (\d+\.\d+\.\d+)", text):
            assert version == defaults.KFP_VERSION, directory


def test_standalone_overlay_is_the_kfp_install_plus_the_local_resources(local_objects):
    overlay = render.STANDALONE_OVERLAY
    remotes = render.remote_resources(overlay)
    assert [r.endswith(f"env/platform-agnostic?ref={defaults.KFP_VERSION}") for r in remotes] == [
        True
    ]
    assert render.compose(overlay, skip_remote=True) == local_objects
    with pytest.raises(render.RenderError, match="remote"):
        render.compose(overlay)


def test_every_kustomization_entry_exists():
    for directory in _kustomizations():
        for entry in render.load_kustomization(directory).get("resources", []):
            if not render.is_remote(entry):
                assert (directory / entry).exists(), f"{directory}: {entry}"


# --- the Python renderer itself -------------------------------------------------------


def _write_kustomization(directory: Path, kustomization: dict, **files: dict) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    for name, obj in files.items():
        (directory / f"{name}.yaml").write_text(yaml.safe_dump(obj))
    return directory


def test_compose_applies_namespace_labels_and_binding_subjects(tmp_path):
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "b"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "r"},
        "subjects": [
            {"kind": "ServiceAccount", "name": "a"},
            {"kind": "ServiceAccount", "name": "c", "namespace": "elsewhere"},
            {"kind": "ServiceAccount", "name": "d"},
        ],
    }
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "a"}}
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m", "namespace": "x"}}
    _write_kustomization(
        tmp_path / "base",
        {"resources": ["binding.yaml", "account.yaml"]},
        binding=binding,
        account=account,
    )
    top = _write_kustomization(
        tmp_path / "top",
        {
            "namespace": "ns",
            "resources": ["../base", "config.yaml"],
            "labels": [{"pairs": {"team": "t"}}],
            "commonAnnotations": {"note": "rendered"},
        },
        config=config,
    )
    rendered_binding, rendered_account, rendered_config = render.compose(top)
    assert "namespace" not in rendered_binding["metadata"]  # cluster-scoped
    assert rendered_account["metadata"]["namespace"] == "ns"
    # Subjects follow a ServiceAccount of the build; the others stay as written (as kustomize).
    assert [s.get("namespace") for s in rendered_binding["subjects"]] == ["ns", "elsewhere", None]
    assert rendered_config["metadata"] == {
        "name": "m",
        "namespace": "ns",
        "labels": {"team": "t"},
        "annotations": {"note": "rendered"},
    }
    if render.kustomize_command(top) is not None:
        built = render.build_with_binary(top)
        assert sorted(built, key=render.object_key) == sorted(
            render.compose(top), key=render.object_key
        )


@pytest.mark.parametrize(
    "kustomization",
    [
        {"resources": [], "patches": [{"path": "p.yaml"}]},
        {"resources": [], "labels": [{"pairs": {"a": "b"}, "includeSelectors": True}]},
        {"resources": ["missing.yaml"]},
    ],
    ids=["patches", "label-selectors", "missing-resource"],
)
def test_compose_refuses_what_it_cannot_render_faithfully(tmp_path, kustomization):
    _write_kustomization(tmp_path, kustomization)
    with pytest.raises(render.RenderError):
        render.compose(tmp_path)


def test_compose_refuses_duplicates(tmp_path):
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m"}}
    _write_kustomization(tmp_path, {"resources": ["a.yaml", "b.yaml"]}, a=config, b=config)
    with pytest.raises(render.RenderError, match="twice"):
        render.compose(tmp_path)
