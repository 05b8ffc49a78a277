//! The dashboard: `archer ui` serves the studies of experiment folders or of a PostgreSQL
//! database, read-only, over HTTP (studies, study and trial pages, charts, architecture
//! drawings, live updates); `archer report` writes the same pages as one self-contained
//! HTML file.
//!
//! Everything is read through the `Store` trait and nothing is ever written to a study.
//! Every string from a study is escaped (maud for pages, the drawing code for its SVG,
//! plotters for charts), and the only paths the server reaches are the studies its catalog
//! found at start.

mod analysis;
pub mod catalog;
mod charts;
pub mod drawing;
mod error;
pub mod pages;
mod reference;
mod report;
mod server;
pub mod snapshot;
pub mod summary;

pub use error::UiError;
pub use report::write_report;
pub use server::{resolve_token, serve, Dashboard, ServeOptions, RELIST_EVERY};
