//! The trial-table API pages, sorts and filters the whole study, and follows the store's
//! changes: a trial added after the dashboard opened appears without a restart.

mod common;

use axum::http::StatusCode;
use serde_json::Value;

use archer_ui::Dashboard;
use common::{add_complete, html_study};

async fn json(router: &axum::Router, uri: &str) -> (StatusCode, Value) {
    let (status, body, _) = common::get(router, uri, &[]).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn numbers(page: &Value) -> Vec<u64> {
    page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["number"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn pages_sorts_filters_and_follows_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let (folder, mut store, study) = html_study(tmp.path());
    let dashboard = Dashboard::open(&[folder.to_string_lossy().into_owned()], None).unwrap();
    let space = dashboard.study("evil").unwrap().space.clone();
    // Values 0.5, 0.6, 0.7, 0.8 for trials 0..4, then 0.55 for trial 4 (added below).
    let router = dashboard.router();

    let (status, page) = json(&router, "/api/s/evil/trials?sort=number&limit=2&offset=1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (page["total"].as_u64(), numbers(&page)),
        (Some(4), vec![1, 2])
    );

    let (_, page) = json(&router, "/api/s/evil/trials?sort=m:valid_acc&desc=true").await;
    assert_eq!(numbers(&page), vec![3, 2, 1, 0]);
    let (_, page) = json(
        &router,
        "/api/s/evil/trials?sort=m:valid_acc&desc=false&limit=1",
    )
    .await;
    assert_eq!(numbers(&page), vec![0]);

    // Architecture text filter: trials 1 and 3 chose the second option (odd numbers).
    let (_, page) = json(&router, "/api/s/evil/trials?q=onerror&sort=number").await;
    assert_eq!(
        (page["total"].as_u64(), numbers(&page)),
        (Some(2), vec![1, 3])
    );
    let (_, page) = json(&router, "/api/s/evil/trials?state=RUNNING").await;
    assert_eq!(page["total"], 0);

    // A new trial, written by whoever runs the study, shows up once the snapshot is stale.
    add_complete(store.as_mut(), study, space.as_ref(), 4, 0.55);
    std::thread::sleep(archer_ui::snapshot::FRESH_FOR + std::time::Duration::from_millis(50));
    let (_, page) = json(&router, "/api/s/evil/trials?sort=m:valid_acc&desc=true").await;
    assert_eq!(numbers(&page), vec![3, 2, 1, 4, 0]);
    let (_, summary) = json(&router, "/api/s/evil/summary").await;
    assert_eq!(
        (summary["trials"].as_u64(), summary["complete"].as_u64()),
        (Some(5), Some(5))
    );
    assert_eq!(summary["best_trial"], 3);

    // Bad queries are refused, not guessed at.
    let (status, _) = json(&router, "/api/s/evil/trials?offset=-3").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, page) = json(&router, "/api/s/evil/trials?limit=100000").await;
    assert_eq!(page["limit"], 500);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_experiment_folder_made_after_the_start_appears_on_the_studies_page() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    std::fs::create_dir_all(&runs).unwrap();
    let (_folder, _store, _) = html_study(&runs);
    let router = Dashboard::open(&[runs.to_string_lossy().into_owned()], None)
        .unwrap()
        .router();
    let keys = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s["key"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, studies) = json(&router, "/api/studies").await;
    assert_eq!(keys(&studies), ["evil"]);
    let runs2 = runs.clone();
    tokio::task::spawn_blocking(move || common::run_example(&runs2, "rea", "nb201-rea.toml", 0))
        .await
        .unwrap();
    tokio::time::sleep(archer_ui::RELIST_EVERY + std::time::Duration::from_millis(100)).await;
    let (_, studies) = json(&router, "/api/studies").await;
    assert_eq!(keys(&studies), ["evil", "rea"]);
    // Seen once, listed once.
    tokio::time::sleep(archer_ui::RELIST_EVERY + std::time::Duration::from_millis(100)).await;
    let (_, studies) = json(&router, "/api/studies").await;
    assert_eq!(keys(&studies), ["evil", "rea"]);
    assert_eq!(studies[1]["trials"], 95);
}
