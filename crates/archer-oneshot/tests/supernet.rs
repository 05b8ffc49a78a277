//! The NAS-Bench-201 supernet: gradients with respect to α and the weights agree with finite
//! differences (double precision), for DARTS's soft, SNAS's relaxed and GDAS's hard mixing and
//! DrNAS's KL regulariser; DrNAS's reparameterised Dirichlet gradient averages to the exact
//! gradient of the expectation; both DARTS orders
//! and GDAS learn a task that needs convolutions, deterministically from the seed.

use archer_eval::TrainConfig;
use archer_oneshot::search::{darts2_step, darts_step, gdas_step, gdas_tau};
use archer_oneshot::{
    channel_shuffle, dirichlet_concentration, dirichlet_kl, dirichlet_weights, gdas_weights,
    snas_weights, Adam, MixedEdge, Mixing, OneShotSettings, Step, Supernet, SupernetConfig,
};
use archer_space::{Nb201Space, SearchSpace};
use archer_train::ops::Shape;
use archer_train::sgd::Sgd;
use tch::{Device, Kind, Tensor};

mod common;
use common::check_alpha;

fn config(channels: i64) -> SupernetConfig {
    SupernetConfig {
        channels,
        depth: 1,
        input: Shape::new(1, 8, 8),
        classes: 3,
        partial_channels: 1,
    }
}

/// Puts `net` in double precision with α ~ N(0, 1); returns an input batch (4 images) and a
/// probe of the logits, for a scalar objective.
fn double_with_random_alpha(net: &mut Supernet) -> (Tensor, Tensor) {
    net.double();
    tch::no_grad(|| {
        let mut a = net.alpha.shallow_clone();
        a.copy_(&Tensor::randn([6, 5], (Kind::Double, Device::Cpu)));
    });
    (
        Tensor::randn([4, 1, 8, 8], (Kind::Double, Device::Cpu)),
        Tensor::randn([4, 3], (Kind::Double, Device::Cpu)),
    )
}

/// DARTS's objective: every edge mixed by softmax(α), batch statistics (training mode), the
/// logits weighted by `probe`.
fn soft_objective(net: &Supernet, x: &Tensor, probe: &Tensor) -> Tensor {
    let w = net.alpha.softmax(-1, Kind::Double);
    let rows: Vec<Tensor> = (0..6).map(|e| w.get(e)).collect();
    let mixing: Vec<Mixing> = rows.iter().map(Mixing::Soft).collect();
    (net.forward_t(x, &mixing, true) * probe).sum(Kind::Double)
}

