#!/usr/bin/env python3
"""Writes the PyTorch side of the import test fixtures (issue #12) into tests/fixtures/import/.

What it makes, each file small (a 784 -> 16 -> 12 -> 10 MLP is about 51 KB of f32 weights):

  torch_bn_after_relu.onnx         Linear -> ReLU -> BatchNorm1d -> Dropout, twice, then Linear and
                                   Softmax; the dynamo exporter (torch.onnx.export(dynamo=True)).
  torch_bn_after_relu_legacy.onnx  the same weights through the legacy TorchScript exporter.
  torch_bn_before_relu_legacy.onnx Linear -> BatchNorm1d -> ReLU, twice, then Linear (logits, no
                                   Softmax); the legacy exporter (dynamo's optimiser would fold
                                   the BatchNormalization into the Gemm itself).
  torch_matmul_add_legacy.onnx     x @ W + b layers with W stored [in, out] (MatMul + Add with an
                                   [in, out] initializer, which the importer transposes), ReLU,
                                   BatchNorm1d after it, logits last; the legacy exporter.
  torch_wine.onnx                  a non-image model: scikit-learn's bundled wine data set (13
                                   chemical measurements -> 3 cultivars), 13 -> 8 -> 3, f32 inputs
                                   standardised by the script (the mean and scale are in the
                                   manifest); the dynamo exporter.
  <name>.out.f32                   onnxruntime's outputs of each model (CPU provider, one thread),
                                   little-endian f32, row-major [images, outputs]
  torch_wine.in.f32                the wine inputs those outputs came from (standardised f32)
  manifest-torch.json              which test images (the first N of Fashion-MNIST's t10k set, pixels
                                   as u8 / 255), the shapes, the versions and each model's test
                                   accuracy in onnxruntime

The Fashion-MNIST models train for 2 epochs on the 60,000 training images (Adam 1e-3, batch 64,
seed 0): the point is a real trained model with non-trivial BatchNorm statistics, not accuracy.
BatchNorm uses Keras's epsilon 1e-3 so that a reader that ignored the node's epsilon (and used
PyTorch's 1e-5) would fail the tolerance. The test images the outputs are recorded on are never
trained on.

Regenerate (about 30 s; the Python packages are the reference venv's, see README.md here):

    /work/venv-torch/bin/pip install torch==2.15.0 onnx onnxscript onnxruntime scikit-learn numpy
    /work/venv-torch/bin/python trainer/benches/reference/import_fixtures_torch.py

With `--full DIR` it writes instead, into DIR (outside the repository: about 3.2 MB), the
notebook's width, 784 -> 196 -> 49 -> 10, of the two Fashion-MNIST models, trained for 5 epochs,
with onnxruntime's outputs on all 10,000 test images; `cargo bench -p tests --bench
import_parity -- DIR` then imports each and compares (the README's "Bring your own model"):

    /work/venv-torch/bin/python trainer/benches/reference/import_fixtures_torch.py --full /tmp/fmlp-import-full

Runs are deterministic on one thread for one torch version, but a new torch may round a weight
differently: commit the files together, never one of them alone.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn
from torch.nn import functional as F

from fashion_idx import DEFAULT_DATA, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, read_idx

REPO = Path(__file__).resolve().parents[3]
DEFAULT_OUT = REPO / "tests" / "fixtures" / "import"
IMAGE_PIXELS = 28 * 28
HIDDEN = (16, 12)
CLASSES = 10
EPOCHS = 2
BATCH = 64
FULL_HIDDEN = (196, 49)  # the notebook's widths (the trainer's vanilla shape)
FULL_EPOCHS = 5
BN_EPS = 1e-3  # Keras's default; PyTorch's is 1e-5


def dense(inputs, outputs):
    layer = nn.Linear(inputs, outputs)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def bn_after_relu(hidden=HIDDEN):
    layers, inputs = [], IMAGE_PIXELS
    for width in hidden:
        layers += [dense(inputs, width), nn.ReLU(),
                   nn.BatchNorm1d(width, eps=BN_EPS, momentum=0.01), nn.Dropout(0.2)]
        inputs = width
    layers += [dense(inputs, CLASSES), nn.Softmax(dim=1)]
    return nn.Sequential(*layers)


def bn_before_relu(hidden=HIDDEN):
    layers, inputs = [], IMAGE_PIXELS
    for width in hidden:
        layers += [dense(inputs, width), nn.BatchNorm1d(width, eps=BN_EPS, momentum=0.01),
                   nn.ReLU()]
        inputs = width
    layers.append(dense(inputs, CLASSES))
    return nn.Sequential(*layers)


class MatMulAdd(nn.Module):
    """`x @ W + b` with `W` stored `[in, out]` (Keras's and burn's layout): the exporter writes
    ONNX `MatMul` + `Add` with an `[in, out]` initializer, which the importer must transpose."""

    def __init__(self, inputs, outputs):
        super().__init__()
        w = torch.empty(outputs, inputs)
        nn.init.xavier_uniform_(w)
        self.weight = nn.Parameter(w.t().contiguous())
        self.bias = nn.Parameter(torch.zeros(outputs))

    def forward(self, x):
        return torch.matmul(x, self.weight) + self.bias


def matmul_add(hidden=HIDDEN):
    """MatMul + Add layers, BatchNorm after the ReLU, logits last."""
    layers, inputs = [], IMAGE_PIXELS
    for width in hidden:
        layers += [MatMulAdd(inputs, width), nn.ReLU(),
                   nn.BatchNorm1d(width, eps=BN_EPS, momentum=0.01)]
        inputs = width
    layers.append(MatMulAdd(inputs, CLASSES))
    return nn.Sequential(*layers)


def train(model, x, y, epochs, batch, seed):
    """Adam on logits; a trailing Softmax module is skipped while training."""
    generator = torch.Generator().manual_seed(seed)
    body = model[:-1] if isinstance(model[-1], nn.Softmax) else model
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=generator)
        for start in range(0, len(y), batch):
            idx = order[start:start + batch]
            loss = F.cross_entropy(body(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    model.eval()


def export(model, example, path, dynamo):
    """One self-contained file. The dynamo export has a fixed batch of 1 (what a device runs);
    the legacy export a symbolic batch dimension, as `dynamic_axes` users write it."""
    if dynamo:
        torch.onnx.export(model, (example,), str(path), dynamo=True, external_data=False,
                          input_names=["input"], output_names=["output"], opset_version=18)
    else:
        torch.onnx.export(model, (example,), str(path), dynamo=False, input_names=["input"],
                          output_names=["output"], opset_version=17,
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    onnx.checker.check_model(onnx.load(str(path)))


def run_ort(path, x):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    if session.get_inputs()[0].shape[0] == 1:  # fixed batch of one: image by image
        rows = [session.run(None, {name: x[i:i + 1]})[0] for i in range(len(x))]
        return np.concatenate(rows).astype(np.float32)
    return np.asarray(session.run(None, {name: x})[0], dtype=np.float32)


def write_f32(path, array):
    np.ascontiguousarray(array, dtype="<f4").tofile(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--images", type=int, default=300,
                        help="first N test images whose outputs are recorded (default 300)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--full", type=Path, metavar="DIR",
                        help="write full-size models (784-196-49-10, 5 epochs) and their outputs "
                             "on all 10,000 test images into DIR instead of the fixtures")
    args = parser.parse_args()
    hidden, epochs = HIDDEN, EPOCHS
    if args.full is not None:
        args.out, args.images, hidden, epochs = args.full, 10_000, FULL_HIDDEN, FULL_EPOCHS
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)

    train_x = read_idx(args.data / "train-images-idx3-ubyte.gz", IDX_IMAGES_MAGIC)
    train_y = read_idx(args.data / "train-labels-idx1-ubyte.gz", IDX_LABELS_MAGIC)
    test_x = read_idx(args.data / "t10k-images-idx3-ubyte.gz", IDX_IMAGES_MAGIC)
    test_y = read_idx(args.data / "t10k-labels-idx1-ubyte.gz", IDX_LABELS_MAGIC)
    x = torch.from_numpy(train_x.reshape(-1, IMAGE_PIXELS).astype(np.float32) / 255.0)
    y = torch.from_numpy(train_y.astype(np.int64))
    probe = test_x[:args.images].reshape(-1, IMAGE_PIXELS).astype(np.float32) / 255.0
    labels = test_y[:args.images]
    example = torch.from_numpy(probe[:1])

    manifest = {
        "script": "trainer/benches/reference/import_fixtures_torch.py",
        "torch": torch.__version__, "onnx": onnx.__version__, "onnxruntime": ort.__version__,
        "images": {"set": "t10k", "first": args.images, "input": "u8 pixel / 255 as f32"},
        "models": {},
    }
    fashion = [
        ("torch_bn_after_relu", bn_after_relu, (("", True), ("_legacy", False))),
        # Legacy only: the dynamo exporter's optimiser folds a BatchNormalization that directly
        # follows a Gemm into the Gemm, leaving nothing for the importer to fold.
        ("torch_bn_before_relu", bn_before_relu, (("_legacy", False),)),
    ]
    for entry in fashion:
        fashion_model(args, manifest, entry, (x, y, probe, labels, example), hidden, epochs)
    if args.full is None:
        wine_model(args, manifest)
    # After the wine model, so that the models above draw the same random numbers as before it
    # was added (their files are unchanged): `[in, out]` weights through MatMul + Add, the
    # transposing path of the importer.
    fashion_model(args, manifest, ("torch_matmul_add", matmul_add, (("_legacy", False),)),
                  (x, y, probe, labels, example), hidden, epochs)
    (args.out / "manifest-torch.json").write_text(json.dumps(manifest, indent=2) + "\n")


def fashion_model(args, manifest, entry, data, hidden, epochs):
    """Trains one Fashion-MNIST model, exports it in each form, records onnxruntime's outputs."""
    name, build, forms = entry
    x, y, probe, labels, example = data
    model = build(hidden)
    train(model, x, y, epochs, BATCH, args.seed)
    for suffix, dynamo in forms:
        path = args.out / f"{name}{suffix}.onnx"
        export(model, example, path, dynamo)
        out = run_ort(path, probe)
        with torch.no_grad():
            ours = model(torch.from_numpy(probe)).numpy()
        write_f32(args.out / f"{name}{suffix}.out.f32", out)
        manifest["models"][path.name] = {
            "outputs": list(out.shape), "exporter": "dynamo" if dynamo else "legacy",
            "softmax": isinstance(model[-1], nn.Softmax),
            "accuracy": float((out.argmax(1) == labels).mean()),
            "max_abs_torch_vs_ort": float(np.abs(out - ours).max()),
        }
        print(f"{path.name}: {path.stat().st_size} B, accuracy "
              f"{manifest['models'][path.name]['accuracy']:.3f} on {args.images} images",
              file=sys.stderr)


