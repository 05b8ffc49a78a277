//! The search loop around the LSTM controller, shared by `rl-lstm` (REINFORCE) and `ppo`:
//! sampling proposals, turning results into rewards, and the two ways of training on them.

use std::collections::VecDeque;
use std::sync::Arc;

use archer_core::{Arch, History, Trial, TrialState};
use archer_rng::Rng;
use archer_space::{Gene, SearchSpace};
use archer_strategy::{draw_passing, Prescreen, Proposal, Strategy, StrategyError};
use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::controller::{Controller, ControllerShape};
use crate::params::{restore_with_params, save_with_params, OneThread, DEVICE, DTYPE};

/// How the controller learns from rewards.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Trainer {
    /// One policy-gradient step per result (Williams 1992): ascend
    /// `(reward − baseline) · ∇ log π(arch) + entropy_weight · ∇ H`.
    Reinforce,
    /// Proximal policy optimisation (Schulman et al. 2017): once `batch` results are in,
    /// `epochs` Adam steps on the clipped surrogate
    /// `min(ρ·A, clip(ρ, 1 − ε, 1 + ε)·A)` averaged over the batch, ρ = π(arch) / π_old(arch)
    /// with π_old the policy that sampled it.
    Ppo {
        batch: usize,
        epochs: usize,
        clip: f64,
    },
}

/// The learning settings both trainers share.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Learning {
    pub(crate) learning_rate: f64,
    pub(crate) baseline_decay: f64,
    pub(crate) entropy_weight: f64,
    pub(crate) grad_clip: Option<f64>,
}

/// How many sampled architectures' log-probabilities are remembered until their results
/// arrive (asks never told, such as duplicates a de-duplicating wrapper discards, age out).
const REMEMBERED_SAMPLES: usize = 512;
/// Batches in a row without a sample inside the space before a uniform sample is taken.
const MAX_REDRAWS: usize = 10;
/// Architectures sampled per ask, of which the first not evaluated yet is proposed.
const SAMPLES_PER_ASK: usize = 32;

pub(crate) struct ControllerSearch {
    name: &'static str,
    space: Arc<dyn SearchSpace>,
    prescreen: Option<Arc<dyn Prescreen>>,
    controller: Controller,
    trainer: Trainer,
    learning: Learning,
    state: SearchState,
}

/// One result waiting in a PPO batch.
#[derive(Clone, Serialize, Deserialize)]
struct Sample {
    genes: Vec<Gene>,
    advantage: f64,
    old_log_prob: f64,
}

#[derive(Serialize, Deserialize)]
struct SearchState {
    rng: Rng,
    baseline: Option<f64>,
    /// The lowest reward so far: what an infeasible result is worth.
    worst: Option<f64>,
    /// PPO: log-probabilities of recent samples under the policy that drew them.
    sampled: VecDeque<(Vec<Gene>, f64)>,
    batch: Vec<Sample>,
    updates: u64,
    /// Proposals that were uniform samples (the controller's kept breaking the space's
    /// constraints); reported, never learnt from differently.
    uniform_fallbacks: u64,
}

impl ControllerSearch {
    pub(crate) fn new(
        name: &'static str,
        space: Arc<dyn SearchSpace>,
        prescreen: Option<Arc<dyn Prescreen>>,
        shape: ControllerShape,
        trainer: Trainer,
        learning: Learning,
        mut rng: Rng,
    ) -> Self {
        let controller = Controller::new(space.clone(), shape, &mut rng);
        ControllerSearch {
            name,
            space,
            prescreen,
            controller,
            trainer,
            learning,
            state: SearchState {
                rng,
                baseline: None,
                worst: None,
                sampled: VecDeque::new(),
                batch: Vec::new(),
                updates: 0,
                uniform_fallbacks: 0,
            },
        }
    }

    /// A sample of the controller inside the space, preferring one not evaluated yet: the
    /// first new one of a batch of [`SAMPLES_PER_ASK`] (rejection sampling from the policy,
    /// which a converged controller needs, done in one batched pass), else the first in the
    /// space; a uniform sample if the controller keeps breaking the space's constraints.
    fn draw(&mut self, history: &History) -> Result<Arch, StrategyError> {
        for _ in 0..MAX_REDRAWS {
            let samples = self.controller.sample(SAMPLES_PER_ASK, &mut self.state.rng);
            let mut fallback = None;
            for s in samples {
                let arch = Arch::from_genes(self.space.name(), self.space.version(), s.genes);
                if !self.space.contains(&arch) {
                    continue;
                }
                let hash = self.space.canonical_hash(&arch);
                if history.with_hash(&hash).next().is_none() {
                    return Ok(self.remember(arch, s.log_prob));
                }
                fallback.get_or_insert((arch, s.log_prob));
            }
            if let Some((arch, log_prob)) = fallback {
                return Ok(self.remember(arch, log_prob));
            }
        }
        self.state.uniform_fallbacks += 1;
        Ok(self.space.sample(&mut self.state.rng)?)
    }

