//! Spaces that users declare: in a TOML file (`[space] file = "my-space.toml"`) or in Rust
//! with [`SpaceBuilder`], from NNI's primitives (choice, int, float, input, repeat, cell,
//! and `when` conditions).
//!
//! A declaration is flattened into a fixed list of [`Dimension`]s: a repeat's body once per
//! possible copy and a cell's edges one by one, each dimension that may not exist carrying
//! its condition. An [`Arch`] therefore has one gene per flattened dimension, `Absent` where
//! that dimension does not exist, and every generic operation (sampling, mutation,
//! neighbours, crossover, encodings) works on it.

mod builder;
mod cell;
mod flatten;
mod items;

use std::path::Path;

use sha2::{Digest, Sha256};

pub use builder::{BodyBuilder, SpaceBuilder};
pub use flatten::{MAX_CELL_NODES, MAX_CELL_SOURCES, MAX_REPEAT, MAX_VALUES};
pub use items::{
    CellItem, CellOutput, ChoiceItem, FloatItem, InputItem, IntItem, RepeatItem, SpaceDeclaration,
    When,
};

use crate::encoding::{self, Encoding};
use crate::{generic, hash_genes, Arch, Dimension, Gene, OpGraph, SearchSpace, SpaceError};
use flatten::{Flat, Origin};

/// Most controller assignments `size` enumerates before it reports the product bound.
const MAX_SIZE_ENUMERATION: usize = 1_000_000;

/// A space from a [`SpaceDeclaration`].
#[derive(Clone, Debug)]
pub struct DeclaredSpace {
    declaration: SpaceDeclaration,
    /// The file it came from (or `builder`), for messages.
    source: String,
    flat: Flat,
    /// Whether each dimension belongs to a cell (cells hash and encode by their graphs).
    in_cell: Vec<bool>,
    /// The dimensions outside cells, in order: what the graph encodings append.
    outside_cells: Vec<Dimension>,
}

impl DeclaredSpace {
    /// Checks and flattens `declaration`; errors name `source` (the file), the item and
    /// what is wrong.
    pub fn new(declaration: SpaceDeclaration, source: &str) -> Result<Self, SpaceError> {
        let flat = flatten::flatten(&declaration, source)?;
        let mut in_cell = vec![false; flat.dims.len()];
        for c in &flat.cells {
            in_cell[c.dims.clone()].fill(true);
        }
        let outside_cells = flat
            .dims
            .iter()
            .zip(&in_cell)
            .filter(|(_, &inside)| !inside)
            .map(|(d, _)| d.clone())
            .collect();
        Ok(DeclaredSpace {
            declaration,
            source: source.to_string(),
            flat,
            in_cell,
            outside_cells,
        })
    }

    /// Reads a space file.
    pub fn from_file(path: &Path) -> Result<Self, SpaceError> {
        let declaration = read_declaration(path)?;
        Self::new(declaration, &path.display().to_string())
    }

