"""Palmer penguins (tasks `penguins` and `multitask`): the palmerpenguins CSV, 344 rows.

Written as `data.csv` with a header row and these columns, in this order:

============================  =======  =================================================
column                        type     notes
============================  =======  =================================================
``species``                   string   label: ``Adelie`` / ``Chinstrap`` / ``Gentoo``
``island``                    string   ``Biscoe`` / ``Dream`` / ``Torgersen``
``bill_length_mm``            float    may be empty (missing)
``bill_depth_mm``             float    may be empty
``flipper_length_mm``         int      may be empty (read as a number; float is fine)
``body_mass_g``               int      may be empty (read as a number; float is fine)
``sex``                       string   ``male`` / ``female``; may be empty
``year``                      int      2007-2009
============================  =======  =================================================

A user's own ``--data`` for these tasks is one CSV file (name ending ``.csv``) with that
header row and those columns. Missing values must be empty fields, never a marker such as
``NA``: TFX's CSV decoder would otherwise infer a numeric column as string. The
palmerpenguins file uses ``NA``; `write` turns those into empty fields.
"""

from __future__ import annotations

import collections
import csv
import importlib.util
import io
import os

import numpy as np

from pipelines.datasets._common import (
    CSV_FILE,
    DatasetInfo,
    check_num_examples,
    finish,
    prepare_dir,
)

NUM_ROWS = 344
DEFAULT_NUM_EXAMPLES = NUM_ROWS
LABEL_KEY = "species"
COLUMNS = {
    "species": "string",
    "island": "string",
    "bill_length_mm": "float",
    "bill_depth_mm": "float",
    "flipper_length_mm": "int",
    "body_mass_g": "int",
    "sex": "string",
    "year": "int",
}
MISSING_MARKERS = ("NA",)


def source_csv() -> str:
    """Path of the CSV the palmerpenguins package ships (without importing the package,
    whose import needs pkg_resources)."""
    spec = importlib.util.find_spec("palmerpenguins")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("palmerpenguins is not installed")
    return os.path.join(spec.submodule_search_locations[0], "data", "penguins.csv")


def load_rows() -> tuple[list[str], list[list[str]]]:
    """Header and rows of the source CSV, with missing markers replaced by ''."""
    with open(source_csv(), encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [["" if v.strip() in MISSING_MARKERS else v.strip() for v in row] for row in reader]
    rows = [row for row in rows if row]
    if header != list(COLUMNS):
        raise ValueError(f"unexpected palmerpenguins header {header}")
    return header, rows


def write(
    output_dir: str, *, seed: int = 0, num_examples: int = DEFAULT_NUM_EXAMPLES
) -> DatasetInfo:
    """Write `data.csv` + `metadata.json` into `output_dir`.

    All 344 rows by default (then `seed` plays no part); a smaller `num_examples` keeps a
    seeded random subset of rows, in their original order.
    """
    num_examples = check_num_examples(num_examples)
    output_dir = prepare_dir(output_dir)
    header, rows = load_rows()
    if num_examples > len(rows):
        raise ValueError(f"penguins has {len(rows)} rows; asked for {num_examples}")
    if num_examples < len(rows):
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(len(rows), size=num_examples, replace=False))
        rows = [rows[i] for i in keep]

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    with open(os.path.join(output_dir, CSV_FILE), "w", encoding="utf-8", newline="") as f:
        f.write(buf.getvalue())

    def counts(column: str) -> dict:
        i = header.index(column)
        return dict(sorted(collections.Counter(r[i] or "<missing>" for r in rows).items()))

    metadata = {
        "dataset": "penguins",
        "tasks": ["penguins", "multitask"],
        "seed": int(seed),
        "source": "palmerpenguins 0.1.4 data/penguins.csv ('NA' -> empty field)",
        "label_key": LABEL_KEY,
        "columns": COLUMNS,
        "column_order": header,
        "class_counts": counts("species"),
        "island_counts": counts("island"),
        "sex_counts": counts("sex"),
        "missing_counts": {c: sum(1 for r in rows if r[i] == "") for i, c in enumerate(header)},
    }
    return finish(output_dir, CSV_FILE, "csv", len(rows), metadata)
