//! The NAS-RL controller (Zoph & Le 2017): an LSTM that emits a space's decisions one at a
//! time, in dimension order. The input at each step is a learned embedding of the previous
//! decision (a learned start vector at the first); each dimension has its own embedding
//! table and its own softmax head over its choices. Works on any space: a dimension whose
//! condition fails given the earlier decisions takes no step, a continuous one is decided
//! among `archer_strategy::decisions::FLOAT_BINS` bins.
//!
//! Sampling draws from the strategy's own generator (never libtorch's), so a run depends
//! only on its seed.

use std::sync::Arc;

use archer_rng::Rng;
use archer_space::{Gene, SearchSpace};
use archer_strategy::decisions;
use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::lstm::{Lstm, LstmState};
use crate::params::{AdamConstants, Params, DTYPE};

/// The controller's shape and its logit transform, shared by `rl-lstm` and `ppo`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControllerShape {
    /// LSTM units per layer (NASNet's controller: one layer of 100).
    pub hidden: usize,
    pub layers: usize,
    /// Initial weights uniform in ±`init_range` (NAS-RL: 0.08, ENAS: 0.1).
    pub init_range: f64,
    /// Logits are divided by this before the softmax (ENAS: 5; 1 leaves them).
    pub temperature: f64,
    /// When positive, logits become `tanh_constant · tanh(logits)` (ENAS: 2.5), which
    /// bounds how sure the controller can get; 0 turns it off.
    pub tanh_constant: f64,
}

impl ControllerShape {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if !(1..=1024).contains(&self.hidden) {
            return Err(format!(
                "strategy.hidden = {}; accepted: 1 to 1024",
                self.hidden
            ));
        }
        if !(1..=4).contains(&self.layers) {
            return Err(format!(
                "strategy.layers = {}; accepted: 1 to 4",
                self.layers
            ));
        }
        if !(self.init_range > 0.0 && self.init_range <= 1.0) {
            return Err(format!(
                "strategy.init_range = {}; accepted: above 0, at most 1",
                self.init_range
            ));
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(format!(
                "strategy.temperature = {}; must be positive",
                self.temperature
            ));
        }
        if !(self.tanh_constant.is_finite() && self.tanh_constant >= 0.0) {
            return Err(format!(
                "strategy.tanh_constant = {}; must be 0 (off) or positive",
                self.tanh_constant
            ));
        }
        Ok(())
    }
}

/// One sampled architecture: its genes and the log-probability the controller gave them.
pub(crate) struct Sampled {
    pub(crate) genes: Vec<Gene>,
    pub(crate) log_prob: f64,
}

pub(crate) struct Controller {
    space: Arc<dyn SearchSpace>,
    shape: ControllerShape,
    params: Params,
    start: Tensor,
    /// Per dimension: (choices, hidden) embeddings of the decision, fed to the next step.
    embeddings: Vec<Tensor>,
    lstm: Lstm,
    /// Per dimension: the softmax head's weight (choices, hidden) and bias (choices).
    heads: Vec<(Tensor, Tensor)>,
}

impl Controller {
    pub(crate) fn new(space: Arc<dyn SearchSpace>, shape: ControllerShape, rng: &mut Rng) -> Self {
        Controller::with_adam(space, shape, AdamConstants::default(), rng)
    }

    /// A controller whose parameters Adam trains with `adam`'s constants.
    pub(crate) fn with_adam(
        space: Arc<dyn SearchSpace>,
        shape: ControllerShape,
        adam: AdamConstants,
        rng: &mut Rng,
    ) -> Self {
        let mut params = Params::with_adam(adam);
        let h = shape.hidden as i64;
        let r = shape.init_range;
        let start = params.uniform(&[1, h], r, rng);
        let lstm = Lstm::new(&mut params, rng, h, h, shape.layers, r);
        let widths: Vec<i64> = space
            .dimensions()
            .iter()
            .map(|d| decisions::actions(d).max(1) as i64)
            .collect();
        let embeddings = widths
            .iter()
            .map(|&w| params.uniform(&[w, h], r, rng))
            .collect();
        let heads = widths
            .iter()
            .map(|&w| (params.uniform(&[w, h], r, rng), params.zeros(&[w])))
            .collect();
        Controller {
            space,
            shape,
            params,
            start,
            embeddings,
            lstm,
            heads,
        }
    }

