//! One-shot methods: how a supernet is trained step by step and how the architecture is
//! chosen from it at the end. Each method is one file in `methods/` and one line of
//! [`METHODS`].

use std::collections::HashMap;

use archer_rng::Rng;
use archer_space::{Arch, SearchSpace};
use archer_train::sgd::Sgd;
use tch::Tensor;

use crate::search::{Batch, StepLosses};
use crate::{methods, Nb201Supernet, OneShotError, OneShotSettings};

/// What a method sees at one search step.
pub struct Step<'a> {
    pub net: &'a Nb201Supernet,
    pub space: &'a dyn SearchSpace,
    pub sgd: &'a mut Sgd,
    pub train: Batch<'a>,
    pub valid: Batch<'a>,
    /// The weights' learning rate at this step.
    pub lr: f64,
    pub grad_clip: f64,
    /// A warm-up epoch: the weights only, α untouched.
    pub warmup: bool,
    /// 0-based epoch of `epochs`.
    pub epoch: u32,
    pub epochs: u32,
    /// Steps taken before this one.
    pub step: u64,
    /// The epoch's draws of paths (seeded by the run's seed and the epoch).
    pub rng: &'a mut Rng,
}

/// Scores a sub-network on the shared weights (validation accuracy, a fraction).
pub type Scorer<'a> = dyn FnMut(&Arch) -> Result<f64, OneShotError> + 'a;

/// A one-shot method's training and selection.
pub trait Method: Send {
    /// One search step.
    fn step(&mut self, s: Step) -> Result<StepLosses, OneShotError>;

    /// The architecture the method's parameters prefer now (the per-epoch trend), or `None`
    /// for a method that has none before its selection (RSPS).
    fn preferred(&self, net: &Nb201Supernet) -> Option<Arch>;

    /// The final architecture and how many sub-networks the choice scored.
    fn select(
        &mut self,
        net: &Nb201Supernet,
        space: &dyn SearchSpace,
        score: &mut Scorer,
        rng: &mut Rng,
    ) -> Result<(Arch, usize), OneShotError>;

    /// The method's own state to checkpoint: tensors, and a JSON value for the rest.
    fn state(&self) -> (Vec<(String, Tensor)>, serde_json::Value) {
        (Vec::new(), serde_json::Value::Null)
    }

    /// Takes a checkpoint's state back; the reason when it does not fit.
    fn load_state(
        &mut self,
        _tensors: &mut HashMap<String, Tensor>,
        _meta: &serde_json::Value,
    ) -> Result<(), String> {
        Ok(())
    }
}

/// A registered method: its name, what it is, its published epoch count, and how to build
/// it for a supernet.
pub struct MethodKind {
    pub name: &'static str,
    pub summary: &'static str,
    pub default_epochs: u32,
    pub build: fn(&OneShotSettings, &Nb201Supernet) -> Box<dyn Method>,
}

/// Every one-shot method, one line each.
pub static METHODS: &[&MethodKind] = &[
    &methods::darts::DARTS1,
    &methods::darts::DARTS2,
    &methods::gdas::GDAS,
    &methods::rsps::RSPS,
    &methods::spos::SPOS,
];

/// The method registered as `name`.
pub fn method_kind(name: &str) -> Option<&'static MethodKind> {
    METHODS.iter().copied().find(|m| m.name == name)
}

/// The method `name` for the space named `space`, or why it cannot search it.
pub fn method_for(name: &str, space: &str) -> Result<&'static MethodKind, OneShotError> {
    let kind = method_kind(name).ok_or_else(|| OneShotError::Invalid {
        key: "strategy.name".into(),
        reason: format!("{name:?} is not a one-shot method"),
    })?;
    if space != archer_space::Nb201Space::NAME {
        return Err(OneShotError::Invalid {
            key: "strategy.name".into(),
            reason: format!("{name:?} searches nb201; {space} has no supernet yet"),
        });
    }
    Ok(kind)
}
