//! Weight-sharing ("one-shot") architecture search on libtorch (tch-rs): one supernet holds
//! every architecture of a space, is trained once, and the architecture is read from it.
//!
//! Built so far: the NAS-Bench-201 supernet ([`Nb201Supernet`]: every edge of the cell a
//! [`MixedEdge`] over the space's allowed operations, the cell's α shared by all cells, batch
//! norms without affine parameters in the candidate operations, as AutoDL-Projects' search
//! networks), the ways of mixing ([`Mixing`]), the search steps of first- and second-order
//! DARTS (Liu et al. 2019) and GDAS (Dong & Yang 2019) with a saveable [`Adam`] for α and
//! single-path training for RSPS and SPOS ([`search`]), scoring a sub-network on the shared
//! weights with its batch norms recalibrated ([`score`]), and the measures of supernet trust
//! on a stratified sample of NAS-Bench-201 cells ([`trust`]). Not yet: SNAS, DrNAS, ENAS,
//! RSPS's and SPOS's selection loops, the DARTS and chain supernets, checkpoints, and
//! `archer search` running it (plan: `docs/oneshot-plan.md`).

mod adam;
mod bn;
mod error;
mod mixed;
mod nb201;
pub mod score;
pub mod search;
pub mod trust;

pub use adam::Adam;
pub use bn::SearchBn;
pub use error::OneShotError;
pub use mixed::{gdas_weights, MixedEdge, Mixing, Nb201Candidate};
pub use nb201::{Nb201Supernet, SupernetConfig};
