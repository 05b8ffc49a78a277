//! The chain-space ("macro") supernet for single-path methods (ENAS's macro search, RSPS,
//! SPOS): every layer of a (fixed-length) chain space holds one weight tensor per operation
//! and kernel size at the space's largest filter count and the largest input it can read,
//! and a path takes its slice: the filters it chooses (the first ones), the input channels
//! of the layers it reads (the previous layer's block, then each skip source's, as
//! `archer-train`'s chain network concatenates them). The layout is that network's: a 3×3
//! stem with batch norm, the layers with 2×2 max pooling before those at 1/3 and 2/3 of the
//! depth (skip sources average-pooled down), ReLU, global average pooling and a linear
//! classifier over the largest filter count, of which a path uses the first rows.
//!
//! Widths differ between paths, so the layers' batch norms have neither affine parameters
//! nor running statistics: they always normalise by the batch's own statistics (scoring
//! included, so batch-norm recalibration changes nothing here). No path mixes operations:
//! only single-path methods search this supernet, and it has no α.

use archer_space::{Arch, ChainSpace, Gene, SearchSpace, CHAIN_FILTERS, CHAIN_KERNELS, CHAIN_OPS};
use archer_train::ops::{pool_down_to, Conv, FlopTally};
use tch::nn::{self, Module};
use tch::Tensor;

use crate::supernet::{Built, SupernetBody, SupernetConfig, SupernetKind};
use crate::{Mixing, OneShotError, SearchBn};

pub static CHAIN: SupernetKind = SupernetKind {
    space: ChainSpace::NAME,
    default_depth: 1,
    recipe: &[],
    network_depth: |_| None,
    mixes: false,
    build: |space, config, p| {
        let body = ChainBody::new(space, config, p)?;
        Ok(Built {
            body: Box::new(body),
            rows: 1,
            columns: 1,
        })
    },
};

/// One layer's shared weights, indexed by `CHAIN_OPS` and `CHAIN_KERNELS` positions.
#[derive(Debug)]
struct LayerWeights {
    /// Where each readable layer's block starts in the input channels: the previous layer
    /// (or the stem) at 0, then each possible skip source `j ≤ i − 2` in order.
    blocks: Vec<i64>,
    /// `conv`: `[F, C_in, k, k]` per kernel.
    conv: Vec<Option<Tensor>>,
    /// `sep_conv` and `dil_conv`: depthwise `[C_in, 1, k, k]` and pointwise `[F, C_in, 1, 1]`
    /// per kernel.
    sep: Vec<Option<(Tensor, Tensor)>>,
    dil: Vec<Option<(Tensor, Tensor)>>,
    /// The 1×1 projection of `max_pool`, `avg_pool` and `identity` when the path's filter
    /// count differs from its input channels: `[F, C_in, 1, 1]` per operation.
    proj: Vec<Option<Tensor>>,
    /// Whether the input is max-pooled 2×2 first.
    reduce: bool,
}

/// The chain supernet.
#[derive(Debug)]
struct ChainBody {
    space: ChainSpace,
    stem: Conv,
    stem_bn: SearchBn,
    layers: Vec<LayerWeights>,
    /// `[classes, F]` and `[classes]`: a path's last layer uses the first columns.
    head_w: Tensor,
    head_b: Tensor,
}

fn kernel_index(k: u32) -> usize {
    CHAIN_KERNELS.iter().position(|&c| c == k).unwrap_or(0)
}

fn op_index(op: &str) -> usize {
    CHAIN_OPS.iter().position(|&c| c == op).unwrap_or(0)
}

/// Per `CHAIN_KERNELS` entry, `make(path, k)` where the space allows kernel k and the
/// operation is searched (`wanted`), else `None`.
fn per_kernel<T>(
    wanted: bool,
    kernels: &[u16],
    q: &nn::Path,
    name: &str,
    make: impl Fn(&nn::Path, i64) -> T,
) -> Vec<Option<T>> {
    CHAIN_KERNELS
        .iter()
        .enumerate()
        .map(|(ki, &k)| {
            (wanted && kernels.contains(&(ki as u16)))
                .then(|| make(&(q / format!("{name}{k}")), i64::from(k)))
        })
        .collect()
}

