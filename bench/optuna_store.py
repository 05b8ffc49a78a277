#!/usr/bin/env python3
"""Reference side of `archer bench store`: Optuna's RDB storage on the same workload.

Random sampling over the six NAS-Bench-201 edges, objective = the table's CIFAR-10
validation accuracy (a dictionary lookup), `--trials` trials through Optuna's RDB storage
(SQLite file or PostgreSQL URL). Prints one JSON line with trials per second.

    python bench/optuna_store.py --table data/nas-bench-201/nb201_results.csv.gz \
        --storage sqlite:////tmp/optuna.db --trials 1000
"""
import argparse
import csv
import gzip
import json
import time
import uuid

import optuna

OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--table", required=True)
    p.add_argument("--storage", required=True)
    p.add_argument("--trials", type=int, default=1000)
    a = p.parse_args()
    with gzip.open(a.table, "rt", newline="") as f:
        table = {r["arch_str"]: float(r["cifar10_valid_acc_naslib"]) for r in csv.DictReader(f)}

    def objective(trial):
        o = [trial.suggest_categorical(f"edge_{i}", OPS) for i in range(6)]
        return table[f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|"]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage=a.storage,
        study_name=f"archer-bench-{uuid.uuid4().hex[:8]}",
        sampler=optuna.samplers.RandomSampler(seed=0),
        direction="maximize",
    )
    start = time.perf_counter()
    study.optimize(objective, n_trials=a.trials)
    seconds = time.perf_counter() - start
    print(json.dumps({"optuna": optuna.__version__, "trials": a.trials, "seconds": seconds,
                      "trials_per_second": a.trials / seconds}))


if __name__ == "__main__":
    main()
