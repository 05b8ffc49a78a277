//! One-shot (weight-sharing) experiments: `[strategy] name = "gdas"` (or another method of
//! `archer-oneshot`) on the `train` evaluator's data. Before the study loop, a one-shot phase
//! trains the supernet (checkpointed every epoch in `<output>/oneshot/`, so `archer resume`
//! continues it) and chooses the architecture; it enters the study as one COMPLETE trial,
//! scored and stored like any evaluated trial, so that `best.json`, `[retrain]`, `archer
//! retrain`, `export` and `evaluate` work on it unchanged. With `strategy.finalists = k`,
//! the k architectures the method ranks best enter instead as WAITING trials at
//! `Fidelity { epochs: finalist_epochs }`, which the loop trains from scratch with the `train`
//! evaluator, so the best *trained* accuracy wins (inherited and trained accuracies never
//! compete: the supernet's figures ride on the rank-0 trial's attributes). The study's
//! strategy proposes nothing: a one-shot method is not a strategy (it trains).

use archer_core::History;
use archer_strategy::{Proposal, Strategy, StrategyError};

use crate::{ConfigError, ExperimentConfig};

/// The one-shot methods' names, known to every build (the methods need the `train`
/// feature; without it a name is refused with that reason).
pub const ONESHOT_NAMES: [&str; 8] = [
    "darts1", "darts2", "gdas", "snas", "drnas", "rsps", "spos", "enas",
];

/// The trial attribute naming the method that derived a trial.
pub const ONESHOT_ATTR: &str = "oneshot_method";

/// A finalist's rank in its method's order (0: the method's own choice).
#[cfg_attr(not(feature = "train"), allow(dead_code))]
pub const FINALIST_RANK_ATTR: &str = "oneshot_rank";

/// Whether `name` is a one-shot method rather than a strategy.
pub fn is_oneshot(name: &str) -> bool {
    ONESHOT_NAMES.contains(&name)
}

/// Checks a one-shot experiment's settings before anything runs.
pub(crate) fn check(config: &ExperimentConfig, space: &str) -> Result<(), ConfigError> {
    if config.evaluator.kind != "train" {
        return Err(ConfigError::invalid(
            "evaluator.kind",
            format!(
                "{:?}: the one-shot method {:?} trains its supernet on the train evaluator's data; set evaluator.kind = \"train\"",
                config.evaluator.kind, config.strategy.name
            ),
        ));
    }
    let b = &config.budget;
    if b.trials.is_some() || b.sim_seconds.is_some() {
        return Err(ConfigError::invalid(
            "budget",
            "a one-shot search trains one supernet for strategy.epochs and records its choice (or strategy.finalists): budget.trials and sim_seconds do not apply; budget.wall_seconds ends supernet training after the epoch that reaches it",
        ));
    }
    if let Some(w) = b.wall_seconds {
        if !(w.is_finite() && w > 0.0) {
            return Err(ConfigError::invalid(
                "budget.wall_seconds",
                format!("{w} must be a positive number of seconds"),
            ));
        }
    }
    if config.scheduler.has_rungs() {
        return Err(ConfigError::invalid(
            "scheduler",
            "a one-shot search has no trials to schedule",
        ));
    }
    check_method(config, space)
}

#[cfg(feature = "train")]
fn check_method(config: &ExperimentConfig, space: &str) -> Result<(), ConfigError> {
    archer_oneshot::check(&config.strategy.name, &config.strategy.settings, space)
        .map(drop)
        .map_err(to_config)
}

#[cfg(not(feature = "train"))]
fn check_method(config: &ExperimentConfig, _space: &str) -> Result<(), ConfigError> {
    Err(ConfigError::invalid(
        "strategy.name",
        format!(
            "{:?} is a one-shot method, which needs the `train` feature (libtorch); this archer was built without it",
            config.strategy.name
        ),
    ))
}

#[cfg(feature = "train")]
fn to_config(e: archer_oneshot::OneShotError) -> ConfigError {
    match e {
        archer_oneshot::OneShotError::Invalid { key, reason } => {
            ConfigError::Invalid { key, reason }
        }
        other => ConfigError::invalid("strategy", other.to_string()),
    }
}

/// The strategy of a one-shot study: it proposes nothing, since the one-shot phase records
/// the study's trial.
pub(crate) struct Recorded;

impl Strategy for Recorded {
    fn name(&self) -> &str {
        "one-shot"
    }

    fn ask(&mut self, _history: &History) -> Result<Proposal, StrategyError> {
        Err(StrategyError::Exhausted(
            "one-shot search: the supernet's architecture is recorded".into(),
        ))
    }

    fn tell(&mut self, _trial: &archer_core::Trial) {}

    fn state(&self) -> serde_json::Value {
        serde_json::json!({})
    }

    fn restore(&mut self, _state: serde_json::Value) -> Result<(), StrategyError> {
        Ok(())
    }
}

#[cfg(feature = "train")]
pub(crate) use phase::{one_shot_phase, resolve_paths};

#[cfg(feature = "train")]
mod phase {
    use archer_core::Fidelity;
    use archer_eval::TrainSettings;

    use super::{FINALIST_RANK_ATTR, ONESHOT_ATTR};
    use crate::study::{Event, Study};
    use crate::{ExperimentConfig, RunError};

    /// Makes the method's file paths absolute, from the experiment file's folder.
    pub(crate) fn resolve_paths(config: &mut ExperimentConfig, base: &std::path::Path) {
        if super::is_oneshot(&config.strategy.name) {
            archer_oneshot::resolve_paths(&mut config.strategy.settings, base);
        }
    }

