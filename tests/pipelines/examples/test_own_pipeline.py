"""The library-use example: a user's own create_pipeline with losskit's Transform, Trainer
and Evaluator pieces and the user's model builder, on scikit-learn's wine data."""

import csv
import os
import shutil

import pytest
from sklearn.datasets import load_wine

from pipelines import results
from pipelines.examples.own_pipeline import pipeline as example

pytestmark = pytest.mark.e2e
SPEC = os.path.join(os.path.dirname(example.__file__), "wine.yaml")


def _write_wine(directory):
    wine = load_wine()
    os.makedirs(directory)
    with open(os.path.join(directory, "wine.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*wine.feature_names, "cultivar"])
        writer.writerows(
            [*map(float, row), int(label)]
            for row, label in zip(wine.data, wine.target, strict=True)
        )


def test_own_pipeline_trains_the_users_model_with_the_spec(tmp_path):
    from tfx import v1 as tfx

    _write_wine(tmp_path / "data")
    metadata = str(tmp_path / "metadata.sqlite")
    tfx.orchestration.LocalDagRunner().run(
        example.create_pipeline(
            spec_path=SPEC,
            data_root=str(tmp_path / "data"),
            pipeline_root=str(tmp_path / "root"),
            serving_dir=str(tmp_path / "serving"),
            metadata_path=metadata,
        )
    )
    evaluation = results.evaluation(metadata, "own-wine")
    overall = evaluation.overall()
    # Majority cultivar 71 of 178 (0.40).
    assert overall["accuracy"] >= 0.9, overall
    assert overall["auc/macro"] >= 0.97
    assert evaluation.blessed
    import tensorflow as tf

    import losses  # noqa: F401  the compiled loss must be registered to load the model

    (pushed,) = os.listdir(tmp_path / "serving")
    model = tf.keras.models.load_model(str(tmp_path / "serving" / pushed))
    assert model.name == "user_model" and model.get_layer("user_dropout")
    shutil.rmtree(tmp_path / "root")
