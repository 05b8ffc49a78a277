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

    /// The architectures this evaluator defines the space as, when it does (a results
    /// table with `space = "rows"`): the study then searches the space restricted to them
    /// ([`archer_space::FiniteSpace`]). `None`: the whole space.
    fn space_members(&self) -> Option<Vec<Arch>> {
        None
    }

    /// Trains `arch` from scratch for `epochs` with `seed`, writing what it makes to
    /// `output`, for `[retrain]`; `None` when this evaluator cannot (a table; the `train`
    /// evaluator retrains through `archer retrain`, which also exports the model).
    fn retrain(
        &self,
        _arch: &Arch,
        _epochs: u32,
        _seed: u64,
        _output: &std::path::Path,
    ) -> Option<Result<Metrics, EvalError>> {
        None
    }

    /// How many steps (epochs) an evaluation at full fidelity runs and reports, when the
    /// evaluator knows: the top rung of a multi-fidelity scheduler by default.
    fn full_steps(&self) -> Option<u32> {
        None
    }

    /// Whether evaluations are instant look-ups that charge simulated time (a tabular
    /// benchmark): a study with `workers > 1` then runs them on simulated workers, a
    /// discrete-event executor that advances the simulated clock as that many parallel
    /// workers would, instead of on threads. Such an evaluator must charge its time through
    /// [`TrialCtx::charge_seconds`] before each report, so that each report has its moment.
    fn simulated_clock(&self) -> bool {
        false
    }

    /// What data made the results (paths, content hashes, settings), saved with every run.
    fn provenance(&self) -> serde_json::Value;
}
