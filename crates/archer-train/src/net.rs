//! Networks built from an architecture of any searchable space, with their variable store
//! and exact size.

use archer_eval::NetworkConfig;
use archer_nets::{DartsNet, DartsNetConfig, Nb201Net, Nb201NetConfig};
use archer_space::{Arch, ChainSpace, SearchSpace, CHAIN_FILTERS, CHAIN_KERNELS, CHAIN_OPS};
use tch::nn::{self, ModuleT};
use tch::{Device, Tensor};

use crate::chain::ChainModule;
use crate::darts::DartsModule;
use crate::nb201::Nb201Module;
use crate::ops::{FlopTally, Shape};
use crate::TrainError;

#[derive(Debug)]
enum Module {
    Nb201(Box<Nb201Module>),
    Darts(Box<DartsModule>),
    Chain(Box<ChainModule>),
}

/// A network, its parameters (in `vs`) and its FLOPs per image.
#[derive(Debug)]
pub struct Network {
    pub vs: nn::VarStore,
    module: Module,
    flops: u64,
    auxiliary_weight: f64,
}

/// The spaces whose architectures [`Network::build`] can build.
pub const TRAINABLE_SPACES: [&str; 3] = ["nb201", "darts", "macro"];

/// Channel counts scaled by the width multiplier, at least 1.
pub(crate) fn scaled(c: u64, width: f64) -> u64 {
    ((c as f64 * width).round() as u64).max(1)
}

impl Network {
    /// Builds the network of `arch` (of `space`) for images of shape `input` and `classes`
    /// classes, with every channel count scaled by `width`, on `device`. Weights are drawn
    /// from libtorch's generator: seed it first (`tch::manual_seed`) for a reproducible
    /// network.
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        space: &dyn SearchSpace,
        arch: &Arch,
        config: &NetworkConfig,
        input: Shape,
        classes: i64,
        width: f64,
        device: Device,
    ) -> Result<Network, TrainError> {
        config
            .validate()
            .map_err(|e| TrainError::Setting(e.to_string()))?;
        if !(width > 0.0 && width.is_finite()) {
            return Err(TrainError::Setting(format!(
                "width multiplier {width} must be positive"
            )));
        }
        space
            .check(arch)
            .map_err(|e| TrainError::Setting(e.to_string()))?;
        let vs = nn::VarStore::new(device);
        let tally = FlopTally::default();
        let root = vs.root();
        let as_u = |x: i64| x as u64;
        let module = match space.name() {
            "nb201" => {
                let cfg = Nb201NetConfig {
                    channels: scaled(config.channels.unwrap_or(16), width),
                    cells_per_stage: config.depth.unwrap_or(5),
                    classes: as_u(classes),
                    input: (as_u(input.c), as_u(input.h), as_u(input.w)),
                };
                let net = Nb201Net::new(space, arch, cfg)?;
                Module::Nb201(Box::new(Nb201Module::new(&root, &tally, &net)))
            }
            "darts" => {
                let cfg = DartsNetConfig {
                    channels: scaled(config.channels.unwrap_or(16), width),
                    layers: config.depth.unwrap_or(8),
                    stem_multiplier: 3,
                    classes: as_u(classes),
                    input: (as_u(input.c), as_u(input.h), as_u(input.w)),
                };
                let net = DartsNet::new(space, arch, cfg)?;
                Module::Darts(Box::new(DartsModule::new(
                    &root,
                    &tally,
                    &net,
                    config.auxiliary_weight > 0.0,
                    config.drop_path,
                )))
            }
            "macro" => {
                let layers = space
                    .dimensions()
                    .iter()
                    .filter(|d| d.label.ends_with("_op"))
                    .count();
                let ops: Vec<String> = CHAIN_OPS.iter().map(|s| s.to_string()).collect();
                let full = ChainSpace::new(
                    Some(layers),
                    Some(&ops),
                    Some(&CHAIN_KERNELS),
                    Some(&CHAIN_FILTERS),
                )
                .map_err(|e| TrainError::Setting(e.to_string()))?;
                let stem = scaled(config.channels.unwrap_or(16), width) as i64;
                Module::Chain(Box::new(ChainModule::new(
                    &root, &tally, &full, arch, input, stem, width, classes,
                )))
            }
            other => {
                return Err(TrainError::Setting(format!(
                    "no network is defined for the space {other:?}; trainable spaces: {}",
                    TRAINABLE_SPACES.join(", ")
                )))
            }
        };
        Ok(Network {
            vs,
            module,
            flops: tally.total(),
            auxiliary_weight: config.auxiliary_weight,
        })
    }

    /// Trainable parameters (batch-norm running statistics excluded).
    pub fn params(&self) -> u64 {
        self.vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel() as u64)
            .sum()
    }

    /// FLOPs of one image's forward pass (auxiliary head excluded).
    pub fn flops(&self) -> u64 {
        self.flops
    }

    /// The auxiliary loss weight (0 without an auxiliary head).
    pub fn auxiliary_weight(&self) -> f64 {
        self.auxiliary_weight
    }

    /// Logits, plus the auxiliary head's logits when training a network that has one.
    pub fn forward_aux(&self, xs: &Tensor, train: bool) -> (Tensor, Option<Tensor>) {
        match &self.module {
            Module::Darts(m) => m.forward_aux(xs, train),
            _ => (self.forward_t(xs, train), None),
        }
    }

    pub fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        match &self.module {
            Module::Nb201(m) => m.forward_t(xs, train),
            Module::Darts(m) => m.forward_t(xs, train),
            Module::Chain(m) => m.forward_t(xs, train),
        }
    }
}
