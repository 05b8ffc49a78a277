use std::path::{Path, PathBuf};
use std::sync::Arc;

use archer_core::{metric, Fidelity, TrialCtx};
use archer_eval::{
    DataError, EvalError, Evaluator, EvaluatorConfig, Nb201Dataset, Nb201Evaluator, Nb201Table,
    Nb201ZeroCost,
};
use archer_space::{Nb201Space, SearchSpace, SpaceConfig};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
fn fixture() -> PathBuf {
    repo().join("fixtures/nb201/nb201_results_3ops.csv.gz")
}
fn latency_fixture() -> PathBuf {
    repo().join("fixtures/nb201/nb201_latency_help_3ops.csv.gz")
}

const RESNET: &str =
    "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|";

fn evaluator(dataset: Nb201Dataset) -> Nb201Evaluator {
    let table = Nb201Table::load(&fixture())
        .unwrap()
        .with_latency(&latency_fixture())
        .unwrap();
    Nb201Evaluator::new(
        Arc::new(table),
        dataset,
        12,
        vec!["1080ti_1".into(), "raspi4".into()],
    )
    .unwrap()
}

#[test]
fn fixture_loads_and_covers_the_three_op_space() {
    let table = Nb201Table::load(&fixture()).unwrap();
    assert_eq!(table.len(), 729);
    let ops = ["none", "skip_connect", "nor_conv_3x3"]
        .map(String::from)
        .to_vec();
    let restricted = SpaceConfig::named("nb201")
        .with("ops", serde_json::json!(ops))
        .build()
        .unwrap();
    assert_eq!(table.missing_from(restricted.as_ref(), 3).0, 0);
    let (missing, examples) = table.missing_from(&Nb201Space::default(), 3);
    assert_eq!(missing, 15625 - 729);
    assert_eq!(examples.len(), 3);
}

#[test]
fn resnet_cell_metrics_and_simulated_cost() {
    let e = evaluator(Nb201Dataset::Cifar10);
    let arch = Nb201Space::default().parse(RESNET).unwrap();
    let mut ctx = TrialCtx::new(0, 0);
    let m = e.evaluate(&arch, &Fidelity::full(), &mut ctx).unwrap();
    assert_eq!(m.get(metric::VALID_ACC), Some(90.66));
    assert_eq!(m.get(metric::TEST_ACC), Some(93.91));
    assert_eq!(m.get("nb201_index"), Some(11472.0));
    assert_eq!(m.get(metric::PARAMS_M), Some(0.559386));
    // 12 epochs on the 25k-image cifar10-valid split: half of the 50k-image epoch time.
    assert!((m.get(metric::SIM_SECONDS).unwrap() - 12.0 * 15.2023 * 0.5).abs() < 1e-9);
    assert!(m.get("latency_ms_raspi4").unwrap() > 0.0);
    assert_eq!(ctx.intermediate(), &[(12, 90.66)]);

    let c100 = evaluator(Nb201Dataset::Cifar100)
        .evaluate(&arch, &Fidelity::full(), &mut TrialCtx::new(0, 0))
        .unwrap();
    assert!(
        (c100.get(metric::SIM_SECONDS).unwrap() - 12.0 * 15.2023).abs() < 1e-9,
        "full split"
    );
    let full = e
        .evaluate(
            &arch,
            &Fidelity {
                epochs: Some(200),
                ..Fidelity::full()
            },
            &mut TrialCtx::new(0, 0),
        )
        .unwrap();
    assert!((full.get(metric::SIM_SECONDS).unwrap() - 200.0 * 15.2023 * 0.5).abs() < 1e-9);
}

#[test]
fn test_accuracy_is_held_out() {
    let specs = evaluator(Nb201Dataset::Cifar10).metrics();
    let test = specs.iter().find(|s| s.name == metric::TEST_ACC).unwrap();
    assert!(test.held_out);
    assert!(specs
        .iter()
        .filter(|s| s.name != metric::TEST_ACC)
        .all(|s| !s.held_out));
}

