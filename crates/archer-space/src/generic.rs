//! Default implementations of [`SearchSpace`] methods for product spaces with constraints.

use archer_rng::Rng;

use crate::{Arch, Dimension, SearchSpace, SpaceError};

/// How many times rejection sampling may fail before it gives up with
/// [`SpaceError::SamplingFailed`]. Spaces whose constraints reject most vectors must override
/// `sample`.
const MAX_REJECTIONS: usize = 10_000;

pub(crate) fn product_size(dims: &[Dimension]) -> u128 {
    dims.iter()
        .fold(1u128, |acc, d| acc.saturating_mul(d.allowed.len() as u128))
}

pub(crate) fn sample<S: SearchSpace + ?Sized>(
    space: &S,
    rng: &mut Rng,
) -> Result<Arch, SpaceError> {
    let dims = space.dimensions();
    for _ in 0..MAX_REJECTIONS {
        let choices: Vec<u16> = dims
            .iter()
            .map(|d| d.allowed[rng.below(d.allowed.len())])
            .collect();
        if space.is_valid(&choices) {
            return Ok(Arch::new(space.name(), space.version(), choices));
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
    if arch.choices.len() != dims.len() {
        return Err(not_contained(format!(
            "{} choices given, the space has {} dimensions",
            arch.choices.len(),
            dims.len()
        )));
    }
    for (d, &c) in dims.iter().zip(&arch.choices) {
        if !d.allows(c) {
            let value = d
                .choices
                .get(c as usize)
                .map_or("out of range", |s| s.as_str());
            return Err(not_contained(format!(
                "dimension {} has choice {c} ({value}), which this space does not allow",
                d.label
            )));
        }
    }
    if !space.is_valid(&arch.choices) {
        return Err(not_contained(
            "violates the space's constraints".to_string(),
        ));
    }
    Ok(())
}

pub(crate) fn neighbours<S: SearchSpace + ?Sized>(space: &S, arch: &Arch) -> Vec<Arch> {
    let mut out = Vec::new();
    for (i, d) in space.dimensions().iter().enumerate() {
        for &v in &d.allowed {
            if v == arch.choices[i] {
                continue;
            }
            let mut choices = arch.choices.clone();
            choices[i] = v;
            if space.is_valid(&choices) {
                out.push(arch.with_choices(choices));
            }
        }
    }
    out
}

pub(crate) fn mutate<S: SearchSpace + ?Sized>(space: &S, arch: &Arch, rng: &mut Rng) -> Arch {
    // Choosing uniformly among all neighbours keeps mutation unbiased for constrained spaces.
    // Cheap enough: neighbourhoods are at most a few hundred.
    let mut all = space.neighbours(arch);
    if all.is_empty() {
        return arch.clone();
    }
    let i = rng.below(all.len());
    all.swap_remove(i)
}

pub(crate) fn crossover<S: SearchSpace + ?Sized>(
    space: &S,
    a: &Arch,
    b: &Arch,
    rng: &mut Rng,
) -> Arch {
    let mut choices = a.choices.clone();
    for gene in space.genes() {
        if rng.chance(0.5) {
            choices[gene.clone()].copy_from_slice(&b.choices[gene]);
        }
    }
    if space.is_valid(&choices) {
        a.with_choices(choices)
    } else {
        // Genes are meant to make every mix valid; fall back to a parent rather than panic.
        a.clone()
    }
}
