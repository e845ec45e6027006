"""pipelines.contracts: a task spec checked against its data, one line per failure."""

import pytest

from components import spec as spec_lib
from pipelines import contracts
from pipelines.contracts import DataError

PENGUIN_HEADER = ["species", "island", "bill length", "body_mass_g", "sex"]


def _rows(n=12):
    return [
        [
            "Adelie" if i % 2 else "Gentoo",
            "Biscoe" if i % 3 else "Dream",
            30 + i,
            3000 + 10 * i,
            "mf"[i % 2],
        ]
        for i in range(n)
    ]


def _spec(**overrides) -> spec_lib.TaskSpec:
    raw = {
        "name": "t",
        "kind": "classification",
        "label": {"column": "species"},
        "features": {"numeric": ["bill length", "body_mass_g"], "categorical": ["island"]},
        "eval": {"slices": ["island"]},
    }
    raw.update(overrides)
    return spec_lib.parse(raw)


def _tagging_spec(**overrides):
    raw = {
        "name": "t",
        "kind": "tagging",
        "label": {"column": "tags"},
        "features": {"tokens": ["tokens"]},
    }
    raw.update(overrides)
    return spec_lib.parse(raw)


def _sequence_spec():
    return spec_lib.parse(
        {
            "name": "t",
            "kind": "sequence_regression",
            "label": {"column": "y"},
            "features": {"steps": ["x0", "x1", "x2"]},
        }
    )


@pytest.fixture
def penguins(tmp_path, csv_file):
    return csv_file(tmp_path / "penguins.csv", PENGUIN_HEADER, _rows())


def test_a_good_spec_passes(penguins):
    report = contracts.check(_spec(), penguins)
    assert report.rows == 12 and report.files == [penguins] and report.fmt == "csv"
    assert report.warnings == []
    assert report.summary() == f"data OK: 12 rows in {penguins} (csv)"


def test_spec_data_and_the_override(tmp_path, penguins):
    assert contracts.check(_spec(data=penguins)).rows == 12
    with pytest.raises(DataError, match="other.csv: no such file"):
        contracts.check(_spec(data=penguins), str(tmp_path / "other.csv"))
    with pytest.raises(DataError, match="no data"):
        contracts.check(_spec())


def test_a_spec_file(tmp_path, penguins):
    path = tmp_path / "spec.yaml"
    path.write_text(
        "name: t\nkind: classification\ndata: penguins.csv\nlabel: {column: species}\n"
        "features: {numeric: [body_mass_g]}\n"
    )
    assert contracts.check(str(path)).rows == 12


def test_embedded_data_is_not_read():
    report = contracts.check(_spec(data="embedded:penguins"))
    assert report.embedded and not report.checked and report.rows == 0
    assert "embedded:penguins" in report.summary()


def test_a_missing_column_names_the_nearest(penguins):
    spec = _spec(features={"numeric": ["bill_length", "body_mass_g"]})
    with pytest.raises(DataError) as err:
        contracts.check(spec, penguins)
    assert str(err.value) == (
        f"{penguins}: no column 'bill_length' (features.numeric); did you mean 'bill length'? "
        "(columns: species, island, bill length, body_mass_g, sex)"
    )
    with pytest.raises(
        DataError, match=r"no column 'Island' \(eval.slices\); did you mean 'island'"
    ):
        contracts.check(_spec(eval={"slices": ["Island"]}), penguins)
    with pytest.raises(
        DataError, match=r"no column 'specie' \(label.column\); did you mean 'species'"
    ):
        contracts.check(_spec(label={"column": "specie"}), penguins)


def test_every_failure_is_reported_one_line_each(penguins):
    spec = _spec(features={"numeric": ["bill_lenght", "sex"], "categorical": ["islands"]})
    with pytest.raises(DataError) as err:
        contracts.check(spec, penguins)
    lines = str(err.value).splitlines()
    assert len(lines) == 3
    assert "'bill_lenght'" in lines[0] and "is not a number" in lines[1] and "'islands'" in lines[2]


