use std::collections::VecDeque;
use std::sync::Arc;

use archer_core::{Arch, Fidelity, History, Trial, TrialState};
use archer_rng::Rng;
use archer_space::SearchSpace;
use serde::{Deserialize, Serialize};

use crate::{Kind, Proposal, Strategy, StrategyError, StrategySettings};

pub(crate) const KIND: Kind<LsConfig> = Kind::new(
    "ls",
    "local search: the best neighbour of the current best, restarting at local optima",
    |c, ctx| {
        Box::new(LocalSearch::new(
            ctx.space,
            ctx.rng,
            c.initial_samples,
            c.restart_samples,
        ))
    },
);

/// `[strategy] name = "ls"`. Defaults follow NASLib's local search (10 initial samples).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LsConfig {
    #[serde(default = "ten")]
    pub initial_samples: usize,
    #[serde(default = "ten")]
    pub restart_samples: usize,
}

fn ten() -> usize {
    10
}

impl StrategySettings for LsConfig {
    fn validate(&self) -> Result<(), String> {
        if self.initial_samples == 0 {
            return Err("strategy.initial_samples must be at least 1".into());
        }
        if self.restart_samples == 0 {
            return Err("strategy.restart_samples must be at least 1".into());
        }
        Ok(())
    }
}

/// Local search proposes every architecture at full fidelity.
const FULL: Fidelity = Fidelity {
    epochs: None,
    data_fraction: None,
    width_multiplier: None,
};

/// Local search as in White, Nolen, Weiss, "Local search is state of the art for NAS
/// benchmarks" (2021): start from the best of `initial_samples` random architectures,
/// evaluate its whole one-edit neighbourhood (in random order), move to the best neighbour if
/// it improves (best improvement), and at a local optimum restart from the best of
/// `restart_samples` new random architectures.
///
/// Decisions are read from the study history, so neighbours evaluated earlier (in another
/// restart) are never paid for twice, and `tell` carries no information it needs. When the
/// neighbourhood is fully proposed but results are still outstanding (parallel workers), it
/// proposes random architectures rather than wait.
pub struct LocalSearch {
    space: Arc<dyn SearchSpace>,
    initial_samples: usize,
    restart_samples: usize,
    state: LsState,
}

#[derive(Clone, Serialize, Deserialize)]
struct Current {
    arch: Arch,
    score: f64,
}

#[derive(Serialize, Deserialize)]
struct LsState {
    rng: Rng,
    restarts: usize,
    /// Hashes of the random architectures proposed for the current (re)start.
    start_hashes: Vec<String>,
    current: Option<Current>,
    /// Hashes of the current architecture's neighbours.
    neighbourhood: Vec<String>,
    /// Neighbours not yet proposed.
    queue: VecDeque<Arch>,
}

impl LocalSearch {
    /// `initial_samples >= 1`, `restart_samples >= 1` (checked by [`LsConfig`]).
    pub fn new(
        space: Arc<dyn SearchSpace>,
        rng: Rng,
        initial_samples: usize,
        restart_samples: usize,
    ) -> Self {
        LocalSearch {
            space,
            initial_samples,
            restart_samples,
            state: LsState {
                rng,
                restarts: 0,
                start_hashes: Vec::new(),
                current: None,
                neighbourhood: Vec::new(),
                queue: VecDeque::new(),
            },
        }
    }

    fn random(&mut self) -> Result<Proposal, StrategyError> {
        Ok(Proposal::full(self.space.sample(&mut self.state.rng)?))
    }

    fn move_to(&mut self, current: Current) {
        let mut neighbours = self.space.neighbours(&current.arch);
        self.state.rng.shuffle(&mut neighbours);
        self.state.neighbourhood = neighbours
            .iter()
            .map(|a| self.space.canonical_hash(a))
            .collect();
        self.state.queue = neighbours.into();
        self.state.current = Some(current);
    }

    fn restart(&mut self) {
        self.state.restarts += 1;
        self.state.current = None;
        self.state.start_hashes.clear();
        self.state.neighbourhood.clear();
        self.state.queue.clear();
    }

    /// The best COMPLETE trial among `hashes`, earliest on ties.
    fn best_of<'h>(history: &'h History, hashes: &[String]) -> Option<&'h Trial> {
        let mut best: Option<&Trial> = None;
        for t in hashes
            .iter()
            .filter_map(|h| history.find_completed(h, &FULL))
        {
            if best.is_none_or(|b| t.score > b.score) {
                best = Some(t);
            }
        }
        best
    }

    fn pending(history: &History, hash: &str) -> bool {
        history.find_completed(hash, &FULL).is_none()
            && history
                .with_hash(hash)
                .any(|t| matches!(t.state, TrialState::Waiting | TrialState::Running))
    }
}

impl Strategy for LocalSearch {
    fn name(&self) -> &str {
        "ls"
    }

    fn ask(&mut self, history: &History) -> Result<Proposal, StrategyError> {
        // Each pass either returns or moves/restarts; a restart always returns on the next
        // pass, so this terminates.
        loop {
            let Some(current) = self.state.current.clone() else {
                let wanted = if self.state.restarts == 0 {
                    self.initial_samples
                } else {
                    self.restart_samples
                };
                if self.state.start_hashes.len() < wanted {
                    let p = self.random()?;
                    self.state
                        .start_hashes
                        .push(self.space.canonical_hash(&p.arch));
                    return Ok(p);
                }
                match Self::best_of(history, &self.state.start_hashes) {
                    Some(t) => {
                        let c = Current {
                            arch: t.arch.clone(),
                            score: t.score.unwrap_or(f64::NEG_INFINITY),
                        };
                        self.move_to(c);
                        continue;
                    }
                    None if self
                        .state
                        .start_hashes
                        .iter()
                        .any(|h| Self::pending(history, h)) =>
                    {
                        return self.random()
                    }
                    None => {
                        // Every start failed: draw new ones.
                        self.state.start_hashes.clear();
                        continue;
                    }
                }
            };
            while let Some(arch) = self.state.queue.pop_front() {
                if !history.is_known(&self.space.canonical_hash(&arch), &FULL) {
                    return Ok(Proposal::full(arch));
                }
            }
            if self
                .state
                .neighbourhood
                .iter()
                .any(|h| Self::pending(history, h))
            {
                return self.random();
            }
            match Self::best_of(history, &self.state.neighbourhood) {
                Some(t) if t.score.is_some_and(|s| s > current.score) => {
                    let next = Current {
                        arch: t.arch.clone(),
                        score: t.score.unwrap_or(f64::NEG_INFINITY),
                    };
                    self.move_to(next);
                }
                _ => self.restart(),
            }
        }
    }

    fn tell(&mut self, _trial: &Trial) {}

    fn state(&self) -> serde_json::Value {
        serde_json::to_value(&self.state).expect("plain data serialises")
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), StrategyError> {
        self.state = serde_json::from_value(state).map_err(|e| StrategyError::restore("ls", e))?;
        Ok(())
    }
}
