/// Arithmetic mean; NaN for an empty slice.
pub fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Population standard deviation (numpy's default, as in the published NB201 tables);
/// NaN for an empty slice.
pub fn std_dev(xs: &[f64]) -> f64 {
    let m = mean(xs);
    (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / xs.len() as f64).sqrt()
}

/// A run's incumbent after each trial: `(finished trials, simulated seconds, first value,
/// second value)` (objective and reported metric).
pub(crate) type Trajectory = [(u64, f64, f64, f64)];

/// A run's incumbent trajectory with the incumbent's `first` and `second` metrics (NaN
/// where the incumbent lacks one).
pub(crate) fn trajectory(
    summary: &archer_runner::StudySummary,
    first: &str,
    second: &str,
) -> Vec<(u64, f64, f64, f64)> {
    let get = |m: &archer_core::Metrics, k: &str| m.get(k).unwrap_or(f64::NAN);
    summary
        .trajectory
        .iter()
        .map(|p| {
            (
                p.trials,
                p.sim_seconds,
                get(&p.incumbent_metrics, first),
                get(&p.incumbent_metrics, second),
            )
        })
        .collect()
}

/// One point of a mean anytime curve over runs.
pub(crate) struct AnytimePoint {
    pub x: f64,
    pub mean_first: f64,
    pub mean_second: f64,
    pub std_second: f64,
    pub runs: usize,
}

/// The mean incumbent at each `x`: each run contributes its last trajectory point whose
/// coordinate (`at`: trials or seconds) is at most `x`; runs with none yet are left out
/// (`runs` counts those in).
pub(crate) fn anytime(
    trajectories: &[&Trajectory],
    xs: impl Iterator<Item = f64>,
    at: fn(&(u64, f64, f64, f64)) -> f64,
) -> Vec<AnytimePoint> {
    xs.map(|x| {
        let incumbents: Vec<(f64, f64)> = trajectories
            .iter()
            .filter_map(|t| t.iter().rev().find(|p| at(p) <= x).map(|p| (p.2, p.3)))
            .collect();
        let first: Vec<f64> = incumbents.iter().map(|p| p.0).collect();
        let second: Vec<f64> = incumbents.iter().map(|p| p.1).collect();
        AnytimePoint {
            x,
            mean_first: mean(&first),
            mean_second: mean(&second),
            std_second: std_dev(&second),
            runs: incumbents.len(),
        }
    })
    .collect()
}

/// Writes `text` to `dir/name`, creating `dir`.
pub(crate) fn write_file(
    dir: &std::path::Path,
    name: &str,
    text: String,
) -> Result<(), crate::BenchError> {
    std::fs::create_dir_all(dir).map_err(|e| crate::BenchError::io(dir, e))?;
    let p = dir.join(name);
    std::fs::write(&p, text).map_err(|e| crate::BenchError::io(&p, e))
}

/// Runs `f` on every job on `threads` threads and returns the results in job order (so
/// they do not depend on the number of threads); the first error wins.
pub(crate) fn run_jobs<J: Sync, R: Send>(
    jobs: &[J],
    threads: usize,
    f: impl Fn(&J) -> Result<R, crate::BenchError> + Sync,
) -> Result<Vec<R>, crate::BenchError> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<R, crate::BenchError>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                let r = f(job);
                if let Ok(mut all) = results.lock() {
                    all[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .map_err(|_| crate::BenchError::Invalid("a benchmark thread panicked".into()))?
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| Err(crate::BenchError::Invalid("a run did not finish".into())))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_population_std() {
        assert_eq!(mean(&[1.0, 2.0, 3.0, 4.0]), 2.5);
        assert!((std_dev(&[1.0, 2.0, 3.0, 4.0]) - 1.118_033_988_749_895).abs() < 1e-12);
        assert!(mean(&[]).is_nan());
    }
}
