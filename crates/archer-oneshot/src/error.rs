use thiserror::Error;

/// Errors of one-shot search.
#[derive(Debug, Error)]
pub enum OneShotError {
    /// A setting that cannot work, with the reason.
    #[error("one-shot setting: {0}")]
    Setting(String),
    /// A loss that is no longer a finite number.
    #[error("the {which} loss diverged ({loss}) at step {step}")]
    Diverged {
        which: &'static str,
        loss: f64,
        step: u64,
    },
}
