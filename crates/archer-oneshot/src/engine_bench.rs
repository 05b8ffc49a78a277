//! `archer bench oneshot-engine`: one DARTS and one GDAS search step of the NAS-Bench-201
//! supernet on this engine, timed exactly as `bench/oneshot_reference.py` times the same
//! supernet written in plain PyTorch.

use std::path::Path;
use std::time::Instant;

use archer_eval::TrainConfig;
use archer_space::Nb201Space;
use archer_train::ops::Shape;
use archer_train::sgd::Sgd;
use serde::Serialize;
use tch::{Device, Kind, Tensor};

use crate::search::{darts_step, gdas_step, soft_loss};
use crate::{Adam, Mixing, OneShotError, Supernet, SupernetConfig};

/// How the timing runs.
#[derive(Clone, Debug, Serialize)]
pub struct OneshotBenchConfig {
    /// Supernet sizes `(C, N)`.
    pub sizes: Vec<(i64, usize)>,
    /// Rounds, each timing Archer then PyTorch; each figure is the fastest round's median.
    pub rounds: usize,
    pub threads: usize,
    pub repeats: usize,
    pub warmup: usize,
    pub batch: i64,
}

/// The name of a size, as the reference script keys it: `c16n5`.
pub fn size_name((c, n): (i64, usize)) -> String {
    format!("c{c}n{n}")
}

/// Parses `c16n5` into `(16, 5)`.
pub fn parse_size(s: &str) -> Option<(i64, usize)> {
    let lower = s.trim().to_ascii_lowercase();
    let (c, n) = lower.strip_prefix('c')?.split_once('n')?;
    let (c, n): (i64, usize) = (c.parse().ok()?, n.parse().ok()?);
    (c >= 1 && n >= 1).then_some((c, n))
}

/// One supernet's timings in one engine.
#[derive(Clone, Debug, PartialEq)]
pub struct SupernetTiming {
    pub size: String,
    pub params: u64,
    /// One DARTS step (α-step, then w-step), ms.
    pub darts_ms: f64,
    /// One GDAS step (w-step, then α-step), ms.
    pub gdas_ms: f64,
    /// The reference's steps as AutoDL-Projects writes them (`backward()` in both steps);
    /// `None` for Archer.
    pub darts_autodl_ms: Option<f64>,
    pub gdas_autodl_ms: Option<f64>,
    /// A soft-mixed forward pass of one image in evaluation mode: almost no arithmetic, so
    /// it measures each engine's per-operation overhead.
    pub forward_b1_ms: f64,
    /// One DARTS step split into [`DARTS_PHASES`], ms each (medians over the repeats);
    /// empty where the engine did not report it.
    pub darts_profile_ms: Vec<f64>,
}

/// The phases of one DARTS step, in order, as both engines time them.
pub const DARTS_PHASES: [&str; 7] = [
    "arch_forward",
    "arch_backward",
    "arch_adam",
    "weight_forward",
    "weight_backward",
    "clip",
    "sgd",
];

impl SupernetTiming {
    fn keep_fastest(&mut self, other: &SupernetTiming) {
        let min_opt = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.darts_ms = self.darts_ms.min(other.darts_ms);
        self.gdas_ms = self.gdas_ms.min(other.gdas_ms);
        self.darts_autodl_ms = min_opt(self.darts_autodl_ms, other.darts_autodl_ms);
        self.gdas_autodl_ms = min_opt(self.gdas_autodl_ms, other.gdas_autodl_ms);
        self.forward_b1_ms = self.forward_b1_ms.min(other.forward_b1_ms);
        if other.darts_ms <= self.darts_ms || self.darts_profile_ms.is_empty() {
            self.darts_profile_ms = other.darts_profile_ms.clone();
        }
    }
}

