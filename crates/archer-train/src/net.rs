//! Networks built from an architecture of any searchable space, with their variable store
//! and exact size.

use archer_eval::NetworkConfig;
use archer_space::{Arch, SearchSpace};
use tch::nn::{self, ModuleT};
use tch::{Device, Tensor};

use crate::ops::{FlopTally, Shape};
use crate::TrainError;

/// What a [`NetworkBuilder`] builds from: an architecture of its space and the recipe.
pub(crate) struct NetworkSpec<'a> {
    pub space: &'a dyn SearchSpace,
    pub arch: &'a Arch,
    pub config: &'a NetworkConfig,
    pub input: Shape,
    pub classes: i64,
    /// Channel multiplier, positive.
    pub width: f64,
}

impl NetworkSpec<'_> {
    /// The input's `(channels, height, width)`.
    pub fn input_dims(&self) -> (u64, u64, u64) {
        let u = |x: i64| x as u64;
        (u(self.input.c), u(self.input.h), u(self.input.w))
    }
}

/// A built network: libtorch's forward pass, plus the auxiliary head where there is one.
pub(crate) trait NetModule: ModuleT {
    /// Logits, plus an auxiliary head's logits when training a network that has one.
    fn forward_aux(&self, xs: &Tensor, train: bool) -> (Tensor, Option<Tensor>) {
        (self.forward_t(xs, train), None)
    }
}

/// Builds the networks of one space's architectures: one per trainable space, each in its
/// own file, listed once in [`BUILDERS`].
pub(crate) trait NetworkBuilder: Sync {
    /// The space (`SearchSpace::name`) whose architectures it builds.
    fn space(&self) -> &'static str;

    /// The network of `spec.arch` (already checked against `spec.space`), its variables
    /// under `root`, its FLOPs counted in `tally`.
    fn build(
        &self,
        spec: &NetworkSpec,
        root: &nn::Path,
        tally: &FlopTally,
    ) -> Result<Box<dyn NetModule>, TrainError>;
}

/// Every space's network builder.
const BUILDERS: &[&dyn NetworkBuilder] = &[
    &crate::nb201::BUILDER,
    &crate::darts::BUILDER,
    &crate::chain::BUILDER,
    &crate::genet::BUILDER,
];

/// The spaces whose architectures [`Network::build`] can build.
pub fn trainable_spaces() -> Vec<&'static str> {
    BUILDERS.iter().map(|b| b.space()).collect()
}

/// A network, its parameters (in `vs`) and its FLOPs per image.
#[derive(Debug)]
pub struct Network {
    pub vs: nn::VarStore,
    module: Box<dyn NetModule>,
    flops: u64,
    auxiliary_weight: f64,
}

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
        let builder = BUILDERS
            .iter()
            .find(|b| b.space() == space.name())
            .ok_or_else(|| {
                TrainError::Setting(format!(
                    "no network is defined for the space {:?}; trainable spaces: {}",
                    space.name(),
                    trainable_spaces().join(", ")
                ))
            })?;
        let vs = nn::VarStore::new(device);
        let tally = FlopTally::default();
        let spec = NetworkSpec {
            space,
            arch,
            config,
            input,
            classes,
            width,
        };
        let module = builder.build(&spec, &vs.root(), &tally)?;
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
        self.module.forward_aux(xs, train)
    }

    pub fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.module.forward_t(xs, train)
    }
}
