//! The DARTS space: a normal and a reduction cell, each with 4 intermediate nodes that take
//! two distinct earlier nodes as inputs through one operation each.

use archer_rng::Rng;

use serde::Deserialize;

use crate::{
    Arch, CellSketch, Dimension, DimensionKind, OpGraph, SearchSpace, Sketch, SketchEdge,
    SpaceError,
};

pub(crate) static KIND: crate::config::Kind<DartsSettings> =
    crate::config::Kind::new("darts", |c| {
        Ok(std::sync::Arc::new(DartsSpace::new(c.ops.as_deref())?))
    });

/// `[space] name = "darts"`: `ops` defaults to the 7 operations other than `none`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DartsSettings {
    #[serde(default)]
    ops: Option<Vec<String>>,
}

/// The 8 DARTS operations, in the DARTS paper's order.
pub const DARTS_OPS: [&str; 8] = [
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
];
const NONE: u16 = 0;
const CELLS: [&str; 2] = ["normal", "reduce"];
const NODES: usize = 4;
/// Dimensions per intermediate node: (input, op) for each of its two slots.
const DIMS_PER_NODE: usize = 4;
const DIMS_PER_CELL: usize = NODES * DIMS_PER_NODE;

/// DARTS normal + reduction cells. By default the discrete search excludes `none`, which a
/// derived DARTS genotype never contains; pass `ops` to change that.
#[derive(Clone, Debug)]
pub struct DartsSpace {
    dims: Vec<Dimension>,
}

impl Default for DartsSpace {
    fn default() -> Self {
        DartsSpace::new(None).expect("the default op set is valid")
    }
}

/// Offset in `Arch::choices` of (cell, node, slot)'s input; the op follows it.
fn slot_offset(cell: usize, node: usize, slot: usize) -> usize {
    cell * DIMS_PER_CELL + node * DIMS_PER_NODE + slot * 2
}

impl DartsSpace {
    pub const NAME: &'static str = "darts";
    pub const VERSION: u32 = 1;

    pub fn new(ops: Option<&[String]>) -> Result<Self, SpaceError> {
        let default: Vec<String> = DARTS_OPS[1..].iter().map(|s| s.to_string()).collect();
        let allowed =
            crate::config::allowed_ops(Self::NAME, &DARTS_OPS, Some(ops.unwrap_or(&default)))?;
        let op_choices: Vec<String> = DARTS_OPS.iter().map(|s| s.to_string()).collect();
        let mut dims = Vec::with_capacity(2 * DIMS_PER_CELL);
        for cell in CELLS {
            for node in 0..NODES {
                let inputs: Vec<String> = (0..node + 2).map(|j| j.to_string()).collect();
                for slot in 0..2 {
                    let n = node + 2;
                    dims.push(Dimension::new(
                        format!("{cell}_node{n}_input{slot}"),
                        DimensionKind::Input,
                        inputs.clone(),
                    ));
                    let mut op = Dimension::new(
                        format!("{cell}_node{n}_op{slot}"),
                        DimensionKind::Op,
                        op_choices.clone(),
                    );
                    op.allowed = allowed.clone();
                    dims.push(op);
                }
            }
        }
        Ok(DartsSpace { dims })
    }

    fn slot(arch: &Arch, cell: usize, node: usize, slot: usize) -> (u16, u16) {
        let o = slot_offset(cell, node, slot);
        (arch.index(o), arch.index(o + 1))
    }
}

impl SearchSpace for DartsSpace {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn version(&self) -> u32 {
        Self::VERSION
    }

    fn describe(&self) -> String {
        let allowed: Vec<&str> = self.dims[1]
            .allowed
            .iter()
            .map(|&i| DARTS_OPS[i as usize])
            .collect();
        format!(
            "DARTS cells (Liu et al., 2019). Two cell types, `normal` and `reduce` (stride 2), \
             each with inputs 0 and 1 (the two previous cells' outputs) and 4 intermediate nodes \
             2..5. Every intermediate node sums two operations applied to two distinct earlier \
             nodes; the cell output concatenates nodes 2..5. Dimensions per node: input0, op0, \
             input1, op1. Operations allowed: {}. Native string: a DARTS `Genotype(normal=[(op, \
             input), ...], normal_concat=range(2, 6), reduce=[...], reduce_concat=range(2, 6))`. \
             Canonical form: the two slots of a node are unordered.",
            allowed.join(", ")
        )
    }

