//! Finalists: the architectures a method ranks best, to be trained from scratch briefly so
//! that the best *trained* one wins (the correction the seeds recommend against trusting a
//! supernet's ranking). A method that learns a distribution over each edge's candidates
//! (DARTS, GDAS, SNAS, DrNAS) ranks architectures by their probability under it: the edges
//! are independent, so the most probable architectures come from an exact best-first
//! enumeration of the per-edge choices, without scoring all of the space.

use std::collections::{BinaryHeap, HashSet};

use archer_space::{Arch, SearchSpace};
use serde::{Deserialize, Serialize};

/// One finalist as a search outcome records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finalist {
    /// 0 for the method's own choice, then in the method's order.
    pub rank: usize,
    pub arch: Arch,
    pub genotype: String,
    /// The method's score of it: the log-probability under the final distribution
    /// (α-methods) or the inherited validation accuracy (RSPS, SPOS, ENAS; a fraction).
    pub score: f64,
}

/// A partial choice in the enumeration: `ranks[e]` is the position of edge `e`'s candidate
/// in that edge's order (0 = its most probable).
#[derive(Debug)]
struct Entry {
    log_prob: f64,
    ranks: Vec<usize>,
    /// The last edge whose rank is above 0 (0 when none): successors only raise edges from
    /// here on, so that every choice is reached from exactly one parent.
    last: usize,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    /// More probable first; among equals, the lexicographically smaller ranks (a fixed order).
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.log_prob
            .total_cmp(&other.log_prob)
            .then_with(|| other.ranks.cmp(&self.ranks))
    }
}

/// The choices of independent rows of probabilities (`probs[e][k]`: edge `e` takes
/// candidate `k`) from the most probable down, each with its log-probability: an exact
/// best-first enumeration. Within a row, ties go to the lower candidate index, so the first
/// choice is every row's first maximum (libtorch's `argmax`).
pub struct MostProbable {
    /// Each row's candidate indices, most probable first, with their log-probabilities.
    order: Vec<Vec<(usize, f64)>>,
    heap: BinaryHeap<Entry>,
}

impl MostProbable {
    /// From probabilities (`probs[e][k] ≥ 0`), ranked by their logarithms.
    pub fn new(probs: &[Vec<f64>]) -> Self {
        let logs: Vec<Vec<f64>> = probs
            .iter()
            .map(|row| row.iter().map(|&p| p.max(0.0).ln()).collect())
            .collect();
        Self::from_log(&logs)
    }

    /// From log-scores (`scores[e][k]`: the log-probability of row `e` taking candidate `k`;
    /// −∞ for an impossible one): the choices by the sum of their rows' scores.
    pub fn from_log(scores: &[Vec<f64>]) -> Self {
        let order: Vec<Vec<(usize, f64)>> = scores
            .iter()
            .map(|row| {
                let mut v: Vec<(usize, f64)> = row.iter().copied().enumerate().collect();
                v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                v
            })
            .collect();
        let mut heap = BinaryHeap::new();
        if !order.is_empty() && order.iter().all(|r| !r.is_empty()) {
            heap.push(Entry {
                log_prob: order.iter().map(|r| r[0].1).sum(),
                ranks: vec![0; order.len()],
                last: 0,
            });
        }
        MostProbable { order, heap }
    }
}

impl Iterator for MostProbable {
    /// Per row the candidate index, and the choice's log-probability.
    type Item = (Vec<usize>, f64);

    fn next(&mut self) -> Option<Self::Item> {
        let e = self.heap.pop()?;
        for row in e.last..self.order.len() {
            let r = e.ranks[row] + 1;
            if r < self.order[row].len() {
                let mut ranks = e.ranks.clone();
                ranks[row] = r;
                let log_prob = ranks
                    .iter()
                    .zip(&self.order)
                    .map(|(&r, row)| row[r].1)
                    .sum();
                self.heap.push(Entry {
                    log_prob,
                    ranks,
                    last: row,
                });
            }
        }
        let choice = e
            .ranks
            .iter()
            .zip(&self.order)
            .map(|(&r, row)| row[r].0)
            .collect();
        Some((choice, e.log_prob))
    }
}

/// The `k` most probable architectures that are distinct up to the space's isomorphism,
/// best first, each with its log-probability: `log_scores` as [`MostProbable::from_log`]
/// takes them, and `arch_of` turns a per-row choice into an architecture. Enumerates at
/// most `100·k` choices.
pub fn most_probable_distinct(
    log_scores: &[Vec<f64>],
    k: usize,
    space: &dyn SearchSpace,
    arch_of: impl Fn(&[usize]) -> Arch,
) -> Vec<(Arch, f64)> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (choice, log_prob) in MostProbable::from_log(log_scores).take(k.saturating_mul(100)) {
        if out.len() == k {
            break;
        }
        let arch = arch_of(&choice);
        if seen.insert(space.canonical_hash(&arch)) {
            out.push((arch, log_prob));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use archer_rng::Rng;

    /// Every choice of `rows` rows of `k` candidates with its log-probability, by brute force.
    fn all_choices(probs: &[Vec<f64>]) -> Vec<(Vec<usize>, f64)> {
        let k = probs[0].len();
        let n = k.pow(probs.len() as u32);
        (0..n)
            .map(|mut code| {
                let choice: Vec<usize> = (0..probs.len())
                    .map(|_| {
                        let c = code % k;
                        code /= k;
                        c
                    })
                    .collect();
                let lp = choice.iter().zip(probs).map(|(&c, row)| row[c].ln()).sum();
                (choice, lp)
            })
            .collect()
    }

    #[test]
    fn the_enumeration_visits_every_choice_once_from_the_most_probable_down() {
        let mut rng = Rng::derive(7, 0);
        for _ in 0..20 {
            let probs: Vec<Vec<f64>> = (0..4)
                .map(|_| {
                    let raw: Vec<f64> = (0..3).map(|_| rng.unit() + 1e-3).collect();
                    let total: f64 = raw.iter().sum();
                    raw.iter().map(|p| p / total).collect()
                })
                .collect();
            let got: Vec<(Vec<usize>, f64)> = MostProbable::new(&probs).collect();
            let mut want = all_choices(&probs);
            assert_eq!(got.len(), want.len(), "each of the 81 choices once");
            let mut seen: Vec<Vec<usize>> = got.iter().map(|(c, _)| c.clone()).collect();
            seen.sort();
            seen.dedup();
            assert_eq!(seen.len(), want.len(), "no choice twice");
            want.sort_by(|a, b| b.1.total_cmp(&a.1));
            for (i, ((_, g), (_, w))) in got.iter().zip(&want).enumerate() {
                assert!((g - w).abs() < 1e-12, "position {i}: {g} against {w}");
            }
            // The first is every row's argmax.
            let argmax: Vec<usize> = probs
                .iter()
                .map(|r| (0..3).fold(0, |b, i| if r[i] > r[b] { i } else { b }))
                .collect();
            assert_eq!(got[0].0, argmax);
        }
    }
}
