"""pipelines.names_check: loss and builder names checked without importing TensorFlow."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]

# Runs in a fresh interpreter: prints {case: problems(spec)} and fails if TensorFlow loaded.
SCRIPT = """
import json, sys
from components import spec as spec_lib
from pipelines import names_check

def single(loss=None, **extra):
    raw = {
        "name": "t",
        "kind": "classification",
        "label": {"column": "species"},
        "features": {"numeric": ["bill"]},
        **extra,
    }
    if loss is not None:
        raw["loss"] = loss
    return spec_lib.parse(raw)

def multitask(*losses):
    heads = [
        {"name": "species", "kind": "classification", "column": "species"},
        {"name": "body_mass", "kind": "regression", "column": "body_mass_g"},
    ]
    for head, loss in zip(heads, losses):
        head["loss"] = loss
    return spec_lib.parse(
        {"name": "t", "kind": "multitask", "heads": heads, "features": {"numeric": ["bill"]}}
    )

cases = {
    "default": single(),
    "misspelt": single("ClassWeightedCrossentropi"),
    "nothing_near": single("zzzzqqqq"),
    "alias": single("class_weighted_ce"),
    "losskit": single("BPMLLLoss"),
    "registered": single("losskit>BPMLLLoss"),
    "other_registered": single("mypackage>MyLoss"),
    "keras_function": single("mse"),
    "keras_class": single({"name": "Huber", "params": {"delta": 2.0}}),
    "keras_sparse": single("sparse_categorical_crossentropy"),
    "dotted_missing": single("no_such_package.losses.MyLoss"),
    "head": multitask({"name": "ClassWeightedCrossentropy"}, "Hubber"),
    "builder_missing": single(model={"builder": "no_such_package.models.build_model"}),
    "builder_ok": single(model={"builder": "components.trainer.models.mlp"}),
}
for path in ("penguins", "multitask", "tagging", "correlation", "multilabel"):
    cases[path] = spec_lib.load(f"pipelines/specs/{path}.yaml")
print(json.dumps({name: names_check.problems(spec) for name, spec in cases.items()}))
assert "tensorflow" not in sys.modules, "names_check imported tensorflow"
"""


def test_problems_without_tensorflow():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])

    ok = [
        "default",
        "alias",
        "losskit",
        "registered",
        "other_registered",  # resolved for real by `losskit run`, before any component
        "keras_function",
        "keras_class",
        "keras_sparse",
        "builder_ok",
        "penguins",
        "multitask",
        "tagging",
        "correlation",
        "multilabel",
    ]
    for case in ok:
        assert found[case] == [], case

    [misspelt] = found["misspelt"]
    assert misspelt.startswith("loss: unknown loss 'ClassWeightedCrossentropi'")
    assert "did you mean 'ClassWeightedCrossentropy'?" in misspelt
    [nothing_near] = found["nothing_near"]
    assert "unknown loss 'zzzzqqqq'" in nothing_near and "did you mean" not in nothing_near

    [dotted] = found["dotted_missing"]
    assert dotted == (
        "loss: 'no_such_package.losses.MyLoss' does not import "
        "(no module 'no_such_package.losses')"
    )
    [head] = found["head"]
    assert head.startswith("heads.1.loss: unknown loss 'Hubber'; did you mean 'Huber'?")
    assert found["builder_missing"] == [
        "model.builder: 'no_such_package.models.build_model' does not import "
        "(no module 'no_such_package.models')"
    ]
