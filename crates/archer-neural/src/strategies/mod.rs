//! The registered neural strategies: one module each, one line in the list below.

archer_strategy::registry!(NEURAL_KINDS: rl_lstm, ppo, nao);
