//! Expected hypervolume improvement (EHVI) of a candidate over a front, for objectives of
//! which some are known exactly (a latency table, a parameter count) and the others are
//! predicted with uncertainty.
//!
//! Every vector is oriented (higher = better on every axis) as in `archer_core::pareto`.
//! An uncertain axis is given as weighted values (the nodes of a quadrature over the
//! predictive distribution): the expectation is the weighted sum of the exact improvement.
//! With one uncertain axis the improvement is a sum over the cells of the known axes'
//! grid, each contributing `volume × max(0, y − h)`, where `h` is the highest value the
//! front reaches on the uncertain axis over that cell; with several, it is the exact
//! hypervolume difference at every node of the product quadrature.

use archer_core::pareto::hypervolume;

/// One objective of a candidate.
#[derive(Clone, Debug, PartialEq)]
pub enum Axis {
    /// Known before evaluation.
    Known(f64),
    /// Predicted: values with weights that sum to 1.
    Uncertain(Vec<(f64, f64)>),
}

/// A front and reference point prepared for many candidates that share which axes are
/// uncertain.
pub struct Ehvi {
    front: Vec<Vec<f64>>,
    reference: Vec<f64>,
    /// The front's own hypervolume.
    base: f64,
    /// With exactly one uncertain axis: that axis and the cells of the others.
    cells: Option<(usize, Vec<Cell>)>,
}

/// A box of the known axes' grid: `lower < x <= upper` on every known axis, over which
/// the front reaches at most `height` on the uncertain axis.
struct Cell {
    lower: Vec<f64>,
    upper: Vec<f64>,
    height: f64,
}

impl Ehvi {
    /// `front`: the points to improve on (dominated ones may be included); `reference`:
    /// below every point that counts; `uncertain`: which axes candidates will predict.
    pub fn new(front: Vec<Vec<f64>>, reference: Vec<f64>, uncertain: &[bool]) -> Self {
        let front: Vec<Vec<f64>> = front
            .into_iter()
            .filter(|p| p.len() == reference.len() && p.iter().zip(&reference).all(|(x, r)| x > r))
            .collect();
        let unknown: Vec<usize> = (0..uncertain.len()).filter(|&k| uncertain[k]).collect();
        let cells = (unknown.len() == 1).then(|| {
            let u = unknown[0];
            (u, grid_cells(&front, &reference, u))
        });
        let points: Vec<&[f64]> = front.iter().map(|p| p.as_slice()).collect();
        let base = hypervolume(&points, &reference);
        Ehvi {
            front,
            reference,
            base,
            cells,
        }
    }

    /// The expected improvement in hypervolume if `candidate` joined the front.
    pub fn expected(&self, candidate: &[Axis]) -> f64 {
        if let Some((u, cells)) = &self.cells {
            if let Axis::Uncertain(values) = &candidate[*u] {
                let known: Vec<f64> = candidate
                    .iter()
                    .enumerate()
                    .filter(|&(k, _)| k != *u)
                    .map(|(_, a)| match a {
                        Axis::Known(v) => *v,
                        Axis::Uncertain(_) => f64::NAN,
                    })
                    .collect();
                if known.iter().all(|v| v.is_finite()) {
                    return one_uncertain(cells, &known, values);
                }
            }
        }
        self.by_quadrature(candidate)
    }

    /// The weighted mean of the exact improvement over the product of every uncertain
    /// axis's values.
    fn by_quadrature(&self, candidate: &[Axis]) -> f64 {
        let mut total = 0.0;
        let mut point = vec![0.0; candidate.len()];
        let mut visit = |point: &[f64], weight: f64| {
            total += weight * (self.volume_with(point) - self.base).max(0.0);
        };
        product(candidate, 0, &mut point, 1.0, &mut visit);
        total
    }

    /// The hypervolume of the front with `extra` added.
    fn volume_with(&self, extra: &[f64]) -> f64 {
        let mut points: Vec<&[f64]> = self.front.iter().map(|p| p.as_slice()).collect();
        points.push(extra);
        hypervolume(&points, &self.reference)
    }
}

/// Calls `visit` with every combination of the axes' values and its weight.
fn product(
    axes: &[Axis],
    k: usize,
    point: &mut Vec<f64>,
    weight: f64,
    visit: &mut dyn FnMut(&[f64], f64),
) {
    if k == axes.len() {
        visit(point, weight);
        return;
    }
    match &axes[k] {
        Axis::Known(v) => {
            point[k] = *v;
            product(axes, k + 1, point, weight, visit);
        }
        Axis::Uncertain(values) => {
            for &(v, w) in values {
                point[k] = v;
                product(axes, k + 1, point, weight * w, visit);
            }
        }
    }
}

