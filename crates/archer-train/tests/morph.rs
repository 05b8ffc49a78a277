//! Network morphism: a morphed child computes its parent's function before it trains.

use archer_eval::NetworkConfig;
use archer_rng::Rng;
use archer_space::{ChainSpace, Morph, SearchSpace};
use archer_train::morph::inherit;
use archer_train::ops::Shape;
use archer_train::Network;
use tch::{Device, Kind, Tensor};

fn space() -> ChainSpace {
    let ops: Vec<String> = archer_space::CHAIN_OPS
        .iter()
        .map(|s| s.to_string())
        .collect();
    ChainSpace::new(Some(6), Some(&ops), Some(&[3, 5]), Some(&[16, 24, 32]))
        .unwrap()
        .with_min_layers(Some(1))
        .unwrap()
}

fn build(space: &ChainSpace, arch: &archer_space::Arch) -> Network {
    Network::build(
        space,
        arch,
        &NetworkConfig::default(),
        Shape::new(1, 28, 28),
        10,
        1.0,
        Device::Cpu,
    )
    .unwrap()
}

#[test]
fn a_morphed_child_computes_its_parents_function_before_it_trains() {
    let _lock = archer_train::training_lock();
    tch::manual_seed(0);
    let space = space();
    let parent_arch = space
        .parse("conv:3:16|sep_conv:3:24|max_pool:3:24|dil_conv:5:16+0|conv:5:24+1+2")
        .unwrap();
    let parent = build(&space, &parent_arch);
    // Batch statistics away from (0, 1), so that the batch norms matter.
    tch::no_grad(|| {
        for _ in 0..3 {
            let x = Tensor::randn([16, 1, 28, 28], (Kind::Float, Device::Cpu)) * 2.0 + 0.5;
            let _ = parent.forward_t(&x, true);
        }
    });
    let x = Tensor::randn([8, 1, 28, 28], (Kind::Float, Device::Cpu));
    let want = parent.forward_t(&x, false);
    let mut rng = Rng::seed_from(1);
    let legal = [
        Morph::Deepen { kernel: 3 },
        Morph::Widen { layer: 0 },
        Morph::Widen { layer: 3 },
        Morph::Widen { layer: 4 },
        Morph::Skip { from: 0, to: 4 },
        Morph::Skip { from: 1, to: 3 },
    ];
    // The space offers every function-preserving morph, and only those (stem of 16).
    let offered: Vec<(Morph, archer_space::Arch)> = space.morphs(&parent_arch, 16);
    for morph in legal {
        assert!(
            offered.iter().any(|(m, _)| *m == morph),
            "{morph:?} is offered"
        );
    }
    for morph in [Morph::Widen { layer: 1 }, Morph::Skip { from: 0, to: 2 }] {
        assert!(
            !offered.iter().any(|(m, _)| *m == morph),
            "{morph:?} is not offered"
        );
    }
    for (morph, child_arch) in offered {
        assert_eq!(space.morph(&parent_arch, morph).unwrap(), child_arch);
        assert!(space.exact(&parent_arch, &child_arch), "{morph:?}");
        assert_ne!(child_arch, parent_arch);
        let child = build(&space, &child_arch);
        let before = child.forward_t(&x, false);
        assert!(
            f64::try_from((&before - &want).abs().max()).unwrap() > 1e-3,
            "{morph:?}: a fresh child differs"
        );
        inherit(&space, &parent, &parent_arch, &child, &child_arch, &mut rng).unwrap();
        let got = child.forward_t(&x, false);
        let diff = f64::try_from((&got - &want).abs().max()).unwrap();
        assert!(
            diff < 1e-4,
            "{morph:?} ({}): outputs differ by {diff}",
            space.format(&child_arch)
        );
        assert!(
            child.params() > parent.params(),
            "{morph:?} adds parameters"
        );
    }
    // Morphs that would need a projection through a ReLU are refused by the surgery too.
    for morph in [Morph::Widen { layer: 1 }, Morph::Skip { from: 0, to: 2 }] {
        let child_arch = space.morph(&parent_arch, morph).unwrap();
        let child = build(&space, &child_arch);
        let err = inherit(&space, &parent, &parent_arch, &child, &child_arch, &mut rng)
            .unwrap_err()
            .to_string();
        assert!(err.contains("projection"), "{morph:?}: {err}");
    }
    // A layer appended where the network pools (6 layers pool before layers 2 and 4) keeps
    // every weight, and the function only approximately: it is offered, and not exact.
    let two = space.parse("conv:3:16|conv:3:16").unwrap();
    let deeper = space.morph(&two, Morph::Deepen { kernel: 3 }).unwrap();
    assert!(space.carries_weights(&two, &deeper, 16) && !space.exact(&two, &deeper));
    let (parent, child) = (build(&space, &two), build(&space, &deeper));
    inherit(&space, &parent, &two, &child, &deeper, &mut rng).unwrap();
    assert!(space.exact(
        &parent_arch,
        &space
            .morph(&parent_arch, Morph::Deepen { kernel: 3 })
            .unwrap()
    ));
}
