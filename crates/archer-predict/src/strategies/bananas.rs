//! `bananas`: BANANAS (White et al. 2021), an MLP ensemble on the path encoding, on the
//! shared model-based loop.

use archer_strategy::{AcquisitionKind, BananasConfig, Kind, WarmStart};

use super::{differs, zc};
use crate::ModelBasedSearch;

pub(crate) static KIND: Kind<BananasConfig> = Kind::new(
    "bananas",
    "BANANAS: an MLP ensemble with randomized priors on the path encoding, expected improvement",
    |c: BananasConfig, ctx| {
        Box::new(
            ModelBasedSearch::new(ctx.space, ctx.rng, c.settings(), ctx.warm_start)
                .with_prescreen(ctx.prescreen),
        )
    },
)
.with_variants(
    &[
        ("bananas_its", r#"{"acquisition": "its"}"#),
        ("bananas_forest", r#"{"predictor": {"name": "forest"}}"#),
        ("bananas_gp", r#"{"predictor": {"name": "gp"}}"#),
    ],
    |c| {
        format!(
            "bananas{}{}{}",
            differs(c.predictor.name(), "mlp"),
            differs(c.acquisition.name(), AcquisitionKind::Ei.name()),
            zc(c.warm_start)
        )
    },
)
.with_warm_start(
    |c| WarmStart::asked(c.warm_start, c.warm_start_pool),
    |c| ("warm_start", c.initial_samples),
);
