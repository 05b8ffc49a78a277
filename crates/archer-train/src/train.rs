//! The training loop: SGD with momentum and weight decay, warm-up then cosine learning
//! rate per step, optional gradient clipping and label smoothing, one report per epoch.

use std::sync::Arc;
use std::time::Instant;

use archer_eval::{DeviceChoice, TrainConfig};
use tch::{Device, Kind, Reduction, Tensor};

use crate::data::{BatchLoader, ImageSet, Normalize};
use crate::sgd::Sgd;
use crate::{Network, TrainError};

/// The device `choice` names, checking that CUDA is there when asked for.
pub fn device(choice: DeviceChoice) -> Result<Device, TrainError> {
    match choice {
        DeviceChoice::Cpu => Ok(Device::Cpu),
        DeviceChoice::Auto => Ok(Device::cuda_if_available()),
        DeviceChoice::Cuda if tch::Cuda::is_available() => Ok(Device::Cuda(0)),
        DeviceChoice::Cuda => Err(TrainError::Setting(
            "training.device = \"cuda\" but libtorch sees no CUDA device".into(),
        )),
    }
}

/// The learning rate at `step` of `total`: linear warm-up over `warmup` steps, then
/// cosine decay from `lr` to `min_lr`.
pub fn learning_rate(cfg: &TrainConfig, step: u64, warmup: u64, total: u64) -> f64 {
    if step < warmup {
        return cfg.lr * (step + 1) as f64 / warmup as f64;
    }
    let span = total.saturating_sub(warmup).max(1) as f64;
    let t = ((step - warmup) as f64 / span).min(1.0);
    cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1.0 + (std::f64::consts::PI * t).cos())
}

/// Loss and accuracy (percent) of one pass.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PassStats {
    pub loss: f64,
    pub accuracy: f64,
}

/// What one epoch produced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochReport {
    /// 1-based.
    pub epoch: u32,
    pub train: PassStats,
    /// `None` when no validation set was given.
    pub valid: Option<PassStats>,
    /// Learning rate at the epoch's last step.
    pub lr: f64,
    pub seconds: f64,
    /// Seconds the training loop waited for the loader thread's next batch (data loading
    /// that prefetching did not hide).
    pub loader_wait_seconds: f64,
}

/// Stops a run that grows past its time or memory budget.
#[derive(Clone, Copy, Debug, Default)]
pub struct Limits {
    pub time_limit_s: Option<f64>,
    pub memory_limit_mb: Option<u64>,
}

impl Limits {
    fn check(&self, started: Instant, epoch: u32) -> Result<(), TrainError> {
        let elapsed_s = started.elapsed().as_secs_f64();
        if let Some(limit_s) = self.time_limit_s {
            if elapsed_s > limit_s {
                return Err(TrainError::TimeLimit {
                    limit_s,
                    elapsed_s,
                    epoch,
                });
            }
        }
        // Read /proc only when there is a limit: this runs after every step. (The evaluator
        // refuses a memory limit where the resident set cannot be read.)
        if let Some(limit_mb) = self.memory_limit_mb {
            let rss_mb = crate::memory::resident_mb().unwrap_or(0);
            if rss_mb > limit_mb {
                return Err(TrainError::MemoryLimit {
                    limit_mb,
                    rss_mb,
                    epoch,
                });
            }
        }
        Ok(())
    }
}

/// Where a run starts: from scratch, or after `epoch` epochs and `step` optimizer steps of
/// a checkpoint (the network and optimizer already hold that state).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Start {
    pub epoch: u32,
    pub step: u64,
}

/// What the caller sees at the end of each epoch: the report, and the state to checkpoint.
pub struct EpochEnd<'a> {
    pub report: &'a EpochReport,
    pub net: &'a Network,
    pub opt: &'a Sgd,
    /// Optimizer steps done so far.
    pub step: u64,
}

/// Cross-entropy with label smoothing, plus the auxiliary head's loss when there is one, in
/// training mode: (loss, logits).
pub(crate) fn loss(
    net: &Network,
    images: &Tensor,
    labels: &Tensor,
    smoothing: f64,
) -> (Tensor, Tensor) {
    let (logits, aux) = net.forward_aux(images, true);
    let ce =
        |l: &Tensor| l.cross_entropy_loss::<Tensor>(labels, None, Reduction::Mean, -100, smoothing);
    let mut total = ce(&logits);
    if let Some(aux) = aux {
        total += ce(&aux) * net.auxiliary_weight();
    }
    (total, logits)
}

