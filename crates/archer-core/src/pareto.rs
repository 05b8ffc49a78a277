//! Several objectives at once: Pareto dominance (with Deb's constrained domination),
//! non-dominated sorting, crowding distance, hypervolume and each point's exclusive
//! hypervolume contribution.
//!
//! Every vector here is *oriented*: higher is better on every axis, as [`crate::Trial::scores`]
//! holds them. A reference point for the hypervolume must be worse than (below) the points
//! that count.

use std::cmp::Ordering;

/// One candidate as the multi-objective code sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point<'a> {
    /// Oriented objective values; may be empty for an infeasible candidate that was never
    /// evaluated.
    pub scores: &'a [f64],
    pub feasible: bool,
    /// Total constraint violation; 0 when feasible.
    pub violation: f64,
}

impl<'a> Point<'a> {
    /// A feasible point.
    pub fn feasible(scores: &'a [f64]) -> Self {
        Point {
            scores,
            feasible: true,
            violation: 0.0,
        }
    }

    /// The point of a finished trial: `None` unless it is COMPLETE (feasible with every
    /// score, or infeasible).
    pub fn of(trial: &'a crate::Trial) -> Option<Self> {
        if trial.state != crate::TrialState::Complete {
            return None;
        }
        if trial.feasible && trial.scores.is_empty() {
            return None;
        }
        Some(Point {
            scores: &trial.scores,
            feasible: trial.feasible,
            violation: trial.violation,
        })
    }
}

/// `a` Pareto-dominates `b`: at least as good on every objective and better on one.
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    let mut better = false;
    for (x, y) in a.iter().zip(b) {
        if x < y {
            return false;
        }
        if x > y {
            better = true;
        }
    }
    better
}

/// Deb's constrained domination: a feasible point beats an infeasible one; between
/// infeasible points the smaller total violation wins; between feasible points, Pareto
/// dominance.
pub fn constrained_dominates(a: &Point, b: &Point) -> bool {
    match (a.feasible, b.feasible) {
        (true, false) => true,
        (false, true) => false,
        (false, false) => a.violation < b.violation,
        (true, true) => dominates(a.scores, b.scores),
    }
}

/// Non-dominated rank of every point under constrained domination (0 = the first front),
/// by Deb's fast non-dominated sort. O(M N²).
pub fn non_dominated_ranks(points: &[Point]) -> Vec<usize> {
    let n = points.len();
    let mut dominated_by_count = vec![0usize; n];
    let mut dominates_list: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..n {
        for j in i + 1..n {
            if constrained_dominates(&points[i], &points[j]) {
                dominates_list[i].push(j);
                dominated_by_count[j] += 1;
            } else if constrained_dominates(&points[j], &points[i]) {
                dominates_list[j].push(i);
                dominated_by_count[i] += 1;
            }
        }
    }
    let mut rank = vec![usize::MAX; n];
    let mut front: Vec<usize> = (0..n).filter(|&i| dominated_by_count[i] == 0).collect();
    let mut r = 0;
    while !front.is_empty() {
        let mut next = Vec::new();
        for &i in &front {
            rank[i] = r;
            for &j in &dominates_list[i] {
                dominated_by_count[j] -= 1;
                if dominated_by_count[j] == 0 {
                    next.push(j);
                }
            }
        }
        front = next;
        r += 1;
    }
    rank
}

/// Indices of the feasible, non-dominated points among `points` (in input order).
///
/// O(N log N + N·F) for a front of F points: in lexicographically descending order a point
/// can be dominated only by points before it, and a point dominated by anything is dominated
/// by a front point, so each point is checked against the front found so far only.
pub fn pareto_front(points: &[&[f64]]) -> Vec<usize> {
    let lexicographic = |a: &[f64], b: &[f64]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| y.total_cmp(x))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    };
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| lexicographic(points[a], points[b]).then(a.cmp(&b)));
    let mut front: Vec<usize> = Vec::new();
    for i in order {
        if !front.iter().any(|&f| dominates(points[f], points[i])) {
            // Never removes anything for finite points; keeps the result exact with NaNs.
            front.retain(|&f| !dominates(points[i], points[f]));
            front.push(i);
        }
    }
    front.sort_unstable();
    front
}

/// The feasible COMPLETE trials among `trials` that no other such trial dominates on their
/// scores, in the order given; duplicates of a front point (same scores) are kept once, the
/// first. What [`crate::History::pareto_front`] returns, for any collection of trials.
pub fn trials_front<'a>(trials: impl Iterator<Item = &'a crate::Trial>) -> Vec<&'a crate::Trial> {
    let candidates: Vec<&crate::Trial> = trials
        .filter(|t| t.state == crate::TrialState::Complete && t.feasible && !t.scores.is_empty())
        .collect();
    let points: Vec<&[f64]> = candidates.iter().map(|t| &t.scores[..]).collect();
    let mut out: Vec<&crate::Trial> = Vec::new();
    for i in pareto_front(&points) {
        if !out.iter().any(|t| t.scores == candidates[i].scores) {
            out.push(candidates[i]);
        }
    }
    out
}

