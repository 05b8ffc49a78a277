//! `parego-bo`: Bayesian optimisation with a GP on ParEGO's random scalarisations; every
//! `bo` key is accepted, plus `rho`.

use archer_strategy::BoConfig;

use crate::parego::ParegoKind;

pub(crate) static KIND: ParegoKind<BoConfig> = ParegoKind::new(
    "parego-bo",
    "ParEGO with BO: a GP fitted on a fresh augmented Chebyshev scalarisation of the objectives at each ask",
    BoConfig::settings,
    // Chosen on seeds 100-139 of the three NB201 pairs (README): a shorter random start and
    // BANANAS' wider random candidate pool.
    &[("initial_samples", 5), ("random_candidates", 2000)],
);
