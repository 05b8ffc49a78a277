//! `archer report`: one study's pages as one self-contained HTML file (style, script and
//! charts inside it), to attach to a paper or a ticket.

use std::path::Path;

use crate::catalog;
use crate::snapshot::{LiveStudy, Row};
use crate::summary::summarise;
use crate::{analysis, pages, UiError};

/// Trials a report shows in full (the best, or the Pareto front's first ones).
const FEATURED: usize = 10;

/// Writes the report of the study behind `target` (an experiment folder or a PostgreSQL
/// URL; `study` picks one of several) to `output`. Returns the study's name and the file's
/// size in bytes.
pub fn write_report(
    target: &str,
    study: Option<&str>,
    output: &Path,
) -> Result<(String, u64), UiError> {
    let sources = catalog::discover(&[target.to_string()])?;
    let source = match study {
        Some(name) => sources
            .into_iter()
            .find(|s| s.study == name)
            .ok_or_else(|| {
                UiError::NoStudies(format!(
                    "{} (no study {name:?})",
                    archer_store::redact_url(target)
                ))
            })?,
        None if sources.len() == 1 => sources.into_iter().next().expect("one source"),
        None => {
            let names: Vec<String> = sources.iter().take(10).map(|s| s.study.clone()).collect();
            return Err(UiError::Target {
                path: target.into(),
                reason: format!(
                    "holds {} studies; pass --study NAME (e.g. {})",
                    sources.len(),
                    names.join(", ")
                ),
            });
        }
    };
    let live = LiveStudy::open(source)?;
    let snap = live.snapshot()?;
    let summary = summarise(&live, &snap);
    let featured: Vec<&Row> = if snap.record.objectives.len() > 1 {
        analysis::front(&snap)
            .iter()
            .take(FEATURED)
            .map(|&n| snap.rows[n as usize].as_ref())
            .collect()
    } else {
        summary
            .best_trial
            .map(|n| snap.rows[n as usize].as_ref())
            .into_iter()
            .collect()
    };
    let html = pages::report(&live, &snap, &summary, &featured).into_string();
    let io = |e: std::io::Error| UiError::Io {
        path: output.to_path_buf(),
        reason: e.to_string(),
    };
    // Written beside, then renamed: a full disk never leaves half a report.
    let partial = output.with_extension("html.partial");
    std::fs::write(&partial, &html).map_err(io)?;
    std::fs::rename(&partial, output).map_err(io)?;
    Ok((snap.record.name.clone(), html.len() as u64))
}
