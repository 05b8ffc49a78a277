//! `nao`: Neural Architecture Optimization (Luo et al. 2018).
//!
//! After `initial` random architectures, each round trains the encoder, predictor and
//! decoder of [`NaoModel`] on every result so far (targets: the scores' ranks scaled to
//! [0, 1]; loss `trade_off · MSE(prediction) + (1 − trade_off) · CE(reconstruction)`,
//! `epochs` passes of Adam, more while the results are fewer than `min_rows_seen / epochs`;
//! the reconstruction also on `unlabeled` random architectures, as SemiNAS), then moves the
//! encoder outputs of the `top_k` best architectures along the gradient of the predicted
//! performance with step sizes 1, 2, … up to `max_step_size`, decodes them until
//! `candidates` × `batch` new architectures are found (moving the next `top_k` down the
//! ranking while too few are, up to `max_seeds`), and queues the `batch` of them the
//! predictor rates best. The network keeps its weights from round to round, as NAO's search
//! does. A round runs whenever the queue is empty.
//!
//! A decode that breaks the space's conditions is repaired (an inactive dimension made
//! absent, an active absent one given its default) and counted; one still outside the space
//! is skipped and counted. When no step gives anything new, a random architecture is
//! proposed and counted. The counts are in the saved state.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use archer_core::{Fidelity, History, Trial};
use archer_rng::Rng;
use archer_space::{settle, Arch, Gene, SearchSpace};
use archer_strategy::{
    draw_passing, passes, sample_unknown, Kind, Prescreen, Proposal, Strategy, StrategyError,
    StrategySettings,
};
use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::nao_model::{NaoModel, NaoShape};
use crate::params::{restore_with_params, save_with_params, OneThread, DTYPE};

pub(crate) static KIND: Kind<NaoConfig> = Kind::new(
    "nao",
    "NAO: LSTM encoder to a continuous embedding, performance predictor and decoder; gradient ascent in the embedding",
    |c, ctx| Box::new(Nao::new(ctx.space, ctx.prescreen, c, ctx.rng)),
);

/// `[strategy] name = "nao"`. The network and loss follow NAO's NAS-Bench search
/// (one-layer LSTMs, a two-layer predictor MLP, trade-off 0.8, Adam, gradient norm 5), made
/// smaller for budgets of about 150 architectures; defaults chosen on NAS-Bench-201 seeds
/// 100–199 (README).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NaoConfig {
    /// Random architectures evaluated before the first round.
    #[serde(default = "initial")]
    pub initial: usize,
    /// New architectures proposed per round.
    #[serde(default = "batch")]
    pub batch: usize,
    /// The best architectures whose embeddings are moved each round.
    #[serde(default = "top_k")]
    pub top_k: usize,
    /// Passes over the results per round (at least; see `min_rows_seen`).
    #[serde(default = "epochs")]
    pub epochs: usize,
    /// A round makes more than `epochs` passes while the results are few: as many as see
    /// this many results in all, `ceil(min_rows_seen / results)` (0: always `epochs`).
    /// NAO trains its network to convergence each round (1,000 epochs); 15 passes over the
    /// first 10 results leave the decoder and predictor barely trained. Past
    /// `min_rows_seen / epochs` results (33 with the defaults) a round is `epochs` passes
    /// again, so a round at 150 results costs the same as without it.
    #[serde(default = "min_rows_seen")]
    pub min_rows_seen: usize,
    /// Architectures whose embeddings a round may move: the `top_k` best first, then, while
    /// fewer than `candidates` × `batch` new decodes are found, the next `top_k` down the
    /// ranking, up to this many in all (`top_k` or less: only the `top_k` best, as in NAO).
    /// With the top 5 only, most rounds past 45 results decoded nothing new and fell back
    /// to a random architecture (one CIFAR-10 run of NAS-Bench-201).
    #[serde(default = "max_seeds")]
    pub max_seeds: usize,
    /// Random architectures drawn each round whose reconstruction is trained beside the
    /// results' (no prediction loss on them), as SemiNAS (Luo et al. 2020) adds unlabeled
    /// architectures: a decoder trained on the results alone decodes most moved
    /// embeddings back to architectures already evaluated (0: the results only, as NAO).
    #[serde(default = "unlabeled")]
    pub unlabeled: usize,
    /// New decodes gathered per proposal of a round; the predictor keeps the best `batch`
    /// of them (1: the first decodes found, as in NAO).
    #[serde(default = "candidates")]
    pub candidates: usize,
    /// Largest step size tried (steps 1, 2, … this).
    #[serde(default = "max_step_size")]
    pub max_step_size: usize,
    /// Token embedding width.
    #[serde(default = "embedding")]
    pub embedding: usize,
    /// LSTM units of the encoder and decoder (the architecture embedding's width).
    #[serde(default = "hidden")]
    pub hidden: usize,
    #[serde(default = "mlp_layers")]
    pub mlp_layers: usize,
    #[serde(default = "mlp_hidden")]
    pub mlp_hidden: usize,
    /// Weight of the prediction loss against the reconstruction loss (NAO: 0.8).
    #[serde(default = "trade_off")]
    pub trade_off: f64,
    /// Adam's learning rate.
    #[serde(default = "learning_rate")]
    pub learning_rate: f64,
    /// Initial weights uniform in ± this (NAO: 0.04 to 0.1).
    #[serde(default = "init_range")]
    pub init_range: f64,
}

