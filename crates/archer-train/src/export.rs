//! Retraining an architecture from scratch and saving it: weights as safetensors, a
//! `manifest.json` with everything that made them, and a TorchScript file that plain
//! PyTorch opens with `torch.jit.load`. [`load_model`] and [`evaluate_model`] read them back.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use archer_eval::{DataConfig, NetworkConfig, TrainConfig, TrainSettings};
use archer_space::{Arch, SpaceConfig};
use serde::{Deserialize, Serialize};
use tch::{CModule, Kind, Tensor};

use crate::data::{load_data, Normalize};
use crate::ops::Shape;
use crate::sgd::Sgd;
use crate::train::{device, evaluate, train, EpochReport, Limits, PassStats, Start};
use crate::{Network, TrainError};

pub const WEIGHTS_FILE: &str = "weights.safetensors";
pub const MANIFEST_FILE: &str = "manifest.json";
pub const TORCHSCRIPT_FILE: &str = "model.pt";
/// Version of the manifest's layout.
pub const MANIFEST_FORMAT: u32 = 1;

/// One epoch of the retraining, as saved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: u32,
    pub train_loss: f64,
    pub train_acc: f64,
    pub lr: f64,
    pub seconds: f64,
    /// Of which waiting for data.
    pub loader_wait_seconds: f64,
    /// Test accuracy after this epoch, when the retraining measured every epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_acc: Option<f64>,
}

/// Everything needed to rebuild, check and reproduce a saved model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub archer_version: String,
    pub libtorch_version: String,
    pub space: SpaceConfig,
    pub arch: Arch,
    pub arch_str: String,
    pub network: NetworkConfig,
    pub training: TrainConfig,
    pub data: DataConfig,
    pub data_files_sha256: BTreeMap<String, String>,
    pub data_fingerprint: String,
    /// Input `[channels, height, width]`.
    pub input: [i64; 3],
    pub classes: i64,
    pub normalize: Normalize,
    pub seed: u64,
    pub epochs: u32,
    pub train_images: usize,
    pub test_images: usize,
    /// test_acc, test_loss, train_acc, train_loss, params, flops_m, train_seconds.
    pub metrics: BTreeMap<String, f64>,
    pub history: Vec<EpochRecord>,
    /// Seconds since the Unix epoch.
    pub created_unix: u64,
    /// File names inside the model folder.
    pub files: BTreeMap<String, String>,
}

/// What to retrain.
pub struct RetrainJob<'a> {
    pub space: &'a SpaceConfig,
    pub arch: &'a Arch,
    /// The train evaluator's settings of the search (data, network, training recipe).
    pub settings: &'a TrainSettings,
    pub epochs: u32,
    pub seed: u64,
    /// Measure the test set after every epoch (a learning curve; costs one test pass per
    /// epoch, and is never used to choose anything).
    pub test_each_epoch: bool,
}

/// Trains `job.arch` from scratch on all training images (train and valid parts), measures
/// it on the test set, and saves it into `output` (created; must be empty or absent).
/// `on_epoch` sees each epoch as it ends.
pub fn retrain(
    job: &RetrainJob,
    output: &Path,
    on_epoch: &mut dyn FnMut(&EpochReport),
) -> Result<Manifest, TrainError> {
    if output.exists()
        && std::fs::read_dir(output)
            .map_err(|e| TrainError::io(output, e))?
            .next()
            .is_some()
    {
        return Err(TrainError::Setting(format!(
            "{} already holds files; give an empty or new folder",
            output.display()
        )));
    }
    let settings = job.settings;
    settings
        .validate()
        .map_err(|e| TrainError::Setting(e.to_string()))?;
    if job.epochs == 0 {
        return Err(TrainError::Setting("epochs must be at least 1".into()));
    }
    let space = job
        .space
        .build()
        .map_err(|e| TrainError::Setting(e.to_string()))?;
    let data = load_data(&settings.data)?;
    let cfg = &settings.training;
    let _session = crate::torch_session(cfg.threads, Some(job.seed));
    let train_set = Arc::new(data.train.clone());
    let test_set = Arc::new(data.test.clone());
    let normalize = Normalize::of(&train_set);
    let mut net = Network::build(
        space.as_ref(),
        job.arch,
        &settings.network,
        train_set.shape,
        train_set.classes as i64,
        1.0,
        device(cfg.device)?,
    )?;
    let started = Instant::now();
    let mut opt = Sgd::new(&net.vs, cfg);
    let reports = train(
        &mut net,
        &mut opt,
        cfg,
        job.epochs,
        Start::default(),
        train_set.clone(),
        job.test_each_epoch.then(|| test_set.clone()),
        &normalize,
        job.seed,
        Limits::default(),
        &mut |end| {
            on_epoch(end.report);
            Ok(true)
        },
    )?;
    let train_seconds = started.elapsed().as_secs_f64();
    let test = evaluate(
        &net,
        test_set.clone(),
        &normalize,
        cfg.eval_batch_size,
        cfg.prefetch,
    )?;
    let last = reports.last().expect("at least one epoch");
    std::fs::create_dir_all(output).map_err(|e| TrainError::io(output, e))?;
    net.vs.save(output.join(WEIGHTS_FILE))?;
    let shape = train_set.shape;
    // Tracing records weights as constants, which must not require gradients.
    net.vs.freeze();
    let traced = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        save_torchscript(&net, shape, &output.join(TORCHSCRIPT_FILE))
    }));
    net.vs.unfreeze();
    match traced {
        Ok(result) => result?,
        Err(_) => {
            return Err(TrainError::Export(format!(
                "tracing the network into {} failed inside libtorch",
                output.join(TORCHSCRIPT_FILE).display()
            )))
        }
    }
    let metrics = BTreeMap::from([
        ("test_acc".to_string(), test.accuracy),
        ("test_loss".to_string(), test.loss),
        ("train_acc".to_string(), last.train.accuracy),
        ("train_loss".to_string(), last.train.loss),
        ("params".to_string(), net.params() as f64),
        ("flops_m".to_string(), net.flops() as f64 / 1e6),
        ("train_seconds".to_string(), train_seconds),
    ]);
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        archer_version: env!("CARGO_PKG_VERSION").to_string(),
        libtorch_version: crate::LIBTORCH_VERSION.to_string(),
        space: job.space.clone(),
        arch: job.arch.clone(),
        arch_str: space.format(job.arch),
        network: settings.network.clone(),
        training: cfg.clone(),
        data: settings.data.clone(),
        data_files_sha256: data.files.clone(),
        data_fingerprint: data.fingerprint(),
        input: [shape.c, shape.h, shape.w],
        classes: train_set.classes as i64,
        normalize,
        seed: job.seed,
        epochs: job.epochs,
        train_images: train_set.len(),
        test_images: test_set.len(),
        metrics,
        history: reports
            .iter()
            .map(|r| EpochRecord {
                epoch: r.epoch,
                train_loss: r.train.loss,
                train_acc: r.train.accuracy,
                lr: r.lr,
                seconds: r.seconds,
                loader_wait_seconds: r.loader_wait_seconds,
                test_acc: r.valid.map(|v| v.accuracy),
            })
            .collect(),
        created_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        files: BTreeMap::from([
            ("weights".to_string(), WEIGHTS_FILE.to_string()),
            ("torchscript".to_string(), TORCHSCRIPT_FILE.to_string()),
        ]),
    };
    let path = output.join(MANIFEST_FILE);
    let text = serde_json::to_string_pretty(&manifest).expect("a manifest serialises");
    std::fs::write(&path, text + "\n").map_err(|e| TrainError::io(&path, e))?;
    Ok(manifest)
}

