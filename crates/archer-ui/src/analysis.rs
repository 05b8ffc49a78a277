//! What the charts show, computed from a snapshot: the incumbent over trials and time, the
//! Pareto front, each dimension's effect on the objective, and the intermediate values with
//! the scheduler's decisions.

use archer_core::pareto::trials_front;
use archer_core::{Trial, TrialState, PROMOTED_AT_ATTR};
use archer_runner::{RESUMED_FROM_STEP_ATTR, SIM_FINISHED_ATTR};
use archer_space::{Gene, SearchSpace};

use crate::charts::Mark;
use crate::snapshot::Snapshot;

/// `(x, y)` points of a chart.
pub type Points = Vec<(f64, f64)>;

/// Trials that count for the objective: COMPLETE, feasible, with a score.
pub fn scored(snap: &Snapshot) -> impl Iterator<Item = &Trial> {
    snap.rows
        .iter()
        .map(|r| &r.trial)
        .filter(|t| t.state == TrialState::Complete && t.feasible && t.score.is_some())
}

/// The first objective's metric (what single-objective charts show).
pub fn first_metric(snap: &Snapshot) -> String {
    snap.record
        .objectives
        .first()
        .map_or_else(|| "score".to_string(), |o| o.metric.clone())
}

fn value(t: &Trial, metric: &str) -> Option<f64> {
    t.metrics.get(metric).or(t.score).filter(|v| v.is_finite())
}

/// When a trial finished on the study's clock: the simulated finish time where simulated
/// workers ran it, else the cumulative cost of the finished trials up to it (in number order).
fn clock(snap: &Snapshot) -> Vec<f64> {
    let mut total = 0.0;
    snap.rows
        .iter()
        .map(|r| {
            let t = &r.trial;
            if t.state.is_finished() {
                total += t.cost_seconds;
            }
            t.attrs
                .get(SIM_FINISHED_ATTR)
                .and_then(|v| v.as_f64())
                .unwrap_or(total)
        })
        .collect()
}

/// `(x, value)` of every scored trial and the incumbent's changes, by trial number or by the
/// study's clock; in the first objective's units.
pub fn anytime(snap: &Snapshot, by_time: bool) -> (Points, Points) {
    let metric = first_metric(snap);
    let times = if by_time { clock(snap) } else { Vec::new() };
    let mut points: Vec<(f64, f64, f64)> = scored(snap)
        .filter_map(|t| {
            let x = if by_time {
                times[t.id as usize]
            } else {
                t.id as f64
            };
            Some((x, value(t, &metric)?, t.score?))
        })
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut incumbent: Vec<(f64, f64)> = Vec::new();
    let mut best = f64::NEG_INFINITY;
    for &(x, v, score) in &points {
        if score > best {
            best = score;
            incumbent.push((x, v));
        }
    }
    (points.iter().map(|p| (p.0, p.1)).collect(), incumbent)
}

/// The study's Pareto front over all its objectives (feasible COMPLETE trials), as trial
/// numbers in number order.
/// Found once per snapshot.
pub fn front(snap: &Snapshot) -> &[u64] {
    snap.front.get_or_init(|| {
        trials_front(snap.rows.iter().map(|r| &r.trial))
            .iter()
            .map(|t| t.id)
            .collect()
    })
}

/// The first two objectives of every feasible COMPLETE trial and of the front, in their own
/// units; `None` for a single-objective study.
#[allow(clippy::type_complexity)]
pub fn pareto_points(
    snap: &Snapshot,
) -> Option<(String, String, Vec<(f64, f64)>, Vec<(f64, f64)>)> {
    let [a, b, ..] = &snap.record.objectives[..] else {
        return None;
    };
    let pick = |t: &Trial| Some((t.metrics.get(&a.metric)?, t.metrics.get(&b.metric)?));
    let all: Vec<(f64, f64)> = snap
        .rows
        .iter()
        .map(|r| &r.trial)
        .filter(|t| t.state == TrialState::Complete && t.feasible && !t.scores.is_empty())
        .filter_map(pick)
        .collect();
    let front: Vec<(f64, f64)> = front(snap)
        .iter()
        .filter_map(|&n| pick(&snap.rows[n as usize].trial))
        .collect();
    Some((
        format!("{} ({})", a.metric, a.direction),
        format!("{} ({})", b.metric, b.direction),
        all,
        front,
    ))
}

/// One dimension's effect: the mean first-objective value for each of its choices (with the
/// number of trials), and the share of the objective's variance that the choice explains
/// (the one-way ANOVA η², between-choice sum of squares over the total).
pub struct Effect {
    pub dimension: String,
    pub bars: Vec<(String, f64, usize)>,
    pub eta_squared: f64,
}

