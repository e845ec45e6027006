"""tf.Example records and TFRecord files written without TensorFlow, for the data tests.

TFRecord files are framed here in Python (uint64 length, masked crc32c of it, the record,
masked crc32c of the record; the crc is `pipelines.profile`'s) and the tf.Example protos are
encoded by hand in protobuf wire format, so the tests can also write what TensorFlow would
refuse (mixed kinds, unequal lengths, garbage records).
"""

import gzip
import struct

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
