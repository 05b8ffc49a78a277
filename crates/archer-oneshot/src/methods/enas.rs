//! ENAS (Pham et al. 2018), as AutoDL-Projects runs it on NAS-Bench-201 (`ENAS.py`): each
//! epoch first trains the shared weights, one path per step drawn from an LSTM controller;
//! then the controller is trained by REINFORCE (`train_steps` updates of `aggregate` sampled
//! paths, each rewarded by its accuracy on one validation batch plus an entropy bonus,
//! against a moving-average baseline). At the end `candidates` paths drawn from the
//! controller are scored on the shared weights and the best is chosen.
//!
//! The controller is `archer-neural`'s LSTM [`Policy`] (tch autograd). Its initial weights
//! and its draws come from the run's seed, so a run is reproducible and resumes exactly.
//! Deviation: the weights keep the shared `[strategy.weights]` recipe; AutoDL's ENAS config
//! uses lr 0.05 → 5e-4, weight decay 2.5e-4 and batch 128, which a user sets there.

use std::collections::HashMap;

use archer_neural::{AdamConstants, ControllerShape, Policy, Reinforce};
use archer_rng::Rng;
use archer_space::{Arch, SearchSpace};
use tch::Tensor;

use crate::method::{EpochEnd, Method, MethodInit, MethodKind, Scorer, Selection, Step};
use crate::search::{single_path_step, StepLosses};
use crate::settings::ControllerSettings;
use crate::{OneShotError, Supernet};

pub static ENAS: MethodKind = MethodKind {
    name: "enas",
    summary:
        "ENAS: paths drawn from an LSTM controller trained by REINFORCE on shared-weight accuracy",
    default_epochs: 250,
    mixes: false,
    build: |i| Ok(Box::new(Enas::new(i)?)),
};

/// Draws of the controller for one valid path, at most.
const MAX_DRAWS: usize = 100;

/// The controller's own seed stream.
const CONTROLLER_STREAM: u64 = 0x454e_4153; // "ENAS"

struct Enas {
    policy: Policy,
    space: std::sync::Arc<dyn SearchSpace>,
    settings: ControllerSettings,
    candidates: usize,
}

impl Enas {
    fn new(i: &MethodInit) -> Result<Self, OneShotError> {
        let c = i.settings.controller();
        let shape = ControllerShape {
            hidden: c.hidden,
            layers: c.layers,
            init_range: c.init_range,
            temperature: c.temperature,
            tanh_constant: c.tanh_constant,
        };
        let adam = AdamConstants {
            beta1: c.betas[0],
            beta2: c.betas[1],
            eps: c.eps,
        };
        let mut rng = Rng::derive(i.seed ^ CONTROLLER_STREAM, 0);
        let policy = Policy::new(i.space.clone(), shape, adam, &mut rng).map_err(|reason| {
            OneShotError::Invalid {
                key: "strategy.controller".into(),
                reason,
            }
        })?;
        Ok(Enas {
            policy,
            space: i.space.clone(),
            settings: c,
            candidates: i.settings.candidates(),
        })
    }

    /// A path drawn from the controller that is an architecture of the space: the
    /// controller decides each dimension on its own, so in a space with constraints between
    /// dimensions (a DARTS node's two distinct inputs) a draw can break them; such draws
    /// are drawn again, up to 100 times.
    fn valid_draw(&self, rng: &mut Rng) -> Result<Arch, OneShotError> {
        for _ in 0..MAX_DRAWS {
            let arch = self.policy.sample(1, rng).remove(0);
            if self.space.contains(&arch) {
                return Ok(arch);
            }
        }
        Err(OneShotError::Setting(format!(
            "the controller drew no valid architecture of {} in {MAX_DRAWS} tries",
            self.space.name()
        )))
    }

    fn rule(&self) -> Reinforce {
        let c = &self.settings;
        Reinforce {
            learning_rate: c.lr,
            baseline_decay: c.baseline_decay,
            entropy_weight: c.entropy_weight,
            grad_clip: (c.grad_clip > 0.0).then_some(c.grad_clip),
        }
    }
}

impl Method for Enas {
    fn step(&mut self, s: Step) -> Result<StepLosses, OneShotError> {
        let arch = self.valid_draw(s.rng)?;
        let w = single_path_step(s.net, s.sgd, s.train, &arch, s.lr, s.grad_clip, s.step)?;
        Ok(StepLosses::weights_only(w))
    }

    fn end_epoch(&mut self, end: EpochEnd) -> Result<(), OneShotError> {
        if end.warmup {
            return Ok(());
        }
        let rule = self.rule();
        for _ in 0..self.settings.train_steps {
            let paths = self.policy.sample(self.settings.aggregate, end.rng);
            let mut rewarded = Vec::with_capacity(paths.len());
            for arch in paths {
                // A draw that breaks the space's constraints is no network: reward 0, so
                // that the controller learns to avoid it.
                let accuracy = if self.space.contains(&arch) {
                    (end.reward)(&arch)?
                } else {
                    0.0
                };
                rewarded.push((arch, accuracy));
            }
            self.policy.reinforce(&rewarded, &rule);
        }
        Ok(())
    }

    fn preferred(&self, _net: &Supernet) -> Option<Arch> {
        // The most probable of 64 paths drawn with a fixed seed: the controller's trend,
        // drawn apart from the run's streams so that reporting it changes nothing.
        self.policy
            .sample(64, &mut Rng::seed_from(0))
            .into_iter()
            .filter(|a| self.space.contains(a))
            .filter_map(|a| self.policy.log_prob(&a).map(|lp| (lp, a)))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, a)| a)
    }

    fn has_alpha(&self) -> bool {
        false
    }

    fn select(
        &mut self,
        _net: &Supernet,
        space: &dyn SearchSpace,
        score: &mut Scorer,
        rng: &mut Rng,
        keep: usize,
    ) -> Result<Selection, OneShotError> {
        let candidates = self.candidates;
        super::best_of_distinct(candidates, keep, space, score, &mut || self.valid_draw(rng))
    }

    fn state(&self) -> (Vec<(String, Tensor)>, serde_json::Value) {
        (
            Vec::new(),
            serde_json::json!({ "controller": self.policy.state() }),
        )
    }

    fn load_state(
        &mut self,
        _tensors: &mut HashMap<String, Tensor>,
        meta: &serde_json::Value,
    ) -> Result<(), String> {
        let saved = meta
            .get("controller")
            .cloned()
            .ok_or("the checkpoint has no controller")?;
        self.policy.restore(saved)
    }
}