/// Choices a dimension may have for its effect to be shown: with more, most choices are
/// made by one or two trials and η² says more about the sample than the dimension.
pub const MAX_CHOICES: usize = 10;

/// Every dimension's effect, the largest η² first. Continuous dimensions, and those with
/// more than [`MAX_CHOICES`] choices made, are left out (their values rarely repeat).
pub fn effects(snap: &Snapshot, space: &dyn SearchSpace) -> Vec<Effect> {
    let metric = first_metric(snap);
    let trials: Vec<(&Trial, f64)> = scored(snap)
        .filter_map(|t| Some((t, value(t, &metric)?)))
        .collect();
    if trials.len() < 2 {
        return Vec::new();
    }
    let mean = trials.iter().map(|p| p.1).sum::<f64>() / trials.len() as f64;
    let total: f64 = trials.iter().map(|p| (p.1 - mean).powi(2)).sum();
    let mut out = Vec::new();
    for (d, dim) in space.dimensions().iter().enumerate() {
        let mut groups: Vec<(Gene, f64, usize)> = Vec::new();
        let mut continuous = false;
        for (t, v) in &trials {
            let g = t.arch.genes.get(d).copied().unwrap_or(Gene::Absent);
            if matches!(g, Gene::Float(_)) {
                continuous = true;
                break;
            }
            match groups.iter_mut().find(|x| x.0 == g) {
                Some(x) => {
                    x.1 += v;
                    x.2 += 1;
                }
                None => groups.push((g, *v, 1)),
            }
        }
        if continuous || groups.len() < 2 || groups.len() > MAX_CHOICES {
            continue;
        }
        let between: f64 = groups
            .iter()
            .map(|(_, sum, n)| *n as f64 * (sum / *n as f64 - mean).powi(2))
            .sum();
        groups.sort_by_key(|g| match g.0 {
            Gene::Index(i) => i32::from(i),
            _ => -1,
        });
        out.push(Effect {
            dimension: dim.label.clone(),
            bars: groups
                .iter()
                .map(|(g, sum, n)| (dim.label_of(*g), sum / *n as f64, *n))
                .collect(),
            eta_squared: if total > 0.0 { between / total } else { 0.0 },
        });
    }
    out.sort_by(|a, b| b.eta_squared.total_cmp(&a.eta_squared));
    out
}

/// Where a scheduler acted on `t`: promoted (continued from a step), paused, stopped.
pub fn marks(t: &Trial) -> Vec<Mark> {
    let mut out = Vec::new();
    let at = |step: u32| t.intermediate.iter().find(|p| p.0 == step).map(|p| p.1);
    // Every promotion the trial had; a study from before the steps were recorded knows
    // only the one under way.
    let mut promoted: Vec<u64> = t
        .attrs
        .get(PROMOTED_AT_ATTR)
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|s| s.as_u64()).collect())
        .unwrap_or_default();
    if promoted.is_empty() {
        promoted.extend(t.attrs.get(RESUMED_FROM_STEP_ATTR).and_then(|v| v.as_u64()));
    }
    for step in promoted {
        if let Some(value) = at(step as u32) {
            out.push(Mark {
                step: step as u32,
                value,
                what: "promoted",
            });
        }
    }
    if let Some(&(step, value)) = t.intermediate.last() {
        let what = match t.state {
            TrialState::Paused => Some("paused"),
            TrialState::Pruned => Some("stopped"),
            _ => None,
        };
        if let Some(what) = what {
            out.push(Mark { step, value, what });
        }
    }
    out
}

/// Trials whose intermediate values the study page draws: at most `max`, those that ran
/// longest first (the latest on ties), each down-sampled to at most 200 points.
#[allow(clippy::type_complexity)]
pub fn curves(snap: &Snapshot, max: usize) -> (Vec<(String, Vec<(u32, f64)>)>, Vec<Mark>) {
    let mut with: Vec<&Trial> = snap
        .rows
        .iter()
        .map(|r| &r.trial)
        .filter(|t| !t.intermediate.is_empty())
        .collect();
    with.sort_by(|a, b| {
        b.intermediate
            .len()
            .cmp(&a.intermediate.len())
            .then(b.id.cmp(&a.id))
    });
    with.truncate(max);
    with.sort_by_key(|t| t.id);
    let mut marks = Vec::new();
    let series = with
        .iter()
        .map(|t| {
            marks.extend(self::marks(t));
            let n = t.intermediate.len();
            let mut pts: Vec<(u32, f64)> = crate::charts::stride(n, 200)
                .map(|i| t.intermediate[i])
                .collect();
            if pts.last() != t.intermediate.last() {
                pts.extend(t.intermediate.last().copied());
            }
            (format!("trial {}", t.id), pts)
        })
        .collect();
    (series, marks)
}
