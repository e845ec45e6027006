"""components.spec: the task spec validates, hints the nearest key, and derives our names.

TF-free: nothing here imports TensorFlow (the last test makes sure).
"""

import copy
import re
import subprocess
import sys
from pathlib import Path

import pytest

from components import spec as spec_lib
from components.spec import FeatureNames, SpecError

SPECS = sorted((Path(__file__).parents[2] / "pipelines" / "specs").glob("*.yaml"))
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def classification(**overrides) -> dict:
    return {
        "name": "t",
        "kind": "classification",
        "label": {"column": "species"},
        "features": {"numeric": ["bill"], "categorical": ["island"]},
        **overrides,
    }


def multitask(**overrides) -> dict:
    return {
        "name": "t",
        "kind": "multitask",
        "heads": [
            {"name": "species", "kind": "classification", "column": "species"},
            {"name": "body_mass", "kind": "regression", "column": "body_mass_g"},
        ],
        "features": {"numeric": ["bill"]},
        **overrides,
    }


def refused(raw, match):
    with pytest.raises(SpecError, match=match):
        spec_lib.parse(raw)


def test_shipped_specs_exist():
    assert {path.stem for path in SPECS} == {
        "correlation",
        "multilabel",
        "multitask",
        "penguins",
        "tagging",
    }


