//! Declared spaces and results tables through the `archer` binary: `spaces show FILE`,
//! `validate`, a search, `bench table`, export and status; every space-file mistake is an
//! error (exit 2) that names the file, the item and what is wrong.

mod common;

use std::path::{Path, PathBuf};

use common::{archer, repo};

fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const SPACE: &str = r#"name = "tiny"
version = 1
[[choice]]
name = "op"
options = ["a", "b", "c"]
[[int]]
name = "width"
low = 1
high = 4
when = { op = ["a", "b"] }
[[repeat]]
name = "blocks"
min = 1
max = 2
[[repeat.choice]]
name = "kind"
options = ["x", "y"]
"#;

/// A table with every architecture of SPACE, a score that favours op c and two blocks of y.
fn table() -> String {
    let mut t =
        String::from("op,width,blocks,blocks.0.kind,blocks.1.kind,score,test_score,seconds,note\n");
    for op in ["a", "b", "c"] {
        let widths: Vec<String> = if op == "c" {
            vec![String::new()]
        } else {
            (1..=4).map(|w| w.to_string()).collect()
        };
        for w in &widths {
            for depth in 1..=2 {
                for k0 in ["x", "y"] {
                    let k1s: Vec<&str> = if depth == 2 { vec!["x", "y"] } else { vec![""] };
                    for k1 in k1s {
                        let score = (op == "c") as u32 * 10
                            + w.parse::<u32>().unwrap_or(0)
                            + (k0 == "y") as u32
                            + (k1 == "y") as u32 * 2;
                        t.push_str(&format!(
                            "{op},{w},{depth},{k0},{k1},{score},{},2.5,anything\n",
                            score as f64 - 0.5
                        ));
                    }
                }
            }
        }
    }
    t
}

fn experiment(dir: &Path, strategy: &str) -> PathBuf {
    write(dir, "space.toml", SPACE);
    write(dir, "results.csv", &table());
    write(
        dir,
        "experiment.toml",
        &format!(
            r#"[study]
name = "tiny-table"
seed = 0

[space]
file = "space.toml"

[strategy]
name = "{strategy}"

[evaluator]
kind = "table"
table = "results.csv"
held_out = ["test_score"]
cost_column = "seconds"
cost_scale = 2

[objective]
metric = "score"

[budget]
sim_seconds = 100
"#
        ),
    )
}

