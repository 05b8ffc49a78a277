//! GDAS (Dong & Yang 2019): each forward pass samples one operation per edge by a hard
//! Gumbel-softmax (straight-through gradient), so only the sampled operation is computed;
//! the temperature falls linearly from `tau_max` to `tau_min` over the epochs. The
//! architecture is the argmax of α.

use crate::method::{Method, MethodKind, Step};
use crate::search::{gdas_step, gdas_tau, gdas_weight_step, StepLosses};
use crate::{Adam, OneShotError, OneShotSettings, Supernet};

pub static GDAS: MethodKind = MethodKind {
    name: "gdas",
    summary: "GDAS: one operation per edge sampled by a hard Gumbel-softmax, temperature annealed",
    default_epochs: 250,
    mixes: true,
    build: |i| Ok(Box::new(Gdas::new(i.settings, i.net))),
};

struct Gdas {
    adam: Adam,
    tau_max: f64,
    tau_min: f64,
}

impl Gdas {
    fn new(settings: &OneShotSettings, net: &Supernet) -> Self {
        let (tau_max, tau_min) = settings.tau("gdas");
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

    fn adam(&self) -> Option<&Adam> {
        Some(&self.adam)
    }

    fn adam_mut(&mut self) -> Option<&mut Adam> {
        Some(&mut self.adam)
    }
}