def test_a_single_class_label(tmp_path, csv_file):
    rows = [["Adelie", *row[1:]] for row in _rows()]
    data = csv_file(tmp_path / "one.csv", PENGUIN_HEADER, rows)
    with pytest.raises(
        DataError, match=r"one.csv: label 'species' \(label.column\) has a single class 'Adelie'"
    ):
        contracts.check(_spec(), data)


def test_a_label_empty_everywhere(tmp_path, csv_file):
    rows = [["", *row[1:]] for row in _rows()]
    data = csv_file(tmp_path / "none.csv", PENGUIN_HEADER, rows)
    with pytest.raises(
        DataError, match=r"none.csv: column 'species' \(label.column\) is empty in every row"
    ):
        contracts.check(_spec(), data)


def test_a_feature_empty_in_every_row(tmp_path, csv_file):
    rows = [[*row[:3], "", row[4]] for row in _rows()]
    data = csv_file(tmp_path / "t.csv", PENGUIN_HEADER, rows)
    with pytest.raises(
        DataError, match=r"t.csv: column 'body_mass_g' \(features.numeric\) is empty in every row"
    ):
        contracts.check(_spec(), data)


def test_a_numeric_feature_that_is_not_a_number(tmp_path, csv_file):
    rows = _rows()
    rows[4][3] = "heavy"
    data = csv_file(tmp_path / "t.csv", PENGUIN_HEADER, rows)
    with pytest.raises(
        DataError,
        match=r"t.csv, row 6: column 'body_mass_g' \(features.numeric\) is not a number: 'heavy'$",
    ):
        contracts.check(_spec(), data)


def test_empty_labels_and_unknown_classes_are_warnings(tmp_path, csv_file):
    rows = _rows()
    rows[0][0] = rows[3][0] = ""
    rows[5][0] = "Chinstrap"
    data = csv_file(tmp_path / "t.csv", PENGUIN_HEADER, rows)
    report = contracts.check(
        _spec(label={"column": "species", "classes": ["Adelie", "Gentoo"]}), data
    )
    assert len(report.warnings) == 2
    assert "empty in 2 of 12 rows" in report.warnings[0]
    assert "outside its classes: 'Chinstrap'" in report.warnings[1]
    assert report.summary().splitlines()[1].startswith("warning: label 'species' is empty")


def test_unequal_tags_name_the_record(tmp_path, tfrecord, tagging_examples):
    examples = [dict(e) for e in tagging_examples]
    examples[7]["tags"] = examples[7]["tags"][:-1]
    data = tfrecord(tmp_path / "tags.tfrecord", examples)
    n = len(examples[7]["tokens"])
    with pytest.raises(
        DataError,
        match=rf"tags.tfrecord, record 7: 'tokens' has {n} values, 'tags' has {n - 1} \(tagging needs one tag per token\)",
    ):
        contracts.check(_tagging_spec(), data)


def test_unequal_steps_name_the_record(tmp_path, tfrecord, steps_examples):
    examples = [dict(e) for e in steps_examples]
    examples[3]["x1"] = examples[3]["x1"][:2]
    data = tfrecord(tmp_path / "steps.tfrecord", examples)
    n = len(examples[3]["x0"])
    with pytest.raises(
        DataError,
        match=rf"steps.tfrecord, record 3: the steps have unequal lengths: x0 {n}, x1 2, x2 {n}",
    ):
        contracts.check(_sequence_spec(), data)
    examples = [dict(e) for e in steps_examples]
    examples[5]["y"] = examples[5]["y"][:1]
    data = tfrecord(tmp_path / "target.tfrecord", examples)
    with pytest.raises(
        DataError,
        match=r"target.tfrecord, record 5: 'x0' and 'x1' and 'x2' have \d+ values, 'y' has 1",
    ):
        contracts.check(_sequence_spec(), data)


def test_the_record_is_counted_over_files(tmp_path, tfrecord, tagging_examples):
    tfrecord(tmp_path / "a.tfrecord", tagging_examples[:10])
    broken = [dict(e) for e in tagging_examples[10:]]
    broken[2]["tokens"] = broken[2]["tokens"] + ["extra"]
    tfrecord(tmp_path / "b.tfrecord", broken)
    with pytest.raises(DataError, match=r"b.tfrecord, record 2: "):
        contracts.check(_tagging_spec(), str(tmp_path))


