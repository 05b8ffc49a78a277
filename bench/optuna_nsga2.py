#!/usr/bin/env python3
"""Reference side of Archer's multi-objective comparison: Optuna's NSGA-II on a NAS-Bench-201 lookup.

The Rust side writes a table of cells, runs this script once for all seeds, and reads back which
cells Optuna queried, in order, so that it can score Optuna's runs with the same metrics (Pareto
front, hypervolume, ...) it uses for Archer's own multi-objective strategies. Nothing is trained
and nothing is fetched from the network: every trial is a dictionary lookup.

    python bench/optuna_nsga2.py --cells CELLS.csv --budget-seconds 12000 \
        --first-seed 0 --seeds 100 --out RUNS.jsonl

Input (`--cells`, plain CSV, or gzip'd when the name ends in `.gz`)
    Header `index,arch,cost_seconds,<objective columns...>`, then one row per cell.
    * `index`: integer cell id (the official NB201 index); echoed back in the output.
    * `arch`: the official NB201 string `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`, ops among
      none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3.
    * `cost_seconds`: what one query of the cell costs on the simulated clock (finite, > 0).
    * objective columns, named `obj:<name>:max` or `obj:<name>:min` (at least one; normally 2 or 3),
      finite numbers. Their order in the header is the order of Optuna's `directions`.
    Other columns are ignored. Duplicate `index` values or duplicate `arch` strings are errors.

Search space as Optuna sees it
    Six categorical parameters `edge_0`..`edge_5`, in arch-string order (group 1: edge 0;
    group 2: edges 1, 2; group 3: edges 3, 4, 5). Each chooses among the ops that appear at that
    position somewhere in the file, listed in the fixed NB201 order above (normally all five).

Partial tables
    If the six chosen ops form an arch that is not in the file, the trial returns, for each
    objective, the worst value seen in the file (the minimum of a `max` column, the maximum of a
    `min` column), is charged the median `cost_seconds` of the file, and is recorded with index
    -1 in the output. With the full 15,625-cell table this never happens.

Simulated clock
    Per seed s: a fresh in-memory study,
    `optuna.create_study(directions=..., sampler=optuna.samplers.NSGAIISampler(seed=s))`
    with NSGA-II's default settings (population 50, ...). Trials run one at a time (ask/tell);
    after each trial its cost is added to the clock, and the run stops once the clock reaches
    `--budget-seconds`. The trial that crosses the budget still counts (as in NAS-Bench-201).
    Optuna does not de-duplicate: a cell it samples again is evaluated and charged again, and
    appears again in `indices`.

Output (`--out`, JSON lines, written only when every seed has finished)
    One object per seed, seeds `first_seed .. first_seed + seeds - 1` in order:
    `{"seed": s, "indices": [cell index of each trial, in order], "sim_seconds": total,
      "optuna": "<optuna version>"}`.
    Nothing is printed to stdout; one summary line goes to stderr.

Exit codes
    0 on success; 2 on bad input or arguments (one line on stderr naming the file and line);
    1 when optuna cannot be imported or the output cannot be written.
"""
import argparse
import csv
import gzip
import json
import math
import os
import re
import statistics
import sys
import time

OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
_OP = "(" + "|".join(OPS) + ")"
ARCH_RE = re.compile(
    rf"^\|{_OP}~0\|\+\|{_OP}~0\|{_OP}~1\|\+\|{_OP}~0\|{_OP}~1\|{_OP}~2\|$"
)
OBJ_RE = re.compile(r"^obj:(.+):(max|min)$")
REQUIRED = ["index", "arch", "cost_seconds"]


class BadInput(Exception):
    """A problem with the input; the message names the file and line."""


def arch_string(ops):
    o = ops
    return f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|"


def parse_number(text, where, column):
    try:
        value = float(text)
    except ValueError:
        raise BadInput(f"{where}: column {column!r}: not a number: {text!r}") from None
    if not math.isfinite(value):
        raise BadInput(f"{where}: column {column!r}: not a finite number: {text!r}")
    return value


def read_cells(path):
    """Returns (objectives [(name, direction)], cells {arch: (index, cost, values)}, choices)."""
    try:
        if path.endswith(".gz"):
            f = gzip.open(path, "rt", newline="", encoding="utf-8-sig")
        else:
            f = open(path, newline="", encoding="utf-8-sig")
    except OSError as e:
        raise BadInput(f"{path}: cannot open: {e.strerror or e}") from None
    with f:
        try:
            return _read_cells(path, csv.reader(f))
        except (OSError, EOFError, UnicodeDecodeError, csv.Error) as e:
            raise BadInput(f"{path}: cannot read: {e}") from None


