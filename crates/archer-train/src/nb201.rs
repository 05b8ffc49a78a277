//! The NAS-Bench-201 network on libtorch, built from [`archer_nets::Nb201Net`]: stem conv +
//! BN, three stages of identical cells with residual reduction blocks between them, then
//! BN, ReLU, global average pooling and a linear classifier (Dong & Yang 2020).

use archer_nets::{Nb201Net, Nb201NetConfig, Nb201Op};
use tch::nn::{self, ModuleT};
use tch::Tensor;

use crate::net::{scaled, NetModule, NetworkBuilder, NetworkSpec};
use crate::ops::{batch_norm, classifier, Conv, Edge, FlopTally, Pool, ReluConvBn, Shape};
use crate::TrainError;

/// One cell: node j sums its edges from every earlier node; the last node is the output.
#[derive(Debug)]
struct Cell {
    /// In the official order `e(1←0), e(2←0), e(2←1), e(3←0), e(3←1), e(3←2)`.
    edges: Vec<Edge>,
}

/// (target node, source node) of each edge, in order.
const EDGES: [(usize, usize); 6] = [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)];

impl Cell {
    fn new(p: &nn::Path, tally: &FlopTally, ops: &[Nb201Op; 6], shape: Shape) -> Self {
        let edges = ops
            .iter()
            .enumerate()
            .map(|(i, op)| {
                let q = p / format!("edge{i}");
                match op {
                    Nb201Op::Zero => Edge::Zero { stride: 1 },
                    Nb201Op::Skip => Edge::Skip,
                    Nb201Op::Conv1x1 => {
                        Edge::Conv(Box::new(ReluConvBn::new(&q, tally, shape, shape.c, 1, 1)))
                    }
                    Nb201Op::Conv3x3 => {
                        Edge::Conv(Box::new(ReluConvBn::new(&q, tally, shape, shape.c, 3, 1)))
                    }
                    Nb201Op::AvgPool3x3 => Edge::Pool(Pool::new(shape, false, 3, 1)),
                }
            })
            .collect();
        Cell { edges }
    }
}

impl ModuleT for Cell {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut nodes = vec![xs.shallow_clone()];
        for target in 1..4 {
            let mut sum: Option<Tensor> = None;
            for (edge, &(to, from)) in self.edges.iter().zip(&EDGES) {
                if to != target {
                    continue;
                }
                // A zero edge adds nothing; skipping it saves the work but not the result.
                if matches!(edge, Edge::Zero { .. }) {
                    continue;
                }
                let y = edge.forward_t(&nodes[from], train);
                sum = Some(match sum {
                    Some(s) => s + y,
                    None => y,
                });
            }
            nodes.push(sum.unwrap_or_else(|| xs.zeros_like()));
        }
        nodes.pop().expect("four nodes")
    }
}

/// NB201's `ResNetBasicblock` with stride 2: ReLU-conv-BN (stride 2), ReLU-conv-BN, plus a
/// shortcut of 2×2 average pooling and a 1×1 conv. Also the reduction of NB201 supernets.
#[derive(Debug)]
pub struct Reduction {
    a: ReluConvBn,
    b: ReluConvBn,
    shortcut: Conv,
    pub out: Shape,
}

impl Reduction {
    /// From `input` to `c_out` channels at half the resolution.
    pub fn new(p: &nn::Path, tally: &FlopTally, input: Shape, c_out: i64) -> Self {
        let a = ReluConvBn::new(&(p / "a"), tally, input, c_out, 3, 2);
        let b = ReluConvBn::new(&(p / "b"), tally, a.out, c_out, 3, 1);
        let pooled = Shape::new(input.c, input.h / 2, input.w / 2);
        let shortcut = Conv::new(&(p / "shortcut"), tally, pooled, c_out, 1, 1, 0, 1, 1);
        let out = b.out;
        Reduction {
            a,
            b,
            shortcut,
            out,
        }
    }
}

impl ModuleT for Reduction {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let residual = self.b.forward_t(&self.a.forward_t(xs, train), train);
        let shortcut = xs
            .avg_pool2d([2, 2], [2, 2], [0, 0], false, true, None)
            .apply(&self.shortcut);
        residual + shortcut
    }
}

/// The whole NB201 network.
#[derive(Debug)]
pub struct Nb201Module {
    stem: Conv,
    stem_bn: nn::BatchNorm,
    /// Cells and reduction blocks in order.
    body: Vec<Nb201Block>,
    last_bn: nn::BatchNorm,
    head: nn::Linear,
}

#[derive(Debug)]
enum Nb201Block {
    Cell(Cell),
    Reduction(Box<Reduction>),
}

impl Nb201Module {
    pub fn new(p: &nn::Path, tally: &FlopTally, net: &Nb201Net) -> Self {
        let cfg = &net.config;
        let (c_in, h, w) = cfg.input;
        let input = Shape::new(c_in as i64, h as i64, w as i64);
        let stem = Conv::new(
            &(p / "stem"),
            tally,
            input,
            cfg.channels as i64,
            3,
            1,
            1,
            1,
            1,
        );
        let stem_bn = batch_norm(&(p / "stem_bn"), cfg.channels as i64);
        let mut shape = stem.out;
        let mut body = Vec::new();
        for stage in 0..3 {
            if stage > 0 {
                let r = Reduction::new(&(p / format!("reduce{stage}")), tally, shape, 2 * shape.c);
                shape = r.out;
                body.push(Nb201Block::Reduction(Box::new(r)));
            }
            for i in 0..cfg.cells_per_stage {
                let q = p / format!("stage{stage}_cell{i}");
                body.push(Nb201Block::Cell(Cell::new(&q, tally, &net.cell, shape)));
            }
        }
        Nb201Module {
            stem,
            stem_bn,
            body,
            last_bn: batch_norm(&(p / "last_bn"), shape.c),
            head: classifier(&(p / "classifier"), tally, shape.c, cfg.classes as i64),
        }
    }
}

impl ModuleT for Nb201Module {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut x = xs.apply(&self.stem).apply_t(&self.stem_bn, train);
        for block in &self.body {
            x = match block {
                Nb201Block::Cell(c) => c.forward_t(&x, train),
                Nb201Block::Reduction(r) => r.forward_t(&x, train),
            };
        }
        x.apply_t(&self.last_bn, train)
            .relu()
            .adaptive_avg_pool2d([1, 1])
            .flatten(1, -1)
            .apply(&self.head)
    }
}

/// Builds NAS-Bench-201 networks (`channels` default 16, `depth` = cells per stage, default 5).
pub(crate) struct Nb201Builder;

pub(crate) const BUILDER: Nb201Builder = Nb201Builder;

impl NetworkBuilder for Nb201Builder {
    fn space(&self) -> &'static str {
        "nb201"
    }

    fn build(
        &self,
        spec: &NetworkSpec,
        root: &nn::Path,
        tally: &FlopTally,
    ) -> Result<Box<dyn NetModule>, TrainError> {
        let cfg = Nb201NetConfig {
            channels: scaled(spec.config.channels.unwrap_or(16), spec.width),
            cells_per_stage: spec.config.depth.unwrap_or(5),
            classes: spec.classes as u64,
            input: spec.input_dims(),
        };
        let net = Nb201Net::new(spec.space, spec.arch, cfg)?;
        Ok(Box::new(Nb201Module::new(root, tally, &net)))
    }
}

impl NetModule for Nb201Module {}
