use std::sync::Arc;

use archer_rng::Rng;
use archer_space::SearchSpace;
use serde::{Deserialize, Serialize};

use crate::model::{
    AcquisitionKind, BananasConfig, BoConfig, GpKernel, NpenasConfig, PredictorConfig, WarmStart,
};
use crate::registry::Settings;
use crate::{
    Dedup, LocalSearch, RandomSearch, RegularizedEvolution, Reinforce, Strategy, StrategyError,
};

fn default_population() -> usize {
    10
}
fn default_sample() -> usize {
    3
}
fn default_initial_samples() -> usize {
    10
}
fn default_restart_samples() -> usize {
    10
}
fn default_learning_rate() -> f64 {
    0.5
}
fn default_baseline_decay() -> f64 {
    0.9
}

/// The `[strategy]` section of an experiment. Defaults follow NAS-Bench-201 (REA:
/// population 10, sample 3; REINFORCE: learning rate 0.5, baseline decay 0.9) and NASLib's
/// local search (10 initial samples).
///
/// Strategies in the open registry ([`crate::StrategyKind`]; NSGA-II, multi-objective
/// evolution, ParEGO, ...) parse as [`StrategyConfig::Registered`]: their settings are
/// checked by their own kind when the experiment is validated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "name",
    rename_all = "snake_case",
    deny_unknown_fields,
    remote = "Self"
)]
pub enum StrategyConfig {
    #[serde(alias = "random_search")]
    Random {},
    #[serde(alias = "regularized_evolution")]
    Rea {
        #[serde(default = "default_population")]
        population: usize,
        #[serde(default = "default_sample")]
        sample: usize,
    },
    #[serde(alias = "local_search")]
    Ls {
        #[serde(default = "default_initial_samples")]
        initial_samples: usize,
        #[serde(default = "default_restart_samples")]
        restart_samples: usize,
    },
    Reinforce {
        #[serde(default = "default_learning_rate")]
        learning_rate: f64,
        #[serde(default = "default_baseline_decay")]
        baseline_decay: f64,
    },
    /// Bayesian optimisation with a GP; built by `archer-predict`.
    #[serde(alias = "bayesian_optimisation")]
    Bo(BoConfig),
    /// BANANAS; built by `archer-predict`.
    Bananas(BananasConfig),
    /// Predictor-guided evolution; built by `archer-predict`.
    Npenas(NpenasConfig),
    /// A strategy of the open registry, by name, with its settings as written.
    #[serde(skip)]
    Registered { name: String, settings: Settings },
}

impl<'de> Deserialize<'de> for StrategyConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut map = Settings::deserialize(d)?;
        let name = match map.get("name") {
            Some(serde_json::Value::String(n)) => n.clone(),
            Some(_) => return Err(D::Error::custom("strategy.name must be a string")),
            None => return Err(D::Error::missing_field("name")),
        };
        if Self::BUILT_IN.contains(&name.as_str()) {
            return StrategyConfig::deserialize(serde_json::Value::Object(map))
                .map_err(D::Error::custom);
        }
        map.remove("name");
        Ok(StrategyConfig::Registered {
            name,
            settings: map,
        })
    }
}

impl Serialize for StrategyConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            StrategyConfig::Registered { name, settings } => {
                let mut map = settings.clone();
                map.insert("name".into(), serde_json::Value::String(name.clone()));
                map.serialize(s)
            }
            other => StrategyConfig::serialize(other, s),
        }
    }
}

impl StrategyConfig {
    /// Names (and aliases) of the built-in variants above; any other name is looked up in
    /// the registry.
    const BUILT_IN: [&'static str; 11] = [
        "random",
        "random_search",
        "rea",
        "regularized_evolution",
        "ls",
        "local_search",
        "reinforce",
        "bo",
        "bayesian_optimisation",
        "bananas",
        "npenas",
    ];

    /// Names accepted in `[strategy] name = ...` and `--strategies`.
    pub const NAMES: [&'static str; 7] = [
        "random",
        "rea",
        "ls",
        "reinforce",
        "bo",
        "bananas",
        "npenas",
    ];