def _read_cells(path, reader):
    header = next(reader, None)
    if header is None:
        raise BadInput(f"{path}: empty file (no header)")
    header = [h.strip() for h in header]
    where = f"{path}:1"
    col = {}
    for i, name in enumerate(header):
        if name in col:
            raise BadInput(f"{where}: duplicate column {name!r}")
        col[name] = i
    for name in REQUIRED:
        if name not in col:
            raise BadInput(f"{where}: missing column {name!r} (header must start "
                           f"index,arch,cost_seconds)")
    objectives = []  # (column position, name, "maximize" | "minimize")
    for i, name in enumerate(header):
        if not name.startswith("obj:"):
            continue
        m = OBJ_RE.match(name)
        if not m:
            raise BadInput(f"{where}: bad objective column {name!r} "
                           f"(expected obj:<name>:max or obj:<name>:min)")
        if any(o[1] == m.group(1) for o in objectives):
            raise BadInput(f"{where}: objective {m.group(1)!r} appears twice")
        objectives.append((i, m.group(1), "maximize" if m.group(2) == "max" else "minimize"))
    if not objectives:
        raise BadInput(f"{where}: no objective columns (expected obj:<name>:max|min)")

    cells = {}
    seen_index = {}
    choices = [set() for _ in range(6)]
    for row in reader:
        where = f"{path}:{reader.line_num}"
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line
        if len(row) != len(header):
            raise BadInput(f"{where}: {len(row)} fields, header has {len(header)}")
        text = row[col["index"]].strip()
        try:
            index = int(text)
        except ValueError:
            raise BadInput(f"{where}: column 'index': not an integer: {text!r}") from None
        if index in seen_index:
            raise BadInput(f"{where}: index {index} already on line {seen_index[index]}")
        seen_index[index] = reader.line_num
        arch = row[col["arch"]].strip()
        m = ARCH_RE.match(arch)
        if not m:
            raise BadInput(f"{where}: cannot parse arch {arch!r} (expected "
                           f"|op~0|+|op~0|op~1|+|op~0|op~1|op~2| with ops {', '.join(OPS)})")
        if arch in cells:
            raise BadInput(f"{where}: arch {arch!r} appears twice")
        cost = parse_number(row[col["cost_seconds"]].strip(), where, "cost_seconds")
        if cost <= 0:
            raise BadInput(f"{where}: column 'cost_seconds': must be > 0, got {cost!r}")
        values = tuple(parse_number(row[i].strip(), where, header[i]) for i, _, _ in objectives)
        for e, op in enumerate(m.groups()):
            choices[e].add(op)
        cells[arch] = (index, cost, values)
    if not cells:
        raise BadInput(f"{path}: no rows after the header")
    choices = [[op for op in OPS if op in c] for c in choices]
    return [(name, d) for _, name, d in objectives], cells, choices


def run_seed(optuna, seed, budget, directions, cells, choices, missing):
    """One NSGA-II run on the simulated clock; (indices, sim_seconds)."""
    study = optuna.create_study(
        directions=directions, sampler=optuna.samplers.NSGAIISampler(seed=seed)
    )
    indices = []
    clock = 0.0
    while clock < budget:
        trial = study.ask()
        ops = [trial.suggest_categorical(f"edge_{e}", choices[e]) for e in range(6)]
        index, cost, values = cells.get(arch_string(ops), missing)
        study.tell(trial, list(values))
        indices.append(index)
        clock += cost
    return indices, clock


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--cells", required=True, help="CSV: index,arch,cost_seconds,obj:<name>:max|min...")
    p.add_argument("--budget-seconds", required=True, type=float)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--out", required=True, help="JSON lines, one object per seed")
    a = p.parse_args()  # argparse exits with code 2 on bad arguments
    if not math.isfinite(a.budget_seconds) or a.budget_seconds <= 0:
        p.error(f"--budget-seconds must be a finite number > 0, got {a.budget_seconds}")
    if a.seeds < 1:
        p.error(f"--seeds must be >= 1, got {a.seeds}")
    if a.first_seed < 0 or a.first_seed + a.seeds > 2**32:
        p.error("seeds must lie in 0 .. 2**32 - 1")

    try:
        objectives, cells, choices = read_cells(a.cells)
    except BadInput as e:
        print(f"optuna_nsga2: {e}", file=sys.stderr)
        sys.exit(2)

    try:
        import optuna
    except ImportError as e:
        print(f"optuna_nsga2: cannot import optuna ({e}); pip install optuna", file=sys.stderr)
        sys.exit(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    directions = [d for _, d in objectives]
    worst = tuple(
        (min if d == "maximize" else max)(v[k] for _, _, v in cells.values())
        for k, d in enumerate(directions)
    )
    missing = (-1, statistics.median(c for _, c, _ in cells.values()), worst)

    start = time.perf_counter()
    lines = []
    trials = 0
    for seed in range(a.first_seed, a.first_seed + a.seeds):
        indices, clock = run_seed(optuna, seed, a.budget_seconds, directions, cells, choices, missing)
        trials += len(indices)
        lines.append(json.dumps({"seed": seed, "indices": indices, "sim_seconds": clock,
                                 "optuna": optuna.__version__}))
    seconds = time.perf_counter() - start

    tmp = a.out + ".tmp"
    try:
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(tmp, a.out)
    except OSError as e:
        print(f"optuna_nsga2: cannot write {a.out}: {e.strerror or e}", file=sys.stderr)
        sys.exit(1)
    print(f"optuna_nsga2: optuna {optuna.__version__}, {a.seeds} seeds, {len(cells)} cells, "
          f"{trials / a.seeds:.1f} trials/seed, {seconds:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
