//! The chain-structured ("macro") network on libtorch: a 3×3 stem conv + BN, then the
//! searched layers, then ReLU, global average pooling and a linear classifier.
//!
//! Layer `i` reads the previous layer's output concatenated (on channels) with the outputs
//! of its skip sources, average-pooled down to its resolution where they are larger. The
//! resolution halves (2×2 max pooling) before the layers at 1/3 and 2/3 of the most layers the
//! space allows (of the depth, when the number of layers is fixed). Operations:
//! - `conv`: ReLU → k×k conv → BN;
//! - `sep_conv`: ReLU → depthwise k×k → pointwise → BN;
//! - `dil_conv`: the same with dilation 2;
//! - `max_pool`, `avg_pool` (k×k, stride 1) and `identity`, each followed by a ReLU → 1×1
//!   conv → BN projection when the layer's filter count differs from its input channels.

use archer_space::{Arch, ChainSpace, Domain, CHAIN_FILTERS, CHAIN_KERNELS, CHAIN_OPS};
use tch::nn::{self, ModuleT};
use tch::Tensor;

use crate::net::{scaled, NetModule, NetworkBuilder, NetworkSpec};
use crate::ops::{
    batch_norm, classifier, pool_down_to, Conv, DilConv, FlopTally, Pool, ReluConvBn, Shape,
};
use crate::TrainError;

#[derive(Debug)]
enum LayerOp {
    Conv(ReluConvBn),
    Sep(DilConv),
    Pool(Pool, Option<ReluConvBn>),
    Identity(Option<ReluConvBn>),
}

#[derive(Debug)]
struct Layer {
    op: LayerOp,
    /// Earlier layers read besides the previous one.
    skips: Vec<usize>,
    /// Whether the input is max-pooled 2×2 first.
    reduce: bool,
    out: Shape,
}

/// The whole chain network.
#[derive(Debug)]
pub struct ChainModule {
    stem: Conv,
    stem_bn: nn::BatchNorm,
    layers: Vec<Layer>,
    head: nn::Linear,
}

/// The ReLU-conv-BN projection to `c` channels, when needed.
fn project(p: &nn::Path, tally: &FlopTally, input: Shape, c: i64) -> Option<ReluConvBn> {
    (input.c != c).then(|| ReluConvBn::new(p, tally, input, c, 1, 1))
}

impl ChainModule {
    /// `input` is `(channels, height, width)`; `stem_channels` the stem's width; filter
    /// counts are scaled by `width` (at least 1 channel).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        p: &nn::Path,
        tally: &FlopTally,
        space: &ChainSpace,
        arch: &Arch,
        input: Shape,
        stem_channels: i64,
        width: f64,
        classes: i64,
    ) -> Self {
        let stem = Conv::new(&(p / "stem"), tally, input, stem_channels, 3, 1, 1, 1, 1);
        // Pooling sits at 1/3 and 2/3 of the most layers, so that a layer added at the end
        // leaves the earlier ones as they were.
        let n = space.layers();
        let mut outs: Vec<Shape> = Vec::new();
        let mut layers = Vec::new();
        let mut prev = stem.out;
        for i in 0..space.layers_of(arch) {
            let (op, k, filters, skips) = space.layer(arch, i);
            let reduce = i > 0 && (i == n / 3 || i == 2 * n / 3) && prev.h >= 2;
            let res = if reduce {
                Shape::new(prev.c, prev.h / 2, prev.w / 2)
            } else {
                prev
            };
            let c_in = res.c + skips.iter().map(|&j| outs[j].c).sum::<i64>();
            let input = Shape::new(c_in, res.h, res.w);
            let c = scaled(filters as u64, width) as i64;
            let k = k as i64;
            let q = p / format!("layer{i}");
            let op = match op {
                "conv" => LayerOp::Conv(ReluConvBn::new(&q, tally, input, c, k, 1)),
                "sep_conv" => LayerOp::Sep(DilConv::new(&q, tally, input, c, k, 1, 1)),
                "dil_conv" => LayerOp::Sep(DilConv::new(&q, tally, input, c, k, 1, 2)),
                "max_pool" | "avg_pool" => {
                    let pool = Pool::new(input, op == "max_pool", k, 1);
                    LayerOp::Pool(pool, project(&(&q / "proj"), tally, input, c))
                }
                _ => LayerOp::Identity(project(&(&q / "proj"), tally, input, c)),
            };
            let out = Shape::new(c, res.h, res.w);
            outs.push(out);
            layers.push(Layer {
                op,
                skips,
                reduce,
                out,
            });
            prev = out;
        }
        ChainModule {
            stem_bn: batch_norm(&(p / "stem_bn"), stem_channels),
            stem,
            layers,
            head: classifier(&(p / "classifier"), tally, prev.c, classes),
        }
    }
}

impl ModuleT for ChainModule {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut x = xs.apply(&self.stem).apply_t(&self.stem_bn, train);
        let mut outs: Vec<Tensor> = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            if layer.reduce {
                x = x.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false);
            }
            let input = if layer.skips.is_empty() {
                x
            } else {
                let mut parts = vec![x];
                for &j in &layer.skips {
                    parts.push(pool_down_to(&outs[j], layer.out.h));
                }
                Tensor::cat(&parts, 1)
            };
            x = match &layer.op {
                LayerOp::Conv(m) => m.forward_t(&input, train),
                LayerOp::Sep(m) => m.forward_t(&input, train),
                LayerOp::Pool(pool, proj) => {
                    let y = input.apply(pool);
                    match proj {
                        Some(m) => m.forward_t(&y, train),
                        None => y,
                    }
                }
                LayerOp::Identity(proj) => match proj {
                    Some(m) => m.forward_t(&input, train),
                    None => input,
                },
            };
            outs.push(x.shallow_clone());
        }
        x.relu()
            .adaptive_avg_pool2d([1, 1])
            .flatten(1, -1)
            .apply(&self.head)
    }
}

/// Builds chain (macro) networks: the stem has `channels` (default 16) channels.
pub(crate) struct ChainBuilder;

pub(crate) const BUILDER: ChainBuilder = ChainBuilder;

impl NetworkBuilder for ChainBuilder {
    fn space(&self) -> &'static str {
        "macro"
    }

    fn build(
        &self,
        spec: &NetworkSpec,
        root: &nn::Path,
        tally: &FlopTally,
    ) -> Result<Box<dyn NetModule>, TrainError> {
        let dims = spec.space.dimensions();
        let layers = dims.iter().filter(|d| d.label.ends_with("_op")).count();
        // A number of layers to choose is the first dimension, from `min_layers` up.
        let min_layers =
            dims.first()
                .filter(|d| d.label == "layers")
                .and_then(|d| match d.domain {
                    Domain::Int { low, .. } => usize::try_from(low).ok(),
                    _ => None,
                });
        let ops: Vec<String> = CHAIN_OPS.iter().map(|s| s.to_string()).collect();
        let full = ChainSpace::new(
            Some(layers),
            Some(&ops),
            Some(&CHAIN_KERNELS),
            Some(&CHAIN_FILTERS),
        )
        .and_then(|s| s.with_min_layers(min_layers))
        .map_err(|e| TrainError::Setting(e.to_string()))?;
        let stem = scaled(spec.config.channels.unwrap_or(16), spec.width) as i64;
        Ok(Box::new(ChainModule::new(
            root,
            tally,
            &full,
            spec.arch,
            spec.input,
            stem,
            spec.width,
            spec.classes,
        )))
    }
}

impl NetModule for ChainModule {}
