//! Training on real (bundled) data: the loss falls, a run is bit-for-bit reproducible on the
//! CPU, the train evaluator reports its metrics and honours its limits and pruners, and a
//! saved model reloads to identical outputs, in Archer and in plain PyTorch.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use archer_core::{Fidelity, Report, TrialCtx};
use archer_eval::{DataConfig, EvalError, Evaluator, NetworkConfig, TrainConfig, TrainSettings};
use archer_space::{ChainSpace, SearchSpace, SpaceConfig};
use archer_train::data::{load_data, Normalize};
use archer_train::export::{evaluate_model, load_model, retrain, RetrainJob, TORCHSCRIPT_FILE};
use archer_train::sgd::Sgd;
use archer_train::train::{train, Limits, Start};
use archer_train::{Network, TrainEvaluator};
use tch::{Device, Kind, Tensor};

fn mnist_small() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist-small")
}

fn write_idx_gz(path: &Path, dims: &[u32], payload: &[u8]) {
    let mut bytes = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(payload);
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&bytes).unwrap();
    std::fs::write(path, e.finish().unwrap()).unwrap();
}

/// A small real dataset: the first `train` and `test` images of the bundled MNIST subset,
/// written as IDX files into `dir`.
fn tiny_mnist(dir: &Path, train: usize, test: usize) -> DataConfig {
    let data = load_data(&DataConfig::Idx { dir: mnist_small() }).unwrap();
    for (prefix, set, n) in [("train", &data.train, train), ("t10k", &data.test, test)] {
        let sub = set.subset(&(0..n).collect::<Vec<_>>());
        write_idx_gz(
            &dir.join(format!("{prefix}-images-idx3-ubyte.gz")),
            &[n as u32, 28, 28],
            &sub.images,
        );
        let labels: Vec<u8> = sub.labels.iter().map(|&l| l as u8).collect();
        write_idx_gz(
            &dir.join(format!("{prefix}-labels-idx1-ubyte.gz")),
            &[n as u32],
            &labels,
        );
    }
    DataConfig::Idx {
        dir: dir.to_path_buf(),
    }
}

fn chain_space() -> ChainSpace {
    ChainSpace::new(Some(3), None, Some(&[3]), Some(&[16, 24])).unwrap()
}

const CHAIN_ARCH: &str = "conv:3:16|sep_conv:3:24|max_pool:3:16+0";

fn recipe(epochs: u32) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 32,
        lr: 0.05,
        threads: 2,
        ..TrainConfig::default()
    }
}

/// Trains the chain network on the first `n` bundled training images: (reports, weights).
fn train_once(
    n: usize,
    epochs: u32,
    seed: u64,
) -> (Vec<archer_train::train::EpochReport>, Vec<Tensor>) {
    let _lock = archer_train::training_lock();
    let data = load_data(&DataConfig::Idx { dir: mnist_small() }).unwrap();
    let set = Arc::new(data.train.subset(&(0..n).collect::<Vec<_>>()));
    let norm = Normalize::of(&set);
    let space = chain_space();
    let arch = space.parse(CHAIN_ARCH).unwrap();
    tch::set_num_threads(2);
    tch::manual_seed(seed as i64);
    let mut net = Network::build(
        &space,
        &arch,
        &NetworkConfig::default(),
        set.shape,
        10,
        1.0,
        Device::Cpu,
    )
    .unwrap();
    let cfg = TrainConfig {
        augment: archer_eval::Augment {
            crop_padding: 2,
            flip: false,
            cutout: 4,
        },
        ..recipe(epochs)
    };
    let mut opt = Sgd::new(&net.vs, &cfg);
    let reports = train(
        &mut net,
        &mut opt,
        &cfg,
        epochs,
        Start::default(),
        set,
        None,
        &norm,
        seed,
        Limits::default(),
        &mut |_| Ok(true),
    )
    .unwrap();
    let mut vars: Vec<(String, Tensor)> = net.vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    (reports, vars.into_iter().map(|(_, t)| t).collect())
}

#[test]
fn the_loss_falls_on_a_small_real_batch() {
    let (reports, _) = train_once(512, 8, 1);
    let first = reports.first().unwrap().train;
    let last = reports.last().unwrap().train;
    assert!(last.loss < 0.75 * first.loss, "{first:?} → {last:?}");
    assert!(
        last.accuracy > first.accuracy + 20.0,
        "{first:?} → {last:?}"
    );
}

