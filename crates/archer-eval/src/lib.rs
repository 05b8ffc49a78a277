//! Evaluators turn an architecture into metrics. Today: the NAS-Bench-201 table, which looks
//! results up and charges their recorded training time to a simulated clock, and can answer
//! zero-cost proxy scores from the NAS-Bench-201 proxy table for warm starts.

mod config;
mod error;
mod evaluator;
mod external;
mod nb201_eval;
mod nb201_table;
mod table_file;
mod train_settings;
mod zero_cost;

pub use config::EvaluatorConfig;
pub use error::{DataError, EvalError};
pub use evaluator::Evaluator;
pub use external::ExternalEvaluator;
pub use nb201_eval::Nb201Evaluator;
pub use nb201_table::{Nb201Dataset, Nb201Record, Nb201Table};
pub use table_file::DataFile;
pub use train_settings::{
    Augment, DataConfig, DeviceChoice, NetworkConfig, TrainConfig, TrainSettings,
};
pub use zero_cost::{Nb201ZeroCost, ZeroCostProxy, NB201_ZERO_COST_PROXIES};