/// One method at one size, in both engines.
#[derive(Clone, Debug, Serialize)]
pub struct OneshotEngineRow {
    pub size: String,
    pub method: String,
    pub params: u64,
    pub archer_ms: f64,
    /// The reference doing the same work as Archer (α's gradient alone in the α-step, α
    /// detached in the w-step).
    pub pytorch_ms: Option<f64>,
    pub ratio: Option<f64>,
    /// The reference as AutoDL-Projects writes the step (plain `backward()` in both steps).
    pub pytorch_autodl_ms: Option<f64>,
    pub autodl_ratio: Option<f64>,
    /// Profile: a soft-mixed forward pass of one image.
    pub archer_forward_b1_ms: f64,
    pub pytorch_forward_b1_ms: Option<f64>,
    /// DARTS only: each phase of the step in both engines (`[phase, archer_ms, pytorch_ms]`).
    pub profile: Vec<PhaseTiming>,
    pub backend: String,
}

/// One phase of a step in both engines.
#[derive(Clone, Debug, Serialize)]
pub struct PhaseTiming {
    pub phase: String,
    pub archer_ms: f64,
    pub pytorch_ms: Option<f64>,
}

/// One DARTS step timed phase by phase, as [`darts_step`] runs it (seconds of each of
/// [`DARTS_PHASES`]).
fn darts_phases(
    net: &Supernet,
    adam: &mut Adam,
    sgd: &mut Sgd,
    train: (&Tensor, &Tensor),
    valid: (&Tensor, &Tensor),
    grad_clip: f64,
) -> Vec<f64> {
    let mut t = vec![Instant::now()];
    let loss = soft_loss(net, valid, &net.alpha);
    let _ = loss.double_value(&[]);
    t.push(Instant::now());
    let grad = Tensor::run_backward(&[&loss], &[&net.alpha], false, false);
    t.push(Instant::now());
    adam.step(&net.alpha, &grad[0]);
    t.push(Instant::now());
    let loss = soft_loss(net, train, &net.alpha.detach());
    let _ = loss.double_value(&[]);
    t.push(Instant::now());
    sgd.zero_grad();
    loss.backward();
    t.push(Instant::now());
    sgd.clip_grad_norm(grad_clip);
    t.push(Instant::now());
    sgd.step();
    t.push(Instant::now());
    t.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect()
}

/// Medians (ms) of each phase over `repeats` profiled steps after `warmup`.
fn profile_darts(repeats: usize, warmup: usize, mut step: impl FnMut() -> Vec<f64>) -> Vec<f64> {
    for _ in 0..warmup {
        step();
    }
    let runs: Vec<Vec<f64>> = (0..repeats.max(1)).map(|_| step()).collect();
    (0..DARTS_PHASES.len())
        .map(|i| {
            let mut v: Vec<f64> = runs.iter().map(|r| r[i] * 1e3).collect();
            v.sort_by(f64::total_cmp);
            let m = v.len();
            if m % 2 == 1 {
                v[m / 2]
            } else {
                0.5 * (v[m / 2 - 1] + v[m / 2])
            }
        })
        .collect()
}

/// The published NB201 recipe's optimisers: SGD 0.025, momentum 0.9, Nesterov, wd 5e-4.
fn weight_recipe() -> TrainConfig {
    TrainConfig {
        lr: 0.025,
        momentum: 0.9,
        nesterov: true,
        weight_decay: 5e-4,
        grad_clip: 5.0,
        ..TrainConfig::default()
    }
}

