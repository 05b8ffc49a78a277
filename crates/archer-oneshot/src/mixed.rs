//! A mixed edge: every candidate operation of one edge of a cell, combined by the mixing
//! weights of the search method.

use archer_train::ops::{Conv, FlopTally, Shape};
use tch::nn;
use tch::Tensor;

use crate::SearchBn;

/// One candidate operation of a supernet edge. A space's supernet has its own (NB201:
/// [`Nb201Candidate`]; DARTS: `darts_supernet`'s).
pub trait CandidateOp: std::fmt::Debug + Send {
    /// The operation's output for `x`; `None` for the zero operation, which adds exactly
    /// nothing and is never computed.
    fn forward_t(&self, x: &Tensor, train: bool) -> Option<Tensor>;

    /// Whether this is the zero operation (`forward_t` gives `None`).
    fn is_zero(&self) -> bool;
}

/// One candidate operation of a NAS-Bench-201 edge (stride 1, channels kept).
#[derive(Debug)]
pub enum Nb201Candidate {
    /// `none`: the zero operation; it adds exactly nothing and is never computed.
    Zero,
    /// `skip_connect`.
    Skip,
    /// `nor_conv_kxk`: ReLU → k×k conv → batch norm (no affine parameters).
    Conv(Box<(Conv, SearchBn)>),
    /// `avg_pool_3x3` (padding not counted).
    AvgPool,
}

impl Nb201Candidate {
    /// The operation named as in `archer_space::NB201_OPS`.
    pub fn new(p: &nn::Path, name: &str, shape: Shape) -> Self {
        let conv = |k: i64| {
            let tally = FlopTally::default();
            Nb201Candidate::Conv(Box::new((
                Conv::new(&(p / "conv"), &tally, shape, shape.c, k, 1, k / 2, 1, 1),
                SearchBn::new(&(p / "bn"), shape.c, false),
            )))
        };
        match name {
            "none" => Nb201Candidate::Zero,
            "skip_connect" => Nb201Candidate::Skip,
            "nor_conv_1x1" => conv(1),
            "nor_conv_3x3" => conv(3),
            _ => Nb201Candidate::AvgPool,
        }
    }
}

impl CandidateOp for Nb201Candidate {
    fn is_zero(&self) -> bool {
        matches!(self, Nb201Candidate::Zero)
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Option<Tensor> {
        match self {
            Nb201Candidate::Zero => None,
            Nb201Candidate::Skip => Some(x.shallow_clone()),
            Nb201Candidate::Conv(conv_bn) => {
                let (conv, bn) = conv_bn.as_ref();
                Some(bn.forward_t(&x.relu().apply(conv), train))
            }
            Nb201Candidate::AvgPool => {
                Some(x.avg_pool2d([3, 3], [1, 1], [1, 1], false, false, None))
            }
        }
    }
}

/// How an edge combines its candidates.
#[derive(Clone, Copy, Debug)]
pub enum Mixing<'a> {
    /// Every candidate, weighted: `weights` holds one weight per candidate (DARTS:
    /// `softmax(α)`'s row).
    Soft(&'a Tensor),
    /// Only candidate `index` is computed, scaled by `weights[index]`; the other weights are
    /// added as they are (exactly zero in value), so that their gradient flows (GDAS's
    /// straight-through estimator).
    Hard { weights: &'a Tensor, index: usize },
    /// Only candidate `index`, unweighted (single-path training).
    Single(usize),
}

/// Every candidate of one edge.
#[derive(Debug)]
pub struct MixedEdge {
    candidates: Vec<Box<dyn CandidateOp>>,
    /// PC-DARTS's K (Xu et al. 2020): only the first `c/K` channels pass through the
    /// candidates, the others bypass the edge (max-pooled 2×2 on a stride-2 edge), and the
    /// two parts are concatenated and shuffled in K groups; 1: every channel through the
    /// candidates.
    partial: i64,
    /// The candidates' stride (2 on a DARTS reduction cell's edges from its inputs).
    stride: i64,
}

impl MixedEdge {
    /// The candidates `ops` (names of `archer_space::NB201_OPS`) on feature maps of `shape`.
    pub fn new(p: &nn::Path, ops: &[&str], shape: Shape) -> Self {
        Self::with_partial_channels(p, ops, shape, 1)
    }

    /// As [`MixedEdge::new`], with only `shape.c / k` channels through the candidates
    /// (PC-DARTS); `k` must divide `shape.c`.
    pub fn with_partial_channels(p: &nn::Path, ops: &[&str], shape: Shape, k: i64) -> Self {
        let k = k.max(1);
        let part = Shape::new(shape.c / k, shape.h, shape.w);
        let candidates = ops
            .iter()
            .enumerate()
            .map(|(i, op)| {
                Box::new(Nb201Candidate::new(&(p / format!("op{i}")), op, part))
                    as Box<dyn CandidateOp>
            })
            .collect();
        Self::from_candidates(candidates, k, 1)
    }

    /// An edge of `candidates` built for `1/partial` of its input's channels, each with
    /// `stride`.
    pub fn from_candidates(
        candidates: Vec<Box<dyn CandidateOp>>,
        partial: i64,
        stride: i64,
    ) -> Self {
        MixedEdge {
            candidates,
            partial: partial.max(1),
            stride,
        }
    }

    /// Whether `mixing` takes only the zero operation: the edge adds nothing and a cell may
    /// leave it out.
    pub fn is_off(&self, mixing: Mixing) -> bool {
        match mixing {
            Mixing::Single(i) => self.candidates[i].is_zero(),
            _ => false,
        }
    }

    /// The edge's output for input `x`.
    pub fn forward_t(&self, x: &Tensor, mixing: Mixing, train: bool) -> Tensor {
        if self.partial == 1 {
            return self.mix(x, mixing, train);
        }
        let c = x.size()[1];
        let part = c / self.partial;
        let mixed = self.mix(&x.narrow(1, 0, part), mixing, train);
        let mut bypass = x.narrow(1, part, c - part);
        if self.stride > 1 {
            bypass = bypass.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], true);
        }
        channel_shuffle(&Tensor::cat(&[mixed, bypass], 1), self.partial)
    }

