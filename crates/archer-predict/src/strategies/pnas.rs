//! `pnas`: Progressive Neural Architecture Search (Liu et al. 2018).
//!
//! PNAS searches a space that grows by blocks, from simple to complex. It evaluates
//! architectures with the fewest blocks, fits a surrogate on every result, expands the best
//! `beam` architectures of the last level by one block, ranks all the expansions by the
//! surrogate, evaluates the best `beam`, and repeats up to the most blocks.
//!
//! A space grows by blocks when it has an unconditional depth dimension: the number of
//! blocks, whose bodies exist only up to it. The DARTS space with `min_nodes` below `nodes`
//! is one (a block is one node in each cell), the chain space with `min_layers` below
//! `layers` another (a block is a layer), and so is a declared space with a `repeat`. The
//! first such dimension is the one PNAS grows; other dimensions are chosen at the first
//! level and kept. On a space without one (NAS-Bench-201's cell has a fixed set of edges
//! and nothing to grow) the strategy is refused with that reason.
//!
//! Differences from the paper, all settings:
//! - the first level evaluates `first` of the smallest architectures (all of them when there
//!   are no more; PNAS trained all 136 one-block cells of its space);
//! - a level scores at most `max_candidates` expansions: a parent with more expansions than
//!   its share has that many drawn at random instead of all enumerated;
//! - the surrogate is any predictor (default: an ensemble of 5 MLPs on the one-hot
//!   encoding, PNAS's MLP-ensemble variant), fitted on the ranks of all results so far;
//! - once the largest architectures are reached, each further level ranks the one-edit
//!   neighbours of the best `beam` of them at that size, so a longer budget keeps searching;
//! - with several workers, a level is built whenever the previous one has been handed out,
//!   from the results known then (one worker sees exactly the paper's order).

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use archer_core::{Arch, Fidelity, History, Trial, TrialState};
use archer_rng::Rng;
use archer_space::{draw, DimensionKind, Gene, SearchSpace};
use archer_strategy::{
    sample_unknown, AcquisitionKind, BuildContext, FeatureEncoding, Kind, PredictorConfig,
    Proposal, Strategy, StrategyError, StrategySettings,
};
use serde::{Deserialize, Serialize};

use crate::model_search::{ranking, ModelFailures, Scoring};
use crate::{build_predictor, Predictor};

pub(crate) static KIND: Kind<PnasConfig> = Kind::checked(
    "pnas",
    "PNAS: progressive search from the fewest blocks up, each level's expansions ranked by a surrogate",
    |c, ctx| Ok(Box::new(Pnas::new(ctx, c)?)),
);

/// `[strategy] name = "pnas"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PnasConfig {
    /// Architectures evaluated per level after the first (PNAS's K).
    #[serde(default = "beam")]
    pub beam: usize,
    /// Architectures with the fewest blocks evaluated first.
    #[serde(default = "first")]
    pub first: usize,
    /// The most expansions the surrogate scores per level.
    #[serde(default = "max_candidates")]
    pub max_candidates: usize,
    /// The surrogate.
    #[serde(default = "predictor")]
    pub predictor: PredictorConfig,
}

fn beam() -> usize {
    16
}
fn first() -> usize {
    32
}
fn max_candidates() -> usize {
    2000
}
fn predictor() -> PredictorConfig {
    PredictorConfig::default_mlp().with_encoding(FeatureEncoding::OneHot)
}

impl StrategySettings for PnasConfig {
    fn validate(&self) -> Result<(), String> {
        for (key, v, lo, hi) in [
            ("beam", self.beam, 1, 100_000),
            ("first", self.first, 1, 1_000_000),
            ("max_candidates", self.max_candidates, 1, 10_000_000),
        ] {
            if !(lo..=hi).contains(&v) {
                return Err(format!("strategy.{key} = {v}; accepted: {lo} to {hi}"));
            }
        }
        if self.max_candidates < self.beam {
            return Err(format!(
                "strategy.max_candidates = {} is below beam = {}; the surrogate must see at least a beam of expansions",
                self.max_candidates, self.beam
            ));
        }
        self.predictor.validate()
    }
}

/// The dimension a space grows by: its first depth dimension that exists unconditionally.
pub fn growth_dimension(space: &dyn SearchSpace) -> Option<usize> {
    space
        .dimensions()
        .iter()
        .position(|d| d.kind == DimensionKind::Depth && !d.is_conditional())
}

/// One level of the search, for the saved state and reports.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Level {
    /// Index of the growth dimension's value (0: the fewest blocks).
    depth: u16,
    /// Architectures the surrogate ranked (or the first level drew).
    candidates: usize,
    /// Architectures queued for evaluation.
    queued: usize,
}

