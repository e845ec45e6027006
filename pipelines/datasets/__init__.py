"""Embedded datasets, one per task, generated on demand (see each module's docstring for
the column contract a user's own `--data` must meet).

Every module exposes `write(output_dir, *, seed=0, num_examples=...) -> DatasetInfo`, which
writes one data file (`data.csv` or `data.tfrecord`, uncompressed tf.Example) and
`metadata.json` into `output_dir`. Output is a pure function of (seed, num_examples):
the same arguments give the same bytes.
"""

from __future__ import annotations

from pipelines.datasets import hmm, lds, multilabel, penguins
from pipelines.datasets._common import (
    CSV_FILE,
    METADATA_FILE,
    TFRECORD_FILE,
    DatasetInfo,
    read_metadata,
)

DATASETS = {
    "penguins": penguins,
    "multitask": penguins,
    "tagging": hmm,
    "correlation": lds,
    "multilabel": multilabel,
}


def write_default(task: str, output_dir: str, seed: int = 0) -> DatasetInfo:
    """Write `task`'s embedded dataset, default size, into `output_dir`."""
    try:
        module = DATASETS[task]
    except KeyError:
        raise ValueError(f"unknown task {task!r}; expected one of {sorted(DATASETS)}") from None
    return module.write(output_dir, seed=seed)


__all__ = [
    "CSV_FILE",
    "DATASETS",
    "METADATA_FILE",
    "TFRECORD_FILE",
    "DatasetInfo",
    "read_metadata",
    "write_default",
]