/// Times the search steps of each supernet size on the CPU.
pub fn time_archer(cfg: &OneshotBenchConfig) -> Result<Vec<SupernetTiming>, OneShotError> {
    let _session = archer_train::torch_session(cfg.threads, Some(0));
    let space = Nb201Space::default();
    let mut out = Vec::new();
    for &(c, n) in &cfg.sizes {
        let net = Supernet::new(
            &space,
            &SupernetConfig {
                channels: c,
                depth: n,
                input: Shape::new(3, 32, 32),
                classes: 10,
                partial_channels: 1,
            },
            Device::Cpu,
        )?;
        let recipe = weight_recipe();
        let mut sgd = Sgd::new(&net.vs, &recipe);
        let mut adam = Adam::new(&net.alpha, 3e-4, (0.5, 0.999), 1e-3);
        let batch = || {
            (
                Tensor::randn([cfg.batch, 3, 32, 32], (Kind::Float, Device::Cpu)),
                Tensor::randint(10, [cfg.batch], (Kind::Int64, Device::Cpu)),
            )
        };
        let (train, valid) = (batch(), batch());
        let mut failure = None;
        let mut step = 0;
        let mut run = |f: &mut dyn FnMut(u64) -> Result<(), OneShotError>| {
            step += 1;
            if let Err(e) = f(step) {
                failure.get_or_insert(e);
            }
        };
        let darts_ms = archer_train::median_ms(cfg.repeats, cfg.warmup, || {
            run(&mut |s| {
                darts_step(
                    &net,
                    &mut adam,
                    &mut sgd,
                    (&train.0, &train.1),
                    (&valid.0, &valid.1),
                    recipe.lr,
                    recipe.grad_clip,
                    s,
                )
                .map(drop)
            })
        });
        let gdas_ms = archer_train::median_ms(cfg.repeats, cfg.warmup, || {
            run(&mut |s| {
                gdas_step(
                    &net,
                    &mut adam,
                    &mut sgd,
                    (&train.0, &train.1),
                    (&valid.0, &valid.1),
                    10.0,
                    recipe.lr,
                    recipe.grad_clip,
                    s,
                )
                .map(drop)
            })
        });
        if let Some(e) = failure {
            return Err(e);
        }
        let darts_profile_ms = profile_darts(cfg.repeats, cfg.warmup, || {
            darts_phases(
                &net,
                &mut adam,
                &mut sgd,
                (&train.0, &train.1),
                (&valid.0, &valid.1),
                recipe.grad_clip,
            )
        });
        let one = train.0.narrow(0, 0, 1);
        let forward_b1_ms = archer_train::median_ms(cfg.repeats.max(20), cfg.warmup, || {
            let _guard = tch::no_grad_guard();
            let w = net.alpha.softmax(-1, Kind::Float);
            let rows: Vec<Tensor> = (0..w.size()[0]).map(|e| w.get(e)).collect();
            let mixing: Vec<Mixing> = rows.iter().map(Mixing::Soft).collect();
            let _ = net.forward_t(&one, &mixing, false);
        });
        out.push(SupernetTiming {
            size: size_name((c, n)),
            params: net.params(),
            darts_ms,
            gdas_ms,
            darts_autodl_ms: None,
            gdas_autodl_ms: None,
            forward_b1_ms,
            darts_profile_ms,
        });
    }
    Ok(out)
}

/// Runs the reference script with `python` on `device` (`cpu` or `cuda`): its timings.
pub fn time_pytorch(
    python: &Path,
    script: &Path,
    cfg: &OneshotBenchConfig,
    device: &str,
) -> Result<(Vec<SupernetTiming>, serde_json::Value), OneShotError> {
    let sizes: Vec<String> = cfg.sizes.iter().map(|&s| size_name(s)).collect();
    let args = [
        ("--threads", cfg.threads.to_string()),
        ("--repeats", cfg.repeats.to_string()),
        ("--warmup", cfg.warmup.to_string()),
        ("--batch", cfg.batch.to_string()),
        ("--sizes", sizes.join(",")),
        ("--device", device.to_string()),
    ]
    .into_iter()
    .flat_map(|(k, v)| [k.to_string(), v])
    .collect::<Vec<_>>();
    let v = archer_train::engine_bench::run_reference(python, script, &args)
        .map_err(OneShotError::Reference)?;
    let text = v.to_string();
    let bad = |what: String| OneShotError::Reference(format!("the script's JSON {what}: {text}"));
    let nets = v["supernets"]
        .as_object()
        .ok_or_else(|| bad("has no `supernets` object".into()))?;
    let mut rows = Vec::new();
    for (name, t) in nets {
        let number = |key: &str| {
            t[key]
                .as_f64()
                .ok_or_else(|| bad(format!("has no number `{key}` for {name}")))
        };
        rows.push(SupernetTiming {
            size: name.clone(),
            params: number("params")? as u64,
            darts_ms: number("darts_ms")?,
            gdas_ms: number("gdas_ms")?,
            darts_autodl_ms: Some(number("darts_autodl_ms")?),
            gdas_autodl_ms: Some(number("gdas_autodl_ms")?),
            forward_b1_ms: number("forward_b1_ms")?,
            darts_profile_ms: DARTS_PHASES
                .iter()
                .map(|p| t["darts_profile_ms"][p].as_f64())
                .collect::<Option<Vec<f64>>>()
                .unwrap_or_default(),
        });
    }
    let mut about = v.clone();
    if let Some(o) = about.as_object_mut() {
        o.remove("supernets");
    }
    Ok((rows, about))
}

