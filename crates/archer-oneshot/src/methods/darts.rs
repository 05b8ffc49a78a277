//! DARTS (Liu et al. 2019), first and second order: every edge mixed by softmax(α); α by
//! Adam on validation batches, the weights by SGD on training batches; the architecture is
//! the argmax of α on every edge (`none` included, as the NB201 recipe derives it).

use crate::method::{Method, MethodKind, Step};
use crate::search::{darts2_step, darts_step, fixed_alpha_weight_step, StepLosses};
use crate::{Adam, OneShotError, OneShotSettings, Supernet};

pub static DARTS1: MethodKind = MethodKind {
    name: "darts1",
    summary: "DARTS, first order: softmax-mixed edges, alpha by Adam on validation batches",
    default_epochs: 50,
    mixes: true,
    build: |i| Ok(Box::new(Darts::new(i.settings, i.net, false))),
};

pub static DARTS2: MethodKind = MethodKind {
    name: "darts2",
    summary: "DARTS, second order: alpha's gradient through one virtual weight step (finite-difference Hessian-vector product)",
    default_epochs: 50,
    mixes: true,
    build: |i| Ok(Box::new(Darts::new(i.settings, i.net, true))),
};

struct Darts {
    adam: Adam,
    second_order: bool,
    momentum: f64,
    weight_decay: f64,
}

impl Darts {
    fn new(settings: &OneShotSettings, net: &Supernet, second_order: bool) -> Self {
        Darts {
            adam: super::arch_adam(settings, net),
            second_order,
            momentum: settings.weights.momentum,
            weight_decay: settings.weights.weight_decay,
        }
    }
}

impl Method for Darts {
    fn step(&mut self, s: Step) -> Result<StepLosses, OneShotError> {
        if s.warmup {
            let w = fixed_alpha_weight_step(s.net, s.sgd, s.train, s.lr, s.grad_clip, s.step)?;
            return Ok(StepLosses::weights_only(w));
        }
        if self.second_order {
            darts2_step(
                s.net,
                &mut self.adam,
                s.sgd,
                s.train,
                s.valid,
                s.lr,
                self.momentum,
                self.weight_decay,
                s.grad_clip,
                s.step,
            )
        } else {
            darts_step(
                s.net,
                &mut self.adam,
                s.sgd,
                s.train,
                s.valid,
                s.lr,
                s.grad_clip,
                s.step,
            )
        }
    }

    fn adam(&self) -> Option<&Adam> {
        Some(&self.adam)
    }

    fn adam_mut(&mut self) -> Option<&mut Adam> {
        Some(&mut self.adam)
    }
}
