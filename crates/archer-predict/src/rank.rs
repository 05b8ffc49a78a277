//! Rank correlations, for judging predictors as White et al. (2021) do.

/// Kendall's τ-b between `a` and `b` (ties handled); NaN for fewer than 2 points or a
/// constant input. O(n²), fine for the few thousand held-out points of a benchmark.
pub fn kendall_tau(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "kendall_tau of unequal lengths");
    let n = a.len();
    let (mut concordant, mut discordant, mut ties_a, mut ties_b) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..n {
        for j in i + 1..n {
            let da = a[i].total_cmp(&a[j]) as i64;
            let db = b[i].total_cmp(&b[j]) as i64;
            match (da, db) {
                (0, 0) => {}
                (0, _) => ties_a += 1,
                (_, 0) => ties_b += 1,
                _ if da == db => concordant += 1,
                _ => discordant += 1,
            }
        }
    }
    let n0 = (concordant + discordant + ties_a) as f64;
    let n1 = (concordant + discordant + ties_b) as f64;
    (concordant - discordant) as f64 / (n0 * n1).sqrt()
}

/// Ranks with ties given their average rank (1-based).
fn ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&i, &j| x[i].total_cmp(&x[j]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && x[order[j + 1]] == x[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// Spearman's ρ: the Pearson correlation of the (tie-averaged) ranks.
pub fn spearman_rho(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "spearman_rho of unequal lengths");
    let (ra, rb) = (ranks(a), ranks(b));
    let n = ra.len() as f64;
    let ma = ra.iter().sum::<f64>() / n;
    let mb = rb.iter().sum::<f64>() / n;
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = ra.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(kendall_tau(&a, &a), 1.0);
        assert_eq!(spearman_rho(&a, &a), 1.0);
        let rev = [5.0, 4.0, 3.0, 2.0, 1.0];
        assert_eq!(kendall_tau(&a, &rev), -1.0);
        assert!((spearman_rho(&a, &rev) + 1.0).abs() < 1e-12);
        // scipy.stats.kendalltau([1,2,3,4,5],[3,1,2,5,4]) = 0.4; spearmanr = 0.6
        let b = [3.0, 1.0, 2.0, 5.0, 4.0];
        assert!((kendall_tau(&a, &b) - 0.4).abs() < 1e-12);
        assert!((spearman_rho(&a, &b) - 0.6).abs() < 1e-12);
        // With ties: scipy kendalltau([1,1,2,3],[1,2,2,3]) = 0.8; spearmanr = 5/6
        let (c, d) = ([1.0, 1.0, 2.0, 3.0], [1.0, 2.0, 2.0, 3.0]);
        assert!((kendall_tau(&c, &d) - 0.8).abs() < 1e-12);
        assert!((spearman_rho(&c, &d) - 5.0 / 6.0).abs() < 1e-12);
    }
}
