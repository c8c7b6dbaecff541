#!/usr/bin/env python3
"""One-image inference latency of an .fmlp model in onnxruntime and PyTorch eager, for reference.

What it measures: the model file is decoded here (model-format/FORMAT.md, version 1, CRC
checked), turned into an ONNX graph (Gemm with transB=1 per layer, Relu on the ReLU layers,
Softmax at the end, input [1, 784] float32) and run by onnxruntime on the CPU with one thread
(intra_op_num_threads=1, inter_op_num_threads=1, sequential execution, all graph
optimisations). Each call classifies one test image (the first --images of t10k, pixels
times the model's input scale, 1/255, as the firmware's classify_u8 does, converted before
timing) and is timed on its own with time.perf_counter_ns after a warm-up; the median and the
10th/90th percentiles are reported in microseconds. The same weights are then timed in
PyTorch eager (torch.no_grad, one thread), if torch is importable.

This is the counterpart of our criterion bench

    cargo bench -p firmware --bench classify

which times `classify_u8` (pixels to probabilities, softmax included, one image, one thread).
That bench uses seeded weights of the vanilla and dropout shapes; the time does not depend on
the values, so a trained model of the same shape compares directly. The figures here include
Python's call overhead, which criterion's Rust loop does not pay: ort_median_us goes through
IOBinding (inputs wrapped as OrtValues beforehand, output into a preallocated tensor), the
cheapest entry point from Python; ort_run_median_us through the ordinary session.run() with
numpy arrays; torch_median_us calls an nn.Sequential. ort_floor_us times the IOBinding path
on a graph with a single Identity node (the same 784 floats in), i.e. the per-call cost of
Python and the binding; ort_net_us = ort_median_us - ort_floor_us is the estimate of
onnxruntime's own time per image to compare with a Rust loop.

Unless --no-int8 is given, the same f32 graph is then quantized by onnxruntime itself
(onnxruntime.quantization.quantize_static: int8 weights per output channel, activation ranges
by min/max over the first --calibration training images, pixels scaled as above, the way
`trainer quantize` calibrates ours) in both of its graph forms, QDQ with int8 activations and
QOperator with uint8 activations (the pairing each is fast with on x86-64), and each is timed
through IOBinding like the f32 graph. ort_int8_qdq_net_us and ort_int8_qop_net_us are their net
times; ort_int8_format and ort_int8_net_us name the faster of the two in this run, the one to
compare our int8 file with.

Top-1 accuracy on the timed images is printed as a sanity check of the decoder and the graph.

Example:

    /work/refvenv/bin/python trainer/benches/reference/onnxruntime_infer.py out/vanilla/model.fmlp
"""

import argparse
import logging
import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                      QuantType, quantize_static)

from fashion_idx import (DEFAULT_DATA, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC,
                         read_idx)

MAGIC = b"FMLP"
FORMAT_VERSION = 1
PREAMBLE_LEN = 12
ACTIVATIONS = ("none", "relu", "softmax")  # postcard enum tags 0, 1, 2
ROW_MAJOR_OUT_IN = 0
ONNX_OPSET = 17
ONNX_IR_VERSION = 8
# onnxruntime's two int8 graph forms, each with the activation type its x86-64 kernels are
# fast for: QuantizeLinear/DequantizeLinear pairs around float ops, which the session fuses into
# integer kernels, with int8 activations (S8S8, as TFLite and our firmware); or integer
# operators written out (QGemm, QLinearSoftmax) with uint8 activations (U8S8: with int8
# activations quantize_static warns "bad performance on x64", and it measured 10x slower here).
# Weights are int8 in both.
INT8_FORMATS = {
    "int8 QDQ": (QuantFormat.QDQ, QuantType.QInt8),
    "int8 QOp": (QuantFormat.QOperator, QuantType.QUInt8),
}


class FormatError(ValueError):
    """The bytes are not a valid .fmlp version 1 file."""