def wine_model(args, manifest):
    """13 measurements -> 3 cultivars; trained on every other sample, outputs on all 178."""
    from sklearn.datasets import load_wine

    data = load_wine()
    features = data.data.astype(np.float32)
    train_rows = np.arange(len(features)) % 2 == 0
    mean = features[train_rows].mean(0)
    scale = features[train_rows].std(0)
    inputs = ((features - mean) / scale).astype(np.float32)
    model = nn.Sequential(dense(13, 8), nn.ReLU(), dense(8, 3))
    x = torch.from_numpy(inputs[train_rows])
    y = torch.from_numpy(data.target[train_rows].astype(np.int64))
    train(model, x, y, epochs=200, batch=16, seed=args.seed)
    path = args.out / "torch_wine.onnx"
    export(model, torch.from_numpy(inputs[:1]), path, dynamo=True)
    out = run_ort(path, inputs)
    write_f32(args.out / "torch_wine.in.f32", inputs)
    write_f32(args.out / "torch_wine.out.f32", out)
    held_out = ~train_rows
    manifest["models"][path.name] = {
        "outputs": list(out.shape), "inputs": list(inputs.shape), "exporter": "dynamo",
        "data": "sklearn.datasets.load_wine; even rows trained on, odd rows held out",
        "standardise_mean": mean.tolist(), "standardise_scale": scale.tolist(),
        "held_out_accuracy": float((out[held_out].argmax(1) == data.target[held_out]).mean()),
    }
    print(f"{path.name}: {path.stat().st_size} B, held-out accuracy "
          f"{manifest['models'][path.name]['held_out_accuracy']:.3f}", file=sys.stderr)


if __name__ == "__main__":
    main()
