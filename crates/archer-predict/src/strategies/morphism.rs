//! `morphism`: network morphism search (Auto-Keras, Jin et al. 2019) on the chain (`macro`)
//! space.
//!
//! It starts from `initial` small networks (the fewest layers the space allows, drawn at
//! random). Every further proposal is a trained network changed by one function-preserving
//! morph (`ChainSpace::morphs`: deepen, widen, add a skip), whose network starts from its
//! parent's trained weights: the proposal names the parent
//! ([`archer_strategy::Inheritance`]), the study keeps the final checkpoints of the best
//! `keep_parents` trials, and the `train` evaluator carries the parent's weights over to the
//! child (`archer-train`'s `morph::inherit`) and trains on. Which morph: a Gaussian process on
//! every result so far, with the kernel `exp(-d/ℓ)` on Auto-Keras's edit distance `d` between
//! networks (`ChainSpace::edit_distance`; ℓ and the noise by marginal likelihood, searched
//! again whenever the results have grown by a fifth), scores the
//! children of the best `beam` networks by the upper confidence bound (β = `ucb_beta`); the
//! best child not yet evaluated is proposed, from its best-scoring parent.
//!
//! Differences from Auto-Keras, all deliberate:
//! - the candidates are every one-morph child of the best `beam` networks, all scored, where
//!   Auto-Keras explores chains of morphs by simulated annealing (our chains of layers have
//!   at most a few hundred one-morph children, so all of them are scored);
//! - the kernel is the Laplace kernel of the edit distance with a fitted length-scale,
//!   where Auto-Keras embeds the distance (Bourgain) into a Gaussian kernel; skips count one
//!   per skip one network has and the other lacks, instead of a matching by position;
//! - once the best networks have no child left to evaluate, the children of lower-ranked
//!   ones compete too; a child of a network beyond the best `keep_parents`, whose weights the
//!   study no longer keeps, trains from scratch (counted in `from_scratch`); when no trained
//!   network has a new child, a random network is proposed (counted in `fallbacks`).
//!
//! With an evaluator that cannot carry weights over (a table, a command), the children are
//! trained from scratch: the search is then Auto-Keras's BO over morphs without the savings.

use std::collections::HashSet;
use std::sync::Arc;

use archer_core::{Arch, Fidelity, History, Trial, TrialState};
use archer_rng::Rng;
use archer_space::{draw, ChainSpace, Gene, SearchSpace};
use archer_strategy::{
    sample_unknown, BuildContext, Inheritance, Kind, Proposal, Strategy, StrategyError,
    StrategySettings,
};
use serde::{Deserialize, Serialize};

use crate::{GaussianProcess, Predictor};

pub(crate) static KIND: Kind<MorphismConfig> = Kind::checked(
    "morphism",
    "network morphism (Auto-Keras): children of trained chain networks inherit their weights, BO with an edit-distance kernel picks the morph",
    |c, ctx| Ok(Box::new(Morphism::new(ctx, c)?)),
);

/// `[strategy] name = "morphism"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MorphismConfig {
    /// Networks with the fewest layers drawn before any morph.
    #[serde(default = "initial")]
    pub initial: usize,
    /// The best trained networks whose morphs are candidates (networks whose children were
    /// all evaluated are passed over).
    #[serde(default = "beam")]
    pub beam: usize,
    /// The best trained networks whose final weights the study keeps (at least `beam`).
    #[serde(default = "keep_parents")]
    pub keep_parents: usize,
    /// β of the upper confidence bound (Auto-Keras: 2.576).
    #[serde(default = "ucb_beta")]
    pub ucb_beta: f64,
    /// The network's stem width (`[evaluator.network] channels`, 16 by default): whether a
    /// pool or identity first layer projects depends on it.
    #[serde(default = "stem_channels")]
    pub stem_channels: u32,
}

fn initial() -> usize {
    3
}
fn beam() -> usize {
    8
}
fn keep_parents() -> usize {
    10
}
fn ucb_beta() -> f64 {
    2.576
}
fn stem_channels() -> u32 {
    16
}