class HeaderReader:
    """Reads postcard values from the header bytes, front to back."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise FormatError("header ends in the middle of a field")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def varint(self, bits):
        """An unsigned LEB128 varint that must fit in `bits` bits."""
        value, shift = 0, 0
        while True:
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
            if shift >= bits:
                raise FormatError("varint too long")
        if value >> bits:
            raise FormatError(f"varint {value} does not fit in {bits} bits")
        return value

    def f32(self):
        return struct.unpack("<f", self.take(4))[0]

    def string(self):
        length = self.varint(32)
        if length > 255:
            raise FormatError(f"string of {length} bytes (at most 255)")
        try:
            return self.take(length).decode("utf-8")
        except UnicodeDecodeError as e:
            raise FormatError(f"string is not UTF-8: {e}") from None

    def enum(self, names):
        tag = self.varint(32)
        if tag >= len(names):
            raise FormatError(f"enum tag {tag} (expected < {len(names)})")
        return tag


def decode_fmlp(raw):
    """Decodes and checks an .fmlp file; returns its header fields and float32 weights.

    Layers come back as dicts with `activation` (a name of ACTIVATIONS), `weights` of shape
    [outputs, inputs] (the file's row-major layout, nn.Linear's too) and `bias` [outputs].
    """
    if len(raw) < 16 or raw[:4] != MAGIC:
        raise FormatError("not an .fmlp file (magic)")
    version, header_len, file_len = struct.unpack("<HHI", raw[4:PREAMBLE_LEN])
    if version != FORMAT_VERSION:
        raise FormatError(f"format version {version}, this reader knows {FORMAT_VERSION}")
    if file_len != len(raw):
        raise FormatError(f"file length field {file_len}, actual {len(raw)}")
    (stored_crc,) = struct.unpack("<I", raw[-4:])
    if zlib.crc32(raw[:-4]) != stored_crc:
        raise FormatError("CRC-32 mismatch")
    header_end = PREAMBLE_LEN + header_len
    data_start = (header_end + 3) & ~3
    if data_start > len(raw) - 4:
        raise FormatError("header overruns the file")
    if any(raw[header_end:data_start]):
        raise FormatError("non-zero padding")

    r = HeaderReader(raw[PREAMBLE_LEN:header_end])
    model = {"variant": r.string()}
    model["seed"], model["epochs"] = r.varint(64), r.varint(32)
    model["test_accuracy"], model["note"] = r.f32(), r.string()
    model["width"], model["height"], model["scale"] = r.varint(16), r.varint(16), r.f32()
    model["class_names"] = [r.string() for _ in range(r.varint(32))]
    layer_fields = [
        (r.varint(32), r.varint(32), r.enum(ACTIVATIONS), r.enum(("row_major_out_in",)),
         r.varint(32), r.varint(32))
        for _ in range(r.varint(32))
    ]
    if r.pos != header_len:
        raise FormatError(f"header decodes to {r.pos} bytes, declared {header_len}")
    if not 1 <= len(model["class_names"]) <= 16 or not 1 <= len(layer_fields) <= 8:
        raise FormatError("1-16 class names and 1-8 layers expected")

    data = np.frombuffer(raw, dtype="<f4", count=(len(raw) - 4 - data_start) // 4,
                         offset=data_start)
    if data_start + 4 * data.size != len(raw) - 4:
        raise FormatError("data section is not a whole number of f32 values")
    model["layers"] = []
    expected_inputs, offset = model["width"] * model["height"], 0
    for index, (inputs, outputs, activation, _, w_off, b_off) in enumerate(layer_fields):
        if inputs != expected_inputs or outputs == 0:
            raise FormatError(f"layer {index}: {inputs}->{outputs} after {expected_inputs}")
        if ACTIVATIONS[activation] == "softmax" and index != len(layer_fields) - 1:
            raise FormatError(f"layer {index}: softmax before the last layer")
        if (w_off, b_off) != (offset, offset + inputs * outputs):
            raise FormatError(f"layer {index}: offsets ({w_off}, {b_off}) not canonical")
        offset = b_off + outputs
        model["layers"].append({
            "activation": ACTIVATIONS[activation],
            "weights": data[w_off:b_off].reshape(outputs, inputs).astype(np.float32),
            "bias": data[b_off:offset].astype(np.float32),
        })
        expected_inputs = outputs
    if expected_inputs != len(model["class_names"]):
        raise FormatError("last layer's outputs differ from the number of class names")
    if offset != data.size:
        raise FormatError(f"data section holds {data.size} values, layers use {offset}")
    if not np.isfinite(data).all():
        raise FormatError("non-finite weight or bias")
    return model


def onnx_graph(model):
    """Gemm(transB=1) [+ Relu] per layer, then Softmax, as the firmware computes it."""
    nodes, initializers = [], []
    x = "pixels"
    for i, layer in enumerate(model["layers"]):
        w, b, y = f"w{i}", f"b{i}", f"dense{i}"
        initializers += [numpy_helper.from_array(layer["weights"], w),
                         numpy_helper.from_array(layer["bias"], b)]
        nodes.append(helper.make_node("Gemm", [x, w, b], [y], transB=1))
        if layer["activation"] == "relu":
            nodes.append(helper.make_node("Relu", [y], [f"relu{i}"]))
            y = f"relu{i}"
        x = y
    # The firmware applies softmax after the last layer whatever its declared activation.
    nodes.append(helper.make_node("Softmax", [x], ["probabilities"], axis=1))
    inputs = model["width"] * model["height"]
    classes = len(model["class_names"])
    graph = helper.make_graph(
        nodes, f"fmlp_{model['variant']}",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, [1, inputs])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, classes])],
        initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)])
    proto.ir_version = ONNX_IR_VERSION
    onnx.checker.check_model(proto)
    return proto


def time_calls(call, inputs, iters, warmup):
    """Calls `call` on the inputs in turn (cycling); returns each timed call's microseconds."""
    for i in range(warmup):
        call(inputs[i % len(inputs)])
    times = np.empty(iters)
    clock = time.perf_counter_ns
    for i in range(iters):
        x = inputs[i % len(inputs)]
        started = clock()
        call(x)
        times[i] = clock() - started
    return times / 1000.0


