//! The HTML pages. maud escapes every value put into them; the only unescaped parts are the
//! SVG this crate draws itself (whose labels are escaped where they are written).

use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::analysis;
use crate::charts;
use crate::drawing;
use crate::snapshot::{LiveStudy, Row, Snapshot};
use crate::summary::Summary;

/// How pages reach their style sheet and script: from the server, or inside the page (a
/// report that opens with no network and no server).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Assets {
    Linked,
    Inline,
}

pub const STYLE: &str = include_str!("../assets/style.css");
pub const SCRIPT: &str = include_str!("../assets/app.js");

/// Trials the study page's table shows per page.
pub const PAGE_ROWS: usize = 50;

fn layout(title: &str, assets: Assets, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Archer" }
                @match assets {
                    Assets::Linked => {
                        link rel="stylesheet" href="/static/style.css";
                        script src="/static/app.js" defer {}
                    }
                    Assets::Inline => {
                        style { (PreEscaped(STYLE)) }
                        script { (PreEscaped(SCRIPT)) }
                    }
                }
            }
            body {
                header.top {
                    @if assets == Assets::Linked {
                        a href="/" { "Archer" }
                    } @else {
                        span { "Archer report" }
                    }
                }
                main { (body) }
            }
        }
    }
}

fn value(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => {
            if x.abs() >= 1000.0 || x == x.trunc() {
                format!("{x:.0}")
            } else {
                format!("{x:.4}")
            }
        }
        Some(x) => format!("{x}"),
        None => "–".into(),
    }
}

/// Every study in the catalog (those that failed to open with their error).
pub fn studies(list: &[Result<Summary, (String, String)>]) -> Markup {
    let body = html! {
        h1 { "Studies" }
        table.grid #studies {
            thead { tr {
                th { "study" } th { "state" } th { "trials" } th { "complete" } th { "running" }
                th { "paused" } th { "waiting" } th { "failed" } th { "pruned" }
                th { "best" } th { "budget used" } th { "last change" }
            } }
            tbody {
                @for item in list {
                    @match item {
                        Ok(s) => tr data-key=(s.key) {
                            td { a href={ "/s/" (s.key) } { (s.study) } br; small { (s.storage) } }
                            td { (s.state) }
                            td.num { (s.trials) } td.num { (s.complete) } td.num { (s.running) }
                            td.num { (s.paused) } td.num { (s.waiting) } td.num { (s.failed) }
                            td.num { (s.pruned) }
                            td { @if let Some(n) = s.front_size {
                                     "front of " (n) ":"
                                     @for (m, v) in &s.best_values { br; small { "best " (m) " " (value(Some(*v))) } }
                                 } @else { (value(s.best_value)) @if let Some(t) = s.best_trial { " (trial " (t) ")" } } }
                            td { (format!("{:.0}", s.seconds_used)) " s; limits: " (s.budget) }
                            td { (s.last_change) }
                        },
                        Err((key, error)) => tr data-key=(key) {
                            td { (key) } td colspan="11" .error { (error) }
                        },
                    }
                }
            }
        }
    };
    layout("Studies", Assets::Linked, body)
}

fn summary_block(s: &Summary) -> Markup {
    html! {
        section.summary #summary data-seq=(s.seq) {
            dl {
                dt { "state" } dd #state { (s.state) }
                dt { "objectives" } dd { (s.objectives.join(", ")) }
                dt { "trials" } dd #counts {
                    span #n-trials { (s.trials) } " in all: "
                    span #n-complete { (s.complete) } " complete, "
                    span #n-running { (s.running) } " running, "
                    span #n-paused { (s.paused) } " paused, "
                    span #n-waiting { (s.waiting) } " waiting, "
                    span #n-failed { (s.failed) } " failed, "
                    span #n-pruned { (s.pruned) } " pruned"
                }
                @if let Some(n) = s.front_size {
                    dt { "Pareto front" } dd #best { (n) " trials" }
                    dt { "best per objective" } dd {
                        (s.best_values.iter().map(|(m, v)| format!("{m} {}", value(Some(*v)))).collect::<Vec<_>>().join(", "))
                    }
                } @else {
                    dt { "best" } dd #best {
                        (value(s.best_value))
                        @if let Some(t) = s.best_trial { " (trial " (t) ")" }
                    }
                }
                dt { "budget" } dd { (format!("{:.0}", s.seconds_used)) " s used; limits: " (s.budget) }
                dt { "storage" } dd { (s.storage) }
                dt { "last change" } dd #last-change { (s.last_change) }
            }
        }
    }
}

