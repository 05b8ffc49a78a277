//! A space's dimensions as a sequence of categorical decisions, for the strategies that walk
//! them in order (REINFORCE, the LSTM controllers, NAO): each dimension is one decision
//! among [`actions`] choices, a continuous one among [`FLOAT_BINS`] equal bins of its unit
//! interval, and a dimension whose condition fails takes no decision.

use archer_rng::Rng;
use archer_space::{Arch, Dimension, Gene};

/// A continuous dimension is decided as a categorical over this many equal bins of its unit
/// interval; the value is uniform within the chosen bin.
pub const FLOAT_BINS: usize = 10;

/// Number of choices the decision on `d` has.
pub fn actions(d: &Dimension) -> usize {
    if d.is_float() {
        FLOAT_BINS
    } else {
        d.allowed.len()
    }
}

/// The decision that gives `gene` on `d`: `Some(None)` where the gene is absent (no
/// decision), `None` if the gene is no value a decision could give.
pub fn action_of(d: &Dimension, gene: Gene) -> Option<Option<usize>> {
    match gene {
        Gene::Absent => Some(None),
        Gene::Float(_) if d.is_float() => {
            let bin = (d.unit(gene) * FLOAT_BINS as f64).floor() as usize;
            Some(Some(bin.min(FLOAT_BINS - 1)))
        }
        Gene::Index(c) => d.allowed.iter().position(|&a| a == c).map(Some),
        Gene::Float(_) => None,
    }
}

/// Every dimension's decision for `arch` (see [`action_of`]), `None` if any gene is out of
/// reach or the lengths differ.
pub fn actions_of(dims: &[Dimension], arch: &Arch) -> Option<Vec<Option<usize>>> {
    if arch.genes.len() != dims.len() {
        return None;
    }
    dims.iter()
        .zip(&arch.genes)
        .map(|(d, &g)| action_of(d, g))
        .collect()
}

/// The gene decision `action` gives on `d` (`action < actions(d)`); a continuous value is
/// drawn uniformly within its bin.
pub fn gene_for(d: &Dimension, action: usize, rng: &mut Rng) -> Gene {
    if d.is_float() {
        let within = rng.unit();
        Gene::float(d.float_at((action as f64 + within) / FLOAT_BINS as f64))
    } else {
        Gene::Index(d.allowed[action])
    }
}

/// The index drawn from the probabilities `p` (summing to 1) with `rng`.
pub fn draw_index(p: &[f64], rng: &mut Rng) -> usize {
    let u = rng.unit();
    let mut acc = 0.0;
    for (i, pi) in p.iter().enumerate() {
        acc += pi;
        if u < acc {
            return i;
        }
    }
    p.len() - 1
}