def summary(name, times_us):
    p10, p50, p90 = np.percentile(times_us, [10, 50, 90])
    print(f"{name:<11} median {p50:7.2f} us   p10 {p10:7.2f} us   p90 {p90:7.2f} us   "
          f"({len(times_us)} calls)")
    return p50


def identity_graph(inputs):
    """One Identity node, [1, inputs] in and out: what a call costs with no work in it."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["pixels"], ["probabilities"])], "call_floor",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, [1, inputs])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, inputs])])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)])
    proto.ir_version = ONNX_IR_VERSION
    onnx.checker.check_model(proto)
    return proto


def single_threaded_session(proto):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(proto.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def time_bound(session, values, outputs, iters, warmup):
    """Times session calls through IOBinding, the cheapest path from Python: inputs wrapped
    beforehand, the output written into one preallocated tensor. (run_with_ort_values, which
    looks as cheap, measured 4-6x slower here.)"""
    output = ort.OrtValue.ortvalue_from_numpy(np.zeros((1, outputs), dtype=np.float32))
    binding = session.io_binding()
    binding.bind_ortvalue_output("probabilities", output)

    def run_bound(value):
        binding.bind_ortvalue_input("pixels", value)
        session.run_with_iobinding(binding)

    return time_calls(run_bound, values, iters, warmup)


class Calibration(CalibrationDataReader):
    """Feeds quantize_static the calibration images, one [1, 784] float32 array at a time."""

    def __init__(self, images):
        self.images = iter(images)

    def get_next(self):
        x = next(self.images, None)
        return None if x is None else {"pixels": x}


def int8_graph(proto, calibration, quant_format, activation_type):
    """onnxruntime's own static quantization of `proto`: int8 weights symmetric per output
    channel, activations of `activation_type` with ranges by min/max over the calibration
    images (as our quantizer does), in the given QuantFormat (QDQ or QOperator)."""
    with tempfile.TemporaryDirectory() as tmp:
        f32_path, int8_path = Path(tmp) / "f32.onnx", Path(tmp) / "int8.onnx"
        onnx.save(proto, f32_path)
        # quantize_static advises quant_pre_process (shape inference, constant folding): a
        # chain of Gemms has nothing for it to do, so the advice is silenced.
        logging.disable(logging.WARNING)
        quantize_static(f32_path, int8_path, Calibration(calibration),
                        quant_format=quant_format, per_channel=True,
                        activation_type=activation_type, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
        logging.disable(logging.NOTSET)
        return onnx.load(int8_path)


def bench_graph(name, proto, values, classes, iters, warmup):
    """Times one graph through IOBinding; returns its median (µs) and session."""
    session = single_threaded_session(proto)
    return summary(name, time_bound(session, values, classes, iters, warmup)), session


def predictions(session, images):
    return np.array([session.run(None, {"pixels": x})[0].argmax() for x in images])


def bench_onnxruntime(model, images, iters, warmup):
    """Times onnxruntime through IOBinding and through run(), and the IOBinding call floor
    (an Identity graph); returns the three medians (µs) and the predicted classes."""
    values = [ort.OrtValue.ortvalue_from_numpy(x) for x in images]
    classes = len(model["class_names"])
    bound_us, session = bench_graph("ort binding", onnx_graph(model), values, classes,
                                    iters, warmup)
    floor = single_threaded_session(identity_graph(images[0].size))
    floor_us = summary("ort floor", time_bound(floor, values, images[0].size, iters, warmup))
    # The ordinary API: a numpy array in, a new numpy array out.
    run_us = summary("ort run()", time_calls(
        lambda x: session.run(None, {"pixels": x}), images, iters, warmup))
    return bound_us, floor_us, run_us, predictions(session, images)


def bench_int8(model, images, calibration, iters, warmup):
    """Times onnxruntime's statically quantized int8 graph in each QuantFormat through
    IOBinding; returns {format name: (median µs, predicted classes)}."""
    values = [ort.OrtValue.ortvalue_from_numpy(x) for x in images]
    classes = len(model["class_names"])
    timings = {}
    for name, (quant_format, activation_type) in INT8_FORMATS.items():
        proto = int8_graph(onnx_graph(model), calibration, quant_format, activation_type)
        us, session = bench_graph(f"ort {name}", proto, values, classes, iters, warmup)
        timings[name] = (us, predictions(session, images))
    return timings


def bench_torch(torch, model, images, iters, warmup):
    """Median µs per image in PyTorch eager (no_grad, one thread), and its predicted classes."""
    torch.set_num_threads(1)
    layers = []
    for layer in model["layers"]:
        outputs, inputs = layer["weights"].shape
        linear = torch.nn.Linear(inputs, outputs)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(layer["weights"]))  # both [out, in]
            linear.bias.copy_(torch.from_numpy(layer["bias"]))
        layers.append(linear)
        if layer["activation"] == "relu":
            layers.append(torch.nn.ReLU())
    layers.append(torch.nn.Softmax(dim=1))
    net = torch.nn.Sequential(*layers).eval()
    tensors = [torch.from_numpy(x) for x in images]
    with torch.no_grad():
        times = time_calls(net, tensors, iters, warmup)
        predicted = np.array([int(net(x).argmax()) for x in tensors])
    return summary("torch eager", times), predicted


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", metavar="MODEL", type=Path, help="an .fmlp model file")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="directory of the gzip IDX files (default: %(default)s)")
    parser.add_argument("--images", type=positive_int, default=1000,
                        help="first N test images, cycled through (default: 1000)")
    parser.add_argument("--calibration", type=positive_int, default=1000,
                        help="int8: calibrate on the first N training images, as `trainer "
                             "quantize` does (default: 1000)")
    parser.add_argument("--no-int8", action="store_true",
                        help="skip onnxruntime's int8 versions of the model")
    parser.add_argument("--iters", type=positive_int, default=20_000,
                        help="timed calls per runtime, after a warm-up of a tenth as many "
                             "(at least 1000) (default: 20000)")
    return parser.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    try:
        model = decode_fmlp(args.model.read_bytes())
    except FormatError as e:
        sys.exit(f"{args.model}: {e}")
    pixels = read_idx(args.data / "t10k-images-idx3-ubyte.gz", IDX_IMAGES_MAGIC)[:args.images]
    labels = read_idx(args.data / "t10k-labels-idx1-ubyte.gz", IDX_LABELS_MAGIC)[:args.images]
    inputs = model["width"] * model["height"]
    scale = np.float32(model["scale"])
    images = [np.ascontiguousarray(p.reshape(1, inputs).astype(np.float32) * scale)
              for p in pixels]
    shape = " -> ".join([str(inputs)] + [str(layer["bias"].size) for layer in model["layers"]])
    print(f"{args.model}: variant {model['variant']}, {shape}, test accuracy at export "
          f"{model['test_accuracy']:.4f}; note: {model['note']}")
    print(f"onnxruntime {ort.__version__}; {len(images)} images, {args.iters} timed calls each")

    warmup = max(1000, args.iters // 10)
    ort_us, floor_us, ort_run_us, ort_pred = bench_onnxruntime(
        model, images, args.iters, warmup)
    # ort_net_us: the model's own time, without what Python and the binding cost per call.
    result = (f"RESULT model={args.model} ort_median_us={ort_us:.2f} "
              f"ort_floor_us={floor_us:.2f} ort_net_us={ort_us - floor_us:.2f} "
              f"ort_run_median_us={ort_run_us:.2f}")
    accuracy = f"top-1 on these images: onnxruntime {np.mean(ort_pred == labels):.4f}"
    if not args.no_int8:
        train = read_idx(args.data / "train-images-idx3-ubyte.gz", IDX_IMAGES_MAGIC)
        calibration = [np.ascontiguousarray(p.reshape(1, inputs).astype(np.float32) * scale)
                       for p in train[:args.calibration]]
        int8 = bench_int8(model, images, calibration, args.iters, warmup)
        for name, (us, pred) in int8.items():
            key = name.split()[1].lower()
            result += f" ort_int8_{key}_median_us={us:.2f} ort_int8_{key}_net_us={us - floor_us:.2f}"
            accuracy += (f", {name} {np.mean(pred == labels):.4f} "
                         f"(argmax agreement with f32 {np.mean(pred == ort_pred):.4f})")
        # The faster form is the one an onnxruntime user would ship: compare with that.
        best = min(int8, key=lambda name: int8[name][0])
        result += (f" ort_int8_format={best.split()[1]} "
                   f"ort_int8_net_us={int8[best][0] - floor_us:.2f}")
    try:
        import torch
    except ImportError:
        print("torch is not importable: PyTorch eager skipped")
        result += " torch_median_us=nan"
    else:
        torch_us, torch_pred = bench_torch(torch, model, images, args.iters, warmup)
        result += f" torch_median_us={torch_us:.2f}"
        accuracy += (f", torch {np.mean(torch_pred == labels):.4f} "
                     f"(argmax agreement {np.mean(torch_pred == ort_pred):.4f})")
    print(accuracy)
    print(result)


if __name__ == "__main__":
    main(sys.argv[1:])
