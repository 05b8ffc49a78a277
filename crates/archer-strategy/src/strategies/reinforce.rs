use std::sync::Arc;

use archer_core::{Arch, History, Trial, TrialState};
use archer_rng::Rng;
use archer_space::{Gene, SearchSpace};
use serde::{Deserialize, Serialize};

use crate::{decisions, Kind, Proposal, Strategy, StrategyError, StrategySettings};

pub(crate) const KIND: Kind<ReinforceConfig> = Kind::new(
    "reinforce",
    "REINFORCE on a factorised softmax policy, NAS-Bench-201's settings",
    |c, ctx| {
        Box::new(Reinforce::new(
            ctx.space,
            ctx.rng,
            c.learning_rate,
            c.baseline_decay,
        ))
    },
);

/// `[strategy] name = "reinforce"`. Defaults follow NAS-Bench-201 (learning rate 0.5,
/// baseline decay 0.9).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReinforceConfig {
    #[serde(default = "learning_rate")]
    pub learning_rate: f64,
    #[serde(default = "baseline_decay")]
    pub baseline_decay: f64,
}

fn learning_rate() -> f64 {
    0.5
}
fn baseline_decay() -> f64 {
    0.9
}

impl StrategySettings for ReinforceConfig {
    fn validate(&self) -> Result<(), String> {
        let (lr, decay) = (self.learning_rate, self.baseline_decay);
        if !(lr.is_finite() && lr > 0.0) {
            return Err(format!("strategy.learning_rate = {lr}; must be positive"));
        }
        if !(0.0..1.0).contains(&decay) {
            return Err(format!(
                "strategy.baseline_decay = {decay}; accepted: 0 to below 1"
            ));
        }
        Ok(())
    }
}

/// REINFORCE as the NAS-Bench-201 baseline runs it (Williams 1992; Zoph & Le 2017): a
/// factorised categorical policy, one softmax per dimension over its allowed values, trained
/// by policy gradient with Adam and an exponential-moving-average reward baseline.
///
/// Each told trial is one sample: the logits move by Adam along
/// `(score − baseline) · ∇ log π(arch)`, with `∂ log π / ∂θ_k = 1[k = chosen] − π_k` per
/// dimension. Adam makes the step independent of the score's scale. Architectures the
/// policy samples that break a space's constraints are re-drawn (up to 1,000 times, then a
/// uniform valid sample is proposed).
pub struct Reinforce {
    space: Arc<dyn SearchSpace>,
    learning_rate: f64,
    baseline_decay: f64,
    state: ReinforceState,
}

#[derive(Serialize, Deserialize)]
struct ReinforceState {
    rng: Rng,
    /// Per dimension, one logit per allowed value.
    logits: Vec<Vec<f64>>,
    /// Adam's first and second moments, same shape as `logits`.
    m: Vec<Vec<f64>>,
    v: Vec<Vec<f64>>,
    steps: u64,
    baseline: Option<f64>,
}

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPS: f64 = 1e-8;
const MAX_REDRAWS: usize = 1_000;

fn softmax(logits: &[f64]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.into_iter().map(|x| x / sum).collect()
}

impl Reinforce {
    /// `learning_rate > 0`, `0 <= baseline_decay < 1` (checked by [`ReinforceConfig`]).
    pub fn new(
        space: Arc<dyn SearchSpace>,
        mut rng: Rng,
        learning_rate: f64,
        baseline_decay: f64,
    ) -> Self {
        // Small random initial logits, as NB201 (1e-3 · N(0, 1)), so ties break by seed.
        let logits: Vec<Vec<f64>> = space
            .dimensions()
            .iter()
            .map(|d| (0..decisions::actions(d)).map(|_| 1e-3 * rng.normal()).collect())
            .collect();
        let zeros: Vec<Vec<f64>> = logits.iter().map(|l| vec![0.0; l.len()]).collect();
        Reinforce {
            space,
            learning_rate,
            baseline_decay,
            state: ReinforceState {
                rng,
                m: zeros.clone(),
                v: zeros,
                logits,
                steps: 0,
                baseline: None,
            },
        }
    }

    /// The policy's probability of each allowed value, per dimension.
    pub fn probabilities(&self) -> Vec<Vec<f64>> {
        self.state.logits.iter().map(|l| softmax(l)).collect()
    }

