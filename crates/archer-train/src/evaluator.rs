//! The `train` evaluator: builds each candidate's network, trains it on the training split
//! and reports its validation accuracy, size, training time and latency.

use std::sync::Arc;
use std::time::Instant;

use archer_core::{metric, Arch, Direction, Fidelity, MetricSpec, Metrics, Report, TrialCtx};
use archer_eval::{EvalError, Evaluator, TrainSettings};
use archer_space::SearchSpace;
use tch::{Kind, Tensor};

use crate::checkpoint::{self, CheckpointMeta, Loaded};
use crate::data::{load_data, ImageSet, LoadedData, Normalize};
use crate::net::trainable_spaces;
use crate::sgd::Sgd;
use crate::train::{device, train, Limits, Start};
use crate::{Network, TrainError};

/// Metric names this evaluator adds to the common ones.
pub mod metrics {
    pub const VALID_LOSS: &str = "valid_loss";
    pub const TRAIN_ACC: &str = "train_acc";
    pub const TRAIN_LOSS: &str = "train_loss";
    /// Median forward time of one image (batch 1), milliseconds.
    pub const LATENCY_MS_B1: &str = "latency_ms";
    /// Median forward time of a batch of 64, milliseconds.
    pub const LATENCY_MS_B64: &str = "latency_ms_b64";
    pub const EPOCHS: &str = "epochs";
    /// Seconds this evaluation spent building the network and loading its checkpoint.
    pub const CHECKPOINT_LOAD_SECONDS: &str = "checkpoint_load_seconds";
    /// The process's peak resident memory while the trial trained, MiB (Linux), measured
    /// after every epoch: a `[[constraint]]` on it stops the trial at its first epoch.
    pub const PEAK_RSS_MIB: &str = "peak_rss_mib";
}

/// The seed of the train/valid split: fixed, so every trial of every study on the same
/// data is validated on the same images.
pub const SPLIT_SEED: u64 = 0x5eed;

/// Trains candidates on real data.
pub struct TrainEvaluator {
    settings: TrainSettings,
    space: Arc<dyn SearchSpace>,
    data: LoadedData,
    train: Arc<ImageSet>,
    valid: Arc<ImageSet>,
    normalize: Normalize,
}

impl From<TrainError> for EvalError {
    fn from(e: TrainError) -> Self {
        match e {
            TrainError::Pruned { epoch } => EvalError::Pruned { step: epoch },
            TrainError::Setting(s) => EvalError::InvalidSetting(s),
            TrainError::Data { path, reason } => {
                EvalError::Data(archer_eval::DataError::Corrupt { path, reason })
            }
            other => EvalError::Training(other.to_string()),
        }
    }
}

/// An evaluator's data, loaded and split as every trial sees it.
pub struct SplitData {
    pub data: LoadedData,
    /// The training part (of the data's training images).
    pub train: ImageSet,
    /// The validation part, `valid_fraction` of them, drawn with [`SPLIT_SEED`].
    pub valid: ImageSet,
    /// The training part's channel statistics.
    pub normalize: Normalize,
}

/// Loads `settings.data` and splits off the validation part, as the `train` evaluator does
/// (so one-shot search validates on the same images as trials).
pub fn split_data(settings: &TrainSettings) -> Result<SplitData, TrainError> {
    let data = load_data(&settings.data)?;
    let (train, valid) = data.train.split(settings.valid_fraction, SPLIT_SEED);
    if train.is_empty() || valid.is_empty() {
        return Err(TrainError::Setting(format!(
            "{} training images cannot be split into train and valid parts with valid_fraction = {}",
            data.train.len(),
            settings.valid_fraction
        )));
    }
    let normalize = Normalize::of(&train);
    Ok(SplitData {
        data,
        train,
        valid,
        normalize,
    })
}

impl TrainEvaluator {
    /// Loads the data and splits off the validation part. `space` is the space searched.
    pub fn new(settings: TrainSettings, space: Arc<dyn SearchSpace>) -> Result<Self, TrainError> {
        settings
            .validate()
            .map_err(|e| TrainError::Setting(e.to_string()))?;
        crate::train::device(settings.training.device)?;
        if settings.memory_limit_mb.is_some() && crate::memory::resident_mb().is_none() {
            return Err(TrainError::Setting(
                "evaluator.memory_limit_mb needs the process's resident memory, which this system does not report (/proc/self/statm)".into(),
            ));
        }
        let SplitData {
            data,
            train,
            valid,
            normalize,
        } = split_data(&settings)?;
        Ok(TrainEvaluator {
            settings,
            space,
            train: Arc::new(train),
            valid: Arc::new(valid),
            data,
            normalize,
        })
    }

