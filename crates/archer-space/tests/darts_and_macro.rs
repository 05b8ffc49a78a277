use archer_rng::Rng;
use archer_space::{ChainSpace, DartsSpace, Encoding, SearchSpace, SpaceConfig};

/// DARTS-V2's published normal and reduction cells (Liu et al., 2019, genotypes.py).
const DARTS_V2: &str = "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), \
('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], \
normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), \
('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], \
reduce_concat=[2, 3, 4, 5])";

#[test]
fn darts_v2_genotype_parses_and_formats() {
    let space = DartsSpace::default();
    let a = space.parse(DARTS_V2).unwrap();
    let text = space.format(&a);
    assert!(
        text.starts_with("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1),"),
        "{text}"
    );
    assert_eq!(space.parse(&text).unwrap(), a);
    assert_eq!(space.dimensions().len(), 32);
}

#[test]
fn darts_rejects_repeated_inputs_and_unknown_ops() {
    let space = DartsSpace::default();
    let repeated = DARTS_V2.replacen("('sep_conv_3x3', 1)", "('sep_conv_3x3', 0)", 1);
    assert!(space
        .parse(&repeated)
        .unwrap_err()
        .to_string()
        .contains("constraints"));
    let unknown = DARTS_V2.replacen("sep_conv_3x3", "conv_9x9", 1);
    assert!(space
        .parse(&unknown)
        .unwrap_err()
        .to_string()
        .contains("conv_9x9"));
    let none = DARTS_V2.replacen("sep_conv_3x3", "none", 1);
    assert!(
        space
            .parse(&none)
            .unwrap_err()
            .to_string()
            .contains("does not allow"),
        "none is excluded by default"
    );
}

#[test]
fn darts_slot_order_does_not_change_the_hash() {
    let space = DartsSpace::default();
    let a = space.parse(DARTS_V2).unwrap();
    let swapped = DARTS_V2.replacen(
        "('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0)",
        "('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 0)",
        1,
    );
    let b = space.parse(&swapped).unwrap();
    assert_ne!(a, b);
    assert_eq!(space.canonical_hash(&a), space.canonical_hash(&b));
    let other = space.mutate(&a, &mut Rng::seed_from(1));
    assert_ne!(space.canonical_hash(&a), space.canonical_hash(&other));
}

#[test]
fn darts_size_counts_distinct_input_pairs() {
    // Per cell: (2·1)(3·2)(4·3)(5·4) ordered input pairs × 7^8 op choices.
    let per_cell: u128 = 2 * 6 * 12 * 20 * 7u128.pow(8);
    assert_eq!(DartsSpace::default().size(), per_cell * per_cell);
    let path = DartsSpace::default().encode(
        &DartsSpace::default().parse(DARTS_V2).unwrap(),
        Encoding::Path,
    );
    assert_eq!(path.len(), 2 * 2 * (8 + 64 + 512 + 4096));
}

#[test]
fn macro_space_formats_layers_and_skips() {
    let space = ChainSpace::default();
    let text =
        "conv:3:36|sep_conv:5:48|max_pool:3:24+0|avg_pool:1:64|conv:7:24+0+2|sep_conv:3:64+1+3";
    let a = space.parse(text).unwrap();
    assert_eq!(space.format(&a), text);
    assert_eq!(space.layer(&a, 4).3, vec![0, 2]);
    assert_eq!(space.size(), 64u128.pow(6) * 2u128.pow(10));
    let err = space
        .parse("conv:3:36|sep_conv:5:48+0|max_pool:3:24|avg_pool:1:64|conv:7:24|sep_conv:3:64")
        .unwrap_err();
    assert!(err.to_string().contains("skips only from"), "{err}");
    let err = space
        .parse("conv:3:37|sep_conv:5:48|max_pool:3:24|avg_pool:1:64|conv:7:24|sep_conv:3:64")
        .unwrap_err();
    assert!(err.to_string().contains("filters"), "{err}");
    let bad = SpaceConfig::named("macro")
        .with("layers", serde_json::json!(0))
        .build()
        .unwrap_err();
    assert!(bad.to_string().contains("layers = 0"), "{bad}");
}

#[test]
fn darts_sketches_both_cells_with_two_inputs_per_node_and_the_concat() {
    let space = DartsSpace::default();
    let a = space.parse(DARTS_V2).unwrap();
    let archer_space::Sketch::Cells(cells) = space.sketch(&a) else {
        panic!("DARTS draws as edge-labelled cells");
    };
    let names: Vec<&str> = cells.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["normal", "reduce"]);
    for cell in &cells {
        assert_eq!(cell.nodes.len(), 7);
        for node in 2..6 {
            let into: Vec<_> = cell.edges.iter().filter(|e| e.to == node).collect();
            assert_eq!(into.len(), 2, "{}", cell.name);
            assert!(into.iter().all(|e| e.from < node));
        }
        assert_eq!(cell.edges.iter().filter(|e| e.to == 6).count(), 4);
    }
    // The last normal node reads node 2 through dil_conv_3x3.
    assert!(cells[0]
        .edges
        .iter()
        .any(|e| e.from == 2 && e.to == 5 && e.op == "dil_conv_3x3"));
}

#[test]
fn chain_sketch_lists_layers_with_their_skips() {
    let space = ChainSpace::default();
    let a = space.sample(&mut Rng::seed_from(3)).unwrap();
    let archer_space::Sketch::Layers(layers) = space.sketch(&a) else {
        panic!("the chain space draws as layers");
    };
    assert_eq!(layers.len(), space.layers());
    for (i, layer) in layers.iter().enumerate() {
        let (op, k, f, skips) = space.layer(&a, i);
        assert_eq!(layer.label, format!("{op} {k}x{k}, {f} filters"));
        assert_eq!(layer.skips_from, skips);
        assert!(layer.skips_from.iter().all(|&j| j + 2 <= i));
    }
}

