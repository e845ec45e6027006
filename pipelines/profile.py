"""A one-pass profile of the user's data: columns, types, missing values, list lengths.

`losskit init` infers a spec from it and `losskit check` validates a spec against it, both in
about a second on small data: this module imports no TensorFlow. TFRecord framing (uint64
length, uint32 masked crc32c of the length, the record, uint32 masked crc32c of the record;
``.gz`` through gzip) is read here in Python; the records are decoded into Arrow by
`tfx_bsl.coders.example_coder.ExamplesToRecordBatchDecoder`. CSV goes through the stdlib.

`data` is a file, a glob or a directory; the format comes from the file name: ``.csv`` →
CSV; ``.tfrecord``, ``.tfrecords``, ``.tfrecord.gz``, ``.gz`` → TFRecord of tf.Example. A
directory takes every file in it of a known format (hidden and ``_``-prefixed files, and
files of other extensions, are ignored) and all must be of one format.

Per column (in the user's order: the CSV header; the feature order of the first record):
`type` is ``int``/``float``/``string`` for CSV (``int`` if every non-empty cell parses as an
integer, ``float`` if as a number, else ``string``) and ``int``/``float``/``bytes`` for TFRecord
(the list kind); ``empty`` when no row has a value. `missing` counts empty CSV cells (blank
after stripping) and absent or empty TFRecord features. For TFRecord every record's list
length is kept (`lengths`, 0 = missing), so equal lengths across columns can be checked.

Errors are `pipelines.contracts.DataError` naming the file and the row or record: CSV rows
are numbered as lines of the file (the header is row 1), TFRecord records from 0.
"""

from __future__ import annotations

import collections
import csv
import dataclasses
import difflib
import glob
import gzip
import math
import os
import re
import struct
from typing import Any

import numpy as np

DISTINCT_CAP = 1000  # distinct values tracked per column; beyond it only "more than" is known
SAMPLES = 5
ROW_INDEX_MIN_ROWS = 10  # consecutive ints in fewer rows are not taken for a row index
_BATCH = 1024  # TFRecord records decoded per call
_INT = re.compile(r"^[+-]?\d+$")
_TFRECORD_SUFFIXES = (".tfrecord", ".tfrecords", ".tfrecord.gz", ".tfrecords.gz", ".gz")


class DataError(ValueError):
    """The user's data is unreadable or does not fit the task spec; names file and row."""


# -- which files ------------------------------------------------------------------------------


def file_format(path: str) -> str | None:
    """ "csv" or "tfrecord" from a file name, None for neither."""
    name = os.path.basename(path).lower()
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(".csv.gz"):
        return "csv.gz"
    if name.endswith(_TFRECORD_SUFFIXES):
        return "tfrecord"
    return None


def resolve(data: str) -> tuple[list[str], str]:
    """`data` (a file, a glob, a directory) → (sorted files, "csv" | "tfrecord")."""
    if not data:
        raise DataError("no data given: name a CSV or TFRecord file, a glob or a directory")
    if os.path.isdir(data):
        names = sorted(
            os.path.join(data, n)
            for n in os.listdir(data)
            if not n.startswith((".", "_")) and os.path.isfile(os.path.join(data, n))
        )
        files = [n for n in names if file_format(n) is not None]
        if not files:
            listed = ", ".join(os.path.basename(n) for n in names[:5]) or "nothing"
            raise DataError(
                f"{data}: no .csv or .tfrecord[.gz] file in the directory (it holds {listed})"
            )
        where = data
    elif glob.has_magic(data):
        files = sorted(p for p in glob.glob(data) if os.path.isfile(p))
        if not files:
            raise DataError(f"{data}: no file matches the pattern")
        where = data
    else:
        if not os.path.exists(data):
            raise DataError(f"{data}: no such file")
        files, where = [data], data
    formats = {f: file_format(f) for f in files}
    if "csv.gz" in formats.values():
        first = next(f for f, k in formats.items() if k == "csv.gz")
        raise DataError(f"{first}: compressed CSV is not supported; decompress it")
    unknown = [f for f, k in formats.items() if k is None]
    if unknown:
        raise DataError(
            f"{unknown[0]}: unknown format; name CSV files .csv and TFRecord files "
            ".tfrecord, .tfrecords or .gz"
        )
    kinds = sorted(set(formats.values()))
    if len(kinds) > 1:
        csv_file = next(f for f, k in formats.items() if k == "csv")
        tfr_file = next(f for f, k in formats.items() if k == "tfrecord")
        raise DataError(
            f"{where}: mixes CSV ({os.path.basename(csv_file)}) and TFRecord "
            f"({os.path.basename(tfr_file)}) files; use one format"
        )
    return files, kinds[0]


