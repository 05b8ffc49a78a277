//! How far to trust a weight-sharing supernet's ranking, measured: trains the NAS-Bench-201
//! supernet on a CIFAR-10 subset by uniform single-path training (RSPS, Li & Talwalkar 2019),
//! then scores a stratified sample of NB201 cells on the shared weights, with and without
//! batch-norm recalibration, and compares the scores with the cells' CIFAR-10 test accuracy in
//! the NB201 table (Kendall τ, Spearman ρ, precision at the top 5 %).
//!
//! ```sh
//! cargo run --release -p archer-oneshot --example nb201_trust -- \
//!     --cifar ../shared/data/cifar10 --images 5000 --epochs 10 --channels 8 --depth 1
//! ```
//!
//! Every setting is a flag (defaults in `Settings::default`); the run depends only on
//! `--seed`.

use std::path::PathBuf;
use std::time::Instant;

use archer_eval::{Nb201Dataset, Nb201Table, TrainConfig};
use archer_oneshot::score::score;
use archer_oneshot::search::single_path_step;
use archer_oneshot::trust::{stratified_sample, trust};
use archer_oneshot::{Supernet, SupernetConfig};
use archer_rng::Rng;
use archer_space::{Nb201Space, SearchSpace as _};
use archer_train::ops::Shape;
use archer_train::sgd::Sgd;
use tch::{Device, Kind, Tensor};

struct Settings {
    cifar: PathBuf,
    table: PathBuf,
    images: i64,
    valid: i64,
    recalibration: i64,
    epochs: u32,
    channels: i64,
    depth: usize,
    cells: usize,
    batch: i64,
    seed: u64,
    threads: i32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            cifar: "../shared/data/cifar10".into(),
            table: "data/nas-bench-201/nb201_results.csv.gz".into(),
            images: 5000,
            valid: 1000,
            recalibration: 512,
            epochs: 10,
            channels: 8,
            depth: 1,
            cells: 200,
            batch: 64,
            seed: 0,
            threads: 2,
        }
    }
}

fn settings() -> Result<Settings, String> {
    let mut s = Settings::default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let [key, value] = pair else {
            return Err(format!("{} needs a value", pair[0]));
        };
        let int = || {
            value
                .parse::<i64>()
                .map_err(|e| format!("{key} {value}: {e}"))
        };
        match key.as_str() {
            "--cifar" => s.cifar = value.into(),
            "--table" => s.table = value.into(),
            "--images" => s.images = int()?,
            "--valid" => s.valid = int()?,
            "--recalibration" => s.recalibration = int()?,
            "--epochs" => s.epochs = int()? as u32,
            "--channels" => s.channels = int()?,
            "--depth" => s.depth = int()? as usize,
            "--cells" => s.cells = int()? as usize,
            "--batch" => s.batch = int()?,
            "--seed" => s.seed = int()? as u64,
            "--threads" => s.threads = int()? as i32,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(s)
}

/// CIFAR-10 images as normalised float tensors (n×3×32×32) and labels.
fn cifar(s: &Settings) -> Result<(Tensor, Tensor), Box<dyn std::error::Error>> {
    let path = s.cifar.join("data_batch_1.bin.gz");
    let (set, _) = archer_train::data::load_cifar(&[path.as_path()], 10)?;
    let n = set.len() as i64;
    let (mean, std) = set.channel_stats();
    let x = Tensor::from_slice(&set.images)
        .view([n, 3, 32, 32])
        .to_kind(Kind::Float)
        / 255.0;
    let mean = Tensor::from_slice(&mean)
        .to_kind(Kind::Float)
        .view([1, 3, 1, 1]);
    let std = Tensor::from_slice(&std)
        .to_kind(Kind::Float)
        .view([1, 3, 1, 1]);
    let labels: Vec<i64> = set.labels.iter().map(|&l| i64::from(l)).collect();
    Ok(((x - mean) / std, Tensor::from_slice(&labels)))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let s = settings()?;
    let _lock = archer_train::training_lock();
    tch::set_num_threads(s.threads);
    tch::manual_seed(s.seed as i64);
    archer_train::memory::reset_peak();
    let (x, y) = cifar(&s)?;
    let (xt, yt) = (x.narrow(0, 0, s.images), y.narrow(0, 0, s.images));
    let (xv, yv) = (
        x.narrow(0, s.images, s.valid),
        y.narrow(0, s.images, s.valid),
    );
    let recal = xt.narrow(0, 0, s.recalibration);
    let space = Nb201Space::default();
    let config = SupernetConfig {
        channels: s.channels,
        depth: s.depth,
        input: Shape::new(3, 32, 32),
        classes: 10,
        partial_channels: 1,
    };
    let net = Supernet::new(&space, &config, Device::Cpu)?;
    let cfg = TrainConfig {
        lr: 0.025,
        min_lr: 0.001,
        weight_decay: 5e-4,
        ..TrainConfig::default()
    };
    let mut sgd = Sgd::new(&net.vs, &cfg);
    let mut rng = Rng::seed_from(s.seed);
    let steps_per_epoch = s.images / s.batch;
    let total = steps_per_epoch as f64 * f64::from(s.epochs);
    let started = Instant::now();
    let mut step = 0u64;
    for epoch in 0..s.epochs {
        let order = Tensor::randperm(s.images, (Kind::Int64, Device::Cpu));
        let mut loss_sum = 0.0;
        for b in 0..steps_per_epoch {
            let idx = order.narrow(0, b * s.batch, s.batch);
            let (bx, by) = (xt.index_select(0, &idx), yt.index_select(0, &idx));
            let arch = space.sample(&mut rng)?;
            // Cosine from lr to min_lr over every step.
            let t = step as f64 / total;
            let lr =
                cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1.0 + (std::f64::consts::PI * t).cos());
            loss_sum += single_path_step(&net, &mut sgd, (&bx, &by), &arch, lr, 5.0, step)?;
            step += 1;
        }
        println!(
            "epoch {:2}: single-path training loss {:.4} ({:.1} s)",
            epoch + 1,
            loss_sum / steps_per_epoch as f64,
            started.elapsed().as_secs_f64()
        );
    }
    let train_seconds = started.elapsed().as_secs_f64();
    let table = Nb201Table::load(&s.table)?;
    let sample = stratified_sample(&table, Nb201Dataset::Cifar10, s.cells, &mut rng)?;
    let truth: Vec<f64> = sample.iter().map(|(_, a)| *a).collect();
    let valid = vec![(xv, yv)];
    for (label, recalibration) in [("recalibrated", Some(&recal)), ("running statistics", None)] {
        let started = Instant::now();
        let scores: Vec<f64> = sample
            .iter()
            .map(|(arch, _)| score(&net, arch, recalibration, &valid))
            .collect::<Result<_, _>>()?;
        let t = trust(&scores, &truth);
        let best = scores
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
            .unwrap_or(0);
        println!(
            "{label:>19}: Kendall τ {:.3}, Spearman ρ {:.3}, precision@top-5% {:.2} over {} cells; \
             its best cell tests at {:.2} % (table); scoring {:.1} s",
            t.kendall_tau,
            t.spearman_rho,
            t.precision_top5,
            t.cells,
            truth[best],
            started.elapsed().as_secs_f64()
        );
    }
    println!(
        "supernet C = {}, N = {}, {} training images at 32x32, {} epochs, batch {}: {:.1} s of training, peak RSS {:.0} MiB",
        s.channels,
        s.depth,
        s.images,
        s.epochs,
        s.batch,
        train_seconds,
        archer_train::memory::peak_rss_mib().unwrap_or(f64::NAN)
    );
    Ok(())
}
