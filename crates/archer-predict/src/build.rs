//! Building predictors and strategies from their configuration.

use std::sync::Arc;

use archer_space::{Arch, Encoding, SearchSpace};
use archer_strategy::{
    BuildContext, FeatureEncoding, PredictorConfig, Prescreen, Strategy, StrategyConfig,
    StrategyError, StrategyKind,
};

use crate::{
    GaussianProcess, MlpEnsemble, MlpSettings, ModelBasedSearch, Npenas, Predictor, RandomForest,
};

fn encoding(e: FeatureEncoding) -> Encoding {
    match e {
        FeatureEncoding::OneHot => Encoding::OneHot,
        FeatureEncoding::AdjacencyOps => Encoding::AdjacencyOps,
        FeatureEncoding::Path => Encoding::Path,
    }
}

/// The predictor `config` describes, for `space`. `config` must be valid.
pub fn build_predictor(
    config: &PredictorConfig,
    space: Arc<dyn SearchSpace>,
) -> Box<dyn Predictor> {
    match *config {
        PredictorConfig::Gp { kernel } => Box::new(GaussianProcess::new(space, kernel)),
        PredictorConfig::Mlp {
            members,
            hidden_layers,
            width,
            epochs,
            max_steps,
            learning_rate,
            encoding: e,
            bootstrap,
            prior_scale,
        } => Box::new(MlpEnsemble::new(
            space,
            encoding(e),
            MlpSettings {
                members,
                hidden_layers,
                width,
                epochs,
                max_steps,
                learning_rate,
                bootstrap,
                prior_scale,
                ..MlpSettings::default()
            },
        )),
        PredictorConfig::Forest { trees, encoding: e } => {
            Box::new(RandomForest::new(space, encoding(e), trees))
        }
    }
}

/// Every registered strategy kind: the model-free ones of `archer-strategy`, then the
/// model-based ones of this crate.
pub fn registered() -> impl Iterator<Item = &'static dyn StrategyKind> {
    archer_strategy::KINDS
        .iter()
        .chain(crate::strategies::MODEL_KINDS)
        .copied()
}

/// The registered kind `name`, or the error listing every accepted name.
pub fn strategy_kind(name: &str) -> Result<&'static dyn StrategyKind, StrategyError> {
    registered().find(|k| k.name() == name).ok_or_else(|| {
        let names: Vec<&str> = registered().map(|k| k.name()).collect();
        StrategyConfig::unknown(name, &names)
    })
}

/// Checks a configuration completely: a built-in one by its own rules, a registered one
/// by its kind.
pub fn check_strategy(config: &StrategyConfig) -> Result<(), StrategyError> {
    match config {
        StrategyConfig::Registered { name, settings } => strategy_kind(name)?.check(settings),
        other => other.validate(),
    }
}

/// Whether `config` searches several objectives at once (random search does, trivially);
/// any other strategy optimises the first objective.
pub fn multi_objective(config: &StrategyConfig) -> bool {
    match config {
        StrategyConfig::Random {} => true,
        StrategyConfig::Registered { name, .. } => {
            strategy_kind(name).is_ok_and(|k| k.multi_objective())
        }
        _ => false,
    }
}

/// Builds any strategy, model-based ones included, seeded from `seed` and wrapped in the
/// de-duplicating wrapper when `deduplicate`. `warm_start` (best first) seeds the initial
/// samples of the model-based strategies; it must be empty unless the configuration asks
/// for a warm start. `prescreen`, when the study has constraints known before evaluation,
/// steers the strategies that use it away from proposals that break them.
pub fn build_strategy(
    config: &StrategyConfig,
    space: Arc<dyn SearchSpace>,
    seed: u64,
    deduplicate: bool,
    warm_start: Vec<Arch>,
    prescreen: Option<Arc<dyn Prescreen>>,
) -> Result<Box<dyn Strategy>, StrategyError> {
    check_strategy(config)?;
    let rng = StrategyConfig::strategy_rng(seed);
    let inner: Box<dyn Strategy> = match config {
        StrategyConfig::Registered { name, settings } => strategy_kind(name)?.build(
            settings,
            BuildContext {
                space: space.clone(),
                rng,
                warm_start,
                prescreen,
            },
        )?,
        StrategyConfig::Bo(c) => Box::new(
            ModelBasedSearch::new(space.clone(), rng, c.settings(), warm_start)
                .with_prescreen(prescreen),
        ),
        StrategyConfig::Bananas(c) => Box::new(
            ModelBasedSearch::new(space.clone(), rng, c.settings(), warm_start)
                .with_prescreen(prescreen),
        ),
        StrategyConfig::Npenas(c) => {
            Box::new(Npenas::new(space.clone(), rng, c.clone(), warm_start))
        }
        other => return other.build(space, seed, deduplicate, prescreen),
    };
    Ok(StrategyConfig::wrap(inner, space, seed, deduplicate))
}