/// The charts of a study page (also served alone for live updates), made once per snapshot.
pub fn study_charts(study: &LiveStudy, snap: &Snapshot) -> Markup {
    PreEscaped(
        study
            .charts(snap, || draw_charts(study, snap).into_string())
            .to_string(),
    )
}

fn draw_charts(study: &LiveStudy, snap: &Snapshot) -> Markup {
    let metric = analysis::first_metric(snap);
    let (by_trial, inc_trial) = analysis::anytime(snap, false);
    let (by_time, inc_time) = analysis::anytime(snap, true);
    let pareto = analysis::pareto_points(snap);
    let (curves, marks) = analysis::curves(snap, 40);
    let effects = analysis::effects(snap, study.space.as_ref());
    html! {
        div.charts {
            figure #chart-anytime-trials {
                (PreEscaped(charts::anytime("Best so far, by trial", "trial", &metric, &by_trial, &inc_trial)))
            }
            figure #chart-anytime-time {
                (PreEscaped(charts::anytime("Best so far, by time", "seconds (study clock)", &metric, &by_time, &inc_time)))
            }
            @if let Some((x, y, all, front)) = &pareto {
                @let reference = study.reference_front.get_or_init(|| crate::reference::true_front(study));
                figure #chart-pareto data-front=(front.len()) {
                    (PreEscaped(charts::pareto(x, y, all, front, reference.as_ref().ok().map(|r| ("benchmark's true front", &r[..])))))
                    @match reference {
                        Ok(r) => figcaption { "Grey: every feasible complete trial; blue: the study's front; green: the " (r.len()) " architectures of the benchmark's true front (every architecture of the space looked up, the study's constraints applied)." }
                        Err(why) => figcaption { "Grey: every feasible complete trial; blue: the study's front. No true front is drawn: " (why) "." }
                    }
                }
            }
            // One value per trial (a table's final accuracy) is no curve.
            @if curves.iter().any(|c| c.1.len() > 1) {
                figure #chart-curves {
                    (PreEscaped(charts::curves("reported value", &curves, &marks)))
                    figcaption { "The " (curves.len()) " trials that ran longest; triangles mark where a scheduler paused, promoted or stopped a trial." }
                }
            }
        }
        @if !effects.is_empty() {
            section #effects {
                h2 { "Each dimension's effect on " (metric) }
                p.note { "Mean " (metric) " of the complete trials per choice (trials in brackets). η² is the share of the variance of " (metric) " that the choice explains (one-way ANOVA); largest first. Continuous dimensions and those with more than " (analysis::MAX_CHOICES) " choices made are left out." }
                div.effects {
                    @for e in effects.iter().take(12) {
                        figure.effect data-dimension=(e.dimension) {
                            (PreEscaped(charts::effect(&format!("{} (η² = {:.2})", e.dimension, e.eta_squared), &metric, &e.bars)))
                        }
                    }
                }
            }
        }
    }
}

/// The columns of the trial table after the fixed ones: the objectives' metrics first, then
/// every other metric any trial reported.
pub fn metric_columns(snap: &Snapshot) -> &[String] {
    snap.metric_columns
        .get_or_init(|| find_metric_columns(snap))
}

fn find_metric_columns(snap: &Snapshot) -> Vec<String> {
    let mut names: Vec<String> = snap
        .record
        .objectives
        .iter()
        .map(|o| o.metric.clone())
        .collect();
    let mut others = std::collections::BTreeSet::new();
    for r in charts::stride(snap.rows.len(), 5_000).map(|i| &snap.rows[i]) {
        for (m, _) in r.trial.metrics.iter() {
            if !names.iter().any(|n| n == m) {
                others.insert(m.to_string());
            }
        }
    }
    names.extend(others);
    names
}

/// A trial's fidelity as the table shows it: `full`, or `12 epochs, data 0.5`.
pub(crate) fn fidelity(r: &Row) -> String {
    let f = &r.trial.fidelity;
    let mut parts = Vec::new();
    if let Some(e) = f.epochs {
        parts.push(format!("{e} epochs"));
    }
    if let Some(d) = f.data_fraction {
        parts.push(format!("data {d}"));
    }
    if let Some(w) = f.width_multiplier {
        parts.push(format!("width {w}"));
    }
    if parts.is_empty() {
        "full".into()
    } else {
        parts.join(", ")
    }
}

