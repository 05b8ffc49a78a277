//! The dashboard over a study in PostgreSQL (the local server the store's tests use:
//! `ARCHER_TEST_POSTGRES`, default postgres://postgres@127.0.0.1:5432/archer_test). Fails,
//! never skips, without it.

mod common;

use axum::http::StatusCode;

use archer_runner::{launch, ExperimentConfig, ExperimentDir, Overrides};
use archer_ui::Dashboard;

fn url() -> String {
    std::env::var("ARCHER_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/archer_test".into())
}

/// Runs 30 trials of the multi-objective NB201 example as study `name` in PostgreSQL, its
/// experiment folder at `out`.
fn pg_study(url: &str, name: &str, out: &std::path::Path) {
    let mut config =
        ExperimentConfig::from_file(&common::repo_root().join("examples/nb201-ehvi-pixel3.toml"))
            .unwrap();
    config.study.name = name.to_string();
    config.apply(&Overrides {
        output: Some(out.to_path_buf()),
        trials: Some(30),
        ..Overrides::default()
    });
    let experiment = config.validate().unwrap();
    let folder = ExperimentDir::create(out).unwrap();
    let (mut study, mut recorder) = launch::start(experiment, &folder, Some(url))
        .unwrap_or_else(|e| panic!("PostgreSQL at {url} is required: {e}"));
    study.run(&mut recorder, &mut |_| {}).unwrap();
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros()
    )
}

async fn get(router: &axum::Router, uri: &str) -> (StatusCode, String) {
    let (status, body, _) = common::get(router, uri, &[]).await;
    (status, body)
}

#[test]
fn a_postgres_study_is_served_from_its_folder_and_listed_from_its_url() {
    let url = url();
    let name = unique("ui-pg");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    pg_study(&url, &name, &out);

    let listed = archer_ui::catalog::discover(std::slice::from_ref(&url)).unwrap();
    assert!(
        listed.iter().any(|s| s.study == name),
        "the URL lists every study"
    );

    let router = Dashboard::open(&[out.to_string_lossy().into_owned()], None)
        .unwrap()
        .router();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (status, body) = get(&router, "/api/studies").await;
        assert_eq!(status, StatusCode::OK);
        let studies: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(studies[0]["study"], name.as_str());
        assert_eq!(studies[0]["trials"], 30);
        assert!(studies[0]["storage"]
            .as_str()
            .unwrap()
            .starts_with("postgres://"));
        assert_eq!(get(&router, "/s/run").await.0, StatusCode::OK);
    });
    // The synchronous PostgreSQL client owns a runtime of its own: it is dropped here, off
    // the async threads (the server never drops it).
    drop(router);
}

#[test]
fn a_study_created_after_the_start_appears_on_the_studies_page() {
    let url = url();
    let tmp = tempfile::tempdir().unwrap();
    let first = unique("ui-pg-first");
    pg_study(&url, &first, &tmp.path().join("first"));
    let router = Dashboard::open(std::slice::from_ref(&url), None)
        .unwrap()
        .router();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let second = unique("ui-pg-later");
    let names = |body: &str| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["study"].as_str().map(String::from))
            .collect()
    };
    runtime.block_on(async {
        let (_, body) = get(&router, "/api/studies").await;
        assert!(names(&body).contains(&first));
        assert!(!names(&body).contains(&second));
    });
    pg_study(&url, &second, &tmp.path().join("second"));
    std::thread::sleep(archer_ui::RELIST_EVERY + std::time::Duration::from_millis(100));
    runtime.block_on(async {
        let (_, body) = get(&router, "/api/studies").await;
        assert!(names(&body).contains(&second), "the new study is listed");
        let key = archer_ui::catalog::slug(&second);
        assert_eq!(get(&router, &format!("/s/{key}")).await.0, StatusCode::OK);
    });
    drop(router);
}