    fn run(
        &self,
        arch: &Arch,
        fidelity: &Fidelity,
        ctx: &mut TrialCtx,
    ) -> Result<Metrics, TrainError> {
        let cfg = &self.settings.training;
        let epochs = fidelity.epochs.unwrap_or(cfg.epochs);
        if epochs == 0 {
            return Err(TrainError::Setting(
                "fidelity epochs must be at least 1".into(),
            ));
        }
        let fraction = self.settings.data_fraction * fidelity.data_fraction.unwrap_or(1.0);
        if !(fraction > 0.0 && fraction <= 1.0) {
            return Err(TrainError::Setting(format!(
                "fidelity data_fraction gives {fraction}; must be in (0, 1]"
            )));
        }
        let width = fidelity.width_multiplier.unwrap_or(1.0);
        let seed = ctx.seed();
        let _session = crate::torch_session(cfg.threads, Some(seed));
        let train_set = if fraction < 1.0 {
            // A stratified subset drawn by the trial's seed.
            Arc::new(self.train.fraction(fraction, seed))
        } else {
            self.train.clone()
        };
        let dev = device(cfg.device)?;
        let mut net = self.network(arch, width, dev)?;
        let limits = Limits {
            time_limit_s: self.settings.time_limit_seconds,
            memory_limit_mb: self.settings.memory_limit_mb,
        };
        let started = Instant::now();
        // This trial's peak memory counts from here (the process's other trials, if any run
        // at once, count too).
        crate::memory::reset_peak();
        let mut opt = Sgd::new(&net.vs, cfg);
        let expect = CheckpointMeta {
            format: 1,
            epoch: 0,
            step: 0,
            epochs,
            seed,
            arch: self.space.format(arch),
            tensors: String::new(),
        };
        let start = resume(ctx, &mut net, &mut opt, &expect)?;
        let inherited = ctx.inheritance().cloned();
        if let Some(inherited) = inherited.filter(|_| start == Start::default()) {
            if let Err(why) = self.inherit(ctx, &inherited, arch, &net, width, dev) {
                // Refused or partly copied: train from a freshly built network instead.
                ctx.set_attr("inherit_refused", serde_json::json!(why));
                net = self.network(arch, width, dev)?;
                opt = Sgd::new(&net.vs, cfg);
            }
        }
        let load_seconds = started.elapsed().as_secs_f64();
        if start.epoch >= epochs {
            return Err(TrainError::Setting(format!(
                "the trial's checkpoint has all {epochs} epochs already"
            )));
        }
        let mut pruned_at = None;
        let mut charged = load_seconds;
        ctx.charge_seconds(load_seconds);
        let dir = ctx.checkpoint_dir().map(|d| d.to_path_buf());
        let reports = train(
            &mut net,
            &mut opt,
            cfg,
            epochs,
            start,
            train_set,
            Some(self.valid.clone()),
            &self.normalize,
            seed,
            limits,
            &mut |end| {
                let r = end.report;
                // Saved before the report: a pause at this epoch, or a kill after it,
                // continues from here.
                if let Some(dir) = &dir {
                    let meta = CheckpointMeta {
                        epoch: r.epoch,
                        step: end.step,
                        tensors: checkpoint::tensors_name(r.epoch),
                        ..expect.clone()
                    };
                    checkpoint::save(dir, end.net, end.opt, &meta)?;
                }
                let elapsed = started.elapsed().as_secs_f64();
                ctx.charge_seconds(elapsed - charged);
                charged = elapsed;
                if let Some(mib) = crate::memory::peak_rss_mib() {
                    ctx.measure(metrics::PEAK_RSS_MIB, mib);
                }
                let acc = r.valid.map_or(f64::NAN, |v| v.accuracy);
                Ok(match ctx.report(r.epoch, acc) {
                    Report::Continue => true,
                    Report::Prune => {
                        pruned_at = Some(r.epoch);
                        false
                    }
                })
            },
        )?;
        if let Some(epoch) = pruned_at {
            return Err(TrainError::Pruned { epoch });
        }
        let seconds = started.elapsed().as_secs_f64();
        let last = reports.last().expect("at least one epoch");
        let valid = last.valid.expect("validated every epoch");
        let mut m = Metrics::new()
            .with(metric::VALID_ACC, valid.accuracy)
            .with(metrics::VALID_LOSS, valid.loss)
            .with(metrics::TRAIN_ACC, last.train.accuracy)
            .with(metrics::TRAIN_LOSS, last.train.loss)
            .with(metric::PARAMS_M, net.params() as f64 / 1e6)
            .with(metric::FLOPS_M, net.flops() as f64 / 1e6)
            .with(metric::TRAIN_SECONDS, seconds)
            .with(metrics::CHECKPOINT_LOAD_SECONDS, load_seconds)
            .with(metrics::EPOCHS, last.epoch as f64);
        if self.settings.measure_latency {
            let s = self.train.shape;
            m.insert(
                metrics::LATENCY_MS_B1,
                latency_ms(&net, [1, s.c, s.h, s.w], 10),
            );
            m.insert(
                metrics::LATENCY_MS_B64,
                latency_ms(&net, [64, s.c, s.h, s.w], 3),
            );
        }
        Ok(m)
    }
}

