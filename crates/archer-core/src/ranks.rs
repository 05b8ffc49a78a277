//! Ranks of scores, the scale-free view of results that models fit on.

/// Each value's rank among `values` counted from 0 for the lowest, ties sharing their mean
/// rank (so `[3.0, 1.0, 3.0]` gives `[1.5, 0.0, 1.5]`). NaN sorts above every number.
pub fn mean_ranks(values: &[f64]) -> Vec<f64> {
    let n = values.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut out = vec![0.0; n];
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0;
        for &k in &order[i..=j] {
            out[k] = rank;
        }
        i = j + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_share_their_mean_rank() {
        assert_eq!(mean_ranks(&[3.0, 1.0, 3.0]), vec![1.5, 0.0, 1.5]);
        assert_eq!(mean_ranks(&[0.5, 0.2, 0.9, 0.2]), vec![2.0, 0.5, 3.0, 0.5]);
        assert!(mean_ranks(&[]).is_empty());
    }
}
