use crate::metrics::{Constraint, Metrics};

/// What a pruner answers to an intermediate report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Report {
    Continue,
    /// Stop this trial now; it will be recorded as PRUNED.
    Prune,
}

/// The trained parent a trial inherits its weights from.
#[derive(Clone, Debug, PartialEq)]
pub struct Inherited {
    /// The parent trial.
    pub parent: u64,
    /// The parent's architecture.
    pub arch: crate::Arch,
    /// The parent's checkpoint folder (its final weights, when it was kept).
    pub checkpoint_dir: std::path::PathBuf,
}

type Pruner<'a> = Box<dyn FnMut(u32, f64) -> Report + Send + 'a>;

/// Handed to an evaluator for one trial: its identity, a seed for any randomness the
/// evaluation needs, and the channel for intermediate values (one per epoch), through which
/// a pruner can stop the trial early.
pub struct TrialCtx<'a> {
    trial_id: u64,
    seed: u64,
    intermediate: Vec<(u32, f64)>,
    /// Seconds charged when each report of `intermediate` was made.
    report_seconds: Vec<f64>,
    pruner: Option<Pruner<'a>>,
    charged_seconds: f64,
    resume_step: Option<u32>,
    checkpoint_dir: Option<std::path::PathBuf>,
    inherit: Option<Inherited>,
    attrs: Vec<(String, serde_json::Value)>,
    constraints: Vec<Constraint>,
    measured: Metrics,
    infeasible: Option<String>,
}

impl<'a> TrialCtx<'a> {
    pub fn new(trial_id: u64, seed: u64) -> Self {
        TrialCtx {
            trial_id,
            seed,
            intermediate: Vec::new(),
            report_seconds: Vec::new(),
            pruner: None,
            charged_seconds: 0.0,
            resume_step: None,
            checkpoint_dir: None,
            inherit: None,
            attrs: Vec::new(),
            constraints: Vec::new(),
            measured: Metrics::new(),
            infeasible: None,
        }
    }

    /// The study's hard limits, checked against every metric the evaluator measures while
    /// it runs (see [`TrialCtx::measure`]).
    pub fn with_constraints(mut self, constraints: Vec<Constraint>) -> Self {
        self.constraints = constraints;
        self
    }

    /// Records a metric measured during the evaluation, before its end (the process's peak
    /// memory so far, say). When it breaks one of the study's constraints the trial is
    /// infeasible whatever comes next: the next [`TrialCtx::report`] answers `Prune`, and
    /// the study records the trial as PRUNED, infeasible, with this metric and the reason.
    /// A later measurement of the same metric replaces the earlier one.
    pub fn measure(&mut self, metric: &str, value: f64) {
        self.measured.insert(metric, value);
        if self.infeasible.is_some() {
            return;
        }
        if let Some(c) = self
            .constraints
            .iter()
            .find(|c| c.metric == metric && c.violation_of(value) > 0.0)
        {
            self.infeasible = Some(format!("{metric} = {value} breaks {}", c.describe()));
        }
    }

    /// Metrics recorded through [`TrialCtx::measure`].
    pub fn measured(&self) -> &Metrics {
        &self.measured
    }

    /// Why a measured metric made the trial infeasible, if one did.
    pub fn infeasible(&self) -> Option<&str> {
        self.infeasible.as_deref()
    }

    /// The trial was paused after `step` steps by a scheduler and is now continued: an
    /// evaluator that can continue (from its checkpoint, or a table that knows the curve)
    /// starts at step `step + 1` and charges only what it trains from there, plus what
    /// loading the checkpoint costs.
    pub fn with_resume_step(mut self, step: u32) -> Self {
        self.resume_step = Some(step);
        self
    }

    /// The folder for this trial's checkpoint. It holds what earlier evaluations of the same
    /// trial saved there (before a pause, or before the process running it was killed).
    pub fn with_checkpoint_dir(mut self, dir: std::path::PathBuf) -> Self {
        self.checkpoint_dir = Some(dir);
        self
    }