#[derive(Serialize, Deserialize)]
struct PnasState {
    rng: Rng,
    /// Levels built so far; the last is the one being evaluated.
    levels: Vec<Level>,
    queue: VecDeque<Arch>,
    /// Every COMPLETE result with a finite score, in order.
    observed: Vec<(Arch, f64)>,
    /// Random architectures proposed because a level had nothing new.
    fallbacks: u64,
    model_failures: ModelFailures,
}

pub struct Pnas {
    space: Arc<dyn SearchSpace>,
    config: PnasConfig,
    predictor: Box<dyn Predictor>,
    /// The growth dimension and its number of values.
    growth: (usize, u16),
    state: PnasState,
}

impl Pnas {
    /// Refused, with the reason, for a space without a growth dimension.
    pub fn new(ctx: BuildContext, config: PnasConfig) -> Result<Self, StrategyError> {
        let space = ctx.space;
        let g = growth_dimension(space.as_ref()).ok_or_else(|| StrategyError::InvalidSetting {
            strategy: "pnas".into(),
            reason: format!(
                "the {} space does not grow by blocks: PNAS needs a depth dimension that always \
                 exists (darts with min_nodes below nodes, macro with min_layers below layers, \
                 or a declared space with a repeat)",
                space.name()
            ),
        })?;
        let values = space.dimensions()[g].allowed.len() as u16;
        Ok(Pnas {
            predictor: build_predictor(&config.predictor, space.clone()),
            space,
            config,
            growth: (g, values),
            state: PnasState {
                rng: ctx.rng,
                levels: Vec::new(),
                queue: VecDeque::new(),
                observed: Vec::new(),
                fallbacks: 0,
                model_failures: ModelFailures::default(),
            },
        })
    }

    fn depth_of(&self, genes: &[Gene]) -> u16 {
        let (g, _) = self.growth;
        let d = &self.space.dimensions()[g];
        genes[g]
            .index()
            .and_then(|v| d.allowed.iter().position(|&a| a == v))
            .unwrap_or(0) as u16
    }

    /// `genes` with the growth dimension at the `depth`-th allowed value.
    fn at_depth(&self, mut genes: Vec<Gene>, depth: u16) -> Vec<Gene> {
        let (g, _) = self.growth;
        genes[g] = Gene::Index(self.space.dimensions()[g].allowed[usize::from(depth)]);
        genes
    }

    /// Builds the next level and queues it; leaves the queue empty when it has nothing new.
    fn next_level(&mut self, history: &History) {
        let space = self.space.clone();
        let known = |a: &Arch| history.is_known(&space.canonical_hash(a), &Fidelity::full());
        let (candidates, depth) = match self.state.levels.last() {
            None => {
                let fixed = self.at_depth(vec![Gene::Absent; space.dimensions().len()], 0);
                let mut all = complete(space.as_ref(), &fixed, self.config.first, &mut self.state.rng);
                all.retain(|a| !known(a));
                self.state.rng.shuffle(&mut all);
                let n = all.len();
                self.state.levels.push(Level {
                    depth: 0,
                    candidates: n,
                    queued: n,
                });
                self.state.queue.extend(all);
                return;
            }
            Some(level) => {
                // The last level's results, or (none known yet, or the level had nothing
                // new) the deepest level's that has some.
                let mut depth = level.depth;
                let mut parents = self.parents(depth);
                while parents.is_empty() && depth > 0 {
                    depth -= 1;
                    parents = self.parents(depth);
                }
                if parents.is_empty() {
                    return;
                }
                let (new_depth, raw) = if depth + 1 < self.growth.1 {
                    let share = (self.config.max_candidates / parents.len()).max(1);
                    let mut raw = Vec::new();
                    for p in &parents {
                        let fixed = self.at_depth(p.genes.clone(), depth + 1);
                        raw.extend(complete(space.as_ref(), &fixed, share, &mut self.state.rng));
                    }
                    (depth + 1, raw)
                } else {
                    let raw = parents
                        .iter()
                        .flat_map(|p| space.neighbours(p))
                        .filter(|n| self.depth_of(&n.genes) == depth)
                        .collect();
                    (depth, raw)
                };
                let mut seen = HashSet::new();
                let unique: Vec<Arch> = raw
                    .into_iter()
                    .filter(|a| !known(a) && seen.insert(space.canonical_hash(a)))
                    .take(self.config.max_candidates)
                    .collect();
                (unique, new_depth)
            }
        };
        let n = candidates.len();
        let picked = self.best_by_surrogate(candidates);
        self.state.levels.push(Level {
            depth,
            candidates: n,
            queued: picked.len(),
        });
        self.state.queue.extend(picked);
    }

    /// The best `beam` results at `depth`, best first.
    fn parents(&self, depth: u16) -> Vec<Arch> {
        let mut at: Vec<&(Arch, f64)> = self
            .state
            .observed
            .iter()
            .filter(|(a, _)| self.depth_of(&a.genes) == depth)
            .collect();
        at.sort_by(|a, b| b.1.total_cmp(&a.1));
        at.into_iter()
            .take(self.config.beam)
            .map(|(a, _)| a.clone())
            .collect()
    }