#[test]
fn training_on_the_cpu_is_bit_reproducible_from_its_seed() {
    let (ra, wa) = train_once(256, 2, 9);
    let (rb, wb) = train_once(256, 2, 9);
    assert_eq!(
        ra.iter().map(|r| r.train).collect::<Vec<_>>(),
        rb.iter().map(|r| r.train).collect::<Vec<_>>()
    );
    assert_eq!(wa.len(), wb.len());
    for (a, b) in wa.iter().zip(&wb) {
        assert!(a.equal(b), "weights differ between two runs with one seed");
    }
    let (_, wc) = train_once(256, 2, 10);
    assert!(wa.iter().zip(&wc).any(|(a, b)| !a.equal(b)));
}

#[test]
fn with_a_weight_average_validation_and_the_finished_model_are_the_average() {
    let _lock = archer_train::training_lock();
    let data = load_data(&DataConfig::Idx { dir: mnist_small() }).unwrap();
    let train_set = Arc::new(data.train.subset(&(0..512).collect::<Vec<_>>()));
    let valid = Arc::new(data.train.subset(&(512..768).collect::<Vec<_>>()));
    let norm = Normalize::of(&train_set);
    let space = chain_space();
    let arch = space.parse(CHAIN_ARCH).unwrap();
    tch::set_num_threads(2);
    // Trains 3 epochs, or stops after `stop_after`; (reports, the network's values now).
    let run = |ema_decay: f64, stop_after: u32| {
        tch::manual_seed(3);
        let mut net = Network::build(
            &space,
            &arch,
            &NetworkConfig::default(),
            train_set.shape,
            10,
            1.0,
            Device::Cpu,
        )
        .unwrap();
        let cfg = TrainConfig {
            ema_decay,
            ..recipe(3)
        };
        let mut opt = Sgd::new(&net.vs, &cfg);
        let reports = train(
            &mut net,
            &mut opt,
            &cfg,
            3,
            Start::default(),
            train_set.clone(),
            Some(valid.clone()),
            &norm,
            3,
            Limits::default(),
            &mut |end| Ok(end.report.epoch < stop_after),
        )
        .unwrap();
        let now = archer_train::train::evaluate(
            &net,
            valid.clone(),
            &norm,
            cfg.eval_batch_size,
            cfg.prefetch,
        )
        .unwrap();
        (reports, now)
    };
    // Finished: the network holds the average, which the last epoch validated.
    let (finished, now) = run(0.95, 3);
    assert_eq!(finished.len(), 3);
    assert_eq!(finished[2].valid.unwrap(), now);
    // Stopped at epoch 2 (a rung): the average was validated, and the network keeps its
    // raw weights to go on training.
    let (stopped, raw) = run(0.95, 2);
    assert_eq!(stopped.len(), 2);
    assert_ne!(stopped[1].valid.unwrap().loss, raw.loss);
    // The average changes what is evaluated, never the training: without it, the same
    // training statistics and raw weights, and the raw weights are what is validated.
    let (plain, plain_now) = run(0.0, 2);
    let train_stats =
        |r: &[archer_train::train::EpochReport]| r.iter().map(|r| r.train).collect::<Vec<_>>();
    assert_eq!(train_stats(&plain), train_stats(&stopped));
    assert_eq!(plain[1].valid.unwrap(), plain_now);
    assert_eq!(plain_now, raw);
}

fn settings(data: DataConfig) -> TrainSettings {
    TrainSettings {
        data,
        valid_fraction: 0.25,
        data_fraction: 1.0,
        network: NetworkConfig::default(),
        training: recipe(2),
        time_limit_seconds: None,
        memory_limit_mb: None,
        measure_latency: true,
    }
}

#[test]
fn the_train_evaluator_reports_metrics_and_honours_limits_and_pruners() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_mnist(dir.path(), 400, 100);
    let space: Arc<dyn SearchSpace> = Arc::new(chain_space());
    let arch = space.parse(CHAIN_ARCH).unwrap();
    let eval = TrainEvaluator::new(settings(data.clone()), space.clone()).unwrap();
    let mut ctx = TrialCtx::new(0, 11);
    let m = eval.evaluate(&arch, &Fidelity::full(), &mut ctx).unwrap();
    for k in [
        "valid_acc",
        "valid_loss",
        "train_acc",
        "params_m",
        "flops_m",
        "train_seconds",
        "latency_ms",
        "latency_ms_b64",
    ] {
        assert!(m.get(k).is_some_and(f64::is_finite), "{k} missing in {m:?}");
    }
    assert_eq!(ctx.intermediate().len(), 2, "one report per epoch");
    // The same trial seed gives the same result.
    let again = eval
        .evaluate(&arch, &Fidelity::full(), &mut TrialCtx::new(0, 11))
        .unwrap();
    assert_eq!(again.get("valid_acc"), m.get("valid_acc"));
    // Fidelity: one epoch on half the data at half width.
    let low = Fidelity {
        epochs: Some(1),
        data_fraction: Some(0.5),
        width_multiplier: Some(0.5),
    };
    let mut ctx = TrialCtx::new(1, 11);
    let lm = eval.evaluate(&arch, &low, &mut ctx).unwrap();
    assert_eq!(ctx.intermediate().len(), 1);
    assert!(lm.get("params_m").unwrap() < m.get("params_m").unwrap());
    // A pruner stops the trial after its first report.
    let mut ctx = TrialCtx::new(2, 11).with_pruner(|_, _| Report::Prune);
    let err = eval
        .evaluate(&arch, &Fidelity::full(), &mut ctx)
        .unwrap_err();
    assert_eq!(err, EvalError::Pruned { step: 1 });
    // Time and memory limits fail the trial with the reason.
    let mut s = settings(data.clone());
    s.time_limit_seconds = Some(1e-6);
    let eval = TrainEvaluator::new(s, space.clone()).unwrap();
    let err = eval
        .evaluate(&arch, &Fidelity::full(), &mut TrialCtx::new(3, 1))
        .unwrap_err()
        .to_string();
    assert!(err.contains("time limit"), "{err}");
    let mut s = settings(data);
    s.memory_limit_mb = Some(1);
    let eval = TrainEvaluator::new(s, space).unwrap();
    let err = eval
        .evaluate(&arch, &Fidelity::full(), &mut TrialCtx::new(4, 1))
        .unwrap_err()
        .to_string();
    assert!(err.contains("memory limit of 1 MB"), "{err}");
}

