#!/usr/bin/env python3
"""Writes the Keras / TFLite side of the import test fixtures (issue #12) into tests/fixtures/import/.

What it makes (one 784 -> 16 -> 12 -> 10 Keras MLP in the notebook's batch-norm form: Dense(relu)
-> BatchNormalization -> Dropout, twice, then Dense(softmax)):

  keras_bn.tflite            the float32 TFLite conversion
  keras_bn_int8.tflite       full-integer int8 (TFLiteConverter with a representative dataset of
                             the first 500 *training* images, TFLITE_BUILTINS_INT8, int8 input and
                             output); per-channel weight scales, as the converter writes them
  keras_bn_int8_pt.tflite    the same, with per-tensor weight scales
                             (`_experimental_disable_per_channel`)
  keras_bn.onnx              the Keras model through tf2onnx (MatMul + Add, not Gemm), if tf2onnx
                             can convert this Keras version; skipped with a message otherwise
  <name>.out.f32 / .out.i8   the reference outputs: float files run by the TFLite interpreter
                             (ai-edge-litert) with its reference kernels (BUILTIN_REF) or by
                             onnxruntime; int8 files give the raw int8 output tensor. Measured
                             (tests/import_tflite.rs): this interpreter requantizes int8 as
                             round(acc * in_scale * w_scale / out_scale) in double, not with
                             TFLM's default double-rounding Q31 multiply, so its int8 outputs
                             differ by one from TFLM's (and our firmware's) on 4-7 % of them
  <name>.logits.f32 / .i8    the input of the SOFTMAX op (the last FULLY_CONNECTED's output),
                             read with the interpreter's experimental_preserve_all_tensors; for
                             int8 these are the integers our int8 engine must reproduce exactly
  manifest-keras.json        test images (the first N of t10k), versions, quantization parameters
                             of the int8 input and output, accuracies

The int8 inputs are the u8 pixels minus 128: the script checks that the converter chose input scale
1/255 and zero point -128, so that `q = p - 128` is the exact quantization of `p / 255`, and fails
otherwise (then the committed tests could not reproduce the interpreter's inputs).

Regenerate (about a minute):

    /work/venv-tf/bin/pip install tensorflow-cpu==2.21.0 ai-edge-litert tf2onnx onnxruntime
    /work/venv-tf/bin/python trainer/benches/reference/import_fixtures_keras.py

Full-size reference (not committed): `--full DIR` trains the notebook's batch-norm model
(784 -> 196 -> 49 -> 10) the same way, converts it the same three ways and records the
interpreter's outputs on all 10,000 test images into DIR (outside the checkout; about 2 MB).
The ignored test `tflite_full_test_set_matches_the_interpreter` reads it:

    /work/venv-tf/bin/python trainer/benches/reference/import_fixtures_keras.py --full /tmp/fmlp-tflite-full
    TFLITE_FULL_DIR=/tmp/fmlp-tflite-full cargo test --release -p tests --test tests tflite_full -- --ignored --nocapture
"""

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from fashion_idx import DEFAULT_DATA, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, read_idx

REPO = Path(__file__).resolve().parents[3]
DEFAULT_OUT = REPO / "tests" / "fixtures" / "import"
IMAGE_PIXELS = 28 * 28
HIDDEN = (16, 12)
FULL_HIDDEN = (196, 49)  # the notebook's bn model
CLASSES = 10
CALIBRATION = 500


def build(hidden):
    layers = [tf.keras.Input(shape=(IMAGE_PIXELS,))]
    for width in hidden:
        layers += [tf.keras.layers.Dense(width, activation="relu"),
                   tf.keras.layers.BatchNormalization(), tf.keras.layers.Dropout(0.2)]
    layers.append(tf.keras.layers.Dense(CLASSES, activation="softmax"))
    model = tf.keras.Sequential(layers)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def convert(model, train_x, int8, per_channel=True):
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        def representative():
            for row in train_x[:CALIBRATION]:
                yield [row[None, :]]
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
        if not per_channel:
            converter._experimental_disable_per_channel = True
    return converter.convert()