fn initial() -> usize {
    10
}
fn batch() -> usize {
    5
}
fn top_k() -> usize {
    5
}
fn epochs() -> usize {
    15
}
fn min_rows_seen() -> usize {
    500
}
fn unlabeled() -> usize {
    100
}
fn max_seeds() -> usize {
    20
}
fn candidates() -> usize {
    4
}
fn max_step_size() -> usize {
    30
}
fn embedding() -> usize {
    16
}
fn hidden() -> usize {
    32
}
fn mlp_layers() -> usize {
    2
}
fn mlp_hidden() -> usize {
    32
}
fn trade_off() -> f64 {
    0.8
}
fn learning_rate() -> f64 {
    0.005
}
fn init_range() -> f64 {
    0.1
}

/// Results per minibatch (NAO's is 100; one step per pass over the few hundred results of
/// a search keeps a round's training in tens of milliseconds).
const MINIBATCH: usize = 256;
/// Gradients are scaled to this global L2 norm at most (NAO's `grad_bound`).
const GRAD_BOUND: f64 = 5.0;

impl StrategySettings for NaoConfig {
    fn validate(&self) -> Result<(), String> {
        for (key, v, lo, hi) in [
            ("initial", self.initial, 2, 100_000),
            ("batch", self.batch, 1, 10_000),
            ("top_k", self.top_k, 1, 10_000),
            ("epochs", self.epochs, 1, 10_000),
            ("min_rows_seen", self.min_rows_seen, 0, 10_000_000),
            ("max_seeds", self.max_seeds, 0, 100_000),
            ("unlabeled", self.unlabeled, 0, 100_000),
            ("candidates", self.candidates, 1, 100),
            ("max_step_size", self.max_step_size, 1, 10_000),
            ("embedding", self.embedding, 1, 1024),
            ("hidden", self.hidden, 1, 1024),
            ("mlp_layers", self.mlp_layers, 0, 8),
            ("mlp_hidden", self.mlp_hidden, 1, 4096),
        ] {
            if !(lo..=hi).contains(&v) {
                return Err(format!("strategy.{key} = {v}; accepted: {lo} to {hi}"));
            }
        }
        if !(0.0..=1.0).contains(&self.trade_off) {
            return Err(format!(
                "strategy.trade_off = {}; accepted: 0 to 1",
                self.trade_off
            ));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(format!(
                "strategy.learning_rate = {}; must be positive",
                self.learning_rate
            ));
        }
        if !(self.init_range > 0.0 && self.init_range <= 1.0) {
            return Err(format!(
                "strategy.init_range = {}; accepted: above 0, at most 1",
                self.init_range
            ));
        }
        Ok(())
    }
}