    /// Under PPO, keeps the log-probability the sampling policy gave `arch`, for the ratio
    /// (REINFORCE never reads it).
    fn remember(&mut self, arch: Arch, log_prob: f64) -> Arch {
        if !matches!(self.trainer, Trainer::Ppo { .. }) {
            return arch;
        }
        if self.state.sampled.len() == REMEMBERED_SAMPLES {
            self.state.sampled.pop_front();
        }
        self.state.sampled.push_back((arch.genes.clone(), log_prob));
        arch
    }

    /// The reward of a finished trial, `None` when there is nothing to learn.
    fn reward(&mut self, trial: &Trial) -> Option<f64> {
        if trial.state != TrialState::Complete {
            return None;
        }
        let reward = match trial.score {
            Some(s) if s.is_finite() && trial.feasible => s,
            _ if !trial.feasible => self.state.worst?,
            _ => return None,
        };
        self.state.worst = Some(self.state.worst.map_or(reward, |w| w.min(reward)));
        Some(reward)
    }

    /// `−(A·log π + w·H)` for one architecture, or `None` if the controller cannot have
    /// produced it.
    fn reinforce_loss(&self, genes: &[Gene], advantage: f64) -> Option<Tensor> {
        let (log_prob, entropy) = self.controller.score(genes)?;
        Some(-(log_prob * advantage + entropy * self.learning.entropy_weight))
    }

    fn ppo_update(&mut self, epochs: usize, clip: f64) {
        let batch = std::mem::take(&mut self.state.batch);
        for _ in 0..epochs {
            let mut total = Tensor::zeros([], (DTYPE, DEVICE));
            let mut n = 0;
            for s in &batch {
                let Some((log_prob, entropy)) = self.controller.score(&s.genes) else {
                    continue;
                };
                let ratio = (log_prob - s.old_log_prob).exp();
                let unclipped = &ratio * s.advantage;
                let clipped = ratio.clamp(1.0 - clip, 1.0 + clip) * s.advantage;
                let surrogate = unclipped.minimum(&clipped);
                total = total - surrogate - entropy * self.learning.entropy_weight;
                n += 1;
            }
            if n == 0 {
                return;
            }
            self.controller.params_mut().descend(
                &(total / n as f64),
                self.learning.learning_rate,
                self.learning.grad_clip,
            );
            self.state.updates += 1;
        }
    }
}

impl Strategy for ControllerSearch {
    fn name(&self) -> &str {
        self.name
    }

    fn ask(&mut self, history: &History) -> Result<Proposal, StrategyError> {
        let _one_thread = OneThread::new();
        let prescreen = self.prescreen.clone();
        let arch = draw_passing(prescreen.as_deref(), || self.draw(history))?;
        Ok(Proposal::full(arch))
    }

    fn tell(&mut self, trial: &Trial) {
        let _one_thread = OneThread::new();
        let Some(reward) = self.reward(trial) else {
            return;
        };
        let baseline = self.state.baseline.unwrap_or(reward);
        let advantage = reward - baseline;
        let decay = self.learning.baseline_decay;
        self.state.baseline = Some(decay * baseline + (1.0 - decay) * reward);
        let genes = &trial.arch.genes;
        match self.trainer.clone() {
            Trainer::Reinforce => {
                let Some(loss) = self.reinforce_loss(genes, advantage) else {
                    return; // not an architecture the controller can emit
                };
                self.controller.params_mut().descend(
                    &loss,
                    self.learning.learning_rate,
                    self.learning.grad_clip,
                );
                self.state.updates += 1;
            }
            Trainer::Ppo {
                batch,
                epochs,
                clip,
            } => {
                let remembered = self.state.sampled.iter().position(|(g, _)| g == genes);
                let old_log_prob = match remembered {
                    Some(i) => self.state.sampled.remove(i).map(|(_, lp)| lp),
                    None => self.controller.log_prob(genes),
                };
                let Some(old_log_prob) = old_log_prob else {
                    return;
                };
                self.state.batch.push(Sample {
                    genes: genes.clone(),
                    advantage,
                    old_log_prob,
                });
                if self.state.batch.len() >= batch {
                    self.ppo_update(epochs, clip);
                }
            }
        }
    }

