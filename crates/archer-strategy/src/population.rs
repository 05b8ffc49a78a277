//! A population for the multi-objective strategies: members with their oriented scores and
//! feasibility, ranked by Deb's constrained non-dominated sorting, with the two secondary
//! keys NSGA-II and multi-objective evolution use (crowding distance, hypervolume
//! contribution).

use archer_core::pareto::{self, Point};
use archer_core::{Arch, Trial, TrialState};
use serde::{Deserialize, Serialize};

/// One evaluated architecture in a population.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Member {
    pub arch: Arch,
    pub hash: String,
    /// Oriented objective values (higher = better); may be empty when infeasible.
    pub scores: Vec<f64>,
    pub feasible: bool,
    pub violation: f64,
}

impl Member {
    /// The member a finished trial gives: COMPLETE trials only (feasible with scores, or
    /// infeasible).
    pub fn from_trial(t: &Trial) -> Option<Member> {
        if t.state != TrialState::Complete || (t.feasible && t.scores.is_empty()) {
            return None;
        }
        Some(Member {
            arch: t.arch.clone(),
            hash: t.arch_hash.clone(),
            scores: t.scores.clone(),
            feasible: t.feasible,
            violation: t.violation,
        })
    }

    fn point(&self) -> Point<'_> {
        Point {
            scores: &self.scores,
            feasible: self.feasible,
            violation: self.violation,
        }
    }
}

/// Refuses a restored population with a member outside `space` (a state from another space
/// or a corrupt file), which would otherwise fail later, inside an ask.
pub(crate) fn check_members<'a>(
    strategy: &str,
    space: &dyn archer_space::SearchSpace,
    archs: impl IntoIterator<Item = &'a Arch>,
) -> Result<(), crate::StrategyError> {
    for arch in archs {
        if let Err(e) = space.check(arch) {
            return Err(crate::StrategyError::Restore {
                strategy: strategy.to_string(),
                reason: format!("a saved member is not in the space {}: {e}", space.name()),
            });
        }
    }
    Ok(())
}

/// Non-dominated rank of each member (0 = best front) under constrained domination.
pub(crate) fn ranks<'a>(members: impl IntoIterator<Item = &'a Member>) -> Vec<usize> {
    let points: Vec<Point> = members.into_iter().map(Member::point).collect();
    pareto::non_dominated_ranks(&points)
}

/// Each member's secondary key within its front, higher = better: `key` of the feasible
/// members of each front (crowding distance or hypervolume contribution), minus the total
/// violation for infeasible members.
fn within_fronts(members: &[&Member], ranks: &[usize], key: fn(&[&[f64]]) -> Vec<f64>) -> Vec<f64> {
    let mut out = vec![0.0; members.len()];
    let max_rank = ranks.iter().copied().max().unwrap_or(0);
    let normalised = normalise(members);
    for r in 0..=max_rank {
        let idx: Vec<usize> = (0..members.len())
            .filter(|&i| ranks[i] == r && members[i].feasible)
            .collect();
        let front: Vec<&[f64]> = idx.iter().map(|&i| &normalised[i][..]).collect();
        for (k, v) in idx.iter().zip(key(&front)) {
            out[*k] = v;
        }
    }
    for (i, m) in members.iter().enumerate() {
        if !m.feasible {
            out[i] = -m.violation;
        }
    }
    out
}

/// NSGA-II's crowding distance of each member within its front (infinite at the extremes).
pub(crate) fn crowding(members: &[&Member], ranks: &[usize]) -> Vec<f64> {
    within_fronts(members, ranks, pareto::crowding_distances)
}

/// Each member's exclusive hypervolume contribution within its front, on objectives scaled
/// to [0, 1] over the population's feasible members, with the reference point 0.1 below
/// the worst on every axis.
pub(crate) fn hv_contribution(members: &[&Member], ranks: &[usize]) -> Vec<f64> {
    within_fronts(members, ranks, |front| {
        let dims = front.first().map_or(0, |p| p.len());
        pareto::hv_contributions(front, &vec![-0.1; dims])
    })
}

/// Feasible members' scores scaled to [0, 1] per objective over the feasible members (0.5
/// where an objective does not vary); infeasible members get an empty vector.
fn normalise(members: &[&Member]) -> Vec<Vec<f64>> {
    let dims = members
        .iter()
        .find(|m| m.feasible)
        .map_or(0, |m| m.scores.len());
    let mut lo = vec![f64::INFINITY; dims];
    let mut hi = vec![f64::NEG_INFINITY; dims];
    for m in members
        .iter()
        .filter(|m| m.feasible && m.scores.len() == dims)
    {
        for k in 0..dims {
            lo[k] = lo[k].min(m.scores[k]);
            hi[k] = hi[k].max(m.scores[k]);
        }
    }
    members
        .iter()
        .map(|m| {
            if !m.feasible || m.scores.len() != dims {
                return Vec::new();
            }
            (0..dims)
                .map(|k| {
                    let span = hi[k] - lo[k];
                    if span > 0.0 {
                        (m.scores[k] - lo[k]) / span
                    } else {
                        0.5
                    }
                })
                .collect()
        })
        .collect()
}

/// Index of the better of `a` and `b` by (rank ascending, secondary key descending); `a` on
/// ties.
pub(crate) fn better(a: usize, b: usize, ranks: &[usize], key: &[f64]) -> usize {
    match ranks[a].cmp(&ranks[b]) {
        std::cmp::Ordering::Less => a,
        std::cmp::Ordering::Greater => b,
        std::cmp::Ordering::Equal if key[b] > key[a] => b,
        _ => a,
    }
}

/// The settings of a tournament over a population: `population >= 1` and
/// `1 <= sample <= population`; the message names the key.
/// Refuses a probability setting outside [0, 1], naming its key.
pub(crate) fn check_probabilities(settings: &[(&str, f64)]) -> Result<(), String> {
    for &(key, p) in settings {
        if !(0.0..=1.0).contains(&p) {
            return Err(format!("strategy.{key} = {p}; accepted: 0 to 1"));
        }
    }
    Ok(())
}

pub(crate) fn check_tournament(population: usize, sample: usize) -> Result<(), String> {
    if population == 0 {
        return Err("strategy.population must be at least 1".into());
    }
    if sample == 0 || sample > population {
        return Err(format!(
            "strategy.sample = {sample}; accepted: 1 to population ({population})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(scores: &[f64], feasible: bool, violation: f64) -> Member {
        Member {
            arch: Arch::new("s", 1, vec![0]),
            hash: format!("{scores:?}{violation}"),
            scores: scores.to_vec(),
            feasible,
            violation,
        }
    }

    #[test]
    fn ranks_and_keys_prefer_the_front_its_extremes_and_small_violations() {
        let pop = [
            member(&[3.0, 0.0], true, 0.0),
            member(&[2.0, 2.0], true, 0.0),
            member(&[0.0, 3.0], true, 0.0),
            member(&[1.0, 1.0], true, 0.0),
            member(&[], false, 0.2),
            member(&[], false, 0.1),
        ];
        let refs: Vec<&Member> = pop.iter().collect();
        let r = ranks(refs.iter().copied());
        assert_eq!(r, vec![0, 0, 0, 1, 3, 2]);
        let c = crowding(&refs, &r);
        assert!(c[0].is_infinite() && c[2].is_infinite() && c[1].is_finite());
        assert_eq!(better(4, 5, &r, &c), 5);
        let h = hv_contribution(&refs, &r);
        assert!(h[1] > 0.0, "the knee point contributes");
        assert_eq!(better(1, 3, &r, &h), 1);
    }
}
