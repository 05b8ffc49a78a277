//! A declared cell's genes as a graph, and the function it computes (for canonical hashes).

use sha2::{Digest, Sha256};

use super::flatten::{CellLayout, NodeInputs};
use super::items::CellOutput;
use crate::{Gene, OpGraph};

/// One possible edge of a cell: from node `from` into node `to` through the op at `op_dim`.
struct Slot {
    from: Option<usize>,
    to: usize,
    /// The op, `None` for the `none_op` (no edge) or an absent cell.
    op: Option<usize>,
    /// The op as chosen, `none_op` included.
    label: Option<usize>,
}

/// Every edge slot of the cell in order (by target node, then input), with what `genes`
/// choose for it; `from`/`op` are `None` where the cell is absent.
fn slots(cell: &CellLayout, genes: &[Gene]) -> Vec<Slot> {
    let none = cell.item.none_op();
    let is_none = |op: usize| none.is_some_and(|n| cell.item.ops.get(op).is_some_and(|o| o == n));
    let mut out = Vec::new();
    for node in &cell.nodes {
        let froms: Vec<Option<usize>> = match &node.inputs {
            NodeInputs::Every => (0..node.id).map(Some).collect(),
            NodeInputs::Chosen { dim, combos } => {
                let set = genes
                    .get(*dim)
                    .and_then(|g| g.index())
                    .and_then(|i| combos.get(usize::from(i)));
                (0..node.op_dims.len())
                    .map(|k| set.and_then(|s| s.get(k).copied()))
                    .collect()
            }
        };
        for (k, &op_dim) in node.op_dims.iter().enumerate() {
            let label = genes.get(op_dim).and_then(|g| g.index()).map(usize::from);
            let op = label.filter(|&op| !is_none(op));
            let from = froms.get(k).copied().flatten();
            out.push(Slot {
                from: op.and(from),
                to: node.id,
                op,
                label,
            });
        }
    }
    out
}

/// The computing nodes whose values form the cell's output.
fn outputs(cell: &CellLayout, slots: &[Slot]) -> Vec<usize> {
    let ids: Vec<usize> = cell.nodes.iter().map(|n| n.id).collect();
    match cell.item.output_mode() {
        CellOutput::Last => ids.last().copied().into_iter().collect(),
        CellOutput::Concat => ids,
        CellOutput::LooseEnds => ids
            .into_iter()
            .filter(|&id| !slots.iter().any(|s| s.from == Some(id)))
            .collect(),
    }
}

/// The cell as a node-labelled DAG: sources, one op node per edge slot (labelled with its
/// op; an edge whose op is the `none_op` has no edges), and the sink. The node count is the
/// same for every architecture, so graph encodings have one width per space.
pub(crate) fn graph(cell: &CellLayout, genes: &[Gene]) -> OpGraph {
    let sources = cell.item.sources;
    let slots = slots(cell, genes);
    let sink = sources + slots.len();
    let mut labels: Vec<Option<usize>> = vec![None; sources];
    let mut edges = Vec::new();
    let outs = outputs(cell, &slots);
    for (i, s) in slots.iter().enumerate() {
        let node = sources + i;
        // A `none` edge keeps its label and has no edges, as NB201's graph does.
        labels.push(s.label);
        let Some(from) = s.from else {
            continue;
        };
        if from < sources {
            edges.push((from, node));
        } else {
            for (j, f) in slots.iter().enumerate() {
                if f.to == from && f.from.is_some() {
                    edges.push((sources + j, node));
                }
            }
        }
        if outs.contains(&s.to) {
            edges.push((node, sink));
        }
    }
    labels.push(None);
    edges.sort_unstable();
    OpGraph {
        labels,
        edges,
        sources: (0..sources).collect(),
        sink,
        vocabulary: cell.item.ops.clone(),
        max_path_ops: cell.nodes.len(),
    }
}

fn short(text: &str) -> String {
    let d = Sha256::digest(text.as_bytes());
    d[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// A digest of the function the cell computes. Each node is a sum, kept as its sorted list of
/// terms: an op applied to a node is one term (the op and the node's terms), the
/// `identity_op` splices its input's terms in (sums are associative), and the `none_op` and
/// zero inputs (nodes with no terms) contribute nothing. So cells that differ only by an order
/// of inputs, by renumbered intermediate nodes, by where an identity sits, or by edges that
/// cannot reach the output digest alike.
pub(crate) fn function_digest(cell: &CellLayout, genes: &[Gene]) -> String {
    let slots = slots(cell, genes);
    let identity = cell.item.identity_op();
    let total = cell.item.sources + cell.nodes.len();
    let mut terms: Vec<Vec<String>> = (0..cell.item.sources)
        .map(|i| vec![format!("in{i}")])
        .collect();
    terms.resize(total, Vec::new());
    for node in &cell.nodes {
        let mut sum: Vec<String> = Vec::new();
        for s in slots.iter().filter(|s| s.to == node.id) {
            let (Some(from), Some(op)) = (s.from, s.op) else {
                continue;
            };
            let input = &terms[from];
            if input.is_empty() {
                continue;
            }
            let name = &cell.item.ops[op];
            if Some(name.as_str()) == identity {
                sum.extend(input.iter().cloned());
            } else {
                sum.push(format!("{name}({})", short(&input.join("+"))));
            }
        }
        sum.sort();
        terms[node.id] = sum;
    }
    let mut out: Vec<String> = outputs(cell, &slots)
        .into_iter()
        .map(|id| terms[id].join("+"))
        .collect();
    out.sort_unstable();
    short(&out.join("|"))
}
