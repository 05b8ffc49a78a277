use std::sync::Arc;

use archer_rng::Rng;
use archer_space::SearchSpace;
use serde::{Deserialize, Serialize};

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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case", deny_unknown_fields)]
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
}

impl StrategyConfig {
    /// Names accepted in `[strategy] name = ...` and `--strategies`.
    pub const NAMES: [&'static str; 4] = ["random", "rea", "ls", "reinforce"];

    /// The default configuration of a strategy by name.
    pub fn by_name(name: &str) -> Result<Self, StrategyError> {
        match name {
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
            other => Err(StrategyError::InvalidSetting {
                strategy: other.to_string(),
                reason: format!("unknown strategy; accepted: {}", Self::NAMES.join(", ")),
            }),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            StrategyConfig::Random {} => "random",
            StrategyConfig::Rea { .. } => "rea",
            StrategyConfig::Ls { .. } => "ls",
            StrategyConfig::Reinforce { .. } => "reinforce",
        }
    }

    /// Checks every setting; errors name the key and the accepted range.
    pub fn validate(&self) -> Result<(), StrategyError> {
        let bad = |reason: String| {
            Err(StrategyError::InvalidSetting {
                strategy: self.name().to_string(),
                reason,
            })
        };
        match *self {
            StrategyConfig::Random {} => Ok(()),
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
    ) -> Result<Box<dyn Strategy>, StrategyError> {
        self.validate()?;
        let rng = Rng::derive(seed, 0x5354_5241_5445_4759); // "STRATEGY"
        let inner: Box<dyn Strategy> = match *self {
            StrategyConfig::Random {} => Box::new(RandomSearch::new(space.clone(), rng)),
            StrategyConfig::Rea { population, sample } => Box::new(RegularizedEvolution::new(
                space.clone(),
                rng,
                population,
                sample,
            )),
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
        };
        let dedup_rng = Rng::derive(seed, 0x0044_4544_5550); // "DEDUP"
        Ok(if deduplicate {
            Box::new(Dedup::new(inner, space, dedup_rng))
        } else {
            inner
        })
    }
}
