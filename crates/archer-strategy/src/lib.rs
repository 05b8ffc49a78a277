//! Search strategies. A strategy answers `ask` (what to evaluate next) and `tell` (a finished
//! trial); it never runs the loop, sleeps, trains or touches storage, so every strategy is
//! tested without an engine and resumed exactly from its `state()`.

mod config;
pub mod decisions;
mod dedup;
mod error;
mod model;
mod population;
mod prescreen;
mod registry;
mod strategies;
mod strategy;

pub use config::StrategyConfig;
pub use dedup::{sample_unknown, Dedup};
pub use error::StrategyError;
pub use model::{
    AcquisitionKind, BananasConfig, BoConfig, FeatureEncoding, GpKernel, ModelSearchSettings,
    NpenasConfig, PredictorConfig, WarmStart,
};
pub use prescreen::{draw_passing, passes, sample_passing, Prescreen, PRESCREEN_TRIES};
pub use registry::{find, BuildContext, Kind, Settings, StrategyKind, StrategySettings};
pub use strategies::ls::LocalSearch;
pub use strategies::random::RandomSearch;
pub use strategies::rea::RegularizedEvolution;
pub use strategies::reinforce::Reinforce;
pub use strategies::KINDS;
pub use strategy::{Inheritance, Proposal, Strategy};
