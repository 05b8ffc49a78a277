//! `ppo`: NASNet's controller training (Zoph et al. 2018), the NAS-RL LSTM controller
//! updated by proximal policy optimisation over batches of results.

use archer_strategy::{Kind, StrategySettings};
use serde::Deserialize;

use crate::controller_search::{ControllerConfig, ControllerSearch};

pub(crate) static KIND: Kind<PpoSettings> = Kind::new(
    "ppo",
    "NASNet's PPO: the LSTM controller trained with the clipped surrogate (ratio 1 +- 0.2) over batches of results",
    |c, ctx| {
        Box::new(ControllerSearch::new(
            "ppo",
            ctx.space,
            ctx.prescreen,
            c.0.shape(),
            c.0.ppo(),
            c.0.learning(),
            ctx.rng,
        ))
    },
);

/// `[strategy] name = "ppo"`: [`ControllerConfig`] with `batch`, `epochs` and `clip`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct PpoSettings(ControllerConfig);

impl StrategySettings for PpoSettings {
    fn validate(&self) -> Result<(), String> {
        self.0.validate(true)
    }
}
