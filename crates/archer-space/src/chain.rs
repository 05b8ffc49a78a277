//! Chain-structured ("macro") networks in the NAS-RL / ENAS-macro style: a sequence of layers,
//! each choosing an operation, kernel size and filter count, with optional skip connections
//! from earlier layers.

use serde::Deserialize;

use archer_rng::Rng;

use crate::{
    Arch, Dimension, DimensionKind, Gene, LayerSketch, OpGraph, SearchSpace, Sketch, SpaceError,
};

pub(crate) static KIND: crate::config::Kind<ChainSettings> =
    crate::config::Kind::new("macro", |c| {
        Ok(std::sync::Arc::new(
            ChainSpace::new(
                c.layers,
                c.ops.as_deref(),
                c.kernels.as_deref(),
                c.filters.as_deref(),
            )?
            .with_min_layers(c.min_layers)?,
        ))
    });

/// `[space] name = "macro"`: a chain-structured network with skip connections.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChainSettings {
    #[serde(default)]
    layers: Option<usize>,
    #[serde(default)]
    min_layers: Option<usize>,
    #[serde(default)]
    ops: Option<Vec<String>>,
    #[serde(default)]
    kernels: Option<Vec<u32>>,
    #[serde(default)]
    filters: Option<Vec<u32>>,
}

/// Layer operations (full vocabulary; the space allows a subset).
pub const CHAIN_OPS: [&str; 6] = [
    "conv", "sep_conv", "dil_conv", "max_pool", "avg_pool", "identity",
];
/// Kernel sizes (full vocabulary).
pub const CHAIN_KERNELS: [u32; 4] = [1, 3, 5, 7];
/// Filter counts (full vocabulary).
pub const CHAIN_FILTERS: [u32; 8] = [16, 24, 32, 36, 48, 64, 96, 128];

const DEFAULT_LAYERS: usize = 6;
const MAX_LAYERS: usize = 32;
const DEFAULT_OPS: [&str; 4] = ["conv", "sep_conv", "max_pool", "avg_pool"];
const DEFAULT_FILTERS: [u32; 4] = [24, 36, 48, 64];

/// Where layer `i`'s dimensions start, and how many it has: op, kernel, filters, then one
/// skip flag per layer `j <= i - 2` (the previous layer always feeds it).
fn layer_layout(layers: usize, first: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::with_capacity(layers);
    let mut offset = first;
    for i in 0..layers {
        let n = 3 + i.saturating_sub(1);
        out.push((offset, n));
        offset += n;
    }
    out
}

/// A chain of `layers` layers with skip connections; with `min_layers` below `layers`, the
/// number of layers is itself the first dimension (`layers`, a depth), and layer `i`'s
/// dimensions exist only where it is above `i`.
#[derive(Clone, Debug)]
pub struct ChainSpace {
    layers: usize,
    min_layers: usize,
    dims: Vec<Dimension>,
    layout: Vec<(usize, usize)>,
}

impl Default for ChainSpace {
    fn default() -> Self {
        ChainSpace::new(None, None, None, None).expect("defaults are valid")
    }
}

