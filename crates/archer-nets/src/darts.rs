//! The DARTS evaluation network for CIFAR (Liu et al. 2019, `NetworkCIFAR`): a 3×3 stem
//! with `stem_multiplier × C` channels, `layers` cells with reduction cells at 1/3 and 2/3
//! depth (channels doubled), global average pooling and a linear classifier, plus the
//! optional auxiliary head at 2/3 depth.

use archer_space::{darts_cells, Arch, SearchSpace, DARTS_OPS};
use serde::Serialize;

use crate::cost::{conv, linear, Cost};
use crate::NetError;

/// One DARTS operation. Convolutions are ReLU → depthwise conv → pointwise conv → BN; a
/// separable conv stacks two of those.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum DartsOp {
    Zero,
    MaxPool3x3,
    AvgPool3x3,
    Skip,
    SepConv { kernel: u64 },
    DilConv { kernel: u64 },
}

impl DartsOp {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "none" => DartsOp::Zero,
            "max_pool_3x3" => DartsOp::MaxPool3x3,
            "avg_pool_3x3" => DartsOp::AvgPool3x3,
            "skip_connect" => DartsOp::Skip,
            "sep_conv_3x3" => DartsOp::SepConv { kernel: 3 },
            "sep_conv_5x5" => DartsOp::SepConv { kernel: 5 },
            "dil_conv_3x3" => DartsOp::DilConv { kernel: 3 },
            "dil_conv_5x5" => DartsOp::DilConv { kernel: 5 },
            _ => return None,
        })
    }

    /// The op on `c` channels producing an `h×w` map (stride 2 when `reduce`).
    fn cost(self, c: u64, h: u64, w: u64, reduce: bool) -> Cost {
        let depthwise = |k: u64| Cost {
            params: c * k * k,
            flops: c * k * k * h * w,
        };
        match self {
            DartsOp::Zero | DartsOp::MaxPool3x3 | DartsOp::AvgPool3x3 => Cost::default(),
            DartsOp::Skip if reduce => factorized_reduce(c, c, h, w),
            DartsOp::Skip => Cost::default(),
            DartsOp::DilConv { kernel } => depthwise(kernel) + conv(c, c, 1, h, w, true),
            DartsOp::SepConv { kernel } => {
                let half = depthwise(kernel) + conv(c, c, 1, h, w, true);
                half + half
            }
        }
    }
}

/// Two 1×1 stride-2 convs of `c_out / 2` channels each, concatenated, then BN; output `h×w`.
fn factorized_reduce(c_in: u64, c_out: u64, h: u64, w: u64) -> Cost {
    let half = conv(c_in, c_out / 2, 1, h, w, false);
    half + half
        + Cost {
            params: 2 * c_out,
            flops: 0,
        }
}

/// The macro skeleton around the two searched cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DartsNetConfig {
    /// Initial channels C (DARTS evaluation: 36; search: 16).
    pub channels: u64,
    /// Cells (DARTS evaluation: 20; search: 8).
    pub layers: u64,
    pub stem_multiplier: u64,
    pub classes: u64,
    /// Input `(channels, height, width)`.
    pub input: (u64, u64, u64),
}

impl DartsNetConfig {
    /// The DARTS CIFAR-10 evaluation network.
    pub fn cifar10_eval() -> Self {
        DartsNetConfig {
            channels: 36,
            layers: 20,
            stem_multiplier: 3,
            classes: 10,
            input: (3, 32, 32),
        }
    }

    /// The DARTS CIFAR-10 search network.
    pub fn cifar10_search() -> Self {
        DartsNetConfig {
            channels: 16,
            layers: 8,
            ..Self::cifar10_eval()
        }
    }
}

/// A cell: for each intermediate node, two `(input, op)` slots; inputs 0 and 1 are
/// the two previous cells, 2.. the earlier intermediate nodes. The output concatenates the
/// intermediate nodes (4 in DARTS; the space may have from 1 to 8).
pub type DartsCell = Vec<(usize, DartsOp)>;

/// A DARTS network: the skeleton, a normal and a reduction cell.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DartsNet {
    pub config: DartsNetConfig,
    pub normal: DartsCell,
    pub reduce: DartsCell,
}

/// Nodes whose outputs the cell concatenates: all its intermediate nodes.
fn concat(cell: &DartsCell) -> u64 {
    (cell.len() / 2) as u64
}