impl NaoConfig {
    /// Passes over `results` results in one round: `epochs`, or more while
    /// `epochs · results < min_rows_seen`.
    fn passes(&self, results: usize) -> usize {
        self.epochs
            .max(self.min_rows_seen.div_ceil(results.max(1)))
    }

    fn shape(&self) -> NaoShape {
        NaoShape {
            embedding: self.embedding,
            hidden: self.hidden,
            mlp_layers: self.mlp_layers,
            mlp_hidden: self.mlp_hidden,
            init_range: self.init_range,
        }
    }
}

pub struct Nao {
    space: Arc<dyn SearchSpace>,
    prescreen: Option<Arc<dyn Prescreen>>,
    config: NaoConfig,
    model: NaoModel,
    state: NaoState,
}

#[derive(Serialize, Deserialize)]
struct NaoState {
    rng: Rng,
    /// Every COMPLETE result told with a finite score, in order.
    observed: Vec<(Vec<Gene>, f64)>,
    /// Decodes of the last round not yet proposed.
    queue: VecDeque<Arch>,
    rounds: u64,
    /// Decodes that broke the space's conditions and were repaired.
    repaired_decodes: u64,
    /// Decodes outside the space even after repair, skipped.
    invalid_decodes: u64,
    /// Groups of `top_k` seeds moved (more than one per round when the best gave too few
    /// new decodes).
    #[serde(default)]
    seed_groups: u64,
    /// Asks after the initial ones answered by a random architecture (no step gave a new
    /// decode, or the model had nothing to learn from).
    random_fallbacks: u64,
}

impl Nao {
    fn new(
        space: Arc<dyn SearchSpace>,
        prescreen: Option<Arc<dyn Prescreen>>,
        config: NaoConfig,
        mut rng: Rng,
    ) -> Self {
        let model = NaoModel::new(space.dimensions(), &config.shape(), &mut rng);
        Nao {
            space,
            prescreen,
            config,
            model,
            state: NaoState {
                rng,
                observed: Vec::new(),
                queue: VecDeque::new(),
                rounds: 0,
                seed_groups: 0,
                repaired_decodes: 0,
                invalid_decodes: 0,
                random_fallbacks: 0,
            },
        }
    }

    fn known(&self, history: &History, arch: &Arch) -> bool {
        history.is_known(&self.space.canonical_hash(arch), &Fidelity::full())
    }

    /// A random architecture not evaluated yet ([`sample_unknown`]), passing the prescreen
    /// where one can.
    fn random(&mut self, history: &History) -> Result<Arch, StrategyError> {
        let space = self.space.as_ref();
        let rng = &mut self.state.rng;
        draw_passing(self.prescreen.as_deref(), || {
            sample_unknown(space, history, rng)
        })
    }

    /// The observed results as token rows and their scores' scaled ranks.
    fn training_set(&self) -> (Vec<Vec<i64>>, Vec<f64>) {
        let dims = self.space.dimensions();
        let mut rows = Vec::new();
        let mut scores = Vec::new();
        for (genes, score) in &self.state.observed {
            if let Some(tokens) = self.model.tokens(dims, genes) {
                rows.push(tokens);
                scores.push(*score);
            }
        }
        let targets = rank_scaled(&scores);
        (rows, targets)
    }

    /// `unlabeled` random architectures of the space as token rows (fewer if some have
    /// none, as in [`Nao::training_set`]), drawn from the strategy's generator.
    fn unlabeled_rows(&mut self) -> Result<Vec<Vec<i64>>, StrategyError> {
        let dims = self.space.dimensions();
        let mut rows = Vec::with_capacity(self.config.unlabeled);
        for _ in 0..self.config.unlabeled {
            let arch = self.space.sample(&mut self.state.rng)?;
            if let Some(tokens) = self.model.tokens(dims, &arch.genes) {
                rows.push(tokens);
            }
        }
        Ok(rows)
    }