    /// Variants by label, as accepted by `--strategies` and printed by [`Self::label`]:
    /// the names above, `bo_path`, `bo_wl`, `bo_ucb`, `bananas_its`, `bananas_forest`,
    /// `bananas_gp`, `npenas_mlp`, `npenas_forest`, and any model-based label followed by
    /// `+zc` (zero-cost warm start of the initial samples).
    pub const VARIANTS: [&'static str; 8] = [
        "bo_path",
        "bo_wl",
        "bo_ucb",
        "bananas_its",
        "bananas_forest",
        "bananas_gp",
        "npenas_mlp",
        "npenas_forest",
    ];

    /// The configuration of a strategy by name or label (see [`Self::VARIANTS`]).
    pub fn by_name(name: &str) -> Result<Self, StrategyError> {
        if let Some(base) = name.strip_suffix("+zc") {
            let mut config = Self::by_name(base)?;
            // Warm-start all the initial samples.
            match &mut config {
                StrategyConfig::Bo(c) => c.warm_start = c.initial_samples,
                StrategyConfig::Bananas(c) => c.warm_start = c.initial_samples,
                StrategyConfig::Npenas(c) => c.warm_start = c.population,
                _ => {
                    return Err(StrategyError::InvalidSetting {
                        strategy: base.to_string(),
                        reason: "+zc (zero-cost warm start) applies to bo, bananas and npenas"
                            .into(),
                    })
                }
            }
            return Ok(config);
        }
        let bo = |f: fn(&mut BoConfig)| {
            let mut c = BoConfig::default();
            f(&mut c);
            Ok(StrategyConfig::Bo(c))
        };
        let bananas = |p: &str| {
            Ok(StrategyConfig::Bananas(BananasConfig {
                predictor: PredictorConfig::by_name(p).expect("known predictor"),
                ..BananasConfig::default()
            }))
        };
        let npenas = |p: &str| {
            Ok(StrategyConfig::Npenas(NpenasConfig {
                predictor: PredictorConfig::by_name(p).expect("known predictor"),
                ..NpenasConfig::default()
            }))
        };
        match name {
            "bo" | "bayesian_optimisation" => bo(|_| {}),
            "bo_path" => bo(|c| c.kernel = GpKernel::ExpPath),
            "bo_wl" => bo(|c| c.kernel = GpKernel::Wl),
            "bo_ucb" => bo(|c| c.acquisition = AcquisitionKind::Ucb),
            "bananas" => Ok(StrategyConfig::Bananas(BananasConfig::default())),
            "bananas_its" => Ok(StrategyConfig::Bananas(BananasConfig {
                acquisition: AcquisitionKind::Its,
                ..BananasConfig::default()
            })),
            "bananas_forest" => bananas("forest"),
            "bananas_gp" => bananas("gp"),
            "npenas" => npenas("gp"),
            "npenas_mlp" => npenas("mlp"),
            "npenas_forest" => npenas("forest"),
            "random" | "random_search" => Ok(StrategyConfig::Random {}),
            "rea" | "regularized_evolution" => Ok(StrategyConfig::Rea {
                population: default_population(),
                sample: default_sample(),
            }),
            "ls" | "local_search" => Ok(StrategyConfig::Ls {
                initial_samples: default_initial_samples(),
                restart_samples: default_restart_samples(),
            }),
            "reinforce" => Ok(StrategyConfig::Reinforce {
                learning_rate: default_learning_rate(),
                baseline_decay: default_baseline_decay(),
            }),
            // Registered strategies with their default settings; the registry checks the name.
            other => Ok(StrategyConfig::Registered {
                name: other.to_string(),
                settings: Settings::new(),
            }),
        }
    }

    /// The error for a name that neither the built-in variants nor `registered` know.
    pub fn unknown(name: &str, registered: &[&str]) -> StrategyError {
        StrategyError::InvalidSetting {
            strategy: name.to_string(),
            reason: format!(
                "unknown strategy; accepted: {}, {}, the variants {} and model-based ones with +zc",
                Self::NAMES.join(", "),
                registered.join(", "),
                Self::VARIANTS.join(", ")
            ),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            StrategyConfig::Registered { name, .. } => name,
            StrategyConfig::Random {} => "random",
            StrategyConfig::Rea { .. } => "rea",
            StrategyConfig::Ls { .. } => "ls",
            StrategyConfig::Reinforce { .. } => "reinforce",
            StrategyConfig::Bo(_) => "bo",
            StrategyConfig::Bananas(_) => "bananas",
            StrategyConfig::Npenas(_) => "npenas",
        }
    }

