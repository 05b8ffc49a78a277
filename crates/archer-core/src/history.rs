use std::collections::HashMap;

use crate::{Trial, TrialState};

/// All trials of a study, in id order, with an index by canonical architecture hash.
/// Strategies read it in `ask`; only the study loop writes it.
#[derive(Clone, Debug, Default)]
pub struct History {
    trials: Vec<Trial>,
    by_hash: HashMap<String, Vec<u64>>,
}

impl History {
    pub fn new() -> Self {
        History::default()
    }

    /// Rebuilds a history from trials in any order, e.g. loaded from a store.
    /// Trials with ids that leave a gap are an error: `Err(first missing id)`.
    pub fn from_trials(mut trials: Vec<Trial>) -> Result<Self, u64> {
        trials.sort_by_key(|t| t.id);
        let mut h = History::new();
        for t in trials {
            if t.id != h.next_id() {
                return Err(h.next_id());
            }
            h.record(t);
        }
        Ok(h)
    }

    pub fn len(&self) -> usize {
        self.trials.len()
    }

    pub fn is_empty(&self) -> bool {
        self.trials.is_empty()
    }

    /// The id the next new trial gets.
    pub fn next_id(&self) -> u64 {
        self.trials.len() as u64
    }

    pub fn trials(&self) -> &[Trial] {
        &self.trials
    }

    pub fn get(&self, id: u64) -> Option<&Trial> {
        self.trials.get(id as usize)
    }

    /// Adds a trial (its id must be `next_id()`) or replaces the trial with its id.
    ///
    /// # Panics
    /// If the id is beyond `next_id()`: the study loop assigns ids, so this is a bug.
    pub fn record(&mut self, trial: Trial) {
        let id = trial.id as usize;
        assert!(
            id <= self.trials.len(),
            "trial id {id} leaves a gap in the history"
        );
        if id == self.trials.len() {
            self.by_hash
                .entry(trial.arch_hash.clone())
                .or_default()
                .push(trial.id);
            self.trials.push(trial);
        } else {
            debug_assert_eq!(self.trials[id].arch_hash, trial.arch_hash);
            self.trials[id] = trial;
        }
    }

    pub fn completed(&self) -> impl Iterator<Item = &Trial> {
        self.trials
            .iter()
            .filter(|t| t.state == TrialState::Complete)
    }

    pub fn count(&self, state: TrialState) -> usize {
        self.trials.iter().filter(|t| t.state == state).count()
    }

    /// Trials of this canonical hash, in id order.
    pub fn with_hash(&self, hash: &str) -> impl Iterator<Item = &Trial> {
        self.by_hash
            .get(hash)
            .into_iter()
            .flatten()
            .map(|&id| &self.trials[id as usize])
    }

    /// The first COMPLETE trial of this canonical hash.
    pub fn find_completed(&self, hash: &str) -> Option<&Trial> {
        self.with_hash(hash)
            .find(|t| t.state == TrialState::Complete)
    }

    /// Whether a trial of this hash is COMPLETE, WAITING or RUNNING (i.e. worth not repeating).
    pub fn is_known(&self, hash: &str) -> bool {
        self.with_hash(hash).any(|t| {
            matches!(
                t.state,
                TrialState::Complete | TrialState::Waiting | TrialState::Running
            )
        })
    }

    /// The COMPLETE trial with the highest score; the earliest one on ties.
    pub fn best(&self) -> Option<&Trial> {
        let mut best: Option<&Trial> = None;
        for t in self.completed() {
            let Some(s) = t.score else { continue };
            if best.and_then(|b| b.score).is_none_or(|b| s > b) {
                best = Some(t);
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Arch, Fidelity};

    fn trial(id: u64, hash: &str, state: TrialState, score: Option<f64>) -> Trial {
        let mut t = Trial::new(
            id,
            Arch::new("s", 1, vec![id as u16]),
            hash.into(),
            Fidelity::full(),
        );
        t.state = state;
        t.score = score;
        t
    }

    #[test]
    fn best_is_highest_score_earliest_on_ties_and_ignores_unfinished() {
        let mut h = History::new();
        h.record(trial(0, "a", TrialState::Complete, Some(1.0)));
        h.record(trial(1, "b", TrialState::Complete, Some(3.0)));
        h.record(trial(2, "c", TrialState::Complete, Some(3.0)));
        h.record(trial(3, "d", TrialState::Failed, None));
        h.record(trial(4, "e", TrialState::Running, None));
        assert_eq!(h.best().unwrap().id, 1);
        assert_eq!(h.count(TrialState::Complete), 3);
    }

    #[test]
    fn hash_index_tracks_states_across_updates() {
        let mut h = History::new();
        h.record(trial(0, "a", TrialState::Running, None));
        assert!(h.is_known("a"));
        assert!(h.find_completed("a").is_none());
        h.record(trial(0, "a", TrialState::Failed, None));
        assert!(!h.is_known("a"), "a failed trial may be retried");
        h.record(trial(1, "a", TrialState::Complete, Some(2.0)));
        assert_eq!(h.find_completed("a").unwrap().id, 1);
        assert_eq!(h.with_hash("a").count(), 2);
    }

    #[test]
    fn from_trials_sorts_and_rejects_gaps() {
        let h = History::from_trials(vec![
            trial(1, "b", TrialState::Complete, Some(1.0)),
            trial(0, "a", TrialState::Complete, Some(0.0)),
        ])
        .unwrap();
        assert_eq!(h.get(1).unwrap().arch_hash, "b");
        assert_eq!(
            History::from_trials(vec![trial(1, "b", TrialState::Complete, None)]).unwrap_err(),
            0
        );
    }
}