# -- the profile ------------------------------------------------------------------------------


@dataclasses.dataclass
class ColumnProfile:
    name: str
    type: str  # int | float | string (CSV) | bytes (TFRecord) | empty
    rows: int = 0
    missing: int = 0
    distinct: int = 0  # distinct values (list elements for TFRecord); capped at DISTINCT_CAP + 1
    distinct_capped: bool = False
    # value → count while distinct ≤ DISTINCT_CAP (int/float/str keys), else None
    counts: dict | None = dataclasses.field(default_factory=dict)
    samples: list = dataclasses.field(default_factory=list)
    value_min: float | None = None  # numbers only
    value_max: float | None = None
    # CSV: (file, row, text) of the first value that is not a number
    bad_number: tuple[str, int, str] | None = None
    row_index: bool = False  # ints 0,1,2,… or k,k+1,… one per row: a row index, not a feature
    # TFRecord only: list length of every record (0 = missing), and stats over present ones
    lengths: np.ndarray | None = None
    min_length: int | None = None
    max_length: int | None = None
    mean_length: float | None = None

    @property
    def present(self) -> int:
        return self.rows - self.missing

    @property
    def is_list(self) -> bool:
        """A TFRecord column with more than one value in some record."""
        return self.max_length is not None and self.max_length > 1

    @property
    def fixed_length(self) -> bool:
        """Every present record has the same list length (CSV: always)."""
        return self.lengths is None or self.min_length == self.max_length

    @property
    def numeric(self) -> bool:
        return self.type in ("int", "float")

    @property
    def values(self) -> list | None:
        """The distinct values, most frequent first; None when more than DISTINCT_CAP."""
        if self.counts is None:
            return None
        return [v for v, _ in sorted(self.counts.items(), key=lambda kv: (-kv[1], str(kv[0])))]

    def describe(self) -> str:
        distinct = f">{DISTINCT_CAP}" if self.distinct_capped else str(self.distinct)
        text = f"{self.name}: {self.type}, {self.missing}/{self.rows} missing, {distinct} distinct"
        if self.max_length is not None:
            text += f", lengths {self.min_length}..{self.max_length}"
        return text


@dataclasses.dataclass
class DataProfile:
    source: str  # `data` as given
    files: list[str]
    fmt: str  # csv | tfrecord
    rows: int
    file_rows: list[int]
    columns: dict[str, ColumnProfile]
    truncated: bool = False  # stopped at max_rows

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def __contains__(self, name: str) -> bool:
        return name in self.columns

    def __getitem__(self, name: str) -> ColumnProfile:
        return self.columns[name]

    def nearest(self, name: str) -> str | None:
        """The column name closest to `name` (difflib, case-insensitive), or None."""
        lowered = {c.lower(): c for c in self.columns}
        near = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.5)
        return lowered[near[0]] if near else None

    def no_column(self, name: str, role: str = "") -> str:
        """The message for a column the data lacks: names the file and the nearest column."""
        near = self.nearest(name)
        hint = f"; did you mean {near!r}?" if near else ""
        role = f" ({role})" if role else ""
        columns = ", ".join(self.names[:20]) + (", …" if len(self.names) > 20 else "")
        return f"{self.where}: no column {name!r}{role}{hint} (columns: {columns})"

    @property
    def where(self) -> str:
        return self.files[0] if len(self.files) == 1 else self.source

    def locate(self, index: int) -> tuple[str, int]:
        """A record's index over all files → (file, index within the file)."""
        for path, n in zip(self.files, self.file_rows, strict=False):
            if index < n:
                return path, index
            index -= n
        raise IndexError(index)

    def summary(self) -> str:
        head = f"{self.rows} rows in {len(self.files)} {self.fmt} file(s)"
        return "\n".join([head, *("  " + c.describe() for c in self.columns.values())])


