//! SNAS (Xie et al. 2019), as DrNAS's NB201 code runs it (`species = 'gumbel'`): every edge
//! mixed by a relaxed Gumbel-softmax sample of α, drawn afresh for each forward pass; α by
//! Adam on validation batches, the weights by SGD on training batches (DARTS's alternation);
//! the temperature falls linearly from `tau_max` to `tau_min` (10 → 1). The architecture is
//! the argmax of α.

use tch::Tensor;

use crate::method::{Method, MethodKind, Step};
use crate::search::{gdas_tau, gumbel_like, SoftMixing, StepLosses};
use crate::{snas_weights, Adam, OneShotError, OneShotSettings, Supernet};

pub static SNAS: MethodKind = MethodKind {
    name: "snas",
    summary:
        "SNAS: every edge mixed by a relaxed Gumbel-softmax sample of alpha, temperature annealed",
    default_epochs: 100,
    mixes: true,
    build: |i| Ok(Box::new(Snas::new(i.settings, i.net))),
};

struct Snas {
    adam: Adam,
    tau_max: f64,
    tau_min: f64,
}

impl Snas {
    fn new(settings: &OneShotSettings, net: &Supernet) -> Self {
        let (tau_max, tau_min) = settings.tau("snas");
        Snas {
            adam: super::arch_adam(settings, net),
            tau_max,
            tau_min,
        }
    }
}

impl Method for Snas {
    fn step(&mut self, s: Step) -> Result<StepLosses, OneShotError> {
        let tau = gdas_tau(s.epoch, s.epochs, self.tau_max, self.tau_min);
        let relaxed = |a: &Tensor| snas_weights(a, &tch::no_grad(|| gumbel_like(a)), tau);
        let mixing = SoftMixing {
            weights: &relaxed,
            penalty: None,
        };
        super::soft_method_step(s, &mut self.adam, &mixing)
    }

    fn adam(&self) -> Option<&Adam> {
        Some(&self.adam)
    }

    fn adam_mut(&mut self) -> Option<&mut Adam> {
        Some(&mut self.adam)
    }
}
