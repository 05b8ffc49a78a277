//! The operations of the searched cells and chains, as libtorch modules. Every module is
//! built for a known input shape, so that its output shape and FLOPs are known at build
//! time; parameters are counted on the variable store itself.
//!
//! Conventions follow the reference implementations (NAS-Bench-201's `ReLUConvBN`, DARTS'
//! `SepConv`/`DilConv`/`FactorizedReduce`): convolutions have no bias and are followed by an
//! affine batch norm; average pooling does not count padding.

use std::cell::Cell;

use tch::nn::{self, ModuleT};
use tch::Tensor;

/// A feature map's shape without the batch dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub c: i64,
    pub h: i64,
    pub w: i64,
}

impl Shape {
    pub fn new(c: i64, h: i64, w: i64) -> Self {
        Shape { c, h, w }
    }

    /// The spatial size after a window of `k` with `stride`, `padding` and `dilation`.
    fn after(self, c: i64, k: i64, stride: i64, padding: i64, dilation: i64) -> Shape {
        let out = |x: i64| (x + 2 * padding - dilation * (k - 1) - 1) / stride + 1;
        Shape::new(c, out(self.h), out(self.w))
    }
}

/// Counts the FLOPs of the modules built with it (one multiply-accumulate of a convolution
/// or linear layer is one FLOP, a bias adds one per output, as NAS-Bench-201 and DARTS
/// count them).
#[derive(Debug, Default)]
pub struct FlopTally(Cell<u64>);

impl FlopTally {
    pub fn add(&self, flops: u64) {
        self.0.set(self.0.get() + flops)
    }

    pub fn total(&self) -> u64 {
        self.0.get()
    }
}

/// A convolution without bias; its FLOPs are its weight count times the output positions.
#[derive(Debug)]
pub struct Conv {
    conv: nn::Conv2D,
    pub out: Shape,
}

#[allow(clippy::too_many_arguments)]
impl Conv {
    pub fn new(
        p: &nn::Path,
        tally: &FlopTally,
        input: Shape,
        c_out: i64,
        k: i64,
        stride: i64,
        padding: i64,
        dilation: i64,
        groups: i64,
    ) -> Conv {
        let cfg = nn::ConvConfig {
            stride,
            padding,
            dilation,
            groups,
            bias: false,
            ..Default::default()
        };
        let conv = nn::conv2d(p, input.c, c_out, k, cfg);
        let out = input.after(c_out, k, stride, padding, dilation);
        tally.add(conv.ws.numel() as u64 * (out.h * out.w) as u64);
        Conv { conv, out }
    }
}

impl nn::Module for Conv {
    fn forward(&self, xs: &Tensor) -> Tensor {
        xs.apply(&self.conv)
    }
}

/// An affine batch norm over `c` channels (2 parameters per channel, no FLOPs counted).
pub fn batch_norm(p: &nn::Path, c: i64) -> nn::BatchNorm {
    nn::batch_norm2d(p, c, Default::default())
}

/// ReLU → k×k conv → batch norm (NB201 `ReLUConvBN`, DARTS preprocessing).
#[derive(Debug)]
pub struct ReluConvBn {
    conv: Conv,
    bn: nn::BatchNorm,
    pub out: Shape,
}

impl ReluConvBn {
    pub fn new(
        p: &nn::Path,
        tally: &FlopTally,
        input: Shape,
        c_out: i64,
        k: i64,
        stride: i64,
    ) -> Self {
        let conv = Conv::new(&(p / "conv"), tally, input, c_out, k, stride, k / 2, 1, 1);
        let out = conv.out;
        ReluConvBn {
            conv,
            bn: batch_norm(&(p / "bn"), c_out),
            out,
        }
    }
}

impl ModuleT for ReluConvBn {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        xs.relu().apply(&self.conv).apply_t(&self.bn, train)
    }
}

/// ReLU → depthwise k×k conv (dilated) → pointwise conv → batch norm (DARTS `DilConv`).
#[derive(Debug)]
pub struct DilConv {
    depthwise: Conv,
    pointwise: Conv,
    bn: nn::BatchNorm,
    pub out: Shape,
}

impl DilConv {
    pub fn new(
        p: &nn::Path,
        tally: &FlopTally,
        input: Shape,
        c_out: i64,
        k: i64,
        stride: i64,
        dilation: i64,
    ) -> Self {
        let padding = dilation * (k - 1) / 2;
        let depthwise = Conv::new(
            &(p / "dw"),
            tally,
            input,
            input.c,
            k,
            stride,
            padding,
            dilation,
            input.c,
        );
        let pointwise = Conv::new(&(p / "pw"), tally, depthwise.out, c_out, 1, 1, 0, 1, 1);
        let out = pointwise.out;
        DilConv {
            depthwise,
            pointwise,
            bn: batch_norm(&(p / "bn"), c_out),
            out,
        }
    }
}

impl ModuleT for DilConv {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        xs.relu()
            .apply(&self.depthwise)
            .apply(&self.pointwise)
            .apply_t(&self.bn, train)
    }
}

/// Two undilated [`DilConv`]s, the first with the stride and the channel count kept (DARTS
/// `SepConv`).
#[derive(Debug)]
pub struct SepConv {
    first: DilConv,
    second: DilConv,
    pub out: Shape,
}

