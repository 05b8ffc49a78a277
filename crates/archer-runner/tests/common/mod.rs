//! Shared by the tests that drive a study through the command evaluator and a shell script.

use std::path::Path;

use archer_runner::ExperimentConfig;

/// Writes a one-dimension declared space (`width`, 1..=60) as `space.toml`, `script` as an
/// executable `train.sh`, and `experiment` as `experiment.toml` into `dir`, and returns the
/// experiment with its output in `dir/run`.
pub fn command_experiment(dir: &Path, script: &str, experiment: &str) -> ExperimentConfig {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(
        dir.join("space.toml"),
        "name = \"widths\"\nversion = 1\n[[int]]\nname = \"width\"\nlow = 1\nhigh = 60\n",
    )
    .unwrap();
    std::fs::write(dir.join("train.sh"), script).unwrap();
    std::fs::set_permissions(dir.join("train.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.join("experiment.toml"), experiment).unwrap();
    let mut c = ExperimentConfig::from_file(&dir.join("experiment.toml")).unwrap();
    c.study.output = Some(dir.join("run"));
    c
}