/// The cells of the grid that the front's coordinates cut the known axes into (from the
/// reference up, the last cell open above), each with the front's height on axis `u`.
fn grid_cells(front: &[Vec<f64>], reference: &[f64], u: usize) -> Vec<Cell> {
    let known: Vec<usize> = (0..reference.len()).filter(|&k| k != u).collect();
    let grids: Vec<Vec<f64>> = known
        .iter()
        .map(|&k| {
            let mut g: Vec<f64> = std::iter::once(reference[k])
                .chain(front.iter().map(|p| p[k]))
                .collect();
            g.sort_by(f64::total_cmp);
            g.dedup();
            g.push(f64::INFINITY);
            g
        })
        .collect();
    let mut cells = Vec::new();
    let mut index = vec![0usize; known.len()];
    loop {
        let lower: Vec<f64> = index.iter().zip(&grids).map(|(&i, g)| g[i]).collect();
        let upper: Vec<f64> = index.iter().zip(&grids).map(|(&i, g)| g[i + 1]).collect();
        let height = front
            .iter()
            .filter(|p| known.iter().zip(&upper).all(|(&k, &up)| p[k] >= up))
            .map(|p| p[u])
            .fold(reference[u], f64::max);
        cells.push(Cell {
            lower,
            upper,
            height,
        });
        // Next index, the first axis fastest.
        let mut axis = 0;
        loop {
            if axis == known.len() {
                return cells;
            }
            index[axis] += 1;
            if index[axis] + 1 < grids[axis].len() {
                break;
            }
            index[axis] = 0;
            axis += 1;
        }
    }
}

/// Expected improvement with one uncertain axis taking `values`; `known`: the candidate's
/// other coordinates, in axis order.
fn one_uncertain(cells: &[Cell], known: &[f64], values: &[(f64, f64)]) -> f64 {
    let mut total = 0.0;
    for cell in cells {
        let volume: f64 = cell
            .lower
            .iter()
            .zip(&cell.upper)
            .zip(known)
            .map(|((&lo, &up), &c)| (up.min(c) - lo).max(0.0))
            .product();
        if volume <= 0.0 {
            continue;
        }
        let gain: f64 = values
            .iter()
            .map(|&(y, w)| w * (y - cell.height).max(0.0))
            .sum();
        total += volume * gain;
    }
    total
}

/// Nodes and weights of the `n`-point Gauss-Hermite rule for the standard normal
/// (probabilists'), by the Golub-Welsch eigenvalue method: the nodes are the eigenvalues of
/// the Jacobi matrix with off-diagonal sqrt(1), sqrt(2), ...; each weight is the squared
/// first component of its eigenvector.
pub fn normal_quadrature(n: usize) -> Vec<(f64, f64)> {
    let n = n.max(1);
    let mut jacobi = nalgebra::DMatrix::<f64>::zeros(n, n);
    for i in 1..n {
        let b = (i as f64).sqrt();
        jacobi[(i, i - 1)] = b;
        jacobi[(i - 1, i)] = b;
    }
    let eigen = nalgebra::SymmetricEigen::new(jacobi);
    let mut rule: Vec<(f64, f64)> = (0..n)
        .map(|i| (eigen.eigenvalues[i], eigen.eigenvectors[(0, i)].powi(2)))
        .collect();
    rule.sort_by(|a, b| a.0.total_cmp(&b.0));
    rule
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9 * (1.0 + b.abs())
    }

    #[test]
    fn quadrature_integrates_normal_moments() {
        let rule = normal_quadrature(8);
        let moment = |k: i32| rule.iter().map(|&(z, w)| w * z.powi(k)).sum::<f64>();
        assert!(close(moment(0), 1.0));
        assert!(close(moment(1), 0.0));
        assert!(close(moment(2), 1.0));
        assert!(close(moment(4), 3.0));
        assert!(close(moment(6), 15.0));
    }

    #[test]
    fn a_known_candidate_gains_its_exclusive_volume() {
        let front = vec![vec![0.8, 0.2], vec![0.3, 0.7]];
        let e = Ehvi::new(front, vec![0.0, 0.0], &[false, false]);
        // (0.5, 0.5) adds the box above both points' corners: 0.2 × 0.3.
        assert!(close(
            e.expected(&[Axis::Known(0.5), Axis::Known(0.5)]),
            0.06
        ));
        // A dominated candidate adds nothing.
        assert_eq!(e.expected(&[Axis::Known(0.2), Axis::Known(0.1)]), 0.0);
    }

    #[test]
    fn the_cell_sum_equals_the_exact_improvement_in_two_and_three_dimensions() {
        let fronts = [
            (
                vec![vec![0.8, 0.2], vec![0.3, 0.7], vec![0.55, 0.45]],
                vec![0.0, 0.0],
            ),
            (
                vec![
                    vec![0.8, 0.2, 0.4],
                    vec![0.3, 0.7, 0.5],
                    vec![0.5, 0.5, 0.9],
                    vec![0.6, 0.1, 0.95],
                ],
                vec![0.0, 0.0, 0.0],
            ),
        ];
        let values = vec![(0.2, 0.25), (0.45, 0.25), (0.6, 0.3), (1.1, 0.2)];
        for (front, reference) in fronts {
            let d = reference.len();
            for u in 0..d {
                let mut uncertain = vec![false; d];
                uncertain[u] = true;
                let cells = Ehvi::new(front.clone(), reference.clone(), &uncertain);
                assert!(cells.cells.is_some());
                for known in [0.35, 0.65, 1.2] {
                    let candidate: Vec<Axis> = (0..d)
                        .map(|k| {
                            if k == u {
                                Axis::Uncertain(values.clone())
                            } else {
                                Axis::Known(known - 0.1 * k as f64)
                            }
                        })
                        .collect();
                    let quadrature = cells.by_quadrature(&candidate);
                    let by_cells = cells.expected(&candidate);
                    assert!(
                        close(by_cells, quadrature),
                        "d={d} u={u} known={known}: {by_cells} vs {quadrature}"
                    );
                    assert!(by_cells > 0.0);
                }
            }
        }
    }
}
