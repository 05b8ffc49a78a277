//! One one-shot search from start to end: the supernet trained epoch by epoch (checkpointed
//! after each, so a killed run continues where it stopped and, on the CPU, computes what an
//! uninterrupted one does), then the architecture chosen, scored on the shared weights with
//! its batch norms recalibrated, and the supernet's trust measured against a table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use archer_eval::{Nb201Dataset, Nb201Table, NetworkConfig, TrainConfig, TrainSettings};
use archer_rng::Rng;
use archer_space::{Arch, SearchSpace};
use archer_train::data::{BatchLoader, ImageSet, Normalize};
use archer_train::sgd::Sgd;
use archer_train::train::learning_rate;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::checkpoint::{self, Resumed, RunMeta};
use crate::finalists::Finalist;
use crate::method::{method_for, EpochEnd, Method, MethodInit, Step};
use crate::score::score;
use crate::single_cost;
use crate::trust::{stratified_sample, trust, uniform_sample};
use crate::{OneShotError, OneShotSettings, Supernet, SupernetConfig};

/// What one search needs.
pub struct SearchInputs<'a> {
    /// A registered method (`METHODS`).
    pub method: &'a str,
    pub settings: &'a OneShotSettings,
    pub space: Arc<dyn SearchSpace>,
    /// The `train` evaluator's settings: the data, its split, the loader and the limits.
    pub train: &'a TrainSettings,
    pub seed: u64,
    /// A wall-clock budget for supernet training (`budget.wall_seconds`): no epoch starts
    /// once the epochs so far (every process of a resumed run) took this long; the
    /// selection follows as usual. The schedules (learning rate, temperature) keep their
    /// planned length.
    pub wall_seconds: Option<f64>,
}

/// One epoch of supernet training, as `epochs.jsonl` records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based.
    pub epoch: u32,
    pub epochs: u32,
    /// Mean training loss of the weights' steps.
    pub train_loss: f64,
    /// Mean validation loss of the α-steps (absent for methods without them, and in warm-up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch_loss: Option<f64>,
    /// The architecture the method prefers after this epoch, in the space's form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub genotype: Option<String>,
    /// That architecture's CIFAR-10 test accuracy in the trust table (never fed back).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table_acc: Option<f64>,
    pub lr: f64,
    /// Wall seconds of the epoch (not compared across a resume).
    pub seconds: f64,
}

/// What a finished search produced (`outcome.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub method: String,
    pub arch: Arch,
    /// The architecture in the space's form.
    pub genotype: String,
    /// The derived trial's metrics (valid_acc first: inherited, recalibrated; then the
    /// supernet's figures).
    pub metrics: BTreeMap<String, f64>,
    /// α after the search (methods that have it), row by row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<Vec<Vec<f64>>>,
    pub epochs: Vec<EpochRecord>,
    /// Set when a checkpoint of another run was found and not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_ignored: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_from_epoch: Option<u32>,
    /// With `finalists = k`: the k architectures the method ranks best, the choice first,
    /// for the runner to train from scratch (empty without).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalists: Vec<Finalist>,
}

/// The file of a finished search in its folder.
pub const OUTCOME_FILE: &str = "outcome.json";
/// Per-epoch records in the folder.
pub const EPOCHS_FILE: &str = "epochs.jsonl";

const TORCH_STREAM: u64 = 0x004f_4e45_5348_4f54; // "ONESHOT"
const PATH_STREAM: u64 = 0x5041_5448; // "PATH"
const VALID_STREAM: u64 = 0x0056_414c_4944; // "VALID"
const SELECT_STREAM: u64 = 0x5345_4c45_4354; // "SELECT"
const TRUST_STREAM: u64 = 0x0054_5255_5354; // "TRUST"
const SINGLE_STREAM: u64 = 0x5349_4e47_4c45; // "SINGLE"
/// The trust sample's seed: every method and seed is judged on the same cells.
const TRUST_SEED: u64 = 0;

