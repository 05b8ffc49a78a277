//! Weisfeiler–Lehman subtree features of cell graphs (Shervashidze et al. 2011), as used by
//! NAS-BOWL (Ru et al. 2021): node labels are refined from their in-neighbours' labels, and
//! an architecture is the bag of labels seen at each refinement level. A space without cell
//! graphs (a declared space of choices and numbers) has no graph to refine: each present
//! dimension's value is then one label at every level (floats by tenths of their unit
//! interval), which makes the kernel a normalised count of shared choices.

use archer_space::{Arch, OpGraph, SearchSpace};

/// Sparse label counts per WL level: `levels[l]` is sorted by label.
#[derive(Clone, Debug, PartialEq)]
pub struct WlFeatures {
    pub levels: Vec<Vec<(u64, f64)>>,
}

/// 64-bit FNV-1a: a fixed, dependency-free hash so labels are stable across builds.
fn fnv(parts: &[u64]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

fn initial_label(graph_index: usize, graph: &OpGraph, node: usize) -> u64 {
    let kind = if let Some(op) = graph.labels[node] {
        // Ops are identified by name so that restricted vocabularies agree with full ones.
        let name = &graph.vocabulary[op];
        name.bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
    } else if node == graph.sink {
        1
    } else {
        let source = graph.sources.iter().position(|&s| s == node).unwrap_or(0);
        2 + source as u64
    };
    fnv(&[graph_index as u64, kind])
}

/// WL features with levels `0..=max_level` over all of the architecture's cell graphs.
pub fn wl_features(space: &dyn SearchSpace, arch: &Arch, max_level: usize) -> WlFeatures {
    let mut levels: Vec<Vec<u64>> = vec![Vec::new(); max_level + 1];
    let graphs = space.graphs(arch);
    if graphs.is_empty() {
        let dims = space.dimensions();
        for (i, (d, g)) in dims.iter().zip(&arch.genes).enumerate() {
            let value = match g {
                archer_space::Gene::Index(v) => u64::from(*v),
                archer_space::Gene::Float(_) => 1_000_000 + (d.unit(*g) * 10.0).floor() as u64,
                archer_space::Gene::Absent => continue,
            };
            for level in levels.iter_mut() {
                level.push(fnv(&[u64::MAX, i as u64, value]));
            }
        }
    }
    for (gi, graph) in graphs.iter().enumerate() {
        let n = graph.num_nodes();
        let mut preds = vec![Vec::new(); n];
        for &(a, b) in &graph.edges {
            preds[b].push(a);
        }
        let mut labels: Vec<u64> = (0..n).map(|v| initial_label(gi, graph, v)).collect();
        levels[0].extend(&labels);
        for level in levels.iter_mut().skip(1) {
            let next: Vec<u64> = (0..n)
                .map(|v| {
                    let mut parts: Vec<u64> = preds[v].iter().map(|&p| labels[p]).collect();
                    parts.sort_unstable();
                    parts.insert(0, labels[v]);
                    fnv(&parts)
                })
                .collect();
            labels = next;
            level.extend(&labels);
        }
    }
    WlFeatures {
        levels: levels
            .into_iter()
            .map(|mut ls| {
                ls.sort_unstable();
                let mut counts: Vec<(u64, f64)> = Vec::new();
                for l in ls {
                    match counts.last_mut() {
                        Some((last, c)) if *last == l => *c += 1.0,
                        _ => counts.push((l, 1.0)),
                    }
                }
                counts
            })
            .collect(),
    }
}

/// Dot product of two sorted sparse vectors.
pub fn sparse_dot(a: &[(u64, f64)], b: &[(u64, f64)]) -> f64 {
    let (mut i, mut j, mut s) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                s += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    s
}

impl WlFeatures {
    /// The unnormalised WL kernel using levels `0..=h`.
    pub fn dot(&self, other: &WlFeatures, h: usize) -> f64 {
        (0..=h.min(self.levels.len() - 1))
            .map(|l| sparse_dot(&self.levels[l], &other.levels[l]))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use archer_space::Nb201Space;

    #[test]
    fn same_cell_same_features_and_different_cells_differ() {
        let space = Nb201Space::default();
        let a = space
            .parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
            .unwrap();
        let b = space
            .parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|")
            .unwrap();
        let fa = wl_features(&space, &a, 2);
        assert_eq!(fa, wl_features(&space, &a, 2));
        let fb = wl_features(&space, &b, 2);
        assert_ne!(fa, fb);
        // Level 0 is the bag of node labels: the two cells share all but one op.
        let k0 = fa.dot(&fb, 0);
        assert!(k0 < fa.dot(&fa, 0) && k0 > 0.0);
        // Deeper levels separate them further.
        let norm =
            |x: &WlFeatures, y: &WlFeatures, h| x.dot(y, h) / (x.dot(x, h) * y.dot(y, h)).sqrt();
        assert!(norm(&fa, &fb, 2) < norm(&fa, &fb, 0));
    }
}
