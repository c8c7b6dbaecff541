#!/usr/bin/env python3
"""Writes the worked examples of FORMAT.md from the spec alone (no Rust code involved).

Run: python3 model-format/tools/golden.py [--write]
Prints the hex dumps used in FORMAT.md and in the golden-bytes tests of src/tests.rs: the
version-1 f32 model, and the version-2 f16 and int8 models; with --write, also writes them to
model-format/golden/{tiny,tiny-f16,tiny-int8}.fmlp.
"""
import math
import os
import struct
import sys
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


def f16(x):
    return struct.pack("<e", x)


def zigzag(n):
    """postcard's signed varint: zigzag, then varint."""
    return varint((n << 1) ^ (n >> 31) if n >= 0 else ((n << 1) ^ -1) & 0xFFFFFFFF)


def i32(n):
    return struct.pack("<i", n)


def quantize_multiplier(real):
    """TFLite's QuantizeMultiplier (quantization_util.cc), in Python's exact arithmetic."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    x = q * (1 << 31)  # exact: a power-of-two scaling of a double
    q_fixed = int(math.copysign(math.floor(abs(x) + 0.5), x))  # std::round: ties away from 0
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q_fixed, shift


NONE, RELU, SOFTMAX = 0, 1, 2
ROW_MAJOR_OUT_IN = 0
F32, F16, INT8 = 0, 1, 2
SCALE = struct.unpack("<f", f32(1.0 / 255.0))[0]  # the f32 nearest 1/255


def file_bytes(version, header, data):
    pre_len = 12
    data_start = (pre_len + len(header) + 3) & ~3
    file_len = data_start + len(data) + 4
    body = (b"FMLP" + struct.pack("<H", version) + struct.pack("<H", len(header))
            + struct.pack("<I", file_len) + header + bytes(data_start - pre_len - len(header)) + data)
    crc = zlib.crc32(body) & 0xFFFFFFFF
    print(f"version={version} header_len={len(header)} data_start={data_start} "
          f"file_len={file_len} crc={crc:#010x}")
    return body + struct.pack("<I", crc)


def common_header(variant, note, classes):
    return b"".join([
        string(variant),
        varint(42), varint(3), f32(0.75), string(note),  # provenance: seed, epochs, accuracy, note
        varint(2), varint(2), f32(1.0 / 255.0),          # input: width, height, scale
        varint(len(classes)), *[string(c) for c in classes],
    ])


# The tiny model: 2x2 pixels -> 3 (ReLU) -> 2 classes (softmax).
w0 = [0.5, -0.25, 1.0, 0.0,
      -1.0, 2.0, 0.125, 0.75,
      0.25, 0.25, -0.5, 1.5]          # [3 outputs][4 inputs]
b0 = [0.0, 0.5, -1.0]
w1 = [1.0, -1.0, 0.5,
      -2.0, 0.25, 1.0]                # [2 outputs][3 inputs]
b1 = [0.125, -0.125]


def tiny_v1():
    header = common_header("tiny", "golden", ["off", "on"]) + b"".join([
        varint(2),                                       # layer count
        varint(4), varint(3), varint(RELU), varint(ROW_MAJOR_OUT_IN), varint(0), varint(12),
        varint(3), varint(2), varint(SOFTMAX), varint(ROW_MAJOR_OUT_IN), varint(15), varint(21),
    ])
    data = b"".join(f32(v) for v in w0 + b0 + w1 + b1)
    return file_bytes(1, header, data)


def tiny_f16():
    """Version 2: layer 0 in f16 (12 weights = 24 bytes, no padding needed), layer 1 in f32."""
    block0 = b"".join(f16(v) for v in w0) + b"".join(f32(v) for v in b0)
    header = common_header("tiny", "golden f16", ["off", "on"]) + b"".join([
        varint(2),
        varint(4), varint(3), varint(RELU), varint(F16), varint(0),
        varint(3), varint(2), varint(SOFTMAX), varint(F32), varint(len(block0)),
    ])
    data = block0 + b"".join(f32(v) for v in w1 + b1)
    return file_bytes(2, header, data)


# The tiny model in int8 (TFLite's scheme): the quantizations of the pixels, the hidden layer's
# output and the logits; weights per output row with their scales; int32 biases.
Q_IN = (SCALE, -128)
Q_HID = (0.05, -128)
Q_OUT = (0.1, 3)
qw0 = [64, -32, 127, 0,
       -127, 100, 8, 48,
       16, 16, -64, 96]               # [3][4]
qb0 = [0, 300, -1000]
s0 = [0.0078125, 0.015625, 0.01]
qw1 = [100, -100, 50,
       -90, 20, 127]                  # [2][3]
qb1 = [12, -7]
s1 = [0.01, 0.02]


def blocked(w, inputs, outputs):
    """The 4x4 tiles: w[o][i] at ((o//4)*(I4//4) + i//4)*16 + (o%4)*4 + i%4, zero padding."""
    i4, o4 = -(-inputs // 4) * 4, -(-outputs // 4) * 4
    out = bytearray(o4 * i4)
    for o in range(outputs):
        for i in range(inputs):
            out[((o // 4) * (i4 // 4) + i // 4) * 16 + (o % 4) * 4 + i % 4] = w[o * inputs + i] & 0xFF
    return bytes(out)


def f32r(x):
    return struct.unpack("<f", f32(x))[0]


def int8_block(w, b, scales, inputs, outputs, q_in, q_out):
    mults = [quantize_multiplier(f32r(q_in[0]) * f32r(s) / f32r(q_out[0])) for s in scales]
    print(f"  multipliers/shifts: {mults}")
    return (blocked(w, inputs, outputs) + b"".join(i32(v) for v in b)
            + b"".join(i32(m) for m, _ in mults) + b"".join(i32(s) for _, s in mults)
            + b"".join(f32(s) for s in scales))


def quant(q):
    return f32(q[0]) + zigzag(q[1])


def tiny_int8():
    block0 = int8_block(qw0, qb0, s0, 4, 3, Q_IN, Q_HID)
    block1 = int8_block(qw1, qb1, s1, 3, 2, Q_HID, Q_OUT)
    header = common_header("tiny", "golden int8", ["off", "on"]) + b"".join([
        varint(2),
        varint(4), varint(3), varint(RELU), varint(INT8), quant(Q_IN), quant(Q_HID), varint(0),
        varint(3), varint(2), varint(SOFTMAX), varint(INT8), quant(Q_HID), quant(Q_OUT),
        varint(len(block0)),
    ])
    return file_bytes(2, header, block0 + block1)


def dump(name, file):
    print(f"{name}: {len(file)} bytes")
    for off in range(0, len(file), 16):
        chunk = file[off:off + 16]
        print(f"{off:04x}: " + " ".join(f"{b:02x}" for b in chunk))
    print()


here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden")
for name, make in [("tiny", tiny_v1), ("tiny-f16", tiny_f16), ("tiny-int8", tiny_int8)]:
    file = make()
    dump(name, file)
    if "--write" in sys.argv:
        with open(os.path.join(here, name + ".fmlp"), "wb") as f:
            f.write(file)
