//! The dashboard's security contract: study strings are shown as text, path parameters
//! cannot climb out of the catalog, a non-loopback bind needs a token, and a request
//! without it gets 401. Requests go through the real router (no network needed).

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use tower::ServiceExt;

use archer_ui::{resolve_token, Dashboard, ServeOptions, UiError};
use common::{get, html_study, EVIL_METRIC, EVIL_OPTION};

fn dashboard(dir: &std::path::Path, token: Option<&str>) -> axum::Router {
    Dashboard::open(
        &[dir.to_string_lossy().into_owned()],
        token.map(String::from),
    )
    .expect("the study opens")
    .router()
}

#[tokio::test]
async fn html_in_metric_names_and_architectures_is_shown_as_text() {
    let tmp = tempfile::tempdir().unwrap();
    let (folder, _store, _) = html_study(tmp.path());
    let router = dashboard(&folder, None);
    for uri in ["/", "/s/evil", "/s/evil/t/1", "/s/evil/charts"] {
        let (status, body, headers) = get(&router, uri, &[]).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{uri}: CSP {csp}");
        for raw in [EVIL_METRIC, EVIL_OPTION, "<b>bold</b>"] {
            assert!(!body.contains(raw), "{uri} shows {raw:?} as HTML");
        }
    }
    let (_, study, _) = get(&router, "/s/evil", &[]).await;
    assert!(
        study.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the metric is shown, escaped"
    );
    let (_, trial, _) = get(&router, "/s/evil/t/1", &[]).await;
    assert!(
        trial.contains("&lt;img src=x onerror=alert(2)&gt;"),
        "the choice is shown, escaped"
    );
    // JSON carries the strings as data, for the page to put in as text.
    let (status, api, headers) = get(&router, "/api/s/evil/trials", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    let v: serde_json::Value = serde_json::from_str(&api).unwrap();
    assert_eq!(v["metrics"][0], EVIL_METRIC);
}

#[tokio::test]
async fn path_parameters_cannot_leave_the_catalog() {
    let tmp = tempfile::tempdir().unwrap();
    let (folder, _store, _) = html_study(tmp.path());
    let router = dashboard(&folder, None);
    for uri in [
        "/s/..%2F..%2Fetc%2Fpasswd",
        "/s/../../etc/passwd",
        "/s/..",
        "/s/%2e%2e",
        "/s/evil/t/..%2F..%2Fstudy.db",
        "/s/evil/t/-1",
        "/s/evil/t/4",
        "/s/evil/t/1e3",
        "/s/evil/t/99999999999999999999",
        "/api/s/..%2Fevil/trials",
        "/static/../Cargo.toml",
        "/static/..%2F..%2FCargo.toml",
        "/s/nobody",
    ] {
        let (status, body, _) = get(&router, uri, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}: {body}");
    }
    assert_eq!(get(&router, "/s/evil/t/3", &[]).await.0, StatusCode::OK);
}

/// The study's files, byte for byte (the database and its write-ahead log).
fn files(folder: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(folder)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("study.db"))
        .filter(|e| !e.file_name().to_string_lossy().ends_with("-shm"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn nothing_changes_a_study() {
    let tmp = tempfile::tempdir().unwrap();
    let (folder, _store, _) = html_study(tmp.path());
    let before = files(&folder);
    let router = dashboard(&folder, None);
    for uri in [
        "/",
        "/s/evil",
        "/s/evil/charts",
        "/api/s/evil/trials?sort=m:valid_acc",
        "/s/evil/t/2",
        "/s/evil/t/2/arch.json",
        "/s/evil/t/2/retrain.json",
        "/api/s/evil/summary",
    ] {
        assert_eq!(get(&router, uri, &[]).await.0, StatusCode::OK, "{uri}");
    }
    assert!(
        before == files(&folder),
        "reading the study changed its files"
    );
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        for uri in ["/", "/s/evil", "/api/s/evil/trials", "/s/evil/t/0"] {
            let response = router
                .clone()
                .oneshot(
                    Request::builder()
                        .method(method)
                        .uri(uri)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            assert!(
                matches!(
                    response.status(),
                    StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_FOUND
                ),
                "{method} {uri}: {}",
                response.status()
            );
        }
    }
}

#[test]
fn a_non_loopback_bind_without_a_token_is_refused_at_start() {
    let options = |bind: &str, token: Option<&str>| ServeOptions {
        bind: bind.parse().unwrap(),
        port: 0,
        token: token.map(String::from),
    };
    assert!(matches!(
        resolve_token(&options("0.0.0.0", None)),
        Err(UiError::TokenRequired { .. })
    ));
    assert!(matches!(
        resolve_token(&options("192.168.1.20", None)),
        Err(UiError::TokenRequired { .. })
    ));
    assert!(matches!(
        resolve_token(&options("127.0.0.1", None)),
        Ok(None)
    ));
    assert!(matches!(resolve_token(&options("::1", None)), Ok(None)));
    assert!(matches!(
        resolve_token(&options("0.0.0.0", Some("short"))),
        Err(UiError::WeakToken)
    ));
    let auto = resolve_token(&options("0.0.0.0", Some("auto")))
        .unwrap()
        .unwrap();
    assert_eq!(auto.len(), 32);
    assert_ne!(
        auto,
        resolve_token(&options("0.0.0.0", Some("auto")))
            .unwrap()
            .unwrap()
    );
}

#[tokio::test]
async fn a_request_without_the_token_gets_401() {
    let tmp = tempfile::tempdir().unwrap();
    let (folder, _store, _) = html_study(tmp.path());
    let token = "0123456789abcdef0123";
    let router = dashboard(&folder, Some(token));
    for uri in [
        "/",
        "/s/evil",
        "/api/s/evil/trials",
        "/static/app.js",
        "/s/nobody",
    ] {
        assert_eq!(
            get(&router, uri, &[]).await.0,
            StatusCode::UNAUTHORIZED,
            "{uri}"
        );
        assert_eq!(
            get(
                &router,
                uri,
                &[("authorization", "Bearer wrong-token-0123456")]
            )
            .await
            .0,
            StatusCode::UNAUTHORIZED,
            "{uri}"
        );
    }
    let bearer = format!("Bearer {token}");
    assert_eq!(
        get(&router, "/s/evil", &[("authorization", &bearer)])
            .await
            .0,
        StatusCode::OK
    );
    // The printed URL carries the token once; the browser keeps it in a cookie after.
    let (status, _, headers) = get(&router, &format!("/?token={token}"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    let cookie = headers[header::SET_COOKIE].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let pair = cookie.split(';').next().unwrap();
    assert_eq!(
        get(&router, "/api/s/evil/trials", &[("cookie", pair)])
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        get(&router, "/", &[("cookie", "archer_token=nope")])
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
}