impl TrainEvaluator {
    /// The network of `arch` for this evaluator's data and recipe, channels scaled by `width`.
    fn network(&self, arch: &Arch, width: f64, dev: tch::Device) -> Result<Network, TrainError> {
        Network::build(
            self.space.as_ref(),
            arch,
            &self.settings.network,
            self.train.shape,
            self.train.classes as i64,
            width,
            dev,
        )
    }

    /// Sets `net`'s weights from the trained parent `inherited` so that it computes the
    /// parent's function (network morphism on the chain space). Records
    /// `inherited_from` (the parent trial) when it did, `inherit_missing` when the parent's
    /// checkpoint is gone (the network stays as built: it trains from scratch); an error is
    /// the reason the weights could not be carried over (the network may be partly
    /// overwritten and must be built again).
    fn inherit(
        &self,
        ctx: &mut TrialCtx,
        inherited: &archer_core::Inherited,
        arch: &Arch,
        net: &Network,
        width: f64,
        dev: tch::Device,
    ) -> Result<(), String> {
        let chain = self.space.as_chain().ok_or_else(|| {
            format!(
                "the {} space has no weight-preserving morphs",
                self.space.name()
            )
        })?;
        let mut parent = self
            .network(&inherited.arch, width, dev)
            .map_err(|e| e.to_string())?;
        let parent_text = self.space.format(&inherited.arch);
        match checkpoint::load_weights(&inherited.checkpoint_dir, &mut parent, &parent_text)
            .map_err(|e| e.to_string())?
        {
            Loaded::Resumed { .. } => {}
            Loaded::None => {
                ctx.set_attr("inherit_missing", serde_json::Value::Bool(true));
                return Ok(());
            }
            Loaded::Ignored(why) => return Err(format!("the parent's checkpoint: {why}")),
        }
        let mut rng = archer_rng::Rng::derive(ctx.seed(), inherited.parent);
        crate::morph::inherit(chain, &parent, &inherited.arch, net, arch, &mut rng)
            .map_err(|e| e.to_string())?;
        ctx.set_attr("inherited_from", serde_json::json!(inherited.parent));
        Ok(())
    }
}

/// Where the trial's run starts: from its checkpoint when the folder holds one of this run
/// (a paused trial promoted, or one whose process was killed), else from scratch. What
/// happened is recorded in the trial's attributes: `resumed_from_epoch`, or
/// `checkpoint_missing` (a promoted trial whose checkpoint was dropped or never written
/// trains again from scratch), or `checkpoint_ignored` with the reason.
fn resume(
    ctx: &mut TrialCtx,
    net: &mut Network,
    opt: &mut Sgd,
    expect: &CheckpointMeta,
) -> Result<Start, TrainError> {
    let loaded = match ctx.checkpoint_dir() {
        Some(dir) => checkpoint::load(dir, net, opt, expect)?,
        None => Loaded::None,
    };
    match loaded {
        Loaded::Resumed { epoch, step } => {
            ctx.set_attr("resumed_from_epoch", serde_json::json!(epoch));
            return Ok(Start { epoch, step });
        }
        Loaded::Ignored(why) => ctx.set_attr("checkpoint_ignored", serde_json::json!(why)),
        Loaded::None => {}
    }
    if ctx.resume_step().is_some() {
        ctx.set_attr("checkpoint_missing", serde_json::Value::Bool(true));
    }
    Ok(Start::default())
}