#[test]
fn mixed_edges_have_correct_gradients_for_alpha_and_weights() {
    let _lock = archer_train::training_lock();
    tch::manual_seed(1);
    let space = Nb201Space::default();
    let mut net = Supernet::new(&space, &config(2), Device::Cpu).unwrap();
    let (x, probe) = double_with_random_alpha(&mut net);
    // DARTS: every edge mixed by softmax(α); batch statistics (training mode).
    let soft = || soft_objective(&net, &x, &probe);
    check_alpha("soft", &net, &soft, &soft);
    // The same for the weights: one convolution of a mixed edge.
    let (name, w) = net
        .vs
        .variables()
        .into_iter()
        .find(|(n, _)| n.contains("edge4") && n.ends_with("conv.weight"))
        .unwrap();
    let loss = soft();
    let g = Tensor::run_backward(&[&loss], &[&w], false, false).remove(0);
    let analytic = g.view([-1]).double_value(&[0]);
    let numeric = tch::no_grad(|| {
        let mut e = w.view([-1]).narrow(0, 0, 1);
        let _ = e.f_add_scalar_(1e-6).unwrap();
        let plus = soft().double_value(&[]);
        let _ = e.f_add_scalar_(-2e-6).unwrap();
        let minus = soft().double_value(&[]);
        let _ = e.f_add_scalar_(1e-6).unwrap();
        (plus - minus) / 2e-6
    });
    assert!(
        (analytic - numeric).abs() <= 1e-6 + 1e-4 * numeric.abs(),
        "{name}: backward {analytic}, finite difference {numeric}"
    );
    // GDAS: fixed Gumbel noise. The hard weights are one-hot in value, so the loss does not
    // change with α; its straight-through gradient is that of Σ p(α)·c, c the loss's gradient
    // with respect to the one-hot weights.
    let noise = -Tensor::rand([6, 5], (Kind::Double, Device::Cpu))
        .log()
        .neg()
        .log();
    let loss_of = |weights: &Tensor, chosen: &[usize]| {
        let rows: Vec<Tensor> = (0..6).map(|e| weights.get(e)).collect();
        let mixing: Vec<Mixing> = rows
            .iter()
            .zip(chosen)
            .map(|(weights, &index)| Mixing::Hard { weights, index })
            .collect();
        (net.forward_t(&x, &mixing, true) * &probe).sum(Kind::Double)
    };
    let (one_hot, chosen) = gdas_weights(&net.alpha, &noise, 1.0);
    let ones = one_hot.sum_dim_intlist(-1, false, Kind::Double);
    assert!(bool::try_from(ones.eq(1.0).all()).unwrap(), "{ones}");
    let leaf = one_hot.detach().set_requires_grad(true);
    let c = Tensor::run_backward(&[&loss_of(&leaf, &chosen)], &[&leaf], false, false).remove(0);
    let hard = || {
        let (weights, now) = gdas_weights(&net.alpha, &noise, 1.0);
        assert_eq!(now, chosen);
        loss_of(&weights, &now)
    };
    let surrogate = || {
        let p =
            ((net.alpha.log_softmax(-1, Kind::Double) + &noise) / 1.0).softmax(-1, Kind::Double);
        (p * &c).sum(Kind::Double)
    };
    check_alpha("hard", &net, &hard, &surrogate);
    // SNAS: fixed Gumbel noise, every edge mixed by the relaxed sample.
    let relaxed = || {
        let w = snas_weights(&net.alpha, &noise, 0.7);
        let rows: Vec<Tensor> = (0..6).map(|e| w.get(e)).collect();
        let mixing: Vec<Mixing> = rows.iter().map(Mixing::Soft).collect();
        (net.forward_t(&x, &mixing, true) * &probe).sum(Kind::Double)
    };
    check_alpha("relaxed", &net, &relaxed, &relaxed);
    // DrNAS's KL regulariser.
    let kl = || dirichlet_kl(&net.alpha);
    check_alpha("dirichlet kl", &net, &kl, &kl);
}

#[test]
fn dirichlet_kl_is_zero_at_the_uniform_prior_and_positive_elsewhere() {
    let zero = Tensor::zeros([3, 5], (Kind::Double, Device::Cpu));
    assert!(dirichlet_kl(&zero).double_value(&[]).abs() < 1e-12);
    let a = Tensor::from_slice(&[0.5f64, -0.3, 2.0, 0.0, 1.0]).view([1, 5]);
    assert!(dirichlet_kl(&a).double_value(&[]) > 0.01);
}

#[test]
fn dirichlet_draws_have_the_exact_expected_gradient() {
    // The pathwise gradient of a draw is unbiased: averaged over many draws, the gradient of
    // f(x) = Σ c_i x_i + Σ e_i x_i² equals the gradient of E f(x), known in closed form
    // (E x_i = β_i/β₀, E x_i² = β_i(β_i + 1)/(β₀(β₀ + 1))).
    let _lock = archer_train::training_lock();
    tch::manual_seed(3);
    let alpha = Tensor::from_slice(&[0.4f64, -0.6, 1.5, 0.0, -0.2]).view([1, 5]);
    let c = Tensor::from_slice(&[1.0f64, -2.0, 0.5, 3.0, -1.0]);
    let e = Tensor::from_slice(&[2.0f64, 1.0, -3.0, 0.5, 4.0]);
    let rows = 200_000;
    // One copy of α per draw, so that one backward gives every draw's own gradient.
    let copies = alpha.repeat([rows, 1]).set_requires_grad(true);
    let x = dirichlet_weights(&copies);
    let sums = x.sum_dim_intlist(-1, false, Kind::Double);
    assert!(bool::try_from((sums - 1.0).abs().max().lt(1e-9)).unwrap());
    let f = (&x * &c).sum_dim_intlist(-1, false, Kind::Double)
        + (x.square() * &e).sum_dim_intlist(-1, false, Kind::Double);
    let per_draw =
        Tensor::run_backward(&[&f.sum(Kind::Double)], &[&copies], false, false).remove(0);
    let mean = per_draw.mean_dim(0, false, Kind::Double);
    let std = per_draw.std_dim(0, true, false);
    let alpha = alpha.set_requires_grad(true);
    let beta = dirichlet_concentration(&alpha);
    let total = beta.sum(Kind::Double);
    let expected_f = (&beta * &c).sum(Kind::Double) / &total
        + (&beta * (&beta + 1.0) * &e).sum(Kind::Double) / (&total * (&total + 1.0));
    let exact = Tensor::run_backward(&[&expected_f], &[&alpha], false, false).remove(0);
    for k in 0..5 {
        let (m, t) = (mean.double_value(&[k]), exact.double_value(&[0, k]));
        let tol = 5.0 * std.double_value(&[k]) / (rows as f64).sqrt();
        assert!(
            (m - t).abs() <= tol,
            "dα[{k}]: mean pathwise gradient {m}, exact {t} (tolerance {tol})"
        );
    }
}

