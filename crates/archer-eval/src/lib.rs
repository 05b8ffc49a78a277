//! Evaluators turn an architecture into metrics. Today: the NAS-Bench-201 table, which looks
//! results up and charges their recorded training time to a simulated clock.

mod config;
mod error;
mod evaluator;
mod nb201_eval;
mod nb201_table;
mod table_file;

pub use config::EvaluatorConfig;
pub use error::{DataError, EvalError};
pub use evaluator::Evaluator;
pub use nb201_eval::Nb201Evaluator;
pub use nb201_table::{Nb201Dataset, Nb201Record, Nb201Table};
pub use table_file::DataFile;
