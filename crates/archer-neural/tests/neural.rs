//! The neural strategies learn what they are told to: each is built through its registry
//! entry and run on NAS-Bench-201's space against objectives with a known optimum. (Same
//! seed, resume and declared spaces are checked for every strategy by archer-predict's
//! conformance suite.)

use std::sync::Arc;

use archer_core::{Arch, Fidelity, History, Trial, TrialState};
use archer_neural::NEURAL_KINDS;
use archer_rng::Rng;
use archer_space::{Nb201Space, SearchSpace};
use archer_strategy::{BuildContext, Settings, Strategy};

fn build(name: &str, settings: serde_json::Value, seed: u64) -> Box<dyn Strategy> {
    let kind = archer_strategy::find(NEURAL_KINDS, name).expect("registered");
    let settings: Settings = settings.as_object().unwrap().clone();
    kind.check(&settings).unwrap();
    kind.build(
        &settings,
        BuildContext {
            space: Arc::new(Nb201Space::default()),
            rng: Rng::seed_from(seed),
            warm_start: Vec::new(),
            prescreen: None,
        },
    )
    .unwrap()
}

/// Asks and tells `n` times with `reward`; returns the proposals.
fn run(s: &mut dyn Strategy, n: usize, reward: impl Fn(&Arch) -> f64) -> Vec<Arch> {
    let mut history = History::new();
    (0..n)
        .map(|_| {
            let p = s.ask(&history).unwrap();
            let mut t = Trial::new(
                history.next_id(),
                p.arch.clone(),
                String::new(),
                Fidelity::full(),
            );
            t.state = TrialState::Complete;
            t.score = Some(reward(&p.arch));
            history.record(t.clone());
            s.tell(&t);
            p.arch
        })
        .collect()
}

/// The share of the last 50 proposals with `conv3x3` (choice 3) on edge 0.
fn rewarded_share(archs: &[Arch]) -> f64 {
    let tail = &archs[archs.len() - 50..];
    tail.iter().filter(|a| a.index(0) == 3).count() as f64 / 50.0
}

#[test]
fn rl_lstm_learns_the_rewarded_choice() {
    let mut s = build("rl-lstm", serde_json::json!({"learning_rate": 0.02}), 0);
    let archs = run(s.as_mut(), 300, |a| if a.index(0) == 3 { 1.0 } else { 0.0 });
    let share = rewarded_share(&archs);
    assert!(share > 0.8, "share {share}");
}

#[test]
fn ppo_learns_the_rewarded_choice() {
    let mut s = build("ppo", serde_json::json!({"learning_rate": 0.02}), 0);
    let archs = run(s.as_mut(), 300, |a| if a.index(0) == 3 { 1.0 } else { 0.0 });
    let share = rewarded_share(&archs);
    assert!(share > 0.8, "share {share}");
}

/// Closeness to one cell, with a unique optimum.
const TARGET: [u16; 6] = [3, 3, 3, 1, 3, 2];
fn closeness(arch: &Arch) -> f64 {
    arch.indices()
        .iter()
        .zip(TARGET)
        .filter(|(a, b)| **a == *b)
        .count() as f64
}

#[test]
fn nao_proposes_better_cells_than_random_sampling_once_it_has_a_model() {
    // After its `initial` random cells, nao's proposals come from its model: their mean
    // closeness, over 5 seeds, against as many uniform samples.
    let space = Nb201Space::default();
    let (initial, evaluations) = (10, 40);
    let mut nao_total = 0.0;
    let mut random_total = 0.0;
    for seed in 0..5 {
        let mut s = build("nao", serde_json::json!({ "initial": initial }), seed);
        let found = run(s.as_mut(), evaluations, closeness);
        nao_total += found[initial..].iter().map(closeness).sum::<f64>();
        let mut rng = Rng::seed_from(seed + 100);
        random_total += (initial..evaluations)
            .map(|_| closeness(&space.sample(&mut rng).unwrap()))
            .sum::<f64>();
    }
    assert!(
        nao_total > 1.5 * random_total,
        "nao {nao_total} vs random {random_total}"
    );
}

#[test]
fn settings_are_checked_with_the_key_named() {
    let check = |name: &str, settings: serde_json::Value| {
        let kind = archer_strategy::find(NEURAL_KINDS, name).unwrap();
        kind.check(settings.as_object().unwrap())
            .unwrap_err()
            .to_string()
    };
    assert!(check("rl-lstm", serde_json::json!({"clip": 0.2}))
        .contains("strategy.clip applies to ppo only"));
    assert!(check("ppo", serde_json::json!({"clip": 1.5})).contains("strategy.clip"));
    assert!(check("rl-lstm", serde_json::json!({"hidden": 0})).contains("strategy.hidden"));
    assert!(check("nao", serde_json::json!({"trade_off": 2.0})).contains("strategy.trade_off"));
    assert!(check("nao", serde_json::json!({"epoch": 5})).contains("unknown field"));
}