/// Batch normalisation by the batch's own statistics, without parameters.
fn batch_stats_norm(x: &Tensor) -> Tensor {
    x.batch_norm(
        None::<Tensor>,
        None::<Tensor>,
        None::<Tensor>,
        None::<Tensor>,
        true,
        0.1,
        1e-5,
        false,
    )
}

impl ChainBody {
    fn new(
        space: &dyn SearchSpace,
        config: &SupernetConfig,
        p: &nn::Path,
    ) -> Result<Self, OneShotError> {
        let chain = space
            .as_chain()
            .ok_or_else(|| OneShotError::Setting("the chain supernet needs a macro space".into()))?
            .clone();
        if chain.min_layers() < chain.layers() {
            return Err(OneShotError::Setting(
                "the chain supernet needs a fixed number of layers: leave space.min_layers unset"
                    .into(),
            ));
        }
        if config.partial_channels != 1 {
            return Err(OneShotError::Setting(
                "partial channels apply to mixed edges; the chain supernet has none".into(),
            ));
        }
        let dims = space.dimensions();
        let allowed = |label: &str| -> Vec<u16> {
            dims.iter()
                .find(|d| d.label == label)
                .map(|d| d.allowed.clone())
                .unwrap_or_default()
        };
        let ops = allowed("layer0_op");
        let kernels = allowed("layer0_kernel");
        let filters = allowed("layer0_filters");
        let f_max = filters
            .iter()
            .map(|&f| i64::from(CHAIN_FILTERS[usize::from(f)]))
            .max()
            .unwrap_or(1);
        let tally = FlopTally::default();
        let stem = Conv::new(
            &(p / "stem"),
            &tally,
            config.input,
            config.channels,
            3,
            1,
            1,
            1,
            1,
        );
        let stem_bn = SearchBn::new(&(p / "stem_bn"), config.channels, true);
        let n = chain.layers();
        let init = nn::init::DEFAULT_KAIMING_UNIFORM;
        let mut layers = Vec::with_capacity(n);
        for i in 0..n {
            let q = p / format!("layer{i}");
            let prev = if i == 0 { config.channels } else { f_max };
            let mut blocks = vec![0];
            let mut c_in = prev;
            for _ in 0..i.saturating_sub(1) {
                blocks.push(c_in);
                c_in += f_max;
            }
            let has = |op: &str| ops.contains(&(op_index(op) as u16));
            let conv = per_kernel(has("conv"), &kernels, &q, "conv", |p, k| {
                p.var("weight", &[f_max, c_in, k, k], init)
            });
            let separable = |name: &str| {
                per_kernel(has(name), &kernels, &q, name, |p, k| {
                    (
                        p.var("dw", &[c_in, 1, k, k], init),
                        p.var("pw", &[f_max, c_in, 1, 1], init),
                    )
                })
            };
            let sep = separable("sep_conv");
            let dil = separable("dil_conv");
            let proj = CHAIN_OPS
                .iter()
                .map(|&op| {
                    (has(op) && matches!(op, "max_pool" | "avg_pool" | "identity")).then(|| {
                        (&q / format!("{op}_proj")).var("weight", &[f_max, c_in, 1, 1], init)
                    })
                })
                .collect();
            layers.push(LayerWeights {
                blocks,
                conv,
                sep,
                dil,
                proj,
                reduce: i > 0 && (i == n / 3 || i == 2 * n / 3),
            });
        }
        let head = p / "classifier";
        let head_w = head.var("weight", &[config.classes, f_max], init);
        let bound = 1.0 / (f_max as f64).sqrt();
        let head_b = head.var(
            "bias",
            &[config.classes],
            nn::Init::Uniform {
                lo: -bound,
                up: bound,
            },
        );
        Ok(ChainBody {
            space: chain,
            stem,
            stem_bn,
            layers,
            head_w,
            head_b,
        })
    }

    /// The path's architecture from its mixing: one gene value per dimension.
    fn path(&self, mixing: &[Mixing]) -> Arch {
        let genes = mixing
            .iter()
            .map(|m| match m {
                Mixing::Single(i) => Gene::Index(*i as u16),
                _ => Gene::Index(0),
            })
            .collect();
        Arch::from_genes(ChainSpace::NAME, self.space.version(), genes)
    }
}

