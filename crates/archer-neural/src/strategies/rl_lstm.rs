//! `rl-lstm`: the NAS-RL controller (Zoph & Le 2017), an LSTM emitting the decisions in
//! order, trained by REINFORCE after every result.

use archer_strategy::{Kind, StrategySettings};
use serde::Deserialize;

use crate::controller_search::{ControllerConfig, ControllerSearch, Trainer};

pub(crate) static KIND: Kind<RlLstmSettings> = Kind::new(
    "rl-lstm",
    "NAS-RL: an LSTM controller emitting the decisions in order, REINFORCE with a moving-average baseline and an entropy bonus",
    |c, ctx| {
        Box::new(ControllerSearch::new(
            "rl-lstm",
            ctx.space,
            ctx.prescreen,
            c.0.shape(),
            Trainer::Reinforce,
            c.0.learning(),
            ctx.rng,
        ))
    },
);

/// `[strategy] name = "rl-lstm"`: [`ControllerConfig`] without PPO's keys.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct RlLstmSettings(ControllerConfig);

impl StrategySettings for RlLstmSettings {
    fn validate(&self) -> Result<(), String> {
        self.0.validate(false)
    }
}
