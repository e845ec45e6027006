"""Real public data nobody here generated, as a user brings it: `losskit init` writes the
spec, `losskit check` passes it, and the pipeline `losskit run` builds runs it end to end.
Each run is held to a floor between what a broken model scores (the majority class) and what
a scikit-learn / NumPy reference reaches on the same data."""

import os

import pytest
import yaml
from click.testing import CliRunner

from pipelines import report, results
from pipelines.cli import main
from tests.pipelines import public_data

pytestmark = pytest.mark.e2e


def _losskit(*args):
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _init(tmp_path, data, label, edit=None):
    """`losskit init` then `losskit check`, with the user's edits to the written YAML."""
    spec_path = str(tmp_path / "spec.yaml")
    _losskit("init", "--data", data, "--label", label, "-o", spec_path)
    if edit:
        with open(spec_path) as f:
            raw = yaml.safe_load(f)
        edit(raw)
        with open(spec_path, "w") as f:
            yaml.safe_dump(raw, f)
    assert "OK" in _losskit("check", spec_path)
    with open(spec_path) as f:
        return spec_path, yaml.safe_load(f)


def _evaluation(layout):
    rows = results.executions(layout.metadata_path, layout.pipeline_name)
    assert not [row.component for row in rows if row.state == "FAILED"]
    return results.evaluation(layout.metadata_path, layout.pipeline_name)


def test_iris_with_awkward_column_names(tmp_path, run_task):
    meta = public_data.write_iris_csv(str(tmp_path / "iris.csv"))
    spec_path, spec = _init(tmp_path, str(tmp_path / "iris.csv"), "species")
    assert spec["kind"] == "classification"
    assert sorted(spec["features"]["numeric"]) == sorted(meta["features"])
    layout = run_task(tmp_path / "root", spec_path, epochs=60)
    evaluation = _evaluation(layout)
    overall = evaluation.overall()
    # Majority class 1/3; 5-fold logistic regression reaches 0.96.
    assert overall["accuracy"] >= 0.9, (overall, meta["reference_accuracy"])
    assert overall["auc/macro"] >= 0.95
    assert evaluation.blessed
    with open(report.write_report(layout.root), encoding="utf-8") as f:
        page = f.read()
    for name in meta["classes"]:
        assert f'data-class-name="{name}"' in page


def test_digits_ten_classes_sliced_by_an_awkward_column(tmp_path, run_task):
    meta = public_data.write_digits_csv(str(tmp_path / "digits.csv"))
    center = "8x8/r4.c4"

    def edit(raw):
        raw["eval"]["slices"] = [center]

    spec_path, spec = _init(tmp_path, str(tmp_path / "digits.csv"), "digit", edit)
    numeric = set(spec["features"]["numeric"])
    assert not numeric & set(meta["constant_columns"])  # init skipped them
    assert len(numeric) == 64 - len(meta["constant_columns"])
    layout = run_task(tmp_path / "root", spec_path)
    evaluation = _evaluation(layout)
    overall = evaluation.overall()
    # Majority class 0.10; 5-fold logistic regression reaches 0.97.
    assert overall["accuracy"] >= 0.9, (overall, meta["reference_accuracy"])
    assert overall["auc/macro"] >= 0.98
    assert {f"auc/classId:{i}" for i in range(10)} <= set(overall)
    assert any(
        name.startswith(f"{center}:") or name.startswith(f"{center}=")
        for name in evaluation.metrics
    )
    assert evaluation.blessed


def test_word_segmentation_of_real_english_text(tmp_path, run_task):
    data = str(tmp_path / "text.tfrecord")
    meta = public_data.write_text_segmentation_tfrecord(data)
    spec_path, spec = _init(tmp_path, data, "boundary")
    assert spec["kind"] == "tagging" and spec["features"]["tokens"] == ["chars"]
    layout = run_task(tmp_path / "root", spec_path)
    accuracy = _evaluation(layout).overall()["masked_token_accuracy"]
    # Always "inside a word" scores 0.80; a (this letter, next letter) lookup table 0.886.
    assert accuracy >= meta["bigram_context_accuracy"], (accuracy, meta)
    assert os.listdir(layout.serving_dir)
