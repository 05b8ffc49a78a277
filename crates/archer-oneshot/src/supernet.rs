//! A supernet: every architecture of a space in one network. The weights live in one
//! variable store and α (one row per mixed edge, one column per candidate operation) in
//! another, so that the weights' optimiser never sees α. What differs between spaces (the
//! network's layout, how an architecture is read from α, which edges a single path takes)
//! is a [`SupernetBody`]; each space's is one file and one line of [`SUPERNETS`].

use archer_space::{Arch, SearchSpace};
use archer_train::ops::Shape;
use tch::nn;
use tch::{Device, Kind, Tensor};

use crate::{Mixing, OneShotError};

/// The supernet's size and input.
#[derive(Clone, Debug, PartialEq)]
pub struct SupernetConfig {
    /// Channels of the first stage (C; the published recipes: 16).
    pub channels: i64,
    /// Normal cells per stage (N; NB201's recipe: 5, DARTS's: 2, which makes its 8 cells
    /// with the two reduction cells).
    pub depth: usize,
    /// Input `(channels, height, width)`.
    pub input: Shape,
    pub classes: i64,
    /// PC-DARTS's partial channels: `1/K` of each edge's channels through its candidates
    /// (1: all). K must divide C.
    pub partial_channels: i64,
}

/// A space's supernet layout: its network under a mixing per α row, and how architectures
/// of the space map to α's rows and columns.
pub trait SupernetBody: std::fmt::Debug + Send {
    /// Logits of `x`, each mixed edge mixed by its α row's entry of `mixing`.
    fn forward_t(&self, x: &Tensor, mixing: &[Mixing], train: bool) -> Tensor;

    /// The architecture the per-row probabilities `probs` (rows × candidates) prefer
    /// (`None` for a supernet without α).
    fn derive(&self, probs: &[Vec<f64>]) -> Option<Arch>;

    /// Up to `keep` architectures best first by their log-probability under `probs`,
    /// distinct up to `space`'s isomorphism, each with that log-probability; the first is
    /// [`SupernetBody::derive`]'s.
    fn ranked(&self, probs: &[Vec<f64>], keep: usize, space: &dyn SearchSpace) -> Vec<(Arch, f64)>;

    /// The mixing of each α row for architecture `arch`: its operation alone, or the zero
    /// operation on an edge it does not take.
    fn single_path(&self, arch: &Arch) -> Result<Vec<Mixing<'static>>, OneShotError>;
}

/// A value of a space's recipe.
#[derive(Clone, Copy, Debug)]
pub enum RecipeValue {
    Number(f64),
    Flag(bool),
}

impl From<&RecipeValue> for serde_json::Value {
    fn from(v: &RecipeValue) -> Self {
        match *v {
            RecipeValue::Number(x) => serde_json::json!(x),
            RecipeValue::Flag(b) => serde_json::json!(b),
        }
    }
}

/// What a space's supernet builder makes: the body (its weights already in the store it
/// was given), and α's shape.
pub struct Built {
    pub body: Box<dyn SupernetBody>,
    pub rows: i64,
    pub columns: i64,
}

/// A registered supernet: the space it searches, its published recipe where it differs
/// from NB201's, its builder.
pub struct SupernetKind {
    pub space: &'static str,
    /// Normal cells per stage in the published recipe.
    pub default_depth: usize,
    /// Whether its edges mix candidate operations (it has an α): methods that learn α
    /// (DARTS, GDAS, SNAS, DrNAS) search only such supernets.
    pub mixes: bool,
    /// `[strategy]` settings of the space's published recipe, as (section, key, value),
    /// taken where the experiment leaves them out.
    pub recipe: &'static [(&'static str, &'static str, RecipeValue)],
    /// `network.depth` of the ordinary network (`archer-train`'s) with as many cells as the
    /// supernet of depth N (`None`: the space's network has no depth setting).
    pub network_depth: fn(usize) -> Option<u64>,
    pub build: fn(&dyn SearchSpace, &SupernetConfig, &nn::Path) -> Result<Built, OneShotError>,
}

/// Every space with a supernet, one line each.
pub static SUPERNETS: &[&SupernetKind] = &[
    &crate::nb201::NB201,
    &crate::darts_supernet::DARTS,
    &crate::chain_supernet::CHAIN,
];