@pytest.mark.parametrize("path", SPECS, ids=lambda path: path.stem)
def test_every_shipped_spec_loads_and_round_trips(path):
    spec = spec_lib.load(str(path))
    assert spec.name == path.stem
    # What the pipeline hands the components (custom_config) parses back to the same spec.
    assert spec_lib.parse(spec.model_dump()) == spec
    names = FeatureNames.of(spec)
    assert all(NAME.match(name) for name in names.inputs)
    if spec.label is not None:
        assert spec.label.column not in spec.features.columns


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(SpecError, match="no such spec file"):
        spec_lib.load(str(tmp_path / "missing.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(SpecError, match=r"bad\.yaml: not valid YAML"):
        spec_lib.load(str(bad))
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(SpecError, match="a task spec is a mapping"):
        spec_lib.load(str(listing))


def test_relative_data_becomes_absolute(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(
        "name: t\nkind: classification\ndata: data/penguins.csv\nlabel: {column: species}\n"
        "features: {numeric: [bill]}\n"
    )
    assert spec_lib.load(str(path)).data == str(tmp_path / "data" / "penguins.csv")


@pytest.mark.parametrize(
    "raw, nearest",
    [
        (classification(label={"colum": "species"}), "label.column"),
        (classification(balancr={}), "balancer"),
        (classification(trainer={"epoch": 3}), "trainer.epochs"),
        (classification(loss={"nme": "mse"}), "loss.name"),
        (multitask(heads=[{"name": "a", "kind": "regression", "colum": "y"}]), "heads.0.column"),
        (
            classification(eval={"metrics": [{"class_nam": "Precision"}]}),
            "eval.metrics.0.class_name",
        ),
        # A key under a dict of the user's keys (a metric, a head): the dict key is no field.
        (classification(eval={"thresholds": {"auc": {"mn": 0.9}}}), "eval.thresholds.auc.min"),
        (
            multitask(balancer={"warmup": {"body_mass": {"strt": 0.1}}}),
            "balancer.warmup.body_mass.start",
        ),
    ],
)
def test_unknown_key_names_the_nearest_valid_key(raw, nearest):
    refused(raw, f"did you mean '{re.escape(nearest)}'")


def test_missing_keys_and_bad_values_are_named():
    raw = classification()
    del raw["label"]["column"]
    refused(raw, "missing key label.column")
    refused(classification(kind="classifcation"), r"kind: Input should be 'classification'")
    refused(classification(trainer={"epochs": 0}), "trainer.epochs")
    refused(classification(label={"column": "y", "class_weight": "focal"}), "label.class_weight")
    refused(classification(name="Has Spaces"), "must be lower-case")
    refused(classification(model={"family": "mlp", "builder": "a.b"}), "`family` or `builder`")
    refused(classification(model={"builder": "build_model"}), "must be a dotted path")


def test_sequence_settings_are_checked():
    raw = {
        "name": "t",
        "kind": "tagging",
        "label": {"column": "tags"},
        "features": {"tokens": ["tokens"]},
    }
    spec_lib.parse(raw)
    refused({**raw, "sequence": {"max_length": 0}}, r"sequence\.max_length")
    refused({**raw, "sequence": {"max_length_quantile": 1.0}}, r"sequence\.max_length_quantile")
    refused({**raw, "sequence": {"length_buckets": [20, 10]}}, "length_buckets must be increasing")
    refused({**raw, "features": {"tokens": ["a", "b"]}}, "exactly one features.tokens")


def test_kind_rules():
    refused(classification(label=None), "kind classification needs `label`")
    refused(classification(features={"tokens": ["t"]}), "needs features.numeric")
    refused(
        {**classification(), "kind": "multilabel", "label": {"column": "labels"}},
        "needs label.num_labels or label.classes",
    )
    refused(
        classification(heads=multitask()["heads"]),
        "`heads` is for kind multitask",
    )
    refused(classification(eval={"slices": ["length_bucket"]}), "sequence kinds only")


def test_a_label_column_listed_as_a_feature_is_refused():
    refused(
        classification(features={"numeric": ["bill", "species"]}),
        r"label column\(s\) \['species'\] are also features",
    )
    raw = multitask(features={"numeric": ["bill", "body_mass_g"]})
    refused(raw, r"\['body_mass_g'\] are also features")
    refused(classification(features={"numeric": ["bill", "bill"]}), "more than once")


def test_threshold_on_an_unknown_metric_names_the_nearest():
    refused(
        classification(eval={"thresholds": {"acuracy": {"min": 0.9}}}),
        "unknown eval.thresholds metric 'acuracy'; did you mean 'accuracy'",
    )
    refused(
        multitask(eval={"thresholds": {"species/acuracy": {"min": 0.9}}}),
        "did you mean 'species/accuracy'",
    )
    refused(classification(eval={"thresholds": {"auc": {}}}), "sets none of min, max")
    # An extra metric's direction is unknown: max_worse needs exactly one of min or max.
    extra = {"metrics": ["Precision"], "thresholds": {"precision": {"max_worse": 0.1}}}
    refused(classification(eval=extra), "set exactly one of min")
    extra["thresholds"]["precision"]["min"] = 0.5
    spec = spec_lib.parse(classification(eval=extra))
    assert spec_lib.higher_is_better(spec, "precision") is True
    assert spec_lib.higher_is_better(spec, "auc") is True


def test_multitask_rules():
    spec_lib.parse(multitask())
    refused(multitask(heads=[]), "kind multitask needs `heads`")
    refused(multitask(label={"column": "y"}), "not `label`/`loss`")
    refused(multitask(loss="mse"), "not `label`/`loss`")
    heads = multitask()["heads"]
    refused(multitask(heads=[heads[0], {**heads[1], "name": "species"}]), "distinct names")
    refused(multitask(heads=[{**heads[0], "name": "1st"}]), "must start with a letter")
    # fixed: a weight for every head, no more, no fewer.
    refused(
        multitask(balancer={"method": "fixed", "weights": {"species": 1.0}}),
        r"fixed needs `weights` for each head: \['species', 'body_mass'\]",
    )
    refused(multitask(balancer={"method": "fixed"}), "fixed needs `weights`")
    spec_lib.parse(
        multitask(balancer={"method": "fixed", "weights": {"species": 1, "body_mass": 2}})
    )
    # alpha balances exactly two heads.
    third = {"name": "year", "kind": "regression", "column": "year"}
    refused(multitask(heads=[*heads, third], balancer={"method": "alpha"}), "exactly two heads")
    spec_lib.parse(multitask(balancer={"method": "alpha"}))
    # warmup names a head.
    refused(
        multitask(balancer={"warmup": {"bodymass": {}}}),
        "unknown balancer.warmup head 'bodymass'; did you mean 'body_mass'",
    )
    spec = spec_lib.parse(multitask(balancer={"warmup": {"body_mass": {"start": 0.2}}}))
    assert spec.balancer.warmup["body_mass"].epochs == 3
    assert spec.head_names() == ["species", "body_mass"]
    assert spec.label_columns == ["species", "body_mass_g"]


@pytest.mark.parametrize(
    "columns",
    [
        ["a b", "a/b", "a.b", "1x"],
        ["a_b", "a b", "a_b_2", "a-b"],
        ["sepal length (cm)", "8x8/r0.c0", "label", "mask", "", "é"],
    ],
)
def test_feature_names_are_valid_and_distinct_for_awkward_columns(columns):
    spec = spec_lib.parse(classification(label={"column": "y"}, features={"numeric": columns}))
    names = FeatureNames.of(spec)
    assert list(names.base) == columns
    for group in (names.base.values(), names.numeric.values()):
        assert len(set(group)) == len(columns)
        assert all(NAME.match(name) for name in group), group
    # Our own outputs cannot collide with a feature's.
    ours = {spec_lib.LABEL, spec_lib.EXAMPLE_WEIGHT, spec_lib.MASK, spec_lib.LENGTH}
    assert not ours & set(names.inputs)
    assert names.numeric == {c: f"x_{names.base[c]}" for c in columns}


def test_feature_names_by_role():
    spec = spec_lib.parse(
        classification(features={"numeric": ["bill length"], "categorical": ["island"]})
    )
    names = FeatureNames.of(spec)
    assert names.numeric == {"bill length": "x_bill_length"}
    assert names.categorical == {"island": "x_island"}
    assert names.vocab == {"island": "x_island"}
    assert names.inputs == ["x_bill_length", "x_island"]
    assert names.steps is None
    steps = spec_lib.parse(
        {
            "name": "t",
            "kind": "sequence_regression",
            "label": {"column": "y"},
            "features": {"steps": ["x0", "x 1"]},
        }
    )
    names = FeatureNames.of(steps)
    assert names.base == {"x0": "x0", "x 1": "x_1"}
    assert names.inputs == ["x_steps", spec_lib.MASK]
    assert spec_lib.tf_name("1x") == "c1x"
    assert spec_lib.head_label("") == spec_lib.LABEL
    assert spec_lib.head_label("species") == "species_label"
    assert spec_lib.head_vocab("") == "label"
    assert spec_lib.head_vocab("species") == "species_label"
    assert spec_lib.head_present("body_mass") == "body_mass_present"


def test_with_overrides():
    spec = spec_lib.parse(classification())
    changed = spec.with_overrides(epochs=3, batch_size=8, loss="mse", data="x.csv", seed=None)
    assert (changed.trainer.epochs, changed.trainer.batch_size) == (3, 8)
    assert changed.loss == spec_lib.LossSpec(name="mse")
    assert changed.data == "x.csv"
    assert spec.trainer.epochs == 20  # the original is untouched
    huber = spec.with_overrides(loss={"name": "Huber", "params": {"delta": 2.0}}).loss
    assert huber == spec_lib.LossSpec(name="Huber", params={"delta": 2.0})
    with pytest.raises(SpecError, match="unknown override 'epoch'"):
        spec.with_overrides(epoch=3)
    with pytest.raises(SpecError, match=r"overrides: trainer\.epochs"):
        spec.with_overrides(epochs=0)


def test_with_overrides_multitask_loss_is_per_head():
    spec = spec_lib.parse(multitask())
    changed = spec.with_overrides(loss={"body_mass": "Huber", "species": {"name": "bpmll"}})
    assert changed.heads[1].loss == spec_lib.LossSpec(name="Huber")
    assert changed.heads[0].loss == spec_lib.LossSpec(name="bpmll")
    assert spec.heads[1].loss is None
    for flat in ("mse", {"name": "mse"}):
        with pytest.raises(SpecError, match="one spec per head.*heads are species, body_mass"):
            spec.with_overrides(loss=flat)
    with pytest.raises(SpecError, match="unknown --loss head 'bodymass'; did you mean 'body_mass'"):
        spec.with_overrides(loss={"bodymass": "mse"})


def test_metric_names():
    spec = spec_lib.parse(
        classification(eval={"metrics": ["MeanAbsoluteError", {"class_name": "X", "name": "x2"}]})
    )
    assert spec_lib.metric_names(spec) == {
        "accuracy": True,
        "auc": True,
        "pr_auc": True,
        "mean_absolute_error": None,
        "x2": None,
    }
    heads = spec_lib.parse(
        multitask(eval={"metrics": [{"class_name": "Recall", "head": "species"}]})
    )
    assert spec_lib.metric_names(heads) == {
        "species/accuracy": True,
        "species/auc": True,
        "species/pr_auc": True,
        "body_mass/mean_squared_error": False,
        "body_mass/mean_absolute_error": False,
        "species/recall": None,
    }
    for path in SPECS:
        spec = spec_lib.load(str(path))
        assert set(spec.eval.thresholds) <= set(spec_lib.metric_names(spec))


def test_costs_by_class_names_become_the_matrix_in_class_order():
    label = {"column": "species", "classes": ["Adelie", "Chinstrap", "Gentoo"]}
    costs = {"Chinstrap": {"Adelie": 5, "Gentoo": 1}, "Gentoo": {"Adelie": 0.5}}
    spec = spec_lib.parse(classification(label={**label, "costs": costs}))
    assert spec.label.cost_matrix() == [[0, 0, 0], [5, 0, 1], [0.5, 0, 0]]
    assert spec_lib.metric_names(spec)["decision_cost"] is False
    assert spec_lib.metric_names(spec)["cost_aware_decision_cost"] is False
    # Integer classes are named by their values, as YAML keys or as strings.
    ints = {"column": "y", "classes": [3, 7], "costs": {7: {"3": 2}}}
    assert spec_lib.parse(classification(label=ints)).label.cost_matrix() == [[0, 0], [2, 0]]
    # Classes still unknown (losskit run fills them in): names are checked once they are.
    unresolved = spec_lib.parse(classification(label={"column": "species", "costs": costs}))
    with pytest.raises(ValueError, match="label.classes must be known"):
        unresolved.label.cost_matrix()
    assert spec_lib.parse(classification()).label.cost_matrix() is None


@pytest.mark.parametrize(
    "costs, match",
    [
        (
            {"Chinstap": {"Adelie": 5}},
            "unknown label.costs class 'Chinstap'; did you mean 'Chinstrap'",
        ),
        (
            {"Chinstrap": {"Adelie": -1}},
            r"label.costs.Chinstrap.Adelie.*greater than or equal to 0",
        ),
        ({"Gentoo": {"Gentoo": 1}}, "label.costs.Gentoo.Gentoo: a right decision costs nothing"),
        ({"Gentoo": {"Adelei": 1}}, "unknown label.costs.Gentoo class 'Adelei'"),
    ],
)
def test_bad_costs_name_the_key(costs, match):
    label = {"column": "species", "classes": ["Adelie", "Chinstrap", "Gentoo"], "costs": costs}
    refused(classification(label=label), match)


def test_dynamic_balancers_and_their_params():
    for method, params in (
        ("dwa", {"temperature": 1.0}),
        ("gradnorm", {"alpha": 0.5}),
        ("famo", {"learning_rate": 0.01, "gamma": 0.0}),
    ):
        spec = spec_lib.parse(multitask(balancer={"method": method, "params": params}))
        assert (spec.balancer.method, spec.balancer.params) == (method, params)
    refused(
        multitask(balancer={"method": "dwa", "params": {"temprature": 1.0}}),
        "balancer.params.temprature: balancer dwa takes temperature; did you mean 'temperature'",
    )
    refused(
        multitask(balancer={"method": "uncertainty", "params": {"alpha": 1.0}}),
        "balancer.params.alpha: balancer uncertainty takes no params",
    )
    one_head = multitask(balancer={"method": "famo"})
    one_head["heads"] = one_head["heads"][:1]
    refused(one_head, "balancer.method famo balances two or more heads")


def test_costs_are_for_classification_only():
    refused(
        {
            "name": "t",
            "kind": "tagging",
            "label": {"column": "tags", "costs": {"a": {"b": 1}}},
            "features": {"tokens": ["tokens"]},
        },
        "label.costs is for kind classification, not tagging",
    )


def test_defaults_derived_from_the_kind():
    spec = spec_lib.parse(classification())
    assert spec.model_family == "mlp"
    assert not spec.is_sequence
    assert spec.columns == ["bill", "island", "species"]
    raw = copy.deepcopy(classification(eval={"slices": ["island", "sex"]}))
    assert spec_lib.parse(raw).columns == ["bill", "island", "species", "sex"]
    tagging = spec_lib.parse(
        {
            "name": "t",
            "kind": "tagging",
            "label": {"column": "tags", "classes": [0, 1]},
            "features": {"tokens": ["tokens"]},
            "eval": {"slices": ["length_bucket"]},
        }
    )
    assert tagging.model_family == "bigru" and tagging.is_sequence
    assert tagging.columns == ["tokens", "tags"]
    assert tagging.label.class_names == ["0", "1"]


def test_spec_module_does_not_import_tensorflow():
    code = (
        "import sys; from components import spec; "
        "spec.load('pipelines/specs/penguins.yaml'); "
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'"
    )
    root = Path(__file__).parents[2]
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)
