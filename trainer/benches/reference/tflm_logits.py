#!/usr/bin/env python3
"""Records TensorFlow Lite Micro's int8 logits for the int8 TFLite import fixtures (issue #12).

TFLM is the interpreter microcontrollers run; its kernels requantize with TFLite's default
double-rounding `MultiplyByQuantizedMultiplier` (SaturatingRoundingDoublingHighMul, then
RoundingDivideByPOT) with Q31 multipliers, as CMSIS-NN does and as our firmware does. The desktop
interpreter the fixtures' `.logits.i8` come from (ai-edge-litert, see import_fixtures_keras.py)
rounds `acc * in_scale * w_scale / out_scale` in double instead, so it differs from TFLM by one
on a few percent of the int8 outputs; the tests hold the firmware to TFLM's integers exactly and
count the desktop interpreter's differences.

For each `keras_bn_int8*.tflite` in DIR it runs TFLM's Python interpreter (the `tflite-micro`
package, reference kernels, `kPreserveAllTensors` so the input of the last SOFTMAX, the last
FULLY_CONNECTED's output, can be read after each invoke) on the first N Fashion-MNIST test images
(int8 input `p - 128`) and writes `<name>.tflm.logits.i8`, row-major [images, 10]:

    /work/venv-tf/bin/pip install tflite-micro ai-edge-litert numpy
    /work/venv-tf/bin/python trainer/benches/reference/tflm_logits.py                 # the fixtures, 300 images
    /work/venv-tf/bin/python trainer/benches/reference/tflm_logits.py --dir /tmp/fmlp-tflite-full --images 10000
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter
from tflite_micro.python.tflite_micro import runtime

from fashion_idx import DEFAULT_DATA, IDX_IMAGES_MAGIC, read_idx

REPO = Path(__file__).resolve().parents[3]


def softmax_input(path):
    """The tensor index the last SOFTMAX reads (found with LiteRT's op details)."""
    ops = Interpreter(model_path=str(path))._get_ops_details()
    softmax = [op for op in ops if op["op_name"] == "SOFTMAX"]
    if not softmax:
        sys.exit(f"{path}: no SOFTMAX")
    return int(softmax[-1]["inputs"][0])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=REPO / "tests" / "fixtures" / "import")
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    images = read_idx(args.data / "t10k-images-idx3-ubyte.gz", IDX_IMAGES_MAGIC)
    q = (images[:args.images].reshape(-1, 784).astype(np.int16) - 128).astype(np.int8)
    for path in sorted(args.dir.glob("keras_bn_int8*.tflite")):
        logits = softmax_input(path)
        tflm = runtime.Interpreter.from_file(
            str(path), intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)
        rows = []
        for i in range(len(q)):
            tflm.set_input(q[i:i + 1], 0)
            tflm.invoke()
            # A dict of the tensor's details; its values are under "tensor_data".
            rows.append(np.asarray(tflm.GetTensor(logits, 0)["tensor_data"]).reshape(-1))
        out = np.stack(rows).astype(np.int8)
        target = args.dir / f"{path.stem}.tflm.logits.i8"
        out.tofile(target)
        desktop = args.dir / f"{path.stem}.logits.i8"
        note = ""
        if desktop.exists():
            ref = np.fromfile(desktop, dtype=np.int8).reshape(out.shape)
            note = f"; {int((ref != out).sum())} differ from the desktop interpreter's"
        print(f"{target.name}: {out.shape[0]} x {out.shape[1]} int8 logits{note}", file=sys.stderr)


if __name__ == "__main__":
    main()
