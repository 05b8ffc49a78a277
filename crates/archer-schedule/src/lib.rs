//! Multi-fidelity scheduling: how much of an evaluation each trial gets. Successive halving
//! and Hyperband (synchronous), ASHA (asynchronous; several brackets make it asynchronous
//! Hyperband), each with rungs that stop trials or pause them for a later promotion; ASHA's
//! rungs rank by one objective or by Pareto fronts (multi-objective ASHA); median and
//! percentile pruners; and [`RungSearcher`], which makes any strategy the searcher of a rung
//! scheduler (BOHB is Hyperband with the `tpe` strategy as its searcher).
//!
//! Schedulers decide from the study's history alone: a resumed study, or a distributed
//! worker reading the shared store, decides exactly as an uninterrupted one.

mod asha;
mod config;
mod halving;
mod pruners;
pub mod rungs;
mod scheduler;
mod searcher;

pub use asha::{Asha, RungType};
pub use config::{SchedulerConfig, SettingError, KINDS};
pub use halving::{hyperband_shapes, BracketShape, SuccessiveHalving, BRACKET_ATTR};
pub use pruners::PercentilePruner;
pub use rungs::{rung_levels, RungObjectives};
pub use scheduler::{Admission, Decision, FullFidelity, Promotion, Scheduler};
pub use searcher::{RungSearcher, StrategyFactory};
