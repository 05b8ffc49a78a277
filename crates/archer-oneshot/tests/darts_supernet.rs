//! The DARTS-space supernet: every candidate operation's gradient with respect to α and to
//! its weights agrees with finite differences (double precision) under DARTS's soft and
//! GDAS's hard mixing; a single path computes exactly what one-hot mixing does; the cell is
//! read from α as quark0/darts reads it; and every method searches the space end to end.

use std::sync::Arc;

use archer_oneshot::{gdas_weights, run_search, Mixing, SearchInputs, Supernet, SupernetConfig};
use archer_rng::Rng;
use archer_space::{DartsSpace, Gene, SearchSpace, DARTS_OPS};
use archer_train::ops::Shape;
use tch::{Device, Kind, Tensor};

mod common;
use common::{central_difference, check_alpha_at, mnist_train, small_settings};

/// 4 nodes: 14 edges per cell, α rows 0..14 normal and 14..28 reduction.
const EDGES: i64 = 14;

fn config(channels: i64, partial_channels: i64) -> SupernetConfig {
    SupernetConfig {
        channels,
        depth: 1,
        input: Shape::new(1, 8, 8),
        classes: 3,
        partial_channels,
    }
}

/// Every α row mixed by its row of `weights`.
fn soft_mixing(weights: &Tensor) -> Vec<Tensor> {
    (0..weights.size()[0]).map(|e| weights.get(e)).collect()
}

#[test]
fn every_candidate_operation_has_correct_gradients_for_alpha_and_weights() {
    let _lock = archer_train::training_lock();
    tch::manual_seed(5);
    let space = DartsSpace::default();
    let mut net = Supernet::new(&space, &config(4, 1), Device::Cpu).unwrap();
    assert_eq!(
        net.alpha.size(),
        [2 * EDGES, 8],
        "every DARTS operation, none included"
    );
    net.double();
    tch::no_grad(|| {
        let mut a = net.alpha.shallow_clone();
        a.copy_(&Tensor::randn([2 * EDGES, 8], (Kind::Double, Device::Cpu)));
    });
    let x = Tensor::randn([4, 1, 8, 8], (Kind::Double, Device::Cpu));
    let probe = Tensor::randn([4, 3], (Kind::Double, Device::Cpu));
    let soft = || {
        let rows = soft_mixing(&net.alpha.softmax(-1, Kind::Double));
        let mixing: Vec<Mixing> = rows.iter().map(Mixing::Soft).collect();
        (net.forward_t(&x, &mixing, true) * &probe).sum(Kind::Double)
    };
    // Every column of a normal edge (node 2 from input 0) and of a reduction edge from an
    // input (stride 2: the factorized skip, strided pools and convolutions) and from an
    // intermediate node (row 14 + 13: node 5 from node 4).
    let at: Vec<i64> = [0, EDGES, EDGES + 13]
        .iter()
        .flat_map(|&row| (0..8).map(move |c| row * 8 + c))
        .collect();
    check_alpha_at("soft", &net, &soft, &soft, &at);
    // One weight of every operation's convolutions on those edges, and of the fixed parts.
    let loss = soft();
    let weights: Vec<(String, Tensor)> = net
        .vs
        .variables()
        .into_iter()
        .filter(|(_, w)| w.requires_grad())
        .filter(|(n, _)| {
            n.contains("cell0.node2_from0.")
                || n.contains("cell1.node2_from0.")
                || n.contains("cell1.node5_from4.")
                || n.contains("pre0")
                || n.starts_with("stem")
        })
        .collect();
    assert!(weights.len() >= 30, "{} weights", weights.len());
    let ws: Vec<&Tensor> = weights.iter().map(|(_, w)| w).collect();
    let grads = Tensor::run_backward(&[&loss], &ws, false, false);
    for ((name, w), g) in weights.iter().zip(&grads) {
        let analytic = g.view([-1]).double_value(&[0]);
        let numeric = central_difference(&w.view([-1]).narrow(0, 0, 1), &soft);
        assert!(
            (analytic - numeric).abs() <= 1e-6 + 1e-4 * numeric.abs(),
            "{name}: backward {analytic}, finite difference {numeric}"
        );
    }
    // GDAS: fixed noise; the straight-through gradient is that of Σ p(α)·c, c the loss's
    // gradient with respect to the one-hot weights.
    let noise = -Tensor::rand([2 * EDGES, 8], (Kind::Double, Device::Cpu))
        .log()
        .neg()
        .log();
    let loss_of = |weights: &Tensor, chosen: &[usize]| {
        let rows = soft_mixing(weights);
        let mixing: Vec<Mixing> = rows
            .iter()
            .zip(chosen)
            .map(|(weights, &index)| Mixing::Hard { weights, index })
            .collect();
        (net.forward_t(&x, &mixing, true) * &probe).sum(Kind::Double)
    };
    let (one_hot, chosen) = gdas_weights(&net.alpha, &noise, 1.0);
    let leaf = one_hot.detach().set_requires_grad(true);
    let c = Tensor::run_backward(&[&loss_of(&leaf, &chosen)], &[&leaf], false, false).remove(0);
    let hard = || {
        let (weights, now) = gdas_weights(&net.alpha, &noise, 1.0);
        loss_of(&weights, &now)
    };
    let surrogate = || {
        let p = (net.alpha.log_softmax(-1, Kind::Double) + &noise).softmax(-1, Kind::Double);
        (p * &c).sum(Kind::Double)
    };
    check_alpha_at("hard", &net, &hard, &surrogate, &at);
}

