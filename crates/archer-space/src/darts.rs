//! The DARTS space: a normal and a reduction cell, each with 4 intermediate nodes (by
//! default) that take two distinct earlier nodes as inputs through one operation each.
//!
//! With `min_nodes` below `nodes`, the number of intermediate nodes is itself a decision:
//! the first dimension, `nodes` (a depth), and node `n`'s dimensions exist only where it
//! is above `n`. Both cells have that many nodes. This is the space that grows by blocks,
//! as PNAS searches it.

use archer_rng::Rng;

use serde::Deserialize;

use crate::{
    Arch, CellSketch, Dimension, DimensionKind, Gene, OpGraph, SearchSpace, Sketch, SketchEdge,
    SpaceError,
};

pub(crate) static KIND: crate::config::Kind<DartsSettings> =
    crate::config::Kind::new("darts", |c| {
        Ok(std::sync::Arc::new(DartsSpace::with_nodes(
            c.ops.as_deref(),
            c.nodes,
            c.min_nodes,
        )?))
    });

/// `[space] name = "darts"`: `ops` defaults to the 7 operations other than `none`, `nodes`
/// to 4, `min_nodes` to `nodes` (a fixed number of nodes).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DartsSettings {
    #[serde(default)]
    ops: Option<Vec<String>>,
    #[serde(default)]
    nodes: Option<usize>,
    #[serde(default)]
    min_nodes: Option<usize>,
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
/// Intermediate nodes per cell in DARTS.
const DEFAULT_NODES: usize = 4;
/// The most intermediate nodes a cell may have.
const MAX_DARTS_NODES: usize = 8;
/// Dimensions per intermediate node: (input, op) for each of its two slots.
const DIMS_PER_NODE: usize = 4;

/// One cell's intermediate nodes as `(input, op)` pairs, two per node, in node order; `op`
/// indexes [`DARTS_OPS`].
pub type DartsGenotypeCell = Vec<(u16, u16)>;

/// DARTS normal + reduction cells. By default the discrete search excludes `none`, which a
/// derived DARTS genotype never contains; pass `ops` to change that.
#[derive(Clone, Debug)]
pub struct DartsSpace {
    dims: Vec<Dimension>,
    /// The most intermediate nodes per cell.
    nodes: usize,
    /// The fewest; equal to `nodes` when the count is fixed (no `nodes` dimension).
    min_nodes: usize,
}

impl Default for DartsSpace {
    fn default() -> Self {
        DartsSpace::new(None).expect("the default op set is valid")
    }
}

impl DartsSpace {
    pub const NAME: &'static str = "darts";
    pub const VERSION: u32 = 1;

    /// The DARTS space with 4 nodes per cell.
    pub fn new(ops: Option<&[String]>) -> Result<Self, SpaceError> {
        Self::with_nodes(ops, None, None)
    }

