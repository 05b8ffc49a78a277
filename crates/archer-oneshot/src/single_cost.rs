//! What the supernet costs against the one network it found. The derived architecture is
//! built as an ordinary network (`archer-train`'s, as the `train` evaluator builds it) of
//! the supernet's size (the same channels and cells), and trained for a few SGD steps on
//! the same batches in the same process, once the supernet is released. Its mean step time
//! and the resident memory its training adds stand beside the supernet's: a search step
//! (the method's whole step, an α-step included where it has one) against one training step
//! of the network it chose, and the memory the supernet's training added against the
//! memory the single network's adds.

use std::time::Instant;

use archer_eval::{NetworkConfig, TrainConfig};
use archer_space::{Arch, SearchSpace};
use archer_train::memory;
use archer_train::ops::Shape;
use archer_train::sgd::Sgd;
use archer_train::Network;
use tch::{Device, Tensor};

use crate::OneShotError;

/// Steps run before the timed ones (allocation, first-touch and kernel selection).
pub const WARMUP_STEPS: usize = 2;
/// Steps timed.
pub const TIMED_STEPS: usize = 10;

/// The single network's cost.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SingleCost {
    /// Mean milliseconds of one training step (forward, backward, clip, SGD) over
    /// [`TIMED_STEPS`] steps.
    pub step_ms: f64,
    /// Resident memory its training added, MiB: the peak over its steps less the resident
    /// size before it was built; `None` where the peak cannot be reset (not Linux, or the
    /// kernel refuses).
    pub memory_mib: Option<f64>,
}

/// Gives freed heap memory back to the system, so that the resident size before the
/// single network does not still hold the supernet's freed blocks (glibc keeps them).
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of glibc's heap to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Trains `arch` as an ordinary network (`network`, for `input` images and `classes`
/// classes, on `device`) with `recipe`'s SGD for [`WARMUP_STEPS`] + [`TIMED_STEPS`] steps,
/// cycling through `batches` (at least one). Call it after the supernet has been dropped
/// and [`release_freed_memory`]; the weights start from libtorch's generator as it stands.
#[allow(clippy::too_many_arguments)]
pub fn measure(
    space: &dyn SearchSpace,
    arch: &Arch,
    network: &NetworkConfig,
    input: Shape,
    classes: i64,
    device: Device,
    recipe: &TrainConfig,
    batches: &[(Tensor, Tensor)],
) -> Result<SingleCost, OneShotError> {
    if batches.is_empty() {
        return Err(OneShotError::Setting(
            "measuring the single network needs at least one training batch".into(),
        ));
    }
    let before = memory::resident_mb().map(|mb| mb as f64);
    let reset = memory::reset_peak();
    let net = Network::build(space, arch, network, input, classes, 1.0, device).map_err(|e| {
        OneShotError::Setting(format!(
            "building {} as a single network: {e}",
            space.format(arch)
        ))
    })?;
    // At the recipe's peak learning rate.
    let mut sgd = Sgd::new(&net.vs, recipe);
    let mut timed = 0.0;
    for i in 0..WARMUP_STEPS + TIMED_STEPS {
        let (x, y) = &batches[i % batches.len()];
        let start = Instant::now();
        let loss = net.forward_t(x, true).cross_entropy_for_logits(y);
        sgd.zero_grad();
        loss.backward();
        if recipe.grad_clip > 0.0 {
            sgd.clip_grad_norm(recipe.grad_clip);
        }
        sgd.step();
        // Waits for the step to finish (on a GPU too) before the clock is read.
        let _ = loss.double_value(&[]);
        if i >= WARMUP_STEPS {
            timed += start.elapsed().as_secs_f64();
        }
    }
    let memory_mib = match (reset, before, memory::peak_rss_mib()) {
        (true, Some(before), Some(peak)) => Some((peak - before).max(0.0)),
        _ => None,
    };
    Ok(SingleCost {
        step_ms: 1e3 * timed / TIMED_STEPS as f64,
        memory_mib,
    })
}
