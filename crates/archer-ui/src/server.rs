//! The HTTP server: read-only routes over the catalog's studies, a token check for anything
//! but a loopback bind, and strict headers. Store reads and rendering run on blocking
//! threads, so a slow database never stalls the server's event loop.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::catalog::{self, StudySource};
use crate::pages;
use crate::snapshot::LiveStudy;
use crate::summary::{summarise, Summary};
use crate::UiError;

/// The studies a server shows: each opened once, or the reason it could not be. Studies
/// created after the start (a new experiment folder under a target folder, a new study in a
/// PostgreSQL database) are added when the studies page is next shown (the targets are
/// searched again at most every [`RELIST_EVERY`]).
pub struct Dashboard {
    catalog: RwLock<Catalog>,
    /// What the dashboard was started on, searched again for new studies.
    targets: Vec<String>,
    listed_at: Mutex<Instant>,
    token: Option<String>,
}

#[derive(Default)]
struct Catalog {
    studies: BTreeMap<String, Entry>,
    /// Catalog order.
    order: Vec<String>,
    /// Every (store location, study name) in the catalog, opened or not.
    known: std::collections::HashSet<(String, String)>,
}

type Entry = Result<Arc<LiveStudy>, String>;

/// How often the targets are searched again for new studies, at most.
pub const RELIST_EVERY: Duration = Duration::from_secs(5);

impl Catalog {
    /// Opens `source` and lists it under its key.
    fn add(&mut self, source: StudySource) {
        let entry = open_entry(source.clone());
        self.insert(&source, entry);
    }

    fn insert(&mut self, source: &StudySource, entry: Entry) {
        self.known
            .insert((source.location.clone(), source.study.clone()));
        self.order.push(source.key.clone());
        self.studies.insert(source.key.clone(), entry);
    }

    fn holds(&self, location: &str, study: &str) -> bool {
        self.known
            .contains(&(location.to_string(), study.to_string()))
    }

    /// `base`, or `base-2`, `base-3`, ... whichever is free.
    fn free_key(&self, base: &str) -> String {
        let mut key = base.to_string();
        let mut n = 1;
        while self.studies.contains_key(&key) {
            n += 1;
            key = format!("{base}-{n}");
        }
        key
    }
}

fn open_entry(source: StudySource) -> Entry {
    LiveStudy::open(source)
        .map(Arc::new)
        .map_err(|e| e.to_string())
}

