//! Function-preserving morphs of chain (`macro`) architectures (Net2Net, Chen et al. 2016;
//! Auto-Keras, Jin et al. 2019), at the level of the architecture: which children one morph
//! away from a parent a network can compute the parent's function in, and Auto-Keras's edit
//! distance between two networks. The weight surgery that makes a child's network compute
//! its parent's function lives with the networks (`archer-train`'s `morph` module).
//!
//! - [`Morph::Deepen`] appends a `conv` layer with the last layer's filter count and no
//!   skips. The space must allow one more layer (`min_layers` below `layers`). Where the new
//!   layer sits at a pooling position (1/3 and 2/3 of the most layers) it reads a 2×2
//!   max-pooled input: every weight still carries over, but the function is only close to
//!   the parent's, not equal ([`ChainSpace::exact`]). Refusing it instead would leave every
//!   network below the first pooling position.
//! - [`Morph::Widen`] moves one layer's filters to the next larger allowed count.
//! - [`Morph::Skip`] turns on a skip connection from layer `from` into layer `to`.
//!
//! A pool or identity layer has a ReLU-conv-BN projection exactly when its input width differs
//! from its filter count; a morph that would give one a projection, or take its projection
//! away, cannot preserve the function through the ReLU and is not function-preserving.

use serde::{Deserialize, Serialize};

use crate::{
    Arch, ChainSpace, Gene, SearchSpace, SpaceError, CHAIN_FILTERS, CHAIN_KERNELS, CHAIN_OPS,
};

/// One morph of a chain architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "morph", rename_all = "snake_case")]
pub enum Morph {
    /// Append a `conv` layer of this kernel size.
    Deepen { kernel: u32 },
    /// The next larger filter count for this layer.
    Widen { layer: usize },
    /// A skip connection from layer `from` into layer `to` (`from + 2 <= to`).
    Skip { from: usize, to: usize },
}

impl std::fmt::Display for Morph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Morph::Deepen { kernel } => write!(f, "deepen(conv {kernel}x{kernel})"),
            Morph::Widen { layer } => write!(f, "widen(layer {layer})"),
            Morph::Skip { from, to } => write!(f, "skip(layer {from} -> layer {to})"),
        }
    }
}

fn refuse(reason: String) -> SpaceError {
    SpaceError::MorphRefused(reason)
}

/// Whether the layer op has no weights of its own (a projection only where widths differ).
fn projects_only_when_needed(op: &str) -> bool {
    matches!(op, "max_pool" | "avg_pool" | "identity")
}

impl ChainSpace {
    /// The child of `parent` under `morph`; an error says why the morph does not apply to
    /// the architecture (whether the child's network can compute the parent's function is
    /// [`ChainSpace::carries_weights`]'s call).
    pub fn morph(&self, parent: &Arch, morph: Morph) -> Result<Arch, SpaceError> {
        let dims = self.dimensions();
        let mut genes = parent.genes.clone();
        let layers = self.layers_of(parent);
        let position = |label: &str| dims.iter().position(|d| d.label == label);
        let index_of = |vocab: &[u32], v: u32| vocab.iter().position(|&x| x == v).map(|i| i as u16);
        match morph {
            Morph::Deepen { kernel } => {
                if layers >= self.layers() {
                    return Err(refuse(format!(
                        "the space allows at most {} layers",
                        self.layers()
                    )));
                }
                let depth = position("layers").ok_or_else(|| {
                    refuse("the space has a fixed number of layers (set min_layers)".into())
                })?;
                let (_, _, filters, _) = self.layer(parent, layers - 1);
                genes[depth] = Gene::Index(
                    dims[depth]
                        .allowed
                        .get(layers + 1 - self.min_layers())
                        .copied()
                        .ok_or_else(|| refuse("no such depth".into()))?,
                );
                let set = |genes: &mut Vec<Gene>, label: String, value: Option<u16>| {
                    let at =
                        position(&label).ok_or_else(|| refuse(format!("no dimension {label}")))?;
                    let v = value.filter(|v| dims[at].allows(*v)).ok_or_else(|| {
                        refuse(format!("{label} does not allow the value the morph needs"))
                    })?;
                    genes[at] = Gene::Index(v);
                    Ok::<(), SpaceError>(())
                };
                let conv = CHAIN_OPS
                    .iter()
                    .position(|&o| o == "conv")
                    .map(|i| i as u16);
                set(&mut genes, format!("layer{layers}_op"), conv)?;
                set(
                    &mut genes,
                    format!("layer{layers}_kernel"),
                    index_of(&CHAIN_KERNELS, kernel),
                )?;
                set(
                    &mut genes,
                    format!("layer{layers}_filters"),
                    index_of(&CHAIN_FILTERS, filters),
                )?;
                for j in 0..layers.saturating_sub(1) {
                    set(&mut genes, format!("layer{layers}_skip_from{j}"), Some(0))?;
                }
            }
            Morph::Widen { layer } => {
                if layer >= layers {
                    return Err(refuse(format!("there is no layer {layer}")));
                }
                let at = position(&format!("layer{layer}_filters"))
                    .ok_or_else(|| refuse(format!("no filters for layer {layer}")))?;
                let now = genes[at].index().unwrap_or(0);
                let next = dims[at]
                    .allowed
                    .iter()
                    .copied()
                    .filter(|&v| CHAIN_FILTERS[usize::from(v)] > CHAIN_FILTERS[usize::from(now)])
                    .min_by_key(|&v| CHAIN_FILTERS[usize::from(v)])
                    .ok_or_else(|| refuse(format!("layer {layer} has the most filters allowed")))?;
                genes[at] = Gene::Index(next);
            }
            Morph::Skip { from, to } => {
                if to >= layers || from + 2 > to {
                    return Err(refuse(format!("no skip from layer {from} into layer {to}")));
                }
                let at = position(&format!("layer{to}_skip_from{from}"))
                    .ok_or_else(|| refuse(format!("no skip dimension into layer {to}")))?;
                if genes[at] == Gene::Index(1) {
                    return Err(refuse(format!("layer {to} already reads layer {from}")));
                }
                if !dims[at].allows(1) {
                    return Err(refuse(format!("the space forbids a skip into layer {to}")));
                }
                genes[at] = Gene::Index(1);
            }
        }
        let child = parent.with_genes(genes);
        self.check(&child).map_err(|e| refuse(e.to_string()))?;
        Ok(child)
    }

