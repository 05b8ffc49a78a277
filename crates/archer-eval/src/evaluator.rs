use archer_core::{Arch, Fidelity, MetricSpec, Metrics, TrialCtx};
use archer_space::SearchSpace;

use crate::EvalError;

/// Obtains an architecture's metrics: by training it, looking it up, or estimating it.
///
/// Contract:
/// - `evaluate` is deterministic given `(arch, fidelity, ctx.seed())`;
/// - it reports every metric named in `metrics()` that applies, with the units stated there,
///   and charges simulated time (if any) as [`archer_core::metric::SIM_SECONDS`];
/// - it reports intermediate values through `ctx` and stops when `ctx.report` says prune;
/// - it never panics on a bad architecture or fidelity: it returns an error, and the study
///   marks the trial FAILED and goes on;
/// - it is shared by parallel workers, so `&self` only.
pub trait Evaluator: Send + Sync {
    /// Short name for logs and records.
    fn name(&self) -> &str;

    /// The metrics this evaluator reports, with their directions.
    fn metrics(&self) -> Vec<MetricSpec>;

    fn evaluate(
        &self,
        arch: &Arch,
        fidelity: &Fidelity,
        ctx: &mut TrialCtx,
    ) -> Result<Metrics, EvalError>;

    /// Metrics known from the architecture alone, before any evaluation (parameters and
    /// FLOPs from the network description, a latency table), with the values `evaluate`
    /// would report for them. The study checks constraints on these first: a proposal that
    /// breaks one is recorded as infeasible without being evaluated, at no cost. Must be
    /// cheap and must not fail; empty when nothing is known.
    fn known_before(&self, _arch: &Arch) -> Metrics {
        Metrics::new()
    }

    /// Checked before a study starts: can every architecture of `space` be evaluated?
    /// (e.g. a partial benchmark table must cover the space searched).
    fn check_space(&self, _space: &dyn SearchSpace) -> Result<(), EvalError> {
        Ok(())
    }

    /// What data made the results (paths, content hashes, settings), saved with every run.
    fn provenance(&self) -> serde_json::Value;
}