impl Dashboard {
    /// Finds and opens the studies behind `targets`. A study that does not open is listed
    /// with its error rather than failing the whole dashboard; no study at all is an error.
    pub fn open(targets: &[String], token: Option<String>) -> Result<Self, UiError> {
        let mut catalog = Catalog::default();
        for source in catalog::discover(targets)? {
            catalog.add(source);
        }
        Ok(Dashboard {
            catalog: RwLock::new(catalog),
            targets: targets.to_vec(),
            listed_at: Mutex::new(Instant::now()),
            token,
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Catalog> {
        self.catalog.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds the studies created under the targets since they were last searched. A target
    /// that cannot be searched now is tried again next time.
    fn relist(&self) {
        if self.targets.is_empty() {
            return;
        }
        // Held throughout: one relist at a time, and only a relist adds to the catalog, so
        // a key found free below stays free until it is taken.
        let Ok(mut at) = self.listed_at.try_lock() else {
            return;
        };
        if at.elapsed() < RELIST_EVERY {
            return;
        }
        *at = Instant::now();
        for target in &self.targets {
            let Ok(sources) = catalog::discover(std::slice::from_ref(target)) else {
                continue;
            };
            for source in sources {
                if self.read().holds(&source.location, &source.study) {
                    continue;
                }
                // Opened (all its trials read) before the catalog is locked for writing.
                let source = StudySource {
                    key: self.read().free_key(&source.key),
                    ..source
                };
                let entry = open_entry(source.clone());
                self.catalog
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(&source, entry);
            }
        }
    }

    /// How many studies opened, and how many did not.
    pub fn counts(&self) -> (usize, usize) {
        let catalog = self.read();
        let ok = catalog.studies.values().filter(|s| s.is_ok()).count();
        (ok, catalog.studies.len() - ok)
    }

    /// The key of the study with the most trials (the first on ties).
    pub fn largest(&self) -> Option<String> {
        let catalog = self.read();
        let mut best: Option<(usize, &String)> = None;
        for key in &catalog.order {
            if let Ok(study) = &catalog.studies[key] {
                let n = study.snapshot().map_or(0, |s| s.rows.len());
                if best.is_none_or(|(m, _)| n > m) {
                    best = Some((n, key));
                }
            }
        }
        best.map(|(_, k)| k.clone())
    }

    /// The study under `key`, if the catalog has one that opened.
    pub fn study(&self, key: &str) -> Option<Arc<LiveStudy>> {
        if !catalog::is_key(key) {
            return None;
        }
        self.read().studies.get(key)?.as_ref().ok().cloned()
    }

    /// The routes, with the token check when the dashboard has a token.
    pub fn router(self) -> Router {
        let state = Arc::new(self);
        Router::new()
            .route("/", get(studies_page))
            .route("/static/style.css", get(style))
            .route("/static/app.js", get(script))
            .route("/api/studies", get(studies_api))
            .route("/s/{key}", get(study_page))
            .route("/s/{key}/charts", get(study_charts))
            .route("/s/{key}/t/{n}", get(trial_page))
            .route("/s/{key}/t/{n}/arch.json", get(arch_json))
            .route("/s/{key}/t/{n}/retrain.json", get(retrain_json))
            .route("/api/s/{key}/summary", get(summary_api))
            .route("/api/s/{key}/trials", get(trials_api))
            .fallback(|| async { not_found("no such page") })
            .layer(middleware::from_fn_with_state(state.clone(), guard))
            .with_state(state)
    }
}

type Shared = State<Arc<Dashboard>>;

/// The cookie a browser keeps the token in after its first `?token=` visit.
const TOKEN_COOKIE: &str = "archer_token";

/// Every response gets strict headers; with a token, a request without it gets 401.
async fn guard(State(app): Shared, request: Request, next: Next) -> Response {
    let mut set_cookie = false;
    if let Some(token) = &app.token {
        let from_query = request.uri().query().and_then(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == "token")
                .map(|(_, v)| v.to_string())
        });
        let headers = request.headers();
        let from_header = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(String::from);
        let from_cookie = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == TOKEN_COOKIE)
            .map(|(_, v)| v.to_string());
        let ok = [&from_header, &from_cookie, &from_query]
            .iter()
            .any(|t| t.as_deref().is_some_and(|t| same(t, token)));
        if !ok {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "this dashboard needs its token: open the URL `archer ui` printed (it carries ?token=), or send Authorization: Bearer TOKEN\n",
            )
                .into_response();
        }
        set_cookie = from_query.as_deref().is_some_and(|t| same(t, token));
    }
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if set_cookie {
        if let Some(token) = &app.token {
            if let Ok(v) = HeaderValue::from_str(&format!(
                "{TOKEN_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"
            )) {
                h.insert(header::SET_COOKIE, v);
            }
        }
    }
    response
}

/// Compares in time independent of where the strings differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn not_found(what: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Html(pages::not_found(what).into_string()),
    )
        .into_response()
}

fn failed(e: impl std::fmt::Display) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!("the study could not be read: {e}\n"),
    )
        .into_response()
}

/// Runs `work` on a blocking thread (store reads, rendering).
async fn blocking(work: impl FnOnce() -> Response + Send + 'static) -> Response {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| failed(format!("internal error: {e}")))
}

async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        pages::STYLE,
    )
        .into_response()
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        pages::SCRIPT,
    )
        .into_response()
}

fn summaries(app: &Dashboard) -> Vec<Result<Summary, (String, String)>> {
    app.relist();
    let entries: Vec<(String, Entry)> = {
        let catalog = app.read();
        catalog
            .order
            .iter()
            .map(|k| (k.clone(), catalog.studies[k].clone()))
            .collect()
    };
    entries
        .iter()
        .map(|(key, entry)| match entry {
            Ok(study) => study
                .snapshot()
                .map(|snap| summarise(study, &snap))
                .map_err(|e| (key.clone(), e.to_string())),
            Err(e) => Err((key.clone(), e.clone())),
        })
        .collect()
}

async fn studies_page(State(app): Shared) -> Response {
    blocking(move || Html(pages::studies(&summaries(&app)).into_string()).into_response()).await
}

