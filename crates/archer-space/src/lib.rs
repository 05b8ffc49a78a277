//! Search spaces for Archer, free of any deep-learning framework.
//!
//! A space is a list of labelled [`Dimension`]s (categorical, integer or continuous, some
//! existing only under conditions) plus constraints; an [`Arch`] is one [`Gene`] per
//! dimension. Networks are built *from* an `Arch` by an engine crate, never here.

mod arch;
mod chain;
mod chain_morph;
mod config;
mod darts;
mod declared;
mod dimension;
mod encoding;
mod error;
mod finite;
mod generic;
mod graph;
mod nb201;
mod sketch;
mod space;

pub use arch::{Arch, Gene};
pub use chain::{ChainSpace, CHAIN_FILTERS, CHAIN_KERNELS, CHAIN_OPS};
pub use chain_morph::Morph;
pub use config::{
    builtin_spaces, Kind, SpaceConfig, SpaceKind, SpaceSettings, DECLARED_KIND, KINDS,
};
pub use darts::{darts_cells, DartsGenotypeCell, DartsSpace, DARTS_OPS};
pub use declared::{
    read_declaration, BodyBuilder, CellItem, CellOutput, ChoiceItem, DeclaredSpace, FloatItem,
    InputItem, IntItem, RepeatItem, SpaceBuilder, SpaceDeclaration, When, MAX_CELL_NODES,
    MAX_CELL_SOURCES, MAX_REPEAT, MAX_VALUES,
};
pub use dimension::{Condition, Dimension, DimensionKind, Domain, FLOAT_NEIGHBOUR_STEPS};
pub use encoding::{one_hot, Encoding};
pub use error::SpaceError;
pub use finite::FiniteSpace;
pub use generic::{draw, settle, FLOAT_MUTATION_SIGMA};
pub use graph::OpGraph;
pub use nb201::{Nb201Space, NB201_EDGES, NB201_OPS};
pub use sketch::{CellSketch, LayerSketch, Sketch, SketchEdge};
pub use space::{hash_genes, SearchSpace, FLOAT_HASH_DIGITS};
