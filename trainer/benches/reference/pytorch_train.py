#!/usr/bin/env python3
"""Seconds per training epoch of the notebook's four MLPs in PyTorch, as a reference.

What it measures: for each variant, the wall time (time.perf_counter) of one epoch at batch 8
on the real Fashion-MNIST, i.e. one pass over the 50,000 training images (6,250 Adam steps,
shuffled anew each epoch) plus a validation pass over the last 10,000 training images (eval
mode, no grad, 1,000 images per batch). Each step reads the batch loss and accuracy back, as
Keras's progress bar and our trainer do. The median over the epochs is reported.

These are the same conditions as our Rust command

    cargo run --release -p trainer -- bench

which prints the median seconds per epoch of each variant at batch 8, validation included, on
one thread (default 3 epochs), so the RESULT lines below compare with its table directly
(`--adam default` and `--adam fused` are its "PyTorch" and "PyTorch fused Adam" columns).
Run both back to back on an otherwise idle machine: on a shared VM the epoch times drift.

The models match the notebook's Keras ones: Dense = nn.Linear with Glorot-uniform weights and
zero biases; hidden layers are Linear -> ReLU [-> Dropout(0.5)] [-> BatchNorm1d]; the output
layer gives logits and the softmax lives in the cross-entropy loss. BatchNorm1d(momentum=0.01,
eps=1e-3) is Keras's momentum 0.99 and epsilon 1e-3 (PyTorch's running variance uses the
n/(n-1) correction, Keras 2.3's n/(n-1-eps): the same work). Adam: lr 1e-3, betas (0.9,
0.999), eps 1e-7 (PyTorch adds eps after the bias correction, Keras before: same cost).

Example:

    /work/refvenv/bin/python trainer/benches/reference/pytorch_train.py --adam fused
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from fashion_idx import (DEFAULT_DATA, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC,
                         read_idx)

VARIANTS = ("vanilla", "dropout", "bn", "bn_dropout")
HIDDEN_WIDTHS = {
    "vanilla": (196, 49),
    "dropout": (392, 98, 24),
    "bn": (196, 49),
    "bn_dropout": (196, 49),
}
IMAGE_PIXELS = 28 * 28
NUM_CLASSES = 10
BATCH_SIZE = 8
VALIDATION_IMAGES = 10_000  # Keras validation_split = 1/6: the last 10,000 of 60,000
EVAL_BATCH = 1_000



def load_training_set(data_dir):
    """The 60,000 training images as float32 pixels / 255 ([N, 784]) and int64 labels."""
    images = read_idx(data_dir / "train-images-idx3-ubyte.gz", IDX_IMAGES_MAGIC)
    labels = read_idx(data_dir / "train-labels-idx1-ubyte.gz", IDX_LABELS_MAGIC)
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} training images but {len(labels)} labels")
    pixels = images.reshape(len(images), IMAGE_PIXELS).astype(np.float32) / 255.0
    return torch.from_numpy(pixels), torch.from_numpy(labels.astype(np.int64))


def dense(inputs, outputs):
    """A Keras Dense layer's initialisation: Glorot-uniform weights, zero biases."""
    layer = nn.Linear(inputs, outputs)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def build_model(variant):
    """Linear -> ReLU [-> Dropout] [-> BatchNorm1d] per hidden layer, then Linear to logits."""
    with_dropout = variant in ("dropout", "bn_dropout")
    with_bn = variant in ("bn", "bn_dropout")
    layers = []
    inputs = IMAGE_PIXELS
    for width in HIDDEN_WIDTHS[variant]:
        layers += [dense(inputs, width), nn.ReLU()]
        if with_dropout:
            layers.append(nn.Dropout(0.5))
        if with_bn:
            layers.append(nn.BatchNorm1d(width, eps=1e-3, momentum=0.01))
        inputs = width
    layers.append(dense(inputs, NUM_CLASSES))
    return nn.Sequential(*layers)


def make_optimizer(model, adam):
    """Keras's Adam settings; `fused` is PyTorch's single-kernel CPU implementation."""
    kwargs = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-7}
    if adam == "fused":
        kwargs["fused"] = True
    else:
        # What PyTorch picks by itself for CPU tensors: the per-tensor for-loop.
        kwargs["foreach"] = False
    return torch.optim.Adam(model.parameters(), **kwargs)


def train_epoch(model, optimizer, images, labels, generator):
    """One pass over the shuffled images; returns the mean loss and accuracy."""
    model.train()
    order = torch.randperm(len(labels), generator=generator)
    images, labels = images[order], labels[order]
    loss_sum, correct = 0.0, 0
    for start in range(0, len(labels), BATCH_SIZE):
        x = images[start:start + BATCH_SIZE]
        y = labels[start:start + BATCH_SIZE]
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.item() * len(y)
        correct += (logits.argmax(dim=1) == y).sum().item()
    return loss_sum / len(labels), correct / len(labels)