    /// The name plus what sets this configuration apart from the defaults that
    /// [`Self::by_name`] knows (kernel, predictor, acquisition, `+zc`), for reports.
    pub fn label(&self) -> String {
        // `_tag` for each setting that differs from the strategy's default.
        let differs = |tag: &str, default: &str| {
            if tag == default {
                String::new()
            } else {
                format!("_{tag}")
            }
        };
        let zc = |w: usize| if w > 0 { "+zc" } else { "" };
        match self {
            StrategyConfig::Bo(c) => {
                let kernel = match c.kernel {
                    GpKernel::ExpHamming => "",
                    GpKernel::ExpPath => "_path",
                    GpKernel::Wl => "_wl",
                };
                let acq = differs(c.acquisition.name(), AcquisitionKind::Ei.name());
                format!("bo{kernel}{acq}{}", zc(c.warm_start))
            }
            StrategyConfig::Bananas(c) => format!(
                "bananas{}{}{}",
                differs(c.predictor.name(), "mlp"),
                differs(c.acquisition.name(), AcquisitionKind::Ei.name()),
                zc(c.warm_start)
            ),
            StrategyConfig::Npenas(c) => format!(
                "npenas{}{}{}",
                differs(c.predictor.name(), "gp"),
                differs(c.acquisition.name(), AcquisitionKind::Mean.name()),
                zc(c.warm_start)
            ),
            other => other.name().to_string(),
        }
    }

    /// The zero-cost warm start this configuration asks for, if any.
    pub fn warm_start(&self) -> Option<WarmStart> {
        let (count, pool) = match self {
            StrategyConfig::Bo(c) => (c.warm_start, c.warm_start_pool),
            StrategyConfig::Bananas(c) => (c.warm_start, c.warm_start_pool),
            StrategyConfig::Npenas(c) => (c.warm_start, c.warm_start_pool),
            _ => (0, 0),
        };
        (count > 0).then_some(WarmStart { count, pool })
    }

    /// Whether this strategy needs a predictor (built by `archer-predict`, not [`Self::build`]).
    pub fn is_model_based(&self) -> bool {
        matches!(
            self,
            StrategyConfig::Bo(_) | StrategyConfig::Bananas(_) | StrategyConfig::Npenas(_)
        )
    }

    /// Checks every setting; errors name the key and the accepted range.
    pub fn validate(&self) -> Result<(), StrategyError> {
        let bad = |reason: String| {
            Err(StrategyError::InvalidSetting {
                strategy: self.name().to_string(),
                reason,
            })
        };
        let warm = |count: usize, pool: usize| {
            if count > 0 && pool < count {
                Err(format!(
                    "strategy.warm_start_pool = {pool} is smaller than strategy.warm_start = {count}"
                ))
            } else {
                Ok(())
            }
        };
        match *self {
            StrategyConfig::Bo(ref c) => c
                .settings()
                .validate()
                .and_then(|_| warm(c.warm_start, c.warm_start_pool))
                .or_else(bad),
            StrategyConfig::Bananas(ref c) => c
                .settings()
                .validate()
                .and_then(|_| warm(c.warm_start, c.warm_start_pool))
                .or_else(bad),
            StrategyConfig::Npenas(ref c) => c
                .validate()
                .and_then(|_| warm(c.warm_start, c.warm_start_pool))
                .or_else(bad),
            StrategyConfig::Random {} => Ok(()),
            // Checked by its kind in the registry (`archer-predict` holds the full list).
            StrategyConfig::Registered { .. } => Ok(()),
            StrategyConfig::Rea { population, sample } => {
                if population == 0 {
                    return bad("strategy.population must be at least 1".into());
                }
                if sample == 0 || sample > population {
                    return bad(format!(
                        "strategy.sample = {sample}; accepted: 1 to population ({population})"
                    ));
                }
                Ok(())
            }
            StrategyConfig::Ls {
                initial_samples,
                restart_samples,
            } => {
                if initial_samples == 0 {
                    return bad("strategy.initial_samples must be at least 1".into());
                }
                if restart_samples == 0 {
                    return bad("strategy.restart_samples must be at least 1".into());
                }
                Ok(())
            }
            StrategyConfig::Reinforce {
                learning_rate,
                baseline_decay,
            } => {
                if !(learning_rate.is_finite() && learning_rate > 0.0) {
                    return bad(format!(
                        "strategy.learning_rate = {learning_rate}; must be positive"
                    ));
                }
                if !(0.0..1.0).contains(&baseline_decay) {
                    return bad(format!(
                        "strategy.baseline_decay = {baseline_decay}; accepted: 0 to below 1"
                    ));
                }
                Ok(())
            }
        }
    }

