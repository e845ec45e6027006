"""pipelines.profile: resolving `data`, CSV and TFRecord profiles, errors naming file and row."""

import gzip
import os
import subprocess
import sys

import numpy as np
import pytest

from pipelines import profile as profile_lib
from pipelines.contracts import DataError
from pipelines.profile import profile, resolve
from tests.pipelines.tfrecords import encode_example, frame

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_no_tensorflow_is_imported(tmp_path, tagging_examples, tfrecord, csv_file):
    data = tfrecord(tmp_path / "tags.tfrecord", tagging_examples)
    table = csv_file(tmp_path / "t.csv", ["x", "y"], [[i * 3 % 7, "ab"[i % 2]] for i in range(10)])
    code = (
        "import sys\n"
        "import pipelines.profile, pipelines.init_spec, pipelines.contracts\n"
        "assert 'tensorflow' not in sys.modules, 'imported'\n"
        f"p = pipelines.profile.profile({data!r})\n"
        "pipelines.init_spec.infer(p, 'tags')\n"
        f"pipelines.init_spec.infer(pipelines.profile.profile({table!r}), 'y')\n"
        "assert 'tensorflow' not in sys.modules, 'used'\n"
    )
    env = {**os.environ, "PYTHONPATH": REPO}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


# -- resolve ----------------------------------------------------------------------------------


def test_resolve_file_glob_and_directory(tmp_path, csv_file):
    a = csv_file(tmp_path / "a.csv", ["x"], [[1]])
    b = csv_file(tmp_path / "b.csv", ["x"], [[2]])
    (tmp_path / "_SUCCESS").write_text("")
    (tmp_path / ".hidden.csv").write_text("x\n3\n")
    (tmp_path / "notes.txt").write_text("ignored")
    assert resolve(a) == ([a], "csv")
    assert resolve(str(tmp_path / "*.csv")) == ([a, b], "csv")
    assert resolve(str(tmp_path)) == ([a, b], "csv")


@pytest.mark.parametrize(
    "name", ["d.tfrecord", "d.tfrecords", "d.tfrecord.gz", "data_tfrecord-00000-of-00001.gz"]
)
def test_tfrecord_names(name):
    assert profile_lib.file_format(name) == "tfrecord"


def test_resolve_errors(tmp_path, csv_file, tfrecord):
    with pytest.raises(DataError, match="nope.csv: no such file"):
        resolve(str(tmp_path / "nope.csv"))
    with pytest.raises(DataError, match="no file matches"):
        resolve(str(tmp_path / "*.csv"))
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README").write_text("x")
    with pytest.raises(DataError, match="no .csv or .tfrecord.*README"):
        resolve(str(empty))
    csv_file(tmp_path / "a.csv", ["x"], [[1]])
    tfrecord(tmp_path / "b.tfrecord", [{"x": 1}])
    with pytest.raises(DataError, match=r"mixes CSV \(a.csv\) and TFRecord \(b.tfrecord\)"):
        resolve(str(tmp_path))
    (tmp_path / "c.parquet").write_text("x")
    with pytest.raises(DataError, match="c.parquet: unknown format"):
        resolve(str(tmp_path / "c.parquet"))
    (tmp_path / "d.csv.gz").write_bytes(gzip.compress(b"x\n1\n"))
    with pytest.raises(DataError, match="compressed CSV"):
        resolve(str(tmp_path / "d.csv.gz"))


# -- CSV --------------------------------------------------------------------------------------


def test_csv_types_missing_and_order(tmp_path, csv_file):
    rows = [
        [3, "1.5", "red", "", "x"],
        [-4, "nan", "blue", "", "y"],
        [5, "", "red", " ", "1e3"],
    ]
    path = csv_file(tmp_path / "t.csv", ["n", "f", "color name", "gone", "mixed"], rows)
    p = profile(path)
    assert p.names == ["n", "f", "color name", "gone", "mixed"]
    assert p.rows == 3 and p.fmt == "csv" and p.files == [path]
    assert {c.name: c.type for c in p.columns.values()} == {
        "n": "int",
        "f": "float",
        "color name": "string",
        "gone": "empty",
        "mixed": "string",
    }
    n, f, color = p["n"], p["f"], p["color name"]
    assert (n.value_min, n.value_max, n.counts) == (-4, 5, {3: 1, -4: 1, 5: 1})
    assert f.missing == 1 and f.distinct == 2 and f.value_max == 1.5
    assert color.counts == {"red": 2, "blue": 1} and color.samples == ["red", "blue"]
    assert p["gone"].missing == 3 and p["gone"].present == 0
    assert p["mixed"].bad_number == (path, 2, "x")
    assert n.lengths is None and not n.is_list


