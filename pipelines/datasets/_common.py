"""Shared plumbing for the embedded datasets: the `DatasetInfo` record, `metadata.json`
and uncompressed tf.Example TFRecord writing."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Mapping

import numpy as np

METADATA_FILE = "metadata.json"
CSV_FILE = "data.csv"
TFRECORD_FILE = "data.tfrecord"


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What `write` produced.

    `path` is the data file (`data.csv` or `data.tfrecord`); ExampleGen reads its directory,
    which also holds `metadata.json`, so point its input pattern at `file_name`.
    """

    path: str
    format: str  # "csv" | "tfrecord"
    num_examples: int
    metadata: dict = dataclasses.field(hash=False, repr=False)

    @property
    def directory(self) -> str:
        return os.path.dirname(self.path)

    @property
    def file_name(self) -> str:
        return os.path.basename(self.path)


def _jsonable(value):
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def write_metadata(output_dir: str, metadata: Mapping) -> dict:
    """Write `metadata.json` (sorted keys, so identical inputs give identical bytes)."""
    data = _jsonable(metadata)
    text = json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n"
    with open(os.path.join(output_dir, METADATA_FILE), "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    return data


def read_metadata(output_dir: str) -> dict:
    """The `metadata.json` a `write` left in `output_dir`."""
    with open(os.path.join(output_dir, METADATA_FILE), encoding="utf-8") as f:
        return json.load(f)


def finish(
    output_dir: str, file_name: str, fmt: str, num_examples: int, metadata: Mapping
) -> DatasetInfo:
    """Write `metadata.json` (adding the common keys) and build the `DatasetInfo`."""
    full = {"file": file_name, "format": fmt, "num_examples": int(num_examples), **metadata}
    data = write_metadata(output_dir, full)
    return DatasetInfo(os.path.join(output_dir, file_name), fmt, int(num_examples), data)


def varlen_feature_spec(features: Mapping[str, str]) -> dict:
    """`tf.io.parse_example` spec for variable-length features given as {name: dtype}."""
    import tensorflow as tf

    dtypes = {"int64": tf.int64, "float": tf.float32}
    return {name: tf.io.VarLenFeature(dtypes[dtype]) for name, dtype in features.items()}


def write_tfrecord(
    path: str, features: Mapping[str, str], records: Iterable[Mapping[str, np.ndarray]]
) -> int:
    """Write uncompressed tf.Example records; `features` maps name -> "int64" | "float".

    Serialization is deterministic (map keys sorted), so equal records give equal bytes.
    """
    import tensorflow as tf

    count = 0
    with tf.io.TFRecordWriter(path) as writer:
        for record in records:
            feature = {}
            for name, dtype in features.items():
                values = np.asarray(record[name]).ravel()
                if dtype == "int64":
                    feature[name] = tf.train.Feature(
                        int64_list=tf.train.Int64List(value=values.astype(np.int64).tolist())
                    )
                elif dtype == "float":
                    feature[name] = tf.train.Feature(
                        float_list=tf.train.FloatList(value=values.astype(np.float32).tolist())
                    )
                else:
                    raise ValueError(f"unknown feature dtype {dtype!r} for {name!r}")
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            writer.write(example.SerializeToString(deterministic=True))
            count += 1
    return count


def prepare_dir(output_dir: str) -> str:
    output_dir = os.fspath(output_dir)
    os.makedirs(output_dir, exist_ok=True)
    return output_dir


def check_num_examples(num_examples: int) -> int:
    if isinstance(num_examples, bool) or int(num_examples) != num_examples or num_examples < 1:
        raise ValueError(f"num_examples must be a positive integer; got {num_examples!r}")
    return int(num_examples)


def dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a (..., K) @ b (K, M) as a fixed-order sum of elementwise products.

    Slower than BLAS but bit-identical on every machine (BLAS kernels vary by CPU), which
    keeps the written bytes reproducible; K is small wherever it is used.
    """
    out = a[..., 0, None] * b[0]
    for k in range(1, b.shape[0]):
        out = out + a[..., k, None] * b[k]
    return out


def rounded(x, digits: int = 6):
    """Float(s) rounded for metadata (keeps the JSON short and readable)."""
    return (np.round(np.asarray(x, dtype=np.float64), digits) + 0.0).tolist()  # no -0.0
