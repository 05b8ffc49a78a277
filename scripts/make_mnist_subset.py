#!/usr/bin/env python3
"""Cuts the stratified MNIST subset bundled in data/mnist-small/ from the full MNIST IDX files.

    python3 scripts/make_mnist_subset.py ../shared/data/mnist data/mnist-small \
        --train-per-class 1000 --test-per-class 200 --seed 0

Keeps the first N images of every class in an order shuffled by the seed (Python's
random.Random), preserves the files' IDX format, and writes them gzip'd with a fixed
timestamp so that the output is byte-for-byte reproducible. Standard library only.
"""
import argparse
import gzip
import random
import struct
from pathlib import Path


def read_idx(path):
    data = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return dims, data[4 + 4 * ndim :]


def write_idx(path, dims, payload):
    header = bytes([0, 0, 8, len(dims)]) + struct.pack(">" + "I" * len(dims), *dims)
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as f:
            f.write(header + payload)


def subset(src, dst, split, per_class, seed):
    (n, h, w), pixels = read_idx(src / f"{split}-images-idx3-ubyte.gz")
    (_,), labels = read_idx(src / f"{split}-labels-idx1-ubyte.gz")
    order = list(range(n))
    random.Random(seed).shuffle(order)
    taken = {c: 0 for c in range(10)}
    keep = []
    for i in order:
        if taken[labels[i]] < per_class:
            taken[labels[i]] += 1
            keep.append(i)
    keep.sort()
    size = h * w
    write_idx(dst / f"{split}-images-idx3-ubyte.gz", (len(keep), h, w),
              b"".join(pixels[i * size : (i + 1) * size] for i in keep))
    write_idx(dst / f"{split}-labels-idx1-ubyte.gz", (len(keep),), bytes(labels[i] for i in keep))
    print(f"{split}: {len(keep)} images, {per_class} per class")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path)
    ap.add_argument("dest", type=Path)
    ap.add_argument("--train-per-class", type=int, default=1000)
    ap.add_argument("--test-per-class", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    a.dest.mkdir(parents=True, exist_ok=True)
    subset(a.source, a.dest, "train", a.train_per_class, a.seed)
    subset(a.source, a.dest, "t10k", a.test_per_class, a.seed + 1)


if __name__ == "__main__":
    main()