    fn state(&self) -> serde_json::Value {
        save_with_params(&self.state, self.controller.params())
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError> {
        self.state =
            restore_with_params(state, self.controller.params_mut()).map_err(|reason| {
                StrategyError::Restore {
                    strategy: self.name.to_string(),
                    reason,
                }
            })?;
        Ok(())
    }
}

/// `[strategy]` settings of `rl-lstm` and `ppo`: the controller's shape, the learning
/// rule's, and PPO's own (`batch`, `epochs`, `clip`, refused by `rl-lstm`). Defaults were
/// chosen on NAS-Bench-201 seeds 100–199 (README).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControllerConfig {
    #[serde(default = "hidden")]
    pub hidden: usize,
    #[serde(default = "layers")]
    pub layers: usize,
    #[serde(default = "init_range")]
    pub init_range: f64,
    #[serde(default = "temperature")]
    pub temperature: f64,
    #[serde(default = "tanh_constant")]
    pub tanh_constant: f64,
    /// Adam's learning rate.
    #[serde(default = "learning_rate")]
    pub learning_rate: f64,
    /// The reward baseline is an exponential moving average with this decay.
    #[serde(default = "baseline_decay")]
    pub baseline_decay: f64,
    /// Weight of the entropy bonus (ENAS: 1e-4).
    #[serde(default = "entropy_weight")]
    pub entropy_weight: f64,
    /// Gradients are scaled to this global L2 norm at most; 0 turns clipping off.
    #[serde(default)]
    pub grad_clip: f64,
    /// PPO: results per update.
    #[serde(default)]
    pub batch: Option<usize>,
    /// PPO: Adam steps over each batch.
    #[serde(default)]
    pub epochs: Option<usize>,
    /// PPO: the ratio is clipped to 1 ± this (NASNet: 0.2).
    #[serde(default)]
    pub clip: Option<f64>,
}

fn hidden() -> usize {
    64
}
fn layers() -> usize {
    1
}
fn init_range() -> f64 {
    0.1
}
fn temperature() -> f64 {
    5.0
}
fn tanh_constant() -> f64 {
    2.5
}
fn learning_rate() -> f64 {
    0.03
}
fn baseline_decay() -> f64 {
    0.9
}
fn entropy_weight() -> f64 {
    1e-4
}

/// PPO's defaults: batches of 10 results, 4 epochs, clip 0.2 (NASNet's ratio).
pub(crate) const PPO_BATCH: usize = 10;
pub(crate) const PPO_EPOCHS: usize = 4;
pub(crate) const PPO_CLIP: f64 = 0.2;

impl ControllerConfig {
    pub(crate) fn shape(&self) -> ControllerShape {
        ControllerShape {
            hidden: self.hidden,
            layers: self.layers,
            init_range: self.init_range,
            temperature: self.temperature,
            tanh_constant: self.tanh_constant,
        }
    }

    pub(crate) fn learning(&self) -> Learning {
        Learning {
            learning_rate: self.learning_rate,
            baseline_decay: self.baseline_decay,
            entropy_weight: self.entropy_weight,
            grad_clip: (self.grad_clip > 0.0).then_some(self.grad_clip),
        }
    }

    pub(crate) fn ppo(&self) -> Trainer {
        Trainer::Ppo {
            batch: self.batch.unwrap_or(PPO_BATCH),
            epochs: self.epochs.unwrap_or(PPO_EPOCHS),
            clip: self.clip.unwrap_or(PPO_CLIP),
        }
    }

    /// Checks the shared settings, and PPO's when `ppo` (else refuses them).
    pub(crate) fn validate(&self, ppo: bool) -> Result<(), String> {
        self.shape().validate()?;
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(format!(
                "strategy.learning_rate = {}; must be positive",
                self.learning_rate
            ));
        }
        if !(0.0..1.0).contains(&self.baseline_decay) {
            return Err(format!(
                "strategy.baseline_decay = {}; accepted: 0 to below 1",
                self.baseline_decay
            ));
        }
        for (key, v) in [
            ("entropy_weight", self.entropy_weight),
            ("grad_clip", self.grad_clip),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("strategy.{key} = {v}; must be 0 or positive"));
            }
        }
        if !ppo {
            let given: Vec<&str> = [
                ("batch", self.batch.is_some()),
                ("epochs", self.epochs.is_some()),
                ("clip", self.clip.is_some()),
            ]
            .iter()
            .filter(|(_, set)| *set)
            .map(|(k, _)| *k)
            .collect();
            if !given.is_empty() {
                return Err(format!(
                    "strategy.{} applies to ppo only (rl-lstm updates after every result)",
                    given.join(", strategy.")
                ));
            }
            return Ok(());
        }
        let Trainer::Ppo {
            batch,
            epochs,
            clip,
        } = self.ppo()
        else {
            unreachable!("ppo() is PPO")
        };
        if !(1..=10_000).contains(&batch) {
            return Err(format!("strategy.batch = {batch}; accepted: 1 to 10000"));
        }
        if !(1..=100).contains(&epochs) {
            return Err(format!("strategy.epochs = {epochs}; accepted: 1 to 100"));
        }
        if !(clip > 0.0 && clip < 1.0) {
            return Err(format!(
                "strategy.clip = {clip}; accepted: above 0, below 1"
            ));
        }
        Ok(())
    }
}
