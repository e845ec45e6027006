"""The image definitions, read rather than built (no Docker engine here): Python 3.10, the
environment installed exactly from uv.lock, Keras 2, a non-root final user, no secrets, a
build context that holds what the Dockerfile copies, and tags that match kubeflow_defaults."""

import ast
import dataclasses
import fnmatch
import re
import shlex

import pytest
import tomli as tomllib  # tomllib is 3.11+; the project runs 3.10

from deploy import render
from pipelines import kubeflow_defaults as defaults

REPO_ROOT = render.REPO_ROOT
DOCKERFILES = {
    "cpu": render.DEPLOY_DIR / "Dockerfile",
    "gpu": render.DEPLOY_DIR / "Dockerfile.gpu",
}
TAGS = {"cpu": defaults.DEFAULT_IMAGE, "gpu": defaults.DEFAULT_GPU_IMAGE}
SECRET_NAME = re.compile(r"TOKEN|KEY|PASSWORD|PASSWD|SECRET|CREDENTIAL|AUTH", re.I)


@dataclasses.dataclass
class Instruction:
    command: str  # upper case: FROM, RUN, ...
    args: str  # the rest, continuation lines joined


@dataclasses.dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction]


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions of a Dockerfile: comments dropped, `\\` continuations joined."""
    instructions, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue  # comments are dropped, also between continuation lines
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        logical, pending = pending + stripped, ""
        command, _, args = logical.partition(" ")
        instructions.append(Instruction(command.upper(), args.strip()))
    assert not pending, "dangling line continuation"
    return instructions


def stages(instructions: list[Instruction]) -> list[Stage]:
    result = []
    for instruction in instructions:
        if instruction.command == "FROM":
            words = instruction.args.split()
            words = [w for w in words if not w.startswith("--platform")]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            result.append(Stage(words[0], name, []))
        else:
            assert result, f"{instruction.command} before the first FROM"
            result[-1].instructions.append(instruction)
    return result


def parse_env(args: str) -> dict[str, str]:
    words = shlex.split(args)
    if "=" not in words[0]:  # legacy `ENV KEY value`
        return {words[0]: " ".join(words[1:])}
    return dict(word.split("=", 1) for word in words)


def chain(all_stages: list[Stage], stage: Stage) -> list[Stage]:
    """`stage` and the stages it is built FROM, the oldest first."""
    by_name = {s.name: s for s in all_stages if s.name}
    result = [stage]
    while result[0].base in by_name:
        result.insert(0, by_name[result[0].base])
    return result


def effective_env(all_stages: list[Stage], stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for s in chain(all_stages, stage):
        for instruction in s.instructions:
            if instruction.command == "ENV":
                env.update(parse_env(instruction.args))
    return env


@pytest.fixture(params=sorted(DOCKERFILES), scope="module")
def variant(request):
    return request.param


@pytest.fixture(scope="module")
def dockerfile(variant):
    all_stages = stages(parse_dockerfile(DOCKERFILES[variant].read_text()))
    return variant, all_stages, all_stages[-1]


def _instructions(stage_list, command):
    return [i for s in stage_list for i in s.instructions if i.command == command]


def test_bases_are_pinned_python_3_10(dockerfile):
    variant, all_stages, final = dockerfile
    names = {s.name for s in all_stages if s.name}
    external = [s.base for s in all_stages if s.base not in names]
    assert external, "no base image"
    for base in external:
        assert ":" in base and not base.endswith(":latest"), base
        if variant == "cpu":
            assert re.fullmatch(r"python:3\.10\.\d+-slim-bookworm", base), base
        else:
            # CUDA 12.3 is what TensorFlow 2.16 is built against; Ubuntu 22.04's Python is 3.10.
            assert re.fullmatch(r"nvidia/cuda:12\.3\.\d+-runtime-ubuntu22\.04", base), base
    if variant == "gpu":
        runs = " ".join(i.args for i in _instructions(chain(all_stages, final), "RUN"))
        assert re.search(r"apt-get install\b.*\bpython3\.10\b", runs)
        # cuDNN 8.9, pinned: TF 2.16 loads libcudnn.so.8.
        assert re.search(r"\blibcudnn8=8\.9\.[\d.]+-1\+cuda12\.\d\b", runs)


def test_installs_exactly_uv_lock(dockerfile):
    _, all_stages, _ = dockerfile
    runs = [i.args for i in _instructions(all_stages, "RUN")]
    syncs = [r for r in runs if re.search(r"\buv sync\b", r)]
    assert syncs, "no `uv sync`"
    for run in syncs:
        for flag in ("--frozen", "--no-dev", "--no-editable"):
            assert flag in run.split(), f"{flag} missing: {run}"
    assert not [r for r in runs if re.search(r"\buv (lock|add|pip)\b", r)]
    # pip installs uv (pinned), nothing else.
    for run in runs:
        for spec in re.findall(r"pip install\s+(?:--\S+\s+)*(\S+)", run):
            assert re.fullmatch(r'"?uv==\$\{UV_VERSION\}"?|"?uv==\d+\.\d+\.\d+"?', spec), run
    uv_version = [
        parse_arg(i.args)
        for i in _instructions(all_stages, "ARG")
        if i.args.startswith("UV_VERSION")
    ]
    assert uv_version and re.fullmatch(r"\d+\.\d+\.\d+", uv_version[0][1])


def parse_arg(args: str) -> tuple[str, str | None]:
    name, _, default = args.partition("=")
    return name.strip(), default.strip() or None


def test_both_images_use_the_same_uv():
    versions = {
        variant: {
            parse_arg(i.args)[1]
            for i in parse_dockerfile(path.read_text())
            if i.command == "ARG" and i.args.startswith("UV_VERSION")
        }
        for variant, path in DOCKERFILES.items()
    }
    assert len(set.union(*versions.values())) == 1, versions


def test_final_user_is_numeric_and_not_root(dockerfile):
    _, all_stages, final = dockerfile
    users = [i.args for i in final.instructions if i.command == "USER"]
    assert users, "the final stage sets no USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0, users[-1]
    assert not gid or (gid.isdigit() and int(gid) != 0), users[-1]
    runs = " ".join(i.args for i in _instructions(chain(all_stages, final), "RUN"))
    assert re.search(rf"useradd\b.*--uid {uid}\b", runs), "the UID has no passwd entry"
    # KFP's launcher stages artifacts under /gcs, /minio, /s3: they must be the user's.
    assert re.search(rf"install -d -o {uid} -g \d+ -m 0755 /gcs /minio /s3", runs)


def test_keras_2_and_the_project_environment_are_on(dockerfile):
    _, all_stages, final = dockerfile
    env = effective_env(all_stages, final)
    assert env["TF_USE_LEGACY_KERAS"] == "1"
    build_env = next(
        effective_env(all_stages, s)
        for s in all_stages
        if "UV_PROJECT_ENVIRONMENT" in effective_env(all_stages, s)
    )
    venv = build_env["UV_PROJECT_ENVIRONMENT"]
    assert env["PATH"].split(":")[0] == f"{venv}/bin"
    assert env["VIRTUAL_ENV"] == venv
    copies = [i.args.split() for i in final.instructions if i.command == "COPY"]
    assert ["--from=build", venv, venv] in copies


def test_the_build_checks_the_executor_imports_as_the_final_user(dockerfile):
    _, _, final = dockerfile
    commands = [i.command for i in final.instructions]
    last_user = len(commands) - 1 - commands[::-1].index("USER")
    checks = [
        i.args
        for i in final.instructions[last_user:]
        if i.command == "RUN" and "kubeflow_v2_run_executor" in i.args
    ]
    assert checks and "tf_keras" in checks[0]
    for package in ("losses", "components", "pipelines"):
        assert re.search(rf"\b{package}\b", checks[0])


def _image_data_root() -> str:
    """pipelines.kubeflow.IMAGE_DATA_ROOT, read without importing TFX."""
    if hasattr(defaults, "IMAGE_DATA_ROOT"):
        return defaults.IMAGE_DATA_ROOT
    tree = ast.parse((REPO_ROOT / "pipelines" / "kubeflow.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [
            t.id for t in node.targets if isinstance(t, ast.Name)
        ] == ["IMAGE_DATA_ROOT"]:
            return ast.literal_eval(node.value)
    pytest.fail("pipelines/kubeflow.py no longer defines IMAGE_DATA_ROOT")


def test_the_image_ships_the_embedded_data_where_compile_looks(dockerfile):
    _, all_stages, final = dockerfile
    root = _image_data_root()
    writes = [
        i.args
        for i in _instructions(all_stages, "RUN")
        if "write_default" in i.args and "DATASETS" in i.args
    ]
    assert writes and f"'{root}/'" in writes[0]
    copies = [i.args.split() for i in final.instructions if i.command == "COPY"]
    assert ["--from=build", root, root] in copies


def test_no_secrets_in_build_args_or_environment(dockerfile):
    _, all_stages, _ = dockerfile
    for s in all_stages:
        for instruction in s.instructions:
            if instruction.command == "ARG":
                names = [parse_arg(instruction.args)[0]]
            elif instruction.command == "ENV":
                names = list(parse_env(instruction.args))
            else:
                continue
            for name in names:
                assert not SECRET_NAME.search(name), f"{instruction.command} {name}"
            assert "GOOGLE_APPLICATION_CREDENTIALS" not in instruction.args


def _copy_sources(all_stages):
    """Build-context paths COPY/ADD read (not those copied from another stage), `./` dropped."""
    for instruction in _instructions(all_stages, "COPY") + _instructions(all_stages, "ADD"):
        words = instruction.args.split()
        if any(w.startswith("--from") for w in words):
            continue
        for source in [w for w in words if not w.startswith("--")][:-1]:
            yield source.removeprefix("./")


def _ignored(path: str, patterns: list[str]) -> bool:
    """.dockerignore semantics for a top-level path: the last matching pattern decides."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatchcase(path, pattern) or path.startswith(pattern + "/"):
            ignored = not negate
    return ignored


