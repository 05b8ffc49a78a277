//! One suite, run for every strategy (model-based ones included, so it lives in the crate
//! that builds them all), with and without de-duplication.

use std::collections::HashSet;
use std::sync::Arc;

use archer_core::{Arch, History, Metrics, Trial, TrialState};
use archer_predict::build_strategy;
use archer_space::{Nb201Space, SearchSpace, SpaceConfig};
use archer_strategy::{Strategy, StrategyConfig, StrategyError};

fn nb201() -> Arc<dyn SearchSpace> {
    Arc::new(Nb201Space::default())
}

/// A DARTS space with 1 to 3 nodes per cell: one that grows by blocks, for `pnas`.
fn growing_darts() -> Arc<dyn SearchSpace> {
    SpaceConfig::named("darts")
        .with("min_nodes", serde_json::json!(1))
        .with("nodes", serde_json::json!(3))
        .build()
        .unwrap()
}

/// A chain of 1 to 6 layers: the space network morphism changes.
fn growing_chain() -> Arc<dyn SearchSpace> {
    SpaceConfig::named("macro")
        .with("min_layers", serde_json::json!(1))
        .with("layers", serde_json::json!(6))
        .build()
        .unwrap()
}

/// The space the suite searches with `config`: NAS-Bench-201, except for strategies that
/// need a space that grows by blocks or a chain of layers.
fn space_for(config: &StrategyConfig) -> Arc<dyn SearchSpace> {
    if config.name() == "pnas" {
        growing_darts()
    } else if config.name() == "morphism" {
        growing_chain()
    } else {
        nb201()
    }
}

/// Higher is better; unique optimum at `TARGET`, every non-optimal cell has a better neighbour.
const TARGET: [u16; 6] = [3, 3, 3, 1, 3, 2];
fn closeness(arch: &Arch) -> f64 {
    arch.indices()
        .iter()
        .zip(TARGET)
        .filter(|(a, b)| **a == *b)
        .count() as f64
}

/// A deterministic objective with some texture, so strategies make different choices.
fn textured(arch: &Arch) -> f64 {
    let h = arch
        .indices()
        .iter()
        .fold(17u64, |acc, &c| acc.wrapping_mul(31).wrapping_add(c as u64));
    closeness(arch) * 10.0 + (h % 97) as f64 / 97.0
}

/// The study loop in miniature: ask, record, evaluate, record, tell.
fn step(
    strategy: &mut dyn Strategy,
    space: &dyn SearchSpace,
    history: &mut History,
    objective: fn(&Arch) -> f64,
) -> Result<Trial, StrategyError> {
    step_with(strategy, space, history, |t| {
        let v = objective(&t.arch);
        t.metrics = Metrics::new().with("v", v);
        t.score = Some(v);
    })
}

/// `step` with the evaluation's outcome written into the trial by `evaluate`.
fn step_with(
    strategy: &mut dyn Strategy,
    space: &dyn SearchSpace,
    history: &mut History,
    evaluate: impl Fn(&mut Trial),
) -> Result<Trial, StrategyError> {
    let p = strategy.ask(history)?;
    assert!(
        space.contains(&p.arch),
        "{} proposed {:?}",
        strategy.name(),
        p.arch
    );
    let mut t = Trial::new(
        history.next_id(),
        p.arch.clone(),
        space.canonical_hash(&p.arch),
        p.fidelity,
    );
    t.state = TrialState::Running;
    history.record(t.clone());
    t.state = TrialState::Complete;
    evaluate(&mut t);
    history.record(t.clone());
    strategy.tell(&t);
    Ok(t)
}

fn build(
    config: &StrategyConfig,
    space: Arc<dyn SearchSpace>,
    seed: u64,
    dedup: bool,
) -> Result<Box<dyn Strategy>, StrategyError> {
    build_strategy(config, space, seed, dedup, Vec::new(), None)
}

