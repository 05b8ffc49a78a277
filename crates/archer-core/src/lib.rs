//! The types every part of Archer meets at: what an evaluation measured ([`Metrics`]), what the
//! search optimises ([`Objective`]), how much of an evaluation to run ([`Fidelity`]), and the
//! record of one evaluation ([`Trial`]) inside a study's [`History`].

mod ctx;
mod fidelity;
mod history;
mod metrics;
mod trial;

pub use archer_space::Arch;
pub use ctx::{Report, TrialCtx};
pub use fidelity::Fidelity;
pub use history::History;
pub use metrics::{metric, Direction, MetricSpec, Metrics, Objective};
pub use trial::{Trial, TrialState};
