//! The DARTS-space supernet (quark0/darts `model_search.py`, Liu et al. 2019): a 3×3 stem
//! conv to 3C channels with batch norm, then `3N + 2` cells (N normal cells per stage, a
//! reduction cell after the first and second stage; quark0's 8 cells are N = 2), global
//! average pooling and a linear classifier. A cell preprocesses its two inputs to C channels
//! (ReLU-conv-BN, or a factorized reduction after a reduction cell), and each of its
//! intermediate nodes sums a [`MixedEdge`] from every earlier node; the cell's output is the
//! intermediate nodes concatenated. Edges from a reduction cell's inputs have stride 2.
//!
//! α has one row per edge of the normal cell and then one per edge of the reduction cell
//! (14 + 14 with 4 nodes), shared by every cell of its kind, and one column per operation:
//! the space's allowed ones with `none` always among them, as quark0 searches. The
//! candidates' batch norms have no affine parameters (and pooling is followed by one), as in
//! quark0's `MixedOp`. An architecture is read from α as quark0's `genotype()` reads it: per
//! node, the two incoming edges whose strongest allowed operation (`none` excluded unless the
//! space allows it) is strongest, each with that operation.

use archer_space::{Arch, DartsSpace, Gene, SearchSpace, DARTS_OPS};
use archer_train::ops::{classifier, offset_grid, Conv, FlopTally, Shape};
use tch::nn::{self, Module};
use tch::Tensor;

use crate::mixed::CandidateOp;
use crate::supernet::{Built, RecipeValue, SupernetBody, SupernetConfig, SupernetKind};
use crate::{MixedEdge, Mixing, OneShotError, SearchBn};

pub static DARTS: SupernetKind = SupernetKind {
    space: DartsSpace::NAME,
    default_depth: 2,
    // quark0/darts `train_search.py`: weight decay 3e-4, momentum 0.9 without Nesterov.
    mixes: true,
    recipe: &[
        ("weights", "weight_decay", RecipeValue::Number(3e-4)),
        ("weights", "nesterov", RecipeValue::Flag(false)),
    ],
    // quark0: N normal cells per stage, three stages, two reduction cells between them.
    network_depth: |n| Some(3 * n as u64 + 2),
    build: |space, config, p| {
        let body = DartsBody::new(space, config, p)?;
        let (rows, columns) = (2 * body.edges as i64, body.columns.len() as i64);
        Ok(Built {
            body: Box::new(body),
            rows,
            columns,
        })
    },
};

/// quark0's stem multiplier: the stem has 3C channels.
const STEM_MULTIPLIER: i64 = 3;
/// `DARTS_OPS`' `none`.
const NONE: u16 = 0;

/// ReLU, then convolutions in turn, then batch norm without affine parameters: quark0's
/// `ReLUConvBN` (one conv) and `DilConv` (depthwise, then pointwise).
#[derive(Debug)]
struct ReluConvsBn {
    convs: Vec<Conv>,
    bn: SearchBn,
    out: Shape,
}

impl ReluConvsBn {
    /// A k×k conv (`groups` = the input channels makes it depthwise) with `stride` and
    /// `dilation`, followed by a pointwise conv to `c_out` when `pointwise`.
    #[allow(clippy::too_many_arguments)]
    fn new(
        p: &nn::Path,
        input: Shape,
        c_out: i64,
        k: i64,
        stride: i64,
        dilation: i64,
        pointwise: bool,
    ) -> Self {
        let tally = FlopTally::default();
        let padding = dilation * (k - 1) / 2;
        let mut convs = Vec::with_capacity(2);
        if pointwise {
            let dw = Conv::new(
                &(p / "dw"),
                &tally,
                input,
                input.c,
                k,
                stride,
                padding,
                dilation,
                input.c,
            );
            let pw = Conv::new(&(p / "pw"), &tally, dw.out, c_out, 1, 1, 0, 1, 1);
            convs.push(dw);
            convs.push(pw);
        } else {
            convs.push(Conv::new(
                &(p / "conv"),
                &tally,
                input,
                c_out,
                k,
                stride,
                padding,
                dilation,
                1,
            ));
        }
        let out = convs.last().map(|c| c.out).unwrap_or(input);
        ReluConvsBn {
            convs,
            bn: SearchBn::new(&(p / "bn"), c_out, false),
            out,
        }
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let mut h = x.relu();
        for c in &self.convs {
            h = c.forward(&h);
        }
        self.bn.forward_t(&h, train)
    }
}