/// Small models for the model-based strategies (the suite checks the contract, not the
/// model; their defaults are measured by `archer bench nb201`).
fn small(name: &str) -> StrategyConfig {
    let small_mlp = serde_json::json!({"name": "mlp", "members": 2, "hidden_layers": 1,
        "width": 8, "epochs": 5, "max_steps": 20, "prior_scale": 1.0});
    let settings = match name {
        "bo" => serde_json::json!({"random_candidates": 50, "batch": 3}),
        "bananas" => {
            serde_json::json!({"predictor": small_mlp, "random_candidates": 20, "batch": 3})
        }
        "npenas" => serde_json::json!({
            "predictor": {"name": "forest", "trees": 5, "encoding": "one_hot"},
            "children": 10
        }),
        "parego-bananas" => serde_json::json!({"random_candidates": 30, "predictor": small_mlp}),
        "parego-bo" | "ehvi-bo" => serde_json::json!({"random_candidates": 60}),
        "rl-lstm" => serde_json::json!({"hidden": 16}),
        "ppo" => serde_json::json!({"hidden": 16, "batch": 5}),
        "nao" => serde_json::json!({"hidden": 16, "embedding": 8, "mlp_hidden": 16,
            "epochs": 5, "min_rows_seen": 50, "unlabeled": 10, "max_seeds": 10,
            "batch": 5, "initial": 5}),
        "pnas" => serde_json::json!({"predictor": small_mlp, "beam": 4, "first": 6,
            "max_candidates": 60}),
        _ => serde_json::json!({}),
    };
    StrategyConfig {
        name: name.to_string(),
        settings: settings.as_object().unwrap().clone(),
    }
}

/// Every single-objective strategy of the registry (and random search), with small models.
fn configs() -> Vec<StrategyConfig> {
    archer_predict::registered()
        .filter(|k| !k.multi_objective() || k.name() == "random")
        .map(|k| small(k.name()))
        .collect()
}

fn run(
    config: &StrategyConfig,
    dedup: bool,
    seed: u64,
    n: usize,
    objective: fn(&Arch) -> f64,
) -> Vec<Arch> {
    let space = space_for(config);
    let mut s = build(config, space.clone(), seed, dedup).unwrap();
    let mut h = History::new();
    (0..n)
        .map(|_| {
            step(s.as_mut(), space.as_ref(), &mut h, objective)
                .unwrap()
                .arch
        })
        .collect()
}

fn all_configs() -> Vec<(StrategyConfig, bool)> {
    let mut out = Vec::new();
    for config in configs() {
        for dedup in [false, true] {
            out.push((config.clone(), dedup));
        }
    }
    out
}

#[test]
fn same_seed_same_run_different_seed_different_run() {
    for (c, dedup) in all_configs() {
        let a = run(&c, dedup, 1, 40, textured);
        assert_eq!(
            a,
            run(&c, dedup, 1, 40, textured),
            "{} dedup={dedup}",
            c.name()
        );
        assert_ne!(
            a,
            run(&c, dedup, 2, 40, textured),
            "{} dedup={dedup}",
            c.name()
        );
    }
}

#[test]
fn resuming_from_state_continues_exactly() {
    for (c, dedup) in all_configs() {
        let space = space_for(&c);
        let uninterrupted = run(&c, dedup, 5, 70, textured);
        let mut first = build(&c, space.clone(), 5, dedup).unwrap();
        let mut h = History::new();
        let mut got: Vec<Arch> = (0..35)
            .map(|_| {
                step(first.as_mut(), space.as_ref(), &mut h, textured)
                    .unwrap()
                    .arch
            })
            .collect();
        let saved = serde_json::to_string(&first.state()).unwrap();
        drop(first);
        // A fresh process: new strategy object, state from JSON, history as stored.
        let mut second = build(&c, space.clone(), 999, dedup).unwrap();
        second
            .restore(serde_json::from_str(&saved).unwrap())
            .unwrap();
        got.extend((0..35).map(|_| {
            step(second.as_mut(), space.as_ref(), &mut h, textured)
                .unwrap()
                .arch
        }));
        assert_eq!(got, uninterrupted, "{} dedup={dedup}", c.name());
    }
}

#[test]
fn restore_rejects_foreign_state() {
    for (c, dedup) in all_configs() {
        let mut s = build(&c, space_for(&c), 0, dedup).unwrap();
        let err = s
            .restore(serde_json::json!({"nonsense": true}))
            .unwrap_err();
        assert!(
            matches!(err, StrategyError::Restore { .. }),
            "{}: {err}",
            c.name()
        );
    }
}

#[test]
fn dedup_never_repeats_an_architecture_up_to_isomorphism() {
    for (c, _) in all_configs() {
        let space = space_for(&c);
        let archs = run(&c, true, 3, 150, textured);
        let hashes: HashSet<String> = archs.iter().map(|a| space.canonical_hash(a)).collect();
        assert_eq!(hashes.len(), archs.len(), "{}", c.name());
    }
}