/// Traces the network in evaluation mode into a TorchScript file, then reloads it and
/// checks that it gives the network's outputs.
fn save_torchscript(net: &Network, shape: Shape, path: &Path) -> Result<(), TrainError> {
    let _guard = tch::no_grad_guard();
    let device = net.vs.device();
    let example = Tensor::zeros([1, shape.c, shape.h, shape.w], (Kind::Float, device));
    let module = CModule::create_by_tracing("ArcherNet", "forward", &[example], &mut |xs| {
        vec![net.forward_t(&xs[0], false)]
    })?;
    module.save(path)?;
    let reloaded = CModule::load_on_device(path, device)?;
    let probe = Tensor::randn([4, shape.c, shape.h, shape.w], (Kind::Float, device));
    let diff = (reloaded.forward_ts(&[&probe])? - net.forward_t(&probe, false))
        .abs()
        .max()
        .double_value(&[]);
    if diff.is_nan() || diff > 1e-4 {
        return Err(TrainError::Export(format!(
            "{}: the traced TorchScript module differs from the network by {diff}",
            path.display()
        )));
    }
    Ok(())
}

/// Reads a model folder's manifest.
pub fn read_manifest(dir: &Path) -> Result<Manifest, TrainError> {
    let path = dir.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| TrainError::data(&path, format!("not an Archer model manifest: {e}")))?;
    if manifest.format != MANIFEST_FORMAT {
        return Err(TrainError::data(
            &path,
            format!(
                "manifest format {} is not the {MANIFEST_FORMAT} this archer reads",
                manifest.format
            ),
        ));
    }
    Ok(manifest)
}

/// Rebuilds a saved model (on the CPU) with its trained weights. Takes the training lock
/// while it builds (weight initialisation draws from libtorch's global generator).
pub fn load_model(dir: &Path) -> Result<(Manifest, Network), TrainError> {
    let manifest = read_manifest(dir)?;
    let _lock = crate::training_lock();
    let space = manifest
        .space
        .build()
        .map_err(|e| TrainError::Setting(e.to_string()))?;
    let [c, h, w] = manifest.input;
    let mut net = Network::build(
        space.as_ref(),
        &manifest.arch,
        &manifest.network,
        Shape::new(c, h, w),
        manifest.classes,
        1.0,
        tch::Device::Cpu,
    )?;
    let weights = dir.join(WEIGHTS_FILE);
    net.vs
        .load(&weights)
        .map_err(|e| TrainError::data(&weights, format!("cannot load the weights: {e}")))?;
    Ok((manifest, net))
}

/// Reloads a saved model and measures it on the test set of the data it was trained on
/// (whose files must hash as recorded).
pub fn evaluate_model(dir: &Path) -> Result<(Manifest, PassStats), TrainError> {
    let (manifest, net) = load_model(dir)?;
    let data = load_data(&manifest.data)?;
    if data.fingerprint() != manifest.data_fingerprint {
        return Err(TrainError::Setting(format!(
            "the data files changed since the model was trained: recorded {:?}, found {:?}",
            manifest.data_files_sha256, data.files
        )));
    }
    let _session = crate::torch_session(manifest.training.threads, None);
    let stats = evaluate(
        &net,
        Arc::new(data.test),
        &manifest.normalize,
        manifest.training.eval_batch_size,
        manifest.training.prefetch,
    )?;
    Ok((manifest, stats))
}
