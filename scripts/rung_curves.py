#!/usr/bin/env python3
"""Per-epoch validation curves of every study.db under a folder (an `archer bench compare`
--output, or one experiment folder), read from the store's trial_values table: per study,
the rank correlation (Spearman, ties averaged, as archer-predict's `spearman_rho`) of each
epoch's value with the top epoch's over the trials that reached the top, the spread of the
top values, and every trial's curve. It says how well a multi-fidelity scheduler's low
rungs can rank networks on a recipe. Standard library only.

    python3 scripts/rung_curves.py bench-out/mnist-report-ema
"""
import argparse
from pathlib import Path
import sqlite3
import statistics

MIN_TRIALS_FOR_CORRELATION = 4


def ranks(xs):
    """Ranks from 0, ties given the mean of the ranks they span."""
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    r = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2
        i = j + 1
    return r


def spearman(a, b):
    """Pearson correlation of the ranks; NaN when either side is constant."""
    ra, rb = ranks(a), ranks(b)
    ma, mb = statistics.mean(ra), statistics.mean(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    var = sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb)
    return cov / var**0.5 if var else float("nan")


def curves_by_trial(conn, study_id):
    curves = {}
    rows = conn.execute(
        "select number, step, value from trial_values where study_id = ? order by number, step",
        (study_id,),
    )
    for number, step, value in rows:
        curves.setdefault(number, {})[step] = value
    return curves


def report(db, conn):
    for study_id, name in conn.execute("select id, name from studies").fetchall():
        curves = curves_by_trial(conn, study_id)
        top = max((max(curve) for curve in curves.values()), default=0)
        full = [curve for curve in curves.values() if top in curve]
        print(f"{db} {name}: {len(curves)} trials, {len(full)} reached epoch {top}")
        if len(full) >= MIN_TRIALS_FOR_CORRELATION:
            final = [curve[top] for curve in full]
            print(f"  final: min {min(final):.2f} max {max(final):.2f} mean {statistics.mean(final):.2f}")
            rhos = [
                f"k{k} {spearman([curve[k] for curve in full], final):.2f}"
                for k in range(1, top)
                if all(k in curve for curve in full)
            ]
            print("  spearman vs final:", " ".join(rhos))
        for number, curve in sorted(curves.items()):
            print(f"  #{number}: " + " ".join(f"{curve[s]:.1f}" for s in sorted(curve)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="searched for *.db files, recursively")
    args = parser.parse_args()
    if not args.folder.is_dir():
        raise SystemExit(f"{args.folder}: not a folder")
    dbs = sorted(args.folder.rglob("*.db"))
    if not dbs:
        raise SystemExit(f"{args.folder}: no study database (*.db) under it")
    for db in dbs:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            try:
                report(db, conn)
            except sqlite3.DatabaseError as e:
                print(f"{db}: skipped, not an Archer study database ({e})")


if __name__ == "__main__":
    main()
