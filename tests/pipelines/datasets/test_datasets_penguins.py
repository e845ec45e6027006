import collections
import csv

import pytest

from pipelines.datasets import penguins

HEADER = [
    "species",
    "island",
    "bill_length_mm",
    "bill_depth_mm",
    "flipper_length_mm",
    "body_mass_g",
    "sex",
    "year",
]


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def test_full_csv(written):
    info = written["penguins"]
    header, rows = read_csv(info.path)
    assert header == HEADER
    assert len(rows) == 344 and all(len(r) == 8 for r in rows)
    species = collections.Counter(r[0] for r in rows)
    assert species == {"Adelie": 152, "Gentoo": 124, "Chinstrap": 68}
    assert info.metadata["class_counts"] == dict(species)
    assert not any(v == "NA" for r in rows for v in r)
    with open(info.path) as f:
        assert "NA" not in f.read().replace("NAN", "")
    # Numeric columns: every present value is a number; the missing ones are empty fields.
    for i in range(2, 6):
        values = [r[i] for r in rows]
        assert values.count("") == 2
        [float(v) for v in values if v]
    assert [r[6] for r in rows].count("") == 11
    assert {r[7] for r in rows} == {"2007", "2008", "2009"}


def test_subset_is_seeded_and_ordered(tmp_path):
    a = penguins.write(str(tmp_path / "a"), seed=1, num_examples=100)
    b = penguins.write(str(tmp_path / "b"), seed=2, num_examples=100)
    _, rows_a = read_csv(a.path)
    _, rows_b = read_csv(b.path)
    _, all_rows = penguins.load_rows()
    assert len(rows_a) == 100 and rows_a != rows_b
    index = [all_rows.index(r) for r in rows_a]
    assert index == sorted(index)
    assert sum(a.metadata["class_counts"].values()) == 100


def test_too_many_rows(tmp_path):
    with pytest.raises(ValueError):
        penguins.write(str(tmp_path), num_examples=345)
