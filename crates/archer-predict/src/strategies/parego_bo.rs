//! `parego-bo`: Bayesian optimisation with a GP on ParEGO's random scalarisations.

use archer_strategy::BoConfig;

use crate::parego::ParegoKind;

pub(crate) static KIND: ParegoKind<BoConfig> = ParegoKind::new(
    "parego-bo",
    "ParEGO with BO: a GP fitted on a fresh augmented Chebyshev scalarisation of the objectives at each ask",
    BoConfig::settings,
);
