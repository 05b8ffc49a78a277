//! Default implementations of [`SearchSpace`] methods for product spaces with constraints
//! and conditional dimensions (each dimension's `when` names only earlier dimensions).

use archer_rng::Rng;

use crate::{Arch, Dimension, Domain, Gene, SearchSpace, SpaceError};

/// How many times rejection sampling may fail before it gives up with
/// [`SpaceError::SamplingFailed`]. Spaces whose constraints reject most vectors must override
/// `sample`.
const MAX_REJECTIONS: usize = 10_000;

/// Standard deviation of a float's Gaussian mutation step, in the unit interval.
pub const FLOAT_MUTATION_SIGMA: f64 = 0.1;

pub(crate) fn product_size(dims: &[Dimension]) -> u128 {
    if dims.iter().any(Dimension::is_float) {
        return u128::MAX;
    }
    dims.iter()
        .fold(1u128, |acc, d| acc.saturating_mul(d.allowed.len() as u128))
}

/// A uniformly random value of `d`.
pub fn draw(d: &Dimension, rng: &mut Rng) -> Gene {
    match d.domain {
        Domain::Float { .. } => Gene::float(d.float_at(rng.unit())),
        _ => Gene::Index(d.allowed[rng.below(d.allowed.len())]),
    }
}

/// Makes `genes` agree with the dimensions' conditions, in order: a dimension whose
/// condition fails becomes `Absent`; one that exists but is `Absent` gets a random value
/// (`rng`) or its [`Dimension::default_gene`] (`None`). A no-op for unconditional spaces.
pub fn settle(dims: &[Dimension], genes: &mut [Gene], mut rng: Option<&mut Rng>) {
    for i in 0..dims.len().min(genes.len()) {
        let d = &dims[i];
        if !d.is_conditional() {
            continue;
        }
        if !d.is_active(&genes[..i]) {
            genes[i] = Gene::Absent;
        } else if genes[i].is_absent() {
            genes[i] = match rng.as_deref_mut() {
                Some(r) => draw(d, r),
                None => d.default_gene(),
            };
        }
    }
}

pub(crate) fn sample<S: SearchSpace + ?Sized>(
    space: &S,
    rng: &mut Rng,
) -> Result<Arch, SpaceError> {
    let dims = space.dimensions();
    for _ in 0..MAX_REJECTIONS {
        let mut genes: Vec<Gene> = Vec::with_capacity(dims.len());
        for d in dims {
            let g = if d.is_active(&genes) {
                draw(d, rng)
            } else {
                Gene::Absent
            };
            genes.push(g);
        }
        if space.is_valid(&genes) {
            return Ok(Arch::from_genes(space.name(), space.version(), genes));
        }
    }
    Err(SpaceError::SamplingFailed {
        space: space.name().to_string(),
        attempts: MAX_REJECTIONS,
    })
}

pub(crate) fn check<S: SearchSpace + ?Sized>(space: &S, arch: &Arch) -> Result<(), SpaceError> {
    if arch.space != space.name() || arch.version != space.version() {
        return Err(SpaceError::WrongSpace {
            expected: space.name().to_string(),
            expected_version: space.version(),
            found: arch.space.clone(),
            found_version: arch.version,
        });
    }
    let dims = space.dimensions();
    let not_contained = |reason: String| SpaceError::NotContained {
        space: space.name().to_string(),
        reason,
    };
    if arch.genes.len() != dims.len() {
        return Err(not_contained(format!(
            "{} choices given, the space has {} dimensions",
            arch.genes.len(),
            dims.len()
        )));
    }
    for (i, (d, &g)) in dims.iter().zip(&arch.genes).enumerate() {
        let active = d.is_active(&arch.genes[..i]);
        match (active, g) {
            (false, Gene::Absent) => {}
            (false, _) => {
                return Err(not_contained(format!(
                    "dimension {} is set to {}, but its condition does not hold",
                    d.label,
                    d.label_of(g)
                )))
            }
            (true, Gene::Absent) => {
                return Err(not_contained(format!("dimension {} is missing", d.label)))
            }
            (true, g) if !d.admits(g) => {
                let value = match g {
                    Gene::Index(c) => format!(
                        "choice {c} ({})",
                        d.choices.get(usize::from(c)).map_or("out of range", |s| s)
                    ),
                    other => format!("value {}", d.label_of(other)),
                };
                return Err(not_contained(format!(
                    "dimension {} has {value}, which this space does not allow",
                    d.label
                )));
            }
            (true, _) => {}
        }
    }
    if !space.is_valid(&arch.genes) {
        return Err(not_contained(
            "violates the space's constraints".to_string(),
        ));
    }
    Ok(())
}

pub(crate) fn neighbours<S: SearchSpace + ?Sized>(space: &S, arch: &Arch) -> Vec<Arch> {
    let dims = space.dimensions();
    let mut out = Vec::new();
    for (i, d) in dims.iter().enumerate() {
        let Some(&current) = arch.genes.get(i) else {
            break;
        };
        if current.is_absent() {
            continue;
        }
        for v in d.neighbour_values(current) {
            let mut genes = arch.genes.clone();
            genes[i] = v;
            settle(dims, &mut genes, None);
            if space.is_valid(&genes) {
                out.push(arch.with_genes(genes));
            }
        }
    }
    out
}