/// The saved outcome of the search in `dir`, if it finished.
pub fn finished(dir: &Path) -> Result<Option<Outcome>, OneShotError> {
    let path = dir.join(OUTCOME_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| OneShotError::io(&path, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(OneShotError::io(&path, e)),
    }
}

/// Runs the search, keeping its state in `dir` when given: a finished search's saved
/// outcome is returned as it is; an unfinished one continues from its last epoch.
/// `observer` sees each epoch as it ends.
pub fn search(
    inputs: &SearchInputs,
    dir: Option<&Path>,
    observer: &mut dyn FnMut(&EpochRecord),
) -> Result<Outcome, OneShotError> {
    if let Some(done) = dir.map(finished).transpose()?.flatten() {
        return Ok(done);
    }
    let kind = method_for(inputs.method, inputs.space.name())?;
    let s = inputs.settings;
    s.validate(kind.name)?;
    let epochs = s.epochs.unwrap_or(kind.default_epochs);
    let cfg = &inputs.train.training;
    let session = archer_train::torch_session(cfg.threads, Some(inputs.seed));
    let device = archer_train::train::device(cfg.device)?;
    let split = archer_train::split_data(inputs.train)?;
    let train_set = Arc::new(if inputs.train.data_fraction < 1.0 {
        split
            .train
            .fraction(inputs.train.data_fraction, inputs.seed)
    } else {
        split.train
    });
    let valid_set = Arc::new(split.valid);
    let normalize = split.normalize;
    archer_train::memory::reset_peak();
    let resident_before = archer_train::memory::resident_mb();
    let net = Supernet::new(
        inputs.space.as_ref(),
        &SupernetConfig {
            channels: s.channels,
            depth: s.depth_for(inputs.space.name()),
            input: train_set.shape,
            classes: train_set.classes as i64,
            partial_channels: s.partial_channels(),
        },
        device,
    )?;
    let recipe = weight_recipe(s, cfg);
    let mut sgd = Sgd::new(&net.vs, &recipe);
    let mut method = (kind.build)(&MethodInit {
        settings: s,
        net: &net,
        space: &inputs.space,
        seed: inputs.seed,
    })?;
    let table = match s.trust.as_ref().and_then(|t| t.table.as_ref()) {
        Some(path) => Some(Nb201Table::load(path).map_err(|e| OneShotError::Invalid {
            key: "strategy.trust.table".into(),
            reason: e.to_string(),
        })?),
        None => None,
    };
    let meta = RunMeta::new(kind.name, s, inputs.seed, inputs.space.as_ref(), epochs);
    let (mut history, mut step, start_epoch, ignored) = match dir {
        Some(d) => match checkpoint::load(d, &net, &mut sgd, method.as_mut(), &meta)? {
            Resumed::Fresh => (Vec::new(), 0, 0, None),
            Resumed::From(saved) => (saved.history, saved.step, saved.epoch, None),
            Resumed::Ignored(why) => (Vec::new(), 0, 0, Some(why)),
        },
        None => (Vec::new(), 0, 0, None),
    };
    let started = Instant::now();
    let batch = s.weights.batch_size;
    let steps_per_epoch = (train_set.len() / batch).max(1) as u64;
    let total = steps_per_epoch * u64::from(epochs);
    let mut stopped_after = None;
    for epoch in start_epoch + 1..=epochs {
        let spent: f64 = history.iter().map(|r| r.seconds).sum();
        if inputs.wall_seconds.is_some_and(|w| spent >= w) {
            stopped_after = Some(epoch - 1);
            break;
        }
        let epoch_start = Instant::now();
        tch::manual_seed(derive(inputs.seed ^ TORCH_STREAM, epoch));
        let mut paths = Rng::derive(inputs.seed ^ PATH_STREAM, u64::from(epoch));
        let loader = |set: &Arc<ImageSet>, seed: u64| {
            BatchLoader::new(
                set.clone(),
                batch,
                Some(seed),
                cfg.augment.clone(),
                normalize.clone(),
                cfg.prefetch,
                true,
            )
        };
        let mut train_loader = loader(&train_set, epoch_seed(inputs.seed, epoch, 0));
        let mut valid_pass = 0u64;
        let mut valid_loader = loader(
            &valid_set,
            epoch_seed(inputs.seed ^ VALID_STREAM, epoch, valid_pass),
        );
        // The next validation batch; when the validation part runs out before the training
        // part (or the controller's rewards need more), a new pass.
        let valid_part = &valid_set;
        let mut next_valid = move || -> Result<(Tensor, Tensor), OneShotError> {
            let v = match valid_loader.next() {
                Some(v) => v,
                None => {
                    valid_pass += 1;
                    valid_loader = loader(
                        valid_part,
                        epoch_seed(inputs.seed ^ VALID_STREAM, epoch, valid_pass),
                    );
                    valid_loader.next().ok_or_else(|| {
                        OneShotError::Setting("the validation part holds no batch".into())
                    })?
                }
            };
            Ok((v.images.to_device(device), v.labels.to_device(device)))
        };
        let warmup = epoch <= s.warmup_epochs;
        let (mut train_sum, mut n) = (0.0, 0u32);
        let (mut arch_sum, mut arch_n) = (0.0, 0u32);
        let mut lr = recipe.lr;
        for t in train_loader.by_ref() {
            let (vx, vy) = next_valid()?;
            lr = learning_rate(&recipe, step, 0, total);
            let (tx, ty) = (t.images.to_device(device), t.labels.to_device(device));
            let losses = method.step(Step {
                net: &net,
                space: inputs.space.as_ref(),
                sgd: &mut sgd,
                train: (&tx, &ty),
                valid: (&vx, &vy),
                lr,
                grad_clip: recipe.grad_clip,
                warmup,
                epoch: epoch - 1,
                epochs,
                step,
                rng: &mut paths,
            })?;
            train_sum += losses.weights;
            if let Some(a) = losses.arch {
                arch_sum += a;
                arch_n += 1;
            }
            n += 1;
            step += 1;
            check_limits(inputs.train, kind.name, started, epoch)?;
        }
        train_loader.finish()?;
        let mut reward = |arch: &Arch| {
            let (vx, vy) = next_valid()?;
            crate::score::batch_accuracy(&net, arch, &vx, &vy)
        };
        method.end_epoch(EpochEnd {
            net: &net,
            warmup,
            reward: &mut reward,
            rng: &mut paths,
        })?;
        drop(next_valid);
        let genotype = method.preferred(&net);
        let record = EpochRecord {
            epoch,
            epochs,
            train_loss: train_sum / f64::from(n.max(1)),
            arch_loss: (arch_n > 0).then(|| arch_sum / f64::from(arch_n)),
            table_acc: genotype
                .as_ref()
                .and_then(|a| table_acc(table.as_ref(), a, Nb201Dataset::Cifar10)),
            genotype: genotype.map(|a| inputs.space.format(&a)),
            lr,
            seconds: epoch_start.elapsed().as_secs_f64(),
        };
        history.push(record.clone());
        if let Some(d) = dir {
            checkpoint::save(d, &net, &sgd, method.as_ref(), &meta, epoch, step, &history)?;
        }
        observer(&record);
    }
    // Every epoch's seconds, those of earlier processes of a resumed run included.
    let training_seconds: f64 = history.iter().map(|r| r.seconds).sum();
    let (mut outcome, pending) = choose(
        inputs,
        &net,
        method.as_mut(),
        &train_set,
        &valid_set,
        &normalize,
        table.as_ref(),
        device,
    )?;
    // The supernet's peak (training, selection, the table's trust), before anything else
    // is built.
    let supernet_peak = archer_train::memory::peak_rss_mib();
    let supernet_params = net.params();
    let single_batches = fixed_batches(&train_set, 4 * batch, batch, &normalize, device);
    drop(method);
    drop(sgd);
    drop(net);
    single_cost::release_freed_memory();
    tch::manual_seed(derive(inputs.seed ^ SINGLE_STREAM, 0));
    let supernet_kind = crate::supernet::supernet_kind(inputs.space.name());
    let single = single_cost::measure(
        inputs.space.as_ref(),
        &outcome.arch,
        &NetworkConfig {
            channels: u64::try_from(s.channels).ok(),
            depth: supernet_kind.and_then(|k| (k.network_depth)(s.depth_for(inputs.space.name()))),
            ..NetworkConfig::default()
        },
        train_set.shape,
        train_set.classes as i64,
        device,
        &recipe,
        &single_batches,
    )?;
    drop(single_batches);
    if let Some(epochs) = s.trust.as_ref().and_then(|t| t.retrain_epochs) {
        drop(session);
        retrain_trust(inputs, pending, epochs, &mut outcome.metrics)?;
    }
    let m = &mut outcome.metrics;
    // The search: supernet training and the selection (not the trust measurement).
    let search_seconds = training_seconds + m.get("selection_seconds").copied().unwrap_or(0.0);
    m.insert("search_seconds".into(), search_seconds);
    m.insert("training_seconds".into(), training_seconds);
    let step_ms = 1e3 * training_seconds / (step.max(1) as f64);
    m.insert("step_ms".into(), step_ms);
    if let Some(e) = stopped_after {
        // The budget ended training early: the epochs it trained, of `epochs`.
        m.insert("stopped_by_budget_after_epoch".into(), f64::from(e));
    }
    if let Some(mib) = supernet_peak {
        m.insert("peak_rss_mib".into(), mib);
    }
    m.insert("supernet_params_m".into(), supernet_params as f64 / 1e6);
    m.insert("single_step_ms".into(), single.step_ms);
    m.insert("step_ratio".into(), step_ms / single.step_ms);
    let supernet_memory = supernet_peak
        .zip(resident_before)
        .map(|(peak, before)| (peak - before as f64).max(0.0));
    if let Some(mib) = supernet_memory {
        m.insert("supernet_memory_mib".into(), mib);
    }
    if let Some(mib) = single.memory_mib {
        m.insert("single_memory_mib".into(), mib);
        if let Some(supernet) = supernet_memory.filter(|_| mib > 0.0) {
            m.insert("memory_ratio".into(), supernet / mib);
        }
    }
    outcome.epochs = history;
    outcome.checkpoint_ignored = ignored;
    outcome.resumed_from_epoch = (start_epoch > 0).then_some(start_epoch);
    if let Some(d) = dir {
        write_outcome(d, &outcome)?;
    }
    Ok(outcome)
}

/// The weights' recipe as `archer-train`'s SGD takes it.
fn weight_recipe(s: &OneShotSettings, cfg: &TrainConfig) -> TrainConfig {
    let w = &s.weights;
    TrainConfig {
        lr: w.lr,
        min_lr: w.min_lr,
        momentum: w.momentum,
        nesterov: w.nesterov,
        weight_decay: w.weight_decay,
        grad_clip: w.grad_clip,
        batch_size: w.batch_size,
        warmup_epochs: 0.0,
        // Shared weights are not averaged: a sub-network is evaluated on the live ones.
        ema_decay: 0.0,
        ..cfg.clone()
    }
}

fn derive(seed: u64, epoch: u32) -> i64 {
    (Rng::derive(seed, u64::from(epoch)).next_u64() & i64::MAX as u64) as i64
}

fn epoch_seed(seed: u64, epoch: u32, pass: u64) -> u64 {
    Rng::derive(seed, (u64::from(epoch) << 20) | pass).next_u64()
}

fn check_limits(
    t: &TrainSettings,
    method: &str,
    started: Instant,
    epoch: u32,
) -> Result<(), OneShotError> {
    if let Some(limit_s) = t.time_limit_seconds {
        let elapsed_s = started.elapsed().as_secs_f64();
        if elapsed_s > limit_s {
            return Err(OneShotError::TimeLimit {
                method: method.into(),
                limit_s,
                elapsed_s,
                epoch,
            });
        }
    }
    if let Some(limit_mb) = t.memory_limit_mb {
        let rss_mb = archer_train::memory::resident_mb().unwrap_or(0);
        if rss_mb > limit_mb {
            return Err(OneShotError::MemoryLimit {
                method: method.into(),
                limit_mb,
                rss_mb,
                epoch,
            });
        }
    }
    Ok(())
}

fn table_acc(table: Option<&Nb201Table>, arch: &Arch, dataset: Nb201Dataset) -> Option<f64> {
    table?.record(arch, dataset).map(|r| r.test_acc)
}

/// The first `n` images of `set` in order, normalised, in batches of `batch`.
fn fixed_batches(
    set: &Arc<ImageSet>,
    n: usize,
    batch: usize,
    normalize: &Normalize,
    device: Device,
) -> Vec<(Tensor, Tensor)> {
    let n = n.min(set.len());
    let indices: Vec<usize> = (0..n).collect();
    let subset = Arc::new(set.subset(&indices));
    BatchLoader::new(
        subset,
        batch,
        None,
        archer_eval::Augment::default(),
        normalize.clone(),
        2,
        false,
    )
    .map(|b| (b.images.to_device(device), b.labels.to_device(device)))
    .collect()
}

/// A trust sample scored on the shared weights (recalibrated, then with running
/// statistics) whose truth is still to be measured by retraining.
type PendingTrust = Vec<(Arch, [f64; 2])>;

/// The architecture chosen, scored on the shared weights, and the supernet's trust (or,
/// without a table, the trust sample's scores for [`retrain_trust`]).
#[allow(clippy::too_many_arguments)]
fn choose(
    inputs: &SearchInputs,
    net: &Supernet,
    method: &mut dyn Method,
    train: &Arc<ImageSet>,
    valid: &Arc<ImageSet>,
    normalize: &Normalize,
    table: Option<&Nb201Table>,
    device: Device,
) -> Result<(Outcome, PendingTrust), OneShotError> {
    let s = inputs.settings;
    let batch = inputs.train.training.eval_batch_size;
    let scoring = fixed_batches(valid, s.scoring.images, batch, normalize, device);
    let recal_images = (s.scoring.recalibration_images > 0).then(|| {
        let batches = fixed_batches(
            train,
            s.scoring.recalibration_images,
            batch,
            normalize,
            device,
        );
        Tensor::cat(&batches.iter().map(|b| &b.0).collect::<Vec<_>>(), 0)
    });
    let recal = recal_images.as_ref();
    let mut rng = Rng::derive(inputs.seed ^ SELECT_STREAM, 0);
    let started = Instant::now();
    let selection = method.select(
        net,
        inputs.space.as_ref(),
        &mut |a: &Arch| score(net, a, recal, &scoring),
        &mut rng,
        s.finalists.max(1),
    )?;
    let (arch, scored) = (selection.choice().clone(), selection.scored);
    let finalists: Vec<Finalist> = if s.finalists == 0 {
        Vec::new()
    } else {
        selection
            .ranked
            .iter()
            .enumerate()
            .map(|(rank, (a, score))| Finalist {
                rank,
                arch: a.clone(),
                genotype: inputs.space.format(a),
                score: *score,
            })
            .collect()
    };
    inputs
        .space
        .check(&arch)
        .map_err(|e| OneShotError::Setting(format!("the derived architecture: {e}")))?;
    let valid_acc = score(net, &arch, recal, &scoring)?;
    let mut metrics = BTreeMap::new();
    metrics.insert("valid_acc".to_string(), 100.0 * valid_acc);
    metrics.insert(
        "supernet_valid_acc_no_recal".to_string(),
        100.0 * score(net, &arch, None, &scoring)?,
    );
    metrics.insert("selection_scored".to_string(), scored as f64);
    metrics.insert(
        "selection_seconds".to_string(),
        started.elapsed().as_secs_f64(),
    );
    if let Some(table) = table {
        for (key, dataset) in [
            ("test_acc_cifar10", Nb201Dataset::Cifar10),
            ("test_acc_cifar100", Nb201Dataset::Cifar100),
            ("test_acc_imagenet16", Nb201Dataset::ImageNet16),
        ] {
            if let Some(acc) = table_acc(Some(table), &arch, dataset) {
                metrics.insert(key.to_string(), acc);
            }
        }
    }
    // Supernet trust: the sample scored on the shared weights, with and without
    // recalibration; the truth is the table's, or (without a table) a brief retraining
    // that `search` runs once the training lock is released.
    let mut pending = Vec::new();
    if let Some(t) = &s.trust {
        let started = Instant::now();
        let trust_batches = match t.images {
            Some(n) if n < s.scoring.images => fixed_batches(valid, n, batch, normalize, device),
            _ => scoring
                .iter()
                .map(|(x, y)| (x.shallow_clone(), y.shallow_clone()))
                .collect(),
        };
        let trust_images: i64 = trust_batches.iter().map(|(_, y)| y.size()[0]).sum();
        let sample: Vec<(Arch, Option<f64>)> = match table {
            Some(table) => stratified_sample(
                table,
                Nb201Dataset::Cifar10,
                t.sample,
                &mut Rng::derive(TRUST_SEED, 0),
            )?
            .into_iter()
            .map(|(a, acc)| (a, Some(acc)))
            .collect(),
            None => uniform_sample(
                inputs.space.as_ref(),
                t.sample,
                &mut Rng::derive(TRUST_SEED, 1),
            )?
            .into_iter()
            .map(|a| (a, None))
            .collect(),
        };
        let mut scored = Vec::with_capacity(sample.len());
        for (a, truth) in sample {
            let with = score(net, &a, recal, &trust_batches)?;
            let without = score(net, &a, None, &trust_batches)?;
            scored.push((a, [with, without], truth));
        }
        metrics.insert("trust_cells".into(), scored.len() as f64);
        metrics.insert("trust_images".into(), trust_images as f64);
        metrics.insert("trust_seconds".into(), started.elapsed().as_secs_f64());
        if table.is_some() {
            let truth: Vec<f64> = scored
                .iter()
                .map(|(_, _, t)| t.unwrap_or(f64::NAN))
                .collect();
            let scores: Vec<[f64; 2]> = scored.iter().map(|(_, s, _)| *s).collect();
            insert_trust(&mut metrics, &scores, &truth);
        } else {
            pending = scored.into_iter().map(|(a, sc, _)| (a, sc)).collect();
        }
    }
    let alpha = method.has_alpha().then(|| {
        let a = net.alpha.to_kind(Kind::Double).to_device(Device::Cpu);
        Vec::<Vec<f64>>::try_from(a).unwrap_or_default()
    });
    Ok((
        Outcome {
            method: inputs.method.to_string(),
            genotype: inputs.space.format(&arch),
            arch,
            metrics,
            alpha,
            epochs: Vec::new(),
            checkpoint_ignored: None,
            resumed_from_epoch: None,
            finalists,
        },
        pending,
    ))
}

/// Kendall τ, Spearman ρ and precision at the top 5 % of `scores` (per architecture: batch
/// norms recalibrated, then running statistics, `_no_recal`) against `truth`.
fn insert_trust(metrics: &mut BTreeMap<String, f64>, scores: &[[f64; 2]], truth: &[f64]) {
    for (suffix, which) in [("", 0), ("_no_recal", 1)] {
        let scores: Vec<f64> = scores.iter().map(|s| s[which]).collect();
        let t = trust(&scores, truth);
        metrics.insert(format!("kendall_tau{suffix}"), t.kendall_tau);
        metrics.insert(format!("spearman_rho{suffix}"), t.spearman_rho);
        metrics.insert(format!("precision_top5{suffix}"), t.precision_top5);
    }
}

/// Trust against a brief retraining (no table): each sampled architecture trained from
/// scratch for `epochs` by the `train` evaluator, its validation accuracy the truth. Call it
/// without the training lock: the evaluator takes it for each training.
fn retrain_trust(
    inputs: &SearchInputs,
    pending: PendingTrust,
    epochs: u32,
    metrics: &mut BTreeMap<String, f64>,
) -> Result<(), OneShotError> {
    use archer_eval::Evaluator;
    let started = Instant::now();
    let evaluator = archer_train::TrainEvaluator::new(inputs.train.clone(), inputs.space.clone())?;
    let fidelity = archer_core::Fidelity {
        epochs: Some(epochs),
        ..archer_core::Fidelity::default()
    };
    let mut truth = Vec::with_capacity(pending.len());
    for (i, (arch, _)) in pending.iter().enumerate() {
        let seed = Rng::derive(inputs.seed ^ TRUST_STREAM, i as u64).next_u64();
        let mut ctx = archer_core::TrialCtx::new(i as u64, seed);
        let m = evaluator.evaluate(arch, &fidelity, &mut ctx).map_err(|e| {
            OneShotError::Setting(format!(
                "trust: retraining {}: {e}",
                inputs.space.format(arch)
            ))
        })?;
        truth.push(m.get("valid_acc").unwrap_or(f64::NAN));
    }
    let scores: Vec<[f64; 2]> = pending.iter().map(|(_, s)| *s).collect();
    insert_trust(metrics, &scores, &truth);
    metrics.insert("trust_retrain_epochs".into(), f64::from(epochs));
    let scoring = metrics.get("trust_seconds").copied().unwrap_or(0.0);
    metrics.insert(
        "trust_seconds".into(),
        scoring + started.elapsed().as_secs_f64(),
    );
    Ok(())
}

fn write_outcome(dir: &Path, outcome: &Outcome) -> Result<(), OneShotError> {
    let path = dir.join(OUTCOME_FILE);
    let partial: PathBuf = dir.join(format!("{OUTCOME_FILE}.partial"));
    let text = serde_json::to_string_pretty(outcome).map_err(|e| OneShotError::io(&path, e))?;
    std::fs::write(&partial, text).map_err(|e| OneShotError::io(&partial, e))?;
    std::fs::rename(&partial, &path).map_err(|e| OneShotError::io(&path, e))
}