def test_copied_sources_exist_and_survive_the_dockerignore(dockerfile, variant):
    _, all_stages, _ = dockerfile
    ignore_file = DOCKERFILES[variant].with_name(DOCKERFILES[variant].name + ".dockerignore")
    patterns = [
        line.strip()
        for line in ignore_file.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert not _ignored("pyproject.toml", patterns)
    assert (
        _ignored(".venv", patterns) and _ignored("runs", patterns) and _ignored("tests", patterns)
    )
    sources = list(_copy_sources(all_stages))
    for source in sources:
        assert (REPO_ROOT / source).exists(), source
        assert not _ignored(source, patterns), f"{source} is excluded from the build context"
        # Nothing that could be a credential is copied in.
        assert not re.search(r"\.env$|\.pem$|key.*\.json$|\.netrc|kube/?config|id_rsa", source)
    # Everything the project build needs: pyproject's readme and packages.
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    needed = {"pyproject.toml", "uv.lock", project["project"]["readme"]}
    needed |= {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert needed <= set(sources)


def test_documented_tags_are_the_defaults():
    readme = (render.DEPLOY_DIR / "README.md").read_text()
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    for variant, path in DOCKERFILES.items():
        relative = path.relative_to(REPO_ROOT).as_posix()
        pattern = rf"docker build -f {re.escape(relative)} -t (\S+) \."
        documented = re.findall(pattern, readme) + re.findall(pattern, path.read_text())
        assert documented, f"no `docker build -f {relative} -t ...` in deploy/README.md"
        for tag in documented:
            assert tag.split("/")[-1] == TAGS[variant], tag
        labels = " ".join(
            i.args for i in parse_dockerfile(path.read_text()) if i.command == "LABEL"
        )
        version = re.search(r'org\.opencontainers\.image\.version="([^"]+)"', labels)[1]
        assert version == TAGS[variant].split(":", 1)[1]
    # The image tag is the package version.
    assert defaults.DEFAULT_IMAGE.split(":", 1)[1] == project["project"]["version"]
    assert defaults.DEFAULT_GPU_IMAGE == defaults.DEFAULT_IMAGE + "-gpu"


def test_the_parser_reads_what_docker_reads():
    parsed = parse_dockerfile(
        "# syntax=docker/dockerfile:1\nFROM a:1 AS x\nRUN one \\\n  # note\n  two\n"
        'ENV A=1 B="two words"\nENV C 3\nFROM x\nUSER 10:10\n'
    )
    assert [i.command for i in parsed] == ["FROM", "RUN", "ENV", "ENV", "FROM", "USER"]
    assert parsed[1].args == "one two"
    all_stages = stages(parsed)
    assert [(s.base, s.name) for s in all_stages] == [("a:1", "x"), ("x", None)]
    assert effective_env(all_stages, all_stages[1]) == {"A": "1", "B": "two words", "C": "3"}
    assert _ignored(".venv", ["*", "!losses/"]) and not _ignored("losses", ["*", "!losses/"])