    /// [`NaoConfig::passes`] passes of Adam over the results, in minibatches of shuffled
    /// order; every minibatch also reconstructs the `unlabeled` rows (no prediction loss
    /// on them).
    fn train(&mut self, rows: &[Vec<i64>], targets: &[f64]) -> Result<(), StrategyError> {
        let n = rows.len();
        let trade_off = self.config.trade_off;
        let unlabeled = self.unlabeled_rows()?;
        for _ in 0..self.config.passes(n) {
            let mut order: Vec<usize> = (0..n).collect();
            self.state.rng.shuffle(&mut order);
            for chunk in order.chunks(MINIBATCH) {
                let labeled = chunk.len() as i64;
                let tokens =
                    token_tensor(chunk.iter().map(|&i| &rows[i]).chain(unlabeled.iter()));
                let y: Vec<f64> = chunk.iter().map(|&i| targets[i]).collect();
                let y = crate::params::tensor(&y, &[labeled]);
                let encoded = self.model.encode(&tokens);
                let predicted = self.model.predict(&encoded).narrow(0, 0, labeled);
                let mse = (predicted - y).square().mean(DTYPE);
                let reconstruction = self.model.reconstruction_loss(&encoded, &tokens);
                let loss = mse * trade_off + reconstruction * (1.0 - trade_off);
                self.model.params_mut().descend(
                    &loss,
                    self.config.learning_rate,
                    Some(GRAD_BOUND),
                );
            }
        }
        Ok(())
    }

    /// One round (see the module's documentation); queues nothing when no step decodes to
    /// a new architecture. Fails only where the space cannot sample an architecture.
    fn round(&mut self, history: &History) -> Result<(), StrategyError> {
        let (rows, targets) = self.training_set();
        if rows.len() < 2 {
            return Ok(());
        }
        self.state.rounds += 1;
        self.train(&rows, &targets)?;
        let mut ranked: Vec<usize> = (0..rows.len()).collect();
        // Stable: ties keep the order results arrived in.
        ranked.sort_by(|&a, &b| targets[b].total_cmp(&targets[a]));
        ranked.truncate(self.config.max_seeds.max(self.config.top_k));
        let dims = self.space.dimensions().to_vec();
        let wanted = self.config.candidates * self.config.batch;
        let mut seen: HashSet<String> = HashSet::new();
        let mut found: Vec<(Arch, Vec<i64>)> = Vec::new();
        for group in ranked.chunks(self.config.top_k) {
            if found.len() >= wanted {
                break;
            }
            self.state.seed_groups += 1;
            let seeds = token_tensor(group.iter().map(|&i| &rows[i]));
            let decoded = self.model.decode_moves(&seeds, self.config.max_step_size);
            // Read in order of step size until enough are found.
            for per_step in decoded.chunks(group.len()) {
                if found.len() >= wanted {
                    break;
                }
                for tokens in per_step {
                    if let Some(arch) = self.admit(history, &dims, tokens, &mut seen) {
                        let tokens = self
                            .model
                            .tokens(&dims, &arch.genes)
                            .expect("an admitted decode has tokens");
                        found.push((arch, tokens));
                    }
                }
            }
        }
        if found.is_empty() {
            return Ok(());
        }
        let predicted = tch::no_grad(|| {
            let tokens = token_tensor(found.iter().map(|(_, t)| t));
            crate::params::values(&self.model.predict(&self.model.encode(&tokens)))
        });
        let mut order: Vec<usize> = (0..found.len()).collect();
        order.sort_by(|&a, &b| predicted[b].total_cmp(&predicted[a]));
        for i in order.into_iter().take(self.config.batch) {
            self.state.queue.push_back(found[i].0.clone());
        }
        Ok(())
    }

