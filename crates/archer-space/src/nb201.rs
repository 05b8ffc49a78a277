//! The NAS-Bench-201 cell: 4 nodes, 6 edges, 5 operations, 15,625 cells.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::{
    Arch, CellSketch, Dimension, DimensionKind, OpGraph, SearchSpace, Sketch, SketchEdge,
    SpaceError,
};

pub(crate) static KIND: crate::config::Kind<Nb201Settings> =
    crate::config::Kind::new("nb201", |c| {
        Ok(std::sync::Arc::new(Nb201Space::new(c.ops.as_deref())?))
    });

/// `[space] name = "nb201"`: `ops` restricts the operations (default: all 5).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Nb201Settings {
    #[serde(default)]
    ops: Option<Vec<String>>,
}

/// Operation vocabulary, in the NAS-Bench-201 paper's order. `Arch` choices index into it.
pub const NB201_OPS: [&str; 5] = [
    "none",
    "skip_connect",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
];
const NONE: u16 = 0;

/// Edges `(from, to)` in the order of the official arch string and of `Arch::choices`.
pub const NB201_EDGES: [(usize, usize); 6] = [(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)];

/// The NAS-Bench-201 cell space, optionally restricted to a subset of its operations.
#[derive(Clone, Debug)]
pub struct Nb201Space {
    dims: Vec<Dimension>,
}

impl Default for Nb201Space {
    fn default() -> Self {
        Nb201Space::new(None).expect("the full op set is valid")
    }
}

impl Nb201Space {
    pub const NAME: &'static str = "nb201";
    pub const VERSION: u32 = 1;

    /// `ops`: the operations the search may use (all five when `None`).
    pub fn new(ops: Option<&[String]>) -> Result<Self, SpaceError> {
        let allowed = crate::config::allowed_ops(Self::NAME, &NB201_OPS, ops)?;
        let choices: Vec<String> = NB201_OPS.iter().map(|s| s.to_string()).collect();
        let dims = NB201_EDGES
            .iter()
            .map(|(a, b)| {
                let mut d =
                    Dimension::new(format!("edge_{a}_{b}"), DimensionKind::Op, choices.clone());
                d.allowed = allowed.clone();
                d
            })
            .collect();
        Ok(Nb201Space { dims })
    }

    /// The op name on each edge, in string order.
    pub fn ops_of<'a>(&self, arch: &'a Arch) -> impl Iterator<Item = &'static str> + 'a {
        arch.genes.iter().map(|g| {
            NB201_OPS
                .get(usize::from(g.index_or_max()))
                .copied()
                .unwrap_or("?")
        })
    }

    /// Position of `arch` in base-5 over edge order; a dense key in `0..15625` for lookups.
    pub fn dense_index(arch: &Arch) -> usize {
        arch.genes
            .iter()
            .fold(0usize, |acc, g| acc * 5 + usize::from(g.index_or_max()))
    }
}

/// The cell's function as an expression. It follows NAS-Bench-201's
/// `Structure.to_unique_str(consider_zero=True)` (`skip_connect` is the identity, `none` and
/// anything fed only by zeros is zero, each node is the sorted sum of its inputs) and also
/// drops zero terms from sums (x + 0 = x). Two cells build the same function iff their
/// strings are equal. NB201's own string keeps the zero terms, so it tells apart some cells
/// that differ only by swapping the branches through nodes 1 and 2; it counts 6,466 classes,
/// this one 5,390.
pub fn nb201_function_string(choices: &[u16]) -> String {
    let mut nodes: Vec<String> = vec!["0".to_string()];
    for target in 1..4 {
        let mut terms: Vec<String> = NB201_EDGES
            .iter()
            .enumerate()
            .filter(|(_, &(_, to))| to == target)
            .filter_map(|(e, &(from, _))| {
                let input = &nodes[from];
                match NB201_OPS[choices[e] as usize] {
                    "none" => None,
                    _ if input == ZERO => None,
                    "skip_connect" => Some(input.clone()),
                    op => Some(format!("({input})@{op}")),
                }
            })
            .collect();
        terms.sort();
        nodes.push(if terms.is_empty() {
            ZERO.to_string()
        } else {
            terms.join("+")
        });
    }
    nodes.pop().unwrap_or_default()
}

const ZERO: &str = "#";

/// Function string -> smallest choice vector with that function, over all 15,625 cells.
fn representatives() -> &'static HashMap<String, Vec<u16>> {
    static TABLE: OnceLock<HashMap<String, Vec<u16>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table: HashMap<String, Vec<u16>> = HashMap::new();
        // Enumerating in increasing base-5 order makes the first one seen the smallest.
        for index in 0..5usize.pow(6) {
            let choices: Vec<u16> = (0..6)
                .rev()
                .map(|p| ((index / 5usize.pow(p)) % 5) as u16)
                .collect();
            table
                .entry(nb201_function_string(&choices))
                .or_insert(choices);
        }
        table
    })
}

impl SearchSpace for Nb201Space {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn version(&self) -> u32 {
        Self::VERSION
    }