fn allowed_values(
    space: &str,
    what: &str,
    vocab: &[u32],
    given: Option<&[u32]>,
    default: &[u32],
) -> Result<Vec<u16>, SpaceError> {
    let given = given.unwrap_or(default);
    if given.is_empty() {
        return Err(SpaceError::InvalidSetting {
            space: space.into(),
            reason: format!("{what} must not be empty"),
        });
    }
    let mut out = Vec::new();
    for v in given {
        let i = vocab
            .iter()
            .position(|x| x == v)
            .ok_or_else(|| SpaceError::InvalidSetting {
                space: space.into(),
                reason: format!(
                    "{what} {v} is not supported; accepted: {}",
                    vocab
                        .iter()
                        .map(|x| x.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?;
        if !out.contains(&(i as u16)) {
            out.push(i as u16);
        }
    }
    out.sort();
    Ok(out)
}

impl ChainSpace {
    pub const NAME: &'static str = "macro";
    pub const VERSION: u32 = 1;

    pub fn new(
        layers: Option<usize>,
        ops: Option<&[String]>,
        kernels: Option<&[u32]>,
        filters: Option<&[u32]>,
    ) -> Result<Self, SpaceError> {
        let layers = layers.unwrap_or(DEFAULT_LAYERS);
        if !(1..=MAX_LAYERS).contains(&layers) {
            return Err(SpaceError::InvalidSetting {
                space: Self::NAME.into(),
                reason: format!("layers = {layers}; accepted: 1 to {MAX_LAYERS}"),
            });
        }
        let default_ops: Vec<String> = DEFAULT_OPS.iter().map(|s| s.to_string()).collect();
        let ops =
            crate::config::allowed_ops(Self::NAME, &CHAIN_OPS, Some(ops.unwrap_or(&default_ops)))?;
        let kernels = allowed_values(
            Self::NAME,
            "kernel",
            &CHAIN_KERNELS,
            kernels,
            &CHAIN_KERNELS,
        )?;
        let filters = allowed_values(
            Self::NAME,
            "filters",
            &CHAIN_FILTERS,
            filters,
            &DEFAULT_FILTERS,
        )?;
        let strings = |xs: &[u32]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let mut dims = Vec::new();
        for i in 0..layers {
            let mut op = Dimension::new(
                format!("layer{i}_op"),
                DimensionKind::Op,
                CHAIN_OPS.iter().map(|s| s.to_string()).collect(),
            );
            op.allowed = ops.clone();
            let mut k = Dimension::new(
                format!("layer{i}_kernel"),
                DimensionKind::Value,
                strings(&CHAIN_KERNELS),
            );
            k.allowed = kernels.clone();
            let mut f = Dimension::new(
                format!("layer{i}_filters"),
                DimensionKind::Value,
                strings(&CHAIN_FILTERS),
            );
            f.allowed = filters.clone();
            dims.extend([op, k, f]);
            for j in 0..i.saturating_sub(1) {
                dims.push(Dimension::new(
                    format!("layer{i}_skip_from{j}"),
                    DimensionKind::Flag,
                    vec!["off".into(), "on".into()],
                ));
            }
        }
        Ok(ChainSpace {
            layers,
            min_layers: layers,
            dims,
            layout: layer_layout(layers, 0),
        })
    }

    /// The same space with between `min_layers` and `layers` layers (`None`: exactly
    /// `layers`).
    pub fn with_min_layers(mut self, min_layers: Option<usize>) -> Result<Self, SpaceError> {
        let Some(min) = min_layers else {
            return Ok(self);
        };
        if !(1..=self.layers).contains(&min) {
            return Err(SpaceError::InvalidSetting {
                space: Self::NAME.into(),
                reason: format!(
                    "min_layers = {min}; accepted: 1 to layers ({})",
                    self.layers
                ),
            });
        }
        if min == self.layers {
            return Ok(self);
        }
        let (max, first) = (self.layers, 1);
        for (i, &(o, n)) in self.layout.iter().enumerate() {
            if i < min {
                continue;
            }
            let when = crate::generic::block_exists(i, min, max);
            for d in &mut self.dims[o..o + n] {
                d.when = vec![when.clone()];
            }
        }
        self.dims.insert(
            0,
            Dimension::int("layers", DimensionKind::Depth, min as i64, max as i64, 1),
        );
        self.min_layers = min;
        self.layout = layer_layout(max, first);
        Ok(self)
    }

    /// The most layers.
    pub fn layers(&self) -> usize {
        self.layers
    }

    /// The fewest layers (equal to [`ChainSpace::layers`] when the number is fixed).
    pub fn min_layers(&self) -> usize {
        self.min_layers
    }

    fn growing(&self) -> bool {
        self.min_layers < self.layers
    }

    /// How many layers `arch` has.
    pub fn layers_of(&self, arch: &Arch) -> usize {
        self.active_layers(&arch.genes)
    }

    fn active_layers(&self, genes: &[Gene]) -> usize {
        if self.growing() {
            self.min_layers + usize::from(genes[0].index().unwrap_or(0))
        } else {
            self.layers
        }
    }

    /// (op, kernel, filters, skip sources) of layer `i`, one of `arch`'s
    /// [`ChainSpace::layers_of`].
    pub fn layer(&self, arch: &Arch, i: usize) -> (&'static str, u32, u32, Vec<usize>) {
        let (o, n) = self.layout[i];
        let c = &arch.indices();
        let skips = (0..n - 3).filter(|&j| c[o + 3 + j] == 1).collect();
        (
            CHAIN_OPS[c[o] as usize],
            CHAIN_KERNELS[c[o + 1] as usize],
            CHAIN_FILTERS[c[o + 2] as usize],
            skips,
        )
    }

    /// Where layer `i`'s genes start, and how many it has (op, kernel, filters, skips).
    pub(crate) fn layout_of(&self, i: usize) -> (usize, usize) {
        self.layout[i]
    }

    fn token(&self, arch: &Arch, i: usize) -> usize {
        let (o, _) = self.layout[i];
        let c = &arch.indices();
        (c[o] as usize * CHAIN_KERNELS.len() + c[o + 1] as usize) * CHAIN_FILTERS.len()
            + c[o + 2] as usize
    }
}

impl SearchSpace for ChainSpace {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn version(&self) -> u32 {
        Self::VERSION
    }

    fn describe(&self) -> String {
        let names = |d: &Dimension| {
            d.allowed
                .iter()
                .map(|&i| d.choices[i as usize].clone())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let layers = if self.growing() {
            format!(
                "{} to {} layers (the first dimension, `layers`, says how many)",
                self.min_layers, self.layers
            )
        } else {
            format!("{} layers", self.layers)
        };
        let first = usize::from(self.growing());
        format!(
            "Chain-structured network (NAS-RL / ENAS macro style) of {}. Each layer \
             chooses an operation ({}), a kernel size ({}) and a filter count ({}); layer i \
             always reads layer i-1 and may also read any layer j <= i-2 through a skip \
             connection (concatenated before the operation). Native string: layers separated \
             by '|', each `op:kernel:filters` followed by `+j` per skip source, e.g. \
             `conv:3:36|sep_conv:5:48|max_pool:3:24+0`.",
            layers,
            names(&self.dims[first]),
            names(&self.dims[first + 1]),
            names(&self.dims[first + 2])
        )
    }

    fn dimensions(&self) -> &[Dimension] {
        &self.dims
    }

    /// Sums the sizes of the fixed spaces of each number of layers.
    fn size(&self) -> u128 {
        let first = usize::from(self.growing());
        (self.min_layers..=self.layers)
            .map(|n| {
                let len: usize = self.layout[..n].iter().map(|&(_, len)| len).sum();
                crate::generic::product_size(&self.dims[first..first + len])
            })
            .fold(0u128, |a, b| a.saturating_add(b))
    }

    /// Uniform crossover by layer. With a number of layers to choose, the child takes it
    /// from either parent, and each layer from either parent that has it, so that every gene
    /// comes from a parent.
    fn crossover(&self, a: &Arch, b: &Arch, rng: &mut Rng) -> Arch {
        crate::generic::crossover_by_block(
            self,
            self.growing(),
            (a, b),
            rng,
            |g| self.active_layers(g),
            |i| {
                let (o, len) = self.layout[i];
                std::iter::once(o..o + len).collect()
            },
        )
    }

    fn as_chain(&self) -> Option<&ChainSpace> {
        Some(self)
    }

    fn format(&self, arch: &Arch) -> String {
        (0..self.layers_of(arch))
            .map(|i| {
                let (op, k, f, skips) = self.layer(arch, i);
                let mut s = format!("{op}:{k}:{f}");
                for j in skips {
                    s.push_str(&format!("+{j}"));
                }
                s
            })
            .collect::<Vec<_>>()
            .join("|")
    }

    fn parse(&self, text: &str) -> Result<Arch, SpaceError> {
        let err = |reason: String| SpaceError::Parse {
            space: Self::NAME.to_string(),
            input: text.to_string(),
            reason,
        };
        let layers: Vec<&str> = text.trim().split('|').collect();
        if !(self.min_layers..=self.layers).contains(&layers.len()) {
            let expected = if self.growing() {
                format!("{} to {}", self.min_layers, self.layers)
            } else {
                self.layers.to_string()
            };
            return Err(err(format!(
                "expected {expected} layers separated by '|', found {}",
                layers.len()
            )));
        }
        let mut choices = vec![0u16; self.dims.len()];
        if self.growing() {
            choices[0] = (layers.len() - self.min_layers) as u16;
        }
        for (i, layer) in layers.iter().enumerate() {
            let mut parts = layer.trim().split('+');
            let spec = parts.next().unwrap_or_default();
            let fields: Vec<&str> = spec.split(':').collect();
            if fields.len() != 3 {
                return Err(err(format!(
                    "layer {i} {spec:?} is not of the form op:kernel:filters"
                )));
            }
            let op = CHAIN_OPS
                .iter()
                .position(|o| *o == fields[0])
                .ok_or_else(|| SpaceError::UnknownOp {
                    space: Self::NAME.into(),
                    op: fields[0].into(),
                    accepted: CHAIN_OPS.join(", "),
                })?;
            let find = |vocab: &[u32], s: &str, what: &str| {
                s.parse::<u32>()
                    .ok()
                    .and_then(|v| vocab.iter().position(|x| *x == v))
                    .ok_or_else(|| err(format!("layer {i}: {what} {s:?} is not one of {vocab:?}")))
            };
            let (o, n) = self.layout[i];
            choices[o] = op as u16;
            choices[o + 1] = find(&CHAIN_KERNELS, fields[1], "kernel")? as u16;
            choices[o + 2] = find(&CHAIN_FILTERS, fields[2], "filters")? as u16;
            for skip in parts {
                let j: usize = skip.trim().parse().map_err(|_| {
                    err(format!(
                        "layer {i}: skip source {skip:?} is not a layer number"
                    ))
                })?;
                if j >= n - 3 {
                    return Err(err(format!(
                        "layer {i} can take skips only from layers 0..={}",
                        i as isize - 2
                    )));
                }
                choices[o + 3 + j] = 1;
            }
        }
        // Dimensions of layers beyond the parsed ones are absent.
        let mut genes: Vec<Gene> = Vec::with_capacity(choices.len());
        for (d, &c) in self.dims.iter().zip(&choices) {
            let g = if d.is_active(&genes) {
                Gene::Index(c)
            } else {
                Gene::Absent
            };
            genes.push(g);
        }
        let arch = Arch::from_genes(Self::NAME, Self::VERSION, genes);
        self.check(&arch)?;
        Ok(arch)
    }

    /// The layers from input to output, each `op kxk, f filters` with its skip sources.
    fn sketch(&self, arch: &Arch) -> Sketch {
        Sketch::Layers(
            (0..self.layers_of(arch))
                .map(|i| {
                    let (op, k, f, skips_from) = self.layer(arch, i);
                    LayerSketch {
                        label: format!("{op} {k}x{k}, {f} filters"),
                        skips_from,
                    }
                })
                .collect(),
        )
    }

    /// Node 0 the stem output, node i+1 layer i, node L+1 the classifier input, L the most
    /// layers (so that encodings have one length); a layer the architecture lacks is an
    /// unlabelled, unconnected node.
    fn graphs(&self, arch: &Arch) -> Vec<OpGraph> {
        let n = self.layers_of(arch);
        let mut labels = vec![None];
        let mut edges = Vec::new();
        for i in 0..n {
            labels.push(Some(self.token(arch, i)));
            edges.push((i, i + 1));
            for j in self.layer(arch, i).3 {
                edges.push((j + 1, i + 1));
            }
        }
        labels.resize(self.layers + 1, None);
        labels.push(None);
        edges.push((n, self.layers + 1));
        edges.sort();
        let mut vocabulary = Vec::new();
        for op in CHAIN_OPS {
            for k in CHAIN_KERNELS {
                for f in CHAIN_FILTERS {
                    vocabulary.push(format!("{op}:{k}:{f}"));
                }
            }
        }
        vec![OpGraph {
            labels,
            edges,
            sources: vec![0],
            sink: self.layers + 1,
            vocabulary,
            max_path_ops: self.layers,
        }]
    }
}