    /// `nodes` (default 4) intermediate nodes per cell, or between `min_nodes` and `nodes`
    /// when `min_nodes` is given and smaller.
    pub fn with_nodes(
        ops: Option<&[String]>,
        nodes: Option<usize>,
        min_nodes: Option<usize>,
    ) -> Result<Self, SpaceError> {
        let invalid = |reason: String| SpaceError::InvalidSetting {
            space: Self::NAME.into(),
            reason,
        };
        let nodes = nodes.unwrap_or(DEFAULT_NODES);
        if !(1..=MAX_DARTS_NODES).contains(&nodes) {
            return Err(invalid(format!(
                "nodes = {nodes}; accepted: 1 to {MAX_DARTS_NODES}"
            )));
        }
        let min_nodes = min_nodes.unwrap_or(nodes);
        if !(1..=nodes).contains(&min_nodes) {
            return Err(invalid(format!(
                "min_nodes = {min_nodes}; accepted: 1 to nodes ({nodes})"
            )));
        }
        let default: Vec<String> = DARTS_OPS[1..].iter().map(|s| s.to_string()).collect();
        let allowed =
            crate::config::allowed_ops(Self::NAME, &DARTS_OPS, Some(ops.unwrap_or(&default)))?;
        let op_choices: Vec<String> = DARTS_OPS.iter().map(|s| s.to_string()).collect();
        let mut dims = Vec::with_capacity(1 + 2 * nodes * DIMS_PER_NODE);
        let growing = min_nodes < nodes;
        if growing {
            dims.push(Dimension::int(
                "nodes",
                DimensionKind::Depth,
                min_nodes as i64,
                nodes as i64,
                1,
            ));
        }
        for cell in CELLS {
            for node in 0..nodes {
                // Node `node` exists where the `nodes` dimension is above it.
                let when = if growing && node >= min_nodes {
                    vec![crate::generic::block_exists(node, min_nodes, nodes)]
                } else {
                    Vec::new()
                };
                let inputs: Vec<String> = (0..node + 2).map(|j| j.to_string()).collect();
                for slot in 0..2 {
                    let n = node + 2;
                    dims.push(
                        Dimension::new(
                            format!("{cell}_node{n}_input{slot}"),
                            DimensionKind::Input,
                            inputs.clone(),
                        )
                        .when(when.clone()),
                    );
                    let mut op = Dimension::new(
                        format!("{cell}_node{n}_op{slot}"),
                        DimensionKind::Op,
                        op_choices.clone(),
                    )
                    .when(when.clone());
                    op.allowed = allowed.clone();
                    dims.push(op);
                }
            }
        }
        Ok(DartsSpace {
            dims,
            nodes,
            min_nodes,
        })
    }

    /// Whether the number of nodes is a decision (the first dimension).
    fn growing(&self) -> bool {
        self.min_nodes < self.nodes
    }

    /// Offset in the genes of (cell, node, slot)'s input; the op follows it.
    fn slot_offset(&self, cell: usize, node: usize, slot: usize) -> usize {
        usize::from(self.growing())
            + cell * self.nodes * DIMS_PER_NODE
            + node * DIMS_PER_NODE
            + slot * 2
    }

    /// Where the first operation dimension is (for `describe`).
    fn first_op(&self) -> usize {
        self.slot_offset(0, 0, 0) + 1
    }

    /// How many intermediate nodes `genes` has.
    fn active_nodes(&self, genes: &[Gene]) -> usize {
        if self.growing() {
            self.min_nodes + usize::from(genes[0].index().unwrap_or(0))
        } else {
            self.nodes
        }
    }

    fn slot(&self, arch: &Arch, cell: usize, node: usize, slot: usize) -> (u16, u16) {
        let o = self.slot_offset(cell, node, slot);
        (arch.index(o), arch.index(o + 1))
    }

    /// Gives node `node` of `cell` two distinct random inputs and random allowed operations.
    fn draw_node(&self, genes: &mut [Gene], cell: usize, node: usize, rng: &mut Rng) {
        let ops = &self.dims[self.first_op()].allowed;
        let a = rng.below(node + 2) as u16;
        let mut b = rng.below(node + 1) as u16;
        if b >= a {
            b += 1;
        }
        for (slot, input) in [a, b].into_iter().enumerate() {
            let o = self.slot_offset(cell, node, slot);
            genes[o] = Gene::Index(input);
            genes[o + 1] = Gene::Index(ops[rng.below(ops.len())]);
        }
    }

    /// The `(input, op)` pairs of both cells (normal, then reduce) of a contained `arch`.
    pub fn cells(&self, arch: &Arch) -> [DartsGenotypeCell; 2] {
        cell_pairs(&self.dims, &arch.genes)
    }
}

/// The `(input, op)` genes in dimension order, skipping the `nodes` depth and absent nodes,
/// split into the normal and the reduction cell.
fn cell_pairs(dims: &[Dimension], genes: &[Gene]) -> [DartsGenotypeCell; 2] {
    let present: Vec<u16> = dims
        .iter()
        .zip(genes)
        .filter(|(d, _)| matches!(d.kind, DimensionKind::Input | DimensionKind::Op))
        .filter_map(|(_, g)| g.index())
        .collect();
    let pairs: Vec<(u16, u16)> = present.chunks(2).map(|p| (p[0], p[1])).collect();
    let half = pairs.len() / 2;
    [pairs[..half].to_vec(), pairs[half..].to_vec()]
}