#[test]
fn evaluation_errors_are_clear() {
    let e = evaluator(Nb201Dataset::Cifar10);
    let space = Nb201Space::default();
    let conv1 = space
        .parse("|nor_conv_1x1~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|")
        .unwrap();
    let err = e
        .evaluate(&conv1, &Fidelity::full(), &mut TrialCtx::new(0, 0))
        .unwrap_err();
    assert!(matches!(err, EvalError::NotInTable { .. }));
    assert!(
        err.to_string().contains("nor_conv_1x1") && err.to_string().contains("3ops"),
        "{err}"
    );
    let arch = space.parse(RESNET).unwrap();
    let err = e
        .evaluate(
            &arch,
            &Fidelity {
                epochs: Some(50),
                ..Fidelity::full()
            },
            &mut TrialCtx::new(0, 0),
        )
        .unwrap_err();
    assert!(err.to_string().contains("epochs = 50"), "{err}");
    let darts = SpaceConfig::named("darts")
        .build()
        .unwrap()
        .sample(&mut archer_rng::Rng::seed_from(0))
        .unwrap();
    assert!(matches!(
        e.evaluate(&darts, &Fidelity::full(), &mut TrialCtx::new(0, 0)),
        Err(EvalError::WrongSpace { .. })
    ));
    let table = Arc::new(Nb201Table::load(&fixture()).unwrap());
    let err = Nb201Evaluator::new(
        table.clone(),
        Nb201Dataset::Cifar10,
        12,
        vec!["raspi4".into()],
    )
    .err()
    .unwrap();
    assert!(
        err.to_string().contains("no evaluator.latency_table"),
        "{err}"
    );
    let err = Nb201Evaluator::new(table, Nb201Dataset::Cifar10, 0, vec![])
        .err()
        .unwrap();
    assert!(err.to_string().contains("evaluator.epochs = 0"), "{err}");
    let with_latency = Arc::new(
        Nb201Table::load(&fixture())
            .unwrap()
            .with_latency(&latency_fixture())
            .unwrap(),
    );
    let err = Nb201Evaluator::new(
        with_latency,
        Nb201Dataset::Cifar10,
        12,
        vec!["toaster".into()],
    )
    .err()
    .unwrap();
    assert!(
        err.to_string().contains("toaster") && err.to_string().contains("raspi4"),
        "{err}"
    );
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn fixture_text() -> String {
    use std::io::Read;
    let mut s = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(fixture()).unwrap())
        .read_to_string(&mut s)
        .unwrap();
    s
}

#[test]
fn corrupt_and_missing_files_name_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.csv.gz");
    let err = Nb201Table::load(&missing).err().unwrap();
    assert!(
        matches!(err, DataError::Io { .. }) && err.to_string().contains("nope.csv.gz"),
        "{err}"
    );

    let gz = std::fs::read(fixture()).unwrap();
    let truncated = write(dir.path(), "truncated.csv.gz", &gz[..gz.len() / 2]);
    let err = Nb201Table::load(&truncated).err().unwrap();
    assert!(
        matches!(err, DataError::Corrupt { .. }) && err.to_string().contains("truncated.csv.gz"),
        "{err}"
    );

    let garbage = write(dir.path(), "garbage.csv", &[0xff, 0xfe, 0x00, 0x41, 0x80]);
    let err = Nb201Table::load(&garbage).err().unwrap();
    assert!(
        err.to_string().contains("garbage.csv") && err.to_string().contains("UTF-8"),
        "{err}"
    );

    let text = fixture_text();
    let no_test = text.replacen("cifar10_test_acc", "renamed", 1);
    let err = Nb201Table::load(&write(dir.path(), "cols.csv", no_test.as_bytes()))
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("no column `cifar10_test_acc`"),
        "{err}"
    );

    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut fields: Vec<&str> = lines[3].split(',').collect();
    fields[8] = "abc"; // cifar10_test_acc
    lines[3] = fields.join(",");
    let err = Nb201Table::load(&write(dir.path(), "value.csv", lines.join("\n").as_bytes()))
        .err()
        .unwrap();
    assert!(matches!(err, DataError::BadValue { line: 4, .. }), "{err}");
    assert!(err.to_string().contains("value.csv, line 4"), "{err}");

    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[2] = lines[2].replacen("nor_conv_3x3", "conv_9x9", 1);
    let err = Nb201Table::load(&write(dir.path(), "arch.csv", lines.join("\n").as_bytes()))
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("line 3") && err.to_string().contains("conv_9x9"),
        "{err}"
    );

    let header_only = text.lines().next().unwrap();
    let err = Nb201Table::load(&write(dir.path(), "empty.csv", header_only.as_bytes()))
        .err()
        .unwrap();
    assert!(matches!(err, DataError::Empty { .. }), "{err}");
}

