//! `bo`: Bayesian optimisation with a GP (NASBOT-style), on the shared model-based loop.

use archer_strategy::{AcquisitionKind, BoConfig, GpKernel, Kind, WarmStart};

use super::{differs, zc};
use crate::ModelBasedSearch;

pub(crate) static KIND: Kind<BoConfig> = Kind::new(
    "bo",
    "Bayesian optimisation: a GP with an architecture kernel, expected improvement",
    |c: BoConfig, ctx| {
        Box::new(
            ModelBasedSearch::new(ctx.space, ctx.rng, c.settings(), ctx.warm_start)
                .with_prescreen(ctx.prescreen),
        )
    },
)
.with_variants(
    &[
        ("bo_path", r#"{"kernel": "exp_path"}"#),
        ("bo_wl", r#"{"kernel": "wl"}"#),
        ("bo_ucb", r#"{"acquisition": "ucb"}"#),
    ],
    |c| {
        let kernel = match c.kernel {
            GpKernel::ExpHamming => "",
            GpKernel::ExpPath => "_path",
            GpKernel::Wl => "_wl",
        };
        let acquisition = differs(c.acquisition.name(), AcquisitionKind::Ei.name());
        format!("bo{kernel}{acquisition}{}", zc(c.warm_start))
    },
)
.with_warm_start(
    |c| WarmStart::asked(c.warm_start, c.warm_start_pool),
    |c| ("warm_start", c.initial_samples),
);