    pub(crate) fn space(&self) -> &Arc<dyn SearchSpace> {
        &self.space
    }

    pub(crate) fn params_mut(&mut self) -> &mut Params {
        &mut self.params
    }

    pub(crate) fn params(&self) -> &Params {
        &self.params
    }

    /// The (1, choices) logits at dimension `d` from `state`, transformed as configured.
    fn logits(&self, d: usize, state: &LstmState) -> Tensor {
        let (w, b) = &self.heads[d];
        let logits = state.top().matmul(&w.tr()) + b;
        let logits = if self.shape.temperature != 1.0 {
            logits / self.shape.temperature
        } else {
            logits
        };
        if self.shape.tanh_constant > 0.0 {
            logits.tanh() * self.shape.tanh_constant
        } else {
            logits
        }
    }

    /// Walks the dimensions in order: `decide(d, log-probabilities)` gives the decision
    /// and the gene at each dimension that takes one. Returns the genes, and per decision
    /// the step's log-softmax and the choice (for the caller's loss).
    fn walk(
        &self,
        decide: &mut dyn FnMut(usize, &Tensor) -> (usize, Gene),
    ) -> (Vec<Gene>, Vec<(Tensor, usize)>) {
        let dims = self.space.dimensions();
        let mut genes: Vec<Gene> = Vec::with_capacity(dims.len());
        let mut steps = Vec::new();
        let mut state = self.lstm.zero_state(1);
        let mut input = self.start.shallow_clone();
        for (i, d) in dims.iter().enumerate() {
            if !d.is_active(&genes) {
                genes.push(Gene::Absent);
                continue;
            }
            if decisions::actions(d) == 0 {
                genes.push(d.default_gene());
                continue;
            }
            state = self.lstm.step(&input, &state);
            let log_probs = self.logits(i, &state).log_softmax(1, DTYPE);
            let (a, gene) = decide(i, &log_probs);
            genes.push(gene);
            input = self.embeddings[i].get(a as i64).unsqueeze(0);
            steps.push((log_probs, a));
        }
        (genes, steps)
    }

    /// Samples `n` architectures from the controller at once, drawing with `rng` row by
    /// row at each dimension. Each row takes exactly the steps a walk of its own would: a
    /// row whose dimension is inactive keeps its state and input (masked), so the rows are
    /// independent samples of the policy.
    pub(crate) fn sample(&self, n: usize, rng: &mut Rng) -> Vec<Sampled> {
        tch::no_grad(|| {
            let dims = self.space.dimensions();
            let rows = n as i64;
            let mut genes: Vec<Vec<Gene>> = vec![Vec::with_capacity(dims.len()); n];
            let mut log_probs = vec![0.0; n];
            let mut state = self.lstm.zero_state(rows);
            let mut input = self.start.expand([rows, -1], false);
            for (i, d) in dims.iter().enumerate() {
                let active: Vec<bool> = genes.iter().map(|g| d.is_active(g)).collect();
                let deciding = decisions::actions(d) > 0;
                if !deciding || !active.iter().any(|&a| a) {
                    for (g, &a) in genes.iter_mut().zip(&active) {
                        g.push(if a { d.default_gene() } else { Gene::Absent });
                    }
                    continue;
                }
                let next = self.lstm.step(&input, &state);
                let lp = self.logits(i, &next).log_softmax(1, DTYPE);
                let table = crate::params::values(&lp);
                let width = decisions::actions(d);
                let mut picks = vec![0i64; n];
                for r in 0..n {
                    if !active[r] {
                        genes[r].push(Gene::Absent);
                        continue;
                    }
                    let row = &table[r * width..(r + 1) * width];
                    let p: Vec<f64> = row.iter().map(|l| l.exp()).collect();
                    let a = decisions::draw_index(&p, rng);
                    log_probs[r] += row[a];
                    picks[r] = a as i64;
                    genes[r].push(decisions::gene_for(d, a, rng));
                }
                let embedded = self.embeddings[i].index_select(0, &Tensor::from_slice(&picks));
                if active.iter().all(|&a| a) {
                    state = next;
                    input = embedded;
                } else {
                    let mask = Tensor::from_slice(&active).reshape([rows, 1]);
                    state = state.select(&mask, &next);
                    input = embedded.where_self(&mask, &input);
                }
            }
            genes
                .into_iter()
                .zip(log_probs)
                .map(|(genes, log_prob)| Sampled { genes, log_prob })
                .collect()
        })
    }

