//! The dashboard in a real browser: headless Chromium, driven through ChromeDriver, over
//! studies made here by `archer search` and served by `archer ui`. Needs Debian's chromium
//! and chromium-driver (`scripts/setup-browser.sh`); fails, never skips, without them.
//!
//! Screenshots go to `$CARGO_TARGET_TMPDIR/browser/`; with `ARCHER_UPDATE_SCREENSHOTS=1`
//! they also replace the README's, in `docs/screenshots/`.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use common::{archer, repo};

/// Kills a child process when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tool(name: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin"] {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("{name} is not installed: run scripts/setup-browser.sh (Debian's chromium and chromium-driver)");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn search(example: &Path, out: &Path) {
    let o = archer(
        &[
            "search",
            example.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--quiet",
        ],
        &repo(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn status(dir: &Path) -> Value {
    let o = archer(&["status", dir.to_str().unwrap(), "--json"], &repo());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A study that is still running while the browser watches: a declared space searched by a
/// training script that takes half a second per trial.
fn start_live_study(tmp: &Path, out: &Path) -> Killed {
    use std::os::unix::fs::PermissionsExt;
    let dir = tmp.join("live-src");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("space.toml"),
        "name = \"live\"\nversion = 1\n[[choice]]\nname = \"op\"\noptions = [\"conv3\", \"conv5\", \"pool\"]\n[[int]]\nname = \"width\"\nlow = 1\nhigh = 64\n",
    )
    .unwrap();
    let script = dir.join("train.sh");
    std::fs::write(
        &script,
        "#!/usr/bin/env bash\nsleep 0.5\necho \"{\\\"final\\\": {\\\"valid_acc\\\": $((RANDOM % 100))}}\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cfg = dir.join("live.toml");
    std::fs::write(
        &cfg,
        "[study]\nname = \"live\"\nseed = 1\n\n[space]\nfile = \"space.toml\"\n\n[strategy]\nname = \"random\"\n\n[evaluator]\nkind = \"command\"\ncommand = [\"./train.sh\"]\n\n[objective]\nmetric = \"valid_acc\"\n\n[budget]\ntrials = 200\n",
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_archer"))
        .args([
            "search",
            cfg.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--quiet",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while common::count_rows(out, "SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'") < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the live study never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Killed(child)
}

/// `archer ui DIR` on a free port; returns the process and the URL it printed.
fn start_ui(dir: &Path) -> (Killed, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_archer"))
        .args(["ui", dir.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("archer ui printed no URL: {line:?}"))
        .trim_end_matches('/')
        .to_string();
    (Killed(child), url)
}

fn start_chromedriver() -> (Killed, String) {
    let port = free_port();
    let child = Command::new(tool("chromedriver"))
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "chromedriver did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (Killed(child), format!("http://127.0.0.1:{port}"))
}

/// Polls `script` (a JS expression) until it is truthy; panics after `seconds`.
async fn wait_for(c: &Client, script: &str, seconds: u64, what: &str) -> Value {
    let started = Instant::now();
    loop {
        let v = c
            .execute(&format!("return ({script});"), vec![])
            .await
            .unwrap();
        if !(v.is_null() || v == json!(false) || v == json!(0) || v == json!("")) {
            return v;
        }
        assert!(
            started.elapsed() < Duration::from_secs(seconds),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

async fn js(c: &Client, script: &str) -> Value {
    c.execute(&format!("return ({script});"), vec![])
        .await
        .unwrap()
}

async fn screenshot(c: &Client, dir: &Path, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(name), &png).unwrap();
    if std::env::var_os("ARCHER_UPDATE_SCREENSHOTS").is_some() {
        let docs = repo().join("docs/screenshots");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::write(docs.join(name), &png).unwrap();
    }
}

/// Waits until the live table has loaded the view `view` (`sort:dir:state:q:offset`).
async fn table_shows(c: &Client, view: &str) {
    wait_for(
        c,
        &format!("document.getElementById('trial-table').dataset.view === {view:?}"),
        20,
        view,
    )
    .await;
}

#[test]
fn the_dashboard_in_a_real_browser() {
    let chromium = tool("chromium");
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let rea = runs.join("nb201-rea");
    let ehvi = runs.join("nb201-ehvi");
    search(&repo().join("examples/nb201-rea.toml"), &rea);
    search(&repo().join("examples/nb201-ehvi-pixel3.toml"), &ehvi);
    let rea_status = status(&rea);
    let ehvi_status = status(&ehvi);
    let _live = start_live_study(tmp.path(), &runs.join("live"));
    let (_ui, url) = start_ui(&runs);
    let (_driver, driver_url) = start_chromedriver();
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&shots).unwrap();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1100"],
            }),
        );
        let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&driver_url)
            .await
            .expect("chromedriver starts a Chromium session");

        // Studies page: every study, its counts as `archer status` gives them.
        c.goto(&format!("{url}/")).await.unwrap();
        let keys = js(&c, "Array.from(document.querySelectorAll('#studies tbody tr')).map(r => r.dataset.key)").await;
        assert_eq!(keys, json!(["live", "nb201-ehvi", "nb201-rea"]));
        let rea_row = js(&c, "Array.from(document.querySelector('#studies tr[data-key=\"nb201-rea\"]').cells).map(td => td.textContent.trim())").await;
        assert_eq!(rea_row[2], json!(rea_status["trials"].to_string()));
        assert_eq!(rea_row[3], json!(rea_status["complete"].to_string()));
        screenshot(&c, &shots, "studies.png").await;

        // Study page: the table's rows are the study's trials.
        c.goto(&format!("{url}/s/nb201-rea")).await.unwrap();
        table_shows(&c, "number:desc:::0").await;
        screenshot(&c, &shots, "study.png").await;
        let total = js(&c, "Number(document.getElementById('trial-table').dataset.total)").await;
        assert_eq!(total, rea_status["trials"]);
        let rows = js(&c, "document.querySelectorAll('#trial-table tbody tr').length").await;
        assert_eq!(rows.as_u64().unwrap(), rea_status["trials"].as_u64().unwrap().min(50));
        c.execute("const s = document.getElementById('state-filter'); s.value = 'COMPLETE'; s.dispatchEvent(new Event('change'));", vec![]).await.unwrap();
        table_shows(&c, "number:desc:COMPLETE::0").await;
        let complete = js(&c, "Number(document.getElementById('trial-table').dataset.total)").await;
        assert_eq!(complete, rea_status["complete"]);
        c.execute("const s = document.getElementById('state-filter'); s.value = ''; s.dispatchEvent(new Event('change'));", vec![]).await.unwrap();
        table_shows(&c, "number:desc:::0").await;

        // Sorting by a metric, both ways: the best trial comes first when descending.
        let column = "(() => { const ths = Array.from(document.querySelectorAll('#trial-table th')); const i = ths.findIndex(th => th.dataset.sort === 'm:valid_acc'); return Array.from(document.querySelectorAll('#trial-table tbody tr')).map(r => Number(r.cells[i].textContent)); })()";
        let header = c.find(Locator::Css("#trial-table th[data-sort='m:valid_acc']")).await.unwrap();
        header.click().await.unwrap();
        table_shows(&c, "m:valid_acc:asc:::0").await;
        let up: Vec<f64> = serde_json::from_value(js(&c, column).await).unwrap();
        assert!(up.windows(2).all(|w| w[0] <= w[1]), "ascending: {up:?}");
        header.click().await.unwrap();
        table_shows(&c, "m:valid_acc:desc:::0").await;
        let down: Vec<f64> = serde_json::from_value(js(&c, column).await).unwrap();
        assert!(down.windows(2).all(|w| w[0] >= w[1]), "descending: {down:?}");
        let best = &rea_status["best"];
        assert_eq!(down[0], best["metrics"]["valid_acc"].as_f64().unwrap());
        c.execute("document.getElementById('trials').scrollIntoView();", vec![]).await.unwrap();
        screenshot(&c, &shots, "study-table.png").await;

        // The best trial's page: its NB201 cell with six labelled edges, as chosen.
        c.goto(&format!("{url}/s/nb201-rea/t/{}", best["trial"])).await.unwrap();
        let edges = js(&c, "Array.from(document.querySelectorAll('#arch-drawing svg path.edge')).map(p => [p.dataset.from + '-' + p.dataset.to, p.dataset.op])").await;
        let labels = js(&c, "Array.from(document.querySelectorAll('#arch-drawing svg text.edge-label')).map(t => t.textContent)").await;
        assert_eq!(labels.as_array().unwrap().len(), 6, "{labels}");
        let chosen = best["arch_labelled"].as_object().unwrap();
        for e in edges.as_array().unwrap() {
            let (nodes, op) = (e[0].as_str().unwrap(), e[1].as_str().unwrap());
            let (from, to) = nodes.split_once('-').unwrap();
            assert_eq!(chosen[&format!("edge_{from}_{to}")], json!(op), "edge {nodes}");
        }
        screenshot(&c, &shots, "trial.png").await;

        // The Pareto chart shows the study's front.
        c.goto(&format!("{url}/s/nb201-ehvi")).await.unwrap();
        let front = ehvi_status["pareto_front"].as_array().unwrap().len();
        let drawn = js(&c, "Number(document.getElementById('chart-pareto').dataset.front)").await;
        assert_eq!(drawn, json!(front));
        let legend = js(&c, "document.querySelector('#chart-pareto svg').textContent").await;
        assert!(
            legend.as_str().unwrap().contains(&format!("study front ({front} points)")),
            "{legend}"
        );
        // ... against the benchmark's true front, found by looking up every NB201 cell.
        assert!(legend.as_str().unwrap().contains("benchmark's true front ("), "{legend}");
        screenshot(&c, &shots, "pareto.png").await;

        // A study still running gains rows without a reload.
        c.goto(&format!("{url}/s/live")).await.unwrap();
        table_shows(&c, "number:desc:::0").await;
        c.execute("window.__stillThisPage = true;", vec![]).await.unwrap();
        let before = js(&c, "Number(document.getElementById('trial-table').dataset.total)").await.as_u64().unwrap();
        wait_for(
            &c,
            &format!("Number(document.getElementById('trial-table').dataset.total) > {before} && Number(document.getElementById('n-trials').textContent) > {before}"),
            45,
            "the live study's new trials",
        )
        .await;
        assert_eq!(js(&c, "window.__stillThisPage === true").await, json!(true), "the page was reloaded");
        let top = js(&c, "Number(document.querySelector('#trial-table tbody tr').dataset.trial)").await.as_u64().unwrap();
        assert!(top >= before, "the newest trial ({top}) heads the table");
        screenshot(&c, &shots, "live.png").await;

        // The report: one file, nothing fetched from anywhere, the same charts, sortable.
        let report = tmp.path().join("rea-report.html");
        let o = archer(&["report", rea.to_str().unwrap(), "--output", report.to_str().unwrap()], &repo());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let html = std::fs::read_to_string(&report).unwrap();
        assert!(html.len() < 5 << 20, "{} bytes", html.len());
        for outside in ["src=\"http", "href=\"http", "url(http", "src=\"//", "href=\"/"] {
            assert!(!html.contains(outside), "the report reaches outside itself: {outside}");
        }
        c.goto(&format!("file://{}", report.display())).await.unwrap();
        for chart in ["chart-anytime-trials", "chart-anytime-time"] {
            assert_eq!(js(&c, &format!("!!document.querySelector('#{chart} svg')")).await, json!(true), "{chart}");
        }
        let rows = js(&c, "document.querySelectorAll('#trial-table tbody tr').length").await;
        assert_eq!(rows, rea_status["trials"]);
        c.find(Locator::Css("#trial-table th[data-sort='m:valid_acc']")).await.unwrap().click().await.unwrap();
        c.find(Locator::Css("#trial-table th[data-sort='m:valid_acc']")).await.unwrap().click().await.unwrap();
        let top = js(&c, "Number(document.querySelector('#trial-table tbody tr').dataset.trial)").await;
        assert_eq!(top, best["trial"], "the report's table sorts in the page");
        assert_eq!(
            js(&c, "document.querySelectorAll('section.trial svg text.edge-label').length").await,
            json!(6),
            "the best trial's cell is drawn in the report"
        );
        c.close().await.unwrap();
    });
    eprintln!("screenshots: {}", shots.display());
}
