//! Building predictors and strategies from their configuration.

use std::sync::Arc;

use archer_space::{Arch, Encoding, SearchSpace};
use archer_strategy::{
    BuildContext, FeatureEncoding, PredictorConfig, Prescreen, Strategy, StrategyConfig,
    StrategyError, StrategyKind, WarmStart,
};

use crate::{GaussianProcess, MlpEnsemble, MlpSettings, Predictor, RandomForest};

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

/// Every registered strategy kind: the model-free ones of `archer-strategy`, the
/// model-based ones of this crate, then (with the `neural` feature) those of
/// `archer-neural`.
pub fn registered() -> impl Iterator<Item = &'static dyn StrategyKind> {
    archer_strategy::KINDS
        .iter()
        .chain(crate::strategies::MODEL_KINDS)
        .chain(neural_kinds())
        .copied()
}

#[cfg(feature = "neural")]
fn neural_kinds() -> &'static [&'static dyn StrategyKind] {
    archer_neural::NEURAL_KINDS
}

#[cfg(not(feature = "neural"))]
fn neural_kinds() -> &'static [&'static dyn StrategyKind] {
    &[]
}

/// Every label `--strategies` accepts: each kind's name, then its variants.
pub fn strategy_labels() -> Vec<String> {
    registered()
        .flat_map(|k| {
            std::iter::once(k.name().to_string())
                .chain(k.variants().iter().map(|(label, _)| label.to_string()))
        })
        .collect()
}

/// The registered kind `name`, or the error listing every accepted label.
pub fn strategy_kind(name: &str) -> Result<&'static dyn StrategyKind, StrategyError> {
    registered()
        .find(|k| k.name() == name)
        .ok_or_else(|| StrategyConfig::unknown(name, &strategy_labels()))
}

/// The configuration a label stands for: a strategy's name (default settings), one of its
/// variants (`bo_path`), either followed by `+zc` (zero-cost warm start of every initial
/// sample, for the strategies that have one).
pub fn strategy_by_label(label: &str) -> Result<StrategyConfig, StrategyError> {
    if let Some(base) = label.strip_suffix("+zc") {
        let config = strategy_by_label(base)?;
        let kind = strategy_kind(&config.name)?;
        let Some((key, value)) = kind.zero_cost_setting(&config.settings) else {
            let with_warm_start: Vec<&str> = registered()
                .filter(|k| k.zero_cost_setting(&Default::default()).is_some())
                .map(|k| k.name())
                .collect();
            return Err(StrategyError::InvalidSetting {
                strategy: base.to_string(),
                reason: format!(
                    "+zc (zero-cost warm start) applies only to strategies with a warm start ({})",
                    with_warm_start.join(", ")
                ),
            });
        };
        return Ok(config.with(key, serde_json::Value::from(value)));
    }
    for kind in registered() {
        if kind.name() == label {
            return Ok(StrategyConfig::named(label));
        }
        if let Some((_, settings)) = kind.variants().iter().find(|(l, _)| *l == label) {
            let settings =
                serde_json::from_str(settings).map_err(|e| StrategyError::InvalidSetting {
                    strategy: label.to_string(),
                    reason: format!("variant settings: {e}"),
                })?;
            return Ok(StrategyConfig {
                name: kind.name().to_string(),
                settings,
            });
        }
    }
    // An older alias (`random_search`) names its strategy's defaults.
    let config = StrategyConfig::named(label);
    strategy_kind(&config.name)?;
    Ok(config)
}

/// The label of `config` for reports (see [`StrategyKind::label`]).
pub fn strategy_label(config: &StrategyConfig) -> String {
    strategy_kind(&config.name).map_or_else(|_| config.name.clone(), |k| k.label(&config.settings))
}

/// The zero-cost warm start `config` asks for, if any.
pub fn strategy_warm_start(config: &StrategyConfig) -> Option<WarmStart> {
    strategy_kind(&config.name)
        .ok()?
        .warm_start(&config.settings)
}

/// Whether `config` names a model-based strategy (one of this crate's kinds).
pub fn is_model_based(config: &StrategyConfig) -> bool {
    crate::strategies::MODEL_KINDS
        .iter()
        .any(|k| k.name() == config.name)
}

/// Checks a configuration completely, by its kind.
pub fn check_strategy(config: &StrategyConfig) -> Result<(), StrategyError> {
    strategy_kind(&config.name)?.check(&config.settings)
}

/// Whether `config` searches several objectives at once; any other strategy optimises the
/// first objective.
pub fn multi_objective(config: &StrategyConfig) -> bool {
    strategy_kind(&config.name).is_ok_and(|k| k.multi_objective())
}

/// Builds any strategy, seeded from `seed` and wrapped in the de-duplicating wrapper when
/// `deduplicate`. `warm_start` (best first) seeds the initial samples of the model-based
/// strategies; it must be empty unless the configuration asks for a warm start.
/// `prescreen`, when the study knows metrics before evaluation, steers the strategies that
/// use it away from proposals that break a constraint (and gives known objectives).
pub fn build_strategy(
    config: &StrategyConfig,
    space: Arc<dyn SearchSpace>,
    seed: u64,
    deduplicate: bool,
    warm_start: Vec<Arch>,
    prescreen: Option<Arc<dyn Prescreen>>,
) -> Result<Box<dyn Strategy>, StrategyError> {
    let kind = strategy_kind(&config.name)?;
    kind.check(&config.settings)?;
    let inner = kind.build(
        &config.settings,
        BuildContext {
            space: space.clone(),
            rng: StrategyConfig::strategy_rng(seed),
            warm_start,
            prescreen,
        },
    )?;
    Ok(StrategyConfig::wrap(inner, space, seed, deduplicate))
}