#[test]
fn spaces_show_explains_a_space_file_and_its_size() {
    let o = archer(
        &["spaces", "show", "examples/spaces/every-primitive.toml"],
        &repo(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("every-primitive (version 1), infinitely many architectures"),
        "{out}"
    );
    assert!(out.contains("blocks.1.width"), "{out}");
    assert!(
        out.contains("(when blocks in {2, 3} and blocks.1.op in {conv, sep_conv})"),
        "{out}"
    );
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "space.toml", SPACE);
    let o = archer(&["spaces", "show", "space.toml"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    // op a or b: 4 widths each; op c: 1; blocks: 2 + 4 kinds.
    assert!(
        stdout(&o).contains("tiny (version 1), 54 architectures"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_table_search_runs_exports_and_shows_status() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), "rea");
    let o = archer(&["validate", exp.to_str().unwrap()], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let o = archer(
        &[
            "search",
            exp.to_str().unwrap(),
            "--output",
            "run",
            "--quiet",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    // 5 simulated seconds per query: 20 queries; the best architecture is op c, two y blocks.
    assert!(out.contains("after 20 trials"), "{out}");
    assert!(
        out.contains(r#"{"op":"c","blocks":2,"blocks.0.kind":"y","blocks.1.kind":"y"}"#),
        "{out}"
    );
    let o = archer(&["status", "run"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("20 complete"), "{}", stdout(&o));
    let o = archer(&["export", "run", "--top", "3"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let top: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(top[0]["arch_labelled"]["op"], "c", "{top}");
    // The saved configuration holds the space, so the run reopens without the file.
    std::fs::remove_file(dir.path().join("space.toml")).unwrap();
    let o = archer(&["status", "run"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn bench_table_reports_the_held_out_column_and_the_best_row() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), "rea");
    let o = archer(
        &[
            "bench",
            "table",
            exp.to_str().unwrap(),
            "--strategies",
            "random,rea,ls",
            "--seeds",
            "3",
            "--report",
            "test_score",
            "--budget-seconds",
            "50",
            "--json",
            "--output",
            "b",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let s = v["summaries"].as_array().unwrap();
    assert_eq!(s.len(), 3);
    for x in s {
        assert_eq!(x["seeds"], 3);
        assert_eq!(x["mean_queries"], 10.0);
        assert!(x["mean_report"].as_f64().unwrap() <= 12.5);
    }
    assert_eq!(v["oracle"]["best_objective"], 13.0);
    assert_eq!(v["oracle"]["best_objective_report"], 12.5);
    assert!(v["curve_queries"].as_array().unwrap().len() >= 15);
    assert!(dir.path().join("b/runs.csv").exists());
    let o = archer(
        &[
            "bench",
            "table",
            exp.to_str().unwrap(),
            "--report",
            "nope",
            "--seeds",
            "1",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--report \"nope\" is not a metric column"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn using_a_held_out_column_as_the_objective_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(dir.path(), "rea");
    let text = std::fs::read_to_string(&exp)
        .unwrap()
        .replace("metric = \"score\"", "metric = \"test_score\"");
    std::fs::write(&exp, text).unwrap();
    let o = archer(&["validate", exp.to_str().unwrap()], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("\"test_score\" is held out"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn every_space_file_mistake_is_named_with_exit_code_2() {
    let cases = [
        (
            "[[choice]]\nname = \"a\"\noptions = [\"x\"]\n[[float]]\nname = \"a\"\nlow = 0.0\nhigh = 1.0\n",
            "[[float]] \"a\": the name \"a\" is used twice",
        ),
        ("[[choice]]\nname = \"a\"\noptions = []\n", "[[choice]] \"a\": options is empty"),
        ("[[int]]\nname = \"w\"\nlow = 9\nhigh = 2\n", "[[int]] \"w\": low = 9 is above high = 2"),
        (
            "[[float]]\nname = \"lr\"\nlow = 1.0\nhigh = 0.5\n",
            "[[float]] \"lr\": low = 1 must be below high = 0.5",
        ),
        (
            "[[choice]]\nname = \"a\"\noptions = [\"x\"]\nwhen = { zz = [\"y\"] }\n",
            "[[choice]] \"a\": `when` names \"zz\", which is not a dimension declared here",
        ),
        (
            "[[choice]]\nname = \"a\"\noptions = [\"x\", \"y\"]\n[[int]]\nname = \"w\"\nlow = 1\nhigh = 2\nwhen = { a = [\"q\"] }\n",
            "[[int]] \"w\": `when` allows \"q\" for \"a\", which is not one of its values: x, y",
        ),
        (
            "[[choice]]\nname = \"a\"\noptions = [\"x\"]\nwhen = { b = [\"x\"] }\n[[choice]]\nname = \"b\"\noptions = [\"x\"]\nwhen = { a = [\"x\"] }\n",
            "the file: `when` conditions form a cycle: a → b → a",
        ),
        ("[[choice]]\nname = \"a\"\nopts = [\"x\"]\n", "unknown field `opts`"),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (body, want) in cases {
        let file = write(
            dir.path(),
            "bad.toml",
            &format!("name = \"s\"\nversion = 1\n{body}"),
        );
        let o = archer(&["spaces", "show", file.to_str().unwrap()], dir.path());
        assert_eq!(o.status.code(), Some(2), "{body}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains("bad.toml: "), "{err}");
        assert!(err.contains(want), "wanted {want:?} in {err:?}");
        // The same mistake, met through an experiment that names the file.
        let exp = write(
            dir.path(),
            "exp.toml",
            "[study]\nname = \"x\"\n[space]\nfile = \"bad.toml\"\n[strategy]\nname = \"random\"\n[evaluator]\nkind = \"external\"\n[budget]\ntrials = 1\n",
        );
        let o = archer(&["validate", exp.to_str().unwrap()], dir.path());
        assert_eq!(o.status.code(), Some(2), "{body}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(want),
            "validate: wanted {want:?} in {}",
            stderr(&o)
        );
    }
}
