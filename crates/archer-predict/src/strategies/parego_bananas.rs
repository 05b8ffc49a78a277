//! `parego-bananas`: BANANAS (MLP ensemble, path encoding) on ParEGO's random scalarisations.

use archer_strategy::BananasConfig;

use crate::parego::ParegoKind;

pub(crate) static KIND: ParegoKind<BananasConfig> = ParegoKind::new(
    "parego-bananas",
    "ParEGO with BANANAS: an MLP ensemble fitted on a fresh augmented Chebyshev scalarisation at each ask",
    BananasConfig::settings,
    &[],
);
