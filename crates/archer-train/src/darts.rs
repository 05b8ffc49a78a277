//! The DARTS CIFAR network on libtorch, built from [`archer_nets::DartsNet`] (Liu et al.
//! 2019, `NetworkCIFAR`): a 3×3 stem, `layers` cells with reduction cells at 1/3 and 2/3
//! depth, global average pooling and a linear classifier; optionally the auxiliary head at
//! 2/3 depth and drop-path on every non-identity edge.

use archer_nets::{DartsCell, DartsNet, DartsNetConfig, DartsOp};

use crate::net::{scaled, NetModule, NetworkBuilder, NetworkSpec};
use crate::TrainError;
use tch::nn::{self, ModuleT};
use tch::Tensor;

use crate::ops::{
    batch_norm, classifier, Conv, DilConv, Edge, FactorizedReduce, FlopTally, Pool, ReluConvBn,
    SepConv, Shape,
};

#[derive(Debug)]
enum Preprocess {
    Conv(ReluConvBn),
    Reduce(FactorizedReduce),
}

impl ModuleT for Preprocess {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        match self {
            Preprocess::Conv(m) => m.forward_t(xs, train),
            Preprocess::Reduce(m) => m.forward_t(xs, train),
        }
    }
}

#[derive(Debug)]
struct Cell {
    pre0: Preprocess,
    pre1: Preprocess,
    /// Two `(input, edge)` per node.
    edges: Vec<(usize, Edge)>,
    out: Shape,
}

fn edge(p: &nn::Path, tally: &FlopTally, op: DartsOp, shape: Shape, stride: i64) -> Edge {
    match op {
        DartsOp::Zero => Edge::Zero { stride },
        DartsOp::Skip if stride == 1 => Edge::Skip,
        DartsOp::Skip => Edge::Reduce(Box::new(FactorizedReduce::new(p, tally, shape, shape.c))),
        DartsOp::MaxPool3x3 => Edge::Pool(Pool::new(shape, true, 3, stride)),
        DartsOp::AvgPool3x3 => Edge::Pool(Pool::new(shape, false, 3, stride)),
        DartsOp::SepConv { kernel } => Edge::Sep(Box::new(SepConv::new(
            p,
            tally,
            shape,
            shape.c,
            kernel as i64,
            stride,
        ))),
        DartsOp::DilConv { kernel } => Edge::Dil(Box::new(DilConv::new(
            p,
            tally,
            shape,
            shape.c,
            kernel as i64,
            stride,
            2,
        ))),
    }
}

impl Cell {
    #[allow(clippy::too_many_arguments)]
    fn new(
        p: &nn::Path,
        tally: &FlopTally,
        genotype: &DartsCell,
        prev_prev: Shape,
        prev: Shape,
        c: i64,
        reduction: bool,
        reduction_prev: bool,
    ) -> Self {
        let pre0 = if reduction_prev {
            Preprocess::Reduce(FactorizedReduce::new(&(p / "pre0"), tally, prev_prev, c))
        } else {
            Preprocess::Conv(ReluConvBn::new(&(p / "pre0"), tally, prev_prev, c, 1, 1))
        };
        let pre1 = ReluConvBn::new(&(p / "pre1"), tally, prev, c, 1, 1);
        let shape = pre1.out;
        let nodes = genotype.len() / 2;
        let edges = genotype
            .iter()
            .enumerate()
            .map(|(i, &(input, op))| {
                let stride = if reduction && input < 2 { 2 } else { 1 };
                let node_shape = if reduction && input >= 2 {
                    Shape::new(c, shape.h / 2, shape.w / 2)
                } else {
                    shape
                };
                (
                    input,
                    edge(&(p / format!("edge{i}")), tally, op, node_shape, stride),
                )
            })
            .collect();
        let (h, w) = if reduction {
            (shape.h / 2, shape.w / 2)
        } else {
            (shape.h, shape.w)
        };
        Cell {
            pre0,
            pre1: Preprocess::Conv(pre1),
            edges,
            out: Shape::new(nodes as i64 * c, h, w),
        }
    }

    fn forward(&self, s0: &Tensor, s1: &Tensor, train: bool, drop_prob: f64) -> Tensor {
        let mut states = vec![
            self.pre0.forward_t(s0, train),
            self.pre1.forward_t(s1, train),
        ];
        for pair in self.edges.chunks(2) {
            let mut sum: Option<Tensor> = None;
            for (input, edge) in pair {
                let mut y = edge.forward_t(&states[*input], train);
                if train && drop_prob > 0.0 && !matches!(edge, Edge::Skip) {
                    y = drop_path(&y, drop_prob);
                }
                sum = Some(match sum {
                    Some(s) => s + y,
                    None => y,
                });
            }
            states.push(sum.expect("two edges per node"));
        }
        Tensor::cat(&states[2..], 1)
    }
}

/// Zeroes whole samples with probability `p` and rescales the rest (DARTS `drop_path`).
fn drop_path(x: &Tensor, p: f64) -> Tensor {
    let keep = 1.0 - p;
    let mask = Tensor::empty([x.size()[0], 1, 1, 1], (x.kind(), x.device())).bernoulli_float_(keep);
    x / keep * mask
}

/// DARTS' `AuxiliaryHeadCIFAR` on an 8×8 map.
#[derive(Debug)]
struct AuxHead {
    conv1: Conv,
    bn1: nn::BatchNorm,
    conv2: Conv,
    bn2: nn::BatchNorm,
    head: nn::Linear,
}