@torch.no_grad()
def evaluate(model, images, labels):
    """Mean cross-entropy and accuracy in eval mode, EVAL_BATCH images at a time."""
    model.eval()
    loss_sum, correct = 0.0, 0
    for start in range(0, len(labels), EVAL_BATCH):
        x = images[start:start + EVAL_BATCH]
        y = labels[start:start + EVAL_BATCH]
        logits = model(x)
        loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(dim=1) == y).sum().item()
    return loss_sum / len(labels), correct / len(labels)


def bench_variant(variant, args, train_set, val_set):
    """Trains `variant` for args.epochs epochs and returns each epoch's wall seconds."""
    torch.manual_seed(args.seed)  # weights and dropout masks
    shuffle = torch.Generator().manual_seed(args.seed)
    model = build_model(variant)
    optimizer = make_optimizer(model, args.adam)
    seconds = []
    for epoch in range(1, args.epochs + 1):
        started = time.perf_counter()
        loss, accuracy = train_epoch(model, optimizer, *train_set, shuffle)
        val_loss, val_accuracy = evaluate(model, *val_set)
        seconds.append(time.perf_counter() - started)
        print(f"{variant:<10} epoch {epoch}/{args.epochs}: {seconds[-1]:.2f} s - "
              f"loss {loss:.4f} - accuracy {accuracy:.4f} - "
              f"val_loss {val_loss:.4f} - val_accuracy {val_accuracy:.4f}", flush=True)
    return seconds


def parse_variants(text):
    variants = [v.strip() for v in text.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        raise argparse.ArgumentTypeError(
            f"unknown variant(s) {unknown}; expected a comma list of {', '.join(VARIANTS)}")
    return variants


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def batch_multiple(text):
    value = positive_int(text)
    if value % BATCH_SIZE:
        # A final batch of one image would make BatchNorm1d fail in training mode.
        raise argparse.ArgumentTypeError(f"{value} is not a multiple of {BATCH_SIZE}")
    return value


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", type=parse_variants, default=list(VARIANTS),
                        help="comma-separated variants to time (default: all four)")
    parser.add_argument("--epochs", type=positive_int, default=3,
                        help="epochs per variant; the median is reported (default: 3)")
    parser.add_argument("--adam", choices=("default", "fused"), default="default",
                        help="Adam implementation: PyTorch's CPU default (foreach=False) "
                             "or fused=True (default: default)")
    parser.add_argument("--threads", type=positive_int, default=1,
                        help="torch.set_num_threads (default: 1, like our bench)")
    parser.add_argument("--no-ftz", action="store_true",
                        help="keep subnormal floats (default: flush them to zero with "
                             "torch.set_flush_denormal(True), as TensorFlow does)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="directory of the gzip IDX files (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the weights, dropout masks and shuffles (default: 0)")
    parser.add_argument("--train-limit", type=batch_multiple, metavar="N",
                        help="train on the first N (a multiple of 8) of the 50,000 images "
                             "only; for quick checks of the script, its times are not "
                             "comparable")
    return parser.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    ftz = False
    if not args.no_ftz:
        ftz = torch.set_flush_denormal(True)  # False where the CPU does not support it
        if not ftz:
            print("warning: this CPU cannot flush subnormals; running without FTZ",
                  file=sys.stderr)

    images, labels = load_training_set(args.data)
    cut = len(labels) - VALIDATION_IMAGES
    train_set = (images[:cut], labels[:cut])
    val_set = (images[cut:], labels[cut:])
    if args.train_limit is not None:
        train_set = tuple(t[:args.train_limit] for t in train_set)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
          f"adam={args.adam}, ftz={'on' if ftz else 'off'}, batch {BATCH_SIZE}, "
          f"{len(train_set[1])} training and {len(val_set[1])} validation images", flush=True)

    results = [(v, bench_variant(v, args, train_set, val_set)) for v in args.variants]
    for variant, seconds in results:
        # The upper median, as `trainer bench` takes it (the true median for an odd count).
        median = sorted(seconds)[len(seconds) // 2]
        epochs = ",".join(f"{s:.2f}" for s in seconds)
        print(f"RESULT variant={variant} adam={args.adam} median_s={median:.2f} "
              f"epochs=[{epochs}] threads={args.threads} ftz={'on' if ftz else 'off'} "
              f"train_images={len(train_set[1])}")


if __name__ == "__main__":
    main(sys.argv[1:])
