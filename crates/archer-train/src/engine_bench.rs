//! `archer bench engine`: how fast this engine trains and runs the reference networks, timed
//! exactly as `bench/engine_reference.py` times the same networks in PyTorch.

use std::path::{Path, PathBuf};
use std::process::Command;

use archer_eval::{NetworkConfig, TrainConfig};
use archer_space::{DartsSpace, Nb201Space, SearchSpace};
use serde::Serialize;
use tch::{Device, Kind, Tensor};

use crate::evaluator::median_ms;
use crate::ops::Shape;
use crate::sgd::Sgd;
use crate::train::loss;
use crate::{Network, TrainError};

/// NB201's ResNet-like reference cell (index 11472).
pub const NB201_11472: &str =
    "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|";
/// DARTS (second order) as published in the DARTS code.
pub const DARTS_V2: &str = "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])";

/// How the timing runs.
#[derive(Clone, Debug, Serialize)]
pub struct EngineBenchConfig {
    /// Rounds, each timing Archer then PyTorch; each figure is the fastest round's median,
    /// so that load from elsewhere on a shared machine (which only ever adds time) affects
    /// both engines alike.
    pub rounds: usize,
    pub threads: usize,
    pub repeats: usize,
    pub warmup: usize,
    pub train_batch: i64,
    pub forward_batch: i64,
}

/// One network's timings in both engines.
#[derive(Clone, Debug, Serialize)]
pub struct EngineRow {
    pub network: String,
    pub backend: String,
    pub params: u64,
    pub archer_train_ms: f64,
    pub pytorch_train_ms: Option<f64>,
    pub train_ratio: Option<f64>,
    pub archer_forward_ms: f64,
    pub pytorch_forward_ms: Option<f64>,
    pub forward_ratio: Option<f64>,
    pub archer_forward_b1_ms: f64,
    pub pytorch_forward_b1_ms: Option<f64>,
}

/// One network's timings in one engine.
#[derive(Clone, Debug, PartialEq)]
pub struct Timing {
    pub network: String,
    pub params: u64,
    pub train_ms: f64,
    pub forward_ms: f64,
    /// Forward pass of one image: almost no arithmetic, so it measures the per-operation
    /// overhead (dispatch, allocation) of the engine.
    pub forward_b1_ms: f64,
}

impl Timing {
    fn keep_fastest(&mut self, other: &Timing) {
        self.train_ms = self.train_ms.min(other.train_ms);
        self.forward_ms = self.forward_ms.min(other.forward_ms);
        self.forward_b1_ms = self.forward_b1_ms.min(other.forward_b1_ms);
    }
}

/// The two reference networks: (name, space, arch string, network settings).
fn networks() -> Vec<(
    &'static str,
    Box<dyn SearchSpace>,
    &'static str,
    NetworkConfig,
)> {
    vec![
        (
            "nb201_11472",
            Box::new(Nb201Space::default()),
            NB201_11472,
            NetworkConfig::default(),
        ),
        (
            "darts_v2_c16_l8",
            Box::new(DartsSpace::default()),
            DARTS_V2,
            NetworkConfig {
                channels: Some(16),
                depth: Some(8),
                ..Default::default()
            },
        ),
    ]
}

/// Times a training step (forward, cross-entropy, backward, SGD step with Nesterov
/// momentum and weight decay) and an evaluation-mode forward pass of each reference
/// network on the CPU.
pub fn time_archer(cfg: &EngineBenchConfig) -> Result<Vec<Timing>, TrainError> {
    let _session = crate::torch_session(cfg.threads, None);
    let mut out = Vec::new();
    for (name, space, arch_str, net_cfg) in networks() {
        tch::manual_seed(0);
        let arch = space
            .parse(arch_str)
            .map_err(|e| TrainError::Setting(e.to_string()))?;
        let net = Network::build(
            space.as_ref(),
            &arch,
            &net_cfg,
            Shape::new(3, 32, 32),
            10,
            1.0,
            Device::Cpu,
        )?;
        // The trainer's own step: its SGD (Nesterov momentum 0.9, weight decay 5e-4, as the
        // reference script's) and its loss.
        let recipe = TrainConfig {
            lr: 0.01,
            ..TrainConfig::default()
        };
        let mut opt = Sgd::new(&net.vs, &recipe);
        let x = Tensor::randn([cfg.train_batch, 3, 32, 32], (Kind::Float, Device::Cpu));
        let y = Tensor::randint(10, [cfg.train_batch], (Kind::Int64, Device::Cpu));
        let train_ms = median_ms(cfg.repeats, cfg.warmup, || {
            opt.zero_grad();
            loss(&net, &x, &y, 0.0).0.backward();
            opt.step();
        });
        let xf = Tensor::randn([cfg.forward_batch, 3, 32, 32], (Kind::Float, Device::Cpu));
        let forward_ms = median_ms(cfg.repeats, cfg.warmup, || {
            let _guard = tch::no_grad_guard();
            let _ = net.forward_t(&xf, false);
        });
        let x1 = Tensor::randn([1, 3, 32, 32], (Kind::Float, Device::Cpu));
        let forward_b1_ms = median_ms(cfg.repeats.max(20), cfg.warmup, || {
            let _guard = tch::no_grad_guard();
            let _ = net.forward_t(&x1, false);
        });
        out.push(Timing {
            network: name.to_string(),
            params: net.params(),
            train_ms,
            forward_ms,
            forward_b1_ms,
        });
    }
    Ok(out)
}

