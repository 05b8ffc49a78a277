/// What a pruner answers to an intermediate report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Report {
    Continue,
    /// Stop this trial now; it will be recorded as PRUNED.
    Prune,
}

type Pruner<'a> = Box<dyn FnMut(u32, f64) -> Report + Send + 'a>;

/// Handed to an evaluator for one trial: its identity, a seed for any randomness the
/// evaluation needs, and the channel for intermediate values (one per epoch), through which
/// a pruner can stop the trial early.
pub struct TrialCtx<'a> {
    trial_id: u64,
    seed: u64,
    intermediate: Vec<(u32, f64)>,
    pruner: Option<Pruner<'a>>,
    charged_seconds: f64,
}

impl<'a> TrialCtx<'a> {
    pub fn new(trial_id: u64, seed: u64) -> Self {
        TrialCtx {
            trial_id,
            seed,
            intermediate: Vec::new(),
            pruner: None,
            charged_seconds: 0.0,
        }
    }

    /// Attach a pruner that sees every report (the study's scheduler, or a test's closure).
    pub fn with_pruner(mut self, pruner: impl FnMut(u32, f64) -> Report + Send + 'a) -> Self {
        self.pruner = Some(Box::new(pruner));
        self
    }

    pub fn trial_id(&self) -> u64 {
        self.trial_id
    }

    /// Seed for this trial's randomness (weight init, data order), derived from the study seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Record `value` at `step`; the evaluator must stop when told to prune.
    pub fn report(&mut self, step: u32, value: f64) -> Report {
        self.intermediate.push((step, value));
        match self.pruner.as_mut() {
            Some(p) => p(step, value),
            None => Report::Continue,
        }
    }

    /// Charges `seconds` to the study's simulated clock as the evaluation goes (e.g. per
    /// epoch), so that a trial stopped early is still charged what it used. A COMPLETE
    /// trial is charged its reported `sim_seconds` metric instead.
    pub fn charge_seconds(&mut self, seconds: f64) {
        if seconds.is_finite() && seconds > 0.0 {
            self.charged_seconds += seconds;
        }
    }

    /// Seconds charged so far through [`TrialCtx::charge_seconds`].
    pub fn charged_seconds(&self) -> f64 {
        self.charged_seconds
    }

    pub fn intermediate(&self) -> &[(u32, f64)] {
        &self.intermediate
    }

    pub fn into_intermediate(self) -> Vec<(u32, f64)> {
        self.intermediate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_recorded_and_a_pruner_can_stop() {
        let mut ctx = TrialCtx::new(3, 42).with_pruner(|step, _| {
            if step >= 2 {
                Report::Prune
            } else {
                Report::Continue
            }
        });
        assert_eq!(ctx.report(1, 0.5), Report::Continue);
        assert_eq!(ctx.report(2, 0.6), Report::Prune);
        assert_eq!(ctx.intermediate(), &[(1, 0.5), (2, 0.6)]);
        assert_eq!((ctx.trial_id(), ctx.seed()), (3, 42));
    }
}
