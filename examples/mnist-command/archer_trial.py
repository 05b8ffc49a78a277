"""Archer's command-evaluator protocol for a training script, in plain Python (no packages).

    from archer_trial import trial, report, final
    t = trial()                      # {"arch": {...}, "fidelity": {...}, "seed": 7, ...}
    for epoch in range(1, epochs + 1):
        ...
        report(epoch, valid_acc=acc)  # Archer may stop the program (SIGTERM) after a report
    final(valid_acc=acc, params_m=p)  # once, then exit 0
"""
import json
import os
import sys


def trial():
    """The trial Archer runs: arch, arch_string, fidelity, seed, time_limit_seconds,
    checkpoint_dir, mode ("search" or "retrain"), report_metric."""
    path = os.environ.get("ARCHER_TRIAL")
    if path:
        with open(path) as f:
            return json.load(f)
    return json.load(sys.stdin)


def report(step, **metrics):
    """An intermediate value (one per epoch, say) for pruners and schedulers."""
    print(json.dumps({"step": int(step), **metrics}), flush=True)


def final(**metrics):
    """The trial's result; every value a number."""
    print(json.dumps({"final": metrics}), flush=True)
