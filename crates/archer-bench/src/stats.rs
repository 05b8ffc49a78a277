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
