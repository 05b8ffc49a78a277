//! The registered model-based strategies: one module each, one line in the list below.

archer_strategy::registry!(MODEL_KINDS: bo, bananas, npenas, parego_bo, parego_bananas, ehvi_bo, pnas, morphism);

/// `_tag` when a setting differs from its default, for labels (`bo_path`, `bananas_its`).
pub(crate) fn differs(tag: &str, default: &str) -> String {
    if tag == default {
        String::new()
    } else {
        format!("_{tag}")
    }
}

/// `+zc` when a zero-cost warm start is asked for.
pub(crate) fn zc(warm_start: usize) -> &'static str {
    if warm_start > 0 {
        "+zc"
    } else {
        ""
    }
}