/// quark0's `FactorizedReduce` without affine parameters: ReLU, two 1×1 stride-2 convs on
/// grids one pixel apart, concatenated, batch norm.
#[derive(Debug)]
struct FactorizedReduce {
    even: Conv,
    odd: Conv,
    bn: SearchBn,
}

impl FactorizedReduce {
    fn new(p: &nn::Path, input: Shape, c_out: i64) -> Self {
        let tally = FlopTally::default();
        FactorizedReduce {
            even: Conv::new(&(p / "c1"), &tally, input, c_out / 2, 1, 2, 0, 1, 1),
            odd: Conv::new(&(p / "c2"), &tally, input, c_out - c_out / 2, 1, 2, 0, 1, 1),
            bn: SearchBn::new(&(p / "bn"), c_out, false),
        }
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let x = x.relu();
        let shifted = offset_grid(&x);
        let both = Tensor::cat(&[self.even.forward(&x), self.odd.forward(&shifted)], 1);
        self.bn.forward_t(&both, train)
    }
}

/// One candidate operation of a DARTS edge.
#[derive(Debug)]
enum DartsCandidate {
    /// `none`.
    Zero,
    /// `skip_connect` with stride 1.
    Skip,
    /// `skip_connect` with stride 2.
    Reduce(Box<FactorizedReduce>),
    /// `max_pool_3x3` or `avg_pool_3x3` (padding not counted), then batch norm.
    Pool {
        max: bool,
        stride: i64,
        bn: SearchBn,
    },
    /// `sep_conv_kxk`: two depthwise-separable blocks, the first with the stride.
    Sep(Box<[ReluConvsBn; 2]>),
    /// `dil_conv_kxk`: one dilated (2) depthwise-separable block.
    Dil(Box<ReluConvsBn>),
}

impl DartsCandidate {
    /// The operation `DARTS_OPS[op]` on feature maps of `shape` with `stride`.
    fn new(p: &nn::Path, op: u16, shape: Shape, stride: i64) -> Self {
        let c = shape.c;
        let name = DARTS_OPS[usize::from(op)];
        // The kernel of a convolution, from its name.
        let k = if name.ends_with("5x5") { 5 } else { 3 };
        match name {
            "none" => DartsCandidate::Zero,
            "skip_connect" if stride == 1 => DartsCandidate::Skip,
            "skip_connect" => DartsCandidate::Reduce(Box::new(FactorizedReduce::new(p, shape, c))),
            "max_pool_3x3" | "avg_pool_3x3" => DartsCandidate::Pool {
                max: name == "max_pool_3x3",
                stride,
                bn: SearchBn::new(&(p / "bn"), c, false),
            },
            "sep_conv_3x3" | "sep_conv_5x5" => {
                let first = ReluConvsBn::new(&(p / "a"), shape, c, k, stride, 1, true);
                let second = ReluConvsBn::new(&(p / "b"), first.out, c, k, 1, 1, true);
                DartsCandidate::Sep(Box::new([first, second]))
            }
            _ => DartsCandidate::Dil(Box::new(ReluConvsBn::new(p, shape, c, k, stride, 2, true))),
        }
    }
}

impl CandidateOp for DartsCandidate {
    fn forward_t(&self, x: &Tensor, train: bool) -> Option<Tensor> {
        Some(match self {
            DartsCandidate::Zero => return None,
            DartsCandidate::Skip => x.shallow_clone(),
            DartsCandidate::Reduce(r) => r.forward_t(x, train),
            DartsCandidate::Pool { max, stride, bn } => {
                let s = *stride;
                let pooled = if *max {
                    x.max_pool2d([3, 3], [s, s], [1, 1], [1, 1], false)
                } else {
                    x.avg_pool2d([3, 3], [s, s], [1, 1], false, false, None)
                };
                bn.forward_t(&pooled, train)
            }
            DartsCandidate::Sep(blocks) => {
                blocks[1].forward_t(&blocks[0].forward_t(x, train), train)
            }
            DartsCandidate::Dil(block) => block.forward_t(x, train),
        })
    }