    fn dimensions(&self) -> &[Dimension] {
        &self.dims
    }

    fn is_valid(&self, choices: &[crate::Gene]) -> bool {
        (0..2).all(|cell| {
            (0..NODES).all(|node| {
                choices[slot_offset(cell, node, 0)] != choices[slot_offset(cell, node, 1)]
            })
        })
    }

    fn genes(&self) -> Vec<std::ops::Range<usize>> {
        (0..2 * NODES)
            .map(|g| g * DIMS_PER_NODE..(g + 1) * DIMS_PER_NODE)
            .collect()
    }

    fn size(&self) -> u128 {
        let ops = self.dims[1].allowed.len() as u128;
        let per_cell: u128 = (0..NODES as u128)
            .map(|n| (n + 2) * (n + 1) * ops * ops)
            .product();
        per_cell * per_cell
    }

    fn sample(&self, rng: &mut Rng) -> Result<Arch, SpaceError> {
        let ops = &self.dims[1].allowed;
        let mut choices = Vec::with_capacity(self.dims.len());
        for _cell in 0..2 {
            for node in 0..NODES {
                let a = rng.below(node + 2) as u16;
                let mut b = rng.below(node + 1) as u16;
                if b >= a {
                    b += 1;
                }
                for input in [a, b] {
                    choices.push(input);
                    choices.push(ops[rng.below(ops.len())]);
                }
            }
        }
        Ok(Arch::new(Self::NAME, Self::VERSION, choices))
    }

    fn canonical(&self, arch: &Arch) -> Arch {
        let mut c = arch.indices();
        for cell in 0..2 {
            for node in 0..NODES {
                let mut slots = [
                    Self::slot(arch, cell, node, 0),
                    Self::slot(arch, cell, node, 1),
                ];
                // A `none` slot contributes nothing, so its input is irrelevant: give it the
                // smallest input the other slot does not use.
                for s in 0..2 {
                    if slots[s].1 == NONE {
                        let other = slots[1 - s].0;
                        slots[s].0 = if other == 0 { 1 } else { 0 };
                    }
                }
                slots.sort();
                for (s, (input, op)) in slots.into_iter().enumerate() {
                    let o = slot_offset(cell, node, s);
                    c[o] = input;
                    c[o + 1] = op;
                }
            }
        }
        arch.with_choices(c)
    }

    fn format(&self, arch: &Arch) -> String {
        let cell_list = |cell: usize| {
            let mut items = Vec::new();
            for node in 0..NODES {
                for slot in 0..2 {
                    let (input, op) = Self::slot(arch, cell, node, slot);
                    let op = DARTS_OPS.get(op as usize).copied().unwrap_or("?");
                    items.push(format!("('{op}', {input})"));
                }
            }
            items.join(", ")
        };
        format!(
            "Genotype(normal=[{}], normal_concat=range(2, 6), reduce=[{}], reduce_concat=range(2, 6))",
            cell_list(0),
            cell_list(1)
        )
    }