fn fastest(best: &mut Option<Vec<SupernetTiming>>, round: Vec<SupernetTiming>) {
    match best {
        None => *best = Some(round),
        Some(b) => {
            for x in b.iter_mut() {
                if let Some(y) = round.iter().find(|y| y.size == x.size) {
                    x.keep_fastest(y);
                }
            }
        }
    }
}

/// Both engines, side by side, one row per (size, method); without `python`, Archer's
/// column only. Also returns what the reference said of itself (torch version, threads).
pub fn run(
    cfg: &OneshotBenchConfig,
    python: Option<&Path>,
    script: &Path,
) -> Result<(Vec<OneshotEngineRow>, Option<serde_json::Value>), OneShotError> {
    let mut archer = None;
    let mut reference = None;
    let mut about = None;
    for _ in 0..cfg.rounds.max(1) {
        fastest(&mut archer, time_archer(cfg)?);
        if let Some(p) = python {
            let (rows, a) = time_pytorch(p, script, cfg, "cpu")?;
            fastest(&mut reference, rows);
            about = Some(a);
        }
    }
    let archer = archer.expect("at least one round");
    let backend = format!(
        "tch-rs 0.26 / libtorch {} (CPU)",
        archer_train::LIBTORCH_VERSION
    );
    let mut rows = Vec::new();
    for a in archer {
        let r = match &reference {
            None => None,
            Some(rows) => Some(rows.iter().find(|r| r.size == a.size).ok_or_else(|| {
                OneShotError::Reference(format!(
                    "the script did not time {}; is it current?",
                    a.size
                ))
            })?),
        };
        if let Some(r) = r {
            if r.params != a.params {
                return Err(OneShotError::Reference(format!(
                    "{}: the PyTorch supernet has {} parameters, Archer's {}; they are not the same network",
                    a.size, r.params, a.params
                )));
            }
        }
        for method in ["darts", "gdas"] {
            let pick = |t: &SupernetTiming| {
                if method == "darts" {
                    (t.darts_ms, t.darts_autodl_ms)
                } else {
                    (t.gdas_ms, t.gdas_autodl_ms)
                }
            };
            let (archer_ms, _) = pick(&a);
            let theirs = r.map(pick);
            let pytorch_ms = theirs.map(|t| t.0);
            let pytorch_autodl_ms = theirs.and_then(|t| t.1);
            rows.push(OneshotEngineRow {
                size: a.size.clone(),
                method: method.to_string(),
                params: a.params,
                archer_ms,
                pytorch_ms,
                ratio: pytorch_ms.map(|p| archer_ms / p),
                pytorch_autodl_ms,
                autodl_ratio: pytorch_autodl_ms.map(|p| archer_ms / p),
                archer_forward_b1_ms: a.forward_b1_ms,
                pytorch_forward_b1_ms: r.map(|r| r.forward_b1_ms),
                profile: if method == "darts" {
                    phase_rows(&a, r)
                } else {
                    Vec::new()
                },
                backend: backend.clone(),
            });
        }
    }
    Ok((rows, about))
}

/// The DARTS profile of both engines, phase by phase.
fn phase_rows(archer: &SupernetTiming, reference: Option<&SupernetTiming>) -> Vec<PhaseTiming> {
    archer
        .darts_profile_ms
        .iter()
        .enumerate()
        .map(|(i, &ms)| PhaseTiming {
            phase: DARTS_PHASES[i].to_string(),
            archer_ms: ms,
            pytorch_ms: reference.and_then(|r| r.darts_profile_ms.get(i).copied()),
        })
        .collect()
}
