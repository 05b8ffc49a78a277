//! The libtorch networks have the sizes their descriptions (and the papers) state, and
//! produce logits of the right shape.

use archer_eval::NetworkConfig;
use archer_nets::{DartsNet, DartsNetConfig, Nb201Net, Nb201NetConfig};
use archer_space::{ChainSpace, DartsSpace, Nb201Space, SearchSpace};
use archer_train::ops::Shape;
use archer_train::Network;
use tch::{Device, Kind, Tensor};

const DARTS_V2: &str = "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])";

/// A network with the default settings, on the CPU.
fn build(
    space: &dyn SearchSpace,
    arch: &archer_space::Arch,
    input: Shape,
    classes: i64,
    width: f64,
) -> Result<Network, archer_train::TrainError> {
    Network::build(
        space,
        arch,
        &NetworkConfig::default(),
        input,
        classes,
        width,
        Device::Cpu,
    )
}

fn cifar() -> Shape {
    Shape::new(3, 32, 32)
}

#[test]
fn nb201_networks_match_their_descriptions() {
    let _lock = archer_train::training_lock();
    let space = Nb201Space::default();
    for cell in [
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
        "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|avg_pool_3x3~2|",
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    ] {
        let arch = space.parse(cell).unwrap();
        let net = build(&space, &arch, cifar(), 10, 1.0).unwrap();
        let desc = Nb201Net::new(&space, &arch, Nb201NetConfig::cifar10()).unwrap().cost();
        assert_eq!(net.params(), desc.params, "{cell}");
        assert_eq!(net.flops(), desc.flops, "{cell}");
        let y = net.forward_t(&Tensor::randn([2, 3, 32, 32], (Kind::Float, Device::Cpu)), false);
        assert_eq!(y.size(), vec![2, 10]);
    }
}

#[test]
fn darts_v2_has_the_published_size_and_an_auxiliary_head() {
    let _lock = archer_train::training_lock();
    let space = DartsSpace::default();
    let arch = space.parse(DARTS_V2).unwrap();
    let cfg = NetworkConfig {
        channels: Some(36),
        depth: Some(20),
        auxiliary_weight: 0.4,
        drop_path: 0.2,
    };
    let net = Network::build(&space, &arch, &cfg, cifar(), 10, 1.0, Device::Cpu).unwrap();
    let desc = DartsNet::new(&space, &arch, DartsNetConfig::cifar10_eval()).unwrap();
    // DARTS prints `param size = 3.349342MB` (auxiliary head excluded).
    assert_eq!(net.params(), 3_349_342 + desc.auxiliary_cost().params);
    assert_eq!(net.flops(), desc.cost().flops);
    let x = Tensor::randn([2, 3, 32, 32], (Kind::Float, Device::Cpu));
    let (logits, aux) = net.forward_aux(&x, true);
    assert_eq!(logits.size(), vec![2, 10]);
    assert_eq!(
        aux.expect("auxiliary logits while training").size(),
        vec![2, 10]
    );
    assert!(net.forward_aux(&x, false).1.is_none());
}

#[test]
fn macro_networks_build_for_every_op_and_resolution() {
    let _lock = archer_train::training_lock();
    let ops: Vec<String> = archer_space::CHAIN_OPS
        .iter()
        .map(|s| s.to_string())
        .collect();
    let space = ChainSpace::new(Some(6), Some(&ops), None, Some(&[16, 24, 32])).unwrap();
    let arch = space
        .parse("conv:3:16|sep_conv:5:24|dil_conv:3:32+0|max_pool:3:24+1|avg_pool:5:16+0+2|identity:1:32+1+3")
        .unwrap();
    for (input, classes) in [(Shape::new(1, 28, 28), 10), (cifar(), 100)] {
        let net = build(&space, &arch, input, classes, 1.0).unwrap();
        let x = Tensor::randn([3, input.c, input.h, input.w], (Kind::Float, Device::Cpu));
        assert_eq!(net.forward_t(&x, true).size(), vec![3, classes]);
        assert!(net.params() > 0 && net.flops() > 0);
    }
    // A width multiplier scales the network.
    let half = build(&space, &arch, cifar(), 10, 0.5).unwrap();
    let full = build(&space, &arch, cifar(), 10, 1.0).unwrap();
    assert!(half.params() * 3 < full.params());
}