/// The cells of `arch` in the DARTS space `space` (a space named `darts`), for code that
/// holds the space as a trait object; checks `arch` against `space`.
pub fn darts_cells(
    space: &dyn SearchSpace,
    arch: &Arch,
) -> Result<[DartsGenotypeCell; 2], SpaceError> {
    if space.name() != DartsSpace::NAME {
        return Err(SpaceError::WrongSpace {
            expected: DartsSpace::NAME.into(),
            expected_version: DartsSpace::VERSION,
            found: space.name().into(),
            found_version: space.version(),
        });
    }
    space.check(arch)?;
    Ok(cell_pairs(space.dimensions(), &arch.genes))
}

impl SearchSpace for DartsSpace {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn version(&self) -> u32 {
        Self::VERSION
    }

    fn describe(&self) -> String {
        let allowed: Vec<&str> = self.dims[self.first_op()]
            .allowed
            .iter()
            .map(|&i| DARTS_OPS[i as usize])
            .collect();
        let nodes = if self.growing() {
            format!(
                "between {} and {} intermediate nodes (the first dimension, `nodes`, says how \
                 many; both cells have that many)",
                self.min_nodes, self.nodes
            )
        } else {
            format!("{} intermediate nodes", self.nodes)
        };
        format!(
            "DARTS cells (Liu et al., 2019). Two cell types, `normal` and `reduce` (stride 2), \
             each with inputs 0 and 1 (the two previous cells' outputs) and {nodes} numbered \
             from 2. Every intermediate node sums two operations applied to two distinct \
             earlier nodes; the cell output concatenates all intermediate nodes. Dimensions per \
             node: input0, op0, input1, op1. Operations allowed: {}. Native string: a DARTS \
             `Genotype(normal=[(op, input), ...], normal_concat=range(2, 2 + nodes), \
             reduce=[...], reduce_concat=range(2, 2 + nodes))`. Canonical form: the two slots \
             of a node are unordered.",
            allowed.join(", ")
        )
    }

    fn dimensions(&self) -> &[Dimension] {
        &self.dims
    }

    fn is_valid(&self, genes: &[Gene]) -> bool {
        let n = self.active_nodes(genes);
        (0..2).all(|cell| {
            (0..n).all(|node| {
                genes[self.slot_offset(cell, node, 0)] != genes[self.slot_offset(cell, node, 1)]
            })
        })
    }

    /// The `nodes` depth on its own, then each node's four dimensions.
    fn genes(&self) -> Vec<std::ops::Range<usize>> {
        let base = usize::from(self.growing());
        let mut out: Vec<std::ops::Range<usize>> = Vec::with_capacity(1 + 2 * self.nodes);
        if self.growing() {
            out.push(0..1);
        }
        out.extend(
            (0..2 * self.nodes).map(|g| base + g * DIMS_PER_NODE..base + (g + 1) * DIMS_PER_NODE),
        );
        out
    }

    fn size(&self) -> u128 {
        let ops = self.dims[self.first_op()].allowed.len() as u128;
        (self.min_nodes..=self.nodes)
            .map(|nodes| {
                let per_cell: u128 = (0..nodes as u128)
                    .map(|n| (n + 2) * (n + 1) * ops * ops)
                    .fold(1u128, |a, b| a.saturating_mul(b));
                per_cell.saturating_mul(per_cell)
            })
            .fold(0u128, |a, b| a.saturating_add(b))
    }

    /// The number of nodes uniformly (when it is a decision), then every node uniformly.
    fn sample(&self, rng: &mut Rng) -> Result<Arch, SpaceError> {
        let mut genes = vec![Gene::Absent; self.dims.len()];
        if self.growing() {
            genes[0] = Gene::Index(rng.below(self.nodes - self.min_nodes + 1) as u16);
        }
        let n = self.active_nodes(&genes);
        for cell in 0..2 {
            for node in 0..n {
                self.draw_node(&mut genes, cell, node, rng);
            }
        }
        Ok(Arch::from_genes(Self::NAME, Self::VERSION, genes))
    }