    fn parse(&self, text: &str) -> Result<Arch, SpaceError> {
        let err = |reason: String| SpaceError::Parse {
            space: Self::NAME.to_string(),
            input: text.to_string(),
            reason,
        };
        let mut choices = Vec::with_capacity(self.dims.len());
        for cell in CELLS {
            let key = format!("{cell}=[");
            let start = text
                .find(&key)
                .ok_or_else(|| err(format!("missing `{key}...]`")))?
                + key.len();
            let len = text[start..]
                .find(']')
                .ok_or_else(|| err(format!("unclosed list after `{key}`")))?;
            let body = &text[start..start + len];
            let pairs: Vec<&str> = body
                .split(')')
                .map(|p| p.trim().trim_start_matches(',').trim())
                .filter(|p| !p.is_empty())
                .collect();
            if pairs.len() != 2 * NODES {
                return Err(err(format!(
                    "{cell} cell needs {} (op, input) pairs, found {}",
                    2 * NODES,
                    pairs.len()
                )));
            }
            for pair in pairs {
                let inner = pair
                    .strip_prefix('(')
                    .ok_or_else(|| err(format!("expected `(op, input)`, found {pair:?}")))?;
                let (op, input) = inner
                    .split_once(',')
                    .ok_or_else(|| err(format!("expected `(op, input)`, found {pair:?}")))?;
                let op = op.trim().trim_matches(|c| c == '\'' || c == '"');
                let op_index = DARTS_OPS.iter().position(|o| *o == op).ok_or_else(|| {
                    SpaceError::UnknownOp {
                        space: Self::NAME.to_string(),
                        op: op.to_string(),
                        accepted: DARTS_OPS.join(", "),
                    }
                })?;
                let input: u16 = input
                    .trim()
                    .parse()
                    .map_err(|_| err(format!("input {:?} is not a node number", input.trim())))?;
                choices.push(input);
                choices.push(op_index as u16);
            }
        }
        let arch = Arch::new(Self::NAME, Self::VERSION, choices);
        self.check(&arch)?;
        Ok(arch)
    }

    /// Each cell as in the DARTS paper: inputs c_{k-2} and c_{k-1}, nodes 2..5 with two
    /// incoming edges each, and the output that concatenates them.
    fn sketch(&self, arch: &Arch) -> Sketch {
        let output = NODES + 2;
        let cells = CELLS
            .iter()
            .enumerate()
            .map(|(cell, name)| {
                let mut edges = Vec::new();
                for node in 0..NODES {
                    for slot in 0..2 {
                        let (input, op) = Self::slot(arch, cell, node, slot);
                        edges.push(SketchEdge {
                            from: usize::from(input),
                            to: node + 2,
                            op: DARTS_OPS.get(op as usize).copied().unwrap_or("?").into(),
                        });
                    }
                    edges.push(SketchEdge {
                        from: node + 2,
                        to: output,
                        op: "concat".into(),
                    });
                }
                let mut nodes = vec!["c_{k-2}".to_string(), "c_{k-1}".to_string()];
                nodes.extend((2..output).map(|n| n.to_string()));
                nodes.push("c_{k}".into());
                CellSketch {
                    name: (*name).into(),
                    nodes,
                    edges,
                }
            })
            .collect();
        Sketch::Cells(cells)
    }

    fn graphs(&self, arch: &Arch) -> Vec<OpGraph> {
        // Per cell: nodes 0 and 1 the cell inputs, 2 + 2n + s the op of node n's slot s,
        // 10 the output (concatenation of all intermediate nodes).
        const SINK: usize = 2 + 2 * NODES;
        (0..2)
            .map(|cell| {
                let mut labels = vec![None, None];
                let mut edges = Vec::new();
                for node in 0..NODES {
                    for slot in 0..2 {
                        let (input, op) = Self::slot(arch, cell, node, slot);
                        let me = 2 + 2 * node + slot;
                        labels.push(Some(op as usize));
                        if op == NONE {
                            continue;
                        }
                        let input = input as usize;
                        if input < 2 {
                            edges.push((input, me));
                        } else {
                            for s in 0..2 {
                                if Self::slot(arch, cell, input - 2, s).1 != NONE {
                                    edges.push((2 + 2 * (input - 2) + s, me));
                                }
                            }
                        }
                        edges.push((me, SINK));
                    }
                }
                labels.push(None);
                edges.sort();
                OpGraph {
                    labels,
                    edges,
                    sources: vec![0, 1],
                    sink: SINK,
                    vocabulary: DARTS_OPS.iter().map(|s| s.to_string()).collect(),
                    max_path_ops: NODES,
                }
            })
            .collect()
    }
}