#[test]
fn dedup_ends_with_exhausted_when_the_space_is_used_up() {
    let ops = vec!["none".to_string(), "nor_conv_3x3".to_string()];
    let small_nb201 = SpaceConfig::named("nb201")
        .with("ops", serde_json::json!(ops))
        .build()
        .unwrap();
    let nb201_classes: HashSet<String> = (0..64u16)
        .map(|i| {
            let choices = (0..6)
                .map(|b| if i >> b & 1 == 1 { 3 } else { 0 })
                .collect();
            small_nb201.canonical_hash(&Arch::new("nb201", 1, choices))
        })
        .collect();
    // 1 or 2 nodes, skip connections only: 1 + 3 × 3 classes.
    let small_darts = SpaceConfig::named("darts")
        .with("min_nodes", serde_json::json!(1))
        .with("nodes", serde_json::json!(2))
        .with("ops", serde_json::json!(["skip_connect"]))
        .build()
        .unwrap();
    let mut rng = archer_rng::Rng::seed_from(0);
    let darts_classes: HashSet<String> = (0..2000)
        .map(|_| small_darts.canonical_hash(&small_darts.sample(&mut rng).unwrap()))
        .collect();
    assert_eq!(darts_classes.len(), 10);
    // 1 to 3 layers of 3x3 convs of 16 or 24 filters: 2 + 4 + 8 x 2 (one skip) classes.
    let small_chain = SpaceConfig::named("macro")
        .with("min_layers", serde_json::json!(1))
        .with("layers", serde_json::json!(3))
        .with("ops", serde_json::json!(["conv"]))
        .with("kernels", serde_json::json!([3]))
        .with("filters", serde_json::json!([16, 24]))
        .build()
        .unwrap();
    let chain_classes: HashSet<String> = (0..4000)
        .map(|_| small_chain.canonical_hash(&small_chain.sample(&mut rng).unwrap()))
        .collect();
    assert_eq!(chain_classes.len(), 22);
    for config in configs() {
        let name = archer_predict::strategy_label(&config);
        let (space, classes) = if config.name() == "pnas" {
            (small_darts.clone(), &darts_classes)
        } else if config.name() == "morphism" {
            (small_chain.clone(), &chain_classes)
        } else {
            (small_nb201.clone(), &nb201_classes)
        };
        let mut s = build(&config, space.clone(), 0, true).unwrap();
        let mut h = History::new();
        let mut n = 0;
        let err = loop {
            match step(s.as_mut(), space.as_ref(), &mut h, textured) {
                Ok(_) => n += 1,
                Err(e) => break e,
            }
            assert!(n <= classes.len(), "{name} repeated a class");
        };
        assert!(matches!(err, StrategyError::Exhausted(_)), "{name}: {err}");
        // Random search and REA cover the space; local search may stop at a local optimum
        // only after restarts have found nothing new.
        assert!(
            n >= classes.len() / 2,
            "{name} stopped after {n} of {}",
            classes.len()
        );
    }
}

#[test]
fn local_search_climbs_to_the_optimum_of_a_smooth_objective() {
    // Every non-optimal cell has a strictly better neighbour, so best-improvement local search
    // reaches TARGET from its first start: at most 10 + 6 moves × 24 neighbours evaluations.
    for seed in 0..10 {
        let archs = run(
            &StrategyConfig::named("ls"),
            true,
            seed,
            10 + 6 * 24,
            closeness,
        );
        assert!(archs.iter().any(|a| a.indices() == TARGET), "seed {seed}");
    }
}

#[test]
fn evolution_beats_random_search_on_a_smooth_objective() {
    let best = |name: &str| -> f64 {
        (0..20)
            .map(|seed| {
                run(&StrategyConfig::named(name), true, seed, 60, closeness)
                    .iter()
                    .map(closeness)
                    .fold(0.0, f64::max)
            })
            .sum::<f64>()
            / 20.0
    };
    let (rea, random) = (best("rea"), best("random"));
    assert!(rea > random, "rea {rea} vs random {random}");
}

#[test]
fn model_based_strategies_beat_random_search_on_a_smooth_objective() {
    let best = |config: &StrategyConfig| -> f64 {
        (0..10)
            .map(|seed| {
                run(config, true, seed, 40, closeness)
                    .iter()
                    .map(closeness)
                    .fold(0.0, f64::max)
            })
            .sum::<f64>()
            / 10.0
    };
    let random = best(&StrategyConfig::named("random"));
    // `pnas` and `morphism` search other spaces; their own tests are below.
    for config in configs()
        .iter()
        .filter(|c| archer_predict::is_model_based(c) && c.name != "pnas" && c.name != "morphism")
    {
        let b = best(config);
        assert!(b > random, "{} {b} vs random {random}", config.name);
    }
}