/// Stripes: class 0 horizontal, 1 vertical, 2 none; brightness drawn at random, so that only
/// a convolution tells the classes apart.
fn stripes(n: i64, seed: i64) -> (Tensor, Tensor) {
    tch::manual_seed(seed);
    let labels = Tensor::randint(3, [n], (Kind::Int64, Device::Cpu));
    let rows = Tensor::arange(8, (Kind::Float, Device::Cpu)).remainder(2.0);
    let horizontal = rows.view([1, 1, 8, 1]).expand([n, 1, 8, 8], false);
    let vertical = rows.view([1, 1, 1, 8]).expand([n, 1, 8, 8], false);
    let flat = Tensor::full([n, 1, 8, 8], 0.5, (Kind::Float, Device::Cpu));
    let l = labels.view([n, 1, 1, 1]);
    let pattern = horizontal.where_self(&l.eq(0), &vertical.where_self(&l.eq(1), &flat));
    let brightness = Tensor::rand([n, 1, 1, 1], (Kind::Float, Device::Cpu)) + 0.5;
    let noise = Tensor::randn([n, 1, 8, 8], (Kind::Float, Device::Cpu)) * 0.1;
    (pattern * brightness + noise, labels)
}

/// 40 steps of `method` (darts, darts2, gdas by their step functions; snas and drnas as
/// registered, with α's learning rate 3e-3) from seed 7: (first and last training losses, α,
/// derived cell).
fn search(method: &str) -> (f64, f64, Tensor, archer_space::Arch) {
    let _lock = archer_train::training_lock();
    tch::set_num_threads(1);
    let (xt, yt) = stripes(512, 1);
    let (xv, yv) = stripes(512, 2);
    tch::manual_seed(7);
    let space = Nb201Space::default();
    let net = Supernet::new(&space, &config(4), Device::Cpu).unwrap();
    let cfg = TrainConfig {
        lr: 0.025,
        weight_decay: 5e-4,
        ..TrainConfig::default()
    };
    let mut sgd = Sgd::new(&net.vs, &cfg);
    let mut adam = Adam::new(&net.alpha, 3e-3, (0.5, 0.999), 1e-3);
    let mut settings: OneShotSettings = serde_json::from_str("{}").unwrap();
    settings.arch.lr = 3e-3;
    let shared: std::sync::Arc<dyn SearchSpace> = std::sync::Arc::new(Nb201Space::default());
    let mut registered = archer_oneshot::method_kind(method).map(|k| {
        (k.build)(&archer_oneshot::MethodInit {
            settings: &settings,
            net: &net,
            space: &shared,
            seed: 7,
        })
        .unwrap()
    });
    let mut rng = archer_rng::Rng::seed_from(7);
    let mut losses = Vec::new();
    for step in 0..40u64 {
        let at = (step as i64 % 8) * 64;
        let train = (&xt.narrow(0, at, 64), &yt.narrow(0, at, 64));
        let valid = (&xv.narrow(0, at, 64), &yv.narrow(0, at, 64));
        let l = match method {
            "snas" | "drnas" => registered.as_mut().unwrap().step(Step {
                net: &net,
                space: &space,
                sgd: &mut sgd,
                train,
                valid,
                lr: 0.025,
                grad_clip: 5.0,
                warmup: false,
                epoch: (step / 8) as u32,
                epochs: 5,
                step,
                rng: &mut rng,
            }),
            "darts" => darts_step(&net, &mut adam, &mut sgd, train, valid, 0.025, 5.0, step),
            "darts2" => darts2_step(
                &net,
                &mut adam,
                &mut sgd,
                train,
                valid,
                0.025,
                cfg.momentum,
                5e-4,
                5.0,
                step,
            ),
            _ => {
                let tau = gdas_tau((step / 8) as u32, 5, 10.0, 0.1);
                gdas_step(
                    &net, &mut adam, &mut sgd, train, valid, tau, 0.025, 5.0, step,
                )
            }
        }
        .unwrap();
        losses.push(l.weights);
        assert!(l.arch.is_some());
    }
    if registered.is_none() {
        assert_eq!(adam.steps(), 40);
    }
    let first = losses[..5].iter().sum::<f64>() / 5.0;
    let last = losses[35..].iter().sum::<f64>() / 5.0;
    (
        first,
        last,
        net.alpha.detach().copy(),
        net.derive().unwrap(),
    )
}

