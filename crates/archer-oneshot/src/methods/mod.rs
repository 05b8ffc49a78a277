//! The one-shot methods, one per file.

pub mod darts;
pub mod drnas;
pub mod enas;
pub mod gdas;
pub mod rsps;
pub mod snas;
pub mod spos;

use std::collections::{HashMap, HashSet};

use archer_space::{Arch, SearchSpace};

use tch::Tensor;

use crate::method::{Scorer, Selection, Step};
use crate::search::{single_path_step, soft_mixing_step, soft_weight_step, SoftMixing, StepLosses};
use crate::{Adam, OneShotError, OneShotSettings, Supernet};

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

/// The step of a method that mixes every edge (DARTS first order, SNAS, DrNAS) by `mixing`:
/// the weights alone in a warm-up epoch, else α on the validation batch and then the weights.
pub(crate) fn soft_method_step(
    s: Step,
    adam: &mut Adam,
    mixing: &SoftMixing,
) -> Result<StepLosses, OneShotError> {
    if s.warmup {
        let w = soft_weight_step(s.net, s.sgd, s.train, mixing, s.lr, s.grad_clip, s.step)?;
        return Ok(StepLosses::weights_only(w));
    }
    soft_mixing_step(
        s.net,
        adam,
        s.sgd,
        s.train,
        s.valid,
        mixing,
        s.lr,
        s.grad_clip,
        s.step,
    )
}

/// α's Adam as the settings give it.
pub(crate) fn arch_adam(settings: &OneShotSettings, net: &Supernet) -> Adam {
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

/// The best `keep` by `score` of up to `n` distinct architectures from `draw` (distinct up
/// to the space's isomorphism): RSPS draws uniformly, ENAS from its controller. A space (or
/// a converged controller) with fewer gives fewer; 20·n draws at most.
pub(crate) fn best_of_distinct(
    n: usize,
    keep: usize,
    space: &dyn SearchSpace,
    score: &mut Scorer,
    draw: &mut dyn FnMut() -> Result<Arch, OneShotError>,
) -> Result<Selection, OneShotError> {
    let mut seen = HashSet::new();
    let mut scored = Vec::new();
    let mut tries = 0;
    while seen.len() < n && tries < n * 20 {
        tries += 1;
        let arch = draw()?;
        if !seen.insert(space.canonical_hash(&arch)) {
            continue;
        }
        let acc = score(&arch)?;
        scored.push((arch, acc));
    }
    Selection::best_of(scored, keep)
}