    /// The trained network this trial starts from (network morphism): an evaluator that can
    /// (the `train` evaluator on the chain space) loads the parent's final checkpoint from
    /// `checkpoint_dir`, carries its weights over to the trial's architecture and trains on;
    /// the others train from scratch. The trial's own checkpoint, when there is one, wins:
    /// it already holds the inherited weights trained further.
    pub fn with_inheritance(mut self, inherited: Inherited) -> Self {
        self.inherit = Some(inherited);
        self
    }

    /// See [`TrialCtx::with_inheritance`].
    pub fn inheritance(&self) -> Option<&Inherited> {
        self.inherit.as_ref()
    }

    /// See [`TrialCtx::with_resume_step`]; `None` for an evaluation from scratch.
    pub fn resume_step(&self) -> Option<u32> {
        self.resume_step
    }

    /// See [`TrialCtx::with_checkpoint_dir`]; `None` when the study keeps no files (an
    /// in-memory benchmark): checkpoints are then not saved.
    pub fn checkpoint_dir(&self) -> Option<&std::path::Path> {
        self.checkpoint_dir.as_deref()
    }

    /// Records `key = value` in the trial's attributes (e.g. where its checkpoint is, or
    /// that a dropped checkpoint made it restart from scratch).
    pub fn set_attr(&mut self, key: &str, value: serde_json::Value) {
        self.attrs.retain(|(k, _)| k != key);
        self.attrs.push((key.to_string(), value));
    }

    /// Attributes set through [`TrialCtx::set_attr`], in the order set.
    pub fn attrs(&self) -> &[(String, serde_json::Value)] {
        &self.attrs
    }

    /// Seconds charged (see [`TrialCtx::charge_seconds`]) when each intermediate report was
    /// made, in report order: what a simulated executor needs to place each report in time.
    pub fn report_seconds(&self) -> &[f64] {
        &self.report_seconds
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

    /// Record `value` at `step`; the evaluator must stop when told to prune. A trial that a
    /// measured metric made infeasible is told to prune without asking the pruner.
    pub fn report(&mut self, step: u32, value: f64) -> Report {
        self.intermediate.push((step, value));
        self.report_seconds.push(self.charged_seconds);
        if self.infeasible.is_some() {
            return Report::Prune;
        }
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

    /// Everything the evaluation left besides its metrics.
    pub fn into_parts(self) -> CtxParts {
        CtxParts {
            intermediate: self.intermediate,
            report_seconds: self.report_seconds,
            charged_seconds: self.charged_seconds,
            attrs: self.attrs,
            measured: self.measured,
            infeasible: self.infeasible,
        }
    }
}

/// What [`TrialCtx::into_parts`] returns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CtxParts {
    pub intermediate: Vec<(u32, f64)>,
    pub report_seconds: Vec<f64>,
    pub charged_seconds: f64,
    pub attrs: Vec<(String, serde_json::Value)>,
    /// See [`TrialCtx::measure`].
    pub measured: Metrics,
    /// See [`TrialCtx::infeasible`].
    pub infeasible: Option<String>,
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

    #[test]
    fn a_measured_metric_that_breaks_a_constraint_stops_at_the_next_report() {
        let limit = Constraint {
            metric: "peak_rss_mib".into(),
            min: None,
            max: Some(100.0),
        };
        let mut ctx = TrialCtx::new(0, 1)
            .with_constraints(vec![limit])
            .with_pruner(|_, _| Report::Continue);
        ctx.measure("peak_rss_mib", 80.0);
        ctx.measure("other", 1e9);
        assert_eq!(ctx.report(1, 0.5), Report::Continue);
        ctx.measure("peak_rss_mib", 120.0);
        ctx.measure("peak_rss_mib", 90.0);
        assert_eq!(ctx.report(2, 0.6), Report::Prune);
        assert_eq!(ctx.measured().get("peak_rss_mib"), Some(90.0));
        let why = ctx.infeasible().unwrap();
        assert!(why.contains("peak_rss_mib = 120"), "{why}");
    }
}
