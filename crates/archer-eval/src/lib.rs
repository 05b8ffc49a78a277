//! Evaluators turn an architecture into metrics: the NAS-Bench-201 table, which looks
//! results up and charges their recorded training time to a simulated clock, and can answer
//! zero-cost proxy scores from the NAS-Bench-201 proxy table for warm starts; the NB201
//! learning curves of 200 cells as a multi-fidelity benchmark (`nb201-curves`); a user's own
//! results table (`table`); results told from outside (`external`).

mod command;
mod config;
mod error;
mod evaluator;
mod external;
mod nb201_curves;
mod nb201_eval;
mod nb201_kind;
mod nb201_table;
mod registry;
mod results_table;
mod table_eval;
mod table_file;
mod train_settings;
mod zero_cost;

pub use command::{
    resolve_program, CommandEvaluator, CommandSettings, STDERR_TAIL_LINES, TRIAL_ENV,
};
pub use config::EvaluatorConfig;
pub use error::{DataError, EvalError};
pub use evaluator::Evaluator;
pub use external::{ExternalEvaluator, ExternalSettings};
pub use nb201_curves::{Nb201CurvesEvaluator, Nb201CurvesSettings, CURVE_EPOCHS};
pub use nb201_eval::Nb201Evaluator;
pub use nb201_kind::Nb201Settings;
pub use nb201_table::{Nb201Dataset, Nb201Record, Nb201Table};
pub use registry::{
    find_kind, BuildEvaluator, EvalBuildContext, EvalKind, EvaluatorKind, EvaluatorSettings,
    Settings,
};
pub use results_table::{ResultsTable, TableRow, TableSpec};
pub use table_eval::{TableEvaluator, TableSettings, TableSpace};
pub use table_file::DataFile;
pub use train_settings::{
    Augment, DataConfig, DeviceChoice, NetworkConfig, TrainConfig, TrainSettings, TRAIN_UNAVAILABLE,
};

/// The evaluator kinds of this crate; `archer-train` adds `train` (builds without it use
/// [`TRAIN_UNAVAILABLE`]).
pub static KINDS: &[&dyn EvaluatorKind] = &[
    &nb201_kind::KIND,
    &nb201_curves::KIND,
    &table_eval::KIND,
    &command::KIND,
    &external::KIND,
];
pub use zero_cost::{Nb201ZeroCost, ZeroCostProxy, NB201_ZERO_COST_PROXIES};
