//! Benchmarks and their plots, apart from the study loop: `bench nb201` (strategies × seeds
//! on the NAS-Bench-201 table, single- and multi-objective), `bench table` (on a user's
//! results table), `bench nb201-curves` (multi-fidelity schedulers on simulated workers,
//! single- and multi-objective),
//! `bench predictors`,
//! `bench nb201-size`, and the whole-loop store throughput.

pub mod curves;
pub mod curves_mo;
mod error;
pub mod mo;
pub mod nb201;
mod plot;
pub mod predictor_bench;
pub mod size_bench;
mod stats;
pub mod table;

pub use error::BenchError;
pub use plot::{anytime_svg, front_svg, FrontSeries};
pub use stats::{mean, std_dev};
