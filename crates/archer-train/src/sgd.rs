//! SGD with momentum, Nesterov and weight decay, written out so that its state (one momentum
//! buffer per parameter) can be saved in a checkpoint and loaded back: libtorch's optimizer,
//! as tch exposes it, keeps that state out of reach. The update is PyTorch's:
//! `g = ∇ + wd·p`; `b = g` at the first step, else `b = μ·b + g`; `g = g + μ·b` (Nesterov)
//! or `g = b`; `p = p − lr·g`. Every parameter steps every time, also one the step's loss did
//! not use (its gradient is 0), as under PyTorch 1.x's zero-filled `zero_grad`.
//!
//! With `training.ema_decay > 0` the optimizer also keeps a moving average of the weights
//! ([`WeightAverage`]), updated after every step and saved with the momentum buffers.

use std::collections::HashMap;

use archer_eval::TrainConfig;
use tch::{nn, Tensor};

use crate::average::WeightAverage;

/// The optimizer of one training run over every trainable variable of a `VarStore`, in name
/// order (so that a checkpoint names each buffer by its variable).
pub struct Sgd {
    names: Vec<String>,
    params: Vec<Tensor>,
    buffers: Vec<Option<Tensor>>,
    lr: f64,
    momentum: f64,
    weight_decay: f64,
    nesterov: bool,
    /// The moving average of the weights, when the recipe keeps one.
    average: Option<WeightAverage>,
}

/// Gives every parameter a zero gradient. Without it a gradient comes into being at the
/// parameter's first use, and `step` skips a parameter until then: state that no checkpoint
/// holds, so a run resumed from one (weight-sharing supernets, whose steps each use a few
/// paths) would skip parameters an uninterrupted run steps.
fn define_gradients(params: &[Tensor]) {
    tch::with_grad(|| {
        let Some(total) = params.iter().map(|p| p.sum(p.kind())).reduce(|a, b| a + b) else {
            return;
        };
        (total * 0.0).backward();
    });
}

/// The variables of `vs` that `keep` takes, in name order (the order checkpoints name
/// optimizer state by): (names, tensors sharing the variables' storage).
pub(crate) fn variables_by_name(
    vs: &nn::VarStore,
    keep: impl Fn(&Tensor) -> bool,
) -> (Vec<String>, Vec<Tensor>) {
    let mut vars: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .filter(|(_, t)| keep(t))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars.into_iter().unzip()
}

/// The prefix of a momentum buffer's name in a checkpoint.
pub const MOMENTUM_PREFIX: &str = "momentum.";

impl Sgd {
    /// The recipe's SGD at its peak learning rate.
    pub fn new(vs: &nn::VarStore, cfg: &TrainConfig) -> Self {
        let (names, params) = variables_by_name(vs, Tensor::requires_grad);
        define_gradients(&params);
        let buffers = params.iter().map(|_| None).collect();
        Sgd {
            names,
            params,
            buffers,
            lr: cfg.lr,
            momentum: cfg.momentum,
            weight_decay: cfg.weight_decay,
            nesterov: cfg.nesterov,
            average: (cfg.ema_decay > 0.0).then(|| WeightAverage::new(vs, cfg.ema_decay)),
        }
    }

    /// Runs `f` while the network holds the averaged weights (the raw ones are back
    /// afterwards, bit for bit); without an average, runs `f` on the raw weights.
    pub fn with_average<T>(&mut self, f: impl FnOnce() -> T) -> T {
        match &mut self.average {
            Some(average) => {
                average.swap();
                let out = f();
                average.swap();
                out
            }
            None => f(),
        }
    }

    /// Leaves the averaged weights in the network for good, at the end of a schedule: the
    /// trained model is the average. Nothing happens without one.
    pub fn adopt_average(&mut self) {
        if let Some(mut average) = self.average.take() {
            average.swap();
        }
    }

    pub fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.zero_grad();
        }
    }

    /// Scales the gradients so that their joint L2 norm is at most `max`.
    pub fn clip_grad_norm(&self, max: f64) {
        tch::no_grad(|| {
            let grads: Vec<Tensor> = self
                .params
                .iter()
                .map(|p| p.grad())
                .filter(|g| g.defined())
                .collect();
            if grads.is_empty() {
                return;
            }
            let norms: Vec<Tensor> = grads.iter().map(|g| g.norm()).collect();
            let total = Tensor::stack(&norms, 0).norm().double_value(&[]);
            let coef = max / (total + 1e-6);
            if coef < 1.0 {
                for mut g in grads {
                    let _ = g.g_mul_scalar_(coef);
                }
            }
        })
    }

    /// One update of every parameter that has a gradient.
    pub fn step(&mut self) {
        tch::no_grad(|| {
            for (p, slot) in self.params.iter_mut().zip(&mut self.buffers) {
                let grad = p.grad();
                if !grad.defined() {
                    continue;
                }
                let mut d = if self.weight_decay != 0.0 {
                    &grad + &*p * self.weight_decay
                } else {
                    grad
                };
                if self.momentum != 0.0 {
                    let buf = match slot {
                        Some(b) => {
                            let _ = b.g_mul_scalar_(self.momentum);
                            let _ = b.g_add_(&d);
                            b.shallow_clone()
                        }
                        None => {
                            let b = d.detach().copy();
                            *slot = Some(b.shallow_clone());
                            b
                        }
                    };
                    d = if self.nesterov {
                        &d + &buf * self.momentum
                    } else {
                        buf
                    };
                }
                let _ = p.g_sub_(&(d * self.lr));
            }
        });
        if let Some(average) = &mut self.average {
            average.update();
        }
    }

    /// The momentum buffers by name (`momentum.<variable>`) and the weight average, if
    /// any, for a checkpoint.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut state: Vec<(String, Tensor)> = self
            .names
            .iter()
            .zip(&self.buffers)
            .filter_map(|(n, b)| {
                b.as_ref()
                    .map(|b| (format!("{MOMENTUM_PREFIX}{n}"), b.shallow_clone()))
            })
            .collect();
        if let Some(average) = &self.average {
            state.extend(average.state());
        }
        state
    }

    /// Whether the momentum buffers (and the weight average this recipe keeps) in `saved`
    /// fit these parameters (the reason if not).
    pub fn check_state(&self, saved: &HashMap<String, Tensor>) -> Result<(), String> {
        if let Some(average) = &self.average {
            average.check_state(saved)?;
        }
        for (name, p) in self.names.iter().zip(&self.params) {
            if let Some(b) = saved.get(&format!("{MOMENTUM_PREFIX}{name}")) {
                if b.size() != p.size() {
                    return Err(format!(
                        "the momentum of {name} has shape {:?}, the parameter {:?}",
                        b.size(),
                        p.size()
                    ));
                }
            }
        }
        Ok(())
    }

    /// Takes the momentum buffers of a checkpoint back (checked by
    /// [`Sgd::check_state`]); a parameter without one starts afresh, as one that has had
    /// no step.
    pub fn load_state(&mut self, saved: &mut HashMap<String, Tensor>) {
        for ((name, slot), p) in self.names.iter().zip(&mut self.buffers).zip(&self.params) {
            *slot = saved
                .remove(&format!("{MOMENTUM_PREFIX}{name}"))
                .map(|b| b.to_device(p.device()));
        }
        if let Some(average) = &mut self.average {
            average.load_state(saved);
        }
    }
}