    fn describe(&self) -> String {
        let allowed: Vec<&str> = self.dims[0]
            .allowed
            .iter()
            .map(|&i| NB201_OPS[i as usize])
            .collect();
        format!(
            "NAS-Bench-201 cell (Dong & Yang, 2020). A DAG of 4 nodes: node 0 is the cell input, \
             node 3 its output, and each node sums one operation applied to every earlier node, \
             so the cell has 6 edges (0→1, 0→2, 1→2, 0→3, 1→3, 2→3), each choosing one of: {}. \
             The network stacks 3 stages of 5 cells (C=16, 32, 64) with residual reduction blocks. \
             Native string: |op~0|+|op~0|op~1|+|op~0|op~1|op~2|, where op~j in group k is the \
             edge j→k. Canonical form (as NB201's unique string): skip_connect is the identity, \
             none is zero and sums are unordered, so edges that cannot reach the output and \
             swapped branches hash alike; 15,625 cells form 5,390 classes (NB201's string, which keeps zero terms, gives 6,466).",
            allowed.join(", ")
        )
    }

    fn dimensions(&self) -> &[Dimension] {
        &self.dims
    }

    /// The smallest cell (in choice order) computing the same function, per
    /// [`nb201_function_string`]. It may use an op a restricted space excludes.
    fn canonical(&self, arch: &Arch) -> Arch {
        match representatives().get(&nb201_function_string(&arch.indices())) {
            Some(rep) => arch.with_choices(rep.clone()),
            None => arch.clone(),
        }
    }

    fn format(&self, arch: &Arch) -> String {
        let op = |e: usize| {
            NB201_OPS
                .get(usize::from(arch.index(e)))
                .copied()
                .unwrap_or("?")
        };
        format!(
            "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|",
            op(0),
            op(1),
            op(2),
            op(3),
            op(4),
            op(5)
        )
    }

    fn parse(&self, text: &str) -> Result<Arch, SpaceError> {
        let err = |reason: String| SpaceError::Parse {
            space: Self::NAME.to_string(),
            input: text.to_string(),
            reason,
        };
        let groups: Vec<&str> = text.trim().split('+').collect();
        if groups.len() != 3 {
            return Err(err(format!(
                "expected 3 groups separated by '+', found {}",
                groups.len()
            )));
        }
        let mut choices = Vec::with_capacity(6);
        for (k, group) in groups.iter().enumerate() {
            let inner = group
                .strip_prefix('|')
                .and_then(|g| g.strip_suffix('|'))
                .ok_or_else(|| err(format!("group {} must start and end with '|'", k + 1)))?;
            let tokens: Vec<&str> = inner.split('|').collect();
            if tokens.len() != k + 1 {
                return Err(err(format!(
                    "group {} needs {} edges, found {}",
                    k + 1,
                    k + 1,
                    tokens.len()
                )));
            }
            for (j, tok) in tokens.iter().enumerate() {
                let (op, from) = tok
                    .split_once('~')
                    .ok_or_else(|| err(format!("edge {tok:?} is not of the form op~j")))?;
                if from != j.to_string() {
                    return Err(err(format!(
                        "edge {tok:?} in group {} should come from node {j}",
                        k + 1
                    )));
                }
                let index = NB201_OPS.iter().position(|o| *o == op).ok_or_else(|| {
                    SpaceError::UnknownOp {
                        space: Self::NAME.to_string(),
                        op: op.to_string(),
                        accepted: NB201_OPS.join(", "),
                    }
                })?;
                choices.push(index as u16);
            }
        }
        // Reorder from string order (group by target) to NB201_EDGES order: they coincide.
        let arch = Arch::new(Self::NAME, Self::VERSION, choices);
        self.check(&arch)?;
        Ok(arch)
    }

    /// The cell as drawn in the NAS-Bench-201 paper: nodes 0..3, six edges with their ops.
    fn sketch(&self, arch: &Arch) -> Sketch {
        let edges = NB201_EDGES
            .iter()
            .zip(self.ops_of(arch))
            .map(|(&(from, to), op)| SketchEdge {
                from,
                to,
                op: op.to_string(),
            })
            .collect();
        Sketch::Cells(vec![CellSketch {
            name: "cell".into(),
            nodes: (0..4).map(|n| n.to_string()).collect(),
            edges,
        }])
    }

    fn graphs(&self, arch: &Arch) -> Vec<OpGraph> {
        // Line graph: node 0 input, nodes 1..=6 the edges in order, node 7 output.
        let mut edges = Vec::new();
        let on = |e: usize| arch.index(e) != NONE;
        for (e, &(from, to)) in NB201_EDGES.iter().enumerate() {
            if !on(e) {
                continue;
            }
            if from == 0 {
                edges.push((0, e + 1));
            } else {
                for (f, &(_, f_to)) in NB201_EDGES.iter().enumerate() {
                    if f_to == from && on(f) {
                        edges.push((f + 1, e + 1));
                    }
                }
            }
            if to == 3 {
                edges.push((e + 1, 7));
            }
        }
        edges.sort();
        let mut labels = vec![None];
        labels.extend(
            arch.genes
                .iter()
                .map(|g| Some(usize::from(g.index_or_max()))),
        );
        labels.push(None);
        vec![OpGraph {
            labels,
            edges,
            sources: vec![0],
            sink: 7,
            vocabulary: NB201_OPS.iter().map(|s| s.to_string()).collect(),
            max_path_ops: 3,
        }]
    }
}