#[test]
fn darts_with_a_number_of_nodes_to_choose_parses_each_depth() {
    let space = SpaceConfig::named("darts")
        .with("min_nodes", serde_json::json!(1))
        .build()
        .unwrap();
    assert_eq!(
        space.dimensions().len(),
        33,
        "the `nodes` depth comes first"
    );
    assert_eq!(space.dimensions()[0].label, "nodes");
    let one =
        "Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 1)], normal_concat=range(2, 3), \
reduce=[('max_pool_3x3', 1), ('dil_conv_5x5', 0)], reduce_concat=range(2, 3))";
    let a = space.parse(one).unwrap();
    assert_eq!(a.genes.iter().filter(|g| !g.is_absent()).count(), 9);
    assert_eq!(space.format(&a), one);
    let v2 = space.parse(DARTS_V2).unwrap();
    assert_eq!(v2.index(0), 3, "four nodes is the fourth depth");
    assert_eq!(
        space.format(&v2),
        DartsSpace::default().format(&DartsSpace::default().parse(DARTS_V2).unwrap())
    );
    // The sizes of the fixed spaces with 1..=4 nodes add up.
    let fixed: u128 = (1..=4)
        .map(|n| {
            SpaceConfig::named("darts")
                .with("nodes", serde_json::json!(n))
                .build()
                .unwrap()
                .size()
        })
        .sum();
    assert_eq!(space.size(), fixed);
    let mismatched = one.replace(
        "reduce=[('max_pool_3x3', 1), ('dil_conv_5x5', 0)]",
        &format!(
            "reduce=[{}]",
            "('max_pool_3x3', 1), ('dil_conv_5x5', 0), ('max_pool_3x3', 1), ('dil_conv_5x5', 0)"
        ),
    );
    let err = space.parse(&mismatched).unwrap_err().to_string();
    assert!(err.contains("must match"), "{err}");
    let too_many = SpaceConfig::named("darts")
        .with("nodes", serde_json::json!(2))
        .build()
        .unwrap()
        .parse(DARTS_V2)
        .unwrap_err()
        .to_string();
    assert!(too_many.contains("needs 4 (op, input) pairs"), "{too_many}");
    let bad = SpaceConfig::named("darts")
        .with("min_nodes", serde_json::json!(5))
        .build()
        .unwrap_err()
        .to_string();
    assert!(bad.contains("min_nodes = 5"), "{bad}");
}

#[test]
fn growing_darts_neighbours_add_and_remove_a_node() {
    let space = SpaceConfig::named("darts")
        .with("min_nodes", serde_json::json!(1))
        .build()
        .unwrap();
    let mut rng = Rng::seed_from(3);
    let depths: std::collections::HashSet<u16> = (0..200)
        .map(|_| space.sample(&mut rng).unwrap().index(0))
        .collect();
    assert_eq!(depths.len(), 4, "every depth is sampled");
    let two = space
        .parse("Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 1), ('sep_conv_3x3', 2), ('skip_connect', 1)], normal_concat=range(2, 4), reduce=[('max_pool_3x3', 1), ('dil_conv_5x5', 0), ('max_pool_3x3', 1), ('dil_conv_5x5', 2)], reduce_concat=range(2, 4))")
        .unwrap();
    let ns = space.neighbours(&two);
    let deeper: Vec<_> = ns.iter().filter(|n| n.index(0) == 2).collect();
    let shallower: Vec<_> = ns.iter().filter(|n| n.index(0) == 0).collect();
    assert_eq!((deeper.len(), shallower.len()), (1, 1));
    assert!(space.format(deeper[0]).contains("range(2, 5)"));
    assert!(space.format(shallower[0]).contains("range(2, 3)"));
}

#[test]
fn a_chain_with_a_number_of_layers_to_choose_parses_each_depth() {
    let space = SpaceConfig::named("macro")
        .with("layers", serde_json::json!(4))
        .with("min_layers", serde_json::json!(1))
        .build()
        .unwrap();
    assert_eq!(space.dimensions()[0].label, "layers");
    for text in [
        "conv:3:24",
        "conv:3:24|max_pool:5:36",
        "conv:3:24|max_pool:5:36|sep_conv:3:64+0",
        "conv:3:24|max_pool:5:36|sep_conv:3:64+0|avg_pool:3:48+0+1",
    ] {
        let a = space.parse(text).unwrap();
        assert_eq!(space.format(&a), text);
        assert!(space.contains(&a));
    }
    let err = space
        .parse("conv:3:24|conv:3:24|conv:3:24|conv:3:24|conv:3:24")
        .unwrap_err()
        .to_string();
    assert!(err.contains("expected 1 to 4 layers"), "{err}");
    let fixed: u128 = (1..=4)
        .map(|n| {
            SpaceConfig::named("macro")
                .with("layers", serde_json::json!(n))
                .build()
                .unwrap()
                .size()
        })
        .sum();
    assert_eq!(space.size(), fixed);
    let bad = SpaceConfig::named("macro")
        .with("min_layers", serde_json::json!(0))
        .build()
        .unwrap_err()
        .to_string();
    assert!(bad.contains("min_layers = 0"), "{bad}");
    // Encodings keep one length across depths.
    let lens: std::collections::HashSet<usize> = ["conv:3:24", "conv:3:24|max_pool:5:36"]
        .iter()
        .map(|t| space.encode(&space.parse(t).unwrap(), Encoding::Path).len())
        .collect();
    assert_eq!(lens.len(), 1);
}
