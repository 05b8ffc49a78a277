//! Zero-cost warm start: the proxy comes from the evaluator's settings, and the first
//! proposals are the pool's best by that proxy.

use std::path::{Path, PathBuf};

use archer_runner::{warm_start, ExperimentConfig, NullRecorder, Study};
use archer_strategy::WarmStart;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn config(strategy: &str, evaluator_extra: &str) -> Result<archer_runner::Experiment, String> {
    let text = format!(
        r#"
[study]
name = "warm"
seed = 3

[space]
name = "nb201"

[strategy]
{strategy}

[evaluator]
kind = "nb201"
table = "data/nas-bench-201/nb201_results.csv.gz"
{evaluator_extra}

[budget]
trials = 12
"#
    );
    ExperimentConfig::from_toml(&text, &repo(), Path::new("test.toml"))
        .and_then(|c| c.validate())
        .map_err(|e| e.to_string())
}

const ZERO_COST: &str = r#"zero_cost_table = "data/nas-bench-201/nb201_zero_cost_proxies.csv.gz""#;

#[test]
fn the_first_proposals_are_the_best_of_the_pool_by_the_proxy() {
    for strategy in ["bo", "bananas", "npenas"] {
        let experiment = config(
            &format!("name = \"{strategy}\"\nwarm_start = 5\nwarm_start_pool = 300"),
            ZERO_COST,
        )
        .unwrap();
        let warm = warm_start(
            &experiment,
            WarmStart {
                count: 5,
                pool: 300,
            },
        )
        .unwrap();
        assert_eq!(warm.len(), 5);
        let scores: Vec<f64> = warm
            .iter()
            .map(|a| experiment.zero_cost.as_ref().unwrap().score(a).unwrap())
            .collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
        assert_eq!(
            experiment.zero_cost.as_ref().map(|z| z.name()).as_deref(),
            Some("cifar10_naswot")
        );
        let mut study = Study::new(experiment).unwrap();
        study.run(&mut NullRecorder, &mut |_| {}).unwrap();
        let first: Vec<_> = study
            .history()
            .trials()
            .iter()
            .take(5)
            .map(|t| t.arch.clone())
            .collect();
        assert_eq!(first, warm, "{strategy}");
    }
}

fn error_of(strategy: &str, evaluator_extra: &str) -> String {
    match config(strategy, evaluator_extra) {
        Ok(_) => panic!("accepted: {strategy} / {evaluator_extra}"),
        Err(e) => e,
    }
}

#[test]
fn a_warm_start_without_proxy_scores_is_refused_by_name() {
    let err = error_of("name = \"bo\"\nwarm_start = 5", "");
    assert!(
        err.contains("strategy.warm_start") && err.contains("zero_cost_table"),
        "{err}"
    );
    let err = error_of(
        "name = \"bo\"\nwarm_start = 5",
        &format!("{ZERO_COST}\nzero_cost_proxy = \"magic\""),
    );
    assert!(err.contains("naswot, synflow"), "{err}");
    let err = error_of("name = \"rea\"\nwarm_start = 5", ZERO_COST);
    assert!(err.contains("warm_start"), "{err}");
}