def profile(data: str, *, max_rows: int | None = None) -> DataProfile:
    """Reads `data` (see `resolve`) once, up to `max_rows` rows, into a DataProfile."""
    files, fmt = resolve(data)
    reader = _CsvProfiler() if fmt == "csv" else _TFRecordProfiler()
    file_rows = []
    for path in files:
        left = None if max_rows is None else max_rows - reader.rows
        if left is not None and left <= 0:
            reader.truncated = True
            break
        if os.path.getsize(path) == 0:
            raise DataError(f"{path}: the file is empty")
        start = reader.rows
        reader.read(path, left)
        file_rows.append(reader.rows - start)
    files = files[: len(file_rows)]
    if reader.rows == 0:
        raise DataError(f"{files[0] if len(files) == 1 else data}: {reader.no_rows}")
    return DataProfile(data, files, fmt, reader.rows, file_rows, reader.finish(), reader.truncated)


class _Column:
    """Accumulates one column's ColumnProfile."""

    def __init__(self, name: str):
        self.p = ColumnProfile(name, "empty")
        self.sum_length = 0
        self.previous_int: int | None = None
        self.row_index = True

    def count(self, items) -> None:
        """items: iterable of (value, count)."""
        counts = self.p.counts
        if counts is None:
            return
        for value, n in items:
            counts[value] = counts.get(value, 0) + n
        if len(counts) > DISTINCT_CAP:
            self.p.counts, self.p.distinct, self.p.distinct_capped = None, DISTINCT_CAP + 1, True

    def extent(self, low, high) -> None:
        p = self.p
        p.value_min = low if p.value_min is None else min(p.value_min, low)
        p.value_max = high if p.value_max is None else max(p.value_max, high)

    def finish(self) -> ColumnProfile:
        p = self.p
        if p.counts is not None:
            p.distinct = len(p.counts)
        p.row_index = bool(
            self.row_index and p.type == "int" and p.missing == 0 and p.rows >= ROW_INDEX_MIN_ROWS
        )
        return p


# -- CSV --------------------------------------------------------------------------------------


def _number(text: str) -> float | None:
    """float(text) for a finite number or NaN, else None (no `1_000`, no infinities)."""
    if "_" in text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isinf(value) else value


_NAN = float("nan")


def _float(text: str) -> float:
    """float(text), every NaN the same object (so NaN counts as one distinct value)."""
    value = float(text)
    return _NAN if math.isnan(value) else value