impl StrategySettings for MorphismConfig {
    fn validate(&self) -> Result<(), String> {
        for (key, v, lo, hi) in [
            ("initial", self.initial, 1, 10_000),
            ("beam", self.beam, 1, 1_000),
            ("keep_parents", self.keep_parents, 1, 10_000),
            ("stem_channels", self.stem_channels as usize, 1, 4096),
        ] {
            if !(lo..=hi).contains(&v) {
                return Err(format!("strategy.{key} = {v}; accepted: {lo} to {hi}"));
            }
        }
        if self.keep_parents < self.beam {
            return Err(format!(
                "strategy.keep_parents = {} is below beam = {}: every network morphed must keep its weights",
                self.keep_parents, self.beam
            ));
        }
        if !(self.ucb_beta.is_finite() && self.ucb_beta >= 0.0) {
            return Err(format!(
                "strategy.ucb_beta = {}; accepted: a finite number >= 0",
                self.ucb_beta
            ));
        }
        Ok(())
    }
}

/// A child the GP scores.
struct Candidate {
    parent: Observed,
    morph: String,
    child: Arch,
    /// Whether the parent's final weights are kept (else the child trains from scratch).
    kept: bool,
}

/// One trained network.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Observed {
    trial: u64,
    arch: Arch,
    score: f64,
    /// Whether it met the study's constraints (the study keeps feasible parents first).
    #[serde(default = "feasible")]
    feasible: bool,
}

fn feasible() -> bool {
    true
}

#[derive(Serialize, Deserialize)]
struct MorphismState {
    rng: Rng,
    /// Every COMPLETE result with a finite score, in order.
    observed: Vec<Observed>,
    /// Networks with the fewest layers proposed so far.
    initial_proposed: usize,
    /// Children proposed (with or without their parent's weights).
    morphed: u64,
    /// Children of a parent whose weights are not kept, proposed to train from scratch.
    #[serde(default)]
    from_scratch: u64,
    /// Random networks proposed because no child was new.
    fallbacks: u64,
    /// Asks where the GP could not be fitted (the first candidate was proposed).
    model_failures: u64,
    /// The GP's length-scale multiple and noise, and on how many results the grid chose
    /// them: searched again once the results have grown by a fifth.
    #[serde(default)]
    hyperparameters: Option<(f64, f64, usize)>,
}

pub struct Morphism {
    space: Arc<dyn SearchSpace>,
    config: MorphismConfig,
    state: MorphismState,
}

/// Auto-Keras's edit distance, for the GP.
fn edit_distance(space: &dyn SearchSpace, a: &Arch, b: &Arch) -> f64 {
    space
        .as_chain()
        .map_or_else(|| space.distance(a, b), |chain| chain.edit_distance(a, b))
}

impl Morphism {
    /// Refused, with the reason, on a space other than a chain that can grow.
    pub fn new(ctx: BuildContext, config: MorphismConfig) -> Result<Self, StrategyError> {
        let refuse = |reason: String| StrategyError::InvalidSetting {
            strategy: "morphism".into(),
            reason,
        };
        let chain = ctx.space.as_chain().ok_or_else(|| {
            refuse(format!(
                "network morphism changes chains of layers; the {} space is not one (use [space] name = \"macro\")",
                ctx.space.name()
            ))
        })?;
        if chain.min_layers() >= chain.layers() {
            return Err(refuse(
                "the chain space has a fixed number of layers, so no network can be deepened: set min_layers below layers".into(),
            ));
        }
        Ok(Morphism {
            space: ctx.space,
            config,
            state: MorphismState {
                rng: ctx.rng,
                observed: Vec::new(),
                initial_proposed: 0,
                morphed: 0,
                from_scratch: 0,
                fallbacks: 0,
                model_failures: 0,
                hyperparameters: None,
            },
        })
    }

    fn chain(&self) -> &ChainSpace {
        self.space.as_chain().expect("checked when built")
    }

    /// A network with the fewest layers, not yet known when one can be found.
    fn small_network(&mut self, history: &History) -> Result<Arch, StrategyError> {
        let dims = self.space.dimensions();
        let mut last = None;
        for _ in 0..100 {
            // The first dimension is the number of layers: its least value, the rest drawn.
            let mut genes: Vec<Gene> = vec![Gene::Index(dims[0].allowed[0])];
            for d in &dims[1..] {
                let gene = if d.is_active(&genes) {
                    draw(d, &mut self.state.rng)
                } else {
                    Gene::Absent
                };
                genes.push(gene);
            }
            if !self.space.is_valid(&genes) {
                continue;
            }
            let arch = Arch::from_genes(self.space.name(), self.space.version(), genes);
            if !history.is_known(&self.space.canonical_hash(&arch), &Fidelity::full()) {
                return Ok(arch);
            }
            last = Some(arch);
        }
        match last {
            Some(arch) => Ok(arch),
            None => Ok(sample_unknown(
                self.space.as_ref(),
                history,
                &mut self.state.rng,
            )?),
        }
    }

