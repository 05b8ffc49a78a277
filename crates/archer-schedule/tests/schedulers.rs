//! The schedulers' rules on hand-made histories: what pauses, stops and promotes, and when.

use std::sync::Arc;

use archer_core::{Arch, Fidelity, History, Trial, TrialState};
use archer_schedule::{
    Admission, Asha, Decision, PercentilePruner, RungObjectives, RungSearcher, RungType, Scheduler,
    SchedulerConfig, SuccessiveHalving, BRACKET_ATTR,
};
use archer_strategy::{Proposal, Strategy, StrategyError};

fn arch(id: u64) -> Arch {
    Arch::new("toy", 1, vec![(id % 5) as u16, (id / 5 % 5) as u16])
}

/// A trial that reported `value` at every step up to `reached`, in `state`.
fn trial(id: u64, reached: u32, value: f64, state: TrialState) -> Trial {
    let mut t = Trial::new(id, arch(id), format!("h{id}"), Fidelity::full());
    t.state = state;
    t.intermediate = (1..=reached).map(|s| (s, value)).collect();
    t
}

fn history(trials: Vec<Trial>) -> History {
    History::from_trials(trials).unwrap()
}

fn asha(kind: RungType) -> Asha {
    // Rungs 1, 3, 9.
    Asha::new(vec![1, 3, 9], 3.0, kind, 1, 0, RungObjectives::single(true))
}

#[test]
fn asha_with_promotion_pauses_at_each_rung_and_promotes_the_top_third() {
    let mut s = asha(RungType::Promotion);
    let fresh = trial(0, 0, 0.0, TrialState::Running);
    let h = history(vec![trial(0, 1, 0.5, TrialState::Running)]);
    assert_eq!(s.decide(&fresh, 1, 0.5, &h), Decision::Pause);
    assert_eq!(s.decide(&fresh, 2, 0.5, &h), Decision::Continue);
    // A trial continued from rung 1 passes it without pausing, then pauses at 3.
    let resumed = trial(0, 1, 0.5, TrialState::Running);
    assert_eq!(s.decide(&resumed, 3, 0.5, &h), Decision::Pause);
    assert_eq!(s.decide(&resumed, 9, 0.5, &h), Decision::Continue);
    // Two paused at rung 1: ⌊2/3⌋ = 0 may go up; with three, the best one.
    let two = history(vec![
        trial(0, 1, 0.5, TrialState::Paused),
        trial(1, 1, 0.9, TrialState::Paused),
    ]);
    assert_eq!(s.next(&two), Admission::New);
    let three = history(vec![
        trial(0, 1, 0.5, TrialState::Paused),
        trial(1, 1, 0.9, TrialState::Paused),
        trial(2, 1, 0.7, TrialState::Paused),
    ]);
    match s.next(&three) {
        Admission::Promote(p) => assert_eq!((p.trial, p.from_scratch), (1, false)),
        other => panic!("{other:?}"),
    }
    // Once promoted (running past rung 1), it is not promoted again; nobody else is in the
    // top third.
    let after = history(vec![
        trial(0, 1, 0.5, TrialState::Paused),
        trial(1, 2, 0.9, TrialState::Running),
        trial(2, 1, 0.7, TrialState::Paused),
    ]);
    assert_eq!(s.next(&after), Admission::New);
    // Out of new architectures: the best of the highest rung anyone waits at goes on.
    let waiting = history(vec![
        trial(0, 1, 0.5, TrialState::Paused),
        trial(1, 3, 0.6, TrialState::Paused),
        trial(2, 3, 0.8, TrialState::Paused),
    ]);
    assert_eq!(s.exhausted(&waiting).map(|p| p.trial), Some(2));
}

#[test]
fn paused_trials_rank_by_their_place_in_the_rung_they_wait_at() {
    use TrialState::*;
    // Every trial reported step 1; 6, 7 and 8 reached step 3 too. Trials 3 and 5 wait at
    // rung 1, trial 6 at rung 3.
    let h = history(vec![
        trial(0, 1, 1.0, Pruned),
        trial(1, 1, 2.0, Pruned),
        trial(2, 1, 3.0, Complete),
        trial(3, 1, 4.0, Paused),
        trial(4, 1, 5.0, Pruned),
        trial(5, 1, 6.0, Paused),
        trial(6, 3, 2.0, Paused),
        trial(7, 3, 9.0, Running),
        trial(8, 9, 7.0, Complete),
    ]);
    let s = asha(RungType::Promotion);
    // Trial 6 is last of the 3 at step 3 (2/3 of the rung above it), trial 3 fifth of the
    // 9 at step 1 (4/9 above it), trial 5 third (2/9).
    assert_eq!(s.paused_by_promise(&h), vec![6, 3, 5]);
    let minimising = Asha::new(
        vec![1, 3, 9],
        3.0,
        RungType::Promotion,
        1,
        0,
        RungObjectives::single(false),
    );
    assert_eq!(minimising.paused_by_promise(&h)[..2], [5, 3]);
}