    /// One gene per dimension from the policy; dimensions whose condition fails are absent.
    fn draw(&mut self) -> Vec<Gene> {
        let probs = self.probabilities();
        let dims = self.space.dimensions();
        let mut genes = Vec::with_capacity(dims.len());
        for (p, d) in probs.iter().zip(dims) {
            if !d.is_active(&genes) {
                genes.push(Gene::Absent);
                continue;
            }
            let pick = decisions::draw_index(p, &mut self.state.rng);
            genes.push(decisions::gene_for(d, pick, &mut self.state.rng));
        }
        genes
    }

    /// Per dimension, the policy's action that chose the gene (`None` where the dimension
    /// is absent); `None` overall if a gene is no value the policy could have chosen.
    fn positions(&self, arch: &Arch) -> Option<Vec<Option<usize>>> {
        decisions::actions_of(self.space.dimensions(), arch)
    }
}

impl Strategy for Reinforce {
    fn name(&self) -> &str {
        "reinforce"
    }

    fn ask(&mut self, _history: &History) -> Result<Proposal, StrategyError> {
        for _ in 0..MAX_REDRAWS {
            let genes = self.draw();
            let arch = Arch::from_genes(self.space.name(), self.space.version(), genes);
            if self.space.contains(&arch) {
                return Ok(Proposal::full(arch));
            }
        }
        Ok(Proposal::full(self.space.sample(&mut self.state.rng)?))
    }

    fn tell(&mut self, trial: &Trial) {
        let (TrialState::Complete, Some(score)) = (trial.state, trial.score) else {
            return;
        };
        let Some(positions) = self.positions(&trial.arch) else {
            return; // not from this space's allowed values: nothing to learn
        };
        let baseline = self.state.baseline.unwrap_or(score);
        let advantage = score - baseline;
        self.state.baseline =
            Some(self.baseline_decay * baseline + (1.0 - self.baseline_decay) * score);
        self.state.steps += 1;
        let t = self.state.steps as i32;
        let (c1, c2) = (1.0 - BETA1.powi(t), 1.0 - BETA2.powi(t));
        let s = &mut self.state;
        for (d, chosen) in positions.iter().enumerate() {
            let Some(chosen) = *chosen else {
                continue; // an absent dimension took no action
            };
            let probs = softmax(&s.logits[d]);
            for (k, pk) in probs.iter().enumerate() {
                // Ascend advantage · ∂ log π / ∂θ_k.
                let grad = advantage * (if k == chosen { 1.0 } else { 0.0 } - pk);
                s.m[d][k] = BETA1 * s.m[d][k] + (1.0 - BETA1) * grad;
                s.v[d][k] = BETA2 * s.v[d][k] + (1.0 - BETA2) * grad * grad;
                let step = self.learning_rate * (s.m[d][k] / c1) / ((s.v[d][k] / c2).sqrt() + EPS);
                s.logits[d][k] += step;
            }
        }
    }

    fn state(&self) -> serde_json::Value {
        serde_json::to_value(&self.state).expect("plain data serialises")
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError> {
        let s: ReinforceState =
            serde_json::from_value(state).map_err(|e| StrategyError::restore("reinforce", e))?;
        let shape_ok = s.logits.len() == self.state.logits.len()
            && s.logits
                .iter()
                .zip(&self.state.logits)
                .all(|(a, b)| a.len() == b.len());
        if !shape_ok {
            return Err(StrategyError::restore(
                "reinforce",
                "the policy's shape does not match this space",
            ));
        }
        self.state = s;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use archer_core::Fidelity;
    use archer_space::Nb201Space;

    #[test]
    fn rewarded_choices_gain_probability() {
        let space: Arc<dyn SearchSpace> = Arc::new(Nb201Space::default());
        let mut r = Reinforce::new(space.clone(), Rng::seed_from(0), 0.1, 0.9);
        // Reward conv3x3 (choice 3) on edge 0, punish everything else.
        for i in 0..300 {
            let p = r.ask(&History::new()).unwrap();
            let mut t = Trial::new(i, p.arch.clone(), String::new(), Fidelity::full());
            t.state = TrialState::Complete;
            t.score = Some(if p.arch.index(0) == 3 { 1.0 } else { 0.0 });
            r.tell(&t);
        }
        let p0 = &r.probabilities()[0];
        assert!(p0[3] > 0.9, "{p0:?}");
    }
}