    /// The log-probability of the architecture `genes` under the controller and the summed
    /// entropy of its step distributions, both differentiable. `None` if a gene is no value
    /// the controller could have chosen, or the genes break the space's conditions.
    pub(crate) fn score(&self, genes: &[Gene]) -> Option<(Tensor, Tensor)> {
        let dims = self.space.dimensions();
        let arch =
            archer_space::Arch::from_genes(self.space.name(), self.space.version(), genes.to_vec());
        let actions = decisions::actions_of(dims, &arch)?;
        let (walked, steps) = self.walk(&mut |i, _| (actions[i].unwrap_or(0), genes[i]));
        let decided = steps.len() == actions.iter().flatten().count();
        if walked != genes || !decided {
            return None;
        }
        if steps.is_empty() {
            let zero = || Tensor::zeros([], (DTYPE, crate::params::DEVICE));
            return Some((zero(), zero()));
        }
        let chosen: Vec<Tensor> = steps
            .iter()
            .map(|(lp, a)| lp.get(0).get(*a as i64))
            .collect();
        let entropies: Vec<Tensor> = steps
            .iter()
            .map(|(lp, _)| -(lp.exp() * lp).sum(DTYPE))
            .collect();
        let log_prob = Tensor::stack(&chosen, 0).sum(DTYPE);
        let entropy = Tensor::stack(&entropies, 0).sum(DTYPE);
        Some((log_prob, entropy))
    }

    /// [`Controller::score`]'s log-probability as a number, without gradients.
    pub(crate) fn log_prob(&self, genes: &[Gene]) -> Option<f64> {
        tch::no_grad(|| self.score(genes).map(|(lp, _)| lp.double_value(&[])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A declared space with conditional dimensions, floats and ints.
    fn every_primitive() -> Arc<dyn SearchSpace> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/spaces/every-primitive.toml");
        Arc::new(archer_space::DeclaredSpace::from_file(&path).unwrap())
    }

    #[test]
    fn batched_samples_are_scored_as_they_were_drawn() {
        // Each row of a batch takes exactly its own steps, so teacher-forcing its genes
        // one at a time gives the log-probability it was drawn with.
        let space = every_primitive();
        let shape = ControllerShape {
            hidden: 16,
            layers: 2,
            init_range: 0.5,
            temperature: 1.0,
            tanh_constant: 0.0,
        };
        let mut rng = Rng::seed_from(1);
        let controller = Controller::new(space.clone(), shape, &mut rng);
        let samples = controller.sample(32, &mut rng);
        let mut absent = 0;
        for s in &samples {
            absent += s.genes.iter().filter(|g| g.is_absent()).count();
            let scored = controller
                .log_prob(&s.genes)
                .expect("a sample fits the space");
            assert!(
                (scored - s.log_prob).abs() < 1e-4,
                "scored {scored} drawn {}",
                s.log_prob
            );
        }
        assert!(
            absent > 0,
            "the space's conditions should leave some dimensions out"
        );
        let distinct: std::collections::HashSet<String> =
            samples.iter().map(|s| format!("{:?}", s.genes)).collect();
        assert!(distinct.len() > 16, "{} distinct of 32", distinct.len());
    }
}
