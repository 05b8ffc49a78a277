//! Networks described without a deep-learning framework: what an engine (`archer-train`)
//! builds from an `Arch`, with exact parameter and FLOP counts. Counting on the description
//! lets a search report and constrain size without building anything, and gives engines a
//! reference their instantiated modules must match.

mod cost;
mod darts;
mod nb201;

pub use cost::{conv, linear, Cost};
pub use darts::{DartsCell, DartsNet, DartsNetConfig, DartsOp};
pub use nb201::{Nb201Net, Nb201NetConfig, Nb201Op, NetError};
