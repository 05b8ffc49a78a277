//! Search strategies. A strategy answers `ask` (what to evaluate next) and `tell` (a finished
//! trial); it never runs the loop, sleeps, trains or touches storage, so every strategy is
//! tested without an engine and resumed exactly from its `state()`.

mod config;
mod dedup;
mod error;
mod local_search;
mod model;
mod population;
mod prescreen;
mod random;
mod rea;
mod registry;
mod reinforce;
mod strategies;
mod strategy;

pub use config::StrategyConfig;
pub use dedup::Dedup;
pub use error::StrategyError;
pub use local_search::LocalSearch;
pub use model::{
    AcquisitionKind, BananasConfig, BoConfig, FeatureEncoding, GpKernel, ModelSearchSettings,
    NpenasConfig, PredictorConfig, WarmStart,
};
pub use prescreen::{draw_passing, passes, sample_passing, Prescreen, PRESCREEN_TRIES};
pub use random::RandomSearch;
pub use rea::RegularizedEvolution;
pub use registry::{find, BuildContext, Kind, Settings, StrategyKind, StrategySettings};
pub use reinforce::Reinforce;
pub use strategies::KINDS;
pub use strategy::{Proposal, Strategy};
