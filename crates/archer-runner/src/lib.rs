//! The study loop and everything around it: experiment files validated before anything runs,
//! budgets on trials, simulated and wall-clock seconds, and the experiment directory.
//! Benchmarks live in `archer-bench`.

mod checkpoints;
mod config;
mod coordination;
mod error;
mod experiment_dir;
pub mod launch;
mod oneshot;
mod recorder;
mod simulated;
mod strategy_build;
mod study;
pub mod worker;

pub use archer_schedule::{
    Admission, Decision, FullFidelity, Promotion, Scheduler, SchedulerConfig, BRACKET_ATTR,
};
pub use checkpoints::{CHECKPOINT_DROPPED_ATTR, CHECKPOINT_REMOVED_ATTR};
pub use config::{
    evaluator_kind, evaluator_kinds, Budget, Experiment, ExperimentConfig, ObjectiveSection,
    Objectives, Overrides, RetrainSection, StudySection,
};
pub use error::{ConfigError, RunError};
pub use experiment_dir::{ExperimentDir, RUN_FILE, STORE_FILE};
pub use oneshot::{is_oneshot, ONESHOT_ATTR, ONESHOT_NAMES};
pub use recorder::{write_atomically, DirRecorder, NullRecorder, Recorder};
pub use simulated::{SIM_FINISHED_ATTR, SIM_STARTED_ATTR, SIM_WORKER_ATTR, STOPPED_BY_BUDGET_ATTR};
pub use strategy_build::{build_scheduler, build_strategy, restored_strategy, warm_start};
pub use study::{
    Event, StopReason, Study, StudySummary, TrajectoryPoint, CHECKPOINT_ATTR, PROMOTIONS_ATTR,
    RESTARTED_FROM_SCRATCH_ATTR, RESUMED_FROM_STEP_ATTR, STEPS_RUN_ATTR,
};