#[test]
fn config_resolves_relative_paths_and_builds() {
    let mut c: EvaluatorConfig = toml::from_str(
        r#"kind = "nb201"
           table = "nb201/nb201_results_3ops.csv.gz"
           latency_table = "nb201/nb201_latency_help_3ops.csv.gz"
           dataset = "imagenet16-120""#,
    )
    .unwrap();
    let kind = archer_eval::find_kind(archer_eval::KINDS, &c.kind).unwrap();
    kind.resolve_paths(&mut c.settings, &repo().join("fixtures"))
        .unwrap();
    let space: std::sync::Arc<dyn archer_space::SearchSpace> =
        std::sync::Arc::new(archer_space::Nb201Space::default());
    let e = kind
        .build(
            &c.settings,
            &archer_eval::EvalBuildContext {
                space: &space,
                told: &[],
                study: "test",
                output: None,
            },
        )
        .unwrap();
    assert!(e.metrics().iter().any(|m| m.name == "latency_ms_1080ti_1"));
    assert_eq!(e.provenance()["dataset"], "imagenet16-120");
    let bad: EvaluatorConfig =
        toml::from_str("kind = \"nb201\"\ntable = \"x\"\ndataset = \"cifar11\"").unwrap();
    let err = kind.check(&bad.settings).unwrap_err();
    assert!(
        err.to_string().contains("cifar10") && err.to_string().contains("imagenet16-120"),
        "{err}"
    );
    let err = archer_eval::find_kind(archer_eval::KINDS, "nb202")
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("nb201, nb201-curves, table, command, external"),
        "{err}"
    );
}

/// The bundled full table reproduces the sanity figures of the shared data's README.
#[test]
fn bundled_full_table_matches_published_sanity_figures() {
    let path = repo().join("data/nas-bench-201/nb201_results.csv.gz");
    let table = Nb201Table::load(&path).unwrap();
    assert_eq!(table.len(), 15625);
    assert_eq!(
        table.sha256(),
        "05669acd05ae35a7e02890bfe8125c86bb7373ffc0862ad654aea4859d8116a7"
    );
    // Best CIFAR-10 test accuracy 94.3733, at index 6111 (13714 ties with it).
    let best_test = table
        .iter()
        .map(|(_, r)| r[0].test_acc)
        .fold(f64::MIN, f64::max);
    assert!((best_test - 94.3733).abs() < 1e-3);
    let at_best: Vec<u32> = table
        .iter()
        .filter(|(_, r)| r[0].test_acc == best_test)
        .filter_map(|(a, _)| table.arch_index(a))
        .collect();
    assert_eq!(at_best, vec![6111, 13714]);
    let best_valid = table
        .iter()
        .max_by(|a, b| a.1[0].valid_acc.total_cmp(&b.1[0].valid_acc))
        .unwrap();
    assert_eq!(table.arch_index(best_valid.0), Some(1459));
    assert!((best_valid.1[0].test_acc - 94.2967).abs() < 1e-3);
    let latency = Nb201Table::load(&path)
        .unwrap()
        .with_latency(&repo().join("data/nas-bench-201/nb201_latency_help.csv.gz"))
        .unwrap();
    assert_eq!(latency.latency_devices().len(), 27);
    assert_eq!(
        latency.latency_source().unwrap().1,
        "179e35db4748667d4fb371a06e13068d61bea3a2f2a3cecde81701ff12c19ad1"
    );
}

#[test]
fn zero_cost_scores_load_with_named_errors() {
    let path = repo().join("data/nas-bench-201/nb201_zero_cost_proxies.csv.gz");
    let z = Nb201ZeroCost::load(&path, Nb201Dataset::Cifar10, "naswot").unwrap();
    assert_eq!(
        z.sha256(),
        "5a10409f7dd4e5b6760333e28e34a914e04602685173b7d3eb627293601abc28"
    );
    assert_eq!(z.column(), "cifar10_naswot");
    let space = Nb201Space::default();
    // Row 0 of the shared file.
    let a = space
        .parse("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|")
        .unwrap();
    assert!((z.score(&a).unwrap() - 740.845703125).abs() < 1e-9);
    // A cell of `none` edges passes nothing on: NASWOT rates it -inf, which is a score.
    let dead = space
        .parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
        .unwrap();
    assert_eq!(z.score(&dead), Some(f64::NEG_INFINITY));

    let err = Nb201ZeroCost::load(&path, Nb201Dataset::ImageNet16, "nregions")
        .err()
        .unwrap();
    assert!(
        matches!(err, DataError::MissingColumn { .. })
            && err.to_string().contains("imagenet16_nregions"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "zc.csv",
        b"arch_str,cifar10_naswot\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,1.5\n|none~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|,oops\n",
    );
    let err = Nb201ZeroCost::load(&bad, Nb201Dataset::Cifar10, "naswot")
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("zc.csv, line 3, column `cifar10_naswot`"),
        "{err}"
    );
}
