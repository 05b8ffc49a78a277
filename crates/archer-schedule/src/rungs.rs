//! Rungs: the steps at which a scheduler compares trials, what each trial reported there,
//! and how the members of a rung rank (by one value, or by Pareto fronts with hypervolume
//! contributions breaking ties).

use std::sync::Arc;

use archer_core::pareto::{hv_contributions, non_dominated_ranks, Point};
use archer_core::{Arch, History, Trial, TrialState};

/// The rung levels of min resource `min`, max `max` and reduction factor `eta`: `min·ηᵏ`
/// (rounded) while below `max`, then `max`. `min = 9, max = 200, η = 3`: 9, 27, 81, 200.
pub fn rung_levels(min: u32, max: u32, eta: f64) -> Vec<u32> {
    let mut levels = Vec::new();
    let mut level = min.max(1) as f64;
    while (level.round() as u32) < max {
        let l = level.round() as u32;
        if levels.last() != Some(&l) {
            levels.push(l);
        }
        level *= eta;
    }
    levels.push(max);
    levels
}

/// The value `trial` reported at `step` (the latest, if it reported it twice), if any.
pub fn value_at(trial: &Trial, step: u32) -> Option<f64> {
    trial
        .intermediate
        .iter()
        .rev()
        .find(|(s, _)| *s == step)
        .map(|(_, v)| *v)
        .filter(|v| v.is_finite())
}

/// The highest step `trial` reported, 0 if none.
pub fn max_step(trial: &Trial) -> u32 {
    trial
        .intermediate
        .iter()
        .map(|(s, _)| *s)
        .max()
        .unwrap_or(0)
}

/// Whether `trial` is PAUSED having reached exactly `level` (waiting at that rung).
pub fn paused_at(trial: &Trial, level: u32) -> bool {
    trial.state == TrialState::Paused && max_step(trial) == level
}

/// The other objectives of an architecture known before training, oriented (higher is
/// better).
pub type KnownObjectives = Arc<dyn Fn(&Arch) -> Vec<f64> + Send + Sync>;

/// The objective values a rung ranks by: the reported value (oriented), and for a
/// multi-objective study the other objectives known before evaluation (oriented too).
#[derive(Clone)]
pub struct RungObjectives {
    maximize: bool,
    /// Oriented values of the other objectives of an architecture, known before training
    /// (a latency or parameter count); `None` for a single-objective study.
    others: Option<KnownObjectives>,
}

impl std::fmt::Debug for RungObjectives {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RungObjectives")
            .field("maximize", &self.maximize)
            .field("multi_objective", &self.others.is_some())
            .finish()
    }
}

impl RungObjectives {
    /// One objective, the reported value, maximised or minimised.
    pub fn single(maximize: bool) -> Self {
        RungObjectives {
            maximize,
            others: None,
        }
    }

    /// The reported value plus the other objectives `others` gives (oriented, higher is
    /// better), ranked by non-dominated sorting.
    pub fn multi(maximize: bool, others: KnownObjectives) -> Self {
        RungObjectives {
            maximize,
            others: Some(others),
        }
    }

    pub fn is_multi(&self) -> bool {
        self.others.is_some()
    }

    /// `value` oriented so that higher is better.
    pub fn orient(&self, value: f64) -> f64 {
        if self.maximize {
            value
        } else {
            -value
        }
    }

    /// The members of the rung at `level` among `trials`: every trial that reported a
    /// finite value there, with its oriented objective vector.
    pub fn members<'a>(
        &self,
        trials: impl Iterator<Item = &'a Trial>,
        level: u32,
    ) -> Vec<(u64, Vec<f64>)> {
        trials
            .filter_map(|t| {
                let v = self.orient(value_at(t, level)?);
                let mut point = vec![v];
                if let Some(others) = &self.others {
                    point.extend(others(&t.arch));
                }
                point.iter().all(|x| x.is_finite()).then_some((t.id, point))
            })
            .collect()
    }

    /// The ids of `members`, best first: by value (one objective), or by non-dominated
    /// rank with the larger exclusive hypervolume contribution first within a front
    /// (several); ties by id.
    pub fn rank(&self, members: &[(u64, Vec<f64>)]) -> Vec<u64> {
        if members.is_empty() {
            return Vec::new();
        }
        let mut order: Vec<usize> = (0..members.len()).collect();
        if !self.is_multi() {
            order.sort_by(|&a, &b| {
                members[b].1[0]
                    .total_cmp(&members[a].1[0])
                    .then(members[a].0.cmp(&members[b].0))
            });
            return order.into_iter().map(|i| members[i].0).collect();
        }
        let points: Vec<Point> = members.iter().map(|(_, p)| Point::feasible(p)).collect();
        let ranks = non_dominated_ranks(&points);
        let reference = reference_point(members);
        let mut contribution = vec![0.0; members.len()];
        for front in 0..=ranks.iter().copied().max().unwrap_or(0) {
            let idx: Vec<usize> = (0..members.len()).filter(|&i| ranks[i] == front).collect();
            let pts: Vec<&[f64]> = idx.iter().map(|&i| &members[i].1[..]).collect();
            for (k, c) in hv_contributions(&pts, &reference).into_iter().enumerate() {
                contribution[idx[k]] = c;
            }
        }
        order.sort_by(|&a, &b| {
            ranks[a]
                .cmp(&ranks[b])
                .then(contribution[b].total_cmp(&contribution[a]))
                .then(members[a].0.cmp(&members[b].0))
        });
        order.into_iter().map(|i| members[i].0).collect()
    }
}

