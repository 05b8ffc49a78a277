//! The study loop and everything around it: experiment files validated before anything runs,
//! budgets on trials, simulated and wall-clock seconds, and the experiment directory.
//! Benchmarks live in `archer-bench`.

mod config;
mod coordination;
mod error;
mod experiment_dir;
pub mod launch;
mod recorder;
mod scheduler;
mod strategy_build;
mod study;
pub mod worker;

pub use config::{
    evaluator_kind, evaluator_kinds, Budget, Experiment, ExperimentConfig, ObjectiveSection,
    Objectives, Overrides, RetrainSection, StudySection,
};
pub use error::{ConfigError, RunError};
pub use experiment_dir::{ExperimentDir, RUN_FILE, STORE_FILE};
pub use recorder::{DirRecorder, NullRecorder, Recorder};
pub use scheduler::{Decision, FullFidelity, Promotion, Scheduler};
pub use strategy_build::{build_strategy, restored_strategy, warm_start};
pub use study::{Event, StopReason, Study, StudySummary, TrajectoryPoint};