    fn is_zero(&self) -> bool {
        matches!(self, DartsCandidate::Zero)
    }
}

#[derive(Debug)]
enum Preprocess {
    Conv(ReluConvsBn),
    Reduce(Box<FactorizedReduce>),
}

impl Preprocess {
    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        match self {
            Preprocess::Conv(m) => m.forward_t(x, train),
            Preprocess::Reduce(m) => m.forward_t(x, train),
        }
    }
}

#[derive(Debug)]
struct SearchCell {
    reduction: bool,
    pre0: Preprocess,
    pre1: ReluConvsBn,
    /// In α-row order: node by node, each node's edges from inputs 0, 1, … .
    edges: Vec<MixedEdge>,
}

/// One node's possible decisions: two distinct inputs `a < b` and an operation on each.
type NodeOption = (u16, u16, u16, u16);

/// Every architecture of a (fixed-size) DARTS space in one network.
#[derive(Debug)]
struct DartsBody {
    /// Intermediate nodes per cell.
    nodes: usize,
    /// Edges per cell: α rows per cell kind.
    edges: usize,
    /// α's columns as `DARTS_OPS` indices.
    columns: Vec<u16>,
    /// α's column of `none`.
    none: usize,
    /// The operations an architecture may take (the space's), as α columns.
    allowed: Vec<usize>,
    /// Per node, its options in a fixed order.
    options: Vec<Vec<NodeOption>>,
    stem: Conv,
    stem_bn: SearchBn,
    cells: Vec<SearchCell>,
    head: nn::Linear,
}

/// The first α row (within a cell kind) of node `i`'s edges: nodes before it have 2, 3, …
/// inputs.
fn node_offset(i: usize) -> usize {
    2 * i + i * i.saturating_sub(1) / 2
}