class _CsvProfiler:
    no_rows = "a header but no rows"

    def __init__(self):
        self.truncated = False
        self.rows = 0
        self.header: list[str] | None = None
        self.first_file = ""
        self.columns: list[_Column] = []
        self.is_int: list[bool] = []
        self.is_float: list[bool] = []

    def read(self, path: str, limit: int | None) -> None:
        try:
            with open(path, newline="", encoding="utf-8-sig") as f:
                self._read(path, csv.reader(f), limit)
        except UnicodeDecodeError as err:
            raise DataError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
        except csv.Error as err:
            raise DataError(f"{path}: not valid CSV: {err}") from None

    def _read(self, path, reader, limit) -> None:
        header = next(reader, None)
        while header is not None and not header:
            header = next(reader, None)
        if header is None:
            raise DataError(f"{path}: the file is empty")
        if self.header is None:
            seen = collections.Counter(header)
            twice = [c for c, n in seen.items() if n > 1]
            if twice:
                raise DataError(
                    f"{path}, row 1: column {twice[0]!r} appears {seen[twice[0]]} times"
                )
            self.header, self.first_file = header, path
            self.columns = [_Column(c) for c in header]
            self.is_int = [True] * len(header)
            self.is_float = [True] * len(header)
        elif header != self.header:
            raise DataError(
                f"{path}, row 1: the header differs from {self.first_file}'s: {header} vs "
                f"{self.header}"
            )
        width = len(header)
        read = 0
        for row in reader:
            if not row:
                continue
            if limit is not None and read >= limit:
                self.truncated = True
                break
            if len(row) != width:
                raise DataError(
                    f"{path}, row {reader.line_num}: {len(row)} fields, the header has {width}"
                )
            read += 1
            for i, text in enumerate(row):
                self._cell(i, text.strip(), path, reader.line_num)
        self.rows += read

    def _cell(self, i: int, text: str, path: str, line: int) -> None:
        column = self.columns[i]
        p = column.p
        p.rows += 1
        if not text:
            p.missing += 1
            column.row_index = False
            return
        if p.counts is not None:
            p.counts[text] = p.counts.get(text, 0) + 1
            if len(p.counts) > DISTINCT_CAP:
                p.counts, p.distinct, p.distinct_capped = None, DISTINCT_CAP + 1, True
        if len(p.samples) < SAMPLES and text not in p.samples:
            p.samples.append(text)
        if self.is_float[i]:
            value = _number(text)
            if value is None:
                self.is_float[i] = self.is_int[i] = False
                column.row_index = False
                p.bad_number = (path, line, text)
                return
            if not math.isnan(value):
                column.extent(value, value)
            if self.is_int[i]:
                if _INT.match(text):
                    number = int(text)
                    if column.previous_int is not None and number != column.previous_int + 1:
                        column.row_index = False
                    column.previous_int = number
                else:
                    self.is_int[i] = False
                    column.row_index = False

    def finish(self) -> dict[str, ColumnProfile]:
        out = {}
        for column, is_int, is_float in zip(self.columns, self.is_int, self.is_float, strict=False):
            p = column.p
            if p.present == 0:
                p.type = "empty"
            else:
                p.type = "int" if is_int else "float" if is_float else "string"
            if p.type in ("int", "float"):
                cast = int if p.type == "int" else _float
                if p.counts is not None:
                    merged: dict = {}
                    for text, n in p.counts.items():
                        merged[cast(text)] = merged.get(cast(text), 0) + n
                    p.counts = merged
                p.samples = [cast(s) for s in p.samples]
                if p.type == "int" and p.value_min is not None:
                    p.value_min, p.value_max = int(p.value_min), int(p.value_max)
            out[p.name] = column.finish()
        return out


# -- TFRecord ---------------------------------------------------------------------------------

_MASK_DELTA = 0xA282EAD8


def _crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c_python(data: bytes) -> int:
    """CRC-32C (Castagnoli) in Python: the fallback where google-crc32c is missing."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


try:
    import google_crc32c as _google_crc32c

    def crc32c(data: bytes) -> int:
        return _google_crc32c.value(data)

    # Records are checked only with the C implementation: Python runs at ~1 MB/s.
    _FAST_CRC = True
except ImportError:  # pragma: no cover - google-crc32c ships with the TFX dependencies
    crc32c = crc32c_python
    _FAST_CRC = False


def masked_crc32c(data: bytes) -> int:
    """The CRC TFRecord frames carry: crc32c rotated right by 15 bits plus a constant."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def read_records(path: str):
    """Yields the records of a TFRecord file (``.gz``: gzip), checking the framing."""
    compressed = path.lower().endswith(".gz")
    with open(path, "rb") as raw:
        magic = raw.read(2)
    if compressed and magic != b"\x1f\x8b":
        raise DataError(f"{path}: not a gzip file (a TFRecord file named .gz must be compressed)")
    opener = gzip.open if compressed else open
    with opener(path, "rb") as f:
        index = 0
        while True:
            try:
                head = f.read(12)
            except (OSError, EOFError) as err:  # gzip: corrupt or truncated stream
                raise DataError(f"{path}, record {index}: unreadable gzip data ({err})") from None
            if not head:
                return
            record = _next_record(head, f, path, index, magic if index == 0 else b"")
            if isinstance(record, str):
                raise DataError(record)
            yield record
            index += 1


