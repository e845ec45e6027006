"""Each task's column contract, checked on the user's `--data` before the pipeline starts.

A malformed row fails the run at once with the file and the row (or record) named, before
any component runs; nothing under the pipeline root is touched. The same contracts are
documented per task in the README and in the dataset modules' docstrings.
"""

import csv
import math
import os

from pipelines import datasets

# Penguins-shaped CSV tasks: the label column, then the columns that must parse as numbers
# (empty = missing). NaN is accepted and treated as missing by the transform.
CSV_CONTRACTS = {
    "penguins": {
        "required": (
            "species",
            "island",
            "bill_length_mm",
            "bill_depth_mm",
            "flipper_length_mm",
            "body_mass_g",
            "sex",
        ),
        "numeric": ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"),
        "label": "species",
    },
}
CSV_CONTRACTS["multitask"] = CSV_CONTRACTS["penguins"]
_KINDS = {"int64": "int64_list", "float": "float_list", "bytes": "bytes_list"}
# TFRecord tasks whose list features must have one value per step, example by example.
EQUAL_LENGTHS = {
    "tagging": ("tokens", "tags"),
    "correlation": ("x0", "x1", "x2", "x3", "x4", "y"),
}


class DataError(ValueError):
    """The user's data breaks the task's column contract."""


def check(dataset: str, path: str) -> int:
    """Raises DataError naming `path` and the row/record; returns the number of rows."""
    if os.path.getsize(path) == 0:
        raise DataError(f"{path}: the file is empty")
    if dataset in CSV_CONTRACTS:
        return _check_csv(CSV_CONTRACTS[dataset], path)
    return _check_tfrecord(
        datasets.DATASETS[dataset].FEATURES, EQUAL_LENGTHS.get(dataset, ()), path
    )


def _number(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return not math.isinf(value)


def _check_csv(contract: dict, path: str) -> int:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header:
            raise DataError(f"{path}: the file is empty")
        missing = [c for c in contract["required"] if c not in header]
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(missing)}; header is {header}")
        numeric = [header.index(c) for c in contract["numeric"]]
        label = header.index(contract["label"])
        rows = 0
        for row in reader:
            line = reader.line_num
            if not row:
                continue
            rows += 1
            if len(row) != len(header):
                raise DataError(
                    f"{path}, row {line}: {len(row)} fields, the header has {len(header)}"
                )
            for index in numeric:
                if row[index].strip() and not _number(row[index]):
                    raise DataError(
                        f"{path}, row {line}: column {header[index]} is not a number: "
                        f"{row[index]!r}"
                    )
            if not row[label].strip():
                raise DataError(f"{path}, row {line}: the label column {header[label]} is empty")
    if rows == 0:
        raise DataError(f"{path}: a header but no rows")
    return rows


def _length(feature) -> int:
    kind = feature.WhichOneof("kind")
    return len(getattr(feature, kind).value) if kind else 0


def _check_tfrecord(features: dict, equal_lengths, path: str) -> int:
    import tensorflow as tf

    rows = 0
    try:
        for index, record in enumerate(tf.data.TFRecordDataset(path).as_numpy_iterator()):
            example = tf.train.Example.FromString(record)
            for name, kind in features.items():
                if name not in example.features.feature:
                    raise DataError(f"{path}, record {index}: no feature {name!r}")
                found = example.features.feature[name].WhichOneof("kind")
                if found not in (None, _KINDS[kind]):
                    raise DataError(
                        f"{path}, record {index}: feature {name!r} must be {_KINDS[kind]}, "
                        f"found {found}"
                    )
            lengths = {name: _length(example.features.feature[name]) for name in equal_lengths}
            if len(set(lengths.values())) > 1:
                raise DataError(
                    f"{path}, record {index}: {', '.join(equal_lengths)} must have equal "
                    f"lengths, found {lengths}"
                )
            rows += 1
    except tf.errors.DataLossError as err:
        raise DataError(f"{path}: not a TFRecord file of tf.Example ({err.message})") from None
    if rows == 0:
        raise DataError(f"{path}: no records")
    return rows
