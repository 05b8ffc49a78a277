//! A space restricted to a finite list of its architectures: the rows of a results table
//! (`[evaluator] space = "rows"`), or the architectures a benchmark has results for.

use std::collections::HashMap;
use std::sync::Arc;

use archer_rng::Rng;

use crate::{Arch, Dimension, Encoding, OpGraph, SearchSpace, SpaceError};

/// How many nearest members stand in for neighbours when no one-edit neighbour is a member.
pub const NEAREST: usize = 8;

/// How many crossovers [`FiniteSpace`] tries before it returns the first parent.
const CROSSOVER_TRIES: usize = 16;

/// `inner` restricted to `members` (up to isomorphism: membership is by canonical hash).
/// Sampling is uniform over the members; neighbours are the inner space's neighbours that
/// are members (else the nearest members); mutation picks one of those; crossover retries
/// until the child is a member.
/// Names, versions, encodings and hashes are the inner space's, so an architecture means the
/// same in both.
#[derive(Debug)]
pub struct FiniteSpace {
    inner: Arc<dyn SearchSpace>,
    members: Vec<Arch>,
    /// The canonical hash of each member, in `members` order.
    hashes: Vec<String>,
    by_hash: HashMap<String, usize>,
    origin: String,
}

impl FiniteSpace {
    /// `members` must be architectures of `inner` (checked); isomorphic duplicates are kept
    /// once. `origin` says where the list came from, for `describe`.
    pub fn new(
        inner: Arc<dyn SearchSpace>,
        members: Vec<Arch>,
        origin: &str,
    ) -> Result<Self, SpaceError> {
        let mut kept = Vec::new();
        let mut hashes = Vec::new();
        let mut by_hash = HashMap::new();
        for a in members {
            inner.check(&a)?;
            let h = inner.canonical_hash(&a);
            if let std::collections::hash_map::Entry::Vacant(e) = by_hash.entry(h.clone()) {
                e.insert(kept.len());
                kept.push(a);
                hashes.push(h);
            }
        }
        if kept.is_empty() {
            return Err(SpaceError::InvalidSetting {
                space: inner.name().to_string(),
                reason: format!("{origin} lists no architecture of the space"),
            });
        }
        Ok(FiniteSpace {
            inner,
            members: kept,
            hashes,
            by_hash,
            origin: origin.to_string(),
        })
    }

    pub fn members(&self) -> &[Arch] {
        &self.members
    }

    pub fn is_member(&self, arch: &Arch) -> bool {
        self.by_hash.contains_key(&self.inner.canonical_hash(arch))
    }
}

impl SearchSpace for FiniteSpace {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn version(&self) -> u32 {
        self.inner.version()
    }

    fn describe(&self) -> String {
        format!(
            "{} Restricted to the {} architectures of {}.",
            self.inner.describe(),
            self.members.len(),
            self.origin
        )
    }

    fn dimensions(&self) -> &[Dimension] {
        self.inner.dimensions()
    }

    fn is_valid(&self, genes: &[crate::Gene]) -> bool {
        self.inner.is_valid(genes)
    }

    fn genes(&self) -> Vec<std::ops::Range<usize>> {
        self.inner.genes()
    }

    fn size(&self) -> u128 {
        self.members.len() as u128
    }

    fn sample(&self, rng: &mut Rng) -> Result<Arch, SpaceError> {
        Ok(self.members[rng.below(self.members.len())].clone())
    }

    fn check(&self, arch: &Arch) -> Result<(), SpaceError> {
        self.inner.check(arch)?;
        if !self.is_member(arch) {
            return Err(SpaceError::NotContained {
                space: self.name().to_string(),
                reason: format!(
                    "{} is not one of the architectures of {}",
                    self.inner.format(arch),
                    self.origin
                ),
            });
        }
        Ok(())
    }

    /// The inner space's neighbours that are members; when none is (float columns, whose
    /// nudged values rarely match a row, or a sparse list), the [`NEAREST`] nearest members
    /// by [`SearchSpace::distance`], ties in list order.
    fn neighbours(&self, arch: &Arch) -> Vec<Arch> {
        let direct: Vec<Arch> = self
            .inner
            .neighbours(arch)
            .into_iter()
            .filter(|n| self.is_member(n))
            .collect();
        if !direct.is_empty() {
            return direct;
        }
        let own = self.inner.canonical_hash(arch);
        let mut by_distance: Vec<(f64, usize)> = self
            .members
            .iter()
            .enumerate()
            .filter(|(i, _)| self.hashes[*i] != own)
            .map(|(i, m)| (self.inner.distance(arch, m), i))
            .collect();
        by_distance.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        by_distance
            .into_iter()
            .take(NEAREST)
            .map(|(_, i)| self.members[i].clone())
            .collect()
    }

    fn mutate(&self, arch: &Arch, rng: &mut Rng) -> Arch {
        let mut all = self.neighbours(arch);
        if all.is_empty() {
            return arch.clone();
        }
        let i = rng.below(all.len());
        all.swap_remove(i)
    }

    fn crossover(&self, a: &Arch, b: &Arch, rng: &mut Rng) -> Arch {
        for _ in 0..CROSSOVER_TRIES {
            let child = self.inner.crossover(a, b, rng);
            if self.is_member(&child) {
                return child;
            }
        }
        a.clone()
    }

    fn canonical(&self, arch: &Arch) -> Arch {
        self.inner.canonical(arch)
    }

    fn canonical_hash(&self, arch: &Arch) -> String {
        self.inner.canonical_hash(arch)
    }

    fn distance(&self, a: &Arch, b: &Arch) -> f64 {
        self.inner.distance(a, b)
    }

    fn labelled(&self, arch: &Arch) -> serde_json::Value {
        self.inner.labelled(arch)
    }

    fn format(&self, arch: &Arch) -> String {
        self.inner.format(arch)
    }

    fn parse(&self, text: &str) -> Result<Arch, SpaceError> {
        self.inner.parse(text)
    }

    fn graphs(&self, arch: &Arch) -> Vec<OpGraph> {
        self.inner.graphs(arch)
    }

    fn encode(&self, arch: &Arch, encoding: Encoding) -> Vec<f32> {
        self.inner.encode(arch, encoding)
    }
}