#[test]
fn a_single_path_computes_what_one_hot_mixing_computes() {
    let _lock = archer_train::training_lock();
    tch::manual_seed(2);
    let space = DartsSpace::default();
    let net = Supernet::new(&space, &config(4, 1), Device::Cpu).unwrap();
    let x = Tensor::randn([3, 1, 8, 8], (Kind::Float, Device::Cpu));
    let mut rng = Rng::derive(11, 0);
    for _ in 0..5 {
        let arch = space.sample(&mut rng).unwrap();
        let single = net.single_path(&arch).unwrap();
        // The same choice as one-hot rows: the chosen column, else `none` (column 0).
        let one_hot = Tensor::zeros([2 * EDGES, 8], (Kind::Float, Device::Cpu));
        let mut on = 0;
        for (row, m) in single.iter().enumerate() {
            let Mixing::Single(col) = *m else {
                panic!("{m:?}")
            };
            on += usize::from(col != 0);
            let _ = one_hot.get(row as i64).get(col as i64).fill_(1.0);
        }
        assert_eq!(on, 16, "two edges per node, 4 nodes, 2 cells");
        let rows = soft_mixing(&one_hot);
        let soft: Vec<Mixing> = rows.iter().map(Mixing::Soft).collect();
        let a = net.forward_t(&x, &single, false);
        let b = net.forward_t(&x, &soft, false);
        assert!(a.abs().sum(Kind::Double).double_value(&[]) > 0.0);
        let gap = (a - b).abs().max().double_value(&[]);
        assert!(gap < 1e-6, "{}: {gap}", space.format(&arch));
    }
    // A node that takes one input twice is no path of the supernet.
    let mut twice = space.sample(&mut rng).unwrap();
    twice.genes[2] = twice.genes[0];
    assert!(net.single_path(&twice).is_err());
}

