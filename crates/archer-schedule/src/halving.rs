//! Synchronous successive halving (Jamieson & Talwalkar 2016) and Hyperband (Li et al.
//! 2018): brackets of `n` trials start at a rung; when every trial of a rung has reported
//! there, its top ⌊n/η⌋ go up to the next. *Promotion* continues them from their
//! checkpoints; *stopping* trains them again from scratch at the next rung (as HpBandSter
//! and BOHB do). A bracket that waits for its rung does not hold up the workers: the next
//! bracket starts meanwhile.

use archer_core::{History, Trial};

use crate::asha::RungType;
use crate::rungs::{evaluated, max_step, paused_at, paused_by_promise, RungObjectives};
use crate::{Admission, Decision, Promotion, Scheduler};

/// The attribute holding a trial's bracket (instances numbered 0, 1, ... in start order).
pub const BRACKET_ATTR: &str = "bracket";

/// One bracket type: it starts `n` trials at rung `start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BracketShape {
    pub start: usize,
    pub n: usize,
}

/// Hyperband's brackets for `levels` (K rungs): for s = K-1 down to 0 halvings, ⌈K/(s+1)·ηˢ⌉
/// trials starting at rung K-1-s. The first is successive halving's one bracket.
pub fn hyperband_shapes(levels: usize, eta: f64) -> Vec<BracketShape> {
    (0..levels)
        .rev()
        .map(|s| BracketShape {
            start: levels - 1 - s,
            n: ((levels as f64 / (s + 1) as f64) * eta.powi(s as i32)).ceil() as usize,
        })
        .collect()
}

/// Successive halving with one bracket shape, Hyperband with all of them (cycled).
#[derive(Debug)]
pub struct SuccessiveHalving {
    name: String,
    levels: Vec<u32>,
    eta: f64,
    shapes: Vec<BracketShape>,
    kind: RungType,
    objectives: RungObjectives,
}

impl SuccessiveHalving {
    /// `brackets`: how many of Hyperband's shapes to cycle through (1 = successive halving).
    pub fn new(
        levels: Vec<u32>,
        eta: f64,
        brackets: usize,
        kind: RungType,
        objectives: RungObjectives,
    ) -> Self {
        let mut shapes = hyperband_shapes(levels.len(), eta);
        shapes.truncate(brackets.clamp(1, levels.len()));
        let base = if shapes.len() == 1 { "sh" } else { "hyperband" };
        SuccessiveHalving {
            name: kind.label(base),
            levels,
            eta,
            shapes,
            kind,
            objectives,
        }
    }

    fn shape(&self, instance: usize) -> BracketShape {
        self.shapes[instance % self.shapes.len()]
    }

    fn levels_of(&self, instance: usize) -> &[u32] {
        &self.levels[self.shape(instance).start..]
    }

    /// The evaluated trials of each bracket instance, in instance order.
    fn instances<'a>(&self, history: &'a History) -> Vec<Vec<&'a Trial>> {
        let mut groups: Vec<Vec<&Trial>> = Vec::new();
        for t in evaluated(history) {
            let Some(i) = bracket_of(t) else { continue };
            if groups.len() <= i {
                groups.resize_with(i + 1, Vec::new);
            }
            groups[i].push(t);
        }
        groups
    }

    /// The next step of one bracket: a promotion, or `None` when it waits for a rung or is
    /// done.
    fn bracket_step(&self, members: &[&Trial], levels: &[u32]) -> Option<Promotion> {
        for k in 0..levels.len() - 1 {
            let level = levels[k];
            let entered: Vec<&Trial> = members
                .iter()
                .copied()
                .filter(|t| k == 0 || entered_above(t, levels[k - 1]))
                .collect();
            let settled = entered
                .iter()
                .all(|t| t.state.is_finished() || max_step(t) >= level);
            if !settled {
                return None;
            }
            let ranked = self
                .objectives
                .rank(&self.objectives.members(entered.iter().copied(), level));
            let top = ((entered.len() as f64 / self.eta).floor() as usize).max(1);
            let next = ranked[..top.min(ranked.len())]
                .iter()
                .filter_map(|&id| entered.iter().find(|t| t.id == id))
                .find(|t| paused_at(t, level));
            if let Some(t) = next {
                return Some(Promotion {
                    trial: t.id,
                    fidelity: t.fidelity.clone(),
                    from_scratch: self.kind == RungType::Stopping,
                });
            }
        }
        None
    }

    fn admit(&self, history: &History, exhausted: bool) -> Option<Admission> {
        for (i, members) in self.instances(history).iter().enumerate() {
            if members.len() < self.shape(i).n && !exhausted {
                return Some(Admission::New);
            }
            if let Some(p) = self.bracket_step(members, self.levels_of(i)) {
                return Some(Admission::Promote(p));
            }
        }
        (!exhausted).then_some(Admission::New)
    }
}

/// Whether `t` went beyond the rung at `level`: it reported past it, or runs again after
/// being promoted from it.
fn entered_above(t: &Trial, level: u32) -> bool {
    let reached = max_step(t);
    reached > level
        || (reached == level
            && matches!(
                t.state,
                archer_core::TrialState::Running | archer_core::TrialState::Waiting
            ))
}

fn bracket_of(t: &Trial) -> Option<usize> {
    t.attrs
        .get(BRACKET_ATTR)
        .and_then(|v| v.as_u64())
        .map(|v| v as usize)
}

impl Scheduler for SuccessiveHalving {
    fn name(&self) -> &str {
        &self.name
    }

    /// The bracket still drawing its trials, or the next one.
    fn new_trial_attrs(&mut self, history: &History) -> Vec<(String, serde_json::Value)> {
        let groups = self.instances(history);
        let instance = match groups.last() {
            Some(last) if last.len() < self.shape(groups.len() - 1).n => groups.len() - 1,
            _ => groups.len(),
        };
        vec![(BRACKET_ATTR.to_string(), serde_json::json!(instance))]
    }

    fn decide(&mut self, trial: &Trial, step: u32, _value: f64, _history: &History) -> Decision {
        let Some(instance) = bracket_of(trial) else {
            return Decision::Continue;
        };
        let levels = self.levels_of(instance);
        let top_level = *levels.last().expect("at least one level");
        if step < top_level && levels.contains(&step) && step > max_step(trial) {
            Decision::Pause
        } else {
            Decision::Continue
        }
    }

    fn next(&mut self, history: &History) -> Admission {
        self.admit(history, false).unwrap_or(Admission::New)
    }

    /// The brackets still drawing trials go on with the ones they have.
    fn exhausted(&mut self, history: &History) -> Option<Promotion> {
        match self.admit(history, true)? {
            Admission::Promote(p) => Some(p),
            Admission::New => None,
        }
    }

    fn rung_levels(&self) -> Vec<u32> {
        self.levels.clone()
    }
    fn paused_by_promise(&self, history: &History) -> Vec<u64> {
        paused_by_promise(history, &self.objectives)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyperband_brackets_follow_the_paper() {
        // 4 rungs, η = 3: 27 at rung 0, 12 at rung 1, 6 at rung 2, 4 at the top.
        let shapes = hyperband_shapes(4, 3.0);
        let got: Vec<(usize, usize)> = shapes.iter().map(|s| (s.start, s.n)).collect();
        assert_eq!(got, vec![(0, 27), (1, 12), (2, 6), (3, 4)]);
    }
}