    /// Zeros of the edge's output shape for input `x`.
    pub(crate) fn zeros(&self, x: &Tensor) -> Tensor {
        if self.stride == 1 {
            return x.zeros_like();
        }
        let (h, w) = (x.size()[2], x.size()[3]);
        let s = self.stride;
        x.slice(2, 0, h, s).slice(3, 0, w, s).zeros_like()
    }

    /// The candidates' mixture for input `x`.
    fn mix(&self, x: &Tensor, mixing: Mixing, train: bool) -> Tensor {
        match mixing {
            Mixing::Soft(weights) => {
                let mut sum: Option<Tensor> = None;
                for (i, c) in self.candidates.iter().enumerate() {
                    if let Some(y) = c.forward_t(x, train) {
                        let y = y * weights.get(i as i64);
                        sum = Some(match sum {
                            Some(s) => s + y,
                            None => y,
                        });
                    }
                }
                // All-zero candidates: the output is 0, still a function of the weights.
                sum.unwrap_or_else(|| self.zeros(x) * weights.sum(weights.kind()))
            }
            Mixing::Hard { weights, index } => {
                let chosen = weights.get(index as i64);
                let others = weights.sum(weights.kind()) - &chosen;
                match self.candidates[index].forward_t(x, train) {
                    Some(y) => y * chosen + others,
                    None => self.zeros(x) * chosen + others,
                }
            }
            Mixing::Single(index) => self.candidates[index]
                .forward_t(x, train)
                .unwrap_or_else(|| self.zeros(x)),
        }
    }
}

/// PC-DARTS's channel shuffle: the channels in `groups` groups, interleaved (channel
/// `g·(c/groups) + i` moves to `i·groups + g`).
pub fn channel_shuffle(x: &Tensor, groups: i64) -> Tensor {
    let s = x.size();
    let (b, c, h, w) = (s[0], s[1], s[2], s[3]);
    x.view([b, groups, c / groups, h, w])
        .transpose(1, 2)
        .contiguous()
        .view([b, c, h, w])
}