impl AuxHead {
    fn new(p: &nn::Path, tally: &FlopTally, input: Shape, classes: i64) -> Self {
        let pooled = Shape::new(input.c, (input.h - 5) / 3 + 1, (input.w - 5) / 3 + 1);
        let conv1 = Conv::new(&(p / "conv1"), tally, pooled, 128, 1, 1, 0, 1, 1);
        let conv2 = Conv::new(&(p / "conv2"), tally, conv1.out, 768, 2, 1, 0, 1, 1);
        let features = conv2.out.c * conv2.out.h * conv2.out.w;
        AuxHead {
            bn1: batch_norm(&(p / "bn1"), 128),
            bn2: batch_norm(&(p / "bn2"), 768),
            head: classifier(&(p / "classifier"), tally, features, classes),
            conv1,
            conv2,
        }
    }
}

impl ModuleT for AuxHead {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        xs.relu()
            .avg_pool2d([5, 5], [3, 3], [0, 0], false, false, None)
            .apply(&self.conv1)
            .apply_t(&self.bn1, train)
            .relu()
            .apply(&self.conv2)
            .apply_t(&self.bn2, train)
            .relu()
            .flatten(1, -1)
            .apply(&self.head)
    }
}

/// The whole DARTS network. `forward_t` gives the main logits; [`DartsModule::forward_aux`]
/// gives the auxiliary logits too while training.
#[derive(Debug)]
pub struct DartsModule {
    stem: Conv,
    stem_bn: nn::BatchNorm,
    cells: Vec<Cell>,
    aux: Option<(usize, AuxHead)>,
    head: nn::Linear,
    drop_path: f64,
}

impl DartsModule {
    /// The network of `net`; the auxiliary head's FLOPs are counted in `aux_tally`, so that
    /// `tally` holds the network's own as DARTS reports them.
    pub fn new(
        p: &nn::Path,
        tally: &FlopTally,
        net: &DartsNet,
        auxiliary: bool,
        drop_path: f64,
    ) -> Self {
        let cfg = &net.config;
        let (c_in, h, w) = cfg.input;
        let stem_c = (cfg.stem_multiplier * cfg.channels) as i64;
        let stem = Conv::new(
            &(p / "stem"),
            tally,
            Shape::new(c_in as i64, h as i64, w as i64),
            stem_c,
            3,
            1,
            1,
            1,
            1,
        );
        let (mut prev_prev, mut prev) = (stem.out, stem.out);
        let mut c = cfg.channels as i64;
        let mut reduction_prev = false;
        let mut cells = Vec::new();
        let mut aux = None;
        let aux_tally = FlopTally::default();
        for i in 0..cfg.layers {
            let reduction = net.is_reduction(i);
            if reduction {
                c *= 2;
            }
            let genotype = if reduction { &net.reduce } else { &net.normal };
            let cell = Cell::new(
                &(p / format!("cell{i}")),
                tally,
                genotype,
                prev_prev,
                prev,
                c,
                reduction,
                reduction_prev,
            );
            (prev_prev, prev) = (prev, cell.out);
            reduction_prev = reduction;
            cells.push(cell);
            if auxiliary && i == 2 * cfg.layers / 3 {
                aux = Some((
                    i as usize,
                    AuxHead::new(&(p / "aux"), &aux_tally, prev, cfg.classes as i64),
                ));
            }
        }
        DartsModule {
            stem_bn: batch_norm(&(p / "stem_bn"), stem_c),
            stem,
            cells,
            aux,
            head: classifier(&(p / "classifier"), tally, prev.c, cfg.classes as i64),
            drop_path,
        }
    }

    /// Main logits and, in training with an auxiliary head, the auxiliary logits.
    pub fn forward_aux(&self, xs: &Tensor, train: bool) -> (Tensor, Option<Tensor>) {
        let s = xs.apply(&self.stem).apply_t(&self.stem_bn, train);
        let (mut s0, mut s1) = (s.shallow_clone(), s);
        let mut aux_logits = None;
        for (i, cell) in self.cells.iter().enumerate() {
            let next = cell.forward(&s0, &s1, train, self.drop_path);
            (s0, s1) = (s1, next);
            if let Some((at, head)) = &self.aux {
                if train && *at == i {
                    aux_logits = Some(head.forward_t(&s1, train));
                }
            }
        }
        let logits = s1
            .adaptive_avg_pool2d([1, 1])
            .flatten(1, -1)
            .apply(&self.head);
        (logits, aux_logits)
    }
}

impl ModuleT for DartsModule {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.forward_aux(xs, train).0
    }
}

/// Builds DARTS networks (`channels` default 16, `depth` = cells, default 8; auxiliary head
/// and drop-path from the recipe).
pub(crate) struct DartsBuilder;

pub(crate) const BUILDER: DartsBuilder = DartsBuilder;

impl NetworkBuilder for DartsBuilder {
    fn space(&self) -> &'static str {
        "darts"
    }

    fn build(
        &self,
        spec: &NetworkSpec,
        root: &nn::Path,
        tally: &FlopTally,
    ) -> Result<Box<dyn NetModule>, TrainError> {
        let cfg = DartsNetConfig {
            channels: scaled(spec.config.channels.unwrap_or(16), spec.width),
            layers: spec.config.depth.unwrap_or(8),
            stem_multiplier: 3,
            classes: spec.classes as u64,
            input: spec.input_dims(),
        };
        let net = DartsNet::new(spec.space, spec.arch, cfg)?;
        Ok(Box::new(DartsModule::new(
            root,
            tally,
            &net,
            spec.config.auxiliary_weight > 0.0,
            spec.config.drop_path,
        )))
    }
}

impl NetModule for DartsModule {
    fn forward_aux(&self, xs: &Tensor, train: bool) -> (Tensor, Option<Tensor>) {
        DartsModule::forward_aux(self, xs, train)
    }
}
