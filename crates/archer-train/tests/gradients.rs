//! Every operation's gradients (with respect to its input and every parameter) agree with
//! central finite differences, in double precision; and so do whole small networks of
//! every space.

use archer_eval::NetworkConfig;
use archer_space::{ChainSpace, DartsSpace, Nb201Space, SearchSpace};
use archer_train::ops::{
    DilConv, Edge, FactorizedReduce, FlopTally, Pool, ReluConvBn, SepConv, Shape,
};
use archer_train::Network;
use tch::nn::{self, Module, ModuleT};
use tch::{Device, Kind, Tensor};

const EPS: f64 = 1e-6;

/// Compares the gradient of `sum(f(x) · probe)` with respect to `x` and every trainable
/// variable of `vs` against central differences at a few coordinates of each.
fn gradcheck(name: &str, vs: &nn::VarStore, x: &Tensor, f: &dyn Fn(&Tensor) -> Tensor) {
    let x = x.to_kind(Kind::Double).set_requires_grad(true);
    let probe = Tensor::randn_like(&f(&x).detach());
    let objective = |x: &Tensor| (f(x) * &probe).sum(Kind::Double);
    let loss = objective(&x);
    // A zero op's output does not depend on anything: no graph, and every gradient is 0.
    if loss.requires_grad() {
        loss.backward();
    }
    let mut tensors = vec![("input".to_string(), x.shallow_clone())];
    tensors.extend(
        vs.variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad()),
    );
    assert!(
        tensors.len() > 1 || vs.variables().is_empty(),
        "{name}: no parameters found"
    );
    let mut checked = 0;
    for (tname, t) in &tensors {
        let grad = t.grad();
        let grad = if grad.defined() {
            grad.view([-1])
        } else {
            t.zeros_like().view([-1])
        };
        let n = t.numel() as i64;
        for k in [0, n / 3, n / 2, n - 1] {
            let analytic = grad.double_value(&[k]);
            let numeric = {
                let _g = tch::no_grad_guard();
                let mut elem = t.view([-1]).narrow(0, k, 1);
                let _ = elem.f_add_scalar_(EPS).unwrap();
                let plus = objective(&x).double_value(&[]);
                let _ = elem.f_add_scalar_(-2.0 * EPS).unwrap();
                let minus = objective(&x).double_value(&[]);
                let _ = elem.f_add_scalar_(EPS).unwrap();
                (plus - minus) / (2.0 * EPS)
            };
            let tol = 1e-5 + 1e-4 * numeric.abs().max(analytic.abs());
            assert!(
                (analytic - numeric).abs() <= tol,
                "{name}: d/d {tname}[{k}]: backward {analytic}, finite difference {numeric}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 4, "{name}");
}

fn setup() -> (nn::VarStore, FlopTally) {
    tch::manual_seed(3);
    (nn::VarStore::new(Device::Cpu), FlopTally::default())
}

fn input(c: i64, hw: i64) -> Tensor {
    Tensor::randn([3, c, hw, hw], (Kind::Double, Device::Cpu))
}

#[test]
fn every_cell_operation_has_correct_gradients() {
    let _lock = archer_train::training_lock();
    let s = Shape::new(4, 6, 6);
    // (name, build the op into vs, stride) for every op of the NB201 and DARTS spaces.
    type Build = dyn Fn(&nn::Path, &FlopTally) -> Edge;
    let ops: Vec<(&str, Box<Build>)> = vec![
        (
            "nor_conv_1x1",
            Box::new(move |p, t| Edge::Conv(Box::new(ReluConvBn::new(p, t, s, 4, 1, 1)))),
        ),
        (
            "nor_conv_3x3",
            Box::new(move |p, t| Edge::Conv(Box::new(ReluConvBn::new(p, t, s, 4, 3, 1)))),
        ),
        (
            "conv_3x3_stride2",
            Box::new(move |p, t| Edge::Conv(Box::new(ReluConvBn::new(p, t, s, 6, 3, 2)))),
        ),
        (
            "sep_conv_3x3",
            Box::new(move |p, t| Edge::Sep(Box::new(SepConv::new(p, t, s, 4, 3, 1)))),
        ),
        (
            "sep_conv_5x5_stride2",
            Box::new(move |p, t| Edge::Sep(Box::new(SepConv::new(p, t, s, 4, 5, 2)))),
        ),
        (
            "dil_conv_3x3",
            Box::new(move |p, t| Edge::Dil(Box::new(DilConv::new(p, t, s, 4, 3, 1, 2)))),
        ),
        (
            "dil_conv_5x5_stride2",
            Box::new(move |p, t| Edge::Dil(Box::new(DilConv::new(p, t, s, 4, 5, 2, 2)))),
        ),
        (
            "factorized_reduce",
            Box::new(move |p, t| Edge::Reduce(Box::new(FactorizedReduce::new(p, t, s, 4)))),
        ),
        (
            "max_pool_3x3",
            Box::new(move |_, _| Edge::Pool(Pool::new(s, true, 3, 1))),
        ),
        (
            "max_pool_3x3_stride2",
            Box::new(move |_, _| Edge::Pool(Pool::new(s, true, 3, 2))),
        ),
        (
            "avg_pool_3x3",
            Box::new(move |_, _| Edge::Pool(Pool::new(s, false, 3, 1))),
        ),
        (
            "avg_pool_3x3_stride2",
            Box::new(move |_, _| Edge::Pool(Pool::new(s, false, 3, 2))),
        ),
        ("skip_connect", Box::new(move |_, _| Edge::Skip)),
        ("none", Box::new(move |_, _| Edge::Zero { stride: 1 })),
        (
            "none_stride2",
            Box::new(move |_, _| Edge::Zero { stride: 2 }),
        ),
    ];
    for (name, build) in ops {
        let (mut vs, tally) = setup();
        let edge = build(&vs.root(), &tally);
        vs.double();
        let x = input(4, 6);
        // A zero op has zero gradient; the check still runs (both sides are 0).
        gradcheck(name, &vs, &x, &|x| edge.forward_t(x, true));
    }
    // The classifier layer.
    let (mut vs, tally) = setup();
    let head = archer_train::ops::classifier(&vs.root(), &tally, 5, 3);
    vs.double();
    let x = Tensor::randn([4, 5], (Kind::Double, Device::Cpu));
    gradcheck("classifier", &vs, &x, &|x| head.forward(x));
}

fn net_gradcheck(space: &dyn SearchSpace, arch_str: &str, cfg: NetworkConfig, input_shape: Shape) {
    let _lock = archer_train::training_lock();
    tch::manual_seed(5);
    let arch = space.parse(arch_str).unwrap();
    let mut net = Network::build(space, &arch, &cfg, input_shape, 3, 1.0, Device::Cpu).unwrap();
    net.vs.double();
    let x = input(input_shape.c, input_shape.h);
    let name = format!("{} network", space.name());
    let vs = &net.vs;
    gradcheck(&name, vs, &x, &|x| net.forward_t(x, true));
}

#[test]
fn whole_networks_of_every_space_have_correct_gradients() {
    net_gradcheck(
        &Nb201Space::default(),
        "|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_3x3~2|",
        NetworkConfig {
            channels: Some(2),
            depth: Some(1),
            ..Default::default()
        },
        Shape::new(3, 8, 8),
    );
    net_gradcheck(
        &DartsSpace::default(),
        "Genotype(normal=[('sep_conv_3x3', 0), ('dil_conv_3x3', 1), ('skip_connect', 0), ('avg_pool_3x3', 2), ('max_pool_3x3', 1), ('sep_conv_5x5', 3), ('dil_conv_5x5', 0), ('skip_connect', 4)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('skip_connect', 1), ('sep_conv_3x3', 2), ('avg_pool_3x3', 1), ('dil_conv_3x3', 0), ('skip_connect', 2), ('skip_connect', 3), ('sep_conv_5x5', 1)], reduce_concat=[2, 3, 4, 5])",
        NetworkConfig { channels: Some(2), depth: Some(3), ..Default::default() },
        Shape::new(3, 8, 8),
    );
    let ops: Vec<String> = archer_space::CHAIN_OPS
        .iter()
        .map(|s| s.to_string())
        .collect();
    let chain = ChainSpace::new(Some(4), Some(&ops), None, Some(&[16, 24])).unwrap();
    net_gradcheck(
        &chain,
        "conv:3:16|sep_conv:5:24|dil_conv:3:16+0|max_pool:3:24+0+1",
        NetworkConfig {
            channels: Some(4),
            ..Default::default()
        },
        Shape::new(1, 8, 8),
    );
}