def test_csv_distinct_values_are_capped(tmp_path, csv_file):
    n = profile_lib.DISTINCT_CAP + 50
    path = csv_file(tmp_path / "t.csv", ["id", "k"], [[f"u{i}", i % 3] for i in range(n)])
    column = profile(path)["id"]
    assert column.distinct_capped and column.counts is None and column.values is None
    assert column.distinct == profile_lib.DISTINCT_CAP + 1
    assert profile(path)["k"].distinct == 3


def test_csv_row_index_is_detected(tmp_path, csv_file):
    rows = [[i, i * 7 % 5, 100 + i] for i in range(20)]
    p = profile(csv_file(tmp_path / "t.csv", ["", "x", "year"], rows))
    assert p[""].row_index and p["year"].row_index and not p["x"].row_index


def test_csv_errors_name_the_file_and_row(tmp_path, csv_file):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="empty.csv: the file is empty"):
        profile(str(empty))
    header = tmp_path / "header.csv"
    header.write_text("a,b\n")
    with pytest.raises(DataError, match="header.csv: a header but no rows"):
        profile(str(header))
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,c\n1,2,3\n4,5\n")
    with pytest.raises(DataError, match=r"bad.csv, row 3: 2 fields, the header has 3$"):
        profile(str(bad))
    twice = tmp_path / "twice.csv"
    twice.write_text("a,b,a\n1,2,3\n")
    with pytest.raises(DataError, match="twice.csv, row 1: column 'a' appears 2 times"):
        profile(str(twice))


def test_csv_files_of_a_directory(tmp_path, csv_file):
    csv_file(tmp_path / "a.csv", ["x", "y"], [[1, "a"], [2, "b"]])
    csv_file(tmp_path / "b.csv", ["x", "y"], [[3, "a"]])
    p = profile(str(tmp_path))
    assert p.rows == 3 and p.file_rows == [2, 1] and p["x"].counts == {1: 1, 2: 1, 3: 1}
    csv_file(tmp_path / "c.csv", ["x", "z"], [[1, 2]])
    with pytest.raises(DataError, match="c.csv, row 1: the header differs"):
        profile(str(tmp_path))


def test_max_rows(tmp_path, csv_file, tfrecord):
    path = csv_file(tmp_path / "t.csv", ["x"], [[i] for i in range(50)])
    p = profile(path, max_rows=10)
    assert p.rows == 10 and p.truncated
    assert not profile(path, max_rows=50).truncated
    records = tfrecord(tmp_path / "t.tfrecord", [{"x": i} for i in range(30)])
    p = profile(records, max_rows=7)
    assert p.rows == 7 and p.truncated and len(p["x"].lengths) == 7


# -- TFRecord ---------------------------------------------------------------------------------


def test_tfrecord_kinds_lengths_and_missing(tmp_path, tfrecord):
    examples = [
        {"z_ids": [1, 2, 3], "word": "a", "score": 0.5, "blank": None},
        {"z_ids": [4], "word": ["b", "c"], "score": -1.0},
        {"z_ids": ("int", []), "word": "a"},
    ]
    p = profile(tfrecord(tmp_path / "t.tfrecord", examples))
    # the order the features were written, not the decoder's alphabetical one
    assert p.names == ["z_ids", "word", "score", "blank"]
    ids, word, score, blank = (p[n] for n in p.names)
    assert (ids.type, word.type, score.type, blank.type) == ("int", "bytes", "float", "empty")
    assert ids.lengths.tolist() == [3, 1, 0] and ids.missing == 1
    assert (ids.min_length, ids.max_length, ids.mean_length) == (1, 3, 2.0)
    assert ids.is_list and not ids.fixed_length and (ids.value_min, ids.value_max) == (1, 4)
    assert word.counts == {"a": 2, "b": 1, "c": 1} and word.samples[:2] == ["a", ["b", "c"]]
    assert score.lengths.tolist() == [1, 1, 0] and not score.is_list
    assert blank.missing == 3 and blank.lengths.tolist() == [0, 0, 0]