#[test]
fn darts_both_orders_gdas_snas_and_drnas_learn_and_derive_a_cell_deterministically() {
    let space = Nb201Space::default();
    for method in ["darts", "darts2", "gdas", "snas", "drnas"] {
        let (first, last, alpha, arch) = search(method);
        assert!(last < first * 0.9, "{method}: loss {first} -> {last}");
        assert!(
            f64::try_from(alpha.abs().max()).unwrap() > 1e-2,
            "{method}: α moved from its 1e-3 start"
        );
        space.check(&arch).unwrap();
        let (_, _, again, arch_again) = search(method);
        assert!(
            alpha.equal(&again),
            "{method}: same seed, same α bit for bit"
        );
        assert_eq!(arch, arch_again);
        eprintln!(
            "{method}: loss {first:.3} -> {last:.3}, cell {}",
            space.format(&arch)
        );
    }
}

#[test]
fn recalibration_gives_exact_statistics_and_scoring_leaves_the_supernet_unchanged() {
    use archer_oneshot::score::{recalibrate, score};
    let _lock = archer_train::training_lock();
    let (x, y) = stripes(384, 5);
    tch::manual_seed(3);
    let space = Nb201Space::default();
    let net = Supernet::new(&space, &config(4), Device::Cpu).unwrap();
    let a = space
        .parse("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|")
        .unwrap();
    let b = space
        .parse("|skip_connect~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|skip_connect~2|")
        .unwrap();
    let perturb = |arch: &archer_space::Arch, at: i64| {
        tch::no_grad(|| {
            let _ = net.forward_t(&x.narrow(0, at, 64), &net.single_path(arch).unwrap(), true);
        })
    };
    let stats = || -> Vec<Tensor> {
        let mut v: Vec<(String, Tensor)> = net
            .vs
            .variables()
            .into_iter()
            .filter(|(n, _)| n.contains("running"))
            .collect();
        v.sort_by(|p, q| p.0.cmp(&q.0));
        v.into_iter().map(|(_, t)| t.copy()).collect()
    };
    perturb(&b, 0);
    let valid = vec![(x.narrow(0, 0, 128), y.narrow(0, 0, 128))];
    let recal = x.narrow(0, 128, 256);
    let before = stats();
    let first = score(&net, &a, Some(&recal), &valid).unwrap();
    for (p, q) in before.iter().zip(stats()) {
        assert!(p.equal(&q), "scoring left the statistics as they were");
    }
    // Other paths trained in between do not change a recalibrated score.
    perturb(&b, 64);
    perturb(&a, 128);
    assert_eq!(score(&net, &a, Some(&recal), &valid).unwrap(), first);
    // The stem's batch norm holds the exact mean and unbiased variance of its input.
    recalibrate(&net, &net.single_path(&a).unwrap(), &recal);
    let vars = net.vs.variables();
    let stem = recal.conv2d(
        &vars["stem.weight"],
        None::<Tensor>,
        [1, 1],
        [1, 1],
        [1, 1],
        1,
    );
    let mean = stem.mean_dim(&[0i64, 2, 3][..], false, Kind::Float);
    let var = stem.var_dim(&[0i64, 2, 3][..], true, false);
    let gap = |p: &Tensor, q: &Tensor| f64::try_from((p - q).abs().max()).unwrap();
    assert!(gap(&vars["stem_bn.running_mean"], &mean) < 1e-5);
    assert!(gap(&vars["stem_bn.running_var"], &var) < 1e-4);
}

