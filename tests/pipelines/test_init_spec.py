"""pipelines.init_spec: the kind and roles inferred from data; the commented YAML written."""

import csv
import os
import pathlib

import pytest
import yaml

from components import spec as spec_lib
from pipelines import contracts, init_spec
from pipelines.contracts import DataError
from pipelines.profile import profile

# Awkward names on purpose: a space and parentheses, a '/', a '.', a leading digit.
IRIS_COLUMNS = ["sepal length (cm)", "sepal/width", "petal.length", "4petal width"]


def _write_sklearn(path, dataset, columns, label, names=None):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([*columns, label])
        for x, y in zip(dataset.data, dataset.target, strict=True):
            writer.writerow([*(f"{v:g}" for v in x), names[y] if names is not None else int(y)])
    return str(path)


@pytest.fixture(scope="module")
def iris_csv(tmp_path_factory):
    from sklearn.datasets import load_iris

    iris = load_iris(as_frame=False)
    path = tmp_path_factory.mktemp("iris") / "iris data.csv"
    return _write_sklearn(path, iris, IRIS_COLUMNS, "species", iris.target_names)


@pytest.fixture(scope="module")
def wine_csv(tmp_path_factory):
    from sklearn.datasets import load_wine

    wine = load_wine(as_frame=False)
    columns = [name.replace("_", " ") for name in wine.feature_names]
    columns[0] = "1st alcohol"
    columns[1] = "malic.acid"
    columns[2] = "ash/total"
    path = tmp_path_factory.mktemp("wine") / "wine.csv"
    return _write_sklearn(path, wine, columns, "cultivar")


def _write(tmp_path, data, label, output="specs/task.yaml", **kwargs):
    """init → spec file → components.spec.load → contracts.check; returns (plan, spec)."""
    output = str(tmp_path / output)
    found = init_spec.write(profile(data), label, output, **kwargs)
    with open(output, encoding="utf-8") as f:
        assert yaml.safe_load(f) == found.spec  # the text reads back as the spec
    loaded = spec_lib.load(output)
    assert os.path.abspath(loaded.data) == os.path.abspath(data)
    contracts.check(loaded)
    return found, loaded


def test_iris_is_classification_with_numeric_features(tmp_path, iris_csv):
    kind, spec = init_spec.infer(profile(iris_csv), "species")
    assert kind == "classification" and spec["kind"] == "classification"
    assert spec["features"] == {"numeric": IRIS_COLUMNS}
    assert spec["label"] == {"column": "species", "class_weight": "balanced"}
    assert spec["loss"] == "ClassWeightedCrossentropy"
    assert spec["trainer"] == {"epochs": 20, "batch_size": 32, "learning_rate": 0.01}
    assert spec["eval"]["thresholds"] == {"auc": {"min": 0.7, "max_worse": 0.05}}
    found, loaded = _write(tmp_path, iris_csv, "species", output="specs/My Iris.v2.yaml")
    assert loaded.name == "my-iris-v2" and loaded.features.numeric == IRIS_COLUMNS
    assert loaded.label.classes is None
    assert found.spec["data"] == os.path.relpath(iris_csv, tmp_path / "specs")
    assert "# classes seen (count): setosa (50), versicolor (50), virginica (50)" in found.text
    assert "tighten" in found.text


def test_wine_integer_classes(wine_csv):
    beside = pathlib.Path(wine_csv).parent
    found, loaded = _write(beside, wine_csv, "cultivar", output="wine.yaml")
    assert found.kind == "classification" and len(loaded.features.numeric) == 13
    assert {"1st alcohol", "malic.acid", "ash/total"} <= set(loaded.features.numeric)
    assert found.spec["data"] == "wine.csv"  # the spec sits beside the data
    assert "classes seen (count): 1 (71), 0 (59), 2 (48)" in found.text