def test_good_sequences_pass(tmp_path, tfrecord, tagging_examples, steps_examples):
    examples = [dict(e) for e in tagging_examples]
    examples[0]["tags"] = ("int", [])  # no tags: a warning, not an error
    report = contracts.check(_tagging_spec(), tfrecord(tmp_path / "t.tfrecord", examples))
    assert report.rows == 40 and report.warnings == [
        "1 of 40 records have no 'tags': they add nothing to the loss"
    ]
    assert (
        contracts.check(_sequence_spec(), tfrecord(tmp_path / "s.tfrecord", steps_examples)).rows
        == 40
    )


def test_sequence_kinds_need_tfrecord(penguins):
    spec = _tagging_spec(label={"column": "species"}, features={"tokens": ["island"]})
    with pytest.raises(DataError, match="kind tagging reads lists per example"):
        contracts.check(spec, penguins)


def test_tfrecord_numeric_features(tmp_path, tfrecord):
    examples = [{"x": [1.0, 2.0], "s": "a", "y": i % 2} for i in range(6)]
    spec = _spec(label={"column": "y"}, features={"numeric": ["x"]}, eval={})
    assert contracts.check(spec, tfrecord(tmp_path / "ok.tfrecord", examples)).rows == 6
    examples[4]["x"] = [1.0, 2.0, 3.0]
    with pytest.raises(
        DataError,
        match=r"var.tfrecord, record 4: feature 'x' \(features.numeric\) has 3 values, 2 in .*record 0",
    ):
        contracts.check(spec, tfrecord(tmp_path / "var.tfrecord", examples))
    spec = _spec(label={"column": "y"}, features={"numeric": ["s"]}, eval={})
    with pytest.raises(
        DataError,
        match=r"ok.tfrecord, record 0: feature 's' \(features.numeric\) is a bytes_list, not numbers",
    ):
        contracts.check(spec, str(tmp_path / "ok.tfrecord"))


def test_a_categorical_list_names_the_record(tmp_path, tfrecord):
    examples = [{"x": 1.0, "s": "a", "y": i % 2} for i in range(6)]
    examples[2]["s"] = ["a", "b"]
    spec = _spec(label={"column": "y"}, features={"numeric": ["x"], "categorical": ["s"]}, eval={})
    with pytest.raises(
        DataError, match=r"t.tfrecord, record 2: feature 's' \(features.categorical\) has 2 values"
    ):
        contracts.check(spec, tfrecord(tmp_path / "t.tfrecord", examples))


def test_multilabel_ids_within_num_labels(tmp_path, tfrecord, multilabel_examples):
    data = tfrecord(tmp_path / "ml.tfrecord", multilabel_examples)
    raw = {"name": "t", "kind": "multilabel", "features": {"numeric": ["x"]}}
    assert (
        contracts.check(
            spec_lib.parse({**raw, "label": {"column": "labels", "num_labels": 6}}), data
        ).rows
        == 60
    )
    with pytest.raises(DataError, match=r"has ids 0..5, outside \[0, 4\)"):
        contracts.check(
            spec_lib.parse({**raw, "label": {"column": "labels", "num_labels": 4}}), data
        )


def test_multitask_heads(penguins):
    raw = {
        "name": "t",
        "kind": "multitask",
        "heads": [
            {"name": "species", "kind": "classification", "column": "species"},
            {"name": "mass", "kind": "regression", "column": "body_mass_g"},
        ],
        "features": {"numeric": ["bill length"], "categorical": ["island"]},
    }
    assert contracts.check(spec_lib.parse(raw), penguins).rows == 12
    raw["heads"][1]["column"] = "sex"
    with pytest.raises(
        DataError, match=r"row 2: column 'sex' \(heads\[1\].column \(mass\)\) is not a number: 'm'"
    ):
        contracts.check(spec_lib.parse(raw), penguins)


def test_no_dataset_column_is_hard_coded():
    import inspect

    source = inspect.getsource(contracts)
    for name in (
        "penguins",
        "species",
        "island",
        "bill_length_mm",
        "x0",
        "CONTRACTS",
        "EQUAL_LENGTHS",
    ):
        assert name not in source