/// Every tensor of the checkpoint after `epoch` epochs in `dir`, by name.
fn checkpoint_tensors(dir: &Path, epoch: u32) -> Vec<(String, Tensor)> {
    let mut t = Tensor::load_multi(dir.join(format!("state-{epoch}.pt"))).unwrap();
    t.sort_by(|a, b| a.0.cmp(&b.0));
    t
}

#[test]
fn a_paused_trial_continues_from_its_checkpoint_to_the_weights_of_an_uninterrupted_run() {
    pause_and_continue(0.0);
}

#[test]
fn a_paused_trial_with_a_weight_average_continues_to_the_same_average_as_an_uninterrupted_run() {
    pause_and_continue(0.9);
}

/// Pauses a trial at epoch 2 of 4 and continues it from its checkpoint: everything the
/// checkpoint holds at the end (weights, momentum, the weight average when `ema_decay > 0`)
/// equals an uninterrupted run's, bit for bit.
fn pause_and_continue(ema_decay: f64) {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_mnist(dir.path(), 400, 100);
    let space: Arc<dyn SearchSpace> = Arc::new(chain_space());
    let arch = space.parse(CHAIN_ARCH).unwrap();
    let mut s = settings(data);
    s.training = TrainConfig {
        augment: archer_eval::Augment {
            crop_padding: 2,
            flip: false,
            cutout: 4,
        },
        ema_decay,
        ..recipe(4)
    };
    let eval = TrainEvaluator::new(s, space).unwrap();
    let (paused, whole, lost) = (
        dir.path().join("paused"),
        dir.path().join("whole"),
        dir.path().join("lost"),
    );
    // Paused after epoch 2 (as a scheduler's rung would), then continued to the end.
    let mut ctx = TrialCtx::new(0, 21)
        .with_checkpoint_dir(paused.clone())
        .with_pruner(|step, _| {
            if step == 2 {
                Report::Prune
            } else {
                Report::Continue
            }
        });
    let err = eval
        .evaluate(&arch, &Fidelity::full(), &mut ctx)
        .unwrap_err();
    assert_eq!(err, EvalError::Pruned { step: 2 });
    let first: Vec<u32> = ctx.intermediate().iter().map(|(s, _)| *s).collect();
    let mut ctx = TrialCtx::new(0, 21)
        .with_checkpoint_dir(paused.clone())
        .with_resume_step(2);
    let continued = eval.evaluate(&arch, &Fidelity::full(), &mut ctx).unwrap();
    let second: Vec<u32> = ctx.intermediate().iter().map(|(s, _)| *s).collect();
    assert_eq!((first, second), (vec![1, 2], vec![3, 4]), "no epoch twice");
    assert!(ctx
        .attrs()
        .contains(&("resumed_from_epoch".to_string(), serde_json::json!(2))));
    assert!(continued.get("checkpoint_load_seconds").unwrap() >= 0.0);
    // The same trial uninterrupted.
    let mut ctx = TrialCtx::new(0, 21).with_checkpoint_dir(whole.clone());
    let uninterrupted = eval.evaluate(&arch, &Fidelity::full(), &mut ctx).unwrap();
    assert_eq!(continued.get("valid_acc"), uninterrupted.get("valid_acc"));
    assert_eq!(continued.get("train_loss"), uninterrupted.get("train_loss"));
    let (a, b) = (
        checkpoint_tensors(&paused, 4),
        checkpoint_tensors(&whole, 4),
    );
    assert_eq!(a.len(), b.len());
    assert!(a.iter().any(|(n, _)| n.starts_with("momentum.")));
    assert_eq!(
        a.iter().any(|(n, _)| n.starts_with("average.")),
        ema_decay > 0.0
    );
    for ((na, ta), (nb, tb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        assert!(ta.equal(tb), "{na} differs bit for bit after the pause");
    }
    // Only the last checkpoint is kept.
    assert!(!paused.join("state-2.pt").exists());
    // A promoted trial whose checkpoint is gone trains again from scratch, and says so.
    let mut ctx = TrialCtx::new(0, 21)
        .with_checkpoint_dir(lost)
        .with_resume_step(2);
    let again = eval.evaluate(&arch, &Fidelity::full(), &mut ctx).unwrap();
    assert_eq!(ctx.intermediate().len(), 4);
    assert!(ctx.attrs().contains(&(
        "checkpoint_missing".to_string(),
        serde_json::Value::Bool(true)
    )));
    assert_eq!(again.get("valid_acc"), uninterrupted.get("valid_acc"));
    // A checkpoint of another seed is not used.
    let mut ctx = TrialCtx::new(0, 22).with_checkpoint_dir(whole.clone());
    eval.evaluate(&arch, &Fidelity::full(), &mut ctx).unwrap();
    assert!(ctx.attrs().iter().any(|(k, _)| k == "checkpoint_ignored"));
}

#[test]
fn a_saved_model_reloads_to_identical_outputs_here_and_in_pytorch() {
    let dir = tempfile::tempdir().unwrap();
    let data = tiny_mnist(dir.path(), 300, 100);
    let space = SpaceConfig::named("macro")
        .with("layers", serde_json::json!(3))
        .with("kernels", serde_json::json!([3]))
        .with("filters", serde_json::json!([16, 24]));
    let arch = space.build().unwrap().parse(CHAIN_ARCH).unwrap();
    let s = settings(data);
    let out = dir.path().join("model");
    let job = RetrainJob {
        space: &space,
        arch: &arch,
        settings: &s,
        epochs: 1,
        seed: 4,
        test_each_epoch: true,
    };
    let manifest = retrain(&job, &out, &mut |_| {}).unwrap();
    assert_eq!(manifest.train_images, 300);
    assert_eq!(manifest.test_images, 100);
    assert_eq!(manifest.arch_str, CHAIN_ARCH);
    assert_eq!(
        manifest.history[0].test_acc,
        Some(manifest.metrics["test_acc"])
    );
    // The same folder is never overwritten.
    assert!(retrain(&job, &out, &mut |_| {})
        .unwrap_err()
        .to_string()
        .contains("already holds"));
    // Reloaded, the model reproduces its test accuracy exactly.
    let (_, stats) = evaluate_model(&out).unwrap();
    assert_eq!(stats.accuracy, manifest.metrics["test_acc"]);
    // The reloaded network and the TorchScript file give the same outputs.
    let (_, net) = load_model(&out).unwrap();
    let _lock = archer_train::training_lock();
    tch::manual_seed(0);
    let x = Tensor::randn([5, 1, 28, 28], (Kind::Float, Device::Cpu));
    let y = tch::no_grad(|| net.forward_t(&x, false));
    let script = tch::CModule::load(out.join(TORCHSCRIPT_FILE)).unwrap();
    let ys = script.forward_ts(&[&x]).unwrap();
    assert!(y.equal(&ys) || (y - &ys).abs().max().double_value(&[]) < 1e-6);
    // Plain PyTorch opens the TorchScript file and computes the same outputs.
    let Some(python) = archer_train::engine_bench::linked_python() else {
        panic!("no Python with torch next to the linked libtorch; run scripts/setup-torch.sh");
    };
    let xs: Vec<f32> = Vec::<f32>::try_from(x.flatten(0, -1)).unwrap();
    let expected: Vec<f32> = Vec::<f32>::try_from(ys.flatten(0, -1)).unwrap();
    let io = dir.path().join("io.json");
    std::fs::write(&io, serde_json::json!({"x": xs, "y": expected}).to_string()).unwrap();
    let check = format!(
        "import json, torch\nd = json.load(open({io:?}))\nm = torch.jit.load({model:?})\ny = m(torch.tensor(d['x']).reshape(5, 1, 28, 28))\nprint(float((y.flatten() - torch.tensor(d['y'])).abs().max()))",
        io = io.display().to_string(),
        model = out.join(TORCHSCRIPT_FILE).display().to_string(),
    );
    let output = std::process::Command::new(python)
        .args(["-c", &check])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let diff: f64 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap();
    assert!(diff < 1e-5, "PyTorch's outputs differ by {diff}");
}