#[test]
fn single_path_training_learns_and_recalibrated_scores_rank_paths() {
    use archer_oneshot::score::score;
    use archer_oneshot::search::single_path_step;
    let _lock = archer_train::training_lock();
    tch::set_num_threads(1);
    let (xt, yt) = stripes(512, 1);
    let (xv, yv) = stripes(256, 2);
    tch::manual_seed(11);
    let space = Nb201Space::default();
    let net = Supernet::new(&space, &config(4), Device::Cpu).unwrap();
    let cfg = TrainConfig {
        lr: 0.05,
        weight_decay: 5e-4,
        ..TrainConfig::default()
    };
    let mut sgd = Sgd::new(&net.vs, &cfg);
    let mut rng = archer_rng::Rng::seed_from(4);
    let mut losses = Vec::new();
    for step in 0..80u64 {
        let arch = space.sample(&mut rng).unwrap();
        let at = (step as i64 % 8) * 64;
        let train = (&xt.narrow(0, at, 64), &yt.narrow(0, at, 64));
        losses.push(single_path_step(&net, &mut sgd, train, &arch, 0.05, 5.0, step).unwrap());
    }
    let first = losses[..20].iter().sum::<f64>() / 20.0;
    let last = losses[60..].iter().sum::<f64>() / 20.0;
    assert!(last < first, "loss {first} -> {last}");
    // RSPS's selection: the best of random paths on the shared weights.
    let valid = vec![(xv.narrow(0, 0, 128), yv.narrow(0, 0, 128))];
    let recal = xv.narrow(0, 128, 128);
    let scores: Vec<f64> = (0..10)
        .map(|_| {
            let arch = space.sample(&mut rng).unwrap();
            score(&net, &arch, Some(&recal), &valid).unwrap()
        })
        .collect();
    let best = scores.iter().copied().fold(0.0, f64::max);
    assert!(
        best > 0.5,
        "the best path of 10 is well above chance (1/3): {scores:?}"
    );
}

#[test]
fn trust_measures_ranking_on_a_stratified_sample_of_the_table() {
    use archer_oneshot::trust::{stratified_sample, trust};
    let table = archer_eval::Nb201Table::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../data/nas-bench-201/nb201_results.csv.gz"),
    )
    .unwrap();
    let dataset = archer_eval::Nb201Dataset::Cifar10;
    let mut rng = archer_rng::Rng::seed_from(0);
    let sample = stratified_sample(&table, dataset, 200, &mut rng).unwrap();
    assert_eq!(sample.len(), 200);
    let accs: Vec<f64> = sample.iter().map(|(_, a)| *a).collect();
    // One cell per stratum: sorted, spanning the table from its worst cells to its best.
    assert!(accs.windows(2).all(|w| w[0] <= w[1]));
    assert!(
        accs[0] < 15.0 && accs[199] > 93.5,
        "{} .. {}",
        accs[0],
        accs[199]
    );
    let distinct: std::collections::HashSet<_> = sample.iter().map(|(a, _)| a.clone()).collect();
    assert_eq!(distinct.len(), 200);
    let again =
        stratified_sample(&table, dataset, 200, &mut archer_rng::Rng::seed_from(0)).unwrap();
    assert_eq!(again, sample);
    // Perfect, reversed and uninformative scores.
    let perfect = trust(&accs, &accs);
    assert_eq!((perfect.kendall_tau, perfect.precision_top5), (1.0, 1.0));
    let reversed: Vec<f64> = accs.iter().map(|a| -a).collect();
    let r = trust(&reversed, &accs);
    assert_eq!((r.kendall_tau, r.precision_top5), (-1.0, 0.0));
    assert!((r.spearman_rho + 1.0).abs() < 1e-9);
    let shuffled: Vec<f64> = (0..200).map(|i| ((i * 7919) % 200) as f64).collect();
    let s = trust(&shuffled, &accs);
    assert!(s.kendall_tau.abs() < 0.2, "{s:?}");
}