    /// The architecture `tokens` decode to, repaired to the space's conditions, if it is in
    /// the space, not evaluated or pending, passes the prescreen and was not seen this
    /// round.
    fn admit(
        &mut self,
        history: &History,
        dims: &[archer_space::Dimension],
        tokens: &[i64],
        seen: &mut HashSet<String>,
    ) -> Option<Arch> {
        let mut genes = self.model.genes(dims, tokens, &mut self.state.rng);
        let before = genes.clone();
        settle(dims, &mut genes, None);
        if genes != before {
            self.state.repaired_decodes += 1;
        }
        let arch = Arch::from_genes(self.space.name(), self.space.version(), genes);
        if !self.space.contains(&arch) {
            self.state.invalid_decodes += 1;
            return None;
        }
        let fresh = !self.known(history, &arch)
            && passes(self.prescreen.as_deref(), &arch)
            && seen.insert(self.space.canonical_hash(&arch));
        fresh.then_some(arch)
    }
}

/// Each score's rank among `scores` scaled to [0, 1] (worst 0, best 1; ties share their
/// mean rank): the predictor's targets. Min-max scaling would squash the good
/// architectures together whenever a few failures score near zero, as NB201's do.
fn rank_scaled(scores: &[f64]) -> Vec<f64> {
    let top = scores.len().saturating_sub(1) as f64;
    archer_core::ranks::mean_ranks(scores)
        .into_iter()
        .map(|rank| if top > 0.0 { rank / top } else { 0.5 })
        .collect()
}

/// A (rows, T) tensor of token rows of equal length.
fn token_tensor<'a>(rows: impl Iterator<Item = &'a Vec<i64>>) -> Tensor {
    let rows: Vec<&Vec<i64>> = rows.collect();
    let width = rows.first().map_or(0, |r| r.len()) as i64;
    let flat: Vec<i64> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_slice(&flat).reshape([rows.len() as i64, width])
}

impl Strategy for Nao {
    fn name(&self) -> &str {
        "nao"
    }

    fn ask(&mut self, history: &History) -> Result<Proposal, StrategyError> {
        if self.state.observed.len() < self.config.initial {
            return Ok(Proposal::full(self.random(history)?));
        }
        let _one_thread = OneThread::new();
        for refill in [false, true] {
            if refill {
                self.round(history)?;
            }
            while let Some(arch) = self.state.queue.pop_front() {
                if !self.known(history, &arch) {
                    return Ok(Proposal::full(arch));
                }
            }
        }
        self.state.random_fallbacks += 1;
        Ok(Proposal::full(self.random(history)?))
    }

    fn tell(&mut self, trial: &Trial) {
        if let Some(score) = trial.finite_score() {
            self.state
                .observed
                .push((trial.arch.genes.clone(), score));
        }
    }

    fn state(&self) -> serde_json::Value {
        save_with_params(&self.state, self.model.params())
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError> {
        self.state = restore_with_params(state, self.model.params_mut()).map_err(|reason| {
            StrategyError::Restore {
                strategy: "nao".to_string(),
                reason,
            }
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> NaoConfig {
        serde_json::from_str("{}").unwrap()
    }

    #[test]
    fn few_results_get_more_passes_and_many_keep_to_epochs() {
        assert_eq!(config().passes(10), 50);
        assert_eq!(config().passes(33), 16);
        assert_eq!(config().passes(34), 15);
        let off = NaoConfig {
            min_rows_seen: 0,
            ..config()
        };
        assert_eq!(off.passes(10), 15);
        let c = NaoConfig {
            min_rows_seen: 2000,
            ..config()
        };
        assert_eq!(c.passes(10), 200);
        assert_eq!(c.passes(18), 112);
        assert_eq!(c.passes(133), 16);
        assert_eq!(c.passes(134), 15);
        assert_eq!(c.passes(150), 15);
        assert_eq!(c.passes(0), 2000);
    }
}
