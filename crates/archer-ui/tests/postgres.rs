//! The dashboard over a study in PostgreSQL (the local server the store's tests use:
//! `ARCHER_TEST_POSTGRES`, default postgres://postgres@127.0.0.1:5432/archer_test). Fails,
//! never skips, without it.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use archer_runner::{launch, ExperimentConfig, ExperimentDir, Overrides};
use archer_ui::Dashboard;

fn url() -> String {
    std::env::var("ARCHER_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/archer_test".into())
}

#[test]
fn a_postgres_study_is_served_from_its_folder_and_listed_from_its_url() {
    let url = url();
    let name = format!(
        "ui-pg-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros()
    );
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let mut config =
        ExperimentConfig::from_file(&common::repo_root().join("examples/nb201-ehvi-pixel3.toml"))
            .unwrap();
    config.study.name = name.clone();
    config.apply(&Overrides {
        output: Some(out.clone()),
        trials: Some(30),
        ..Overrides::default()
    });
    let experiment = config.validate().unwrap();
    let folder = ExperimentDir::create(&out).unwrap();
    let (mut study, mut recorder) = launch::start(experiment, &folder, Some(&url))
        .unwrap_or_else(|e| panic!("PostgreSQL at {url} is required: {e}"));
    study.run(&mut recorder, &mut |_| {}).unwrap();
    drop(folder);

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
        let response = router
            .clone()
            .oneshot(
                Request::builder()
                    .uri("/api/studies")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let studies: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(studies[0]["study"], name.as_str());
        assert_eq!(studies[0]["trials"], 30);
        assert!(studies[0]["storage"]
            .as_str()
            .unwrap()
            .starts_with("postgres://"));
        let page = router
            .clone()
            .oneshot(
                Request::builder()
                    .uri("/s/run")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
    });
    // The synchronous PostgreSQL client owns a runtime of its own: it is dropped here, off
    // the async threads (the server never drops it).
    drop(router);
}
