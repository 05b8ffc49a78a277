#!/usr/bin/env python3
"""PyTorch reference for `archer bench oneshot-engine`: the NAS-Bench-201 supernet, timed the
same way as Archer's.

The supernet is AutoDL-Projects' search `TinyNetwork` written here in plain PyTorch: a 3x3 stem
conv with batch norm, three stages of N search cells (six mixed edges over none, skip_connect,
nor_conv_1x1, nor_conv_3x3, avg_pool_3x3; batch norms without affine parameters in the
candidate operations) with NB201's residual reduction block between the stages, then batch
norm, ReLU, global pooling and a linear layer. One alpha (6 x 5) is shared by every cell. The
`none` candidate adds exactly zero and is not computed, as in Archer.

It times one search step per method (batch 64, median of `--repeats` after `--warmup`):
- DARTS (first order): the alpha-step on a validation batch (every edge mixed by
  softmax(alpha); Adam 3e-4, betas (0.5, 0.999), wd 1e-3), then the weight step on a training
  batch (SGD 0.025, momentum 0.9, Nesterov, wd 5e-4, gradient norm clipped to 5);
- GDAS: the weight step, then the alpha-step, each forward pass with its own hard
  Gumbel-softmax sample at tau = 10 (only the sampled operation of each edge computed).

Two ways of writing each step are timed:
- `same_work`: the alpha-step takes alpha's gradient alone (torch.autograd.grad) and the weight
  step sees alpha detached, which is the work Archer does;
- `autodl`: as AutoDL-Projects writes them, a plain `loss.backward()` in both steps (the
  alpha-step also computes every weight's gradient, and the weight step alpha's).

    python bench/oneshot_reference.py --threads 2 --sizes c16n5,c8n2 --repeats 7 --warmup 2
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from engine_reference import NB201_EDGES, Nb201Reduction, median_ms  # noqa: E402

OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]


class SearchReLUConvBN(nn.Sequential):
    def __init__(self, c, k):
        super().__init__(nn.ReLU(), nn.Conv2d(c, c, k, 1, k // 2, bias=False), nn.BatchNorm2d(c, affine=False))


def candidate(name, c):
    return {
        "none": None,
        "skip_connect": nn.Identity(),
        "nor_conv_1x1": SearchReLUConvBN(c, 1),
        "nor_conv_3x3": SearchReLUConvBN(c, 3),
        "avg_pool_3x3": nn.AvgPool2d(3, 1, 1, count_include_pad=False),
    }[name]


class MixedEdge(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ops = nn.ModuleList([candidate(o, c) or nn.Identity() for o in OPS])
        self.zero = [o == "none" for o in OPS]

    def soft(self, x, w):
        acc = None
        for i, (op, z) in enumerate(zip(self.ops, self.zero)):
            if z:
                continue
            y = op(x) * w[i]
            acc = y if acc is None else acc + y
        return acc

    def hard(self, x, w, index):
        # AutoDL's GDAS: the chosen op scaled by its (one-hot in value) weight, the others'
        # weights added as they are, so that their gradient flows.
        others = w.sum() - w[index]
        if self.zero[index]:
            return torch.zeros_like(x) * w[index] + others
        return self.ops[index](x) * w[index] + others


class SearchCell(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.edges = nn.ModuleList([MixedEdge(c) for _ in NB201_EDGES])

    def forward(self, x, mix):
        nodes = [x]
        for target in range(1, 4):
            acc = None
            for e, (to, src) in enumerate(NB201_EDGES):
                if to != target:
                    continue
                y = mix(self.edges[e], e, nodes[src])
                acc = y if acc is None else acc + y
            nodes.append(acc)
        return nodes[-1]


class Supernet(nn.Module):
    def __init__(self, c, n, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        body = []
        for stage in range(3):
            if stage > 0:
                body.append(Nb201Reduction(c, 2 * c))
                c *= 2
            body.extend(SearchCell(c) for _ in range(n))
        self.body = nn.ModuleList(body)
        self.last = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU())
        self.classifier = nn.Linear(c, classes)
        self.alpha = nn.Parameter(1e-3 * torch.randn(len(NB201_EDGES), len(OPS)))

    def weights(self):
        return [p for name, p in self.named_parameters() if name != "alpha"]

    def forward(self, x, mix):
        h = self.stem(x)
        for block in self.body:
            h = block(h, mix) if isinstance(block, SearchCell) else block(h)
        return self.classifier(F.adaptive_avg_pool2d(self.last(h), 1).flatten(1))


def soft_mix(alpha):
    w = F.softmax(alpha, dim=-1)
    return lambda edge, e, x: edge.soft(x, w[e])


def gdas_mix(alpha, tau):
    # AutoDL's GDAS sampling: resampled while the weights are not finite.
    while True:
        gumbels = -torch.empty_like(alpha).exponential_().log()
        probs = F.softmax((F.log_softmax(alpha, dim=-1) + gumbels) / tau, dim=-1)
        index = probs.max(-1, keepdim=True)[1]
        one_h = torch.zeros_like(probs).scatter_(-1, index, 1.0)
        hard = one_h - probs.detach() + probs
        if torch.isfinite(hard).all():
            break
    chosen = index.view(-1).tolist()
    return lambda edge, e, x: edge.hard(x, hard[e], chosen[e])


class Search:
    def __init__(self, c, n, batch, device):
        torch.manual_seed(0)
        self.device = device
        self.net = Supernet(c, n).to(device)
        self.w_opt = torch.optim.SGD(self.net.weights(), lr=0.025, momentum=0.9, nesterov=True, weight_decay=5e-4)
        self.a_opt = torch.optim.Adam([self.net.alpha], lr=3e-4, betas=(0.5, 0.999), weight_decay=1e-3)
        self.train = (torch.randn(batch, 3, 32, 32, device=device), torch.randint(0, 10, (batch,), device=device))
        self.valid = (torch.randn(batch, 3, 32, 32, device=device), torch.randint(0, 10, (batch,), device=device))

    def params(self):
        return sum(p.numel() for p in self.net.weights())

    def loss(self, batch, mix):
        return F.cross_entropy(self.net(batch[0], mix), batch[1])

    def arch_step(self, loss, same_work):
        self.a_opt.zero_grad()
        if same_work:
            (self.net.alpha.grad,) = torch.autograd.grad(loss, [self.net.alpha])
        else:
            loss.backward()
        self.a_opt.step()

    def weight_step(self, loss):
        self.w_opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.net.weights(), 5.0)
        self.w_opt.step()

    def darts(self, same_work):
        self.net.train()
        self.arch_step(self.loss(self.valid, soft_mix(self.net.alpha)), same_work)
        alpha = self.net.alpha.detach() if same_work else self.net.alpha
        self.weight_step(self.loss(self.train, soft_mix(alpha)))

    def gdas(self, same_work, tau=10.0):
        self.net.train()
        alpha = self.net.alpha.detach() if same_work else self.net.alpha
        self.weight_step(self.loss(self.train, gdas_mix(alpha, tau)))
        self.arch_step(self.loss(self.valid, gdas_mix(self.net.alpha, tau)), same_work)

    def darts_phases(self):
        """One same-work DARTS step split into its phases: seconds of each, in order."""
        t = [time.perf_counter()]
        self.net.train()
        loss = self.loss(self.valid, soft_mix(self.net.alpha))
        t.append(time.perf_counter())
        self.a_opt.zero_grad()
        (self.net.alpha.grad,) = torch.autograd.grad(loss, [self.net.alpha])
        t.append(time.perf_counter())
        self.a_opt.step()
        t.append(time.perf_counter())
        loss = self.loss(self.train, soft_mix(self.net.alpha.detach()))
        t.append(time.perf_counter())
        self.w_opt.zero_grad()
        loss.backward()
        t.append(time.perf_counter())
        nn.utils.clip_grad_norm_(self.net.weights(), 5.0)
        t.append(time.perf_counter())
        self.w_opt.step()
        t.append(time.perf_counter())
        return [b - a for a, b in zip(t, t[1:])]

    def forward_one(self):
        self.net.eval()
        with torch.no_grad():
            self.net(self.train[0][:1], soft_mix(self.net.alpha))


# The phases of one DARTS step, as `archer bench oneshot-engine` names them.
DARTS_PHASES = ["arch_forward", "arch_backward", "arch_adam", "weight_forward", "weight_backward", "clip", "sgd"]


def parse_size(s):
    c, n = s.lower().lstrip("c").split("n")
    return int(c), int(n)


def main():
    ap = argparse.ArgumentParser(description="PyTorch reference timings for archer bench oneshot-engine")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--sizes", default="c16n5,c8n2", help="comma-separated supernet sizes cCnN")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    out = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "supernets": {},
    }
    for size in a.sizes.split(","):
        c, n = parse_size(size.strip())
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        s = Search(c, n, a.batch, device)
        row = {"params": s.params()}
        for method in ("darts", "gdas"):
            step = getattr(s, method)
            row[f"{method}_ms"] = median_ms(lambda: step(True), a.repeats, a.warmup, sync)
            row[f"{method}_autodl_ms"] = median_ms(lambda: step(False), a.repeats, a.warmup, sync)
        row["forward_b1_ms"] = median_ms(s.forward_one, max(a.repeats, 20), a.warmup, sync)
        if device.type == "cpu":
            for _ in range(a.warmup):
                s.darts_phases()
            runs = [s.darts_phases() for _ in range(a.repeats)]
            row["darts_profile_ms"] = dict(
                zip(DARTS_PHASES, (1e3 * statistics.median(r[i] for r in runs) for i in range(len(DARTS_PHASES))))
            )
        if device.type == "cuda":
            row["peak_gpu_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
        out["supernets"][f"c{c}n{n}"] = row
    print(json.dumps(out))


if __name__ == "__main__":
    main()