def test_columns_skipped_with_a_reason(tmp_path, csv_file):
    rows = [
        [
            i,
            f"user{i}",
            "k",
            "",
            ["red", "blue"][i % 2],
            "abcd"[i % 4],
            i * 0.5 % 3,
            "yn"[i % 3 > 0],
        ]
        for i in range(40)
    ]
    header = ["Unnamed: 0", "user", "const", "blank", "colour", "grade", "x", "label"]
    found, loaded = _write(tmp_path, csv_file(tmp_path / "t.csv", header, rows), "label")
    assert loaded.features.numeric == ["x"]
    assert loaded.features.categorical == ["colour", "grade"]
    assert loaded.eval.slices == ["colour", "grade"]
    for line in (
        "# skipped: Unnamed: 0 (a row index",
        "# skipped: user (string with 40 distinct values in 40 rows",
        "# skipped: const (constant: k)",
        "# skipped: blank (empty in every row)",
    ):
        assert line in found.text
    assert [c for c, _ in found.skipped] == ["Unnamed: 0", "user", "const", "blank"]


def test_at_most_three_small_categoricals_slice(tmp_path, csv_file):
    header = ["a", "b", "c", "d", "many", "y"]
    rows = [[*("pq"[(i >> k) % 2] for k in range(4)), f"m{i % 15}", "yn"[i % 2]] for i in range(60)]
    _, spec = init_spec.infer(profile(csv_file(tmp_path / "t.csv", header, rows)), "y")
    assert spec["features"]["categorical"] == ["a", "b", "c", "d", "many"]
    assert spec["eval"]["slices"] == ["a", "b", "c"]


def test_unknown_label_names_the_nearest_column(iris_csv):
    with pytest.raises(
        DataError, match=r"no column 'specis' \(the label\); did you mean 'species'"
    ):
        init_spec.infer(profile(iris_csv), "specis")


def test_a_regression_target_points_to_multitask(tmp_path, iris_csv):
    data = profile(iris_csv)
    with pytest.raises(DataError, match="regression target") as err:
        init_spec.infer(data, "sepal length (cm)")
    snippet = str(err.value)
    assert "kind: multitask" in snippet and "kind: regression" in snippet
    assert "column: sepal length (cm)" in snippet
    found, loaded = _write(tmp_path, iris_csv, "sepal length (cm)", kind="multitask")
    head = loaded.heads[0]
    assert (head.name, head.kind, head.column) == (
        "sepal_length_cm",
        "regression",
        "sepal length (cm)",
    )
    assert loaded.features.categorical == ["species"]
    assert "sepal_length_cm/mean_squared_error" in loaded.eval.thresholds


def test_single_class_label(tmp_path, csv_file):
    path = csv_file(tmp_path / "t.csv", ["x", "y"], [[i % 3, "only"] for i in range(10)])
    with pytest.raises(DataError, match="single value 'only'"):
        init_spec.infer(profile(path), "y")


def test_forced_kinds_that_do_not_fit(iris_csv, tmp_path, tfrecord, tagging_examples):
    data = profile(iris_csv)
    with pytest.raises(DataError, match="kind tagging does not fit.*TFRecord"):
        init_spec.infer(data, "species", kind="tagging")
    with pytest.raises(DataError, match="kind multilabel does not fit.*integer label ids"):
        init_spec.infer(data, "species", kind="multilabel")
    with pytest.raises(DataError, match="unknown kind 'regression'"):
        init_spec.infer(data, "species", kind="regression")
    tags = profile(tfrecord(tmp_path / "t.tfrecord", tagging_examples))
    with pytest.raises(DataError, match=r"kind classification does not fit.*record \d+"):
        init_spec.infer(tags, "tags", kind="classification")
    with pytest.raises(DataError, match="kind sequence_regression does not fit"):
        init_spec.infer(tags, "tags", kind="sequence_regression")


