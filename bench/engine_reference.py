#!/usr/bin/env python3
"""PyTorch reference for `archer bench engine`: the same networks, timed the same way.

Builds the NAS-Bench-201 network of cell 11472 (C=16, N=5, CIFAR-10) and the DARTS_V2
network (C=16, 8 cells, CIFAR-10), written here in plain PyTorch after the reference
implementations (NAS-Bench-201's ReLUConvBN/ResNetBasicblock, DARTS' SepConv/DilConv/
FactorizedReduce/NetworkCIFAR), and prints one JSON object with the median milliseconds of
a training step (forward, cross-entropy, backward, SGD step with momentum) and of a forward
pass in evaluation mode, per network.

    python bench/engine_reference.py --threads 2 --repeats 10 --train-batch 64 --forward-batch 256
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in, c_out, k, stride):
        super().__init__(nn.ReLU(), nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False), nn.BatchNorm2d(c_out))


class DilConv(nn.Sequential):
    def __init__(self, c_in, c_out, k, stride, dilation):
        pad = dilation * (k - 1) // 2
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(c_in, c_in, k, stride, pad, dilation=dilation, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )


class SepConv(nn.Sequential):
    def __init__(self, c_in, c_out, k, stride):
        super().__init__(DilConv(c_in, c_in, k, stride, 1), DilConv(c_in, c_out, k, 1, 1))


class FactorizedReduce(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.c1 = nn.Conv2d(c_in, c_out // 2, 1, 2, bias=False)
        self.c2 = nn.Conv2d(c_in, c_out // 2, 1, 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x):
        x = F.relu(x)
        shifted = F.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))
        return self.bn(torch.cat([self.c1(x), self.c2(shifted)], 1))


class Zero(nn.Module):
    def __init__(self, stride):
        super().__init__()
        self.stride = stride

    def forward(self, x):
        if self.stride == 1:
            return torch.zeros_like(x)
        return torch.zeros_like(x[:, :, :: self.stride, :: self.stride])


def pool(kind, stride):
    if kind == "max":
        return nn.MaxPool2d(3, stride, 1)
    return nn.AvgPool2d(3, stride, 1, count_include_pad=False)


# --- NAS-Bench-201 -------------------------------------------------------------------------

NB201_EDGES = [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]


def nb201_op(name, c):
    return {
        "none": None,
        "skip_connect": nn.Identity(),
        "nor_conv_1x1": ReLUConvBN(c, c, 1, 1),
        "nor_conv_3x3": ReLUConvBN(c, c, 3, 1),
        "avg_pool_3x3": pool("avg", 1),
    }[name]


class Nb201Cell(nn.Module):
    def __init__(self, ops, c):
        super().__init__()
        self.ops = nn.ModuleList([nb201_op(o, c) or nn.Identity() for o in ops])
        self.zero = [o == "none" for o in ops]

    def forward(self, x):
        nodes = [x]
        for target in range(1, 4):
            terms = [
                op(nodes[src])
                for (to, src), op, z in zip(NB201_EDGES, self.ops, self.zero)
                if to == target and not z
            ]
            # Accumulate without sum()'s leading 0 + tensor, which would add a full-size op.
            acc = terms[0] if terms else torch.zeros_like(x)
            for t in terms[1:]:
                acc = acc + t
            nodes.append(acc)
        return nodes[-1]


class Nb201Reduction(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.a = ReLUConvBN(c_in, c_out, 3, 2)
        self.b = ReLUConvBN(c_out, c_out, 3, 1)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x):
        return self.b(self.a(x)) + self.shortcut(x)


class Nb201Net(nn.Module):
    def __init__(self, ops, c=16, n=5, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        body = []
        for stage in range(3):
            if stage > 0:
                body.append(Nb201Reduction(c, 2 * c))
                c *= 2
            body.extend(Nb201Cell(ops, c) for _ in range(n))
        self.body = nn.Sequential(*body)
        self.last = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU())
        self.classifier = nn.Linear(c, classes)

    def forward(self, x):
        x = self.last(self.body(self.stem(x)))
        return self.classifier(F.adaptive_avg_pool2d(x, 1).flatten(1))


def parse_nb201(s):
    return [tok.split("~")[0] for tok in s.replace("+", "").split("|") if tok]


# --- DARTS ---------------------------------------------------------------------------------

def darts_op(name, c, stride):
    if name == "none":
        return Zero(stride)
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c)
    if name in ("max_pool_3x3", "avg_pool_3x3"):
        return pool(name[:3], stride)
    kind, _, k = name.split("_")
    k = int(k[0])
    return SepConv(c, c, k, stride) if kind == "sep" else DilConv(c, c, k, stride, 2)


class DartsCell(nn.Module):
    def __init__(self, genotype, c_pp, c_p, c, reduction, reduction_prev):
        super().__init__()
        self.pre0 = FactorizedReduce(c_pp, c) if reduction_prev else ReLUConvBN(c_pp, c, 1, 1)
        self.pre1 = ReLUConvBN(c_p, c, 1, 1)
        self.inputs = [i for _, i in genotype]
        self.ops = nn.ModuleList(
            darts_op(name, c, 2 if reduction and i < 2 else 1) for name, i in genotype
        )

    def forward(self, s0, s1):
        states = [self.pre0(s0), self.pre1(s1)]
        for n in range(4):
            a, b = 2 * n, 2 * n + 1
            states.append(self.ops[a](states[self.inputs[a]]) + self.ops[b](states[self.inputs[b]]))
        return torch.cat(states[2:], 1)


class DartsNet(nn.Module):
    def __init__(self, normal, reduce, c=16, layers=8, classes=10):
        super().__init__()
        stem_c = 3 * c
        self.stem = nn.Sequential(nn.Conv2d(3, stem_c, 3, padding=1, bias=False), nn.BatchNorm2d(stem_c))
        c_pp, c_p, c_cur = stem_c, stem_c, c
        cells, reduction_prev = [], False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                c_cur *= 2
            cells.append(DartsCell(reduce if reduction else normal, c_pp, c_p, c_cur, reduction, reduction_prev))
            reduction_prev = reduction
            c_pp, c_p = c_p, 4 * c_cur
        self.cells = nn.ModuleList(cells)
        self.classifier = nn.Linear(c_p, classes)

    def forward(self, x):
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.classifier(F.adaptive_avg_pool2d(s1, 1).flatten(1))


DARTS_V2_NORMAL = [("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
                   ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)]
DARTS_V2_REDUCE = [("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
                   ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)]
NB201_11472 = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"


def median_ms(fn, repeats, warmup, sync=lambda: None):
    """Median milliseconds of `repeats` calls after `warmup`; `sync` waits for the device."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def time_network(net, train_batch, forward_batch, repeats, warmup):
    torch.manual_seed(0)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    x = torch.randn(train_batch, 3, 32, 32)
    y = torch.randint(0, 10, (train_batch,))

    def step():
        net.train()
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()

    xf = torch.randn(forward_batch, 3, 32, 32)

    def forward():
        net.eval()
        with torch.no_grad():
            net(xf)

    x1 = torch.randn(1, 3, 32, 32)

    def forward_one():
        net.eval()
        with torch.no_grad():
            net(x1)

    return {
        "train_ms": median_ms(step, repeats, warmup),
        "forward_ms": median_ms(forward, repeats, warmup),
        "forward_b1_ms": median_ms(forward_one, max(repeats, 20), warmup),
        "params": sum(p.numel() for p in net.parameters()),
    }


def main():
    ap = argparse.ArgumentParser(description="PyTorch reference timings for archer bench engine")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--train-batch", type=int, default=64)
    ap.add_argument("--forward-batch", type=int, default=256)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    nets = {
        "nb201_11472": Nb201Net(parse_nb201(NB201_11472)),
        "darts_v2_c16_l8": DartsNet(DARTS_V2_NORMAL, DARTS_V2_REDUCE),
    }
    out = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "networks": {name: time_network(net, a.train_batch, a.forward_batch, a.repeats, a.warmup) for name, net in nets.items()},
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