/// The Python of the PyTorch that this build links (the environment
/// `scripts/setup-torch.sh` made), when it can be found.
pub fn linked_python() -> Option<PathBuf> {
    let torch_dir = PathBuf::from(option_env!("ARCHER_LIBTORCH_DIR")?);
    // <venv>/lib/python3.X/site-packages/torch → <venv>/bin/python
    let venv = torch_dir.ancestors().nth(4)?;
    let python = venv.join("bin").join("python");
    python.is_file().then_some(python)
}

/// Runs a reference script (`python script args…`) and returns the JSON object it prints;
/// the error says why it failed or what it printed instead.
pub fn run_reference(
    python: &Path,
    script: &Path,
    args: &[String],
) -> Result<serde_json::Value, String> {
    let output = Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .map_err(|e| format!("{} could not run: {e}", python.display()))?;
    if !output.status.success() {
        return Err(format!(
            "the reference script {} failed with {}: {}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(text.trim())
        .map_err(|e| format!("the reference script printed no JSON ({e}): {text}"))
}

/// Runs the reference script with `python`: its timings.
pub fn time_pytorch(
    python: &Path,
    script: &Path,
    cfg: &EngineBenchConfig,
) -> Result<Vec<Timing>, TrainError> {
    let args = [
        ("--threads", cfg.threads.to_string()),
        ("--repeats", cfg.repeats.to_string()),
        ("--warmup", cfg.warmup.to_string()),
        ("--train-batch", cfg.train_batch.to_string()),
        ("--forward-batch", cfg.forward_batch.to_string()),
    ]
    .into_iter()
    .flat_map(|(k, v)| [k.to_string(), v])
    .collect::<Vec<_>>();
    let v = run_reference(python, script, &args).map_err(TrainError::Export)?;
    let text = v.to_string();
    let bad =
        |what: String| TrainError::Export(format!("the reference script's JSON {what}: {text}"));
    let nets = v["networks"]
        .as_object()
        .ok_or_else(|| bad("has no `networks` object".into()))?;
    let mut rows = Vec::new();
    for (name, t) in nets {
        let number = |key: &str| {
            t[key]
                .as_f64()
                .ok_or_else(|| bad(format!("has no number `{key}` for {name}")))
        };
        rows.push(Timing {
            network: name.clone(),
            params: number("params")? as u64,
            train_ms: number("train_ms")?,
            forward_ms: number("forward_ms")?,
            forward_b1_ms: number("forward_b1_ms")?,
        });
    }
    Ok(rows)
}

/// Keeps, per network, the fastest times seen over rounds.
fn fastest(best: &mut Option<Vec<Timing>>, round: Vec<Timing>) {
    match best {
        None => *best = Some(round),
        Some(b) => {
            for x in b.iter_mut() {
                if let Some(y) = round.iter().find(|y| y.network == x.network) {
                    x.keep_fastest(y);
                }
            }
        }
    }
}

/// Both engines, side by side; without `python`, only Archer's column.
pub fn run(
    cfg: &EngineBenchConfig,
    python: Option<&Path>,
    script: &Path,
) -> Result<Vec<EngineRow>, TrainError> {
    let mut archer = None;
    let mut reference = None;
    for _ in 0..cfg.rounds.max(1) {
        fastest(&mut archer, time_archer(cfg)?);
        if let Some(p) = python {
            fastest(&mut reference, time_pytorch(p, script, cfg)?);
        }
    }
    let archer = archer.expect("at least one round");
    let backend = format!("tch-rs 0.26 / libtorch {} (CPU)", crate::LIBTORCH_VERSION);
    let mut rows = Vec::new();
    for a in archer {
        let r =
            match &reference {
                None => None,
                Some(rows) => Some(rows.iter().find(|r| r.network == a.network).ok_or_else(
                    || {
                        TrainError::Export(format!(
                            "the PyTorch reference did not time {}; is the script current?",
                            a.network
                        ))
                    },
                )?),
            };
        if let Some(r) = r {
            if r.params != a.params {
                return Err(TrainError::Export(format!(
                    "{}: the PyTorch reference has {} parameters, Archer's network {}; they are not the same network",
                    a.network, r.params, a.params
                )));
            }
        }
        rows.push(EngineRow {
            backend: backend.clone(),
            params: a.params,
            archer_train_ms: a.train_ms,
            pytorch_train_ms: r.map(|r| r.train_ms),
            train_ratio: r.map(|r| a.train_ms / r.train_ms),
            archer_forward_ms: a.forward_ms,
            pytorch_forward_ms: r.map(|r| r.forward_ms),
            forward_ratio: r.map(|r| a.forward_ms / r.forward_ms),
            archer_forward_b1_ms: a.forward_b1_ms,
            pytorch_forward_b1_ms: r.map(|r| r.forward_b1_ms),
            network: a.network,
        });
    }
    Ok(rows)
}

/// `(params, FLOPs)` of the libtorch network of an NB201 architecture with the skeleton
/// `config`, built on the CPU: what `archer bench nb201-size --engine` checks against the
/// table.
pub fn nb201_built_size(
    space: &Nb201Space,
    arch: &archer_space::Arch,
    config: archer_nets::Nb201NetConfig,
) -> Result<(u64, u64), TrainError> {
    let net_cfg = NetworkConfig {
        channels: Some(config.channels),
        depth: Some(config.cells_per_stage),
        ..Default::default()
    };
    let (c, h, w) = config.input;
    let _lock = crate::training_lock();
    let _guard = tch::no_grad_guard();
    let net = Network::build(
        space,
        arch,
        &net_cfg,
        Shape::new(c as i64, h as i64, w as i64),
        config.classes as i64,
        1.0,
        Device::Cpu,
    )?;
    Ok((net.params(), net.flops()))
}
