//! The NAS-Bench-201 network (Dong & Yang 2020): a 3×3 stem convolution with batch norm,
//! three stages of `cells_per_stage` identical cells separated by residual reduction blocks,
//! then batch norm, ReLU, global average pooling and a linear classifier.

use archer_space::{Arch, SearchSpace, NB201_OPS};
use serde::Serialize;
use thiserror::Error;

use crate::cost::{conv, linear, Cost};

/// An architecture that cannot be turned into a network.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum NetError {
    #[error("{0}")]
    Arch(String),
    #[error("invalid network setting: {0}")]
    Setting(String),
}

/// One edge of the cell. Convolutions are ReLU → conv (no bias) → batch norm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Nb201Op {
    Zero,
    Skip,
    Conv1x1,
    Conv3x3,
    AvgPool3x3,
}

impl Nb201Op {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "none" => Nb201Op::Zero,
            "skip_connect" => Nb201Op::Skip,
            "nor_conv_1x1" => Nb201Op::Conv1x1,
            "nor_conv_3x3" => Nb201Op::Conv3x3,
            "avg_pool_3x3" => Nb201Op::AvgPool3x3,
            _ => return None,
        })
    }

    /// The op on a `c`-channel `h×w` map (every cell edge keeps shape).
    fn cost(self, c: u64, h: u64, w: u64) -> Cost {
        match self {
            Nb201Op::Conv1x1 => conv(c, c, 1, h, w, true),
            Nb201Op::Conv3x3 => conv(c, c, 3, h, w, true),
            Nb201Op::Zero | Nb201Op::Skip | Nb201Op::AvgPool3x3 => Cost::default(),
        }
    }
}

/// The macro skeleton around the searched cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Nb201NetConfig {
    /// Channels of the first stage (NB201: 16; doubled by each reduction).
    pub channels: u64,
    /// Cells per stage (NB201: 5).
    pub cells_per_stage: u64,
    pub classes: u64,
    /// Input `(channels, height, width)`: CIFAR (3, 32, 32), ImageNet16-120 (3, 16, 16).
    pub input: (u64, u64, u64),
}

impl Nb201NetConfig {
    /// NB201's CIFAR-10 network.
    pub fn cifar10() -> Self {
        Nb201NetConfig {
            channels: 16,
            cells_per_stage: 5,
            classes: 10,
            input: (3, 32, 32),
        }
    }

    pub fn cifar100() -> Self {
        Nb201NetConfig {
            classes: 100,
            ..Self::cifar10()
        }
    }

    pub fn imagenet16_120() -> Self {
        Nb201NetConfig {
            classes: 120,
            input: (3, 16, 16),
            ..Self::cifar10()
        }
    }
}

/// A NAS-Bench-201 network: the skeleton and the cell's six edges, in the official order
/// `|e(1←0)|+|e(2←0)|e(2←1)|+|e(3←0)|e(3←1)|e(3←2)|`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Nb201Net {
    pub config: Nb201NetConfig,
    pub cell: [Nb201Op; 6],
}

impl Nb201Net {
    /// The network of `arch`, an architecture of `space` (the nb201 space, any op
    /// restriction).
    pub fn new(
        space: &dyn SearchSpace,
        arch: &Arch,
        config: Nb201NetConfig,
    ) -> Result<Self, NetError> {
        space
            .check(arch)
            .map_err(|e| NetError::Arch(e.to_string()))?;
        if space.name() != "nb201" {
            return Err(NetError::Arch(format!(
                "an nb201 network needs an nb201 architecture, not {}",
                space.name()
            )));
        }
        let (c, h, w) = config.input;
        if config.channels == 0 || config.cells_per_stage == 0 || config.classes == 0 {
            return Err(NetError::Setting(
                "channels, cells_per_stage and classes must be at least 1".into(),
            ));
        }
        if c == 0 || h % 4 != 0 || w % 4 != 0 || h == 0 || w == 0 {
            return Err(NetError::Setting(format!(
                "input {c}×{h}×{w}: needs channels and a height and width divisible by 4"
            )));
        }
        let mut cell = [Nb201Op::Zero; 6];
        for (i, (dim, &gene)) in space.dimensions().iter().zip(&arch.genes).enumerate() {
            let name = dim.label_of(gene);
            cell[i] = Nb201Op::from_name(&name).ok_or_else(|| {
                NetError::Arch(format!(
                    "unknown NB201 op {name:?}; known: {}",
                    NB201_OPS.join(", ")
                ))
            })?;
        }
        Ok(Nb201Net { config, cell })
    }

    /// Exact parameters and FLOPs, as NAS-Bench-201 counts them.
    pub fn cost(&self) -> Cost {
        let cfg = &self.config;
        let (c_in, mut h, mut w) = cfg.input;
        let mut c = cfg.channels;
        let mut total = conv(c_in, c, 3, h, w, true);
        for stage in 0..3 {
            if stage > 0 {
                // Residual reduction: 3×3 stride-2 conv-BN, 3×3 conv-BN, and a shortcut of
                // 2×2 average pooling then a 1×1 conv (no BN).
                let (c_out, h_out, w_out) = (2 * c, h / 2, w / 2);
                total += conv(c, c_out, 3, h_out, w_out, true);
                total += conv(c_out, c_out, 3, h_out, w_out, true);
                total += conv(c, c_out, 1, h_out, w_out, false);
                (c, h, w) = (c_out, h_out, w_out);
            }
            let cell: Cost = self.cell.iter().map(|op| op.cost(c, h, w)).sum();
            for _ in 0..cfg.cells_per_stage {
                total += cell;
            }
        }
        // Last batch norm (affine), then the classifier.
        total += Cost {
            params: 2 * c,
            flops: 0,
        };
        total + linear(c, cfg.classes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use archer_space::Nb201Space;

    #[test]
    fn the_largest_cell_has_the_published_size() {
        let space = Nb201Space::default();
        let all_conv = space
            .parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")
            .unwrap();
        let net = Nb201Net::new(&space, &all_conv, Nb201NetConfig::cifar10()).unwrap();
        // NB201: max params 1.5315 M, max FLOPs 220.12 M on CIFAR-10.
        assert_eq!(net.cost().params, 1_531_546);
        assert!(
            (net.cost().flops_m() - 220.11969).abs() < 1e-4,
            "{}",
            net.cost().flops_m()
        );
    }
}
