#!/usr/bin/env python3
"""Writes the worked example of FORMAT.md from the spec alone (no Rust code involved).

Run: python3 model-format/tools/golden.py
Prints the hex dump used in FORMAT.md and in the golden-bytes test of src/tests.rs.
"""
import struct
import zlib


def varint(n):
    """postcard varint: unsigned LEB128, 7 bits per byte, low bits first."""
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def string(s):
    b = s.encode("utf-8")
    return varint(len(b)) + b


def f32(x):
    return struct.pack("<f", x)


NONE, RELU, SOFTMAX = 0, 1, 2
ROW_MAJOR_OUT_IN = 0

# The tiny model: 2x2 pixels -> 3 (ReLU) -> 2 classes (softmax).
w0 = [0.5, -0.25, 1.0, 0.0,
      -1.0, 2.0, 0.125, 0.75,
      0.25, 0.25, -0.5, 1.5]          # [3 outputs][4 inputs]
b0 = [0.0, 0.5, -1.0]
w1 = [1.0, -1.0, 0.5,
      -2.0, 0.25, 1.0]                # [2 outputs][3 inputs]
b1 = [0.125, -0.125]

header = b"".join([
    string("tiny"),                                  # variant
    varint(42), varint(3), f32(0.75), string("golden"),  # provenance: seed, epochs, accuracy, note
    varint(2), varint(2), f32(1.0 / 255.0),          # input: width, height, scale
    varint(2), string("off"), string("on"),          # class names
    varint(2),                                       # layer count
    varint(4), varint(3), varint(RELU), varint(ROW_MAJOR_OUT_IN), varint(0), varint(12),
    varint(3), varint(2), varint(SOFTMAX), varint(ROW_MAJOR_OUT_IN), varint(15), varint(21),
])
data = b"".join(f32(v) for v in w0 + b0 + w1 + b1)
pre_len = 12
data_start = (pre_len + len(header) + 3) & ~3
file_len = data_start + len(data) + 4
body = (b"FMLP" + struct.pack("<H", 1) + struct.pack("<H", len(header)) + struct.pack("<I", file_len)
        + header + bytes(data_start - pre_len - len(header)) + data)
crc = zlib.crc32(body) & 0xFFFFFFFF
file = body + struct.pack("<I", crc)
assert len(file) == file_len

print(f"header_len={len(header)} data_start={data_start} file_len={file_len} crc={crc:#010x}")
for off in range(0, len(file), 16):
    chunk = file[off:off + 16]
    print(f"{off:04x}: " + " ".join(f"{b:02x}" for b in chunk))