impl DartsBody {
    fn new(
        space: &dyn SearchSpace,
        config: &SupernetConfig,
        p: &nn::Path,
    ) -> Result<Self, OneShotError> {
        let dims = space.dimensions();
        if dims.first().is_some_and(|d| d.label == "nodes") {
            return Err(OneShotError::Setting(
                "the DARTS supernet needs a fixed number of nodes: leave space.min_nodes unset"
                    .into(),
            ));
        }
        // Two cells × nodes × (input, op) × 2 slots.
        let nodes = dims.len() / 8;
        if nodes == 0 || dims.len() != nodes * 8 {
            return Err(OneShotError::Setting(format!(
                "{} dimensions do not make a DARTS space",
                dims.len()
            )));
        }
        let space_ops = dims[1].allowed.clone();
        let mut columns = space_ops.clone();
        if !columns.contains(&NONE) {
            columns.insert(0, NONE);
        }
        columns.sort_unstable();
        let none = columns.iter().position(|&o| o == NONE).unwrap_or(0);
        let allowed: Vec<usize> = space_ops
            .iter()
            .filter_map(|o| columns.iter().position(|c| c == o))
            .collect();
        let options = (0..nodes)
            .map(|i| {
                let inputs = (i + 2) as u16;
                let mut v = Vec::new();
                for a in 0..inputs {
                    for b in a + 1..inputs {
                        for &oa in &space_ops {
                            for &ob in &space_ops {
                                v.push((a, oa, b, ob));
                            }
                        }
                    }
                }
                v
            })
            .collect();
        let edges = node_offset(nodes);
        let c = config.channels;
        let tally = FlopTally::default();
        let stem = Conv::new(
            &(p / "stem"),
            &tally,
            config.input,
            STEM_MULTIPLIER * c,
            3,
            1,
            1,
            1,
            1,
        );
        let stem_bn = SearchBn::new(&(p / "stem_bn"), STEM_MULTIPLIER * c, true);
        let n = config.depth;
        let layers = 3 * n + 2;
        let (mut prev_prev, mut prev) = (stem.out, stem.out);
        let mut c_cell = c;
        let mut reduction_prev = false;
        let mut cells = Vec::with_capacity(layers);
        for layer in 0..layers {
            let reduction = layer == n || layer == 2 * n + 1;
            if reduction {
                c_cell *= 2;
            }
            let q = p / format!("cell{layer}");
            let pre0 = if reduction_prev {
                Preprocess::Reduce(Box::new(FactorizedReduce::new(
                    &(&q / "pre0"),
                    prev_prev,
                    c_cell,
                )))
            } else {
                Preprocess::Conv(ReluConvsBn::new(
                    &(&q / "pre0"),
                    prev_prev,
                    c_cell,
                    1,
                    1,
                    1,
                    false,
                ))
            };
            let pre1 = ReluConvsBn::new(&(&q / "pre1"), prev, c_cell, 1, 1, 1, false);
            let inner = Shape::new(c_cell, prev.h, prev.w);
            let reduced = Shape::new(c_cell, (prev.h + 1) / 2, (prev.w + 1) / 2);
            let k = config.partial_channels;
            let mut mixed = Vec::with_capacity(edges);
            for i in 0..nodes {
                for j in 0..i + 2 {
                    let (shape, stride) = match (reduction, j < 2) {
                        (true, true) => (inner, 2),
                        (true, false) => (reduced, 1),
                        (false, _) => (inner, 1),
                    };
                    let part = Shape::new(shape.c / k, shape.h, shape.w);
                    let e = &q / format!("node{}_from{j}", i + 2);
                    let candidates = columns
                        .iter()
                        .enumerate()
                        .map(|(col, &op)| {
                            Box::new(DartsCandidate::new(
                                &(&e / format!("op{col}")),
                                op,
                                part,
                                stride,
                            )) as Box<dyn CandidateOp>
                        })
                        .collect();
                    mixed.push(MixedEdge::from_candidates(candidates, k, stride));
                }
            }
            let out_shape = if reduction { reduced } else { inner };
            cells.push(SearchCell {
                reduction,
                pre0,
                pre1,
                edges: mixed,
            });
            prev_prev = prev;
            prev = Shape::new(nodes as i64 * c_cell, out_shape.h, out_shape.w);
            reduction_prev = reduction;
        }
        let head = classifier(&(p / "classifier"), &tally, prev.c, config.classes);
        Ok(DartsBody {
            nodes,
            edges,
            columns,
            none,
            allowed,
            options,
            stem,
            stem_bn,
            cells,
            head,
        })
    }

    /// Per node of both cells (normal first), the log-score of each of its options: the
    /// sum of its two edges' log-probabilities.
    fn log_scores(&self, probs: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let ln = |row: usize, op: u16| {
            let col = self.columns.iter().position(|&c| c == op).unwrap_or(0);
            probs
                .get(row)
                .and_then(|r| r.get(col))
                .map_or(f64::NEG_INFINITY, |&p| p.max(0.0).ln())
        };
        let mut out = Vec::with_capacity(2 * self.nodes);
        for cell in 0..2 {
            for (i, options) in self.options.iter().enumerate() {
                let base = cell * self.edges + node_offset(i);
                out.push(
                    options
                        .iter()
                        .map(|&(a, oa, b, ob)| {
                            ln(base + usize::from(a), oa) + ln(base + usize::from(b), ob)
                        })
                        .collect(),
                );
            }
        }
        out
    }

    /// The architecture that takes option `choice[g]` at node group `g` (normal cell's
    /// nodes, then the reduction cell's).
    fn arch_of(&self, choice: &[usize]) -> Arch {
        let mut genes = Vec::with_capacity(8 * self.nodes);
        for (g, &k) in choice.iter().enumerate() {
            let (a, oa, b, ob) = self.options[g % self.nodes][k];
            genes.extend([
                Gene::Index(a),
                Gene::Index(oa),
                Gene::Index(b),
                Gene::Index(ob),
            ]);
        }
        Arch::from_genes(DartsSpace::NAME, DartsSpace::VERSION, genes)
    }