/// The mean over 10 seeds of the best of 40 trials of `config` on `space`, scored by
/// [`encoded_score`].
fn best_of_40(config: &StrategyConfig, space: &Arc<dyn SearchSpace>) -> f64 {
    (0..10)
        .map(|seed| {
            let mut s = build(config, space.clone(), seed, true).unwrap();
            let mut h = History::new();
            (0..40)
                .map(|_| {
                    step_with(s.as_mut(), space.as_ref(), &mut h, |t| {
                        let v = encoded_score(space.as_ref(), &t.arch);
                        t.metrics = Metrics::new().with("v", v);
                        t.score = Some(v);
                    })
                    .unwrap()
                    .score
                    .unwrap()
                })
                .fold(f64::NEG_INFINITY, f64::max)
        })
        .sum::<f64>()
        / 10.0
}

#[test]
fn pnas_beats_random_search_on_a_space_that_grows() {
    let space = growing_darts();
    let (pnas, random) = (
        best_of_40(&small("pnas"), &space),
        best_of_40(&StrategyConfig::named("random"), &space),
    );
    assert!(pnas > random, "pnas {pnas} vs random {random}");
}

/// A chain network's worth that rewards depth and width, as training usually does at this
/// size: what morphism's deepen and widen climb.
fn chain_worth(space: &dyn SearchSpace, arch: &Arch) -> f64 {
    let chain = space.as_chain().unwrap();
    (0..chain.layers_of(arch))
        .map(|i| {
            let (op, _, filters, skips) = chain.layer(arch, i);
            let op_worth = if op.ends_with("conv") { 1.0 } else { 0.3 };
            op_worth * f64::from(filters).ln() + 0.2 * skips.len() as f64
        })
        .sum()
}

#[test]
fn morphism_climbs_by_morphs_and_beats_random_search_on_a_chain() {
    let space = growing_chain();
    let best = |config: &StrategyConfig| -> f64 {
        (0..10)
            .map(|seed| {
                let mut s = build(config, space.clone(), seed, true).unwrap();
                let mut h = History::new();
                let mut best = f64::NEG_INFINITY;
                let mut fallbacks = 0;
                for i in 0..40 {
                    let p = s.ask(&h).unwrap();
                    if config.name == "morphism" && i >= 3 {
                        // After the first networks, a proposal is a morph of a told network,
                        // named with its parent when the parent's weights are kept.
                        match &p.inherit {
                            Some(inherit) => {
                                let parent = h.get(inherit.parent).expect("an evaluated parent");
                                assert_eq!(parent.arch, inherit.parent_arch);
                                let chain = space.as_chain().unwrap();
                                assert!(chain.morphs(&parent.arch, 16).iter().any(|(m, child)| {
                                    *child == p.arch && m.to_string() == inherit.morph
                                }));
                            }
                            // A child of a network whose weights are not kept, or a
                            // random network when no network has a new child.
                            None => {
                                let chain = space.as_chain().unwrap();
                                let morphed = h.trials().iter().any(|t| {
                                    chain.morphs(&t.arch, 16).iter().any(|(_, c)| *c == p.arch)
                                });
                                if !morphed {
                                    fallbacks += 1;
                                }
                            }
                        }
                    }
                    let mut t = Trial::new(
                        h.next_id(),
                        p.arch.clone(),
                        space.canonical_hash(&p.arch),
                        p.fidelity,
                    );
                    t.state = TrialState::Complete;
                    let v = chain_worth(space.as_ref(), &t.arch);
                    t.metrics = Metrics::new().with("v", v);
                    t.score = Some(v);
                    h.record(t.clone());
                    s.tell(&t);
                    best = best.max(v);
                }
                assert!(
                    fallbacks <= 10,
                    "seed {seed}: {fallbacks} of 37 proposals were no morph"
                );
                best
            })
            .sum::<f64>()
            / 10.0
    };
    let (morphism, random) = (
        best(&small("morphism")),
        best(&StrategyConfig::named("random")),
    );
    assert!(morphism > random, "morphism {morphism} vs random {random}");
}