/// Median forward time (evaluation mode, no gradients) over `repeats` runs after one
/// warm-up run, in milliseconds.
pub fn latency_ms(net: &Network, shape: [i64; 4], repeats: usize) -> f64 {
    let _guard = tch::no_grad_guard();
    let x = Tensor::zeros(shape, (Kind::Float, net.vs.device()));
    median_ms(repeats, 1, || {
        let y = net.forward_t(&x, false);
        if let tch::Device::Cuda(_) = y.device() {
            tch::Cuda::synchronize(0);
        }
    })
}

/// The median wall time of `repeats` runs of `f` (at least one) after `warmup` untimed
/// runs, in milliseconds.
pub fn median_ms(repeats: usize, warmup: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..warmup {
        f();
    }
    let mut times: Vec<f64> = (0..repeats.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let n = times.len();
    if n % 2 == 1 {
        times[n / 2]
    } else {
        (times[n / 2 - 1] + times[n / 2]) / 2.0
    }
}

impl Evaluator for TrainEvaluator {
    fn name(&self) -> &str {
        "train"
    }

    fn metrics(&self) -> Vec<MetricSpec> {
        use Direction::{Maximize, Minimize};
        vec![
            MetricSpec::new(
                metric::VALID_ACC,
                Maximize,
                false,
                "validation accuracy after training, percent",
            ),
            MetricSpec::new(
                metrics::VALID_LOSS,
                Minimize,
                false,
                "validation cross-entropy",
            ),
            MetricSpec::new(
                metrics::TRAIN_ACC,
                Maximize,
                false,
                "training accuracy of the last epoch, percent",
            ),
            MetricSpec::new(
                metrics::TRAIN_LOSS,
                Minimize,
                false,
                "training loss of the last epoch",
            ),
            MetricSpec::new(
                metric::PARAMS_M,
                Minimize,
                false,
                "trainable parameters, millions",
            ),
            MetricSpec::new(
                metric::FLOPS_M,
                Minimize,
                false,
                "forward FLOPs per image, millions",
            ),
            MetricSpec::new(
                metric::TRAIN_SECONDS,
                Minimize,
                false,
                "wall seconds of training",
            ),
            MetricSpec::new(
                metrics::PEAK_RSS_MIB,
                Minimize,
                false,
                "the process's peak resident memory while the trial trained, MiB (Linux)",
            ),
            MetricSpec::new(
                metrics::LATENCY_MS_B1,
                Minimize,
                false,
                "median forward time at batch 1 on this machine, ms",
            ),
            MetricSpec::new(
                metrics::LATENCY_MS_B64,
                Minimize,
                false,
                "median forward time at batch 64 on this machine, ms",
            ),
        ]
    }

    fn evaluate(
        &self,
        arch: &Arch,
        fidelity: &Fidelity,
        ctx: &mut TrialCtx,
    ) -> Result<Metrics, EvalError> {
        if arch.space != self.space.name() {
            return Err(EvalError::WrongSpace {
                evaluator: "train".into(),
                space: arch.space.clone(),
            });
        }
        Ok(self.run(arch, fidelity, ctx)?)
    }

    /// One report per epoch: a full evaluation is `training.epochs` of them (the top rung of
    /// a multi-fidelity scheduler, over which the learning-rate schedule runs).
    fn full_steps(&self) -> Option<u32> {
        Some(self.settings.training.epochs)
    }

    fn check_space(&self, space: &dyn SearchSpace) -> Result<(), EvalError> {
        match space.name() {
            name if trainable_spaces().contains(&name) => Ok(()),
            other => Err(EvalError::WrongSpace {
                evaluator: "train".into(),
                space: other.into(),
            }),
        }
    }

    fn provenance(&self) -> serde_json::Value {
        serde_json::json!({
            "evaluator": "train",
            "settings": self.settings,
            "data_files_sha256": self.data.files,
            "data_fingerprint": self.data.fingerprint(),
            "train_images": self.train.len(),
            "valid_images": self.valid.len(),
            "test_images": self.data.test.len(),
            "split_seed": SPLIT_SEED,
            "normalize": self.normalize,
            "libtorch": crate::LIBTORCH_VERSION,
            "tch": "0.26",
        })
    }
}

/// `[evaluator] kind = "train"`: real training of each candidate ([`TrainEvaluator`]).
pub static TRAIN: archer_eval::EvalKind<TrainSettings> =
    archer_eval::EvalKind::new("train", |settings: &TrainSettings, ctx| {
        let evaluator = TrainEvaluator::new(settings.clone(), ctx.space.clone())
            .map_err(archer_eval::EvalError::from)?;
        Ok(Arc::new(evaluator))
    });
