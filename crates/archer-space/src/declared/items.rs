//! What a space file holds: NNI's primitives as plain data. A file and [`super::SpaceBuilder`]
//! both produce a [`SpaceDeclaration`]; [`super::DeclaredSpace::new`] checks and flattens it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `when = { dimension = [allowed values] }`: the item exists only where every named
/// dimension holds one of its listed values (option labels or numbers as written).
pub type When = BTreeMap<String, Vec<serde_json::Value>>;

fn one() -> u32 {
    1
}
fn one_usize() -> usize {
    1
}
fn two() -> usize {
    2
}
fn is_false(b: &bool) -> bool {
    !*b
}
fn is_one(n: &u32) -> bool {
    *n == 1
}

/// A whole space file: `name`, `version` and the items, by kind.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpaceDeclaration {
    /// Names the space in every `Arch` and record: letters, digits, `.`, `_`, `-`.
    pub name: String,
    /// Bump it whenever the meaning of the space's dimensions changes.
    pub version: u32,
    /// One paragraph for `archer spaces show`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choice: Vec<ChoiceItem>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub int: Vec<IntItem>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub float: Vec<FloatItem>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input: Vec<InputItem>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repeat: Vec<RepeatItem>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cell: Vec<CellItem>,
}

/// `[[choice]]`: one of `options` (strings or numbers); NNI's LayerChoice / ValueChoice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChoiceItem {
    pub name: String,
    pub options: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub when: When,
}

/// `[[int]]`: `low, low + step, ...` up to `high`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntItem {
    pub name: String,
    pub low: i64,
    pub high: i64,
    #[serde(default = "default_step", skip_serializing_if = "is_step_one")]
    pub step: i64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub when: When,
}

fn default_step() -> i64 {
    1
}
fn is_step_one(s: &i64) -> bool {
    *s == 1
}

/// `[[float]]`: a real number in `[low, high]`, uniform in `ln x` with `log = true`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FloatItem {
    pub name: String,
    pub low: f64,
    pub high: f64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub log: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub when: When,
}

/// `[[input]]`: `n` distinct `candidates` (NNI's InputChoice); order does not matter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputItem {
    pub name: String,
    pub candidates: Vec<String>,
    #[serde(default = "one_usize")]
    pub n: usize,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub when: When,
}

/// `[[repeat]]`: a depth in `min..=max`; the body's items exist once per repeat, labelled
/// `NAME.K.ITEM` for copy `K` (0-based). Inside the body a `when` may name the copy's own
/// items by their short names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatItem {
    pub name: String,
    pub min: u32,
    pub max: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choice: Vec<ChoiceItem>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub int: Vec<IntItem>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub float: Vec<FloatItem>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input: Vec<InputItem>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub when: When,
}

/// What a cell outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CellOutput {
    /// The last node (NAS-Bench-201).
    Last,
    /// Every computing node, concatenated (DARTS).
    Concat,
    /// The computing nodes no other node reads (ENAS, NAS-Bench-Graph).
    LooseEnds,
}

/// `[[cell]]`: a DAG of `sources` inputs and `nodes` computing nodes (NNI's Cell, DARTS).
/// Each computing node chooses `inputs` distinct earlier nodes and an op per input; with
/// `every_edge = true` (the NAS-Bench-201 form) it reads every earlier node instead, with an
/// op per edge. Nodes are numbered `0..sources` (inputs) then `sources..sources+nodes`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellItem {
    pub name: String,
    pub nodes: usize,
    pub ops: Vec<String>,
    #[serde(default = "one_usize")]
    pub sources: usize,
    #[serde(default = "two")]
    pub inputs: usize,
    #[serde(default, skip_serializing_if = "is_false")]
    pub every_edge: bool,
    /// Default: `last` with `every_edge`, `concat` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<CellOutput>,
    /// The op that means "no edge" (default: `none`, when `ops` lists it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub none_op: Option<String>,
    /// The op that passes its input through (default: the first of `skip_connect`, `skip`,
    /// `identity` that `ops` lists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_op: Option<String>,
    /// Cells of this item that are stacked with the same genotype (for describing only).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub stacked: u32,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub when: When,
}

impl CellItem {
    /// A cell named `name` with `nodes` computing nodes over `ops`, one source, two inputs
    /// per node, output `concat`.
    pub fn new(name: &str, nodes: usize, ops: &[&str]) -> Self {
        CellItem {
            name: name.to_string(),
            nodes,
            ops: ops.iter().map(|s| s.to_string()).collect(),
            sources: 1,
            inputs: 2,
            every_edge: false,
            output: None,
            none_op: None,
            identity_op: None,
            stacked: 1,
            when: When::new(),
        }
    }

    pub fn output_mode(&self) -> CellOutput {
        self.output.unwrap_or(if self.every_edge {
            CellOutput::Last
        } else {
            CellOutput::Concat
        })
    }

    pub fn none_op(&self) -> Option<&str> {
        match &self.none_op {
            Some(s) => Some(s.as_str()),
            None => self.ops.iter().find(|o| *o == "none").map(|s| s.as_str()),
        }
    }

    pub fn identity_op(&self) -> Option<&str> {
        match &self.identity_op {
            Some(s) => Some(s.as_str()),
            None => ["skip_connect", "skip", "identity"]
                .into_iter()
                .find(|i| self.ops.iter().any(|o| o == i)),
        }
    }
}
