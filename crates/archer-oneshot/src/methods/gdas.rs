//! GDAS (Dong & Yang 2019): each forward pass samples one operation per edge by a hard
//! Gumbel-softmax (straight-through gradient), so only the sampled operation is computed;
//! the temperature falls linearly from `tau_max` to `tau_min` over the epochs. The
//! architecture is the argmax of α.

use std::collections::HashMap;

use archer_rng::Rng;
use archer_space::{Arch, SearchSpace};
use tch::Tensor;

use crate::method::{Method, MethodKind, Scorer, Step};
use crate::search::{gdas_step, gdas_tau, gdas_weight_step, StepLosses};
use crate::{Adam, Nb201Supernet, OneShotError, OneShotSettings};

pub static GDAS: MethodKind = MethodKind {
    name: "gdas",
    summary: "GDAS: one operation per edge sampled by a hard Gumbel-softmax, temperature annealed",
    default_epochs: 250,
    build: |s, net| Box::new(Gdas::new(s, net)),
};

struct Gdas {
    adam: Adam,
    tau_max: f64,
    tau_min: f64,
}

impl Gdas {
    fn new(settings: &OneShotSettings, net: &Nb201Supernet) -> Self {
        let (tau_max, tau_min) = settings.tau();
        Gdas {
            adam: super::arch_adam(settings, net),
            tau_max,
            tau_min,
        }
    }
}

impl Method for Gdas {
    fn step(&mut self, s: Step) -> Result<StepLosses, OneShotError> {
        let tau = gdas_tau(s.epoch, s.epochs, self.tau_max, self.tau_min);
        if s.warmup {
            let w = gdas_weight_step(s.net, s.sgd, s.train, tau, s.lr, s.grad_clip, s.step)?;
            return Ok(StepLosses::weights_only(w));
        }
        gdas_step(
            s.net,
            &mut self.adam,
            s.sgd,
            s.train,
            s.valid,
            tau,
            s.lr,
            s.grad_clip,
            s.step,
        )
    }

    fn preferred(&self, net: &Nb201Supernet) -> Option<Arch> {
        Some(net.derive())
    }

    fn select(
        &mut self,
        net: &Nb201Supernet,
        _space: &dyn SearchSpace,
        _score: &mut Scorer,
        _rng: &mut Rng,
    ) -> Result<(Arch, usize), OneShotError> {
        Ok((net.derive(), 0))
    }

    fn state(&self) -> (Vec<(String, Tensor)>, serde_json::Value) {
        super::adam_state(&self.adam)
    }

    fn load_state(
        &mut self,
        tensors: &mut HashMap<String, Tensor>,
        meta: &serde_json::Value,
    ) -> Result<(), String> {
        super::load_adam(&mut self.adam, tensors, meta)
    }
}
