//! Median stopping (Golovin et al. 2017, Google Vizier) and the percentile pruner: a trial
//! is stopped at a step when its value there is worse than what the best `keep_percent`
//! of the other trials reported at the same step.

use archer_core::{History, Trial};

use crate::rungs::{evaluated, value_at};
use crate::{Decision, Scheduler};

/// Stops a trial whose value at a step falls below the `100 - keep_percent` percentile of the
/// other trials' values at that step (the median for `keep_percent = 50`).
#[derive(Clone, Debug)]
pub struct PercentilePruner {
    name: &'static str,
    keep_percent: f64,
    /// Other trials that must have reported a step before it is judged.
    min_trials: usize,
    /// Steps before this one are never judged (warm-up).
    grace: u32,
    /// Judge every `interval`-th step only.
    interval: u32,
    maximize: bool,
}

impl PercentilePruner {
    pub fn median(min_trials: usize, grace: u32, interval: u32, maximize: bool) -> Self {
        PercentilePruner {
            name: "median",
            ..Self::new(50.0, min_trials, grace, interval, maximize)
        }
    }

    pub fn new(
        keep_percent: f64,
        min_trials: usize,
        grace: u32,
        interval: u32,
        maximize: bool,
    ) -> Self {
        PercentilePruner {
            name: "percentile",
            keep_percent,
            min_trials,
            grace,
            interval: interval.max(1),
            maximize,
        }
    }
}

/// The `q`-quantile (0..1) of `values` by linear interpolation between order statistics.
fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (values.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    values[lo] + (values[hi] - values[lo]) * (pos - lo as f64)
}

impl Scheduler for PercentilePruner {
    fn name(&self) -> &str {
        self.name
    }

    fn decide(&mut self, trial: &Trial, step: u32, value: f64, history: &History) -> Decision {
        if step < self.grace || !step.is_multiple_of(self.interval) {
            return Decision::Continue;
        }
        let orient = |v: f64| if self.maximize { v } else { -v };
        let mut others: Vec<f64> = evaluated(history)
            .filter(|t| t.id != trial.id)
            .filter_map(|t| value_at(t, step))
            .map(orient)
            .collect();
        if others.len() < self.min_trials.max(1) {
            return Decision::Continue;
        }
        let threshold = quantile(&mut others, 1.0 - self.keep_percent / 100.0);
        if !value.is_finite() || orient(value) < threshold {
            Decision::Stop
        } else {
            Decision::Continue
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(quantile(&mut [3.0, 1.0, 2.0], 0.5), 2.0);
        assert_eq!(quantile(&mut [1.0, 2.0, 3.0, 4.0], 0.5), 2.5);
        assert_eq!(quantile(&mut [1.0, 2.0, 3.0, 4.0], 0.75), 3.25);
    }
}