/// A reference point below every member: each axis's worst value less a tenth of its range
/// (or 1 when all members agree).
fn reference_point(members: &[(u64, Vec<f64>)]) -> Vec<f64> {
    let d = members[0].1.len();
    (0..d)
        .map(|k| {
            let lo = members.iter().map(|m| m.1[k]).fold(f64::INFINITY, f64::min);
            let hi = members
                .iter()
                .map(|m| m.1[k])
                .fold(f64::NEG_INFINITY, f64::max);
            let span = hi - lo;
            lo - if span > 0.0 { 0.1 * span } else { 1.0 }
        })
        .collect()
}

/// The PAUSED trials of `history`, least promising first: a trial's promise is where it
/// stands in the rung it waits at (its place in that rung's ranking, as a share of the
/// rung's members, over every evaluated trial that reported there, whatever its bracket);
/// among equals, the one waiting at the lower rung, then the newer trial, is less
/// promising. What a bound on kept checkpoints drops first.
pub fn paused_by_promise(history: &History, objectives: &RungObjectives) -> Vec<u64> {
    let paused: Vec<&Trial> = evaluated(history)
        .filter(|t| t.state == TrialState::Paused)
        .collect();
    let mut levels: Vec<u32> = paused.iter().map(|t| max_step(t)).collect();
    levels.sort_unstable();
    levels.dedup();
    // (share of the rung ranked above it, level, id) per paused trial.
    let mut standing: Vec<(f64, u32, u64)> = Vec::with_capacity(paused.len());
    for level in levels {
        let ranked = objectives.rank(&objectives.members(evaluated(history), level));
        for t in paused.iter().filter(|t| max_step(t) == level) {
            let share = match ranked.iter().position(|&id| id == t.id) {
                Some(place) => place as f64 / ranked.len() as f64,
                // No finite value there: the least promising of all.
                None => f64::INFINITY,
            };
            standing.push((share, level, t.id));
        }
    }
    standing.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(b.2.cmp(&a.2)));
    standing.into_iter().map(|(_, _, id)| id).collect()
}

/// The trials of `history` that a rung scheduler considers: everything but proposals
/// rejected before evaluation.
pub fn evaluated(history: &History) -> impl Iterator<Item = &Trial> {
    history.trials().iter().filter(|t| !t.is_screened())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_grow_by_eta_and_end_at_the_maximum() {
        assert_eq!(rung_levels(9, 200, 3.0), vec![9, 27, 81, 200]);
        assert_eq!(rung_levels(1, 27, 3.0), vec![1, 3, 9, 27]);
        assert_eq!(rung_levels(1, 10, 2.0), vec![1, 2, 4, 8, 10]);
        assert_eq!(rung_levels(5, 5, 3.0), vec![5]);
    }

    #[test]
    fn pareto_ranking_puts_the_front_first_and_breaks_ties_by_contribution() {
        let r = RungObjectives::multi(true, Arc::new(|_| Vec::new()));
        let members = vec![
            (0, vec![1.0, 1.0]), // dominated by 1
            (1, vec![2.0, 2.0]),
            (2, vec![3.0, 0.5]), // front, small contribution
            (3, vec![0.5, 3.0]), // front
        ];
        let order = r.rank(&members);
        assert_eq!(order.last(), Some(&0));
        assert_eq!(order[..3].len(), 3);
        assert!(!order[..3].contains(&0));
        let single = RungObjectives::single(false);
        let m = vec![(0, vec![-3.0]), (1, vec![-1.0]), (2, vec![-1.0])];
        assert_eq!(single.rank(&m), vec![1, 2, 0]);
    }
}