impl DartsNet {
    /// The network of `arch`, an architecture of the darts space.
    pub fn new(
        space: &dyn SearchSpace,
        arch: &Arch,
        config: DartsNetConfig,
    ) -> Result<Self, NetError> {
        if space.name() != "darts" {
            return Err(NetError::Arch(format!(
                "a DARTS network needs a darts architecture, not {}",
                space.name()
            )));
        }
        // Checks `arch` against `space` too.
        let cells = darts_cells(space, arch).map_err(|e| NetError::Arch(e.to_string()))?;
        let (c, h, w) = config.input;
        if config.channels == 0 || config.layers < 3 || config.classes == 0 || c == 0 {
            return Err(NetError::Setting(
                "channels and classes must be at least 1, layers at least 3".into(),
            ));
        }
        if h % 4 != 0 || w % 4 != 0 || h == 0 || w == 0 {
            return Err(NetError::Setting(format!(
                "input height and width must be divisible by 4, got {h}×{w}"
            )));
        }
        let cell = |index: usize| -> Result<DartsCell, NetError> {
            cells[index]
                .iter()
                .map(|&(input, op)| {
                    let name = DARTS_OPS.get(usize::from(op)).copied().unwrap_or("?");
                    let op = DartsOp::from_name(name)
                        .ok_or_else(|| NetError::Arch(format!("unknown DARTS op {name:?}")))?;
                    Ok((usize::from(input), op))
                })
                .collect()
        };
        Ok(DartsNet {
            config,
            normal: cell(0)?,
            reduce: cell(1)?,
        })
    }

    /// Whether cell `i` is a reduction cell.
    pub fn is_reduction(&self, i: u64) -> bool {
        let l = self.config.layers;
        i == l / 3 || i == 2 * l / 3
    }

    /// Parameters and FLOPs of the network without the auxiliary head (as DARTS reports its
    /// model size).
    pub fn cost(&self) -> Cost {
        let cfg = &self.config;
        let (c_in, mut h, mut w) = cfg.input;
        let stem_c = cfg.stem_multiplier * cfg.channels;
        let mut total = conv(c_in, stem_c, 3, h, w, true);
        let (mut c_pp, mut c_p, mut c) = (stem_c, stem_c, cfg.channels);
        let mut reduction_prev = false;
        for i in 0..cfg.layers {
            let reduction = self.is_reduction(i);
            if reduction {
                c *= 2;
            }
            // Preprocessing at the input resolution (h×w), then the cell's own ops.
            total += if reduction_prev {
                factorized_reduce(c_pp, c, h, w)
            } else {
                conv(c_pp, c, 1, h, w, true)
            };
            total += conv(c_p, c, 1, h, w, true);
            let (ho, wo) = if reduction { (h / 2, w / 2) } else { (h, w) };
            let cell = if reduction {
                &self.reduce
            } else {
                &self.normal
            };
            for &(input, op) in cell {
                total += op.cost(c, ho, wo, reduction && input < 2);
            }
            (h, w) = (ho, wo);
            (c_pp, c_p) = (c_p, concat(cell) * c);
            reduction_prev = reduction;
        }
        total + linear(c_p, cfg.classes)
    }

    /// The auxiliary head (DARTS' `AuxiliaryHeadCIFAR`) on the 8×8 map after 2/3 depth:
    /// ReLU, 5×5 average pooling with stride 3, 1×1 conv to 128 + BN, 2×2 conv to 768 + BN,
    /// linear.
    pub fn auxiliary_cost(&self) -> Cost {
        let cfg = &self.config;
        let mut c = cfg.channels;
        let (mut h, mut w) = (cfg.input.1, cfg.input.2);
        let mut c_aux = 0;
        for i in 0..cfg.layers {
            if self.is_reduction(i) {
                c *= 2;
                (h, w) = (h / 2, w / 2);
            }
            if i == 2 * cfg.layers / 3 {
                c_aux = concat(&self.reduce) * c;
                break;
            }
        }
        let pooled = |x: u64| (x.saturating_sub(5)) / 3 + 1;
        let (ph, pw) = (pooled(h), pooled(w));
        let conv2_out = (ph.saturating_sub(1), pw.saturating_sub(1));
        conv(c_aux, 128, 1, ph, pw, true)
            + conv(128, 768, 2, conv2_out.0, conv2_out.1, true)
            + linear(768 * conv2_out.0 * conv2_out.1, cfg.classes)
    }
}