#[test]
fn the_cell_is_read_from_alpha_as_quark0_reads_it() {
    let space = DartsSpace::default();
    let net = Supernet::new(&space, &config(4, 1), Device::Cpu).unwrap();
    let col = |name: &str| DARTS_OPS.iter().position(|&o| o == name).unwrap();
    // Uniform rows, then: `none` dominant everywhere in node 5 (never chosen, the space does
    // not allow it); node 5's strongest edges are from input 1 (dil_conv_5x5, 0.5) and
    // input 4 (sep_conv_3x3, 0.4); input 3's max_pool at 0.3 loses.
    let mut probs = vec![vec![1.0 / 8.0; 8]; 2 * EDGES as usize];
    let node5 = 2 + 3 + 4; // node 5's first row: nodes 2, 3 and 4 have 2, 3 and 4 edges
    for j in 0..5 {
        probs[node5 + j] = vec![0.6, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.1];
    }
    probs[node5 + 1][col("dil_conv_5x5")] = 0.5;
    probs[node5 + 4][col("sep_conv_3x3")] = 0.4;
    probs[node5 + 3][col("max_pool_3x3")] = 0.3;
    let arch = net.derive_from(&probs).unwrap();
    assert!(space.contains(&arch), "{}", space.format(&arch));
    let node5_genes = &arch.genes[12..16];
    assert_eq!(
        node5_genes,
        &[
            Gene::Index(1),
            Gene::Index(col("dil_conv_5x5") as u16),
            Gene::Index(4),
            Gene::Index(col("sep_conv_3x3") as u16),
        ],
        "{}",
        space.format(&arch)
    );
    // The ranking starts at the derived cell and goes down in log-probability, each cell
    // distinct and in the space.
    let ranked = net.ranked(&probs, 6, &space);
    assert_eq!(ranked.len(), 6);
    assert_eq!(ranked[0].0, arch);
    let mut seen = std::collections::HashSet::new();
    for pair in ranked.windows(2) {
        assert!(pair[0].1 >= pair[1].1, "{} then {}", pair[0].1, pair[1].1);
    }
    for (a, _) in &ranked {
        assert!(space.contains(a));
        assert!(seen.insert(space.canonical_hash(a)));
    }
}

#[test]
fn every_method_searches_the_darts_space() {
    let train = mnist_train(0.03);
    // Three operations (and `none`) keep the test short; every operation's gradients are
    // checked above.
    let ops: Vec<String> = ["max_pool_3x3", "skip_connect", "sep_conv_3x3"]
        .map(String::from)
        .to_vec();
    let space: Arc<dyn SearchSpace> = Arc::new(DartsSpace::new(Some(&ops)).unwrap());
    for method in ["darts1", "darts2", "snas", "drnas", "rsps", "spos"] {
        let settings = small_settings(
            method,
            r#""epochs": 1, "channels": 4, "depth": 1, "finalists": 3,
               "weights": { "batch_size": 32 },
               "scoring": { "recalibration_images": 32, "images": 64 }"#,
        );
        let inputs = SearchInputs {
            method,
            settings: &settings,
            space: space.clone(),
            train: &train,
            seed: 1,
            wall_seconds: None,
        };
        let started = std::time::Instant::now();
        let outcome = run_search(&inputs, None, &mut |_| {}).unwrap();
        assert!(
            space.contains(&outcome.arch),
            "{method}: {}",
            outcome.genotype
        );
        assert_eq!(
            space.parse(&outcome.genotype).unwrap(),
            outcome.arch,
            "{method}: the genotype reads back"
        );
        assert_eq!(outcome.finalists.len(), 3, "{method}");
        assert_eq!(outcome.finalists[0].arch, outcome.arch, "{method}");
        let acc = outcome.metrics["valid_acc"];
        assert!((0.0..=100.0).contains(&acc), "{method}: {acc}");
        common::assert_single_network_measured(&outcome, method);
        if let Some(alpha) = &outcome.alpha {
            assert_eq!((alpha.len(), alpha[0].len()), (28, 4), "{method}");
        }
        eprintln!(
            "{method}: {} valid_acc {acc:.1} in {:.1} s",
            outcome.genotype,
            started.elapsed().as_secs_f64()
        );
    }
}