    pub fn declaration(&self) -> &SpaceDeclaration {
        &self.declaration
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The JSON value of gene `g` of dimension `i`: the option as written, the integer, the
    /// float, or a list for an input choice.
    fn value_of(&self, i: usize, g: Gene) -> serde_json::Value {
        let d = &self.flat.dims[i];
        let Gene::Index(k) = g else {
            return match g {
                Gene::Float(x) => serde_json::json!(x),
                _ => serde_json::Value::Null,
            };
        };
        let k = usize::from(k);
        match &self.flat.origins[i] {
            Origin::Choice(options) => options.get(k).cloned().unwrap_or_default(),
            // An integer's label is its value.
            Origin::Int | Origin::Depth => d
                .choices
                .get(k)
                .and_then(|c| c.parse::<i64>().ok())
                .map_or(serde_json::Value::Null, serde_json::Value::from),
            Origin::Input(sets) => serde_json::json!(sets.get(k)),
            Origin::CellInputs(sets) => serde_json::json!(sets.get(k)),
            Origin::CellOp => serde_json::json!(d.choices.get(k)),
            Origin::Float => serde_json::Value::Null,
        }
    }

    /// Each present dimension's label and JSON value, in dimension order.
    fn present_values<'a>(
        &'a self,
        arch: &'a Arch,
    ) -> impl Iterator<Item = (&'a str, serde_json::Value)> + 'a {
        self.flat
            .dims
            .iter()
            .zip(&arch.genes)
            .enumerate()
            .filter(|(_, (_, g))| !g.is_absent())
            .map(|(i, (d, &g))| (d.label.as_str(), self.value_of(i, g)))
    }

    /// The gene of dimension `i` that JSON value `v` writes (inverse of `value_of`).
    fn gene_of(&self, i: usize, v: &serde_json::Value) -> Option<Gene> {
        let d = &self.flat.dims[i];
        if let Origin::Float = self.flat.origins[i] {
            return v.as_f64().map(Gene::float);
        }
        (0..d.choices.len())
            .map(|k| Gene::Index(k as u16))
            .find(|&g| {
                let mine = self.value_of(i, g);
                mine == *v || (mine.as_f64().is_some() && mine.as_f64() == v.as_f64())
            })
    }

    /// Exact count by enumerating the dimensions that conditions name; `None` past
    /// [`MAX_SIZE_ENUMERATION`] assignments.
    fn count(&self) -> Option<u128> {
        let dims = &self.flat.dims;
        let mut controls = vec![false; dims.len()];
        for d in dims {
            for c in &d.when {
                controls[c.dimension] = true;
            }
        }
        let mut genes = vec![Gene::Absent; dims.len()];
        let mut leaves = 0usize;
        fn go(
            i: usize,
            dims: &[Dimension],
            controls: &[bool],
            genes: &mut Vec<Gene>,
            leaves: &mut usize,
        ) -> Option<u128> {
            if i == dims.len() {
                *leaves += 1;
                if *leaves > MAX_SIZE_ENUMERATION {
                    return None;
                }
                return Some(1);
            }
            let d = &dims[i];
            if !d.is_active(&genes[..i]) {
                genes[i] = Gene::Absent;
                return go(i + 1, dims, controls, genes, leaves);
            }
            if !controls[i] {
                genes[i] = d.default_gene();
                let rest = go(i + 1, dims, controls, genes, leaves)?;
                return Some(rest.saturating_mul(d.allowed.len() as u128));
            }
            let mut total: u128 = 0;
            for &v in &d.allowed {
                genes[i] = Gene::Index(v);
                total = total.saturating_add(go(i + 1, dims, controls, genes, leaves)?);
            }
            Some(total)
        }
        go(0, dims, &controls, &mut genes, &mut leaves)
    }
}

/// Reads and parses a space file (TOML); errors name the file and, for syntax, the line.
pub fn read_declaration(path: &Path) -> Result<SpaceDeclaration, SpaceError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| SpaceError::Declaration {
        file: file.clone(),
        item: "the file".into(),
        reason: format!("cannot read it: {e}"),
    })?;
    toml::from_str(&text).map_err(|e| SpaceError::Declaration {
        file,
        item: "the file".into(),
        reason: e.to_string().trim_end().to_string(),
    })
}

impl SearchSpace for DeclaredSpace {
    fn name(&self) -> &str {
        &self.declaration.name
    }

    fn version(&self) -> u32 {
        self.declaration.version
    }

    fn describe(&self) -> String {
        let d = &self.declaration;
        let mut parts = Vec::new();
        if let Some(text) = &d.description {
            parts.push(text.trim().to_string());
        }
        parts.push(format!("Declared in {}.", self.source));
        let mut items = Vec::new();
        for c in &d.choice {
            items.push(format!("choice {} ({} options)", c.name, c.options.len()));
        }
        for i in &d.int {
            items.push(format!(
                "int {} ({}..={} step {})",
                i.name, i.low, i.high, i.step
            ));
        }
        for f in &d.float {
            let log = if f.log { ", log" } else { "" };
            items.push(format!("float {} ([{}, {}]{log})", f.name, f.low, f.high));
        }
        for i in &d.input {
            items.push(format!(
                "input {} ({} of {})",
                i.name,
                i.n,
                i.candidates.len()
            ));
        }
        for r in &d.repeat {
            items.push(format!("repeat {} (depth {}..={})", r.name, r.min, r.max));
        }
        for c in &d.cell {
            let form = if c.every_edge {
                "every edge".to_string()
            } else {
                format!("{} inputs per node", c.inputs)
            };
            items.push(format!(
                "cell {} ({} sources, {} nodes, {form}, {} ops, output {})",
                c.name,
                c.sources,
                c.nodes,
                c.ops.len(),
                match c.output_mode() {
                    CellOutput::Last => "last",
                    CellOutput::Concat => "concat",
                    CellOutput::LooseEnds => "loose_ends",
                }
            ));
        }
        parts.push(format!("Items: {}.", items.join("; ")));
        let conditional = self.flat.dims.iter().filter(|d| d.is_conditional()).count();
        parts.push(format!(
            "{} dimensions after flattening ({conditional} conditional). Continuous values \
             hash at {} significant digits; cells hash by the function they compute.",
            self.flat.dims.len(),
            crate::FLOAT_HASH_DIGITS
        ));
        parts.join(" ")
    }

