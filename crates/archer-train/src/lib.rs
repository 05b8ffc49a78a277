//! Real training of searched networks on libtorch (tch-rs): the networks of every
//! trainable space, real dataset loaders, the training loop, the `train` evaluator, and
//! export of a trained model (safetensors weights, a manifest, TorchScript).
//!
//! libtorch's random generator is process-wide, so building and training are serialised
//! in a process ([`training_lock`]): a trial's weights and batches depend only on its seed.

pub mod average;
mod chain;
pub mod checkpoint;
mod darts;
pub mod data;
pub mod engine_bench;
mod error;
mod evaluator;
pub mod export;
mod genet;
pub mod memory;
pub mod morph;
pub mod nb201;
mod net;
pub mod ops;
pub mod sgd;
pub mod train;

pub use error::TrainError;
pub use evaluator::{
    latency_ms, median_ms, metrics, split_data, SplitData, TrainEvaluator, SPLIT_SEED, TRAIN,
};
pub use genet::{genet_stages, GenetStage};
pub use net::{trainable_spaces, Network};

use std::sync::{Mutex, MutexGuard};

/// The libtorch version this build links (from its `version.py`).
pub const LIBTORCH_VERSION: &str = match option_env!("ARCHER_LIBTORCH_VERSION") {
    Some(v) => v,
    None => "unknown",
};

static TRAINING: Mutex<()> = Mutex::new(());

/// Held while a network is built and trained: libtorch's generator and thread settings are
/// global.
pub fn training_lock() -> MutexGuard<'static, ()> {
    TRAINING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Takes the training lock and prepares libtorch for one job: `threads` intra-op threads
/// (0 keeps libtorch's default) and, when given, its generator seeded with `seed`.
pub fn torch_session(threads: usize, seed: Option<u64>) -> MutexGuard<'static, ()> {
    let lock = training_lock();
    if threads > 0 {
        tch::set_num_threads(threads as i32);
    }
    if let Some(seed) = seed {
        tch::manual_seed((seed & i64::MAX as u64) as i64);
    }
    lock
}
