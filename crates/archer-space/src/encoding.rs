//! Fixed-length numeric encodings of architectures, for predictors and distances.

use serde::{Deserialize, Serialize};

use crate::{Arch, Domain, Gene, OpGraph, SearchSpace};

/// Which encoding to compute. Every encoding has the same length for all archs of a space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// One-hot of every categorical dimension's choice; integers and floats as their
    /// position in the unit interval; a conditional dimension adds a 1-if-absent entry.
    OneHot,
    /// Per cell graph: upper-triangular adjacency matrix, then a one-hot label per node.
    AdjacencyOps,
    /// Per cell graph: BANANAS path encoding, a 0/1 indicator for every possible
    /// source-to-sink sequence of operations. When the number of possible sequences is
    /// larger than [`PATH_EXACT_LIMIT`], sequences are hashed into [`PATH_HASHED_WIDTH`]
    /// buckets (a truncated/hashed path encoding) and the entry counts the paths.
    Path,
}

/// Largest exact path-encoding width per graph.
pub const PATH_EXACT_LIMIT: usize = 16_384;
/// Width of the hashed path encoding per graph.
pub const PATH_HASHED_WIDTH: usize = 2_048;

pub(crate) fn encode<S: SearchSpace + ?Sized>(
    space: &S,
    arch: &Arch,
    encoding: Encoding,
) -> Vec<f32> {
    let graph_encoding = |f: fn(&OpGraph) -> Vec<f32>| {
        let graphs = space.graphs(arch);
        if graphs.is_empty() {
            one_hot(space.dimensions(), &arch.genes)
        } else {
            graphs.iter().flat_map(f).collect()
        }
    };
    match encoding {
        Encoding::OneHot => one_hot(space.dimensions(), &arch.genes),
        Encoding::AdjacencyOps => graph_encoding(adjacency_ops),
        Encoding::Path => graph_encoding(path_encoding),
    }
}

/// The [`Encoding::OneHot`] of `genes` over `dims`.
pub fn one_hot(dims: &[crate::Dimension], genes: &[Gene]) -> Vec<f32> {
    let mut out = Vec::new();
    for (d, &g) in dims.iter().zip(genes) {
        match d.domain {
            Domain::Categorical => {
                let start = out.len();
                out.resize(start + d.choices.len(), 0.0);
                if let Some(slot) = g.index().and_then(|c| out.get_mut(start + usize::from(c))) {
                    *slot = 1.0;
                }
            }
            Domain::Int { .. } | Domain::Float { .. } => out.push(d.unit(g) as f32),
        }
        if d.is_conditional() {
            out.push(if g.is_absent() { 1.0 } else { 0.0 });
        }
    }
    out
}

fn adjacency_ops(graph: &OpGraph) -> Vec<f32> {
    let n = graph.num_nodes();
    let v = graph.vocabulary.len();
    let mut adj = vec![0.0f32; n * (n - 1) / 2];
    // Row-major upper triangle without the diagonal.
    let index = |a: usize, b: usize| a * n - a * (a + 1) / 2 + (b - a - 1);
    for &(a, b) in &graph.edges {
        adj[index(a, b)] = 1.0;
    }
    let mut ops = vec![0.0f32; n * v];
    for (i, label) in graph.labels.iter().enumerate() {
        if let Some(op) = label {
            ops[i * v + op] = 1.0;
        }
    }
    adj.extend(ops);
    adj
}

/// Number of distinct op sequences of length 1..=max_len over `v` ops, per source;
/// `None` if it overflows.
fn exact_path_width(graph: &OpGraph) -> Option<usize> {
    let v = graph.vocabulary.len();
    let mut total: usize = 0;
    let mut power: usize = 1;
    for _ in 0..graph.max_path_ops {
        power = power.checked_mul(v)?;
        total = total.checked_add(power)?;
    }
    total.checked_mul(graph.sources.len())
}

fn path_encoding(graph: &OpGraph) -> Vec<f32> {
    let v = graph.vocabulary.len();
    match exact_path_width(graph) {
        Some(width) if width <= PATH_EXACT_LIMIT => {
            let per_source = width / graph.sources.len().max(1);
            let mut out = vec![0.0f32; width];
            for (source, ops) in graph.paths() {
                if ops.is_empty() {
                    continue; // a direct input-to-output wire carries no operation
                }
                // Offset of sequences of this length, then the sequence as a base-v number.
                let offset: usize = (1..ops.len()).map(|l| v.pow(l as u32)).sum();
                let index = ops.iter().fold(0usize, |acc, &op| acc * v + op);
                out[source * per_source + offset + index] = 1.0;
            }
            out
        }
        _ => {
            let mut out = vec![0.0f32; PATH_HASHED_WIDTH];
            for (source, ops) in graph.paths() {
                if ops.is_empty() {
                    continue;
                }
                let key =
                    ops.iter().fold(
                        mix(source as u64 + 1),
                        |acc, &op| mix(acc ^ (op as u64 + 1)),
                    );
                out[(key % PATH_HASHED_WIDTH as u64) as usize] += 1.0;
            }
            out
        }
    }
}

/// SplitMix64 finaliser: a stable, well-spread hash step.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