    /// The one-edit neighbours of the product space, plus (when the number of nodes is a
    /// decision and below the most) the architecture with one more node in each cell, which
    /// reads inputs 0 and 1 through the first allowed operation.
    fn neighbours(&self, arch: &Arch) -> Vec<Arch> {
        let mut out = crate::generic::neighbours(self, arch);
        let n = self.active_nodes(&arch.genes);
        if self.growing() && n < self.nodes {
            let op = self.dims[self.first_op()].allowed[0];
            let mut genes = arch.genes.clone();
            genes[0] = Gene::Index((n + 1 - self.min_nodes) as u16);
            for cell in 0..2 {
                for slot in 0..2 {
                    let o = self.slot_offset(cell, n, slot);
                    genes[o] = Gene::Index(slot as u16);
                    genes[o + 1] = Gene::Index(op);
                }
            }
            out.push(arch.with_genes(genes));
        }
        out
    }

    /// A uniformly chosen neighbour; a node it adds gets random inputs and operations.
    fn mutate(&self, arch: &Arch, rng: &mut Rng) -> Arch {
        if !self.growing() || arch.genes.len() != self.dims.len() {
            return crate::generic::mutate(self, arch, rng);
        }
        let mut all = self.neighbours(arch);
        if all.is_empty() {
            return arch.clone();
        }
        let mut picked = all.swap_remove(rng.below(all.len()));
        let n = self.active_nodes(&arch.genes);
        if self.active_nodes(&picked.genes) > n {
            for cell in 0..2 {
                self.draw_node(&mut picked.genes, cell, n, rng);
            }
        }
        picked
    }

    /// Uniform crossover by node. With a number of nodes to choose, the child takes it from
    /// either parent, and each node (in both cells) from either parent that has it, so that
    /// every gene comes from a parent.
    fn crossover(&self, a: &Arch, b: &Arch, rng: &mut Rng) -> Arch {
        crate::generic::crossover_by_block(
            self,
            self.growing(),
            (a, b),
            rng,
            |g| self.active_nodes(g),
            |node| {
                (0..2)
                    .map(|cell| {
                        let o = self.slot_offset(cell, node, 0);
                        o..o + DIMS_PER_NODE
                    })
                    .collect()
            },
        )
    }

    fn canonical(&self, arch: &Arch) -> Arch {
        let mut genes = arch.genes.clone();
        for cell in 0..2 {
            for node in 0..self.active_nodes(&arch.genes) {
                let mut slots = [
                    self.slot(arch, cell, node, 0),
                    self.slot(arch, cell, node, 1),
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
                    let o = self.slot_offset(cell, node, s);
                    genes[o] = Gene::Index(input);
                    genes[o + 1] = Gene::Index(op);
                }
            }
        }
        arch.with_genes(genes)
    }

    fn format(&self, arch: &Arch) -> String {
        let n = self.active_nodes(&arch.genes);
        let [normal, reduce] = self.cells(arch).map(|cell| {
            cell.iter()
                .map(|&(input, op)| {
                    let op = DARTS_OPS.get(op as usize).copied().unwrap_or("?");
                    format!("('{op}', {input})")
                })
                .collect::<Vec<_>>()
                .join(", ")
        });
        let end = n + 2;
        format!(
            "Genotype(normal=[{normal}], normal_concat=range(2, {end}), reduce=[{reduce}], reduce_concat=range(2, {end}))"
        )
    }

