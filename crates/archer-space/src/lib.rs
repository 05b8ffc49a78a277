//! Search spaces for Archer, free of any deep-learning framework.
//!
//! A space is a list of labelled categorical [`Dimension`]s plus constraints; an [`Arch`] is
//! one index per dimension. Networks are built *from* an `Arch` by an engine crate, never here.

mod arch;
mod chain;
mod config;
mod darts;
mod dimension;
mod encoding;
mod error;
mod generic;
mod graph;
mod nb201;
mod space;

pub use arch::Arch;
pub use chain::{ChainSpace, CHAIN_FILTERS, CHAIN_KERNELS, CHAIN_OPS};
pub use config::{builtin_spaces, Kind, SpaceConfig, SpaceKind, SpaceSettings, KINDS};
pub use darts::{DartsSpace, DARTS_OPS};
pub use dimension::{Dimension, DimensionKind};
pub use encoding::Encoding;
pub use error::SpaceError;
pub use graph::OpGraph;
pub use nb201::{Nb201Space, NB201_OPS};
pub use space::SearchSpace;
