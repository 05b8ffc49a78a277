//! The controller as a policy for a caller's own loop, outside ask and tell: ENAS
//! (`archer-oneshot`) samples paths of a supernet from it and trains it by REINFORCE on the
//! paths' accuracy measured on shared weights.

use std::sync::Arc;

use archer_rng::Rng;
use archer_space::{Arch, SearchSpace};
use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::controller::{Controller, ControllerShape};
use crate::params::{
    restore_with_params, save_with_params, AdamConstants, OneThread, DEVICE, DTYPE,
};

/// ENAS's REINFORCE rule (Pham et al. 2018, as AutoDL-Projects' `ENAS.py` runs it): each
/// sample's reward is its accuracy plus `entropy_weight` times the entropy of the controller's
/// decisions; the baseline moves towards every reward in turn
/// (`b ← decay·b + (1 − decay)·r`, the first reward itself), then the sample's loss is
/// `−log π(arch)·(r − b)`; the losses of a batch are averaged into one Adam step.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reinforce {
    pub learning_rate: f64,
    pub baseline_decay: f64,
    pub entropy_weight: f64,
    /// Gradients scaled to this global L2 norm at most (`None`: no clipping).
    pub grad_clip: Option<f64>,
}

/// An LSTM controller over a space's decisions, trained by [`Reinforce`].
pub struct Policy {
    controller: Controller,
    state: PolicyState,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct PolicyState {
    baseline: Option<f64>,
    updates: u64,
}

impl Policy {
    /// A controller of `shape` over `space`'s dimensions, its initial weights drawn from
    /// `rng`, trained by Adam with `adam`'s constants (ENAS: β = (0, 0.999), ε = 1e-3).
    pub fn new(
        space: Arc<dyn SearchSpace>,
        shape: ControllerShape,
        adam: AdamConstants,
        rng: &mut Rng,
    ) -> Result<Self, String> {
        shape.validate()?;
        Ok(Policy {
            controller: Controller::with_adam(space, shape, adam, rng),
            state: PolicyState::default(),
        })
    }

    /// `n` architectures drawn from the policy with `rng`.
    pub fn sample(&self, n: usize, rng: &mut Rng) -> Vec<Arch> {
        let _one_thread = OneThread::new();
        let space = self.controller.space();
        self.controller
            .sample(n, rng)
            .into_iter()
            .map(|s| Arch::from_genes(space.name(), space.version(), s.genes))
            .collect()
    }

    /// The log-probability the policy gives `arch` (`None`: it cannot emit it).
    pub fn log_prob(&self, arch: &Arch) -> Option<f64> {
        let _one_thread = OneThread::new();
        self.controller.log_prob(&arch.genes)
    }

    /// One update on `samples` (architecture and accuracy, in the order they were measured);
    /// samples the policy cannot emit are skipped. Returns the mean advantage, `None` when no
    /// sample counted.
    pub fn reinforce(&mut self, samples: &[(Arch, f64)], rule: &Reinforce) -> Option<f64> {
        let _one_thread = OneThread::new();
        let mut total = Tensor::zeros([], (DTYPE, DEVICE));
        let (mut n, mut advantages) = (0usize, 0.0);
        for (arch, accuracy) in samples {
            let Some((log_prob, entropy)) = self.controller.score(&arch.genes) else {
                continue;
            };
            let reward = accuracy + rule.entropy_weight * entropy.double_value(&[]);
            let baseline = match self.state.baseline {
                None => reward,
                Some(b) => rule.baseline_decay * b + (1.0 - rule.baseline_decay) * reward,
            };
            self.state.baseline = Some(baseline);
            let advantage = reward - baseline;
            total -= log_prob * advantage;
            advantages += advantage;
            n += 1;
        }
        if n == 0 {
            return None;
        }
        self.controller.params_mut().descend(
            &(total / n as f64),
            rule.learning_rate,
            rule.grad_clip,
        );
        self.state.updates += 1;
        Some(advantages / n as f64)
    }

    /// Updates so far.
    pub fn updates(&self) -> u64 {
        self.state.updates
    }

    /// The reward baseline (`None` before the first reward).
    pub fn baseline(&self) -> Option<f64> {
        self.state.baseline
    }

    /// Everything needed to continue exactly: weights, Adam's moments, the baseline.
    pub fn state(&self) -> serde_json::Value {
        save_with_params(&self.state, self.controller.params())
    }

    /// Takes [`Policy::state`] back; nothing changes when it does not fit.
    pub fn restore(&mut self, state: serde_json::Value) -> Result<(), String> {
        self.state = restore_with_params(state, self.controller.params_mut())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use archer_space::Nb201Space;

    #[test]
    fn reinforce_learns_the_rewarded_operation_and_resumes_exactly() {
        // Reward: the share of NB201 edges on operation 3. After some updates the policy's
        // samples are mostly that cell, which a uniform policy draws once in 15,625.
        let space: Arc<dyn SearchSpace> = Arc::new(Nb201Space::default());
        let shape = ControllerShape {
            hidden: 32,
            layers: 2,
            init_range: 0.1,
            temperature: 5.0,
            tanh_constant: 2.5,
        };
        let adam = AdamConstants {
            beta1: 0.0,
            beta2: 0.999,
            eps: 1e-3,
        };
        let rule = Reinforce {
            learning_rate: 0.01,
            baseline_decay: 0.9,
            entropy_weight: 1e-4,
            grad_clip: None,
        };
        let reward =
            |a: &Arch| a.genes.iter().filter(|g| g.index() == Some(3)).count() as f64 / 6.0;
        let run = |updates: usize, policy: &mut Policy, rng: &mut Rng| {
            for _ in 0..updates {
                let batch: Vec<(Arch, f64)> = policy
                    .sample(10, rng)
                    .into_iter()
                    .map(|a| {
                        let r = reward(&a);
                        (a, r)
                    })
                    .collect();
                policy.reinforce(&batch, &rule).unwrap();
            }
        };
        let mut rng = Rng::seed_from(5);
        let mut policy = Policy::new(space.clone(), shape.clone(), adam, &mut rng).unwrap();
        let before: f64 = policy.sample(200, &mut rng).iter().map(reward).sum::<f64>() / 200.0;
        run(100, &mut policy, &mut rng);
        let saved = (policy.state(), rng.clone());
        run(50, &mut policy, &mut rng);
        let after: f64 = policy.sample(200, &mut rng).iter().map(reward).sum::<f64>() / 200.0;
        assert!(before < 0.35, "a uniform start: {before}");
        assert!(after > 0.8, "learnt: {before} -> {after}");
        // Restored at update 100, the next 50 updates give the same policy.
        let mut again = Policy::new(space, shape, adam, &mut Rng::seed_from(99)).unwrap();
        again.restore(saved.0).unwrap();
        let mut rng_again = saved.1;
        run(50, &mut again, &mut rng_again);
        let probe = policy.sample(1, &mut Rng::seed_from(1)).remove(0);
        assert_eq!(policy.log_prob(&probe), again.log_prob(&probe));
        assert_eq!(policy.baseline(), again.baseline());
        assert_eq!(again.updates(), 150);
    }
}
