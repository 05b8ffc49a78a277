//! The registered model-based strategies: one module each, one line in the list below.

archer_strategy::registry!(MODEL_KINDS: parego_bo, parego_bananas, ehvi_bo);