    /// Runs (or continues, or finds finished) the one-shot search of `study` and records its
    /// architecture as the study's trial, unless a trial records it already.
    pub(crate) fn one_shot_phase(
        study: &mut Study,
        observer: &mut dyn FnMut(Event),
    ) -> Result<(), RunError> {
        let config = &study.experiment.config;
        if !super::is_oneshot(&config.strategy.name) {
            return Ok(());
        }
        let bad = |e: String| RunError::Config(crate::ConfigError::invalid("strategy", e));
        let space = study.experiment.space.name().to_string();
        let settings =
            archer_oneshot::OneShotSettings::parse_for(&config.strategy.settings, &space)
                .map_err(|e| bad(e.to_string()))?;
        // The trial is stored finished at once (`Study::record_evaluated`); finalists are
        // stored one by one, so a kill between them leaves some to add.
        let recorded: Vec<Option<u64>> = study
            .history
            .trials()
            .iter()
            .filter(|t| t.attrs.contains_key(ONESHOT_ATTR))
            .map(|t| t.attrs.get(FINALIST_RANK_ATTR).and_then(|r| r.as_u64()))
            .collect();
        if settings.finalists == 0 && !recorded.is_empty() {
            return Ok(());
        }
        let ranks_recorded: Vec<u64> = recorded.iter().flatten().copied().collect();
        if settings.finalists > 0 && ranks_recorded.len() >= settings.finalists {
            return Ok(());
        }
        let train: TrainSettings =
            serde_json::from_value(serde_json::Value::Object(config.evaluator.settings.clone()))
                .map_err(|e| {
                    RunError::Config(crate::ConfigError::invalid("evaluator", e.to_string()))
                })?;
        let dir = config.study.output.as_ref().map(|o| o.join("oneshot"));
        let inputs = archer_oneshot::SearchInputs {
            method: &config.strategy.name,
            settings: &settings,
            space: study.experiment.space.clone(),
            train: &train,
            seed: config.study.seed,
            wall_seconds: config.budget.wall_seconds,
        };
        let outcome = archer_oneshot::run_search(&inputs, dir.as_deref(), &mut |r| {
            observer(Event::OneShotEpoch {
                epoch: r.epoch,
                of: r.epochs,
                genotype: r.genotype.as_deref(),
                train_loss: r.train_loss,
                table_acc: r.table_acc,
                seconds: r.seconds,
            })
        })
        // The checkpoint stays: `archer resume` continues from the last epoch.
        .map_err(|e| RunError::OneShot(format!("{}: {e}", config.strategy.name)))?;
        if settings.finalists > 0 {
            return enqueue_finalists(study, &outcome, &ranks_recorded, settings.finalist_epochs());
        }
        let mut metrics = archer_core::Metrics::new();
        for (k, v) in &outcome.metrics {
            metrics.insert(k, *v);
        }
        let mut attrs = serde_json::Map::new();
        attrs.insert(ONESHOT_ATTR.into(), config.strategy.name.clone().into());
        attrs.insert("oneshot_genotype".into(), outcome.genotype.clone().into());
        if let Some(why) = &outcome.checkpoint_ignored {
            attrs.insert("checkpoint_ignored".into(), why.clone().into());
        }
        if let Some(e) = outcome.resumed_from_epoch {
            attrs.insert("resumed_from_epoch".into(), e.into());
        }
        let cost = outcome
            .metrics
            .get("search_seconds")
            .copied()
            .unwrap_or(0.0);
        let proposal = archer_strategy::Proposal {
            arch: outcome.arch,
            fidelity: Fidelity::default(),
            inherit: None,
        };
        study.record_evaluated(proposal, metrics, attrs, cost, observer)
    }

    /// Queues the outcome's finalists not yet recorded as WAITING trials, trained from
    /// scratch for `epochs`; the rank-0 trial (the method's choice) carries the supernet's
    /// figures as the attribute `oneshot_metrics`.
    fn enqueue_finalists(
        study: &mut Study,
        outcome: &archer_oneshot::Outcome,
        recorded: &[u64],
        epochs: u32,
    ) -> Result<(), RunError> {
        let method = study.experiment.config.strategy.name.clone();
        if outcome.finalists.is_empty() {
            return Err(RunError::OneShot(format!(
                "{method}: the finished search in the experiment folder kept no finalists (it ran without strategy.finalists); start a new experiment"
            )));
        }
        for f in &outcome.finalists {
            if recorded.contains(&(f.rank as u64)) {
                continue;
            }
            let mut attrs = serde_json::Map::new();
            attrs.insert(ONESHOT_ATTR.into(), method.clone().into());
            attrs.insert(FINALIST_RANK_ATTR.into(), f.rank.into());
            attrs.insert("oneshot_score".into(), f.score.into());
            attrs.insert("oneshot_genotype".into(), f.genotype.clone().into());
            if f.rank == 0 {
                let figures: serde_json::Map<String, serde_json::Value> = outcome
                    .metrics
                    .iter()
                    .map(|(k, v)| (k.clone(), (*v).into()))
                    .collect();
                attrs.insert("oneshot_metrics".into(), figures.into());
            }
            let proposal = archer_strategy::Proposal {
                arch: f.arch.clone(),
                fidelity: Fidelity {
                    epochs: Some(epochs),
                    ..Fidelity::default()
                },
                inherit: None,
            };
            study.enqueue(proposal, attrs)?;
        }
        Ok(())
    }
}

#[cfg(all(test, feature = "train"))]
mod tests {
    #[test]
    fn every_build_knows_the_registered_methods_by_name() {
        let registered: Vec<&str> = archer_oneshot::METHODS.iter().map(|m| m.name).collect();
        assert_eq!(registered, super::ONESHOT_NAMES);
    }
}
