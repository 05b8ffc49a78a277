//! Supernet trust: how well a supernet's scores rank architectures against their true
//! accuracies (Kendall's τ, Spearman's ρ, and precision at the top 5 %), on a sample of
//! NAS-Bench-201 cells stratified by their true accuracy. The seeds' warning is not to mistake
//! one-shot rankings for the truth; this is how a run says how far to trust its own. Without
//! a table the sample is drawn uniformly and its truth is a brief retraining (`run.rs`).

use archer_eval::{Nb201Dataset, Nb201Table};
use archer_predict::{kendall_tau, spearman_rho};
use archer_rng::Rng;
use archer_space::{Arch, SearchSpace};

use crate::OneShotError;

/// How well scores rank architectures against the truth.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Trust {
    /// Architectures compared.
    pub cells: usize,
    pub kendall_tau: f64,
    pub spearman_rho: f64,
    /// Of the best 5 % by the truth (at least one), the share that are also in the best 5 %
    /// by the scores.
    pub precision_top5: f64,
}

/// `scores[i]` and `truth[i]` belong to the same architecture.
pub fn trust(scores: &[f64], truth: &[f64]) -> Trust {
    let n = scores.len();
    let k = ((n as f64) * 0.05).ceil().max(1.0) as usize;
    let top = |v: &[f64]| -> Vec<usize> {
        let mut order: Vec<usize> = (0..v.len()).collect();
        order.sort_by(|&a, &b| v[b].total_cmp(&v[a]).then(a.cmp(&b)));
        order.truncate(k);
        order
    };
    let (by_score, by_truth) = (top(scores), top(truth));
    let hits = by_truth.iter().filter(|i| by_score.contains(i)).count();
    Trust {
        cells: n,
        kendall_tau: kendall_tau(scores, truth),
        spearman_rho: spearman_rho(scores, truth),
        precision_top5: if n == 0 {
            f64::NAN
        } else {
            hits as f64 / k as f64
        },
    }
}

/// `n` cells of `table` stratified by their test accuracy on `dataset`: the cells sorted by
/// it, cut into `n` strata of (nearly) equal size, one drawn from each by `rng`. Returns the
/// cells with their test accuracies.
pub fn stratified_sample(
    table: &Nb201Table,
    dataset: Nb201Dataset,
    n: usize,
    rng: &mut Rng,
) -> Result<Vec<(Arch, f64)>, OneShotError> {
    let mut cells: Vec<(Arch, f64)> = table
        .iter()
        .map(|(arch, records)| (arch.clone(), records[dataset_index(dataset)].test_acc))
        .filter(|(_, acc)| acc.is_finite())
        .collect();
    if n == 0 || cells.len() < n {
        return Err(OneShotError::Setting(format!(
            "a sample of {n} cells from a table of {} with accuracies",
            cells.len()
        )));
    }
    cells.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    let m = cells.len();
    Ok((0..n)
        .map(|s| {
            let (lo, hi) = (s * m / n, (s + 1) * m / n);
            cells[lo + rng.below(hi - lo)].clone()
        })
        .collect())
}

/// `n` architectures drawn uniformly from `space` by `rng`, distinct up to the space's
/// isomorphism (fewer when the space has fewer; at most `20·n` draws).
pub fn uniform_sample(
    space: &dyn SearchSpace,
    n: usize,
    rng: &mut Rng,
) -> Result<Vec<Arch>, OneShotError> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(n);
    let mut draws = 0;
    while out.len() < n && draws < n.saturating_mul(20) {
        draws += 1;
        let arch = space
            .sample(rng)
            .map_err(|e| OneShotError::Setting(format!("the trust sample: {e}")))?;
        if seen.insert(space.canonical_hash(&arch)) {
            out.push(arch);
        }
    }
    Ok(out)
}

fn dataset_index(dataset: Nb201Dataset) -> usize {
    Nb201Dataset::ALL
        .iter()
        .position(|&d| d == dataset)
        .expect("one of the three")
}