async fn studies_api(State(app): Shared) -> Response {
    blocking(move || {
        let list: Vec<serde_json::Value> = summaries(&app)
            .into_iter()
            .map(|s| match s {
                Ok(s) => serde_json::to_value(s).unwrap_or_default(),
                Err((key, error)) => serde_json::json!({ "key": key, "error": error }),
            })
            .collect();
        Json(list).into_response()
    })
    .await
}

/// Runs `page` with the study's current snapshot, or answers 404 / 503.
async fn with_study(
    app: Arc<Dashboard>,
    key: String,
    page: impl FnOnce(&LiveStudy, &crate::snapshot::Snapshot) -> Response + Send + 'static,
) -> Response {
    let Some(study) = app.study(&key) else {
        return not_found("no such study");
    };
    blocking(move || match study.snapshot() {
        Ok(snap) => page(&study, &snap),
        Err(e) => failed(e),
    })
    .await
}

async fn study_page(State(app): Shared, Path(key): Path<String>) -> Response {
    with_study(app, key, |study, snap| {
        let summary = summarise(study, snap);
        Html(pages::study(study, snap, &summary).into_string()).into_response()
    })
    .await
}

async fn study_charts(State(app): Shared, Path(key): Path<String>) -> Response {
    with_study(app, key, |study, snap| {
        Html(pages::study_charts(study, snap).into_string()).into_response()
    })
    .await
}

async fn summary_api(State(app): Shared, Path(key): Path<String>) -> Response {
    with_study(app, key, |study, snap| {
        Json(summarise(study, snap)).into_response()
    })
    .await
}

/// A trial number from the path: digits only, and a trial the study has.
fn trial_number(text: &str, len: usize) -> Option<usize> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) || text.len() > 12 {
        return None;
    }
    text.parse::<usize>().ok().filter(|&n| n < len)
}

async fn trial_page(State(app): Shared, Path((key, n)): Path<(String, String)>) -> Response {
    with_study(app, key, move |study, snap| {
        match trial_number(&n, snap.rows.len()) {
            Some(i) => Html(pages::trial(study, snap, &snap.rows[i]).into_string()).into_response(),
            None => not_found("no such trial"),
        }
    })
    .await
}

fn download(name: String, value: &serde_json::Value) -> Response {
    let text = serde_json::to_string_pretty(value).unwrap_or_default() + "\n";
    let disposition = format!("attachment; filename=\"{name}\"");
    (
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        text,
    )
        .into_response()
}

async fn arch_json(State(app): Shared, Path((key, n)): Path<(String, String)>) -> Response {
    with_study(app, key, move |study, snap| {
        let Some(i) = trial_number(&n, snap.rows.len()) else {
            return not_found("no such trial");
        };
        let row = &snap.rows[i];
        let value = serde_json::json!({
            "study": snap.record.name,
            "trial": row.trial.id,
            "space": snap.record.space,
            "space_version": snap.record.space_version,
            "arch_str": row.arch,
            "arch_labelled": study.space.labelled(&row.trial.arch),
            "arch": row.trial.arch,
            "arch_hash": row.trial.arch_hash,
            "metrics": row.trial.metrics,
        });
        download(format!("trial-{i}-arch.json"), &value)
    })
    .await
}

async fn retrain_json(State(app): Shared, Path((key, n)): Path<(String, String)>) -> Response {
    with_study(app, key, move |study, snap| {
        let Some(i) = trial_number(&n, snap.rows.len()) else {
            return not_found("no such trial");
        };
        let value = serde_json::json!({
            "space": study.config.space,
            "evaluator": study.config.evaluator,
            "arch": snap.rows[i].arch,
        });
        download(format!("trial-{i}-retrain.json"), &value)
    })
    .await
}

#[derive(Deserialize)]
struct TrialQuery {
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
    sort: Option<String>,
    #[serde(default)]
    desc: bool,
    state: Option<String>,
    q: Option<String>,
}

/// Trials a table page holds at most.
const MAX_LIMIT: usize = 500;