    fn parse(&self, text: &str) -> Result<Arch, SpaceError> {
        let err = |reason: String| SpaceError::Parse {
            space: Self::NAME.to_string(),
            input: text.to_string(),
            reason,
        };
        let mut cells: Vec<Vec<(u16, u16)>> = Vec::with_capacity(2);
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
            let mut parsed = Vec::with_capacity(pairs.len());
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
                parsed.push((input, op_index as u16));
            }
            cells.push(parsed);
        }
        let pairs = cells[0].len();
        let accepted = if self.growing() {
            format!("{} to {}", 2 * self.min_nodes, 2 * self.nodes)
        } else {
            format!("{}", 2 * self.nodes)
        };
        let fits = |len: usize| {
            len.is_multiple_of(2) && (2 * self.min_nodes..=2 * self.nodes).contains(&len)
        };
        for (cell, c) in CELLS.iter().zip(&cells) {
            if !fits(c.len()) {
                return Err(err(format!(
                    "{cell} cell needs {accepted} (op, input) pairs, found {}",
                    c.len()
                )));
            }
        }
        if cells[1].len() != pairs {
            return Err(err(format!(
                "the normal cell has {} nodes and the reduction cell {}; they must match",
                pairs / 2,
                cells[1].len() / 2
            )));
        }
        let mut genes = vec![Gene::Absent; self.dims.len()];
        if self.growing() {
            genes[0] = Gene::Index((pairs / 2 - self.min_nodes) as u16);
        }
        for (cell, c) in cells.iter().enumerate() {
            for (i, &(input, op)) in c.iter().enumerate() {
                let o = self.slot_offset(cell, i / 2, i % 2);
                genes[o] = Gene::Index(input);
                genes[o + 1] = Gene::Index(op);
            }
        }
        let arch = Arch::from_genes(Self::NAME, Self::VERSION, genes);
        self.check(&arch)?;
        Ok(arch)
    }

    /// Each cell as in the DARTS paper: inputs c_{k-2} and c_{k-1}, the intermediate nodes
    /// with two incoming edges each, and the output that concatenates them.
    fn sketch(&self, arch: &Arch) -> Sketch {
        let n = self.active_nodes(&arch.genes);
        let output = n + 2;
        let cells = self
            .cells(arch)
            .iter()
            .zip(CELLS)
            .map(|(cell, name)| {
                let mut edges = Vec::new();
                for (i, &(input, op)) in cell.iter().enumerate() {
                    edges.push(SketchEdge {
                        from: usize::from(input),
                        to: i / 2 + 2,
                        op: DARTS_OPS.get(op as usize).copied().unwrap_or("?").into(),
                    });
                    if i % 2 == 1 {
                        edges.push(SketchEdge {
                            from: i / 2 + 2,
                            to: output,
                            op: "concat".into(),
                        });
                    }
                }
                let mut nodes = vec!["c_{k-2}".to_string(), "c_{k-1}".to_string()];
                nodes.extend((2..output).map(|n| n.to_string()));
                nodes.push("c_{k}".into());
                CellSketch {
                    name: name.into(),
                    nodes,
                    edges,
                }
            })
            .collect();
        Sketch::Cells(cells)
    }

    /// Per cell: nodes 0 and 1 the cell inputs, `2 + 2n + s` the op of node n's slot s, and
    /// the output (concatenation of all intermediate nodes) last. The graph always has room
    /// for the most nodes, so encodings have one length; an absent node's slots are
    /// unlabelled and unconnected.
    fn graphs(&self, arch: &Arch) -> Vec<OpGraph> {
        let sink = 2 + 2 * self.nodes;
        self.cells(arch)
            .iter()
            .map(|cell| {
                let mut labels = vec![None, None];
                let mut edges = Vec::new();
                for (i, &(input, op)) in cell.iter().enumerate() {
                    let me = 2 + i;
                    labels.push(Some(op as usize));
                    if op == NONE {
                        continue;
                    }
                    let input = input as usize;
                    if input < 2 {
                        edges.push((input, me));
                    } else {
                        for s in 0..2 {
                            if cell[2 * (input - 2) + s].1 != NONE {
                                edges.push((2 + 2 * (input - 2) + s, me));
                            }
                        }
                    }
                    edges.push((me, sink));
                }
                labels.resize(sink, None);
                labels.push(None);
                edges.sort();
                OpGraph {
                    labels,
                    edges,
                    sources: vec![0, 1],
                    sink,
                    vocabulary: DARTS_OPS.iter().map(|s| s.to_string()).collect(),
                    max_path_ops: self.nodes,
                }
            })
            .collect()
    }
}