impl SepConv {
    pub fn new(
        p: &nn::Path,
        tally: &FlopTally,
        input: Shape,
        c_out: i64,
        k: i64,
        stride: i64,
    ) -> Self {
        let first = DilConv::new(&(p / "a"), tally, input, input.c, k, stride, 1);
        let second = DilConv::new(&(p / "b"), tally, first.out, c_out, k, 1, 1);
        let out = second.out;
        SepConv { first, second, out }
    }
}

impl ModuleT for SepConv {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.second
            .forward_t(&self.first.forward_t(xs, train), train)
    }
}

/// Halves the resolution with two 1×1 stride-2 convs on offset grids, concatenated, then
/// batch norm (DARTS `FactorizedReduce`). `c_out` must be even.
#[derive(Debug)]
pub struct FactorizedReduce {
    even: Conv,
    odd: Conv,
    bn: nn::BatchNorm,
    pub out: Shape,
}

impl FactorizedReduce {
    pub fn new(p: &nn::Path, tally: &FlopTally, input: Shape, c_out: i64) -> Self {
        let even = Conv::new(&(p / "c1"), tally, input, c_out / 2, 1, 2, 0, 1, 1);
        let odd = Conv::new(&(p / "c2"), tally, input, c_out / 2, 1, 2, 0, 1, 1);
        let out = Shape::new(c_out, even.out.h, even.out.w);
        FactorizedReduce {
            even,
            odd,
            bn: batch_norm(&(p / "bn"), c_out),
            out,
        }
    }
}

impl ModuleT for FactorizedReduce {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let x = xs.relu();
        let shifted = offset_grid(&x);
        Tensor::cat(&[x.apply(&self.even), shifted.apply(&self.odd)], 1).apply_t(&self.bn, train)
    }
}

/// `x` (batch, channels, h, w) shifted one pixel in along both spatial axes, padded with
/// zeros at the far side: the odd grid of a factorized reduction, with as many positions as
/// the even grid on odd-sized maps too.
pub fn offset_grid(x: &Tensor) -> Tensor {
    let (h, w) = (x.size()[2], x.size()[3]);
    x.narrow(2, 1, h - 1)
        .narrow(3, 1, w - 1)
        .constant_pad_nd([0, 1, 0, 1])
}

/// `s` average-pooled down to height `h` by a whole factor (unchanged when it is `h`
/// already): how a chain layer reads a skip source of a higher resolution.
pub fn pool_down_to(s: &Tensor, h: i64) -> Tensor {
    let factor = s.size()[2] / h.max(1);
    if factor > 1 {
        s.avg_pool2d(
            [factor, factor],
            [factor, factor],
            [0, 0],
            false,
            true,
            None,
        )
    } else {
        s.shallow_clone()
    }
}

/// k×k max or average pooling (average without counting padding).
#[derive(Clone, Copy, Debug)]
pub struct Pool {
    pub max: bool,
    pub k: i64,
    pub stride: i64,
    pub out: Shape,
}

impl Pool {
    pub fn new(input: Shape, max: bool, k: i64, stride: i64) -> Self {
        Pool {
            max,
            k,
            stride,
            out: input.after(input.c, k, stride, k / 2, 1),
        }
    }
}

impl nn::Module for Pool {
    fn forward(&self, xs: &Tensor) -> Tensor {
        let (k, s, p) = (self.k, self.stride, self.k / 2);
        if self.max {
            xs.max_pool2d([k, k], [s, s], [p, p], [1, 1], false)
        } else {
            xs.avg_pool2d([k, k], [s, s], [p, p], false, false, None)
        }
    }
}

/// One edge of a cell: every operation of the NB201 and DARTS spaces.
#[derive(Debug)]
pub enum Edge {
    /// Outputs zeros of the output shape (`none`).
    Zero {
        stride: i64,
    },
    /// The input itself (`skip_connect`, stride 1).
    Skip,
    /// `skip_connect` with stride 2.
    Reduce(Box<FactorizedReduce>),
    Conv(Box<ReluConvBn>),
    Sep(Box<SepConv>),
    Dil(Box<DilConv>),
    Pool(Pool),
}

impl ModuleT for Edge {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        match self {
            Edge::Zero { stride: 1 } => xs.zeros_like(),
            Edge::Zero { stride } => {
                let s = *stride;
                let (h, w) = (xs.size()[2], xs.size()[3]);
                xs.slice(2, 0, h, s).slice(3, 0, w, s).zeros_like()
            }
            Edge::Skip => xs.shallow_clone(),
            Edge::Reduce(m) => m.forward_t(xs, train),
            Edge::Conv(m) => m.forward_t(xs, train),
            Edge::Sep(m) => m.forward_t(xs, train),
            Edge::Dil(m) => m.forward_t(xs, train),
            Edge::Pool(m) => xs.apply(m),
        }
    }
}

/// The linear classifier on globally pooled features.
pub fn classifier(p: &nn::Path, tally: &FlopTally, features: i64, classes: i64) -> nn::Linear {
    tally.add((features * classes + classes) as u64);
    nn::linear(p, features, classes, Default::default())
}
