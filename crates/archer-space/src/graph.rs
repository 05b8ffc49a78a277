use serde::Serialize;

/// A cell as a node-labelled DAG, the form graph encodings and graph kernels work on.
///
/// Nodes are in topological order. `labels[i]` is `None` for a source (cell input) or the
/// sink (cell output) and `Some(op)` for an operation node, `op` indexing `vocabulary`.
/// Edge-labelled cells (NB201, DARTS) are turned into this form by making each edge a node
/// (as NASLib and BANANAS do). A node whose operation is `none` has no edges.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OpGraph {
    pub labels: Vec<Option<usize>>,
    /// `(from, to)` with `from < to`.
    pub edges: Vec<(usize, usize)>,
    pub sources: Vec<usize>,
    pub sink: usize,
    pub vocabulary: Vec<String>,
    /// The most op nodes any path can pass in *this space* (not just this arch), so that
    /// path encodings have one width per space.
    pub max_path_ops: usize,
}

impl OpGraph {
    pub fn num_nodes(&self) -> usize {
        self.labels.len()
    }

    /// Successor lists, indexed by node.
    pub fn successors(&self) -> Vec<Vec<usize>> {
        let mut succ = vec![Vec::new(); self.num_nodes()];
        for &(a, b) in &self.edges {
            succ[a].push(b);
        }
        succ
    }

    /// Every source-to-sink path as `(source position in sources, op labels along it)`.
    pub fn paths(&self) -> Vec<(usize, Vec<usize>)> {
        let succ = self.successors();
        let mut out = Vec::new();
        for (si, &s) in self.sources.iter().enumerate() {
            let mut stack = vec![(s, Vec::new())];
            while let Some((node, ops)) = stack.pop() {
                if node == self.sink {
                    out.push((si, ops));
                    continue;
                }
                for &next in &succ[node] {
                    let mut ops = ops.clone();
                    if let Some(op) = self.labels[next] {
                        ops.push(op);
                    }
                    stack.push((next, ops));
                }
            }
        }
        out.sort();
        out
    }
}