def test_tfrecord_gzip_files_and_batches(tmp_path, tfrecord):
    # more records than one decoder batch; a feature that appears only in the second batch
    n = profile_lib._BATCH + 100
    first = [{"x": [float(i), 1.0]} for i in range(n)]
    first[-1]["late"] = "yes"
    a = tfrecord(tmp_path / "a.tfrecord.gz", first)
    b = tfrecord(tmp_path / "b.tfrecord.gz", [{"x": [0.0, 0.0], "late": "no"}] * 5)
    p = profile(str(tmp_path / "*.gz"))
    assert p.files == [a, b] and p.rows == n + 5 and p.file_rows == [n, 5]
    late = p["late"]
    assert late.rows == n + 5 and late.missing == n - 1 and len(late.lengths) == n + 5
    assert late.lengths[n - 1] == 1 and late.lengths[: n - 1].sum() == 0
    assert p["x"].fixed_length and p["x"].max_length == 2
    assert p.locate(n + 2) == (b, 2) and p.locate(3) == (a, 3)


def test_tfrecord_row_index(tmp_path, tfrecord):
    p = profile(tfrecord(tmp_path / "t.tfrecord", [{"i": i, "v": i % 2} for i in range(12)]))
    assert p["i"].row_index and not p["v"].row_index


def test_crc32c():
    assert profile_lib.crc32c(b"123456789") == 0xE3069283
    assert profile_lib.crc32c_python(b"123456789") == 0xE3069283


def test_not_a_tfrecord_file(tmp_path):
    path = tmp_path / "t.tfrecord"
    path.write_text("species,island\nAdelie,Biscoe\n")
    with pytest.raises(DataError, match="t.tfrecord: not a TFRecord file"):
        profile(str(path))


def test_tfrecord_errors_name_the_record(tmp_path, tfrecord):
    good = encode_example({"x": 1})
    truncated = tmp_path / "cut.tfrecord"
    truncated.write_bytes(frame(good) + frame(good)[:-6])
    with pytest.raises(DataError, match="cut.tfrecord, record 1: truncated"):
        profile(str(truncated))
    corrupt = tmp_path / "crc.tfrecord"
    record = bytearray(frame(good) * 2)
    record[-6] ^= 0xFF
    corrupt.write_bytes(bytes(record))
    with pytest.raises(DataError, match="crc.tfrecord, record 1: data checksum"):
        profile(str(corrupt))
    garbage = tfrecord(tmp_path / "g.tfrecord", [{"x": 1}, {"x": 2}, b"\xff\xff\xff"])
    with pytest.raises(DataError, match="g.tfrecord, record 2: not a tf.Example"):
        profile(garbage)
    mixed = tfrecord(tmp_path / "m.tfrecord", [{"x": 1}, {"x": 2}, {"x": 2.5}])
    with pytest.raises(
        DataError,
        match=r"m.tfrecord, record 2: feature 'x' is float_list here but int64_list in .*record 0",
    ):
        profile(mixed)


def test_tfrecord_compression_mismatch(tmp_path, tfrecord):
    plain = tfrecord(tmp_path / "t.tfrecord", [{"x": 1}])
    renamed = tmp_path / "t.gz"
    os.rename(plain, renamed)
    with pytest.raises(DataError, match="t.gz: not a gzip file"):
        profile(str(renamed))
    compressed = tfrecord(tmp_path / "c.tfrecord.gz", [{"x": 1}])
    os.rename(compressed, tmp_path / "c.tfrecord")
    with pytest.raises(DataError, match="not a TFRecord file.*gzip-compressed"):
        profile(str(tmp_path / "c.tfrecord"))
    empty = tmp_path / "e.tfrecord.gz"
    empty.write_bytes(gzip.compress(b""))
    with pytest.raises(DataError, match="e.tfrecord.gz: no records"):
        profile(str(empty))


def test_profile_of_the_fixtures(tagging_examples, steps_examples, tmp_path, tfrecord):
    p = profile(tfrecord(tmp_path / "tags.tfrecord", tagging_examples))
    assert np.array_equal(p["tokens"].lengths, p["tags"].lengths)
    assert p["tokens"].type == "bytes" and p["tags"].type == "int"
    p = profile(tfrecord(tmp_path / "steps.tfrecord", steps_examples))
    assert {p[c].type for c in p.names} == {"float"}
    assert "rows in 1 tfrecord file" in p.summary()