#[test]
fn morphism_refuses_a_space_it_cannot_morph_and_says_why() {
    let err = build(&small("morphism"), nb201(), 0, true)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("chains of layers"), "{err}");
    let fixed = SpaceConfig::named("macro").build().unwrap();
    let err = build(&small("morphism"), fixed, 0, true)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("min_layers"), "{err}");
}

#[test]
fn pnas_refuses_a_space_that_does_not_grow_and_says_why() {
    let err = build(&small("pnas"), nb201(), 0, true)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("does not grow by blocks"), "{err}");
}

#[test]
fn invalid_settings_are_named() {
    let bad = StrategyConfig::named("rea")
        .with("population", 5.into())
        .with("sample", 6.into());
    let err = archer_predict::check_strategy(&bad)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("strategy.sample = 6") && err.contains("1 to population (5)"),
        "{err}"
    );
    assert!(archer_predict::strategy_by_label("bogus").is_err());
    let bogus = StrategyConfig::named("bogus");
    let err = archer_predict::check_strategy(&bogus)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "random, rea, ls, reinforce, nsga2, mo-rea, tpe, ga, ga_gen, metaqnn, genet, bo, bo_path"
        ),
        "{err}"
    );
    assert!(
        err.contains("parego-bo, parego-bananas, ehvi-bo, pnas, morphism"),
        "{err}"
    );
    if cfg!(feature = "neural") {
        assert!(
            err.contains("ehvi-bo, pnas, morphism, rl-lstm, ppo, nao"),
            "{err}"
        );
    }
}

/// The second objective (minimised): a size every strategy may read before evaluation.
fn size(arch: &Arch) -> f64 {
    arch.indices().iter().map(|&c| f64::from(c)).sum()
}

/// Knows `size` before evaluation, as a latency table or a parameter count would be known.
struct KnowsSize;

impl archer_strategy::Prescreen for KnowsSize {
    fn violation(&self, _arch: &Arch) -> f64 {
        0.0
    }
    fn known_scores(&self, arch: &Arch) -> Vec<Option<f64>> {
        vec![None, Some(-size(arch))]
    }
}

/// Every multi-objective strategy of the registry, with small models.
fn registered_configs() -> Vec<StrategyConfig> {
    archer_predict::registered()
        .filter(|k| k.multi_objective())
        .map(|k| small(k.name()))
        .collect()
}

/// Two objectives: `textured` (maximised) and `size` (minimised, known before evaluation).
fn mo_step(strategy: &mut dyn Strategy, space: &dyn SearchSpace, history: &mut History) -> Arch {
    step_with(strategy, space, history, |t| {
        t.scores = vec![textured(&t.arch), -size(&t.arch)];
        t.score = Some(t.scores[0]);
        t.metrics = Metrics::new()
            .with("v", t.scores[0])
            .with("size", size(&t.arch));
    })
    .unwrap()
    .arch
}

fn build_mo(config: &StrategyConfig, seed: u64) -> Box<dyn Strategy> {
    build_strategy(
        config,
        nb201(),
        seed,
        true,
        Vec::new(),
        Some(Arc::new(KnowsSize)),
    )
    .unwrap()
}

fn run_mo(config: &StrategyConfig, seed: u64, n: usize) -> Vec<Arch> {
    let space = nb201();
    let mut s = build_mo(config, seed);
    let mut h = History::new();
    (0..n)
        .map(|_| mo_step(s.as_mut(), space.as_ref(), &mut h))
        .collect()
}

#[test]
fn registered_strategies_are_reproducible_and_resume_exactly() {
    for c in registered_configs() {
        let uninterrupted = run_mo(&c, 3, 40);
        assert_eq!(uninterrupted, run_mo(&c, 3, 40), "{}", c.name());
        assert_ne!(uninterrupted, run_mo(&c, 4, 40), "{}", c.name());
        let space = nb201();
        let mut first = build_mo(&c, 3);
        let mut h = History::new();
        let mut got: Vec<Arch> = (0..20)
            .map(|_| mo_step(first.as_mut(), space.as_ref(), &mut h))
            .collect();
        let saved = serde_json::to_string(&first.state()).unwrap();
        drop(first);
        let mut second = build_mo(&c, 999);
        second
            .restore(serde_json::from_str(&saved).unwrap())
            .unwrap();
        got.extend((0..20).map(|_| mo_step(second.as_mut(), space.as_ref(), &mut h)));
        assert_eq!(got, uninterrupted, "{}", c.name());
    }
}