/// The first dimension where `a` and `b` differ.
fn first_difference(a: &[Gene], b: &[Gene]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y)
}

/// `x + σ·N(0,1)` reflected into the unit interval.
fn gaussian_step(u: f64, rng: &mut Rng) -> f64 {
    let mut v = u + FLOAT_MUTATION_SIGMA * rng.normal();
    for _ in 0..4 {
        if v < 0.0 {
            v = -v;
        } else if v > 1.0 {
            v = 2.0 - v;
        }
    }
    v.clamp(0.0, 1.0)
}

pub(crate) fn mutate<S: SearchSpace + ?Sized>(space: &S, arch: &Arch, rng: &mut Rng) -> Arch {
    if arch.genes.len() != space.dimensions().len() {
        return arch.clone(); // not an architecture of this space: nothing to edit
    }
    // Choosing uniformly among all neighbours keeps mutation unbiased for constrained spaces.
    // Cheap enough: neighbourhoods are at most a few hundred.
    let mut all = space.neighbours(arch);
    if all.is_empty() {
        return arch.clone();
    }
    let i = rng.below(all.len());
    let mut picked = all.swap_remove(i);
    let dims = space.dimensions();
    let Some(at) = first_difference(&arch.genes, &picked.genes) else {
        return picked;
    };
    if dims[at].is_float() {
        // A float moves by a Gaussian step rather than to one of its listed neighbours.
        let u = gaussian_step(dims[at].unit(arch.genes[at]), rng);
        picked.genes[at] = Gene::float(dims[at].float_at(u));
    }
    // Dimensions the edit brought into existence get random values, not defaults.
    for (j, d) in dims.iter().enumerate().skip(at + 1) {
        if d.is_conditional() && arch.genes[j].is_absent() && !picked.genes[j].is_absent() {
            picked.genes[j] = Gene::Absent;
        }
    }
    settle(dims, &mut picked.genes, Some(rng));
    if space.is_valid(&picked.genes) {
        picked
    } else {
        arch.clone()
    }
}

/// The condition under which block `block` (counted from 0) exists in a space whose first
/// dimension is a depth from `min` to `max` blocks: the depth is above `block`.
pub(crate) fn block_exists(block: usize, min: usize, max: usize) -> crate::Condition {
    crate::Condition {
        dimension: 0,
        values: ((block + 1 - min) as u16..=(max - min) as u16).collect(),
    }
}

/// Uniform crossover for a space whose first dimension is a depth (how many blocks exist):
/// the child takes the depth from either parent, then each of its blocks from either parent
/// that has it, so that every gene comes from a parent. `blocks(genes)` counts the blocks of
/// a gene vector; `ranges(i)` are the genes of block `i`. Without a depth (`growing` false)
/// or for architectures of another length, the default [`crossover`].
pub(crate) fn crossover_by_block<S: SearchSpace + ?Sized>(
    space: &S,
    growing: bool,
    (a, b): (&Arch, &Arch),
    rng: &mut Rng,
    blocks: impl Fn(&[Gene]) -> usize,
    ranges: impl Fn(usize) -> Vec<std::ops::Range<usize>>,
) -> Arch {
    let n = space.dimensions().len();
    if !growing || a.genes.len() != n || b.genes.len() != n {
        return crossover(space, a, b, rng);
    }
    let mut genes = vec![Gene::Absent; a.genes.len()];
    genes[0] = if rng.chance(0.5) {
        a.genes[0]
    } else {
        b.genes[0]
    };
    let (na, nb) = (blocks(&a.genes), blocks(&b.genes));
    for i in 0..blocks(&genes) {
        let from = match (i < na, i < nb) {
            (true, true) if rng.chance(0.5) => b,
            (true, _) => a,
            _ => b,
        };
        for r in ranges(i) {
            genes[r.clone()].copy_from_slice(&from.genes[r]);
        }
    }
    a.with_genes(genes)
}

pub(crate) fn crossover<S: SearchSpace + ?Sized>(
    space: &S,
    a: &Arch,
    b: &Arch,
    rng: &mut Rng,
) -> Arch {
    let mut genes = a.genes.clone();
    let n = space.dimensions().len();
    if b.genes.len() != n || genes.len() != n {
        return a.clone();
    }
    for gene in space.genes() {
        if rng.chance(0.5) {
            genes[gene.clone()].copy_from_slice(&b.genes[gene]);
        }
    }
    settle(space.dimensions(), &mut genes, Some(rng));
    if space.is_valid(&genes) {
        a.with_genes(genes)
    } else {
        // Genes are meant to make every mix valid; fall back to a parent rather than panic.
        a.clone()
    }
}

/// How far apart two architectures are: per dimension, 1 for different indices (or one
/// absent), the distance of the unit positions for floats; summed. For all-categorical
/// spaces it is the Hamming distance.
pub(crate) fn distance(dims: &[Dimension], a: &Arch, b: &Arch) -> f64 {
    let mut d = 0.0;
    for (i, (x, y)) in a.genes.iter().zip(&b.genes).enumerate() {
        d += match (x, y) {
            (Gene::Float(_), Gene::Float(_)) => match dims.get(i) {
                Some(dim) => (dim.unit(*x) - dim.unit(*y)).abs(),
                None => f64::from(u8::from(x != y)),
            },
            _ => f64::from(u8::from(x != y)),
        };
    }
    d + a.genes.len().abs_diff(b.genes.len()) as f64
}
