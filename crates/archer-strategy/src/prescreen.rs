//! What a study knows about an architecture before evaluating it, offered to strategies so
//! they can steer clear of proposals that would break a constraint.

use archer_core::Arch;
use archer_rng::Rng;
use archer_space::SearchSpace;

use crate::StrategyError;

/// Metrics known from the architecture alone (parameters, FLOPs, a latency table), seen
/// through the study's constraints and objectives. Deterministic and cheap; never evaluates
/// anything.
pub trait Prescreen: Send + Sync {
    /// Total violation of the constraints on metrics known before evaluation: above 0 means
    /// the study would reject `arch` unevaluated; 0 when none is broken or nothing is known.
    fn violation(&self, arch: &Arch) -> f64;

    /// The study's objective scores (higher = better, as in `Trial::scores`) that are known
    /// before evaluation, one entry per objective: `None` for one only an evaluation tells.
    /// Empty when nothing is known.
    fn known_scores(&self, _arch: &Arch) -> Vec<Option<f64>> {
        Vec::new()
    }
}

/// How many draws a strategy makes for a proposal that passes the prescreen before it takes
/// the last one anyway (the study then records it as infeasible at no cost).
pub const PRESCREEN_TRIES: usize = 200;

/// Whether `arch` passes `prescreen` (always, without one).
pub fn passes(prescreen: Option<&dyn Prescreen>, arch: &Arch) -> bool {
    prescreen.is_none_or(|p| p.violation(arch) <= 0.0)
}

/// `draw()` until an architecture passes `prescreen`, at most [`PRESCREEN_TRIES`] times;
/// the last draw when none does. Without a prescreen, one draw. A failed draw is returned.
pub fn draw_passing(
    prescreen: Option<&dyn Prescreen>,
    mut draw: impl FnMut() -> Result<Arch, StrategyError>,
) -> Result<Arch, StrategyError> {
    let mut arch = draw()?;
    if prescreen.is_none() {
        return Ok(arch);
    }
    for _ in 1..PRESCREEN_TRIES {
        if passes(prescreen, &arch) {
            break;
        }
        arch = draw()?;
    }
    Ok(arch)
}

/// A uniformly random architecture of `space` that passes `prescreen` (rejection sampling).
pub fn sample_passing(
    space: &dyn SearchSpace,
    prescreen: Option<&dyn Prescreen>,
    rng: &mut Rng,
) -> Result<Arch, StrategyError> {
    draw_passing(prescreen, || Ok(space.sample(rng)?))
}
