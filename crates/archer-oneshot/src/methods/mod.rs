//! The one-shot methods, one per file.

pub mod darts;
pub mod gdas;
pub mod rsps;
pub mod spos;

use std::collections::HashMap;

use tch::Tensor;

use crate::method::Step;
use crate::search::{single_path_step, StepLosses};
use crate::{Adam, Nb201Supernet, OneShotError, OneShotSettings};

/// The step of RSPS and SPOS: one path drawn uniformly from the space, its weights trained
/// on the training batch.
pub(crate) fn uniform_path_step(s: Step) -> Result<StepLosses, OneShotError> {
    let arch = s
        .space
        .sample(s.rng)
        .map_err(|e| OneShotError::Setting(e.to_string()))?;
    let w = single_path_step(s.net, s.sgd, s.train, &arch, s.lr, s.grad_clip, s.step)?;
    Ok(StepLosses::weights_only(w))
}

/// α's Adam as the settings give it.
pub(crate) fn arch_adam(settings: &OneShotSettings, net: &Nb201Supernet) -> Adam {
    let a = &settings.arch;
    Adam::new(&net.alpha, a.lr, (a.betas[0], a.betas[1]), a.weight_decay)
}

const ADAM_PREFIX: &str = "adam.";

/// α's Adam as checkpoint state.
pub(crate) fn adam_state(adam: &Adam) -> (Vec<(String, Tensor)>, serde_json::Value) {
    (
        adam.state(ADAM_PREFIX),
        serde_json::json!({ "adam_steps": adam.steps() }),
    )
}

/// α's Adam from checkpoint state.
pub(crate) fn load_adam(
    adam: &mut Adam,
    tensors: &mut HashMap<String, Tensor>,
    meta: &serde_json::Value,
) -> Result<(), String> {
    let steps = meta["adam_steps"]
        .as_u64()
        .ok_or("the checkpoint has no adam_steps")?;
    adam.load_state(ADAM_PREFIX, tensors, steps)
}