fn table_row(key: Option<&str>, r: &Row, metrics: &[String]) -> Markup {
    let t = &r.trial;
    html! {
        tr data-trial=(t.id) {
            td.num { @if let Some(k) = key { a href={ "/s/" (k) "/t/" (t.id) } { (t.id) } } @else { a href={ "#trial-" (t.id) } { (t.id) } } }
            td.state { (t.state.as_str()) }
            td.arch { code { (r.arch) } }
            td { (fidelity(r)) }
            @for m in metrics { td.num { (value(t.metrics.get(m))) } }
            td.num { (format!("{:.1}", t.cost_seconds)) }
            td { (t.worker.as_deref().unwrap_or("")) }
        }
    }
}

/// The trial table: live (`key` given: paged, sorted and filtered by the API) or static
/// (every given row, sorted in the page).
pub fn trial_table(key: Option<&str>, snap: &Snapshot, rows: &[&Row]) -> Markup {
    let metrics = metric_columns(snap);
    html! {
        section #trials {
            h2 { "Trials" }
            div.controls {
                input #filter type="search" placeholder="filter: architecture text";
                select #state-filter {
                    option value="" { "every state" }
                    @for s in ["COMPLETE", "RUNNING", "PAUSED", "WAITING", "FAILED", "PRUNED"] { option value=(s) { (s) } }
                }
                span #pager {}
            }
            table.grid #trial-table data-api=[key.map(|k| format!("/api/s/{k}/trials"))] data-key=[key] data-total=(snap.rows.len()) {
                thead { tr {
                    th data-sort="number" { "#" } th data-sort="state" { "state" } th data-sort="arch" { "architecture" }
                    th data-sort="fidelity" { "fidelity" }
                    @for m in metrics { th data-sort={ "m:" (m) } { (m) } }
                    th data-sort="cost" { "cost (s)" } th data-sort="worker" { "worker" }
                } }
                tbody {
                    @for r in rows { (table_row(key, r, metrics)) }
                }
            }
        }
    }
}

/// A study's page: summary, charts, trial table.
pub fn study(study: &LiveStudy, snap: &Snapshot, summary: &Summary) -> Markup {
    study_page(study, snap, summary, Assets::Linked, html! {})
}

/// The study page, live (`Linked`: the table paged by the API) or as a report (`Inline`: a
/// static table), followed by `after`.
fn study_page(
    study: &LiveStudy,
    snap: &Snapshot,
    summary: &Summary,
    assets: Assets,
    after: Markup,
) -> Markup {
    let live = assets == Assets::Linked;
    let rows: Vec<&Row> = if live {
        snap.rows
            .iter()
            .rev()
            .take(PAGE_ROWS)
            .map(|r| r.as_ref())
            .collect()
    } else {
        snap.rows
            .iter()
            .take(REPORT_ROWS)
            .map(|r| r.as_ref())
            .collect()
    };
    let key = live.then_some(study.source.key.as_str());
    let body = html! {
        h1 { "Study " (snap.record.name) }
        (summary_block(summary))
        section #charts data-charts=[key.map(|k| format!("/s/{k}/charts"))] { (study_charts(study, snap)) }
        (trial_table(key, snap, &rows))
        @if !live && snap.rows.len() > REPORT_ROWS {
            p.note { "The report lists the first " (REPORT_ROWS) " of " (snap.rows.len()) " trials." }
        }
        (after)
    };
    layout(&snap.record.name, assets, body)
}

/// Rows a report's table holds at most.
pub const REPORT_ROWS: usize = 5_000;

