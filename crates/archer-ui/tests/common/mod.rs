//! Studies the dashboard tests look at, made with the real runner and store.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use archer_core::{Metrics, Trial, TrialState};
use archer_runner::{launch, ExperimentConfig, ExperimentDir, Overrides};
use archer_store::{NewStudy, SqliteStore, Store};
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs the example experiment `example` (a file under `examples/`) into `dir/name`, to the
/// end, as `archer search` would; returns the experiment folder.
pub fn run_example(dir: &Path, name: &str, example: &str, seed: u64) -> PathBuf {
    let out = dir.join(name);
    let mut config = ExperimentConfig::from_file(&repo_root().join("examples").join(example))
        .expect("the example loads");
    config.apply(&Overrides {
        output: Some(out.clone()),
        seed: Some(seed),
        ..Overrides::default()
    });
    let experiment = config.validate().expect("the example is valid");
    let folder = ExperimentDir::create(&out).expect("a new folder");
    let (mut study, mut recorder) = launch::start(experiment, &folder, None).expect("starts");
    study.run(&mut recorder, &mut |_| {}).expect("runs");
    out
}

/// The metric name and option labels the escaping tests plant in a study.
pub const EVIL_METRIC: &str = "<script>alert(1)</script>";
pub const EVIL_OPTION: &str = "<img src=x onerror=alert(2)>";

/// A study whose metric names and architecture strings carry HTML, as a user's own space
/// file and training script could make them: an experiment folder with a SQLite store, its
/// trials written through the `Store` trait. Left unfinished (no stop reason), like a
/// study that is still running.
pub fn html_study(dir: &Path) -> (PathBuf, Box<dyn Store>, i64) {
    let folder = dir.join("evil");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("space.toml"),
        format!(
            "name = \"evil-space\"\nversion = 1\ndescription = \"<b>not bold</b>\"\n\n\
             [[choice]]\nname = \"op\"\noptions = [\"<b>bold</b>\", {EVIL_OPTION:?}]\n\n\
             [[choice]]\nname = \"width\"\noptions = [\"8\", \"16\"]\n"
        ),
    )
    .unwrap();
    std::fs::write(
        folder.join("experiment.toml"),
        format!(
            "[study]\nname = \"evil\"\nseed = 0\n\n[space]\nfile = \"space.toml\"\n\n\
             [strategy]\nname = \"random\"\n\n[evaluator]\nkind = \"command\"\ncommand = [\"true\"]\n\n\
             [objective]\nmetric = {EVIL_METRIC:?}\n\n[budget]\ntrials = 100\n"
        ),
    )
    .unwrap();
    let config = ExperimentConfig::from_file(&folder.join("experiment.toml")).expect("loads");
    let experiment = config.clone().validate().expect("valid");
    let space = experiment.space.clone();
    let mut store = SqliteStore::open(&folder.join("study.db")).unwrap();
    let record = store
        .create_study(&NewStudy {
            name: "evil".into(),
            config_toml: config.to_toml(),
            seed: 0,
            space: space.name().to_string(),
            space_version: space.version(),
            objectives: experiment.objectives.clone(),
            constraints: Vec::new(),
            strategy_state: serde_json::json!({}),
        })
        .unwrap();
    std::fs::write(
        folder.join("run.json"),
        r#"{"storage": "study.db", "study": "evil"}"#,
    )
    .unwrap();
    let mut store: Box<dyn Store> = Box::new(store);
    for i in 0..4u64 {
        add_complete(store.as_mut(), record.id, &*space, i, 0.5 + i as f64 / 10.0);
    }
    (folder, store, record.id)
}

/// Adds trial `id` (architecture `id % 4`), COMPLETE with `value` as the evil metric.
pub fn add_complete(
    store: &mut dyn Store,
    study: i64,
    space: &dyn archer_space::SearchSpace,
    id: u64,
    value: f64,
) {
    let genes = vec![(id % 2) as u16, ((id / 2) % 2) as u16];
    let arch = archer_space::Arch::new(space.name(), space.version(), genes);
    let hash = space.canonical_hash(&arch);
    let mut t = Trial::new(id, arch, hash, Default::default());
    store.add_trial(study, &t, &serde_json::json!({})).unwrap();
    t.state = TrialState::Complete;
    t.metrics = Metrics::new()
        .with(EVIL_METRIC, value)
        .with("valid_acc", value);
    t.score = Some(value);
    t.scores = vec![value];
    store.update_trial(study, &t, None).unwrap();
}

/// One request through the router (no network): status, body and headers.
pub async fn get(
    router: &axum::Router,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, String, HeaderMap) {
    let mut request = Request::builder().uri(uri);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned(), headers)
}
