//! A study as the dashboard sees it: every trial in memory, kept current by following the
//! store's change sequence ([`archer_store::Store::trials_since`]), so that a page never
//! reloads the whole study and a study of 100,000 trials stays fast.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use archer_core::{Trial, TrialState};
use archer_runner::ExperimentConfig;
use archer_space::SearchSpace;
use archer_store::{Store, StudyRecord};

use crate::catalog::StudySource;
use crate::summary::Summary;
use crate::UiError;

/// One trial with what the pages show of it, computed once per change.
pub struct Row {
    pub trial: Trial,
    /// The space's native string.
    pub arch: String,
}

/// The study at one change sequence number. Immutable: a refresh makes a new one, sharing
/// the rows that did not change.
pub struct Snapshot {
    pub record: StudyRecord,
    /// The store's change sequence this snapshot has seen.
    pub seq: i64,
    /// Indexed by trial number.
    pub rows: Vec<Arc<Row>>,
    orders: Mutex<HashMap<String, Arc<Vec<u32>>>>,
    /// What pages compute from the whole study, made once per snapshot (so 50 clients of a
    /// 100,000-trial study share one computation per change).
    pub charts: OnceLock<Arc<String>>,
    pub summary: OnceLock<Summary>,
    pub metric_columns: OnceLock<Vec<String>>,
    /// The Pareto front's trial numbers ([`crate::analysis::front`]).
    pub front: OnceLock<Vec<u64>>,
}

impl Snapshot {
    fn new(record: StudyRecord, seq: i64, rows: Vec<Arc<Row>>) -> Self {
        Snapshot {
            record,
            seq,
            rows,
            orders: Mutex::new(HashMap::new()),
            charts: OnceLock::new(),
            summary: OnceLock::new(),
            metric_columns: OnceLock::new(),
            front: OnceLock::new(),
        }
    }

    pub fn count(&self, state: TrialState) -> usize {
        self.rows.iter().filter(|r| r.trial.state == state).count()
    }

    /// Trial numbers sorted by `key` (ascending; see [`sort_value`]), computed once per
    /// snapshot and key.
    pub fn order(&self, key: &str) -> Arc<Vec<u32>> {
        let mut orders = self.orders.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(o) = orders.get(key) {
            return o.clone();
        }
        let mut order: Vec<u32> = (0..self.rows.len() as u32).collect();
        let values: Vec<SortValue> = self.rows.iter().map(|r| sort_value(r, key)).collect();
        order.sort_by(|&a, &b| values[a as usize].cmp(&values[b as usize]).then(a.cmp(&b)));
        let order = Arc::new(order);
        orders.insert(key.to_string(), order.clone());
        order
    }
}

/// What a column sorts by: numbers before text, missing values last.
#[derive(PartialEq)]
pub enum SortValue {
    Number(f64),
    Text(String),
    Missing,
}

impl Eq for SortValue {}

impl PartialOrd for SortValue {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SortValue {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        use std::cmp::Ordering::*;
        match (self, other) {
            (SortValue::Number(a), SortValue::Number(b)) => a.total_cmp(b),
            (SortValue::Text(a), SortValue::Text(b)) => a.cmp(b),
            (SortValue::Number(_), _) => Less,
            (_, SortValue::Number(_)) => Greater,
            (SortValue::Text(_), SortValue::Missing) => Less,
            (SortValue::Missing, SortValue::Text(_)) => Greater,
            (SortValue::Missing, SortValue::Missing) => Equal,
        }
    }
}

/// The columns a trial table sorts by: `number`, `state`, `arch`, `fidelity`, `cost`,
/// `worker`, `attempts`, `score`, or `m:NAME` for a metric. Anything else sorts by number.
pub fn sort_value(row: &Row, key: &str) -> SortValue {
    let t = &row.trial;
    let num = |x: Option<f64>| match x {
        Some(v) if !v.is_nan() => SortValue::Number(v),
        _ => SortValue::Missing,
    };
    match key {
        "state" => SortValue::Text(t.state.as_str().to_string()),
        "arch" => SortValue::Text(row.arch.clone()),
        "fidelity" => num(t.fidelity.epochs.map(f64::from)),
        "cost" => num(Some(t.cost_seconds)),
        "worker" => t.worker.clone().map_or(SortValue::Missing, SortValue::Text),
        "attempts" => num(Some(f64::from(t.attempts))),
        "score" => num(t.score),
        _ => match key.strip_prefix("m:") {
            Some(metric) => num(t.metrics.get(metric)),
            None => num(Some(t.id as f64)),
        },
    }
}

/// How old a snapshot may be before a request reads the store's changes.
pub const FRESH_FOR: Duration = Duration::from_millis(500);

