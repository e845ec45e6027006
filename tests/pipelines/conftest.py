"""Fixtures for the TF-free data tests: CSV and TFRecord files written without TensorFlow.

TFRecord files are framed here in Python (uint64 length, masked crc32c of it, the record,
masked crc32c of the record) and the tf.Example protos are encoded by hand, so the tests can
also write what TensorFlow would refuse (mixed kinds, unequal lengths, garbage records).
"""

import csv
import gzip
import struct

import pytest

from pipelines.profile import masked_crc32c


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int64: ten-byte two's complement
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _len_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _kind(values) -> str:
    if any(isinstance(v, bytes | str) for v in values):
        return "bytes"
    if any(isinstance(v, float) for v in values):
        return "float"
    return "int"


def encode_feature(value) -> bytes:
    """A Feature proto from a list (kind from the values), a (kind, list) pair, or None
    (a feature with no kind set)."""
    if value is None:
        return b""
    kind, values = value if isinstance(value, tuple) else (_kind(value), value)
    if kind == "bytes":
        items = b"".join(_len_field(1, v.encode() if isinstance(v, str) else v) for v in values)
        return _len_field(1, items)
    if kind == "float":
        return _len_field(2, _len_field(1, struct.pack(f"<{len(values)}f", *values)))
    return _len_field(3, _len_field(1, b"".join(_varint(int(v)) for v in values)))


def encode_example(features: dict) -> bytes:
    """A serialized tf.Example; features in dict order; a scalar value is a one-item list."""
    entries = b""
    for name, value in features.items():
        if value is not None and not isinstance(value, list | tuple):
            value = [value]
        entry = _len_field(1, name.encode()) + _len_field(2, encode_feature(value))
        entries += _len_field(1, entry)
    return _len_field(1, entries)


def frame(record: bytes) -> bytes:
    length = struct.pack("<Q", len(record))
    return (
        length
        + struct.pack("<I", masked_crc32c(length))
        + record
        + struct.pack("<I", masked_crc32c(record))
    )


def write_tfrecord(path, examples) -> str:
    """examples: dicts for encode_example, or bytes (a raw record); `.gz` → gzip."""
    data = b"".join(frame(e if isinstance(e, bytes) else encode_example(e)) for e in examples)
    path = str(path)
    if path.endswith(".gz"):
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        with open(path, "wb") as f:
            f.write(data)
    return path


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