    fn dimensions(&self) -> &[Dimension] {
        &self.flat.dims
    }

    fn genes(&self) -> Vec<std::ops::Range<usize>> {
        self.flat.genes.clone()
    }

    fn size(&self) -> u128 {
        if self.flat.dims.iter().any(Dimension::is_float) {
            return u128::MAX;
        }
        self.count()
            .unwrap_or_else(|| generic::product_size(&self.flat.dims))
    }

    fn canonical_hash(&self, arch: &Arch) -> String {
        let mut hasher = Sha256::new();
        hasher.update(format!("{}/v{}/", arch.space, arch.version).as_bytes());
        let plain: Vec<Gene> = arch
            .genes
            .iter()
            .zip(&self.in_cell)
            .map(|(&g, &inside)| if inside { Gene::Absent } else { g })
            .collect();
        hash_genes(&mut hasher, &plain);
        for c in &self.flat.cells {
            let present = arch.genes.get(c.dims.start).is_some_and(|g| !g.is_absent());
            hasher.update(b"cell:");
            if present {
                hasher.update(cell::function_digest(c, &arch.genes).as_bytes());
            }
        }
        crate::space::short_hex(hasher)
    }

    /// The labelled JSON object (see [`SearchSpace::labelled`]), compact, in dimension order.
    fn format(&self, arch: &Arch) -> String {
        let parts: Vec<String> = self
            .present_values(arch)
            .map(|(label, v)| format!("{}:{v}", serde_json::Value::from(label)))
            .collect();
        format!("{{{}}}", parts.join(","))
    }

    fn parse(&self, text: &str) -> Result<Arch, SpaceError> {
        let err = |reason: String| SpaceError::Parse {
            space: self.name().to_string(),
            input: text.to_string(),
            reason,
        };
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
            .map_err(|e| err(format!("expected a JSON object of dimension labels: {e}")))?;
        for key in map.keys() {
            if !self.flat.dims.iter().any(|d| &d.label == key) {
                return Err(err(format!("{key:?} is not a dimension of this space")));
            }
        }
        let mut genes = Vec::with_capacity(self.flat.dims.len());
        for (i, d) in self.flat.dims.iter().enumerate() {
            genes.push(match map.get(&d.label) {
                None | Some(serde_json::Value::Null) => Gene::Absent,
                Some(v) => self
                    .gene_of(i, v)
                    .ok_or_else(|| err(format!("{v} is not a value of {}", d.label)))?,
            });
        }
        let arch = Arch::from_genes(self.name(), self.version(), genes);
        self.check(&arch)?;
        Ok(arch)
    }

    fn labelled(&self, arch: &Arch) -> serde_json::Value {
        serde_json::Value::Object(
            self.present_values(arch)
                .map(|(label, v)| (label.to_string(), v))
                .collect(),
        )
    }

    fn graphs(&self, arch: &Arch) -> Vec<OpGraph> {
        self.flat
            .cells
            .iter()
            .map(|c| cell::graph(c, &arch.genes))
            .collect()
    }

    /// `OneHot` covers every dimension. The graph encodings encode each cell's graph and
    /// append the one-hot of the dimensions outside cells; without cells they are `OneHot`.
    fn encode(&self, arch: &Arch, which: Encoding) -> Vec<f32> {
        if which == Encoding::OneHot || self.flat.cells.is_empty() {
            return encoding::encode(self, arch, Encoding::OneHot);
        }
        let mut out = encoding::encode(self, arch, which);
        let genes: Vec<Gene> = arch
            .genes
            .iter()
            .zip(&self.in_cell)
            .filter(|(_, &inside)| !inside)
            .map(|(&g, _)| g)
            .collect();
        out.extend(encoding::one_hot(&self.outside_cells, &genes));
        out
    }
}
