//! The `SearchSpace` contract, checked for every built-in space and some restricted variants.

use std::collections::HashSet;
use std::sync::Arc;

use archer_rng::Rng;
use archer_space::{Arch, Encoding, SearchSpace, SpaceConfig};
use proptest::prelude::*;

fn spaces() -> Vec<Arc<dyn SearchSpace>> {
    let configs = [
        SpaceConfig::named("nb201"),
        SpaceConfig::named("nb201").with(
            "ops",
            serde_json::json!(["none", "skip_connect", "nor_conv_3x3",]),
        ),
        SpaceConfig::named("darts"),
        SpaceConfig::named("darts").with(
            "ops",
            serde_json::json!(["none", "sep_conv_3x3", "skip_connect",]),
        ),
        SpaceConfig::named("darts").with("min_nodes", serde_json::json!(1)),
        SpaceConfig::named("darts")
            .with("nodes", serde_json::json!(5))
            .with("min_nodes", serde_json::json!(3))
            .with("ops", serde_json::json!(["none", "skip_connect"])),
        SpaceConfig::named("macro"),
        SpaceConfig::named("macro")
            .with("layers", serde_json::json!(5))
            .with("min_layers", serde_json::json!(2)),
        SpaceConfig::named("macro")
            .with("layers", serde_json::json!(3))
            .with("ops", serde_json::json!(["conv"]))
            .with("kernels", serde_json::json!([3, 5]))
            .with("filters", serde_json::json!([16])),
    ];
    configs.iter().map(|c| c.build().unwrap()).collect()
}

/// Number of dimensions in which two choice vectors differ.
/// Number of dimensions present in both architectures in which they differ (a change of a
/// depth counts once, not once more for each dimension it adds or removes).
fn distance(a: &Arch, b: &Arch) -> usize {
    a.genes
        .iter()
        .zip(&b.genes)
        .filter(|(x, y)| !x.is_absent() && !y.is_absent() && x != y)
        .count()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn samples_mutations_and_crossovers_are_contained(seed in any::<u64>()) {
        for space in spaces() {
            let mut rng = Rng::seed_from(seed);
            let a = space.sample(&mut rng).unwrap();
            let b = space.sample(&mut rng).unwrap();
            prop_assert!(space.contains(&a), "{}: sample {:?}", space.name(), a);
            let m = space.mutate(&a, &mut rng);
            prop_assert!(space.contains(&m), "{}: mutant {:?}", space.name(), m);
            prop_assert_eq!(distance(&a, &m), 1, "{}: mutation is one edit", space.name());
            let c = space.crossover(&a, &b, &mut rng);
            prop_assert!(space.contains(&c), "{}: child {:?}", space.name(), c);
            for (i, x) in c.indices().iter().enumerate() {
                prop_assert!(*x == a.index(i) || *x == b.index(i));
            }
        }
    }

    #[test]
    fn neighbours_are_contained_distinct_single_edits(seed in any::<u64>()) {
        for space in spaces() {
            let mut rng = Rng::seed_from(seed);
            let a = space.sample(&mut rng).unwrap();
            let ns = space.neighbours(&a);
            prop_assert!(!ns.is_empty());
            let unique: HashSet<_> = ns.iter().collect();
            prop_assert_eq!(unique.len(), ns.len(), "{}: neighbours repeat", space.name());
            for n in &ns {
                prop_assert!(space.contains(n));
                prop_assert_eq!(distance(&a, n), 1);
            }
        }
    }

    #[test]
    fn format_then_parse_is_identity(seed in any::<u64>()) {
        for space in spaces() {
            let mut rng = Rng::seed_from(seed);
            let a = space.sample(&mut rng).unwrap();
            let text = space.format(&a);
            prop_assert_eq!(space.parse(&text).unwrap(), a, "{}: {}", space.name(), text);
        }
    }

    #[test]
    fn canonical_is_idempotent_and_hash_follows_it(seed in any::<u64>()) {
        for space in spaces() {
            let mut rng = Rng::seed_from(seed);
            let a = space.sample(&mut rng).unwrap();
            let c = space.canonical(&a);
            prop_assert_eq!(space.canonical(&c), c.clone());
            prop_assert_eq!(space.canonical_hash(&a), space.canonical_hash(&c));
        }
    }

    #[test]
    fn encodings_have_fixed_length(seed in any::<u64>()) {
        for space in spaces() {
            let mut rng = Rng::seed_from(seed);
            let a = space.sample(&mut rng).unwrap();
            let b = space.sample(&mut rng).unwrap();
            for enc in [Encoding::OneHot, Encoding::AdjacencyOps, Encoding::Path] {
                let ea = space.encode(&a, enc);
                let eb = space.encode(&b, enc);
                prop_assert_eq!(ea.len(), eb.len(), "{} {:?}", space.name(), enc);
                // A cell with no input-output path has an all-zero path encoding; the others
                // always mark something.
                if enc != Encoding::Path {
                    prop_assert!(ea.iter().any(|&x| x != 0.0));
                }
            }
        }
    }
}