/// The supernet of the space named `space`.
pub fn supernet_kind(space: &str) -> Option<&'static SupernetKind> {
    SUPERNETS.iter().copied().find(|k| k.space == space)
}

/// The names of the spaces with a supernet, for messages.
pub fn supernet_spaces() -> String {
    SUPERNETS
        .iter()
        .map(|k| k.space)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every architecture of a space in one network.
#[derive(Debug)]
pub struct Supernet {
    /// The weights (and batch-norm statistics).
    pub vs: nn::VarStore,
    /// α: its own store.
    pub arch_vs: nn::VarStore,
    /// One row per mixed edge (in the body's order), one column per candidate.
    pub alpha: Tensor,
    body: Box<dyn SupernetBody>,
}

impl Supernet {
    /// The supernet of `space`. α starts at 1e-3 · N(0, 1), as DARTS, NNI and NASLib start
    /// it, drawn from libtorch's generator after the weights.
    pub fn new(
        space: &dyn SearchSpace,
        config: &SupernetConfig,
        device: Device,
    ) -> Result<Self, OneShotError> {
        let kind = supernet_kind(space.name()).ok_or_else(|| {
            OneShotError::Setting(format!(
                "the {} space has no supernet; supernets search: {}",
                space.name(),
                supernet_spaces()
            ))
        })?;
        if config.channels < 1 || config.depth < 1 {
            return Err(OneShotError::Setting(format!(
                "channels = {} and depth = {} must be at least 1",
                config.channels, config.depth
            )));
        }
        let partial = config.partial_channels;
        if partial < 1 || config.channels % partial != 0 {
            return Err(OneShotError::Setting(format!(
                "partial channels K = {partial} must be at least 1 and divide channels = {}",
                config.channels
            )));
        }
        let vs = nn::VarStore::new(device);
        let built = (kind.build)(space, config, &vs.root())?;
        let arch_vs = nn::VarStore::new(device);
        let alpha = arch_vs
            .root()
            .randn("alpha", &[built.rows, built.columns], 0.0, 1e-3);
        Ok(Supernet {
            vs,
            arch_vs,
            alpha,
            body: built.body,
        })
    }

    /// Logits of `x`, α row `r`'s edges mixed by `mixing[r]`.
    pub fn forward_t(&self, x: &Tensor, mixing: &[Mixing], train: bool) -> Tensor {
        self.body.forward_t(x, mixing, train)
    }

    /// The architecture `softmax(α)` prefers (NB201: the argmax of every row, `none`
    /// included; DARTS: each node's two strongest edges; `None` without α).
    pub fn derive(&self) -> Option<Arch> {
        self.derive_from(&rows(&self.alpha.detach().softmax(-1, Kind::Double)))
    }

    /// The architecture per-row probabilities `probs` prefer (`None` without α).
    pub fn derive_from(&self, probs: &[Vec<f64>]) -> Option<Arch> {
        self.body.derive(probs)
    }

    /// Up to `keep` architectures best first by their log-probability under `probs`,
    /// distinct up to `space`'s isomorphism.
    pub fn ranked(
        &self,
        probs: &[Vec<f64>],
        keep: usize,
        space: &dyn SearchSpace,
    ) -> Vec<(Arch, f64)> {
        self.body.ranked(probs, keep, space)
    }

    /// The mixing of each α row for architecture `arch` of the space: its operation alone.
    pub fn single_path(&self, arch: &Arch) -> Result<Vec<Mixing<'static>>, OneShotError> {
        self.body.single_path(arch)
    }

    /// The count of trainable weights (α not included).
    pub fn params(&self) -> u64 {
        self.vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel() as u64)
            .sum()
    }

    /// Everything in double precision (for gradient checks).
    pub fn double(&mut self) {
        self.vs.double();
        self.arch_vs.double();
    }
}

/// A (rows × columns) tensor's values, row by row, in double precision on the CPU.
pub fn rows(t: &Tensor) -> Vec<Vec<f64>> {
    let t = t.detach().to_kind(Kind::Double).to_device(Device::Cpu);
    let columns = t.size().get(1).copied().unwrap_or(1).max(1) as usize;
    let flat = Vec::<f64>::try_from(t.contiguous().view([-1])).unwrap_or_default();
    flat.chunks(columns).map(<[f64]>::to_vec).collect()
}
