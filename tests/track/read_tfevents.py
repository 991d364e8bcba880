#!/usr/bin/env python3
"""Reads a TensorBoard event file with the standard library only: an oracle for llmtune's writer.

Usage: read_tfevents.py FILE

Written from the TFRecord format (tensorflow/core/lib/io/record_writer.cc: uint64 length,
uint32 masked CRC32C of the length, data, uint32 masked CRC32C of the data, all little-endian)
and the protobuf wire format of tensorflow/core/util/event.proto and
tensorflow/core/framework/summary.proto. It prints one JSON list, an entry per file_version event
({"wall_time", "step", "file_version"}) and per summary value ({"wall_time", "step", "tag",
"value"}); non-finite values print as the strings "Infinity", "-Infinity", "NaN".

Exit status: 0 when the whole file is complete records; 2 when it ends in a partial record
(a writer stopped mid-record), after printing the complete ones; 1 for a corrupt file (a CRC
mismatch, a malformed proto).
"""

import json
import math
import struct
import sys


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked_crc32c(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


class Corrupt(Exception):
    pass


def read_varint(buf, pos):
    result, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise Corrupt("varint runs past the end of its message")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise Corrupt("varint longer than 10 bytes")


def fields(buf):
    """Yields (field number, wire type, value) for each field of a serialized message: an int
    for varints, bytes for fixed64 / fixed32 / length-delimited."""
    pos = 0
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = read_varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            size, pos = read_varint(buf, pos)
            value, pos = buf[pos:pos + size], pos + size
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise Corrupt("unsupported wire type %d (field %d)" % (wire, number))
        if pos > len(buf):
            raise Corrupt("field %d runs past the end of its message" % number)
        yield number, wire, value


def number(x):
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def decode_event(data):
    """Event: double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5.
    Summary: repeated Value value = 1. Value: string tag = 1; float simple_value = 2."""
    wall_time, step, file_version, values = 0.0, 0, None, []
    for num, wire, value in fields(data):
        if num == 1 and wire == 1:
            wall_time = struct.unpack("<d", value)[0]
        elif num == 2 and wire == 0:
            step = value - (1 << 64) if value >= 1 << 63 else value  # int64 two's complement
        elif num == 3 and wire == 2:
            file_version = value.decode("utf-8")
        elif num == 5 and wire == 2:
            for snum, swire, svalue in fields(value):
                if snum != 1 or swire != 2:
                    continue
                tag, simple = None, None
                for vnum, vwire, vvalue in fields(svalue):
                    if vnum == 1 and vwire == 2:
                        tag = vvalue.decode("utf-8")
                    elif vnum == 2 and vwire == 5:
                        simple = struct.unpack("<f", vvalue)[0]
                values.append((tag, simple))
    out = []
    if file_version is not None:
        out.append({"wall_time": wall_time, "step": step, "file_version": file_version})
    for tag, simple in values:
        out.append({"wall_time": wall_time, "step": step, "tag": tag,
                    "value": None if simple is None else number(simple)})
    return out


def read_records(blob):
    """Returns (list of record payloads, offset of a trailing partial record or None)."""
    records, pos = [], 0
    while pos < len(blob):
        if len(blob) - pos < 12:
            return records, pos
        header = blob[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", blob[pos + 8:pos + 12])
        if masked_crc32c(header) != length_crc:
            raise Corrupt("length CRC mismatch in the record at byte %d" % pos)
        end = pos + 12 + length + 4
        if end > len(blob):
            return records, pos
        data = blob[pos + 12:pos + 12 + length]
        (data_crc,) = struct.unpack("<I", blob[end - 4:end])
        if masked_crc32c(data) != data_crc:
            raise Corrupt("data CRC mismatch in the record at byte %d" % pos)
        records.append(data)
        pos = end
    return records, None


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 1
    with open(sys.argv[1], "rb") as f:
        blob = f.read()
    try:
        records, partial = read_records(blob)
        entries = [e for data in records for e in decode_event(data)]
    except Corrupt as e:
        print("%s: %s" % (sys.argv[1], e), file=sys.stderr)
        return 1
    print(json.dumps(entries, allow_nan=False))
    if partial is not None:
        print("%s: partial record at byte %d (%d bytes after the last complete record)"
              % (sys.argv[1], partial, len(blob) - partial), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
