//! `archer bench nb201-size`: every NAS-Bench-201 network's parameters and FLOPs, counted
//! on its description, against the table.

use archer_eval::{Nb201Dataset, Nb201Table};
use archer_nets::{Nb201Net, Nb201NetConfig};
use archer_space::{Nb201Space, SearchSpace};
use serde::Serialize;

use crate::RunError;

/// Relative tolerances of the check: the 0.5 % for params and 1 % for FLOPs.
pub const PARAMS_TOLERANCE: f64 = 0.005;
pub const FLOPS_TOLERANCE: f64 = 0.01;

/// The comparison on one dataset's network.
#[derive(Clone, Debug, Serialize)]
pub struct SizeCheck {
    pub dataset: String,
    pub checked: usize,
    pub params_mismatches: usize,
    pub params_max_rel_err: f64,
    pub flops_mismatches: usize,
    pub flops_max_rel_err: f64,
    /// The architecture with the largest params error, with (ours, table) in millions.
    pub worst_params: Option<(String, f64, f64)>,
}

/// Counts every architecture of `table` for `dataset`'s network and compares.
pub fn check_sizes(table: &Nb201Table, dataset: Nb201Dataset) -> Result<SizeCheck, RunError> {
    let space = Nb201Space::default();
    let config = match dataset {
        Nb201Dataset::Cifar10 => Nb201NetConfig::cifar10(),
        Nb201Dataset::Cifar100 => Nb201NetConfig::cifar100(),
        Nb201Dataset::ImageNet16 => Nb201NetConfig::imagenet16_120(),
    };
    let mut out = SizeCheck {
        dataset: dataset.name().to_string(),
        checked: 0,
        params_mismatches: 0,
        params_max_rel_err: 0.0,
        flops_mismatches: 0,
        flops_max_rel_err: 0.0,
        worst_params: None,
    };
    for (arch, records) in table.iter() {
        let net = Nb201Net::new(&space, arch, config)
            .map_err(|e| RunError::Bench(format!("{}: {e}", space.format(arch))))?;
        let cost = net.cost();
        let r = &records[dataset as usize];
        let rel = |ours: f64, theirs: f64| (ours - theirs).abs() / theirs.abs().max(1e-12);
        let p = rel(cost.params_m(), r.params_m);
        let f = rel(cost.flops_m(), r.flops_m);
        out.checked += 1;
        if p > PARAMS_TOLERANCE {
            out.params_mismatches += 1;
        }
        if f > FLOPS_TOLERANCE {
            out.flops_mismatches += 1;
        }
        if p > out.params_max_rel_err || out.worst_params.is_none() {
            out.params_max_rel_err = out.params_max_rel_err.max(p);
            out.worst_params = Some((space.format(arch), cost.params_m(), r.params_m));
        }
        out.flops_max_rel_err = out.flops_max_rel_err.max(f);
    }
    Ok(out)
}