#[test]
fn json_round_trip_of_arch() {
    for space in spaces() {
        let a = space.sample(&mut Rng::seed_from(9)).unwrap();
        let json = serde_json::to_string(&a).unwrap();
        let back: archer_space::Arch = serde_json::from_str(&json).unwrap();
        assert_eq!(a, back);
    }
}

#[test]
fn sampling_is_reproducible_from_the_seed() {
    for space in spaces() {
        let draw = |seed| {
            let mut rng = Rng::seed_from(seed);
            (0..20)
                .map(|_| space.sample(&mut rng).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
    }
}

#[test]
fn wrong_space_and_bad_choices_are_rejected_with_reasons() {
    let nb = SpaceConfig::named("nb201").build().unwrap();
    let darts = SpaceConfig::named("darts").build().unwrap();
    let d = darts.sample(&mut Rng::seed_from(0)).unwrap();
    let err = nb.check(&d).unwrap_err().to_string();
    assert!(err.contains("darts") && err.contains("nb201"), "{err}");
    let mut a = nb.sample(&mut Rng::seed_from(0)).unwrap();
    a.genes[0] = archer_space::Gene::Index(9);
    assert!(nb.check(&a).unwrap_err().to_string().contains("edge_0_1"));
    a.genes.pop();
    assert!(nb
        .check(&a)
        .unwrap_err()
        .to_string()
        .contains("6 dimensions"));
}

/// A space whose constraint rejects every choice vector but one in 2^20.
#[derive(Debug)]
struct NearlyEmpty {
    dims: Vec<archer_space::Dimension>,
}

impl SearchSpace for NearlyEmpty {
    fn name(&self) -> &str {
        "nearly-empty"
    }
    fn version(&self) -> u32 {
        1
    }
    fn describe(&self) -> String {
        String::new()
    }
    fn dimensions(&self) -> &[archer_space::Dimension] {
        &self.dims
    }
    fn is_valid(&self, choices: &[archer_space::Gene]) -> bool {
        choices.iter().all(|&c| c == archer_space::Gene::Index(1))
    }
    fn format(&self, arch: &archer_space::Arch) -> String {
        format!("{:?}", arch.indices())
    }
    fn parse(&self, text: &str) -> Result<archer_space::Arch, archer_space::SpaceError> {
        Err(archer_space::SpaceError::Parse {
            space: self.name().into(),
            input: text.into(),
            reason: "not parseable".into(),
        })
    }
    fn graphs(&self, _arch: &archer_space::Arch) -> Vec<archer_space::OpGraph> {
        Vec::new()
    }
}

#[test]
fn sampling_a_heavily_constrained_space_is_an_error_not_a_panic() {
    let flag = |i: usize| {
        archer_space::Dimension::new(
            format!("flag_{i}"),
            archer_space::DimensionKind::Flag,
            vec!["off".into(), "on".into()],
        )
    };
    let space = NearlyEmpty {
        dims: (0..20).map(flag).collect(),
    };
    let err = space
        .sample(&mut Rng::seed_from(3))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("nearly-empty") && err.contains("rejected"),
        "{err}"
    );
}
