//! Strategies whose models are neural networks, trained with libtorch (tch-rs) autograd:
//! the NAS-RL LSTM controller trained by REINFORCE (`rl-lstm`) or PPO (`ppo`), and NAO's
//! encoder, predictor and decoder (`nao`); and the controller as a [`Policy`] for ENAS's
//! weight-sharing search (`archer-oneshot`).
//!
//! Kept apart from `archer-strategy` so that a build without PyTorch still has every other
//! strategy; `archer-predict` registers these when its `neural` feature is on. Networks are
//! double precision on the CPU, their weights drawn from the strategy's own generator and
//! saved bit-exactly in its state, so a run depends only on its seed and resumes exactly.

mod controller;
mod controller_search;
mod lstm;
mod nao_model;
mod params;
mod policy;
mod strategies;

pub use controller::ControllerShape;
pub use controller_search::ControllerConfig;
pub use params::AdamConstants;
pub use policy::{Policy, Reinforce};
pub use strategies::NEURAL_KINDS;
