"""Fixtures for the TF-free data tests: CSV and TFRecord files written without TensorFlow
(`tests.pipelines.tfrecords`)."""

import csv

import pytest

from tests.pipelines.tfrecords import write_tfrecord


def write_csv(path, header, rows) -> str:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


@pytest.fixture
def tfrecord():
    """tfrecord(path, examples) writes a TFRecord file of tf.Example; returns the path."""
    return write_tfrecord


@pytest.fixture
def csv_file():
    """csv_file(path, header, rows) writes a CSV file; returns the path."""
    return write_csv


@pytest.fixture
def tagging_examples(rng):
    """40 records of string tokens and int tags of equal, varying lengths (3..12)."""
    examples = []
    words = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran"]
    for _ in range(40):
        n = int(rng.integers(3, 13))
        tokens = [words[int(i)] for i in rng.integers(0, len(words), n)]
        tags = [int(t) for t in rng.integers(0, 4, n)]
        examples.append({"tokens": tokens, "tags": tags})
    return examples


@pytest.fixture
def steps_examples(rng):
    """40 records of three float step channels and a float target of equal lengths."""
    examples = []
    for _ in range(40):
        n = int(rng.integers(5, 30))
        x = rng.normal(size=(3, n))
        examples.append(
            {
                "x0": [float(v) for v in x[0]],
                "x1": [float(v) for v in x[1]],
                "x2": [float(v) for v in x[2]],
                "y": [float(v) for v in x.sum(0)],
            }
        )
    return examples


@pytest.fixture
def multilabel_examples(rng):
    """60 records: a fixed-length float vector, a category, and 0..3 label ids in [0, 6)."""
    examples = []
    for i in range(60):
        k = int(rng.integers(0, 4))
        ids = sorted({int(v) for v in rng.integers(0, 6, k)})
        if i == 0:
            ids = [5]  # so the max id is 5
        examples.append(
            {
                "x": [float(v) for v in rng.normal(size=4)],
                "group": "ab"[i % 2],
                "labels": ("int", ids),
            }
        )
    return examples
