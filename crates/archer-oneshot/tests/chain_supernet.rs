//! The chain (macro) supernet: a path takes a slice of each layer's shared weights (its
//! filters, the input channels of the layers it reads), its gradients agree with finite
//! differences (double precision) and leave the rest of the weights untouched; single-path
//! methods search the space end to end; methods that mix operations are refused.

use std::sync::Arc;

use archer_oneshot::{run_search, SearchInputs, Supernet, SupernetConfig};
use archer_rng::Rng;
use archer_space::{ChainSpace, SearchSpace};
use archer_train::ops::Shape;
use tch::{Device, Kind, Tensor};

mod common;
use common::{central_difference, mnist_train, small_settings};

fn space() -> ChainSpace {
    let ops: Vec<String> = [
        "conv", "sep_conv", "dil_conv", "max_pool", "avg_pool", "identity",
    ]
    .map(String::from)
    .to_vec();
    ChainSpace::new(Some(4), Some(&ops), Some(&[1, 3]), Some(&[16, 24])).unwrap()
}

#[test]
fn a_path_trains_its_slice_of_the_shared_weights_with_correct_gradients() {
    let _lock = archer_train::training_lock();
    tch::manual_seed(4);
    let space = space();
    let config = SupernetConfig {
        channels: 8,
        depth: 1,
        input: Shape::new(1, 8, 8),
        classes: 3,
        partial_channels: 1,
    };
    let mut net = Supernet::new(&space, &config, Device::Cpu).unwrap();
    net.double();
    let x = Tensor::randn([4, 1, 8, 8], (Kind::Double, Device::Cpu));
    let probe = Tensor::randn([4, 3], (Kind::Double, Device::Cpu));
    let mut rng = Rng::derive(9, 0);
    let mut with_skips = 0;
    for _ in 0..6 {
        let arch = space.sample(&mut rng).unwrap();
        let mixing = net.single_path(&arch).unwrap();
        let objective = || (net.forward_t(&x, &mixing, true) * &probe).sum(Kind::Double);
        let loss = objective();
        let named: Vec<(String, Tensor)> = net
            .vs
            .variables()
            .into_iter()
            .filter(|(_, w)| w.requires_grad())
            .collect();
        let ws: Vec<&Tensor> = named.iter().map(|(_, w)| w).collect();
        let grads = Tensor::run_backward(&[&loss], &ws, true, true);
        let (mut used, mut untouched) = (0, 0);
        for ((name, w), g) in named.iter().zip(&grads) {
            if !g.defined() || g.abs().max().double_value(&[]) == 0.0 {
                untouched += 1;
                continue;
            }
            used += 1;
            // The entry of the largest gradient: inside the path's slice.
            let k = g.abs().view([-1]).argmax(0, false).int64_value(&[]);
            let analytic = g.view([-1]).double_value(&[k]);
            let numeric = central_difference(&w.view([-1]).narrow(0, k, 1), &objective);
            assert!(
                (analytic - numeric).abs() <= 1e-6 + 1e-4 * numeric.abs(),
                "{}: {name}[{k}]: backward {analytic}, finite difference {numeric}",
                space.format(&arch)
            );
        }
        assert!(used >= 4, "{}: {used} weights used", space.format(&arch));
        assert!(
            untouched > 0,
            "a path leaves other operations' weights alone"
        );
        with_skips += usize::from(space.format(&arch).contains('+'));
        // Filters the path does not take get no gradient: in layer 0's conv or separable
        // weights, rows 16..24 when the layer takes 16 filters.
        let (op, k, filters, _) = space.layer(&arch, 0);
        if filters == 16 && matches!(op, "conv" | "sep_conv" | "dil_conv") {
            let name = match op {
                "conv" => format!("layer0.conv{k}.weight"),
                other => format!("layer0.{other}{k}.pw"),
            };
            let at = named.iter().position(|(n, _)| *n == name).unwrap();
            let rows = grads[at].narrow(0, 16, 8).abs().max().double_value(&[]);
            assert_eq!(rows, 0.0, "{name}: rows 16..24 are not the path's");
        }
    }
    assert!(with_skips > 0, "some sampled paths read skip connections");
}

#[test]
fn single_path_methods_search_the_chain_space_and_mixing_methods_are_refused() {
    let train = mnist_train(0.2);
    let space: Arc<dyn SearchSpace> = Arc::new(space());
    for method in ["rsps", "spos", "enas", "darts1", "gdas"] {
        let settings = small_settings(
            method,
            r#""epochs": 2, "channels": 8, "finalists": 2,
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
        let mut losses = Vec::new();
        let result = run_search(&inputs, None, &mut |r| losses.push(r.train_loss));
        if matches!(method, "darts1" | "gdas") {
            let err = result.unwrap_err().to_string();
            assert!(
                err.contains("strategy.name") && err.contains("rsps, spos, enas"),
                "{method}: {err}"
            );
            continue;
        }
        let outcome = result.unwrap();
        assert!(
            space.contains(&outcome.arch),
            "{method}: {}",
            outcome.genotype
        );
        assert_eq!(outcome.finalists.len(), 2, "{method}");
        assert!(outcome.alpha.is_none(), "{method}: no α");
        assert!(
            losses[1] < losses[0],
            "{method}: the supernet learns: {losses:?}"
        );
        let acc = outcome.metrics["valid_acc"];
        assert!(acc > 0.0 && acc <= 100.0, "{method}: {acc}");
        common::assert_single_network_measured(&outcome, method);
        eprintln!("{method}: {} valid_acc {acc:.1}", outcome.genotype);
    }
}
