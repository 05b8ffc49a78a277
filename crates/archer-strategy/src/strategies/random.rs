use std::sync::Arc;

use archer_core::{History, Trial};
use archer_rng::Rng;
use archer_space::SearchSpace;
use serde::{Deserialize, Serialize};

use crate::{Kind, Proposal, Strategy, StrategyError, StrategySettings};

pub(crate) const KIND: Kind<RandomConfig> = Kind::new(
    "random",
    "uniform random sampling; multi-objective by nature",
    |_, ctx| Box::new(RandomSearch::new(ctx.space, ctx.rng)),
)
.multi_objective();

/// `[strategy] name = "random"`: no settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomConfig {}

impl StrategySettings for RandomConfig {}

/// Uniform random sampling from the space (Bergstra & Bengio 2012; Li & Talwalkar 2019).
pub struct RandomSearch {
    space: Arc<dyn SearchSpace>,
    state: RandomState,
}

#[derive(Serialize, Deserialize)]
struct RandomState {
    rng: Rng,
}

impl RandomSearch {
    pub fn new(space: Arc<dyn SearchSpace>, rng: Rng) -> Self {
        RandomSearch {
            space,
            state: RandomState { rng },
        }
    }
}

impl Strategy for RandomSearch {
    fn name(&self) -> &str {
        "random"
    }

    fn ask(&mut self, _history: &History) -> Result<Proposal, StrategyError> {
        Ok(Proposal::full(self.space.sample(&mut self.state.rng)?))
    }

    fn tell(&mut self, _trial: &Trial) {}

    fn state(&self) -> serde_json::Value {
        serde_json::to_value(&self.state).expect("plain data serialises")
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError> {
        self.state =
            serde_json::from_value(state).map_err(|e| StrategyError::restore("random", e))?;
        Ok(())
    }
}
