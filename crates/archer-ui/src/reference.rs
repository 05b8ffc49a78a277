//! A benchmark's true Pareto front, to draw a multi-objective study's front against: for a
//! study whose evaluator is a table on a simulated clock (NAS-Bench-201, a results table),
//! every architecture of the space is looked up once and the feasible non-dominated ones
//! kept, on the study's own objectives and constraints.

use archer_core::pareto::pareto_front;
use archer_core::{scores, total_violation, Fidelity, TrialCtx};
use archer_eval::Evaluator;
use archer_space::{Arch, Gene, SearchSpace};

use crate::snapshot::LiveStudy;

/// Architectures enumerated at most; a larger space has no reference front.
pub const MAX_MEMBERS: u128 = 200_000;

/// The true front in the first two objectives' units, or why there is none.
pub fn true_front(study: &LiveStudy) -> Result<Vec<(f64, f64)>, String> {
    let experiment = study
        .config
        .clone()
        .validate()
        .map_err(|e| format!("the study's evaluator does not load here: {e}"))?;
    let evaluator: &dyn Evaluator = experiment.evaluator.as_ref();
    if !evaluator.simulated_clock() {
        return Err("not a tabular benchmark".into());
    }
    let [a, b, ..] = &experiment.objectives[..] else {
        return Err("one objective".into());
    };
    let members = match evaluator.space_members() {
        Some(m) => m,
        None => every_member(experiment.space.as_ref())?,
    };
    let mut points = Vec::new();
    let mut xy = Vec::new();
    for arch in &members {
        let mut ctx = TrialCtx::new(0, 0);
        let Ok(metrics) = evaluator.evaluate(arch, &Fidelity::full(), &mut ctx) else {
            continue;
        };
        let feasible = total_violation(&experiment.constraints, &metrics).is_ok_and(|v| v <= 0.0);
        let (Ok(s), Some(x), Some(y)) = (
            scores(&experiment.objectives, &metrics),
            metrics.get(&a.metric),
            metrics.get(&b.metric),
        ) else {
            continue;
        };
        if feasible {
            points.push(s);
            xy.push((x, y));
        }
    }
    let refs: Vec<&[f64]> = points.iter().map(|p| &p[..]).collect();
    Ok(pareto_front(&refs).into_iter().map(|i| xy[i]).collect())
}

/// Every valid architecture of a space of categorical and integer choices, in order.
fn every_member(space: &dyn SearchSpace) -> Result<Vec<Arch>, String> {
    let size = space.size();
    if size > MAX_MEMBERS {
        return Err(format!(
            "the space has {size} architectures (more than {MAX_MEMBERS})"
        ));
    }
    let dims = space.dimensions();
    if dims
        .iter()
        .any(|d| !d.when.is_empty() || d.allowed.is_empty())
    {
        return Err("a space with conditional dimensions".into());
    }
    let mut position = vec![0usize; dims.len()];
    let mut out = Vec::new();
    loop {
        let genes: Vec<Gene> = dims
            .iter()
            .zip(&position)
            .map(|(d, &i)| Gene::Index(d.allowed[i]))
            .collect();
        let arch = Arch::from_genes(space.name(), space.version(), genes);
        if space.contains(&arch) {
            out.push(arch);
        }
        // The next position, the last dimension fastest.
        let mut k = dims.len();
        loop {
            if k == 0 {
                return Ok(out);
            }
            k -= 1;
            position[k] += 1;
            if position[k] < dims[k].allowed.len() {
                break;
            }
            position[k] = 0;
        }
    }
}
