use std::fmt::Debug;

use archer_rng::Rng;
use sha2::{Digest, Sha256};

use crate::encoding::{self, Encoding};
use crate::generic;
use crate::{Arch, Dimension, Gene, OpGraph, Sketch, SpaceError};

/// A framework-free description of all candidate architectures.
///
/// Contract, for every implementation (checked by each space's property tests):
/// - `contains(&sample(rng))`, `contains(&mutate(a, rng))`, `contains(&crossover(a, b, rng))`
///   and every element of `neighbours(a)` is contained, differs from `a` in exactly one
///   dimension (or one constrained group of dimensions) and appears once;
/// - `parse(&format(a)) == a` for every contained `a`;
/// - `canonical_hash(a) == canonical_hash(b)` whenever `a` and `b` are isomorphic
///   (they build the same function), and the hash never changes across releases;
/// - every method is deterministic given its inputs (randomness only through `rng`).
///
/// The default methods treat the space as a product of its dimensions' `allowed` values,
/// filtered by [`SearchSpace::is_valid`]; spaces override what they know better.
pub trait SearchSpace: Send + Sync + Debug {
    /// Short name used in configs and in every `Arch` of this space (`nb201`, `darts`, ...).
    fn name(&self) -> &str;

    /// Bumped whenever the meaning of an `Arch`'s choices changes.
    fn version(&self) -> u32;

    /// A paragraph for `archer spaces show`: what the dimensions and operations are.
    fn describe(&self) -> String;

    /// The labelled decisions, in the order of `Arch::choices`.
    fn dimensions(&self) -> &[Dimension];

    /// Constraints beyond each dimension's allowed values (e.g. distinct inputs). Receives a
    /// gene vector already checked for length, conditions and allowed values.
    fn is_valid(&self, _genes: &[Gene]) -> bool {
        true
    }

    /// Groups of dimensions that constraints tie together; crossover exchanges whole groups.
    fn genes(&self) -> Vec<std::ops::Range<usize>> {
        (0..self.dimensions().len()).map(|i| i..i + 1).collect()
    }

    /// Number of valid gene vectors (not of distinct functions: see `canonical`);
    /// `u128::MAX` for a space with a continuous dimension.
    fn size(&self) -> u128 {
        generic::product_size(self.dimensions())
    }

    /// A uniformly random valid architecture; [`SpaceError::SamplingFailed`] when the default
    /// rejection sampler finds none (a space with such constraints must override this).
    fn sample(&self, rng: &mut Rng) -> Result<Arch, SpaceError> {
        generic::sample(self, rng)
    }

    /// Whether `arch` is a valid point of this space.
    fn contains(&self, arch: &Arch) -> bool {
        self.check(arch).is_ok()
    }

    /// Like `contains`, but says why not.
    fn check(&self, arch: &Arch) -> Result<(), SpaceError> {
        generic::check(self, arch)
    }

    /// Every valid architecture one edit away (one dimension changed to another allowed value),
    /// in a fixed order.
    fn neighbours(&self, arch: &Arch) -> Vec<Arch> {
        generic::neighbours(self, arch)
    }

    /// A random valid architecture one edit away. Returns `arch` unchanged only when it has no
    /// neighbour at all.
    fn mutate(&self, arch: &Arch, rng: &mut Rng) -> Arch {
        generic::mutate(self, arch, rng)
    }

    /// Uniform crossover: each gene from `a` or `b` with equal probability.
    fn crossover(&self, a: &Arch, b: &Arch, rng: &mut Rng) -> Arch {
        generic::crossover(self, a, b, rng)
    }

    /// The representative of `arch`'s isomorphism class (same function, one choice vector).
    fn canonical(&self, arch: &Arch) -> Arch {
        arch.clone()
    }

    /// A stable hex digest of the canonical form: isomorphic architectures hash alike.
    /// An index hashes as its two little-endian bytes (as in every release), an absent gene
    /// as `ff ff`, a float as `F` and its value at [`FLOAT_HASH_DIGITS`] significant digits.
    fn canonical_hash(&self, arch: &Arch) -> String {
        let canon = self.canonical(arch);
        let mut hasher = Sha256::new();
        hasher.update(format!("{}/v{}/", canon.space, canon.version).as_bytes());
        hash_genes(&mut hasher, &canon.genes);
        short_hex(hasher)
    }

    /// How far apart two architectures are, for distance-based kernels: 1 per differing
    /// categorical or integer choice (or a dimension present in one only), the distance of
    /// the unit-interval positions for a float.
    fn distance(&self, a: &Arch, b: &Arch) -> f64 {
        generic::distance(self.dimensions(), a, b)
    }

    /// The architecture as labelled JSON, `{"edge_0_1": "nor_conv_3x3", ...}`: every
    /// present dimension's label with its value (an option's label, a float as a number).
    /// What an external training command receives.
    fn labelled(&self, arch: &Arch) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        for (d, &g) in self.dimensions().iter().zip(&arch.genes) {
            let v = match g {
                Gene::Absent => continue,
                Gene::Float(x) => serde_json::json!(x),
                Gene::Index(_) => serde_json::Value::String(d.label_of(g)),
            };
            map.insert(d.label.clone(), v);
        }
        serde_json::Value::Object(map)
    }

    /// The space's native string (NB201 arch string, DARTS genotype, ...).
    fn format(&self, arch: &Arch) -> String;

    /// Inverse of `format`.
    fn parse(&self, text: &str) -> Result<Arch, SpaceError>;

    /// The architecture as node-labelled DAGs (one per cell), for graph encodings and kernels.
    fn graphs(&self, arch: &Arch) -> Vec<OpGraph>;

    /// The architecture as something to draw. By default its [`SearchSpace::graphs`]; spaces
    /// whose cells label edges, or that are chains of layers, say so.
    fn sketch(&self, arch: &Arch) -> Sketch {
        Sketch::Graphs(self.graphs(arch))
    }

    /// Fixed-length numeric encoding for predictors; same length for every arch of the space.
    /// A space without cell graphs encodes `AdjacencyOps` and `Path` as `OneHot`.
    fn encode(&self, arch: &Arch, encoding: Encoding) -> Vec<f32> {
        encoding::encode(self, arch, encoding)
    }

    /// The space as the chain (`macro`) space, for what only chains of layers offer: network
    /// morphism's function-preserving morphs ([`crate::Morph`]) and edit distance.
    fn as_chain(&self) -> Option<&crate::ChainSpace> {
        None
    }
}

/// The first 12 bytes of the digest in hex: the form of every canonical hash.
pub(crate) fn short_hex(hasher: Sha256) -> String {
    let digest = hasher.finalize();
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// Significant digits a float gene is hashed at: values that agree to this many digits are
/// the same architecture for deduplication and lookups.
pub const FLOAT_HASH_DIGITS: usize = 7;

/// Feeds genes into a hash as [`SearchSpace::canonical_hash`] documents.
pub fn hash_genes(hasher: &mut Sha256, genes: &[Gene]) {
    for g in genes {
        match g {
            Gene::Index(c) => hasher.update(c.to_le_bytes()),
            Gene::Absent => hasher.update([0xff, 0xff]),
            Gene::Float(x) => {
                hasher.update(b"F");
                hasher.update(format!("{:.*e};", FLOAT_HASH_DIGITS - 1, x).as_bytes());
            }
        }
    }
}