/// GDAS's hard Gumbel-softmax weights from `alpha` (edges × candidates), Gumbel noise
/// `gumbel` of the same shape and temperature `tau`: a one-hot row per edge in value,
/// `softmax((log_softmax(α) + g)/τ)` in gradient, and each row's chosen candidate.
pub fn gdas_weights(alpha: &Tensor, gumbel: &Tensor, tau: f64) -> (Tensor, Vec<usize>) {
    let p = ((alpha.log_softmax(-1, alpha.kind()) + gumbel) / tau).softmax(-1, alpha.kind());
    let index = p.argmax(-1, true);
    let one_hot = p.zeros_like().scatter_value(-1, &index, 1.0);
    let hard = one_hot - p.detach() + &p;
    let chosen = Vec::<i64>::try_from(index.view([-1]))
        .expect("indices")
        .into_iter()
        .map(|i| i as usize)
        .collect();
    (hard, chosen)
}

/// SNAS's relaxed Gumbel-softmax weights from `alpha` (edges × candidates) and Gumbel noise
/// `gumbel` of the same shape at temperature `tau`: `softmax((log_softmax(α) + g)/τ)`, every
/// candidate weighted (as DrNAS's `gumbel` species computes them).
pub fn snas_weights(alpha: &Tensor, gumbel: &Tensor, tau: f64) -> Tensor {
    ((alpha.log_softmax(-1, alpha.kind()) + gumbel) / tau).softmax(-1, alpha.kind())
}

/// DrNAS's concentrations `β = elu(α) + 1` (positive, 1 at α = 0).
pub fn dirichlet_concentration(alpha: &Tensor) -> Tensor {
    alpha.elu() + 1.0
}

/// A reparameterised draw from `Dirichlet(β)` per row, `β = elu(α) + 1` (DrNAS's mixing
/// weights). The draw comes from libtorch's generator; its gradient with respect to β is the
/// implicit one PyTorch's `Dirichlet.rsample` gives (`_dirichlet_grad`): with `x` the draw and
/// `d_i = ∂x_i/∂β_i` at fixed other coordinates' Gamma variates, `∂x_j/∂β_i = d_i(δ_ij − x_j)`.
/// It is built as `x + J·(β − stop_gradient(β))`, which is `x` in value and `J` in gradient.
pub fn dirichlet_weights(alpha: &Tensor) -> Tensor {
    let beta = dirichlet_concentration(alpha);
    let (x, d) = tch::no_grad(|| {
        let b = beta.detach();
        let x = b.internal_sample_dirichlet();
        let total = b.sum_dim_intlist(-1, true, b.kind()).expand_as(&b);
        let d = Tensor::internal_dirichlet_grad(&x, &b, &total);
        (x, d)
    });
    dirichlet_surrogate(&beta, &x, &d)
}

/// `x` in value, `∂x_j/∂β_i = d_i(δ_ij − x_j)` in gradient (see [`dirichlet_weights`]).
pub fn dirichlet_surrogate(beta: &Tensor, x: &Tensor, d: &Tensor) -> Tensor {
    let delta = (beta - beta.detach()) * d;
    x + &delta - x * delta.sum_dim_intlist(-1, true, delta.kind())
}

/// `Σ_edges KL(Dir(β_e) ‖ Dir(1))`, `β = elu(α) + 1`: DrNAS's `kl` regulariser, with
/// `KL = ln Γ(β₀) − Σ ln Γ(β_i) − ln Γ(K) + Σ (β_i − 1)(ψ(β_i) − ψ(β₀))`, `β₀ = Σ β_i`.
pub fn dirichlet_kl(alpha: &Tensor) -> Tensor {
    let beta = dirichlet_concentration(alpha);
    let kind = beta.kind();
    let k = beta.size()[1] as f64;
    let total = beta.sum_dim_intlist(-1, true, kind);
    let log_gamma_k = log_gamma_of_whole(k);
    let per_edge = total.lgamma().squeeze_dim(-1)
        - beta.lgamma().sum_dim_intlist(-1, false, kind)
        - log_gamma_k
        + ((&beta - 1.0) * (beta.digamma() - total.digamma())).sum_dim_intlist(-1, false, kind);
    per_edge.sum(kind)
}

/// `ln Γ(k)` for a whole number `k ≥ 1`: `ln (k − 1)!`.
fn log_gamma_of_whole(k: f64) -> f64 {
    (1..(k as u64)).map(|i| (i as f64).ln()).sum()
}
