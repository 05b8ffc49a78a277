//! One-shot methods: how a supernet is trained step by step and how the architecture is
//! chosen from it at the end. Each method is one file in `methods/` and one line of
//! [`METHODS`].

use std::collections::HashMap;
use std::sync::Arc;

use archer_rng::Rng;
use archer_space::{Arch, SearchSpace};
use archer_train::sgd::Sgd;
use tch::{Kind, Tensor};

use crate::search::{Batch, StepLosses};
use crate::{methods, Adam, OneShotError, OneShotSettings, Supernet};

/// What a method sees at one search step.
pub struct Step<'a> {
    pub net: &'a Supernet,
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

/// What a method sees once an epoch's steps are done.
pub struct EpochEnd<'a> {
    pub net: &'a Supernet,
    /// A warm-up epoch: the weights only.
    pub warmup: bool,
    /// The accuracy (a fraction) of an architecture on the next validation batch, with the
    /// batch's own statistics; the supernet is left as it was.
    pub reward: &'a mut dyn FnMut(&Arch) -> Result<f64, OneShotError>,
    /// The epoch's own draws (seeded by the run's seed and the epoch).
    pub rng: &'a mut Rng,
}

/// What building a method may use.
pub struct MethodInit<'a> {
    pub settings: &'a OneShotSettings,
    pub net: &'a Supernet,
    pub space: &'a Arc<dyn SearchSpace>,
    /// The run's seed, for a method's own initial parameters.
    pub seed: u64,
}

/// Scores a sub-network on the shared weights (validation accuracy, a fraction).
pub type Scorer<'a> = dyn FnMut(&Arch) -> Result<f64, OneShotError> + 'a;

/// A method's choice at the end of a search.
#[derive(Clone, Debug)]
pub struct Selection {
    /// Architectures best first, distinct up to the space's isomorphism, each with the
    /// method's score of it: the log-probability under the final distribution (α-methods)
    /// or the inherited validation accuracy (scoring methods). The first is the choice; at
    /// most the number asked for, at least one.
    pub ranked: Vec<(Arch, f64)>,
    /// Sub-networks scored on the shared weights to choose.
    pub scored: usize,
}

impl Selection {
    /// Scored candidates (any order) as a selection of the best `keep` (at least one):
    /// best first, ties in the order they were scored.
    pub fn best_of(mut scored: Vec<(Arch, f64)>, keep: usize) -> Result<Self, OneShotError> {
        let n = scored.len();
        if n == 0 {
            return Err(OneShotError::Setting("no candidate to score".into()));
        }
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        scored.truncate(keep.max(1));
        Ok(Selection {
            ranked: scored,
            scored: n,
        })
    }

    /// The chosen architecture.
    pub fn choice(&self) -> &Arch {
        &self.ranked[0].0
    }
}

/// A one-shot method's training and selection. The defaults fit a method that learns α
/// with an [`Adam`] (DARTS, GDAS, SNAS, DrNAS): the architecture is α's argmax on every edge,
/// and α's optimiser is checkpointed; such a method implements `step` and the two `adam`
/// accessors only.
pub trait Method: Send {
    /// One search step.
    fn step(&mut self, s: Step) -> Result<StepLosses, OneShotError>;

    /// α's optimiser, for a method that learns α.
    fn adam(&self) -> Option<&Adam> {
        None
    }

    fn adam_mut(&mut self) -> Option<&mut Adam> {
        None
    }

    /// Called after each epoch's steps, before the checkpoint (ENAS trains its controller
    /// here).
    fn end_epoch(&mut self, _end: EpochEnd) -> Result<(), OneShotError> {
        Ok(())
    }

    /// The architecture the method's parameters prefer now (the per-epoch trend), or `None`
    /// for a method that has none before its selection (RSPS).
    fn preferred(&self, net: &Supernet) -> Option<Arch> {
        net.derive_from(&crate::supernet::rows(&self.probabilities(net)))
    }

    /// Whether the method learns the supernet's α (reported in the outcome).
    fn has_alpha(&self) -> bool {
        true
    }

    /// Each edge's probabilities over its candidates under the method's final distribution
    /// (edges × candidates; default `softmax(α)`), whose per-edge argmax is [`Method::preferred`].
    fn probabilities(&self, net: &Supernet) -> Tensor {
        net.alpha.detach().softmax(-1, Kind::Double)
    }

    /// The final choice, with up to `keep` of the best architectures (the finalists; at
    /// least the choice). The default, for α-methods: the most probable architectures under
    /// [`Method::probabilities`], the first being the architecture the supernet derives from them
    /// (NB201: the argmax of every edge).
    fn select(
        &mut self,
        net: &Supernet,
        space: &dyn SearchSpace,
        _score: &mut Scorer,
        _rng: &mut Rng,
        keep: usize,
    ) -> Result<Selection, OneShotError> {
        let probs = crate::supernet::rows(&self.probabilities(net));
        let ranked = net.ranked(&probs, keep.max(1), space);
        if ranked.is_empty() {
            return Err(OneShotError::Setting("no architecture to choose".into()));
        }
        Ok(Selection { ranked, scored: 0 })
    }

    /// The method's own state to checkpoint: tensors, and a JSON value for the rest.
    fn state(&self) -> (Vec<(String, Tensor)>, serde_json::Value) {
        match self.adam() {
            Some(adam) => methods::adam_state(adam),
            None => (Vec::new(), serde_json::Value::Null),
        }
    }

    /// Takes a checkpoint's state back; the reason when it does not fit.
    fn load_state(
        &mut self,
        tensors: &mut HashMap<String, Tensor>,
        meta: &serde_json::Value,
    ) -> Result<(), String> {
        match self.adam_mut() {
            Some(adam) => methods::load_adam(adam, tensors, meta),
            None => Ok(()),
        }
    }
}

/// A registered method: its name, what it is, its published epoch count, and how to build
/// it for a supernet.
pub struct MethodKind {
    pub name: &'static str,
    pub summary: &'static str,
    pub default_epochs: u32,
    /// Whether the method mixes candidate operations by a learned α (it needs a supernet
    /// that mixes); single-path methods (RSPS, SPOS, ENAS) search any supernet.
    pub mixes: bool,
    pub build: fn(&MethodInit) -> Result<Box<dyn Method>, OneShotError>,
}

/// Every one-shot method, one line each.
pub static METHODS: &[&MethodKind] = &[
    &methods::darts::DARTS1,
    &methods::darts::DARTS2,
    &methods::gdas::GDAS,
    &methods::snas::SNAS,
    &methods::drnas::DRNAS,
    &methods::rsps::RSPS,
    &methods::spos::SPOS,
    &methods::enas::ENAS,
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
    let Some(supernet) = crate::supernet::supernet_kind(space) else {
        return Err(OneShotError::Invalid {
            key: "strategy.name".into(),
            reason: format!(
                "{name:?} searches a supernet of {}; {space} has none",
                crate::supernet::supernet_spaces()
            ),
        });
    };
    if kind.mixes && !supernet.mixes {
        return Err(OneShotError::Invalid {
            key: "strategy.name".into(),
            reason: format!(
                "{name:?} mixes operations on a cell's edges; the {space} supernet has none \
                 (single-path methods search it: {})",
                METHODS
                    .iter()
                    .filter(|m| !m.mixes)
                    .map(|m| m.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    Ok(kind)
}
