"""The public-data writers: what they write and the reference numbers they report.

TF-free except `test_text_tfrecord_decodes_with_tensorflow`, which reads the file back with
`tf.data.TFRecordDataset` and `tf.train.Example.FromString`.
"""

import csv
import struct

import numpy as np
import pytest

from tests.pipelines import public_data


@pytest.fixture(scope="module")
def iris(tmp_path_factory):
    path = tmp_path_factory.mktemp("public") / "iris.csv"
    return public_data.write_iris_csv(path)


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    path = tmp_path_factory.mktemp("public") / "digits.csv"
    return public_data.write_digits_csv(path)


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    path = tmp_path_factory.mktemp("public") / "text.tfrecord"
    return public_data.write_text_segmentation_tfrecord(path)


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def _read_frames(path):
    """Records of a TFRecord file, every length and data CRC checked."""
    with open(path, "rb") as f:
        data = f.read()
    records, pos = [], 0
    while pos < len(data):
        length_bytes = data[pos : pos + 8]
        (length,) = struct.unpack("<Q", length_bytes)
        (length_crc,) = struct.unpack("<I", data[pos + 8 : pos + 12])
        assert length_crc == public_data.masked_crc32c(length_bytes)
        record = data[pos + 12 : pos + 12 + length]
        (data_crc,) = struct.unpack("<I", data[pos + 12 + length : pos + 16 + length])
        assert data_crc == public_data.masked_crc32c(record)
        records.append(record)
        pos += 16 + length
    assert pos == len(data)
    return records


def test_crc32c_known_value():
    # RFC 3720 B.4 check value, and the pure-Python table agrees with whichever is in use
    assert public_data.crc32c_python(b"123456789") == 0xE3069283
    assert public_data.crc32c(b"123456789") == 0xE3069283


def test_iris_csv(iris):
    header, rows = _read_csv(iris["path"])
    assert header == iris["features"] + ["species"]
    assert iris["label"] == "species" and iris["rows"] == 150 == len(rows)
    names = iris["features"]
    assert "sepal length (cm)" in names
    assert any("/" in n for n in names)
    assert any("." in n for n in names)
    assert any(n[0].isdigit() for n in names)
    assert len(set(names)) == 4
    assert iris["classes"] == ["setosa", "versicolor", "virginica"]
    labels = [r[-1] for r in rows]
    assert sorted(set(labels)) == iris["classes"]
    assert all(labels.count(c) == 50 for c in iris["classes"])
    x = np.array([[float(v) for v in r[:-1]] for r in rows])
    assert x.shape == (150, 4) and np.isfinite(x).all()
    assert iris["majority_accuracy"] == pytest.approx(1 / 3)
    assert iris["majority_accuracy"] < 0.9 < iris["reference_accuracy"] <= 1.0


def test_digits_csv(digits):
    header, rows = _read_csv(digits["path"])
    expected = [f"8x8/r{r}.c{c}" for r in range(8) for c in range(8)]
    assert header == expected + ["digit"] and digits["features"] == expected
    assert digits["label"] == "digit" and digits["rows"] == 1797 == len(rows)
    values = np.array([[int(v) for v in r] for r in rows])
    x, y = values[:, :-1], values[:, -1]
    assert x.shape == (1797, 64) and x.min() == 0 and x.max() == 16
    assert sorted(set(y.tolist())) == list(range(10)) == digits["classes"]
    constant = [header[j] for j in range(64) if (x[:, j] == x[0, j]).all()]
    assert constant == digits["constant_columns"] and constant  # kept in the file
    counts = np.bincount(y)
    assert digits["majority_accuracy"] == pytest.approx(counts.max() / len(y))
    assert 0 <= digits["majority_accuracy"] < 0.2
    assert 0.9 < digits["reference_accuracy"] <= 1.0
    assert len(digits["reference_fold_accuracies"]) == 5


def test_text_tfrecord_framing_and_metadata(text):
    records = _read_frames(text["path"])
    assert len(records) == text["rows"] == 3000
    assert text["available_sentences"] >= 3000
    assert text["features"] == ["chars"] and text["label"] == "boundary"
    lengths = text["length"]
    assert 3 <= lengths["min"] <= lengths["mean"] <= lengths["max"]
    assert 3 <= text["words"]["min"] and text["words"]["max"] <= 12
    assert sum(text["tag_counts"].values()) == text["characters"]
    assert text["characters"] == pytest.approx(lengths["mean"] * text["rows"])
    assert sum(text["tag_distribution"].values()) == pytest.approx(1.0)
    for key in ("majority_accuracy", "unigram_accuracy", "bigram_context_accuracy"):
        assert 0.0 <= text[key] <= 1.0
    assert text["majority_accuracy"] == pytest.approx(max(text["tag_distribution"].values()))
    assert text["majority_accuracy"] < text["unigram_accuracy"] < text["bigram_context_accuracy"]


def test_text_is_a_deterministic_prefix(text, tmp_path):
    small = public_data.write_text_segmentation_tfrecord(tmp_path / "t.tfrecord", 50)
    assert small["rows"] == 50
    assert _read_frames(small["path"]) == _read_frames(text["path"])[:50]


def test_text_sentences_are_clean():
    sentences = public_data.text_segmentation_sentences()
    assert len(sentences) >= 3000
    assert len({" ".join(s) for s in sentences}) == len(sentences)
    for words in sentences:
        assert 3 <= len(words) <= 12
        assert all(w.isascii() and w.isalpha() and w.islower() for w in words)


def test_text_tfrecord_decodes_with_tensorflow(text):
    tf = pytest.importorskip("tensorflow")
    n = 0
    e_count = 0
    for raw in tf.data.TFRecordDataset(text["path"]):
        feature = tf.train.Example.FromString(raw.numpy()).features.feature
        assert sorted(feature) == ["boundary", "chars"]
        chars = list(feature["chars"].bytes_list.value)
        tags = list(feature["boundary"].bytes_list.value)
        assert len(chars) == len(tags) >= 3
        assert all(len(c) == 1 and c.isalpha() and c.islower() for c in chars)
        assert set(tags) <= {b"E", b"I"} and tags[-1] == b"E"
        e_count += tags.count(b"E")
        n += 1
    assert n == text["rows"]
    assert e_count == text["tag_counts"]["E"]