    /// Whether the network of `child` can take every weight of `parent`'s network: no pool or
    /// identity layer gains or loses its projection. `stem` is the network's stem width (the
    /// `channels` of `[evaluator.network]`, 16 by default).
    pub fn carries_weights(&self, parent: &Arch, child: &Arch, stem: u32) -> bool {
        let before = self.projections(parent, stem);
        let after = self.projections(child, stem);
        after.get(..before.len()) == Some(before.as_slice())
    }

    /// Whether `child`, one morph from `parent` whose weights it carries, computes exactly
    /// `parent`'s function: false only for a layer appended at a pooling position.
    pub fn exact(&self, parent: &Arch, child: &Arch) -> bool {
        let (added, n) = (self.layers_of(parent), self.layers());
        self.layers_of(child) == added || (added != n / 3 && added != 2 * n / 3)
    }

    /// Whether each layer of `arch`'s network projects: a pool or identity layer whose input
    /// width (the previous layer's, or `stem`, plus its skip sources') differs from its
    /// filter count.
    fn projections(&self, arch: &Arch, stem: u32) -> Vec<bool> {
        let (layers, skips) = self.outline(arch);
        let width = |i: usize| CHAIN_FILTERS[usize::from(layers[i][2])];
        (0..layers.len())
            .map(|i| {
                let previous = if i == 0 { stem } else { width(i - 1) };
                let input = previous
                    + skips
                        .iter()
                        .filter(|&&(_, to)| to == i)
                        .map(|&(from, _)| width(from))
                        .sum::<u32>();
                projects_only_when_needed(CHAIN_OPS[usize::from(layers[i][0])]) && input != width(i)
            })
            .collect()
    }

    /// Every child of `arch` one morph away that carries all its weights
    /// ([`ChainSpace::carries_weights`]), with its morph, in a fixed order (deepen by kernel,
    /// widen by layer, skips by target then source).
    pub fn morphs(&self, arch: &Arch, stem: u32) -> Vec<(Morph, Arch)> {
        let layers = self.layers_of(arch);
        let mut all: Vec<Morph> = CHAIN_KERNELS
            .iter()
            .map(|&kernel| Morph::Deepen { kernel })
            .collect();
        all.extend((0..layers).map(|layer| Morph::Widen { layer }));
        for to in 2..layers {
            all.extend((0..to - 1).map(|from| Morph::Skip { from, to }));
        }
        all.into_iter()
            .filter_map(|m| self.morph(arch, m).ok().map(|child| (m, child)))
            .filter(|(_, child)| self.carries_weights(arch, child, stem))
            .collect()
    }

    /// Auto-Keras's edit distance between two chain networks (Jin et al. 2019, eq. 3): the
    /// least cost of turning one layer sequence into the other (inserting or deleting a layer
    /// costs 1; changing one costs 1 when its op or kernel changes, else the relative change
    /// of its filter count, |a − b| / max(a, b)), plus the skip connections one has and the
    /// other lacks (Auto-Keras matches skips of both by their positions instead).
    pub fn edit_distance(&self, a: &Arch, b: &Arch) -> f64 {
        let (la, sa) = self.outline(a);
        let (lb, sb) = self.outline(b);
        let change = |x: &[u16; 3], y: &[u16; 3]| {
            if x[0] != y[0] || x[1] != y[1] {
                1.0
            } else {
                let (fx, fy) = (
                    CHAIN_FILTERS[usize::from(x[2])],
                    CHAIN_FILTERS[usize::from(y[2])],
                );
                f64::from(fx.abs_diff(fy)) / f64::from(fx.max(fy))
            }
        };
        // Levenshtein over layers, one row at a time.
        let mut row: Vec<f64> = (0..=lb.len()).map(|j| j as f64).collect();
        for (i, x) in la.iter().enumerate() {
            let mut next = vec![(i + 1) as f64; lb.len() + 1];
            for (j, y) in lb.iter().enumerate() {
                next[j + 1] = (row[j] + change(x, y))
                    .min(row[j + 1] + 1.0)
                    .min(next[j] + 1.0);
            }
            row = next;
        }
        let common = sa.iter().filter(|s| sb.contains(s)).count();
        row[lb.len()] + (sa.len() + sb.len() - 2 * common) as f64
    }

    /// `arch`'s layers as (op, kernel, filters) vocabulary indices, and its skips as
    /// (from, to), read from the genes once.
    fn outline(&self, arch: &Arch) -> (Vec<[u16; 3]>, Vec<(usize, usize)>) {
        let c = arch.indices();
        let mut layers = Vec::new();
        let mut skips = Vec::new();
        for to in 0..self.layers_of(arch) {
            let (o, n) = self.layout_of(to);
            layers.push([c[o], c[o + 1], c[o + 2]]);
            skips.extend(
                (0..n - 3)
                    .filter(|&j| c[o + 3 + j] == 1)
                    .map(|from| (from, to)),
            );
        }
        (layers, skips)
    }
}
