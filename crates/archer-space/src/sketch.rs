//! What a picture of an architecture shows, independent of how it is drawn: the dashboard
//! draws these as SVG, and anything else may lay them out its own way.

use serde::Serialize;

use crate::OpGraph;

/// An architecture as something to draw ([`crate::SearchSpace::sketch`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", content = "parts", rename_all = "snake_case")]
pub enum Sketch {
    /// Edge-labelled cells (NB201's cell; DARTS's normal and reduction cells): nodes are
    /// tensors, every edge carries its operation.
    Cells(Vec<CellSketch>),
    /// A column of layers from input to output (the chain space), with their skips.
    Layers(Vec<LayerSketch>),
    /// Node-labelled DAGs ([`crate::SearchSpace::graphs`]): the fallback for any space,
    /// declared spaces included. Empty when the space has no graph structure.
    Graphs(Vec<OpGraph>),
}

/// One cell: `nodes[i]` is node i's label, nodes in topological order (inputs first).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CellSketch {
    /// `cell`, or `normal` / `reduce` where a space has several.
    pub name: String,
    pub nodes: Vec<String>,
    /// Every edge the architecture chose, `none` included where the space allows it (drawn
    /// as such), so an NB201 cell always has its six.
    pub edges: Vec<SketchEdge>,
}

/// An edge `from -> to` (node indices, `from < to`) carrying `op`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SketchEdge {
    pub from: usize,
    pub to: usize,
    pub op: String,
}

/// One layer of a chain: it always reads the layer before it (or the input) and also the
/// earlier layers in `skips_from` (indices of layers).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LayerSketch {
    pub label: String,
    pub skips_from: Vec<usize>,
}
