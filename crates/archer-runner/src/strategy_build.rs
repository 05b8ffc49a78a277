//! Building an experiment's strategy, with its zero-cost warm start.

use std::collections::HashSet;
use std::sync::Arc;

use archer_core::{Arch, Constraint, Direction, Objective};
use archer_eval::Evaluator;
use archer_rng::Rng;
use archer_schedule::{RungObjectives, RungSearcher, Scheduler};
use archer_strategy::{Prescreen, Strategy, WarmStart};

use crate::{ConfigError, Experiment};

/// Seed stream of the warm-start pool, apart from the strategy's.
const WARM_START_STREAM: u64 = 0x5a45_524f_434f_5354; // "ZEROCOST"

/// The strategy of `experiment`, freshly built from its seed (any strategy, model-based ones
/// included). The same experiment always gives the same strategy, so a resumed study
/// rebuilds it and then restores its saved state.
pub fn build_strategy(experiment: &Experiment) -> Result<Box<dyn Strategy>, ConfigError> {
    let warm = match archer_predict::strategy_warm_start(&experiment.config.strategy) {
        Some(w) => warm_start(experiment, w)?,
        None => Vec::new(),
    };
    build_with(experiment, warm)
}

/// Seed stream of the strategies a rung searcher rebuilds at each new level.
const RUNG_STREAM: u64 = 0x5255_4e47; // "RUNG"

/// The strategy of `experiment` from its seed, proposing `warm` first; under a scheduler
/// with rungs, wrapped in a [`RungSearcher`] that feeds it the rungs' values.
fn build_with(experiment: &Experiment, warm: Vec<Arch>) -> Result<Box<dyn Strategy>, ConfigError> {
    if crate::oneshot::is_oneshot(&experiment.config.strategy.name) {
        return Ok(Box::new(crate::oneshot::Recorded));
    }
    let s = &experiment.config.scheduler;
    if !s.has_rungs() {
        return build_plain(experiment, warm);
    }
    let levels = s
        .levels(experiment.evaluator.full_steps())
        .map_err(|e| ConfigError::invalid(&e.key, e.reason))?;
    let min_points = s
        .searcher_min_points
        .unwrap_or(experiment.space.dimensions().len() + 1);
    let maximize = experiment.primary().direction == Direction::Maximize;
    let base = experiment.clone();
    let factory: archer_schedule::StrategyFactory = Arc::new(move |salt| {
        if salt == 0 {
            return build_plain(&base, warm.clone()).map_err(to_strategy_error);
        }
        let mut e = base.clone();
        e.config.study.seed = Rng::derive(base.config.study.seed ^ RUNG_STREAM, salt).next_u64();
        build_plain(&e, Vec::new()).map_err(to_strategy_error)
    });
    Ok(Box::new(RungSearcher::new(
        factory, levels, min_points, maximize,
    )?))
}

fn to_strategy_error(e: ConfigError) -> archer_strategy::StrategyError {
    match e {
        ConfigError::Strategy(e) => e,
        other => archer_strategy::StrategyError::InvalidSetting {
            strategy: "rung searcher".into(),
            reason: other.to_string(),
        },
    }
}

/// The scheduler of `experiment` (`[scheduler]`; every trial at full fidelity without one).
/// A multi-objective study ranks its rungs by the first objective's reported value and the
/// other objectives as known before training.
pub fn build_scheduler(experiment: &Experiment) -> Result<Box<dyn Scheduler>, ConfigError> {
    let maximize = experiment.primary().direction == Direction::Maximize;
    let objectives = if experiment.objectives.len() > 1 {
        let evaluator = experiment.evaluator.clone();
        let others = experiment.objectives[1..].to_vec();
        RungObjectives::multi(
            maximize,
            Arc::new(move |arch: &Arch| {
                let known = evaluator.known_before(arch);
                others
                    .iter()
                    .map(|o| o.score(&known).unwrap_or(f64::NAN))
                    .collect()
            }),
        )
    } else {
        RungObjectives::single(maximize)
    };
    experiment
        .config
        .scheduler
        .build(experiment.evaluator.full_steps(), objectives, maximize)
        .map_err(|e| ConfigError::invalid(&e.key, e.reason))
}

/// The configured strategy itself, from the experiment's seed.
fn build_plain(experiment: &Experiment, warm: Vec<Arch>) -> Result<Box<dyn Strategy>, ConfigError> {
    let c = &experiment.config;
    let known_before = KnownBefore {
        evaluator: experiment.evaluator.clone(),
        constraints: experiment.constraints.clone(),
        objectives: experiment.objectives.clone(),
    };
    Ok(archer_predict::build_strategy(
        &c.strategy,
        experiment.space.clone(),
        c.study.seed,
        c.study.deduplicate,
        warm,
        Some(Arc::new(known_before)),
    )?)
}

/// What the study's evaluator knows before evaluating, seen through the study's
/// constraints and objectives, for the strategies. Every study has one; without
/// constraints it rejects nothing.
struct KnownBefore {
    evaluator: Arc<dyn Evaluator>,
    constraints: Vec<Constraint>,
    objectives: Vec<Objective>,
}

impl Prescreen for KnownBefore {
    fn violation(&self, arch: &Arch) -> f64 {
        if self.constraints.is_empty() {
            return 0.0;
        }
        let known = self.evaluator.known_before(arch);
        self.constraints
            .iter()
            .filter_map(|c| c.violation(&known))
            .sum()
    }

    fn known_scores(&self, arch: &Arch) -> Vec<Option<f64>> {
        let known = self.evaluator.known_before(arch);
        self.objectives.iter().map(|o| o.score(&known)).collect()
    }
}

/// The strategy of `experiment` continued from a saved `state()`. The state holds whatever
/// is left of the warm start, so none is computed.
pub fn restored_strategy(
    experiment: &Experiment,
    state: serde_json::Value,
) -> Result<Box<dyn Strategy>, ConfigError> {
    let mut strategy = build_with(experiment, Vec::new())?;
    strategy.restore(state)?;
    Ok(strategy)
}

/// The `w.count` architectures with the best zero-cost score among `w.pool` distinct random
/// ones (best first; ties keep draw order). Architectures without a score are skipped.
pub fn warm_start(experiment: &Experiment, w: WarmStart) -> Result<Vec<Arch>, ConfigError> {
    let space = experiment.space.as_ref();
    let Some(zero_cost) = experiment.zero_cost.as_deref() else {
        return Err(ConfigError::invalid(
            "strategy.warm_start",
            "needs zero-cost proxy scores (evaluator.zero_cost_table)",
        ));
    };
    let mut rng = Rng::derive(experiment.config.study.seed, WARM_START_STREAM);
    let mut seen = HashSet::new();
    let mut pool: Vec<(Arch, f64)> = Vec::new();
    // A small space may have fewer distinct architectures than the pool asks for.
    let mut draws = 0usize;
    while pool.len() < w.pool && draws < w.pool.saturating_mul(20) {
        draws += 1;
        let arch = space.sample(&mut rng)?;
        if !seen.insert(space.canonical_hash(&arch)) {
            continue;
        }
        if let Some(score) = zero_cost.score(&arch).filter(|s| s.is_finite()) {
            pool.push((arch, score));
        }
    }
    pool.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(pool.into_iter().take(w.count).map(|(a, _)| a).collect())
}