#[test]
fn ehvi_bo_finds_more_of_the_front_than_random_search() {
    // The hypervolume of the found front (textured up, size down) after 40 evaluations,
    // summed over 5 seeds.
    let hv = |name: &str| -> f64 {
        let config = StrategyConfig::named(name);
        (0..5)
            .map(|seed| {
                let found: Vec<Vec<f64>> = run_mo(&config, seed, 40)
                    .iter()
                    .map(|a| vec![textured(a), -size(a)])
                    .collect();
                let points: Vec<&[f64]> = found.iter().map(|p| p.as_slice()).collect();
                archer_core::pareto::hypervolume(&points, &[0.0, -30.0])
            })
            .sum()
    };
    let (ehvi, random) = (hv("ehvi-bo"), hv("random"));
    assert!(ehvi > random, "ehvi-bo {ehvi} vs random {random}");
}

#[test]
fn every_label_is_its_own_label_and_round_trips() {
    for label in archer_predict::strategy_labels() {
        let config = archer_predict::strategy_by_label(&label).unwrap();
        archer_predict::check_strategy(&config).unwrap();
        assert_eq!(archer_predict::strategy_label(&config), label);
        let zc = archer_predict::strategy_by_label(&format!("{label}+zc"));
        if ["bo", "bananas", "npenas"].contains(&config.name.as_str()) {
            let zc = zc.unwrap();
            assert_eq!(archer_predict::strategy_label(&zc), format!("{label}+zc"));
            assert!(archer_predict::strategy_warm_start(&zc).is_some());
        } else {
            assert!(zc.is_err(), "{label}+zc");
        }
    }
}

/// The space of examples/spaces/every-primitive.toml: choices, ints, floats, an input
/// choice, a repeat with a conditional body, a conditional DARTS cell and an NB201 cell.
fn every_primitive() -> Arc<dyn SearchSpace> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/spaces/every-primitive.toml");
    Arc::new(archer_space::DeclaredSpace::from_file(&path).unwrap())
}

/// A smooth objective on any space: the mean of the one-hot / scaled encoding, weighted.
fn encoded_score(space: &dyn SearchSpace, arch: &Arch) -> f64 {
    space
        .encode(arch, archer_space::Encoding::OneHot)
        .iter()
        .enumerate()
        .map(|(i, &x)| f64::from(x) * ((i % 7) as f64 - 3.0))
        .sum()
}

#[test]
fn every_strategy_searches_a_declared_space_with_every_primitive() {
    let space = every_primitive();
    // Variants with other kernels and encodings; the GP/BANANAS ones score fewer candidates.
    let variants = [
        ("bo_wl", true),
        ("bo_path", true),
        ("bananas_forest", true),
        ("npenas_mlp", false),
    ]
    .map(|(label, fewer_candidates)| {
        let mut c = archer_predict::strategy_by_label(label).unwrap();
        if fewer_candidates {
            c.settings
                .insert("random_candidates".into(), serde_json::json!(40));
        }
        archer_predict::check_strategy(&c).unwrap_or_else(|e| panic!("{label}: {e}"));
        c
    });
    // `morphism` changes chains of layers only (its refusal of other spaces is tested above).
    let single = configs()
        .into_iter()
        .filter(|c| c.name != "morphism")
        .chain(variants);
    for config in single {
        let mut s = build(&config, space.clone(), 5, true).unwrap();
        let mut h = History::new();
        for _ in 0..25 {
            step_with(s.as_mut(), space.as_ref(), &mut h, |t| {
                let v = encoded_score(space.as_ref(), &t.arch);
                t.metrics = Metrics::new().with("v", v);
                t.score = Some(v);
            })
            .unwrap_or_else(|e| panic!("{}: {e}", config.name()));
        }
    }
    for config in registered_configs() {
        let mut s = build_strategy(&config, space.clone(), 5, true, Vec::new(), None).unwrap();
        let mut h = History::new();
        for _ in 0..25 {
            step_with(s.as_mut(), space.as_ref(), &mut h, |t| {
                let v = encoded_score(space.as_ref(), &t.arch);
                let d = space.encode(&t.arch, archer_space::Encoding::OneHot).len() as f64;
                t.scores = vec![v, -d];
                t.score = Some(v);
                t.metrics = Metrics::new().with("v", v);
            })
            .unwrap_or_else(|e| panic!("{}: {e}", config.name()));
        }
    }
}