impl SupernetBody for ChainBody {
    fn forward_t(&self, x: &Tensor, mixing: &[Mixing], train: bool) -> Tensor {
        let arch = self.path(mixing);
        let mut h = self.stem_bn.forward_t(&self.stem.forward(x), train);
        let mut outs: Vec<Tensor> = Vec::with_capacity(self.layers.len());
        for (i, w) in self.layers.iter().enumerate() {
            let (op, k, filters, skips) = self.space.layer(&arch, i);
            if w.reduce && h.size()[2] >= 2 {
                h = h.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false);
            }
            // The input: the previous output, then each skip source pooled down.
            let mut index: Vec<i64> = (0..h.size()[1]).collect();
            let mut parts = vec![h.shallow_clone()];
            for &j in &skips {
                let s: &Tensor = &outs[j];
                parts.push(pool_down_to(s, h.size()[2]));
                let start = w.blocks[j + 1];
                index.extend(start..start + s.size()[1]);
            }
            let input = if parts.len() == 1 {
                h
            } else {
                Tensor::cat(&parts, 1)
            };
            let c_in = input.size()[1];
            let idx = Tensor::from_slice(&index).to_device(input.device());
            let f = i64::from(filters);
            let ki = kernel_index(k);
            let k = i64::from(k);
            let in_slice = |t: &Tensor| t.index_select(1, &idx).narrow(0, 0, f);
            let y = match op {
                "conv" => {
                    let wt = w.conv[ki].as_ref().expect("allowed kernels have weights");
                    let y = input.relu().conv2d(
                        &in_slice(wt),
                        None::<Tensor>,
                        [1, 1],
                        [k / 2, k / 2],
                        [1, 1],
                        1,
                    );
                    batch_stats_norm(&y)
                }
                "sep_conv" | "dil_conv" => {
                    let (dw, pw) = if op == "sep_conv" {
                        &w.sep[ki]
                    } else {
                        &w.dil[ki]
                    }
                    .as_ref()
                    .expect("allowed kernels have weights");
                    let d = if op == "sep_conv" { 1 } else { 2 };
                    let pad = d * (k - 1) / 2;
                    let y = input
                        .relu()
                        .conv2d(
                            &dw.index_select(0, &idx),
                            None::<Tensor>,
                            [1, 1],
                            [pad, pad],
                            [d, d],
                            c_in,
                        )
                        .conv2d(&in_slice(pw), None::<Tensor>, [1, 1], [0, 0], [1, 1], 1);
                    batch_stats_norm(&y)
                }
                _ => {
                    let pooled = match op {
                        "max_pool" => {
                            input.max_pool2d([k, k], [1, 1], [k / 2, k / 2], [1, 1], false)
                        }
                        "avg_pool" => {
                            input.avg_pool2d([k, k], [1, 1], [k / 2, k / 2], false, false, None)
                        }
                        _ => input,
                    };
                    if c_in == f {
                        pooled
                    } else {
                        let wt = w.proj[op_index(op)]
                            .as_ref()
                            .expect("allowed operations have weights");
                        batch_stats_norm(&pooled.relu().conv2d(
                            &in_slice(wt),
                            None::<Tensor>,
                            [1, 1],
                            [0, 0],
                            [1, 1],
                            1,
                        ))
                    }
                }
            };
            outs.push(y.shallow_clone());
            h = y;
        }
        let c = h.size()[1];
        h.relu()
            .adaptive_avg_pool2d([1, 1])
            .flatten(1, -1)
            .linear(&self.head_w.narrow(1, 0, c), Some(&self.head_b))
    }

    fn derive(&self, _probs: &[Vec<f64>]) -> Option<Arch> {
        None
    }

    fn ranked(
        &self,
        _probs: &[Vec<f64>],
        _keep: usize,
        _space: &dyn SearchSpace,
    ) -> Vec<(Arch, f64)> {
        Vec::new()
    }

    fn single_path(&self, arch: &Arch) -> Result<Vec<Mixing<'static>>, OneShotError> {
        self.space
            .check(arch)
            .map_err(|e| OneShotError::Setting(format!("not a path of the supernet: {e}")))?;
        Ok(arch
            .genes
            .iter()
            .map(|g| Mixing::Single(usize::from(g.index().unwrap_or(0))))
            .collect())
    }
}
