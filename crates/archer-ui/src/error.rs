use std::path::PathBuf;

/// What can go wrong starting or running the dashboard.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("{path}: {reason}")]
    Target { path: PathBuf, reason: String },
    #[error(
        "{0}: no study found (give an experiment folder, a folder of them, or a postgres:// URL)"
    )]
    NoStudies(String),
    #[error(transparent)]
    Store(#[from] archer_store::StoreError),
    #[error("study {study}: its saved configuration does not load: {reason}")]
    Config { study: String, reason: String },
    #[error(
        "--bind {addr} is not a loopback address, so every request must carry a token: pass \
         --token SECRET (or --token auto to have one made and printed)"
    )]
    TokenRequired { addr: String },
    #[error("--token must be at least 16 characters of [A-Za-z0-9_-] (or `auto`)")]
    WeakToken,
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: String, reason: String },
    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("the server stopped: {0}")]
    Serve(String),
}
