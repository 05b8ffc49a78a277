//! The study loop and everything around it: experiment files validated before anything runs,
//! budgets on trials, simulated and wall-clock seconds, the experiment directory, and the
//! `bench` harness that runs strategies × seeds on a tabular benchmark.

pub mod bench;
mod config;
mod error;
mod experiment_dir;
pub mod launch;
mod plot;
pub mod predictor_bench;
mod recorder;
pub mod size_bench;
mod stats;
mod strategy_build;
mod study;
pub mod worker;

pub use config::{Budget, Experiment, ExperimentConfig, Overrides, RetrainSection, StudySection};
pub use error::{ConfigError, RunError};
pub use experiment_dir::{ExperimentDir, RUN_FILE, STORE_FILE};
pub use plot::anytime_svg;
pub use recorder::{DirRecorder, NullRecorder, Recorder};
pub use stats::{mean, std_dev};
pub use strategy_build::{build_strategy, restored_strategy, warm_start};
pub use study::{Event, StopReason, Study, StudySummary, TrajectoryPoint};
