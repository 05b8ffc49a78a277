//! Weight-sharing ("one-shot") architecture search on libtorch (tch-rs): one supernet holds
//! every architecture of a space, is trained once, and the architecture is read from it.
//!
//! Built so far: the supernets ([`Supernet`]; one [`SupernetBody`] per space, registered
//! in [`SUPERNETS`]): NAS-Bench-201's (every edge of the cell a [`MixedEdge`] over the
//! space's allowed operations, the cell's α shared by all cells, batch norms without affine
//! parameters in the candidate operations, as AutoDL-Projects' search networks) and the
//! DARTS space's (quark0/darts `model_search.py`: normal and reduction cells, each node
//! summing a mixed edge from every earlier node, the architecture read as quark0 reads it)
//! and, for single-path methods, the chain space's (ENAS's macro search: each layer's
//! weights at the largest width, sliced per path);
//! the ways of mixing ([`Mixing`]; DARTS's softmax, GDAS's hard and SNAS's relaxed
//! Gumbel-softmax, DrNAS's reparameterised Dirichlet), PC-DARTS's partial channels, the
//! search steps with a saveable [`Adam`] for α and single-path training ([`search`]),
//! scoring a sub-network on the shared weights with its batch norms recalibrated
//! ([`score`]), the measures of supernet trust ([`trust`]; against a NAS-Bench-201 table, or
//! a sample trained from scratch), and whole searches ([`run`]) by the registered methods
//! ([`METHODS`]: darts1, darts2, gdas, snas, drnas, rsps, spos, enas; ENAS's controller is
//! `archer-neural`'s LSTM [`archer_neural::Policy`]), checkpointed every epoch so that a
//! killed search continues bit for bit on the CPU, and the architectures each method ranks
//! best ([`finalists`]) for the runner to train from scratch (plan and status:
//! `docs/oneshot-plan.md`).

mod adam;
mod bn;
mod chain_supernet;
pub mod checkpoint;
mod darts_supernet;
pub mod engine_bench;
mod error;
pub mod finalists;
mod method;
mod methods;
mod mixed;
mod nb201;
pub mod run;
pub mod score;
pub mod search;
mod settings;
pub mod single_cost;
pub mod supernet;
pub mod trust;

pub use adam::Adam;
pub use bn::SearchBn;
pub use error::OneShotError;
pub use method::{
    method_for, method_kind, EpochEnd, Method, MethodInit, MethodKind, Scorer, Selection, Step,
    METHODS,
};
pub use methods::spos::evolve;
pub use mixed::{
    channel_shuffle, dirichlet_concentration, dirichlet_kl, dirichlet_surrogate, dirichlet_weights,
    gdas_weights, snas_weights, CandidateOp, MixedEdge, Mixing, Nb201Candidate,
};
pub use run::{search as run_search, EpochRecord, Outcome, SearchInputs};
pub use settings::{
    ArchSettings, ControllerSettings, DirichletSettings, EvolutionSettings, OneShotSettings,
    Regularizer, ScoringSettings, TrustSettings, WeightSettings,
};
pub use supernet::{Supernet, SupernetBody, SupernetConfig, SupernetKind, SUPERNETS};

use std::path::Path;

/// Checks `[strategy]`'s settings for the one-shot method `name` on the space named
/// `space`, before anything runs.
pub fn check(
    name: &str,
    settings: &serde_json::Map<String, serde_json::Value>,
    space: &str,
) -> Result<OneShotSettings, OneShotError> {
    let kind = method_for(name, space)?;
    let s = OneShotSettings::parse_for(settings, space)?;
    s.validate(kind.name)?;
    if let Some(table) = s.trust.as_ref().and_then(|t| t.table.as_ref()) {
        if space != archer_space::Nb201Space::NAME {
            return Err(OneShotError::Invalid {
                key: "strategy.trust.table".into(),
                reason: format!(
                    "a NAS-Bench-201 table scores nb201 cells, not {space}'s; \
                     use trust.retrain_epochs (a sample trained from scratch) instead"
                ),
            });
        }
        if !table.is_file() {
            return Err(OneShotError::Invalid {
                key: "strategy.trust.table".into(),
                reason: format!("{}: no such file", table.display()),
            });
        }
    }
    Ok(s)
}

/// Makes `trust.table` absolute, taken from `base` (the experiment file's folder).
pub fn resolve_paths(settings: &mut serde_json::Map<String, serde_json::Value>, base: &Path) {
    let Some(serde_json::Value::Object(trust)) = settings.get_mut("trust") else {
        return;
    };
    if let Some(serde_json::Value::String(table)) = trust.get_mut("table") {
        let p = Path::new(table.as_str());
        if p.is_relative() {
            *table = base.join(p).to_string_lossy().into_owned();
        }
    }
}