/// One study, open for as long as the server runs.
pub struct LiveStudy {
    pub source: StudySource,
    pub space: Arc<dyn SearchSpace>,
    /// The saved experiment configuration.
    pub config: ExperimentConfig,
    store: Mutex<Box<dyn Store>>,
    current: RwLock<Arc<Snapshot>>,
    /// When the store was last asked for changes.
    checked_at: Mutex<Instant>,
    /// A tabular benchmark's true Pareto front (or why there is none), found once.
    pub reference_front: OnceLock<Result<Vec<(f64, f64)>, String>>,
    /// The charts last drawn, and whether a request is drawing newer ones: while one does,
    /// the others get these rather than wait (a study that changes every half second would
    /// otherwise make every client wait for each drawing).
    last_charts: Mutex<Option<Arc<String>>>,
    charting: AtomicBool,
}

impl LiveStudy {
    /// Opens the study and reads every trial once.
    pub fn open(source: StudySource) -> Result<Self, UiError> {
        let mut store = archer_store::open_read_only(&source.location)?;
        let record = store.study(&source.study)?.ok_or_else(|| UiError::Config {
            study: source.study.clone(),
            reason: format!(
                "no longer in {}",
                archer_store::redact_url(&source.location)
            ),
        })?;
        let bad = |reason: String| UiError::Config {
            study: record.name.clone(),
            reason,
        };
        let experiment = ExperimentConfig::from_saved(&record.config_toml, &source.location)
            .map_err(|e| bad(e.to_string()))?;
        let space = experiment.space.build().map_err(|e| bad(e.to_string()))?;
        let changes = store.trials_since(record.id, 0)?;
        let rows = changes
            .trials
            .into_iter()
            .map(|t| Arc::new(row(space.as_ref(), t)))
            .collect();
        let snapshot = Snapshot::new(record, changes.seq, rows);
        Ok(LiveStudy {
            source,
            space,
            config: experiment,
            store: Mutex::new(store),
            current: RwLock::new(Arc::new(snapshot)),
            checked_at: Mutex::new(Instant::now()),
            reference_front: OnceLock::new(),
            last_charts: Mutex::new(None),
            charting: AtomicBool::new(false),
        })
    }

    /// The latest snapshot. When it is older than [`FRESH_FOR`], the study's changes since are
    /// read first, by one request at a time: the others meanwhile get the current snapshot
    /// rather than wait. A store error is returned only when no refresh could be made.
    pub fn snapshot(&self) -> Result<Arc<Snapshot>, UiError> {
        if self.checked().elapsed() < FRESH_FOR {
            return Ok(self.current());
        }
        let Ok(mut store) = self.store.try_lock() else {
            return Ok(self.current());
        };
        // Another request may have refreshed while this one waited for the lock.
        if self.checked().elapsed() < FRESH_FOR {
            return Ok(self.current());
        }
        let current = self.current();
        let next = self.refresh(store.as_mut(), &current)?;
        *self.checked_at.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        match next {
            Some(next) => {
                let next = Arc::new(next);
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = next.clone();
                Ok(next)
            }
            None => Ok(current),
        }
    }

    /// The study page's charts for `snap`: drawn by `draw` once per snapshot; while another
    /// request draws them, the last ones drawn (if any) instead.
    pub fn charts(&self, snap: &Snapshot, draw: impl FnOnce() -> String) -> Arc<String> {
        if let Some(c) = snap.charts.get() {
            return c.clone();
        }
        let drawer = !self.charting.swap(true, Ordering::AcqRel);
        if !drawer {
            let last = self
                .last_charts
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            if let Some(last) = last {
                return last;
            }
        }
        /// Clears the flag however the drawing ends (only the request that set it).
        struct Done<'a>(&'a AtomicBool);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        let _done = drawer.then(|| Done(&self.charting));
        let c = snap.charts.get_or_init(|| Arc::new(draw())).clone();
        *self.last_charts.lock().unwrap_or_else(|p| p.into_inner()) = Some(c.clone());
        c
    }

    fn checked(&self) -> Instant {
        *self.checked_at.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn current(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The study after the changes since `old`, or `None` when nothing changed.
    fn refresh(&self, store: &mut dyn Store, old: &Snapshot) -> Result<Option<Snapshot>, UiError> {
        let changes = store.trials_since(old.record.id, old.seq)?;
        let record = if changes.trials.is_empty() && old.record.stop_reason.is_some() {
            old.record.clone()
        } else {
            store
                .study(&old.record.name)?
                .unwrap_or_else(|| old.record.clone())
        };
        if changes.seq == old.seq && record == old.record {
            return Ok(None);
        }
        let mut rows = old.rows.clone();
        for t in changes.trials {
            let n = t.id as usize;
            let r = Arc::new(row(self.space.as_ref(), t));
            if n < rows.len() {
                rows[n] = r;
            } else {
                // Trial numbers are dense and changes come in number order, so a new trial
                // is always the next one; a gap means a store that broke its contract.
                if rows.len() < n {
                    return Err(UiError::Config {
                        study: old.record.name.clone(),
                        reason: format!("the store lacks trial {}", rows.len()),
                    });
                }
                rows.push(r);
            }
        }
        Ok(Some(Snapshot::new(record, changes.seq, rows)))
    }
}

fn row(space: &dyn SearchSpace, trial: Trial) -> Row {
    Row {
        arch: space.format(&trial.arch),
        trial,
    }
}