/// NSGA-II's crowding distance of each point of one front: the sum over objectives of the
/// normalised gap between its neighbours; the extremes of each objective get infinity.
// `k` indexes an objective inside every point, not the front itself.
#[allow(clippy::needless_range_loop)]
pub fn crowding_distances(front: &[&[f64]]) -> Vec<f64> {
    let n = front.len();
    let mut distance = vec![0.0; n];
    if n == 0 {
        return distance;
    }
    let m = front[0].len();
    for k in 0..m {
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| front[a][k].total_cmp(&front[b][k]));
        let (lo, hi) = (front[order[0]][k], front[order[n - 1]][k]);
        distance[order[0]] = f64::INFINITY;
        distance[order[n - 1]] = f64::INFINITY;
        let span = hi - lo;
        if span <= 0.0 || !span.is_finite() {
            continue;
        }
        for w in 1..n.saturating_sub(1) {
            let gap = front[order[w + 1]][k] - front[order[w - 1]][k];
            distance[order[w]] += gap / span;
        }
    }
    distance
}

/// The hypervolume dominated by `points` and bounded below by `reference` (every axis
/// higher = better). Points not strictly above the reference on every axis add nothing.
/// Exact, by slicing along the last axis (O(N^(M-1) log N); fine for the few hundred
/// points of a front in two or three objectives).
pub fn hypervolume(points: &[&[f64]], reference: &[f64]) -> f64 {
    let inside: Vec<Vec<f64>> = points
        .iter()
        .filter(|p| p.len() == reference.len() && p.iter().zip(reference).all(|(x, r)| x > r))
        .map(|p| p.to_vec())
        .collect();
    hv_recursive(inside, reference)
}

fn hv_recursive(mut points: Vec<Vec<f64>>, reference: &[f64]) -> f64 {
    let d = reference.len();
    if points.is_empty() || d == 0 {
        return 0.0;
    }
    if d == 1 {
        return points.iter().map(|p| p[0]).fold(f64::MIN, f64::max) - reference[0];
    }
    if d == 2 {
        // Sweep by the first axis, best first; each point adds the strip its second axis
        // rises above the best seen so far.
        points.sort_by(|a, b| b[0].total_cmp(&a[0]).then(b[1].total_cmp(&a[1])));
        let mut volume = 0.0;
        let mut top = reference[1];
        for p in &points {
            if p[1] > top {
                volume += (p[0] - reference[0]) * (p[1] - top);
                top = p[1];
            }
        }
        return volume;
    }
    // Slice along the last axis, from the highest value down: between two consecutive
    // levels, the slab's cross-section is the (d-1)-volume of the points at or above it.
    let last = d - 1;
    points.sort_by(|a, b| b[last].total_cmp(&a[last]));
    let mut volume = 0.0;
    for i in 0..points.len() {
        let upper = points[i][last];
        let lower = points.get(i + 1).map_or(reference[last], |p| p[last]);
        if upper <= lower {
            continue;
        }
        let section: Vec<Vec<f64>> = points[..=i].iter().map(|p| p[..last].to_vec()).collect();
        volume += hv_recursive(section, &reference[..last]) * (upper - lower);
    }
    volume
}

/// Each point's exclusive hypervolume contribution: what the set loses without it
/// (0 for dominated points and duplicates).
pub fn hv_contributions(points: &[&[f64]], reference: &[f64]) -> Vec<f64> {
    let total = hypervolume(points, reference);
    (0..points.len())
        .map(|i| {
            let rest: Vec<&[f64]> = points
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, p)| *p)
                .collect();
            (total - hypervolume(&rest, reference)).max(0.0)
        })
        .collect()
}