/// Trains `net` with `opt` on `train` for `epochs` epochs (a schedule of that length),
/// starting at `start`, validating on `valid` after each; the batches' order, their
/// augmentation and torch's generator come from `seed` and the epoch, so a run continued
/// from a checkpoint computes what an uninterrupted one does. `on_epoch` sees every
/// epoch's end and returns `false` to stop (a pruner). With a weight average
/// (`cfg.ema_decay > 0`), validation evaluates the average, and once the last epoch of the
/// schedule is done the network holds the average. Returns the reports of the epochs run.
#[allow(clippy::too_many_arguments)]
pub fn train(
    net: &mut Network,
    opt: &mut Sgd,
    cfg: &TrainConfig,
    epochs: u32,
    start: Start,
    train: Arc<ImageSet>,
    valid: Option<Arc<ImageSet>>,
    normalize: &Normalize,
    seed: u64,
    limits: Limits,
    on_epoch: &mut dyn FnMut(&EpochEnd) -> Result<bool, TrainError>,
) -> Result<Vec<EpochReport>, TrainError> {
    let started = Instant::now();
    let device = net.vs.device();
    let steps_per_epoch = if train.len() >= cfg.batch_size {
        (train.len() / cfg.batch_size) as u64
    } else {
        1
    };
    let total = steps_per_epoch * epochs as u64;
    let warmup = (cfg.warmup_epochs * steps_per_epoch as f64).round() as u64;
    let mut step = start.step;
    let mut reports = Vec::new();
    for epoch in start.epoch + 1..=epochs {
        let epoch_start = Instant::now();
        // Drop-path masks and any other draw of torch's generator, per epoch.
        tch::manual_seed(
            (archer_rng::Rng::derive(seed ^ TORCH_STREAM, epoch as u64).next_u64()
                & i64::MAX as u64) as i64,
        );
        let mut loader = BatchLoader::new(
            train.clone(),
            cfg.batch_size,
            Some(archer_rng::Rng::derive(seed, epoch as u64).next_u64()),
            cfg.augment.clone(),
            normalize.clone(),
            cfg.prefetch,
            true,
        );
        let (mut loss_sum, mut correct, mut seen) = (0f64, 0i64, 0i64);
        let mut lr = cfg.lr;
        let mut loader_wait_seconds = 0.0;
        loop {
            let waited = Instant::now();
            let Some(batch) = loader.next() else {
                break;
            };
            loader_wait_seconds += waited.elapsed().as_secs_f64();
            lr = learning_rate(cfg, step, warmup, total);
            opt.set_lr(lr);
            let images = batch.images.to_device(device);
            let labels = batch.labels.to_device(device);
            let (l, logits) = loss(net, &images, &labels, cfg.label_smoothing);
            let lv = l.double_value(&[]);
            if !lv.is_finite() {
                return Err(TrainError::Diverged {
                    loss: lv,
                    epoch,
                    step,
                });
            }
            opt.zero_grad();
            l.backward();
            if cfg.grad_clip > 0.0 {
                opt.clip_grad_norm(cfg.grad_clip);
            }
            opt.step();
            let n = labels.size()[0];
            loss_sum += lv * n as f64;
            correct += logits
                .argmax(1, false)
                .eq_tensor(&labels)
                .sum(Kind::Int64)
                .int64_value(&[]);
            seen += n;
            step += 1;
            limits.check(started, epoch)?;
        }
        loader.finish()?;
        let train_stats = PassStats {
            loss: loss_sum / seen.max(1) as f64,
            accuracy: 100.0 * correct as f64 / seen.max(1) as f64,
        };
        // With a weight average (`ema_decay`), the average is what is validated.
        let valid_stats = match &valid {
            Some(v) => Some(opt.with_average(|| {
                evaluate(net, v.clone(), normalize, cfg.eval_batch_size, cfg.prefetch)
            })?),
            None => None,
        };
        let report = EpochReport {
            epoch,
            train: train_stats,
            valid: valid_stats,
            lr,
            seconds: epoch_start.elapsed().as_secs_f64(),
            loader_wait_seconds,
        };
        reports.push(report);
        let end = EpochEnd {
            report: &report,
            net,
            opt,
            step,
        };
        if !on_epoch(&end)? {
            break;
        }
    }
    if reports.last().is_some_and(|r| r.epoch == epochs) {
        // The schedule is done: the trained model is the weight average, when kept.
        opt.adopt_average();
    }
    Ok(reports)
}

/// Seed stream of torch's generator during training, apart from the data order's.
const TORCH_STREAM: u64 = 0x0054_4f52_4348; // "TORCH"

/// Loss and accuracy of `net` (in evaluation mode) on `set`.
pub fn evaluate(
    net: &Network,
    set: Arc<ImageSet>,
    normalize: &Normalize,
    batch_size: usize,
    prefetch: usize,
) -> Result<PassStats, TrainError> {
    let device = net.vs.device();
    let n = set.len().max(1) as f64;
    let mut loader = BatchLoader::new(
        set,
        batch_size,
        None,
        Default::default(),
        normalize.clone(),
        prefetch,
        false,
    );
    let _guard = tch::no_grad_guard();
    let (mut loss_sum, mut correct) = (0f64, 0i64);
    for batch in loader.by_ref() {
        let images = batch.images.to_device(device);
        let labels = batch.labels.to_device(device);
        let logits = net.forward_t(&images, false);
        loss_sum += logits
            .cross_entropy_loss::<Tensor>(&labels, None, Reduction::Sum, -100, 0.0)
            .double_value(&[]);
        correct += logits
            .argmax(1, false)
            .eq_tensor(&labels)
            .sum(Kind::Int64)
            .int64_value(&[]);
    }
    loader.finish()?;
    Ok(PassStats {
        loss: loss_sum / n,
        accuracy: 100.0 * correct as f64 / n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_learning_rate_warms_up_linearly_then_decays_by_cosine() {
        let cfg = TrainConfig {
            lr: 0.1,
            min_lr: 0.001,
            ..TrainConfig::default()
        };
        // 10 warm-up steps of 110.
        assert!((learning_rate(&cfg, 0, 10, 110) - 0.01).abs() < 1e-12);
        assert!((learning_rate(&cfg, 9, 10, 110) - 0.1).abs() < 1e-12);
        assert!((learning_rate(&cfg, 10, 10, 110) - 0.1).abs() < 1e-12);
        let mid = 0.001 + 0.5 * (0.1 - 0.001);
        assert!((learning_rate(&cfg, 60, 10, 110) - mid).abs() < 1e-12);
        assert!((learning_rate(&cfg, 110, 10, 110) - 0.001).abs() < 1e-12);
        // Without warm-up the first step has the peak rate, and the rate never rises.
        let rates: Vec<f64> = (0..50).map(|s| learning_rate(&cfg, s, 0, 50)).collect();
        assert_eq!(rates[0], 0.1);
        assert!(rates.windows(2).all(|w| w[1] <= w[0]));
    }
}