#[test]
fn networks_of_spaces_that_grow_match_their_descriptions_at_every_size() {
    let _lock = archer_train::training_lock();
    // DARTS cells of 1 to 4 nodes: the size the description computes, and growing by a node
    // adds parameters.
    let space = DartsSpace::with_nodes(None, None, Some(1)).unwrap();
    let cfg = NetworkConfig {
        channels: Some(8),
        depth: Some(5),
        ..NetworkConfig::default()
    };
    let desc_cfg = DartsNetConfig {
        channels: 8,
        layers: 5,
        ..DartsNetConfig::cifar10_search()
    };
    let cells = DARTS_V2.split("normal=[").nth(1).unwrap();
    let normal: Vec<&str> = cells.split("]").next().unwrap().split("), ").collect();
    let reduce: Vec<&str> = DARTS_V2
        .split("reduce=[")
        .nth(1)
        .unwrap()
        .split("]")
        .next()
        .unwrap()
        .split("), ")
        .collect();
    let mut last = 0;
    for nodes in 1..=4 {
        let take = |pairs: &[&str]| {
            pairs[..2 * nodes]
                .join("), ")
                .trim_end_matches(')')
                .to_string()
                + ")"
        };
        let text = format!(
            "Genotype(normal=[{}], normal_concat=range(2, {e}), reduce=[{}], reduce_concat=range(2, {e}))",
            take(&normal),
            take(&reduce),
            e = nodes + 2
        );
        let arch = space.parse(&text).unwrap();
        let net = Network::build(&space, &arch, &cfg, cifar(), 10, 1.0, Device::Cpu).unwrap();
        let desc = DartsNet::new(&space, &arch, desc_cfg).unwrap().cost();
        assert_eq!(
            (net.params(), net.flops()),
            (desc.params, desc.flops),
            "{text}"
        );
        assert!(net.params() > last, "{nodes} nodes");
        last = net.params();
        let y = net.forward_t(
            &Tensor::randn([2, 3, 32, 32], (Kind::Float, Device::Cpu)),
            true,
        );
        assert_eq!(y.size(), vec![2, 10]);
    }
    // A chain of 1 to 4 layers: pooling stays where the most layers put it.
    let chain = ChainSpace::new(Some(4), None, None, None)
        .unwrap()
        .with_min_layers(Some(1))
        .unwrap();
    let mut text = String::new();
    let mut last = 0;
    for layer in [
        "conv:3:24",
        "sep_conv:5:36",
        "max_pool:3:48+0",
        "conv:3:64+1",
    ] {
        if !text.is_empty() {
            text.push('|');
        }
        text.push_str(layer);
        let arch = chain.parse(&text).unwrap();
        let net = build(&chain, &arch, Shape::new(1, 28, 28), 10, 1.0).unwrap();
        let y = net.forward_t(
            &Tensor::randn([2, 1, 28, 28], (Kind::Float, Device::Cpu)),
            true,
        );
        assert_eq!(y.size(), vec![2, 10], "{text}");
        assert!(net.params() > last, "{text}");
        last = net.params();
    }
}

#[test]
fn a_space_without_a_network_is_a_named_error() {
    let space = Nb201Space::default();
    let arch = space.sample(&mut archer_rng::Rng::seed_from(1)).unwrap();
    let darts = DartsSpace::default();
    let err = build(&darts, &arch, cifar(), 10, 1.0).unwrap_err();
    assert!(err.to_string().contains("darts"), "{err}");
    let err = build(&space, &arch, cifar(), 10, 0.0).unwrap_err();
    assert!(err.to_string().contains("width"), "{err}");
}