/// Orders two points by (rank ascending, then `secondary` descending): how NSGA-II and the
/// multi-objective tournaments pick the better of two.
pub fn better_by_rank(rank_a: usize, sec_a: f64, rank_b: usize, sec_b: f64) -> Ordering {
    rank_b.cmp(&rank_a).then(sec_a.total_cmp(&sec_b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domination_and_constrained_domination() {
        assert!(dominates(&[2.0, 1.0], &[1.0, 1.0]));
        assert!(!dominates(&[1.0, 1.0], &[1.0, 1.0]));
        assert!(!dominates(&[2.0, 0.0], &[1.0, 1.0]));
        let good = Point::feasible(&[0.0, 0.0]);
        let bad = Point {
            scores: &[9.0, 9.0],
            feasible: false,
            violation: 0.5,
        };
        let worse = Point {
            scores: &[],
            feasible: false,
            violation: 1.0,
        };
        assert!(constrained_dominates(&good, &bad));
        assert!(!constrained_dominates(&bad, &good));
        assert!(constrained_dominates(&bad, &worse));
        assert!(!constrained_dominates(&worse, &bad));
    }

    #[test]
    fn fast_sort_ranks_fronts_and_puts_infeasible_last() {
        let s = [
            vec![3.0, 1.0],
            vec![1.0, 3.0],
            vec![2.0, 2.0],
            vec![1.0, 1.0],
            vec![0.0, 0.0],
        ];
        let mut pts: Vec<Point> = s.iter().map(|v| Point::feasible(v)).collect();
        pts.push(Point {
            scores: &[],
            feasible: false,
            violation: 2.0,
        });
        pts.push(Point {
            scores: &[],
            feasible: false,
            violation: 1.0,
        });
        assert_eq!(non_dominated_ranks(&pts), vec![0, 0, 0, 1, 2, 4, 3]);
    }

    #[test]
    fn hypervolume_matches_hand_computed_values() {
        let r = [0.0, 0.0];
        let pts: Vec<&[f64]> = vec![&[1.0, 3.0], &[2.0, 2.0], &[3.0, 1.0]];
        // Staircase: 1*3 + 1*2 + 1*1.
        assert!((hypervolume(&pts, &r) - 6.0).abs() < 1e-12);
        // A dominated point and one outside the reference add nothing.
        let more: Vec<&[f64]> = vec![
            &[1.0, 3.0],
            &[2.0, 2.0],
            &[3.0, 1.0],
            &[1.0, 1.0],
            &[-1.0, 9.0],
        ];
        assert!((hypervolume(&more, &r) - 6.0).abs() < 1e-12);
        // 3-D: two boxes [0,2]x[0,1]x[0,1] and [0,1]x[0,2]x[0,2] overlap in [0,1]^3.
        let r3 = [0.0, 0.0, 0.0];
        let p3: Vec<&[f64]> = vec![&[2.0, 1.0, 1.0], &[1.0, 2.0, 2.0]];
        assert!((hypervolume(&p3, &r3) - (2.0 + 4.0 - 1.0)).abs() < 1e-12);
        assert_eq!(hypervolume(&[], &r3), 0.0);
    }

    #[test]
    fn three_d_hypervolume_agrees_with_monte_carlo_free_grid_count() {
        // Integer points: the volume is the number of unit cubes under the union.
        let pts = [
            [3.0, 1.0, 2.0],
            [1.0, 3.0, 1.0],
            [2.0, 2.0, 3.0],
            [1.0, 1.0, 4.0],
        ];
        let refs: Vec<&[f64]> = pts.iter().map(|p| &p[..]).collect();
        let mut cubes = 0;
        for x in 0..4 {
            for y in 0..4 {
                for z in 0..5 {
                    let c = [x as f64 + 0.5, y as f64 + 0.5, z as f64 + 0.5];
                    if pts.iter().any(|p| p.iter().zip(&c).all(|(a, b)| a > b)) {
                        cubes += 1;
                    }
                }
            }
        }
        assert!((hypervolume(&refs, &[0.0, 0.0, 0.0]) - cubes as f64).abs() < 1e-9);
    }

    #[test]
    fn contributions_and_crowding() {
        let r = [0.0, 0.0];
        let pts: Vec<&[f64]> = vec![&[1.0, 3.0], &[2.0, 2.0], &[3.0, 1.0], &[1.0, 1.0]];
        let c = hv_contributions(&pts, &r);
        assert_eq!(c, vec![1.0, 1.0, 1.0, 0.0]);
        let d = crowding_distances(&pts[..3]);
        assert!(d[0].is_infinite() && d[2].is_infinite());
        assert!((d[1] - 2.0).abs() < 1e-12);
        assert_eq!(pareto_front(&pts), vec![0, 1, 2]);
    }

    #[test]
    fn the_sweep_finds_exactly_the_points_nothing_dominates() {
        // Small integer grids make ties and duplicates common.
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) % 5) as f64
        };
        for m in 1..=3 {
            for n in [0, 1, 2, 7, 40] {
                let data: Vec<Vec<f64>> =
                    (0..n).map(|_| (0..m).map(|_| next()).collect()).collect();
                let pts: Vec<&[f64]> = data.iter().map(|v| &v[..]).collect();
                let brute: Vec<usize> = (0..n)
                    .filter(|&i| !(0..n).any(|j| j != i && dominates(pts[j], pts[i])))
                    .collect();
                assert_eq!(pareto_front(&pts), brute, "m = {m}, n = {n}");
            }
        }
    }
}