    /// Builds the strategy with its own generator seeded from `seed`; wrapped in [`Dedup`]
    /// when `deduplicate`.
    pub fn build(
        &self,
        space: Arc<dyn SearchSpace>,
        seed: u64,
        deduplicate: bool,
        prescreen: Option<Arc<dyn crate::Prescreen>>,
    ) -> Result<Box<dyn Strategy>, StrategyError> {
        self.validate()?;
        let rng = Self::strategy_rng(seed);
        let inner: Box<dyn Strategy> = match *self {
            StrategyConfig::Random {} => Box::new(RandomSearch::new(space.clone(), rng)),
            StrategyConfig::Rea { population, sample } => Box::new(
                RegularizedEvolution::new(space.clone(), rng, population, sample)
                    .with_prescreen(prescreen),
            ),
            StrategyConfig::Ls {
                initial_samples,
                restart_samples,
            } => Box::new(LocalSearch::new(
                space.clone(),
                rng,
                initial_samples,
                restart_samples,
            )),
            StrategyConfig::Reinforce {
                learning_rate,
                baseline_decay,
            } => Box::new(Reinforce::new(
                space.clone(),
                rng,
                learning_rate,
                baseline_decay,
            )),
            StrategyConfig::Bo(_)
            | StrategyConfig::Bananas(_)
            | StrategyConfig::Npenas(_)
            | StrategyConfig::Registered { .. } => {
                return Err(StrategyError::InvalidSetting {
                    strategy: self.name().to_string(),
                    reason: "model-based and registered strategies are built by archer-predict's build_strategy".into(),
                })
            }
        };
        Ok(Self::wrap(inner, space, seed, deduplicate))
    }

    /// The generator seed every strategy built from `seed` starts from.
    pub fn strategy_rng(seed: u64) -> Rng {
        Rng::derive(seed, 0x5354_5241_5445_4759) // "STRATEGY"
    }

    /// Wraps `inner` in [`Dedup`] when `deduplicate`.
    pub fn wrap(
        inner: Box<dyn Strategy>,
        space: Arc<dyn SearchSpace>,
        seed: u64,
        deduplicate: bool,
    ) -> Box<dyn Strategy> {
        let dedup_rng = Rng::derive(seed, 0x0044_4544_5550); // "DEDUP"
        if deduplicate {
            Box::new(Dedup::new(inner, space, dedup_rng))
        } else {
            inner
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_and_variant_is_its_own_label_and_round_trips() {
        let names = StrategyConfig::NAMES
            .iter()
            .chain(&StrategyConfig::VARIANTS);
        for name in names {
            let config = StrategyConfig::by_name(name).unwrap();
            assert_eq!(&config.label(), name);
            assert_eq!(StrategyConfig::by_name(&config.label()).unwrap(), config);
            if config.is_model_based() {
                let zc = StrategyConfig::by_name(&format!("{name}+zc")).unwrap();
                assert_eq!(zc.label(), format!("{name}+zc"));
                assert!(zc.warm_start().is_some());
            } else {
                assert!(StrategyConfig::by_name(&format!("{name}+zc")).is_err());
            }
        }
    }
}