async fn trials_api(
    State(app): Shared,
    Path(key): Path<String>,
    query: Result<Query<TrialQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return (
            StatusCode::BAD_REQUEST,
            "bad query: offset, limit, sort, desc, state, q\n",
        )
            .into_response();
    };
    with_study(app, key, move |_study, snap| {
        let sort = q.sort.clone().unwrap_or_else(|| "number".into());
        let order = snap.order(&sort);
        let needle = q.q.as_deref().unwrap_or("").to_lowercase();
        let state = q.state.as_deref().unwrap_or("");
        let keep = |i: u32| {
            let r = &snap.rows[i as usize];
            (state.is_empty() || r.trial.state.as_str() == state)
                && (needle.is_empty() || r.arch.to_lowercase().contains(&needle))
        };
        let limit = q.limit.unwrap_or(pages::PAGE_ROWS).min(MAX_LIMIT);
        let ordered: Box<dyn Iterator<Item = u32>> = if q.desc {
            Box::new(order.iter().rev().copied())
        } else {
            Box::new(order.iter().copied())
        };
        let (total, page): (usize, Vec<u32>) = if state.is_empty() && needle.is_empty() {
            (
                snap.rows.len(),
                ordered.skip(q.offset).take(limit).collect(),
            )
        } else {
            let matching: Vec<u32> = ordered.filter(|&i| keep(i)).collect();
            let page = matching
                .iter()
                .skip(q.offset)
                .take(limit)
                .copied()
                .collect();
            (matching.len(), page)
        };
        let columns = pages::metric_columns(snap);
        let rows: Vec<serde_json::Value> = page
            .iter()
            .map(|&i| {
                let r = &snap.rows[i as usize];
                let t = &r.trial;
                // NaN is no JSON number: shown as missing, as it sorts.
                let metrics: Vec<Option<f64>> = columns
                    .iter()
                    .map(|m| t.metrics.get(m).filter(|v| !v.is_nan()))
                    .collect();
                serde_json::json!({
                    "number": t.id,
                    "state": t.state.as_str(),
                    "arch": r.arch,
                    "fidelity": t.fidelity,
                    "fidelity_text": pages::fidelity(r),
                    "metrics": metrics,
                    "cost": t.cost_seconds,
                    "worker": t.worker,
                })
            })
            .collect();
        Json(serde_json::json!({
            "seq": snap.seq,
            "total": total,
            "offset": q.offset,
            "limit": limit,
            "sort": sort,
            "desc": q.desc,
            "metrics": columns,
            "rows": rows,
        }))
        .into_response()
    })
    .await
}

/// Where and how `archer ui` listens.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub bind: IpAddr,
    /// 0 picks a free port.
    pub port: u16,
    /// `None`: no token (loopback only). `Some("auto")`: a random one, printed.
    pub token: Option<String>,
}

/// The token a server will require: refuses a non-loopback bind without one, and a token
/// too short to guess.
pub fn resolve_token(options: &ServeOptions) -> Result<Option<String>, UiError> {
    match options.token.as_deref() {
        None if options.bind.is_loopback() => Ok(None),
        None => Err(UiError::TokenRequired {
            addr: options.bind.to_string(),
        }),
        Some("auto") => random_token().map(Some),
        Some(t)
            if t.len() >= 16
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Ok(Some(t.to_string()))
        }
        Some(_) => Err(UiError::WeakToken),
    }
}

fn random_token() -> Result<String, UiError> {
    use std::io::Read;
    let path = std::path::Path::new("/dev/urandom");
    let mut bytes = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| UiError::Io {
            path: path.to_path_buf(),
            reason: format!("{e}; pass --token SECRET instead of auto"),
        })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Serves `dashboard` until the process is stopped, calling `ready` with the URL to open
/// (the token included) once it listens.
pub fn serve(
    dashboard: Dashboard,
    options: &ServeOptions,
    ready: impl FnOnce(&str),
) -> Result<(), UiError> {
    let token = dashboard.token.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| UiError::Serve(e.to_string()))?;
    runtime.block_on(async move {
        let addr = SocketAddr::new(options.bind, options.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| UiError::Bind {
                addr: addr.to_string(),
                reason: e.to_string(),
            })?;
        let local = listener.local_addr().map_err(|e| UiError::Bind {
            addr: addr.to_string(),
            reason: e.to_string(),
        })?;
        let mut url = format!("http://{local}/");
        if let Some(t) = &token {
            url.push_str(&format!("?token={t}"));
        }
        ready(&url);
        axum::serve(listener, dashboard.router())
            .await
            .map_err(|e| UiError::Serve(e.to_string()))
    })
}