    /// The `beam` candidates the surrogate, fitted on every result, rates best; in drawn
    /// order when it cannot be fitted (the reason is kept in the state).
    fn best_by_surrogate(&mut self, mut candidates: Vec<Arch>) -> Vec<Arch> {
        let beam = self.config.beam;
        if candidates.len() <= beam || self.state.observed.len() < 2 {
            self.state.rng.shuffle(&mut candidates);
            candidates.truncate(beam);
            return candidates;
        }
        let scoring = Scoring {
            acquisition: AcquisitionKind::Mean,
            ucb_beta: 0.0,
        };
        match scoring.score(
            self.predictor.as_mut(),
            &self.state.observed,
            &candidates,
            &mut self.state.rng,
        ) {
            Ok(values) => ranking(&values)
                .into_iter()
                .take(beam)
                .map(|i| candidates[i].clone())
                .collect(),
            Err(e) => {
                self.state.model_failures.record(e);
                self.state.rng.shuffle(&mut candidates);
                candidates.truncate(beam);
                candidates
            }
        }
    }
}

/// Valid architectures that keep every gene `fixed` has and choose the others: all of them
/// when there are at most `cap`, else up to `cap` distinct random ones. A dimension is
/// chosen where it exists and `fixed` leaves it absent; one that no longer exists is made
/// absent.
fn complete(space: &dyn SearchSpace, fixed: &[Gene], cap: usize, rng: &mut Rng) -> Vec<Arch> {
    let dims = space.dimensions();
    let enumerable = !dims.iter().any(|d| d.is_float());
    if enumerable {
        let mut out = Vec::new();
        let mut genes = fixed.to_vec();
        if enumerate(space, fixed, &mut genes, 0, cap, &mut out) {
            return out
                .into_iter()
                .map(|g| Arch::from_genes(space.name(), space.version(), g))
                .collect();
        }
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    // Constraints may reject most draws (DARTS: a node's two inputs must differ).
    for _ in 0..cap.saturating_mul(20).max(200) {
        if out.len() >= cap {
            break;
        }
        let mut genes = fixed.to_vec();
        for i in 0..dims.len() {
            let active = dims[i].is_active(&genes[..i]);
            if !active {
                genes[i] = Gene::Absent;
            } else if fixed[i].is_absent() {
                genes[i] = draw(&dims[i], rng);
            }
        }
        if space.is_valid(&genes) {
            let arch = Arch::from_genes(space.name(), space.version(), genes);
            if seen.insert(space.canonical_hash(&arch)) {
                out.push(arch);
            }
        }
    }
    out
}

/// Depth-first enumeration for [`complete`]; false once more than `cap` were found.
fn enumerate(
    space: &dyn SearchSpace,
    fixed: &[Gene],
    genes: &mut Vec<Gene>,
    i: usize,
    cap: usize,
    out: &mut Vec<Vec<Gene>>,
) -> bool {
    let dims = space.dimensions();
    if i == dims.len() {
        if space.is_valid(genes) {
            out.push(genes.clone());
        }
        return out.len() <= cap;
    }
    let d = &dims[i];
    if !d.is_active(&genes[..i]) {
        genes[i] = Gene::Absent;
        return enumerate(space, fixed, genes, i + 1, cap, out);
    }
    if !fixed[i].is_absent() {
        genes[i] = fixed[i];
        return enumerate(space, fixed, genes, i + 1, cap, out);
    }
    for &v in &d.allowed {
        genes[i] = Gene::Index(v);
        if !enumerate(space, fixed, genes, i + 1, cap, out) {
            return false;
        }
    }
    genes[i] = Gene::Absent;
    true
}

impl Strategy for Pnas {
    fn name(&self) -> &str {
        "pnas"
    }

    fn ask(&mut self, history: &History) -> Result<Proposal, StrategyError> {
        for _ in 0..2 {
            while let Some(arch) = self.state.queue.pop_front() {
                let hash = self.space.canonical_hash(&arch);
                if !history.is_known(&hash, &Fidelity::full()) {
                    return Ok(Proposal::full(arch));
                }
            }
            self.next_level(history);
        }
        self.state.fallbacks += 1;
        Ok(Proposal::full(sample_unknown(
            self.space.as_ref(),
            history,
            &mut self.state.rng,
        )?))
    }

    fn tell(&mut self, trial: &Trial) {
        if let (TrialState::Complete, Some(score)) = (trial.state, trial.score) {
            if score.is_finite() {
                self.state.observed.push((trial.arch.clone(), score));
            }
        }
    }

    fn state(&self) -> serde_json::Value {
        serde_json::to_value(&self.state).expect("plain data serialises")
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError> {
        self.state = serde_json::from_value(state).map_err(|e| StrategyError::Restore {
            strategy: "pnas".into(),
            reason: e.to_string(),
        })?;
        Ok(())
    }
}
