#!/usr/bin/env python3
"""Cuts a stratified CIFAR-10 subset from the CIFAR-10 binary files, in the same format.

    python3 scripts/make_cifar10_subset.py ../shared/data/cifar10 bench-out/cifar10-small \
        --train-per-class 1000 --test-per-class 200 --seed 0

Reads data_batch_1..5.bin and test_batch.bin (each optionally .gz), keeps the first N
records of every class in an order shuffled by the seed (Python's random.Random), and
writes the kept training records, in their original order, split evenly over
data_batch_1..5.bin, and the kept test records as test_batch.bin: the layout `format =
"cifar10"` reads. The output is byte-for-byte reproducible. Standard library only.
"""
import argparse
import gzip
from pathlib import Path
import random

RECORD = 1 + 3 * 32 * 32


def read_records(path):
    gz = path.with_name(path.name + ".gz")
    data = gzip.open(gz).read() if gz.exists() else path.read_bytes()
    if len(data) % RECORD:
        raise SystemExit(f"{path}: {len(data)} bytes is not a whole number of CIFAR-10 records")
    return [data[i : i + RECORD] for i in range(0, len(data), RECORD)]


def stratified(records, per_class, seed):
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    taken = [0] * 10
    keep = []
    for i in order:
        label = records[i][0]
        if label > 9:
            raise SystemExit(f"record {i}: label {label} is not a CIFAR-10 class")
        if taken[label] < per_class:
            taken[label] += 1
            keep.append(i)
    if min(taken) < per_class:
        raise SystemExit(f"only {min(taken)} records in the smallest class; asked {per_class}")
    keep.sort()
    return [records[i] for i in keep]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path)
    ap.add_argument("dest", type=Path)
    ap.add_argument("--train-per-class", type=int, default=1000)
    ap.add_argument("--test-per-class", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    train = []
    for i in range(1, 6):
        train += read_records(a.source / f"data_batch_{i}.bin")
    test = read_records(a.source / "test_batch.bin")
    train = stratified(train, a.train_per_class, a.seed)
    test = stratified(test, a.test_per_class, a.seed + 1)
    a.dest.mkdir(parents=True, exist_ok=True)
    per_file = -(-len(train) // 5)
    for i in range(5):
        chunk = train[i * per_file : (i + 1) * per_file]
        (a.dest / f"data_batch_{i + 1}.bin").write_bytes(b"".join(chunk))
    (a.dest / "test_batch.bin").write_bytes(b"".join(test))
    print(f"train: {len(train)} images, test: {len(test)} images, in {a.dest}")


if __name__ == "__main__":
    main()