    /// The new children of the best `beam` networks that have any: (parent, morph, child,
    /// whether the parent's weights are kept), each child once, from its best parent.
    fn candidates(&self, history: &History) -> Vec<Candidate> {
        // In the order the study keeps parents' weights in: feasible first, then by score.
        let mut parents: Vec<&Observed> = self.state.observed.iter().collect();
        parents.sort_by(|a, b| {
            (b.feasible.cmp(&a.feasible))
                .then(b.score.total_cmp(&a.score))
                .then(a.trial.cmp(&b.trial))
        });
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut fertile = 0;
        for (rank, parent) in parents.into_iter().enumerate() {
            if fertile == self.config.beam {
                break;
            }
            let before = out.len();
            for (morph, child) in self
                .chain()
                .morphs(&parent.arch, self.config.stem_channels)
            {
                let hash = self.space.canonical_hash(&child);
                if history.is_known(&hash, &Fidelity::full()) || !seen.insert(hash) {
                    continue;
                }
                out.push(Candidate {
                    parent: parent.clone(),
                    morph: morph.to_string(),
                    child,
                    // The study keeps the weights of the best `keep_parents` networks.
                    kept: rank < self.config.keep_parents,
                });
            }
            if out.len() > before {
                fertile += 1;
            }
        }
        out
    }

    /// The index of the candidate with the highest upper confidence bound; `None` when the
    /// GP could not be fitted.
    fn best_by_ucb(&mut self, children: &[Arch]) -> Option<usize> {
        let archs: Vec<Arch> = self.state.observed.iter().map(|o| o.arch.clone()).collect();
        let scores: Vec<f64> = self.state.observed.iter().map(|o| o.score).collect();
        let mut gp = GaussianProcess::with_distance(self.space.clone(), edit_distance);
        let n = archs.len();
        match self.state.hyperparameters {
            Some((multiple, noise, at)) if n * 5 < at * 6 => {
                gp.keep_hyperparameters(multiple, noise)
            }
            _ => self.state.hyperparameters = None,
        }
        gp.fit(&archs, &scores, &mut self.state.rng).ok()?;
        if self.state.hyperparameters.is_none() {
            let hp = gp.hyperparameters()?;
            self.state.hyperparameters = Some((hp.length_scale_multiple, hp.noise, n));
        }
        let predictions = gp.predict(children).ok()?;
        let beta = self.config.ucb_beta;
        predictions
            .iter()
            .enumerate()
            .map(|(i, p)| (i, p.mean + beta * p.std))
            .filter(|(_, u)| u.is_finite())
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|(i, _)| i)
    }
}

impl Strategy for Morphism {
    fn name(&self) -> &str {
        "morphism"
    }

    fn ask(&mut self, history: &History) -> Result<Proposal, StrategyError> {
        if self.state.initial_proposed < self.config.initial || self.state.observed.is_empty() {
            self.state.initial_proposed += 1;
            return Ok(Proposal::full(self.small_network(history)?));
        }
        let mut candidates = self.candidates(history);
        if candidates.is_empty() {
            self.state.fallbacks += 1;
            return Ok(Proposal::full(sample_unknown(
                self.space.as_ref(),
                history,
                &mut self.state.rng,
            )?));
        }
        let children: Vec<Arch> = candidates.iter().map(|c| c.child.clone()).collect();
        let pick = self.best_by_ucb(&children).unwrap_or_else(|| {
            self.state.model_failures += 1;
            0
        });
        let c = candidates.swap_remove(pick);
        self.state.morphed += 1;
        if !c.kept {
            self.state.from_scratch += 1;
            return Ok(Proposal::full(c.child));
        }
        Ok(Proposal::full(c.child).inheriting(Inheritance {
            parent: c.parent.trial,
            parent_arch: c.parent.arch,
            morph: c.morph,
        }))
    }

    fn tell(&mut self, trial: &Trial) {
        if let (TrialState::Complete, Some(score)) = (trial.state, trial.score) {
            if score.is_finite() {
                self.state.observed.push(Observed {
                    trial: trial.id,
                    arch: trial.arch.clone(),
                    score,
                    feasible: trial.feasible,
                });
            }
        }
    }

    fn state(&self) -> serde_json::Value {
        serde_json::to_value(&self.state).expect("plain data serialises")
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError> {
        self.state = serde_json::from_value(state).map_err(|e| StrategyError::Restore {
            strategy: "morphism".into(),
            reason: e.to_string(),
        })?;
        Ok(())
    }

    fn parents_kept(&self) -> usize {
        self.config.keep_parents
    }
}