def run_tflite(path, x):
    """The output tensor per image, and the SOFTMAX op's input (the last FULLY_CONNECTED's
    output: the logits) read back with the interpreter's preserve-all-tensors option."""
    interpreter = Interpreter(model_path=str(path), num_threads=1,
                              experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                              experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    softmax = [op for op in interpreter._get_ops_details() if op["op_name"] == "SOFTMAX"]
    logits_index = softmax[-1]["inputs"][0]
    rows, logits = [], []
    for row in x:
        interpreter.set_tensor(inp["index"], row[None, :].astype(inp["dtype"]))
        interpreter.invoke()
        rows.append(interpreter.get_tensor(out["index"])[0].copy())
        logits.append(interpreter.get_tensor(logits_index)[0].copy())
    return np.stack(rows), np.stack(logits), inp, out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--full", type=Path, metavar="DIR",
                        help="the full-size model on all 10,000 test images, into DIR")
    args = parser.parse_args()
    hidden = HIDDEN
    if args.full is not None:
        args.out, args.images, hidden = args.full, 10_000, FULL_HIDDEN
    tf.keras.utils.set_random_seed(args.seed)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)

    train_u8 = read_idx(args.data / "train-images-idx3-ubyte.gz", IDX_IMAGES_MAGIC)
    train_y = read_idx(args.data / "train-labels-idx1-ubyte.gz", IDX_LABELS_MAGIC)
    test_u8 = read_idx(args.data / "t10k-images-idx3-ubyte.gz", IDX_IMAGES_MAGIC)
    test_y = read_idx(args.data / "t10k-labels-idx1-ubyte.gz", IDX_LABELS_MAGIC)
    train_x = train_u8.reshape(-1, IMAGE_PIXELS).astype(np.float32) / 255.0
    probe_u8 = test_u8[:args.images].reshape(-1, IMAGE_PIXELS)
    probe = probe_u8.astype(np.float32) / 255.0
    labels = test_y[:args.images]

    model = build(hidden)
    model.fit(train_x, train_y, epochs=2, batch_size=64, verbose=0)
    keras_out = model.predict(probe, verbose=0)

    manifest = {
        "script": "trainer/benches/reference/import_fixtures_keras.py",
        "tensorflow": tf.__version__,
        "hidden": list(hidden),
        "images": {"set": "t10k", "first": args.images,
                   "input": "float: u8 pixel / 255; int8: u8 pixel - 128"},
        "models": {},
    }
    for name, int8, per_channel in (("keras_bn", False, True), ("keras_bn_int8", True, True),
                                    ("keras_bn_int8_pt", True, False)):
        path = args.out / f"{name}.tflite"
        path.write_bytes(convert(model, train_x, int8, per_channel))
        if int8:
            x = probe_u8.astype(np.int16) - 128
        else:
            x = probe
        out, logits, inp, outp = run_tflite(path, x)
        entry = {"outputs": list(out.shape), "size": path.stat().st_size}
        if int8:
            scale, zero = inp["quantization"]
            if zero != -128 or not np.isclose(scale, 1 / 255, rtol=1e-6):
                sys.exit(f"{name}: input quantization ({scale}, {zero}) is not (1/255, -128)")
            entry["input_quantization"] = [float(scale), int(zero)]
            entry["output_quantization"] = [float(outp["quantization"][0]),
                                            int(outp["quantization"][1])]
            out.astype(np.int8).tofile(args.out / f"{name}.out.i8")
            logits.astype(np.int8).tofile(args.out / f"{name}.logits.i8")
            probs = (out.astype(np.float32) - outp["quantization"][1]) * outp["quantization"][0]
        else:
            np.ascontiguousarray(out, dtype="<f4").tofile(args.out / f"{name}.out.f32")
            np.ascontiguousarray(logits, dtype="<f4").tofile(args.out / f"{name}.logits.f32")
            probs = out
            entry["max_abs_keras_vs_tflite"] = float(np.abs(out - keras_out).max())
        entry["accuracy"] = float((probs.argmax(1) == labels).mean())
        entry["argmax_agreement_with_keras"] = float(
            (probs.argmax(1) == keras_out.argmax(1)).mean())
        manifest["models"][path.name] = entry
        print(f"{path.name}: {entry['size']} B, accuracy {entry['accuracy']:.3f}", file=sys.stderr)

    if args.full is not None:
        (args.out / "manifest-keras.json").write_text(json.dumps(manifest, indent=2) + "\n")
        return
    try:
        import tf2onnx
        import onnxruntime as ort

        path = args.out / "keras_bn.onnx"
        spec = (tf.TensorSpec((1, IMAGE_PIXELS), tf.float32, name="input"),)
        tf2onnx.convert.from_keras(model, input_signature=spec, opset=17, output_path=str(path))
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        out = np.concatenate([session.run(None, {name: probe[i:i + 1]})[0]
                              for i in range(len(probe))]).astype(np.float32)
        np.ascontiguousarray(out, dtype="<f4").tofile(args.out / "keras_bn.onnx.out.f32")
        manifest["models"][path.name] = {
            "outputs": list(out.shape), "exporter": f"tf2onnx {tf2onnx.__version__}",
            "accuracy": float((out.argmax(1) == labels).mean()),
            "max_abs_keras_vs_ort": float(np.abs(out - keras_out).max()),
        }
        print(f"{path.name}: {path.stat().st_size} B", file=sys.stderr)
    except Exception as error:  # tf2onnx lags Keras releases; the TFLite files do not need it
        print(f"keras_bn.onnx skipped: tf2onnx failed: {error}", file=sys.stderr)

    (args.out / "manifest-keras.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
