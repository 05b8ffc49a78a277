//! The types every part of Archer meets at: what an evaluation measured ([`Metrics`]), what the
//! search optimises ([`Objective`]), how much of an evaluation to run ([`Fidelity`]), and the
//! record of one evaluation ([`Trial`]) inside a study's [`History`], and the
//! multi-objective vocabulary: [`Constraint`]s, dominance, fronts and hypervolume ([`pareto`]).

mod ctx;
mod fidelity;
mod history;
mod metrics;
pub mod pareto;
pub mod ranks;
mod trial;

pub use archer_space::Arch;
pub use ctx::{CtxParts, Inherited, Report, TrialCtx};
pub use fidelity::Fidelity;
pub use history::History;
pub use metrics::{
    metric, scores, total_violation, Constraint, Direction, MetricSpec, Metrics, Objective,
};
pub use trial::{Trial, TrialState, PROMOTED_AT_ATTR, PROMOTIONS_ATTR, SCREENED_ATTR};