#[test]
fn asha_with_stopping_cuts_a_trial_outside_the_top_third_of_its_rung() {
    let mut s = asha(RungType::Stopping);
    let seen: Vec<Trial> = (0..5)
        .map(|i| trial(i, 1, 0.1 * i as f64, TrialState::Pruned))
        .collect();
    let mut with = |value: f64| {
        let mut all = seen.clone();
        all.push(trial(5, 1, value, TrialState::Running));
        let h = history(all);
        s.decide(&trial(5, 0, 0.0, TrialState::Running), 1, value, &h)
    };
    // Six values at rung 1: the top two go on.
    assert_eq!(with(0.45), Decision::Continue);
    assert_eq!(with(0.25), Decision::Stop);
    assert_eq!(
        s.next(&history(vec![trial(0, 1, 0.9, TrialState::Paused)])),
        Admission::New
    );
}

fn with_bracket(mut t: Trial, bracket: usize) -> Trial {
    t.attrs
        .insert(BRACKET_ATTR.into(), serde_json::json!(bracket));
    t
}

#[test]
fn successive_halving_waits_for_its_whole_rung_and_starts_the_next_bracket_meanwhile() {
    // Rungs 1, 3, 9: one bracket of 9 trials at rung 1.
    let mut s = SuccessiveHalving::new(
        vec![1, 3, 9],
        3.0,
        1,
        RungType::Promotion,
        RungObjectives::single(true),
    );
    let mut trials: Vec<Trial> = (0..8)
        .map(|i| with_bracket(trial(i, 1, i as f64, TrialState::Paused), 0))
        .collect();
    let h = history(trials.clone());
    assert_eq!(s.next(&h), Admission::New, "the bracket still draws");
    assert_eq!(
        s.new_trial_attrs(&h),
        vec![(BRACKET_ATTR.to_string(), serde_json::json!(0))]
    );
    trials.push(with_bracket(trial(8, 0, 0.0, TrialState::Running), 0));
    let h = history(trials.clone());
    assert_eq!(s.next(&h), Admission::New, "rung 1 waits for trial 8");
    assert_eq!(
        s.new_trial_attrs(&h),
        vec![(BRACKET_ATTR.to_string(), serde_json::json!(1))],
        "meanwhile the next bracket starts"
    );
    trials[8] = with_bracket(trial(8, 1, 8.5, TrialState::Paused), 0);
    let h = history(trials.clone());
    match s.next(&h) {
        Admission::Promote(p) => assert_eq!(p.trial, 8, "the best first"),
        other => panic!("{other:?}"),
    }
    // The top three of nine (8, 7, 6) go up, one by one; then nobody.
    trials[8] = with_bracket(trial(8, 1, 8.5, TrialState::Running), 0);
    trials[7] = with_bracket(trial(7, 1, 7.0, TrialState::Running), 0);
    let h = history(trials.clone());
    match s.next(&h) {
        Admission::Promote(p) => assert_eq!(p.trial, 6),
        other => panic!("{other:?}"),
    }
    // A trial of rung 3 pauses there, having passed rung 1.
    let resumed = with_bracket(trial(8, 1, 8.5, TrialState::Running), 0);
    assert_eq!(s.decide(&resumed, 1, 8.5, &h), Decision::Continue);
    assert_eq!(s.decide(&resumed, 3, 8.5, &h), Decision::Pause);
    // Stopping type: survivors train again from scratch.
    let mut stop = SuccessiveHalving::new(
        vec![1, 3, 9],
        3.0,
        1,
        RungType::Stopping,
        RungObjectives::single(true),
    );
    let done: Vec<Trial> = (0..9)
        .map(|i| with_bracket(trial(i, 1, i as f64, TrialState::Paused), 0))
        .collect();
    match stop.next(&history(done)) {
        Admission::Promote(p) => assert_eq!((p.trial, p.from_scratch), (8, true)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn hyperband_cycles_its_brackets() {
    let s = SchedulerConfig {
        kind: "hyperband".into(),
        min_resource: Some(1),
        max_resource: Some(9),
        ..SchedulerConfig::default()
    };
    let mut hb = s.build(None, RungObjectives::single(true), true).unwrap();
    assert_eq!(hb.name(), "hyperband");
    assert_eq!(hb.rung_levels(), vec![1, 3, 9]);
    // Bracket 0 takes 9 trials, then bracket 1 (5 at rung 3) begins.
    let trials: Vec<Trial> = (0..9)
        .map(|i| with_bracket(trial(i, 0, 0.0, TrialState::Running), 0))
        .collect();
    assert_eq!(
        hb.new_trial_attrs(&history(trials)),
        vec![(BRACKET_ATTR.to_string(), serde_json::json!(1))]
    );
    // A bracket-1 trial starts at rung 3: it does not pause at 1.
    let t = with_bracket(trial(9, 0, 0.0, TrialState::Running), 1);
    let h = history(vec![]);
    assert_eq!(hb.decide(&t, 1, 0.5, &h), Decision::Continue);
    assert_eq!(hb.decide(&t, 3, 0.5, &h), Decision::Pause);
}

#[test]
fn the_percentile_pruner_compares_with_the_other_trials_at_the_same_step() {
    let mut median = PercentilePruner::median(3, 2, 1, true);
    let others: Vec<Trial> = (0..4)
        .map(|i| trial(i, 5, i as f64, TrialState::Complete))
        .collect();
    let h = history(others);
    let me = trial(4, 0, 0.0, TrialState::Running);
    assert_eq!(median.decide(&me, 1, -9.0, &h), Decision::Continue, "grace");
    assert_eq!(median.decide(&me, 3, 1.0, &h), Decision::Stop, "below 1.5");
    assert_eq!(median.decide(&me, 3, 2.0, &h), Decision::Continue);
    assert_eq!(
        median.decide(&me, 6, -9.0, &h),
        Decision::Continue,
        "no peers"
    );
    // Minimising: low is good.
    let mut low = PercentilePruner::new(25.0, 3, 0, 1, false);
    assert_eq!(low.decide(&me, 3, 0.5, &h), Decision::Continue);
    assert_eq!(low.decide(&me, 3, 1.0, &h), Decision::Stop);
}

#[test]
fn settings_that_do_not_apply_or_are_out_of_range_are_refused_by_name() {
    let bad = |c: SchedulerConfig| c.validate().unwrap_err().to_string();
    let asha = SchedulerConfig::of_kind("asha");
    assert!(bad(SchedulerConfig {
        keep_percent: Some(10.0),
        ..asha.clone()
    })
    .contains("scheduler.keep_percent: does not apply to kind = \"asha\""));
    assert!(bad(SchedulerConfig {
        eta: Some(1.0),
        ..asha.clone()
    })
    .contains("scheduler.eta"));
    assert!(bad(SchedulerConfig {
        rung_type: Some("pausing".into()),
        ..asha.clone()
    })
    .contains("\"promotion\", \"stopping\""));
    assert!(bad(SchedulerConfig::of_kind("asap")).contains("accepted: full, asha"));
    let err = asha
        .build(None, RungObjectives::single(true), true)
        .err()
        .unwrap();
    assert_eq!(err.key, "scheduler.max_resource");
}

/// Records what it is told; proposes a fixed architecture.
#[derive(Default)]
struct Recorder {
    told: Vec<(u64, Option<u32>, f64)>,
    salt: u64,
}

impl Strategy for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    fn ask(&mut self, _: &History) -> Result<Proposal, StrategyError> {
        Ok(Proposal::full(arch(self.salt)))
    }
    fn tell(&mut self, t: &Trial) {
        self.told.push((t.id, t.fidelity.epochs, t.score.unwrap()));
    }
    fn state(&self) -> serde_json::Value {
        serde_json::json!(self.told)
    }
    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError> {
        self.told = serde_json::from_value(state).unwrap();
        Ok(())
    }
}

#[test]
fn the_rung_searcher_learns_from_the_highest_rung_with_enough_values() {
    let told = Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
    let log = told.clone();
    let factory: archer_schedule::StrategyFactory = Arc::new(move |salt| {
        log.lock().unwrap().push(salt);
        Ok(Box::new(Recorder {
            salt,
            ..Default::default()
        }) as Box<dyn Strategy>)
    });
    let mut s = RungSearcher::new(factory, vec![1, 3, 9], 2, false).unwrap();
    let mut trials = vec![
        trial(0, 1, 5.0, TrialState::Paused),
        trial(1, 3, 4.0, TrialState::Paused),
    ];
    s.ask(&history(trials.clone())).unwrap();
    assert_eq!(s.level(), Some(1), "only rung 1 has two values");
    trials.push(trial(2, 3, 3.0, TrialState::Paused));
    s.ask(&history(trials.clone())).unwrap();
    assert_eq!(s.level(), Some(3));
    // Rebuilt for rung 3 (salt 4) and told the two values there, minimised: -4, -3.
    assert_eq!(*told.lock().unwrap(), vec![0, 2, 4]);
    let state = s.state();
    assert_eq!(
        state["inner"],
        serde_json::json!([[1, 3, -4.0], [2, 3, -3.0]])
    );
    // Restored from its state, it continues where it was.
    let factory: archer_schedule::StrategyFactory = Arc::new(|salt| {
        Ok(Box::new(Recorder {
            salt,
            ..Default::default()
        }) as Box<dyn Strategy>)
    });
    let mut again = RungSearcher::new(factory, vec![1, 3, 9], 2, false).unwrap();
    again.restore(state.clone()).unwrap();
    assert_eq!(again.level(), Some(3));
    assert_eq!(again.state(), state);
    let p = again.ask(&history(trials)).unwrap();
    assert_eq!(p.arch, arch(4));
}
