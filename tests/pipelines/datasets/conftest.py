"""Each embedded dataset written once at its default size, shared by the dataset tests."""

import pytest

from pipelines import datasets


@pytest.fixture(scope="session")
def written(tmp_path_factory):
    """{task: DatasetInfo} for the distinct datasets at default size, seed 0."""
    root = tmp_path_factory.mktemp("datasets")
    return {
        task: datasets.write_default(task, str(root / task))
        for task in ("penguins", "tagging", "correlation", "multilabel")
    }


@pytest.fixture(scope="session")
def parse_all():
    """Function: all records of a written TFRecord dataset as {name: tf.RaggedTensor}."""
    return _parse_all


def _parse_all(info):
    """All records of a written TFRecord dataset as one dict of tf.RaggedTensor."""
    import tensorflow as tf

    module = datasets.DATASETS[info.metadata["tasks"][0]]
    ds = tf.data.TFRecordDataset([info.path]).batch(100_000)
    batch = next(iter(ds.map(lambda s: tf.io.parse_example(s, module.feature_spec()))))
    return {k: tf.RaggedTensor.from_sparse(v) for k, v in batch.items()}
