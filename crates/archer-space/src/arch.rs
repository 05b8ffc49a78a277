use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

/// One decision's value in an [`Arch`].
///
/// - `Index(i)`: the `i`-th value of a categorical or integer dimension (never `u16::MAX`,
///   which [`Gene::index_or_max`] uses for "not an index");
/// - `Float(x)`: the value of a continuous dimension (finite; `-0.0` is stored as `0.0`);
/// - `Absent`: the dimension does not exist in this architecture (its `when` condition
///   fails, or it belongs to a repeat deeper than the chosen depth).
///
/// In JSON an index is an integer, a float a number with a fraction or exponent (`2.0`), and
/// `Absent` is `null`; so the stored form of an all-index architecture is the list of
/// integers earlier releases wrote.
#[derive(Clone, Copy, Debug)]
pub enum Gene {
    Index(u16),
    Float(f64),
    Absent,
}

impl Gene {
    /// A float gene, `-0.0` normalised to `0.0` so that equal values compare equal.
    pub fn float(x: f64) -> Gene {
        Gene::Float(if x == 0.0 { 0.0 } else { x })
    }

    /// The index, if this is one.
    pub fn index(self) -> Option<u16> {
        match self {
            Gene::Index(i) => Some(i),
            _ => None,
        }
    }

    /// The index, or `u16::MAX` (never a valid index) for a float or an absent gene: for
    /// spaces whose dimensions are all categorical and that check membership first.
    pub fn index_or_max(self) -> u16 {
        self.index().unwrap_or(u16::MAX)
    }

    pub fn is_absent(self) -> bool {
        matches!(self, Gene::Absent)
    }

    fn rank(self) -> u8 {
        match self {
            Gene::Index(_) => 0,
            Gene::Float(_) => 1,
            Gene::Absent => 2,
        }
    }
}

impl PartialEq for Gene {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Gene::Index(a), Gene::Index(b)) => a == b,
            (Gene::Float(a), Gene::Float(b)) => a.to_bits() == b.to_bits(),
            (Gene::Absent, Gene::Absent) => true,
            _ => false,
        }
    }
}

impl Eq for Gene {}

impl Hash for Gene {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.rank().hash(state);
        match self {
            Gene::Index(i) => i.hash(state),
            Gene::Float(x) => x.to_bits().hash(state),
            Gene::Absent => {}
        }
    }
}

impl PartialOrd for Gene {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Gene {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Gene::Index(a), Gene::Index(b)) => a.cmp(b),
            (Gene::Float(a), Gene::Float(b)) => a.total_cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl From<u16> for Gene {
    fn from(i: u16) -> Self {
        Gene::Index(i)
    }
}

impl Serialize for Gene {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Gene::Index(i) => s.serialize_u16(*i),
            Gene::Float(x) => s.serialize_f64(*x),
            Gene::Absent => s.serialize_none(),
        }
    }
}

impl<'de> Deserialize<'de> for Gene {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Gene;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an index (0 to 65534), a float, or null")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Gene, E> {
                u16::try_from(v)
                    .ok()
                    .filter(|&i| i != u16::MAX)
                    .map(Gene::Index)
                    .ok_or_else(|| E::custom(format!("index {v} is out of range")))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Gene, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom(format!("index {v} is negative")))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Gene, E> {
                if v.is_finite() {
                    Ok(Gene::float(v))
                } else {
                    Err(E::custom("a float gene must be finite"))
                }
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Gene, E> {
                Ok(Gene::Absent)
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<Gene, E> {
                Ok(Gene::Absent)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// One concrete point of a search space: a [`Gene`] per dimension, tagged with the space's
/// name and version. A small value (it serialises to JSON), never a network. Whether it
/// belongs to a given space is [`crate::SearchSpace::contains`]'s call.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Arch {
    pub space: String,
    pub version: u32,
    /// Stored under its historical name, `choices`.
    #[serde(rename = "choices")]
    pub genes: Vec<Gene>,
}

impl Arch {
    /// An architecture of index genes only.
    pub fn new(space: &str, version: u32, choices: Vec<u16>) -> Self {
        Self::from_genes(
            space,
            version,
            choices.into_iter().map(Gene::Index).collect(),
        )
    }

    pub fn from_genes(space: &str, version: u32, genes: Vec<Gene>) -> Self {
        Arch {
            space: space.to_string(),
            version,
            genes,
        }
    }

    /// The same space tag with other index choices.
    pub fn with_choices(&self, choices: Vec<u16>) -> Self {
        self.with_genes(choices.into_iter().map(Gene::Index).collect())
    }

    /// The same space tag with other genes.
    pub fn with_genes(&self, genes: Vec<Gene>) -> Self {
        Arch {
            space: self.space.clone(),
            version: self.version,
            genes,
        }
    }

    /// Every gene as an index, `u16::MAX` where a gene is not one (see
    /// [`Gene::index_or_max`]).
    pub fn indices(&self) -> Vec<u16> {
        self.genes.iter().map(|g| g.index_or_max()).collect()
    }

    /// Gene `i` as an index (`u16::MAX` when it is not one, or out of range).
    pub fn index(&self, i: usize) -> u16 {
        self.genes.get(i).map_or(u16::MAX, |g| g.index_or_max())
    }
}
