"""Trains one CNN of examples/mnist-command/space.toml on the bundled MNIST subset, as
Archer's command evaluator runs it (see archer_trial.py for the protocol).

Search ("mode": "search"): train on 4,500 of the 9,000 training images for `fidelity.epochs`
(default 1) and report the accuracy on the 1,000 held-out validation images after each epoch.
Retrain ("mode": "retrain"): train from scratch on all 10,000 training images and report the
accuracy on the 2,000 test images. A checkpoint in `checkpoint_dir` lets a paused trial resume.
"""
import gzip
import os
import struct
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from archer_trial import final, report, trial

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "mnist-small")


def idx(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        raw = f.read()
    magic, n = struct.unpack(">II", raw[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", raw[8:16])
        x = torch.frombuffer(bytearray(raw[16:]), dtype=torch.uint8).view(n, 1, rows, cols)
        return (x.float() / 255.0 - 0.1307) / 0.3081
    return torch.frombuffer(bytearray(raw[8:]), dtype=torch.uint8).long()


def op(kind, c_in, c_out):
    if kind == "conv3x3":
        return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())
    if kind == "conv5x5":
        return nn.Sequential(nn.Conv2d(c_in, c_out, 5, padding=2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())
    if kind == "sep_conv3x3":
        return nn.Sequential(
            nn.Conv2d(c_in, c_in, 3, padding=1, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(),
        )
    raise ValueError(f"unknown op {kind!r}")


class Net(nn.Module):
    def __init__(self, arch):
        super().__init__()
        self.stem = op("conv3x3", 1, 16)
        self.block1 = op(arch["op1"], 16, arch["width1"])
        self.block2 = op(arch["op2"], arch["width1"], arch["width2"])
        self.skip = arch["skip"][0]
        skip_channels = {"stem": 16, "block1": arch["width1"]}.get(self.skip)
        self.project = nn.Conv2d(skip_channels, arch["width2"], 1) if skip_channels else None
        self.head = nn.Linear(arch["width2"] * 7 * 7, 10)

    def forward(self, x):
        s = self.stem(x)
        b1 = F.max_pool2d(self.block1(s), 2)
        b2 = F.max_pool2d(self.block2(b1), 2)
        if self.project is not None:
            source = s if self.skip == "stem" else b1
            b2 = b2 + self.project(F.adaptive_avg_pool2d(source, b2.shape[-2:]))
        return self.head(b2.flatten(1))


def accuracy(net, x, y):
    net.eval()
    with torch.no_grad():
        right = sum((net(x[i : i + 500]).argmax(1) == y[i : i + 500]).sum().item() for i in range(0, len(x), 500))
    net.train()
    return 100.0 * right / len(x)


def main():
    t = trial()
    arch, retrain = t["arch"], t["mode"] == "retrain"
    epochs = t["fidelity"].get("epochs") or 1
    torch.manual_seed(t["seed"])
    torch.set_num_threads(int(os.environ.get("ARCHER_THREADS", "2")))
    x, y = idx("train-images-idx3-ubyte.gz"), idx("train-labels-idx1-ubyte.gz")
    if retrain:
        train_x, train_y = x, y
        eval_x, eval_y = idx("t10k-images-idx3-ubyte.gz"), idx("t10k-labels-idx1-ubyte.gz")
    else:
        train_x, train_y = x[:4500], y[:4500]
        eval_x, eval_y = x[9000:], y[9000:]
    net = Net(arch)
    opt = torch.optim.SGD(net.parameters(), lr=arch["lr"], momentum=0.9, weight_decay=5e-4)
    start_epoch = 0
    checkpoint = os.path.join(t["checkpoint_dir"], "model.pt")
    if not retrain and os.path.exists(checkpoint):
        saved = torch.load(checkpoint)
        net.load_state_dict(saved["net"])
        opt.load_state_dict(saved["opt"])
        start_epoch = saved["epoch"]
        print(f"resumed from epoch {start_epoch}")
    started = time.time()
    acc = accuracy(net, eval_x, eval_y) if start_epoch >= epochs else None
    for epoch in range(start_epoch + 1, epochs + 1):
        order = torch.randperm(len(train_x))
        for i in range(0, len(order), 64):
            batch = order[i : i + 64]
            opt.zero_grad()
            F.cross_entropy(net(train_x[batch]), train_y[batch]).backward()
            opt.step()
        acc = accuracy(net, eval_x, eval_y)
        print(f"epoch {epoch}: {acc:.2f} % after {time.time() - started:.1f} s")
        torch.save({"net": net.state_dict(), "opt": opt.state_dict(), "epoch": epoch}, checkpoint)
        report(epoch, **({"test_acc": acc} if retrain else {"valid_acc": acc}))
    params_m = sum(p.numel() for p in net.parameters()) / 1e6
    if retrain:
        final(test_acc=acc, params_m=params_m)
    else:
        final(valid_acc=acc, params_m=params_m)


if __name__ == "__main__":
    main()