    fn cell(
        &self,
        cell: &SearchCell,
        s0: &Tensor,
        s1: &Tensor,
        mixing: &[Mixing],
        train: bool,
    ) -> Tensor {
        let rows = if cell.reduction {
            &mixing[self.edges..]
        } else {
            &mixing[..self.edges]
        };
        let mut states = vec![
            cell.pre0.forward_t(s0, train),
            cell.pre1.forward_t(s1, train),
        ];
        for i in 0..self.nodes {
            let base = node_offset(i);
            let mut sum: Option<Tensor> = None;
            for (j, input) in states.iter().enumerate() {
                let (edge, m) = (&cell.edges[base + j], rows[base + j]);
                if edge.is_off(m) {
                    continue;
                }
                let y = edge.forward_t(input, m, train);
                sum = Some(match sum {
                    Some(s) => s + y,
                    None => y,
                });
            }
            let node = sum.unwrap_or_else(|| cell.edges[base].zeros(&states[0]));
            states.push(node);
        }
        Tensor::cat(&states[2..], 1)
    }
}

impl SupernetBody for DartsBody {
    fn forward_t(&self, x: &Tensor, mixing: &[Mixing], train: bool) -> Tensor {
        let stem = self.stem_bn.forward_t(&self.stem.forward(x), train);
        let (mut s0, mut s1) = (stem.shallow_clone(), stem);
        for cell in &self.cells {
            let out = self.cell(cell, &s0, &s1, mixing, train);
            s0 = s1;
            s1 = out;
        }
        s1.adaptive_avg_pool2d([1, 1])
            .flatten(1, -1)
            .apply(&self.head)
    }

    /// quark0's `genotype()`: per node the two edges whose strongest allowed operation is
    /// strongest, each with that operation (ties to the lower input and operation).
    fn derive(&self, probs: &[Vec<f64>]) -> Option<Arch> {
        let best: Vec<usize> = self
            .log_scores(probs)
            .iter()
            .map(|row| (0..row.len()).fold(0, |b, i| if row[i] > row[b] { i } else { b }))
            .collect();
        Some(self.arch_of(&best))
    }

    /// The nodes are independent: an exact best-first enumeration of their options.
    fn ranked(&self, probs: &[Vec<f64>], keep: usize, space: &dyn SearchSpace) -> Vec<(Arch, f64)> {
        crate::finalists::most_probable_distinct(&self.log_scores(probs), keep, space, |c| {
            self.arch_of(c)
        })
    }

    fn single_path(&self, arch: &Arch) -> Result<Vec<Mixing<'static>>, OneShotError> {
        let bad = |why: String| OneShotError::Setting(format!("not a path of the supernet: {why}"));
        if arch.genes.len() != 8 * self.nodes {
            return Err(bad(format!(
                "{} genes for {} nodes per cell",
                arch.genes.len(),
                self.nodes
            )));
        }
        let mut mixing = vec![Mixing::Single(self.none); 2 * self.edges];
        for cell in 0..2 {
            for i in 0..self.nodes {
                let at = |k: usize| arch.genes[(cell * self.nodes + i) * 4 + k].index();
                let mut inputs = [usize::MAX; 2];
                for slot in 0..2 {
                    let (Some(input), Some(op)) = (at(2 * slot), at(2 * slot + 1)) else {
                        return Err(bad(format!("node {} has no input or operation", i + 2)));
                    };
                    let input = usize::from(input);
                    let col = self
                        .columns
                        .iter()
                        .position(|&c| c == op)
                        .filter(|c| self.allowed.contains(c) || *c == self.none)
                        .ok_or_else(|| bad(format!("operation {op} is not searched")))?;
                    if input >= i + 2 || inputs[0] == input {
                        return Err(bad(format!(
                            "node {} takes input {input} (it has {} distinct)",
                            i + 2,
                            i + 2
                        )));
                    }
                    inputs[slot] = input;
                    mixing[cell * self.edges + node_offset(i) + input] = Mixing::Single(col);
                }
            }
        }
        Ok(mixing)
    }
}
