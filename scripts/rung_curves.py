"""Per-epoch validation curves of every study.db under a folder (an `archer bench compare`
--output, or one experiment folder), read from the store's trial_values table: per study,
the rank correlation (Spearman) of each epoch's value with the top epoch's over the trials
that reached the top, the spread of the top values, and every trial's curve. It says how
well a multi-fidelity scheduler's low rungs can rank networks on a recipe.

    python3 scripts/rung_curves.py bench-out/mnist-report-ema
"""
import sqlite3, sys, glob, os, statistics
def ranks(xs):
    o = sorted(range(len(xs)), key=lambda i: xs[i]); r = [0]*len(xs)
    i = 0
    while i < len(o):
        j = i
        while j+1 < len(o) and xs[o[j+1]] == xs[o[i]]: j += 1
        for k in range(i, j+1): r[o[k]] = (i+j)/2
        i = j+1
    return r
def spearman(a, b):
    ra, rb = ranks(a), ranks(b); ma, mb = statistics.mean(ra), statistics.mean(rb)
    num = sum((x-ma)*(y-mb) for x, y in zip(ra, rb))
    den = (sum((x-ma)**2 for x in ra)*sum((y-mb)**2 for y in rb))**0.5
    return num/den if den else float('nan')
for db in sorted(glob.glob(os.path.join(sys.argv[1], '**', '*.db'), recursive=True)):
    c = sqlite3.connect(db)
    for sid, name in c.execute('select id, name from studies'):
        curves = {}
        for n, s, v in c.execute('select number, step, value from trial_values where study_id=? order by number, step', (sid,)):
            curves.setdefault(n, {})[s] = v
        top = max((max(cv) for cv in curves.values()), default=0)
        full = {n: cv for n, cv in curves.items() if top in cv}
        print(f'{db} {name}: {len(curves)} trials, {len(full)} reached epoch {top}')
        if len(full) >= 4:
            fin = [cv[top] for cv in full.values()]
            print(f'  final: min {min(fin):.2f} max {max(fin):.2f} mean {statistics.mean(fin):.2f}')
            print('  spearman vs final:', ' '.join(f'k{k} {spearman([cv[k] for cv in full.values()], fin):.2f}' for k in range(1, top) if all(k in cv for cv in full.values())))
        for n, cv in sorted(curves.items()):
            print(f'  #{n}: ' + ' '.join(f'{cv[s]:.1f}' for s in sorted(cv)))
