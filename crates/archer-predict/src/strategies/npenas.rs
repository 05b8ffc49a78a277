//! `npenas`: predictor-guided evolution (Wei et al. 2022).

use archer_strategy::{AcquisitionKind, Kind, NpenasConfig, WarmStart};

use super::{differs, zc};
use crate::Npenas;

pub(crate) static KIND: Kind<NpenasConfig> = Kind::new(
    "npenas",
    "NPENAS: aging evolution whose children are ranked by a GP before evaluation",
    |c, ctx| Box::new(Npenas::new(ctx.space, ctx.rng, c, ctx.warm_start)),
)
.with_variants(
    &[
        ("npenas_mlp", r#"{"predictor": {"name": "mlp"}}"#),
        ("npenas_forest", r#"{"predictor": {"name": "forest"}}"#),
    ],
    |c| {
        format!(
            "npenas{}{}{}",
            differs(c.predictor.name(), "gp"),
            differs(c.acquisition.name(), AcquisitionKind::Mean.name()),
            zc(c.warm_start)
        )
    },
)
.with_warm_start(
    |c| WarmStart::asked(c.warm_start, c.warm_start_pool),
    |c| ("warm_start", c.population),
);
