//! `archer bench nb201-size`: every NAS-Bench-201 network's parameters and FLOPs, counted
//! on its description or on the network an engine builds, against the table.

use archer_eval::{Nb201Dataset, Nb201Table};
use archer_nets::{Nb201Net, Nb201NetConfig};
use archer_space::{Arch, Nb201Space, SearchSpace};
use serde::Serialize;

use crate::BenchError;

/// Relative tolerances of the check: the 0.5 % for params and 1 % for FLOPs.
pub const PARAMS_TOLERANCE: f64 = 0.005;
pub const FLOPS_TOLERANCE: f64 = 0.01;

/// The comparison on one dataset's network.
#[derive(Clone, Debug, Serialize)]
pub struct SizeCheck {
    pub dataset: String,
    /// What was counted: the framework-free description, or the networks an engine built.
    pub counted_on: String,
    pub checked: usize,
    pub params_mismatches: usize,
    pub params_max_rel_err: f64,
    pub flops_mismatches: usize,
    pub flops_max_rel_err: f64,
    /// The architecture with the largest params error, with (ours, table) in millions.
    pub worst_params: Option<(String, f64, f64)>,
}

/// Counts `(params, FLOPs)` of an architecture's network with the given skeleton.
pub type SizeCounter<'a> =
    dyn Fn(&Nb201Space, &Arch, Nb201NetConfig) -> Result<(u64, u64), String> + 'a;

/// The description's exact count.
pub fn describe(
    space: &Nb201Space,
    arch: &Arch,
    config: Nb201NetConfig,
) -> Result<(u64, u64), String> {
    let cost = Nb201Net::new(space, arch, config)
        .map_err(|e| e.to_string())?
        .cost();
    Ok((cost.params, cost.flops))
}

/// Counts every architecture of `table` for `dataset`'s network on its description and
/// compares.
pub fn check_sizes(table: &Nb201Table, dataset: Nb201Dataset) -> Result<SizeCheck, BenchError> {
    check_sizes_with(table, dataset, &describe, "description")
}

/// Counts every architecture of `table` for `dataset`'s network with `count` (e.g. by
/// building it in an engine) and compares.
pub fn check_sizes_with(
    table: &Nb201Table,
    dataset: Nb201Dataset,
    count: &SizeCounter,
    counted_on: &str,
) -> Result<SizeCheck, BenchError> {
    let space = Nb201Space::default();
    let config = match dataset {
        Nb201Dataset::Cifar10 => Nb201NetConfig::cifar10(),
        Nb201Dataset::Cifar100 => Nb201NetConfig::cifar100(),
        Nb201Dataset::ImageNet16 => Nb201NetConfig::imagenet16_120(),
    };
    let mut out = SizeCheck {
        dataset: dataset.name().to_string(),
        counted_on: counted_on.to_string(),
        checked: 0,
        params_mismatches: 0,
        params_max_rel_err: 0.0,
        flops_mismatches: 0,
        flops_max_rel_err: 0.0,
        worst_params: None,
    };
    for (arch, records) in table.iter() {
        let (params, flops) = count(&space, arch, config)
            .map_err(|e| BenchError::Invalid(format!("{}: {e}", space.format(arch))))?;
        let (params_m, flops_m) = (params as f64 / 1e6, flops as f64 / 1e6);
        let r = &records[dataset as usize];
        let rel = |ours: f64, theirs: f64| (ours - theirs).abs() / theirs.abs().max(1e-12);
        let p = rel(params_m, r.params_m);
        let f = rel(flops_m, r.flops_m);
        out.checked += 1;
        if p > PARAMS_TOLERANCE {
            out.params_mismatches += 1;
        }
        if f > FLOPS_TOLERANCE {
            out.flops_mismatches += 1;
        }
        if p > out.params_max_rel_err || out.worst_params.is_none() {
            out.params_max_rel_err = out.params_max_rel_err.max(p);
            out.worst_params = Some((space.format(arch), params_m, r.params_m));
        }
        out.flops_max_rel_err = out.flops_max_rel_err.max(f);
    }
    Ok(out)
}