def _next_record(head, f, path, index, magic):
    """The record after a 12-byte frame head (bytes), or the message for bad framing (str)."""
    hint = (
        " (it looks gzip-compressed: name it .gz)"
        if magic == b"\x1f\x8b" and not path.lower().endswith(".gz")
        else ""
    )
    where = f"{path}, record {index}"
    not_tfrecord = f"{path}: not a TFRecord file" if index == 0 else f"{where}: bad framing"
    if len(head) < 12:
        return f"{not_tfrecord}{hint} (truncated record header)"
    (length,) = struct.unpack("<Q", head[:8])
    (length_crc,) = struct.unpack("<I", head[8:])
    if masked_crc32c(head[:8]) != length_crc:
        return f"{not_tfrecord}{hint} (length checksum mismatch)"
    try:
        data = f.read(length)
        tail = f.read(4)
    except (OSError, EOFError) as err:
        return f"{where}: unreadable gzip data ({err})"
    if len(data) < length or len(tail) < 4:
        return f"{where}: truncated ({len(data)} of {length} bytes)"
    if _FAST_CRC and masked_crc32c(data) != struct.unpack("<I", tail)[0]:
        return f"{where}: data checksum mismatch (corrupt file)"
    return data


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes):
    """(field number, wire type, payload) of a protobuf message; LEN payloads as bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + size], pos + size
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            return
        yield number, wire, value


def feature_names(record: bytes) -> list[str]:
    """The feature names of a serialized tf.Example in the order they were written."""
    names = []
    try:
        for number, wire, features in _fields(record):
            if number != 1 or wire != 2:
                continue
            for n, w, entry in _fields(features):
                if n != 1 or w != 2:
                    continue
                for k, kw, key in _fields(entry):
                    if k == 1 and kw == 2:
                        names.append(key.decode("utf-8", "backslashreplace"))
    except IndexError:
        pass  # a malformed record; the decoder names it
    return names


_KIND = {"int64": "int", "float": "float", "binary": "bytes", "large_binary": "bytes"}
_PROTO_KIND = {"int": "int64_list", "float": "float_list", "bytes": "bytes_list"}


class _TFRecordProfiler:
    no_rows = "no records"

    def __init__(self):
        from tfx_bsl.coders import example_coder

        self.decoder = example_coder.ExamplesToRecordBatchDecoder()
        self.truncated = False
        self.rows = 0
        self.columns: dict[str, _Column] = {}
        self.length_chunks: dict[str, list] = {}
        self.first_of_kind: dict[str, tuple[str, int]] = {}

    def read(self, path: str, limit: int | None) -> None:
        batch: list[bytes] = []
        start = 0
        for record in read_records(path):
            if limit is not None and start + len(batch) >= limit:
                self.truncated = True
                break
            if not self.columns and not batch:
                for name in feature_names(record):
                    self._column(name)
            batch.append(record)
            if len(batch) == _BATCH:
                self._decode(path, start, batch)
                start += len(batch)
                batch = []
        if batch:
            self._decode(path, start, batch)

    def _column(self, name: str) -> _Column:
        if name not in self.columns:
            column = _Column(name)
            column.p.rows = self.rows
            column.p.missing = self.rows
            column.row_index = self.rows == 0
            self.columns[name] = column
            self.length_chunks[name] = [np.zeros(self.rows, np.int64)] if self.rows else []
        return self.columns[name]

    def _decode(self, path: str, start: int, batch: list[bytes]) -> None:
        try:
            decoded = self.decoder.DecodeBatch(batch)
        except RuntimeError:
            # Find the record: one that does not parse, or whose kinds differ from earlier ones.
            for i, record in enumerate(batch):
                try:
                    one = self.decoder.DecodeBatch([record])
                except RuntimeError as err:
                    raise DataError(
                        f"{path}, record {start + i}: not a tf.Example ({_reason(err)})"
                    ) from None
                self._add(path, start + i, one)
            return
        self._add(path, start, decoded)

    def _add(self, path: str, start: int, batch) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        n = batch.num_rows
        seen = set()
        for name, array in zip(batch.schema.names, batch.columns, strict=False):
            column = self._column(name)
            seen.add(name)
            p = column.p
            if pa.types.is_null(array.type):
                self._lengths(column, np.zeros(n, np.int64))
                column.row_index = False
                continue
            kind = _KIND.get(str(array.type.value_type), str(array.type.value_type))
            lengths = pc.list_value_length(array).fill_null(0).to_numpy(zero_copy_only=False)
            first = start + int(np.argmax(lengths > 0))
            if p.type == "empty":
                p.type = kind
                self.first_of_kind[name] = (path, first)
            elif p.type != kind:
                was_path, was = self.first_of_kind[name]
                raise DataError(
                    f"{path}, record {first}: feature {name!r} is {_PROTO_KIND[kind]} here but "
                    f"{_PROTO_KIND[p.type]} in {was_path}, record {was}"
                )
            self._lengths(column, lengths)
            flat = pc.list_flatten(array)
            if len(flat) == 0:
                continue
            if p.counts is not None:
                values = pc.value_counts(flat)
                pairs = zip(
                    values.field("values").to_pylist(),
                    values.field("counts").to_pylist(),
                    strict=False,
                )
                if kind == "bytes":
                    pairs = ((v.decode("utf-8", "backslashreplace"), c) for v, c in pairs)
                column.count(pairs)
            if kind != "bytes":
                extent = pc.min_max(flat)
                low, high = extent["min"].as_py(), extent["max"].as_py()
                if low is not None:
                    column.extent(low, high)
            if column.row_index:
                column.row_index = self._row_index(column, kind, lengths, flat)
            if len(p.samples) < SAMPLES:
                for row in array.slice(0, 50).to_pylist():
                    if len(p.samples) >= SAMPLES:
                        break
                    if not row:
                        continue
                    if kind == "bytes":
                        row = [v.decode("utf-8", "backslashreplace") for v in row]
                    sample = row[0] if len(row) == 1 else row[:10]
                    if sample not in p.samples:
                        p.samples.append(sample)
        for name, column in self.columns.items():
            if name not in seen:
                self._lengths(column, np.zeros(n, np.int64))
                column.row_index = False
        self.rows += n

    @staticmethod
    def _row_index(column: _Column, kind: str, lengths, flat) -> bool:
        if kind != "int" or not np.all(lengths == 1):
            return False
        values = flat.to_numpy(zero_copy_only=False)
        if column.previous_int is not None and values[0] != column.previous_int + 1:
            return False
        column.previous_int = int(values[-1])
        return bool(np.all(np.diff(values) == 1))

    def _lengths(self, column: _Column, lengths) -> None:
        p = column.p
        p.rows += len(lengths)
        present = lengths[lengths > 0]
        p.missing += len(lengths) - len(present)
        if len(present):
            low, high = int(present.min()), int(present.max())
            p.min_length = low if p.min_length is None else min(p.min_length, low)
            p.max_length = high if p.max_length is None else max(p.max_length, high)
            column.sum_length += int(present.sum())
        self.length_chunks[p.name].append(np.asarray(lengths, np.int64))

    def finish(self) -> dict[str, ColumnProfile]:
        out = {}
        for name, column in self.columns.items():
            p = column.p
            chunks = self.length_chunks[name]
            p.lengths = np.concatenate(chunks) if chunks else np.zeros(0, np.int64)
            if p.present:
                p.mean_length = column.sum_length / p.present
            out[name] = column.finish()
        return out


def _reason(err: Exception) -> str:
    return str(err).split(": ", 1)[-1] if ": " in str(err) else str(err)


def describe_value(value: Any) -> str:
    """A value for a one-line message or a YAML comment (no newlines)."""
    text = value if isinstance(value, str) else repr(value)
    text = text.replace("\n", "\\n").replace("\r", "\\r")
    return text if len(text) <= 40 else text[:37] + "..."
