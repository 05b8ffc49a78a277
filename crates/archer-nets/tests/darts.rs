use archer_nets::{DartsNet, DartsNetConfig};
use archer_space::{DartsSpace, SearchSpace};

/// DARTS (second order), the genotype published as `DARTS_V2` in the DARTS code.
const DARTS_V2: &str = "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])";

#[test]
fn darts_v2_has_the_published_size() {
    let space = DartsSpace::default();
    let arch = space.parse(DARTS_V2).unwrap();
    let net = DartsNet::new(&space, &arch, DartsNetConfig::cifar10_eval()).unwrap();
    let cost = net.cost();
    // The DARTS training script prints `param size = 3.349342MB` for this network (auxiliary
    // head excluded).
    assert_eq!(cost.params, 3_349_342);
    // Multiply-accumulates of convs and the classifier: the 528 M that later papers list
    // for DARTS on CIFAR-10.
    assert!((cost.flops_m() - 528.36).abs() < 0.01, "{}", cost.flops_m());
    // The auxiliary head on the 576-channel map after cell 13.
    let aux = net.auxiliary_cost();
    assert_eq!(
        aux.params,
        576 * 128 + 2 * 128 + 128 * 768 * 4 + 2 * 768 + 768 * 10 + 10
    );
}

#[test]
fn reduction_cells_sit_at_a_third_and_two_thirds() {
    let space = DartsSpace::default();
    let arch = space.parse(DARTS_V2).unwrap();
    let eval = DartsNet::new(&space, &arch, DartsNetConfig::cifar10_eval()).unwrap();
    let reductions: Vec<u64> = (0..20).filter(|&i| eval.is_reduction(i)).collect();
    assert_eq!(reductions, vec![6, 13]);
    let search = DartsNet::new(&space, &arch, DartsNetConfig::cifar10_search()).unwrap();
    let reductions: Vec<u64> = (0..8).filter(|&i| search.is_reduction(i)).collect();
    assert_eq!(reductions, vec![2, 5]);
    assert!(search.cost().params < eval.cost().params / 5);
}

#[test]
fn a_wrong_space_or_setting_is_a_named_error() {
    let space = DartsSpace::default();
    let arch = space.parse(DARTS_V2).unwrap();
    let nb201 = archer_space::Nb201Space::default();
    let err = DartsNet::new(&nb201, &arch, DartsNetConfig::cifar10_eval()).unwrap_err();
    assert!(err.to_string().contains("darts architecture"), "{err}");
    let bad = DartsNetConfig {
        input: (3, 30, 30),
        ..DartsNetConfig::cifar10_eval()
    };
    let err = DartsNet::new(&space, &arch, bad).unwrap_err();
    assert!(err.to_string().contains("divisible by 4"), "{err}");
}