/// The body of one trial's page (also a section of a report).
pub fn trial_body(study: &LiveStudy, snap: &Snapshot, row: &Row, live: bool) -> Markup {
    let t = &row.trial;
    let space = study.space.as_ref();
    let drawing = drawing::svg(&space.sketch(&t.arch));
    let labelled = space.labelled(&t.arch);
    let marks = analysis::marks(t);
    let key = &study.source.key;
    let log = study
        .source
        .folder
        .as_ref()
        .map(|f| {
            f.join("trials")
                .join(format!("trial-{}", t.id))
                .join("log.txt")
        })
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|text| {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(200)..].join("\n")
        });
    let manifest = study
        .source
        .folder
        .as_ref()
        .map(|f| f.join("model").join("manifest.json"))
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .filter(|m| m["arch_str"].as_str() == Some(row.arch.as_str()));
    html! {
        section.trial #{ "trial-" (t.id) } {
            h2 { "Trial " (t.id) " · " (t.state.as_str()) }
            p { code.archstr { (row.arch) } }
            @if let Some(svg) = &drawing {
                figure #arch-drawing { (PreEscaped(svg)) }
            }
            @if live {
                p.downloads {
                    a href={ "/s/" (key) "/t/" (t.id) "/arch.json" } download { "architecture JSON" }
                    " · "
                    a href={ "/s/" (key) "/t/" (t.id) "/retrain.json" } download { "archer retrain input" }
                }
            }
            div.columns {
                div {
                    h3 { "Decisions" }
                    table.kv { @if let Some(map) = labelled.as_object() { @for (k, v) in map {
                        tr { th { (k) } td { (v.as_str().map(String::from).unwrap_or_else(|| v.to_string())) } }
                    } } }
                }
                div {
                    h3 { "Metrics" }
                    table.kv #metrics { @for (m, v) in t.metrics.iter() { tr { th { (m) } td { (value(Some(v))) } } } }
                    @if !t.scores.is_empty() {
                        p { "scores (higher is better): " (t.scores.iter().map(|s| value(Some(*s))).collect::<Vec<_>>().join(", ")) }
                    }
                }
                div {
                    h3 { "Provenance" }
                    table.kv {
                        tr { th { "study" } td { (snap.record.name) } }
                        tr { th { "seed" } td { (snap.record.seed) } }
                        tr { th { "space" } td { (snap.record.space) " v" (snap.record.space_version) } }
                        tr { th { "arch hash" } td { code { (t.arch_hash) } } }
                        tr { th { "fidelity" } td { (fidelity(row)) } }
                        tr { th { "cost" } td { (format!("{:.2}", t.cost_seconds)) " s" } }
                        tr { th { "feasible" } td { (t.feasible) @if t.violation > 0.0 { " (violation " (value(Some(t.violation))) ")" } } }
                        tr { th { "attempts" } td { (t.attempts) } }
                        tr { th { "worker" } td { (t.worker.as_deref().unwrap_or("–")) } }
                        tr { th { "started" } td { (t.started_at.map(|d| d.to_rfc3339()).unwrap_or_default()) } }
                        tr { th { "finished" } td { (t.finished_at.map(|d| d.to_rfc3339()).unwrap_or_default()) } }
                        @for (k, v) in &t.attrs { tr { th { (k) } td { code { (v.to_string()) } } } }
                    }
                    @if let Some(e) = &t.error { h3 { "Error" } pre.error { (e) } }
                }
            }
            @if !t.intermediate.is_empty() {
                figure #trial-curve {
                    (PreEscaped(charts::curves("reported value", &[(format!("trial {}", t.id), t.intermediate.clone())], &marks)))
                }
            }
            @if let Some(m) = &manifest {
                h3 { "Retrained model" }
                pre.manifest { (serde_json::to_string_pretty(m).unwrap_or_default()) }
            }
            @if let Some(l) = &log {
                h3 { "Log (last 200 lines)" }
                pre.log { (l) }
            }
        }
    }
}

/// One trial's page.
pub fn trial(study: &LiveStudy, snap: &Snapshot, row: &Row) -> Markup {
    let body = html! {
        p { a href={ "/s/" (study.source.key) } { "← study " (snap.record.name) } }
        (trial_body(study, snap, row, true))
    };
    layout(
        &format!("Trial {} of {}", row.trial.id, snap.record.name),
        Assets::Linked,
        body,
    )
}

/// A whole study as one self-contained page: the study page (a static table) followed by
/// the best trials' pages.
pub fn report(study: &LiveStudy, snap: &Snapshot, summary: &Summary, featured: &[&Row]) -> Markup {
    let trials = html! {
        @for r in featured { (trial_body(study, snap, r, false)) }
    };
    study_page(study, snap, summary, Assets::Inline, trials)
}

/// A page that says what is not there.
pub fn not_found(what: &str) -> Markup {
    layout(
        "Not found",
        Assets::Linked,
        html! { h1 { "Not found" } p { (what) } },
    )
}
