use std::collections::HashMap;

use crate::pareto::{trials_front, Point};
use crate::{Fidelity, Trial, TrialState};

/// All trials of a study, in id order, with an index by canonical architecture hash.
/// Strategies read it in `ask`; only the study loop writes it.
#[derive(Clone, Debug, Default)]
pub struct History {
    trials: Vec<Trial>,
    by_hash: HashMap<String, Vec<u64>>,
    /// How many trials were rejected before evaluation (kept for `evaluated`, which every
    /// budget check asks).
    screened: usize,
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
        let was_screened = self.trials.get(id).is_some_and(Trial::is_screened);
        self.screened =
            self.screened + usize::from(trial.is_screened()) - usize::from(was_screened);
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

    /// The first COMPLETE trial of this canonical hash at this fidelity.
    pub fn find_completed(&self, hash: &str, fidelity: &Fidelity) -> Option<&Trial> {
        self.with_hash(hash)
            .find(|t| t.state == TrialState::Complete && t.fidelity == *fidelity)
    }

    /// Whether a trial of this hash at this fidelity is COMPLETE, WAITING, RUNNING or PAUSED
    /// (i.e. worth not repeating). De-duplication is keyed on (hash, fidelity), so a
    /// scheduler may promote an architecture to a higher fidelity.
    pub fn is_known(&self, hash: &str, fidelity: &Fidelity) -> bool {
        self.with_hash(hash).any(|t| {
            t.fidelity == *fidelity
                && matches!(
                    t.state,
                    TrialState::Complete
                        | TrialState::Waiting
                        | TrialState::Running
                        | TrialState::Paused
                )
        })
    }

    /// Trials evaluated so far or under way: every trial but those rejected before
    /// evaluation (they cost nothing and do not count toward a trial budget).
    pub fn evaluated(&self) -> usize {
        self.trials.len() - self.screened
    }

    /// The feasible COMPLETE trials that no other feasible COMPLETE trial dominates on the
    /// study's objectives, in id order; duplicates of a front point (same scores) are kept
    /// once, the earliest.
    pub fn pareto_front(&self) -> Vec<&Trial> {
        trials_front(self.trials.iter())
    }

    /// COMPLETE trials (feasible or not) as points for the multi-objective code, with their
    /// trials.
    pub fn points(&self) -> Vec<(&Trial, Point<'_>)> {
        self.trials
            .iter()
            .filter_map(|t| Point::of(t).map(|p| (t, p)))
            .collect()
    }

    /// The feasible COMPLETE trial with the highest score (the first objective); the
    /// earliest one on ties.
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
        let full = Fidelity::full();
        assert!(h.is_known("a", &full));
        assert!(h.find_completed("a", &full).is_none());
        h.record(trial(0, "a", TrialState::Failed, None));
        assert!(!h.is_known("a", &full), "a failed trial may be retried");
        h.record(trial(1, "a", TrialState::Complete, Some(2.0)));
        assert_eq!(h.find_completed("a", &full).unwrap().id, 1);
        let low = Fidelity {
            epochs: Some(4),
            ..Fidelity::full()
        };
        assert!(
            !h.is_known("a", &low),
            "the same cell at another fidelity is new (a promotion)"
        );
        assert_eq!(h.with_hash("a").count(), 2);
    }

    #[test]
    fn pareto_front_skips_infeasible_dominated_and_duplicate_points() {
        let mut h = History::new();
        let with = |id, scores: Vec<f64>, feasible: bool| {
            let mut t = trial(id, &format!("h{id}"), TrialState::Complete, None);
            t.score = feasible.then(|| scores[0]);
            t.scores = scores;
            t.feasible = feasible;
            t
        };
        h.record(with(0, vec![1.0, 3.0], true));
        h.record(with(1, vec![2.0, 2.0], true));
        h.record(with(2, vec![1.0, 1.0], true));
        h.record(with(3, vec![9.0, 9.0], false));
        h.record(with(4, vec![2.0, 2.0], true));
        let ids: Vec<u64> = h.pareto_front().iter().map(|t| t.id).collect();
        assert_eq!(ids, vec![0, 1]);
        assert_eq!(
            h.best().unwrap().id,
            1,
            "the infeasible 9.0 is not the best"
        );
        assert_eq!(h.points().len(), 5);
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