#[test]
fn second_order_darts_hessian_vector_product_matches_double_backward() {
    use archer_oneshot::search::hessian_vector_alpha;
    let _lock = archer_train::training_lock();
    tch::manual_seed(5);
    let space = Nb201Space::default();
    let mut net = Supernet::new(&space, &config(2), Device::Cpu).unwrap();
    net.double();
    tch::no_grad(|| {
        net.alpha
            .shallow_clone()
            .copy_(&Tensor::randn([6, 5], (Kind::Double, Device::Cpu)));
    });
    let x = Tensor::randn([8, 1, 8, 8], (Kind::Double, Device::Cpu));
    let y = Tensor::randint(3, [8], (Kind::Int64, Device::Cpu));
    let mut named: Vec<(String, Tensor)> = net
        .vs
        .variables()
        .into_iter()
        .filter(|(_, t)| t.requires_grad())
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let ws: Vec<Tensor> = named.into_iter().map(|(_, t)| t).collect();
    let v: Vec<Tensor> = ws.iter().map(|w| w.randn_like()).collect();
    let loss = || {
        let a = net.alpha.softmax(-1, Kind::Double);
        let rows: Vec<Tensor> = (0..6).map(|e| a.get(e)).collect();
        let mixing: Vec<Mixing> = rows.iter().map(Mixing::Soft).collect();
        net.forward_t(&x, &mixing, true)
            .cross_entropy_for_logits(&y)
    };
    // Exact: ∇α (∇w L · v) by double backward.
    let g = Tensor::run_backward(&[&loss()], &ws, true, true);
    let dot = g
        .iter()
        .zip(&v)
        .map(|(g, v)| (g * v).sum(Kind::Double))
        .fold(Tensor::zeros([], (Kind::Double, Device::Cpu)), |s, t| s + t);
    let exact = Tensor::run_backward(&[&dot], &[&net.alpha], false, false).remove(0);
    // A step of 1e-3. Measured on this net: 1e-2 is far off (60 against a scale of 2.5: the
    // curvature of a 2-channel network), 1e-3 gives 7e-4, and smaller steps do worse again
    // (4e-3 at 1e-4, 0.88 at 1e-7), more than double precision explains (every variable is
    // double; the cause is not found yet).
    let approx = hessian_vector_alpha(&net, (&x, &y), &v, 1e-3);
    let err = f64::try_from((&approx - &exact).abs().max()).unwrap();
    let scale = f64::try_from(exact.abs().max()).unwrap();
    assert!(scale > 1e-6, "a non-trivial product");
    assert!(
        err <= 1e-3 * scale,
        "finite difference {err} from exact (scale {scale})"
    );
}

#[test]
fn partial_channels_pass_a_quarter_through_the_candidates_and_keep_exact_gradients() {
    let _lock = archer_train::training_lock();
    tch::manual_seed(2);
    // One edge, K = 4 of 8 channels: skip and none act on the first 2 channels only; the
    // other 6 bypass the edge; then the 8 are shuffled in 4 groups.
    let vs = tch::nn::VarStore::new(Device::Cpu);
    let ops = ["none", "skip_connect", "nor_conv_3x3"];
    let edge = MixedEdge::with_partial_channels(&vs.root(), &ops, Shape::new(8, 6, 6), 4);
    let x = Tensor::randn([3, 8, 6, 6], (Kind::Float, Device::Cpu));
    let skip = edge.forward_t(&x, Mixing::Single(1), true);
    let shuffled = channel_shuffle(&x, 4);
    assert!(
        skip.equal(&shuffled),
        "skip on the part, the rest bypassed, shuffled"
    );
    // The shuffle interleaves the groups: channel g·2 + i goes to i·4 + g.
    for (from, to) in [(0, 0), (1, 4), (2, 1), (3, 5), (6, 3), (7, 7)] {
        assert!(
            shuffled.select(1, to).equal(&x.select(1, from)),
            "{from} -> {to}"
        );
    }
    let none = edge.forward_t(&x, Mixing::Single(0), true);
    for ch in 0..8 {
        let zero = bool::try_from(none.select(1, ch).eq(0.0).all()).unwrap();
        // Channels 0 and 1 (the part) land at 0 and 4.
        assert_eq!(zero, ch == 0 || ch == 4, "channel {ch}");
    }
    // The convolution sees 2 channels: its weight is 2 × 2 × 3 × 3.
    let conv = vs
        .variables()
        .into_iter()
        .find(|(n, _)| n.ends_with("conv.weight"))
        .unwrap()
        .1;
    assert_eq!(conv.size(), [2, 2, 3, 3]);
    // A whole supernet with K = 2, double precision: α's gradient against finite
    // differences under DARTS's soft mixing.
    let space = Nb201Space::default();
    let mut net = Supernet::new(
        &space,
        &SupernetConfig {
            partial_channels: 2,
            ..config(4)
        },
        Device::Cpu,
    )
    .unwrap();
    let (x, probe) = double_with_random_alpha(&mut net);
    let soft = || soft_objective(&net, &x, &probe);
    check_alpha("partial", &net, &soft, &soft);
    // K must divide C.
    let odd = Supernet::new(
        &space,
        &SupernetConfig {
            partial_channels: 3,
            ..config(4)
        },
        Device::Cpu,
    );
    assert!(odd.is_err());
}