def test_tagging(tmp_path, tfrecord, tagging_examples):
    examples = [{**e, "doc_id": f"d{i}"} for i, e in enumerate(tagging_examples)]
    data = tfrecord(tmp_path / "tags.tfrecord.gz", examples)
    found, loaded = _write(tmp_path, data, "tags")
    assert found.kind == "tagging" and loaded.features.tokens == ["tokens"]
    assert loaded.loss.name == "MaskedSparseCategoricalCrossentropy"
    assert loaded.label.classes is None and loaded.model_family == "bigru"
    lengths = [len(e["tags"]) for e in tagging_examples]
    seq = loaded.sequence
    assert seq.max_length_quantile == 0.95 and seq.max_length_cap == max(lengths)
    assert seq.length_buckets == sorted(set(seq.length_buckets)) and seq.length_buckets[0] > 0
    assert loaded.eval.slices == ["length_bucket"]
    assert loaded.trainer.epochs == 8
    assert loaded.eval.thresholds["masked_token_accuracy"].min == 0.5
    assert "# skipped: doc_id (kind tagging reads only features.tokens)" in found.text


def test_tagging_with_string_tags(tmp_path, tfrecord, tagging_examples):
    examples = [
        {"ids": e["tags"], "tokens": e["tokens"], "tags": ["BIO"[t % 3] for t in e["tags"]]}
        for e in tagging_examples
    ]
    _, spec = init_spec.infer(profile(tfrecord(tmp_path / "t.tfrecord", examples)), "tags")
    assert spec["kind"] == "tagging" and spec["features"] == {"tokens": ["tokens"]}


def test_sequence_regression(tmp_path, tfrecord, steps_examples):
    examples = [{**e, "weight": 1.0} for e in steps_examples]
    found, loaded = _write(tmp_path, tfrecord(tmp_path / "steps.tfrecord", examples), "y")
    assert found.kind == "sequence_regression"
    assert loaded.features.steps == ["x0", "x1", "x2"]
    assert loaded.loss.name == "ConcordanceCorrelationLoss"
    assert loaded.eval.thresholds["sequence_ccc"].min == 0.3
    assert loaded.sequence.max_length_cap == max(len(e["y"]) for e in steps_examples)


def test_multilabel(tmp_path, tfrecord, multilabel_examples):
    found, loaded = _write(
        tmp_path, tfrecord(tmp_path / "ml.tfrecord", multilabel_examples), "labels"
    )
    assert found.kind == "multilabel" and loaded.label.num_labels == 6
    assert loaded.features.numeric == ["x"] and loaded.features.categorical == ["group"]
    assert loaded.loss.name == "BPMLLLoss"
    assert loaded.eval.thresholds["ranking_loss"].max == 0.4


def test_a_string_list_without_partner_is_an_error(tmp_path, tfrecord):
    examples = [{"words": ["a", "b"][: 1 + i % 2], "x": float(i)} for i in range(10)]
    with pytest.raises(DataError, match="list of strings per record"):
        init_spec.infer(profile(tfrecord(tmp_path / "t.tfrecord", examples)), "words")


def test_write_keeps_an_existing_file(tmp_path, iris_csv):
    output = tmp_path / "spec.yaml"
    output.write_text("mine")
    with pytest.raises(FileExistsError):
        init_spec.write(profile(iris_csv), "species", str(output))
    init_spec.write(profile(iris_csv), "species", str(output), force=True)
    assert spec_lib.load(str(output)).name == "spec"


@pytest.mark.parametrize(
    "stem, name",
    [("My Task", "my-task"), ("iris_v2", "iris-v2"), ("__", "task"), ("A.B-c", "a-b-c")],
)
def test_slug(stem, name):
    assert init_spec.slug(stem) == name


@pytest.mark.parametrize(
    "value, text",
    [
        ("plain", "plain"),
        ("sepal length (cm)", "sepal length (cm)"),
        ("4petal", '"4petal"'),
        ("yes", '"yes"'),
        ("a: b", '"a: b"'),
        ("a,b", '"a,b"'),
        ("*.csv", '"*.csv"'),
        (1e-05, "1.0e-05"),
        (0.01, "0.01"),
    ],
)
def test_yaml_scalars(value, text):
    assert init_spec._yaml_scalar(value) == text
    assert yaml.safe_load(f"k: {text}") == {"k": value}
