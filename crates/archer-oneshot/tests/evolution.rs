//! SPOS's evolutionary search over paths, with the NAS-Bench-201 table as the scorer (so it
//! runs without a supernet): it climbs far above its random population, and the same seed
//! gives the same search.

use std::path::Path;

use archer_eval::{Nb201Dataset, Nb201Table};
use archer_oneshot::{evolve, EvolutionSettings, OneShotError};
use archer_rng::Rng;
use archer_space::{Arch, Nb201Space};

fn table() -> Nb201Table {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/nas-bench-201/nb201_results.csv.gz");
    Nb201Table::load(&path).unwrap()
}

#[test]
fn evolution_over_paths_finds_a_top_cell_of_the_table_deterministically() {
    let table = table();
    let space = Nb201Space::default();
    let settings = EvolutionSettings::default();
    let run = |seed: u64| {
        let mut scored = Vec::new();
        let mut score = |a: &Arch| -> Result<f64, OneShotError> {
            let acc = table
                .record(a, Nb201Dataset::Cifar10)
                .map_or(0.0, |r| r.test_acc);
            scored.push(acc);
            Ok(acc)
        };
        let ranked = evolve(&settings, &space, &mut score, &mut Rng::derive(seed, 0)).unwrap();
        assert!(ranked.windows(2).all(|w| w[0].1 >= w[1].1), "best first");
        let (best, n) = (ranked[0].0.clone(), ranked.len());
        let acc = table.record(&best, Nb201Dataset::Cifar10).unwrap().test_acc;
        let population_best = scored[..50].iter().copied().fold(f64::MIN, f64::max);
        (best, n, acc, population_best, scored.len())
    };
    let (best, n, acc, population_best, calls) = run(1);
    assert_eq!(n, calls, "every architecture is scored once");
    // At most the population plus 20 generations of 25 + 25 new cells; fewer once the
    // parents' neighbourhoods hold no cell not yet scored.
    assert!(n > 50 && n <= 50 + 20 * 50, "{n} cells scored");
    // A few hundred of the 15,625 cells scored: the random population's best is typically
    // near 93.5, the table's best is 94.37.
    assert!(
        acc >= population_best && acc >= 94.0,
        "evolution reached {acc} in {n} cells, its random population {population_best}"
    );
    let again = run(1);
    assert_eq!(again.0, best);
    assert_eq!(again.1, n);
}
