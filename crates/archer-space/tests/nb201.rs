use std::collections::HashSet;

use archer_rng::Rng;
use archer_space::{Encoding, Nb201Space, SearchSpace, SpaceConfig, SpaceError};

/// NB201 index 11472, the ResNet-like reference cell.
const RESNET: &str =
    "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|";

fn all_cells(space: &Nb201Space) -> Vec<archer_space::Arch> {
    (0..15625usize)
        .map(|i| {
            let choices = (0..6)
                .rev()
                .map(|p| ((i / 5usize.pow(p)) % 5) as u16)
                .collect();
            archer_space::Arch::new(space.name(), space.version(), choices)
        })
        .collect()
}

#[test]
fn size_and_every_cell_round_trips() {
    let space = Nb201Space::default();
    assert_eq!(space.size(), 15625);
    for a in all_cells(&space) {
        assert_eq!(space.parse(&space.format(&a)).unwrap(), a);
    }
}

#[test]
fn parses_the_official_string_in_edge_order() {
    let space = Nb201Space::default();
    let a = space.parse(RESNET).unwrap();
    let ops: Vec<_> = space.ops_of(&a).collect();
    assert_eq!(
        ops,
        [
            "nor_conv_3x3",
            "none",
            "nor_conv_3x3",
            "skip_connect",
            "none",
            "skip_connect"
        ]
    );
    assert_eq!(space.format(&a), RESNET);
}

/// NAS-Bench-201's unique string gives 6,466 classes; also dropping zero terms from sums
/// (x + 0 = x, which merges swapped branches the NB201 string keeps apart) gives 5,390. Both
/// counts were recomputed independently in Python over all 15,625 cells.
#[test]
fn canonical_hash_gives_5390_function_classes() {
    let space = Nb201Space::default();
    let hashes: HashSet<String> = all_cells(&space)
        .iter()
        .map(|a| space.canonical_hash(a))
        .collect();
    assert_eq!(hashes.len(), 5390);
}

#[test]
fn isomorphic_cells_hash_alike_and_others_do_not() {
    let space = Nb201Space::default();
    let h = |s: &str| space.canonical_hash(&space.parse(s).unwrap());
    // Node 1 gets no input, so 1→2 and 1→3 cannot matter.
    assert_eq!(
        h("|none~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_1x1~2|"),
        h("|none~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|nor_conv_1x1~2|"),
    );
    // Node 2 does not reach the output, so 0→2 and 1→2 cannot matter.
    assert_eq!(
        h("|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"),
        h("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"),
    );
    // Without 1→2 the two branches swap.
    assert_eq!(
        h("|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|avg_pool_3x3~1|skip_connect~2|"),
        h("|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|skip_connect~1|avg_pool_3x3~2|"),
    );
    // Different functions.
    assert_ne!(
        h(RESNET),
        h("|nor_conv_1x1~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|")
    );
    // A cell whose only path to the output is a skip computes the identity, like an all-skip cell.
    assert_eq!(
        h("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|"),
        h("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"),
    );
}

#[test]
fn restricted_ops_are_respected_and_named_in_errors() {
    let ops = vec!["none".to_string(), "nor_conv_3x3".to_string()];
    let space = SpaceConfig::named("nb201")
        .with("ops", serde_json::json!(ops))
        .build()
        .unwrap();
    assert_eq!(space.size(), 64);
    let mut rng = Rng::seed_from(3);
    for _ in 0..200 {
        let a = space.sample(&mut rng).unwrap();
        assert!(a.indices().iter().all(|&c| c == 0 || c == 3));
    }
    let err = space.parse(RESNET).unwrap_err();
    assert!(err.to_string().contains("skip_connect"), "{err}");
    let bad = SpaceConfig::named("nb201")
        .with("ops", serde_json::json!(["conv_7x7"]))
        .build()
        .unwrap_err();
    assert!(matches!(bad, SpaceError::UnknownOp { .. }));
    assert!(bad.to_string().contains("nor_conv_3x3"), "{bad}");
}

#[test]
fn parse_errors_say_what_is_wrong() {
    let space = Nb201Space::default();
    for (input, needle) in [
        ("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|", "3 groups"),
        (
            "|nor_conv_3x3~0|+|none~0|+|skip_connect~0|none~1|none~2|",
            "group 2 needs 2",
        ),
        (
            "|nor_conv_3x3~1|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|",
            "from node 0",
        ),
        (
            "|conv~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|",
            "unknown operation",
        ),
        (
            "nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|",
            "start and end",
        ),
    ] {
        let err = space.parse(input).unwrap_err().to_string();
        assert!(err.contains(needle), "{input}: {err}");
    }
}

#[test]
fn neighbourhood_is_24_and_path_encoding_counts_paths() {
    let space = Nb201Space::default();
    let a = space.parse(RESNET).unwrap();
    assert_eq!(space.neighbours(&a).len(), 24);
    // Paths: 0→3 (skip) and 0→1→2→3 (conv, conv, skip).
    let path = space.encode(&a, Encoding::Path);
    assert_eq!(path.len(), 5 + 25 + 125);
    assert_eq!(path.iter().filter(|&&x| x == 1.0).count(), 2);
    let full = space
        .parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")
        .unwrap();
    // 4 paths: 0→3, 0→1→3, 0→2→3, 0→1→2→3; all conv3x3 sequences of lengths 1, 2, 2, 3.
    assert_eq!(space.encode(&full, Encoding::Path).iter().sum::<f32>(), 3.0);
    assert_eq!(space.encode(&a, Encoding::OneHot).len(), 30);
    assert_eq!(space.encode(&a, Encoding::AdjacencyOps).len(), 28 + 8 * 5);
}

#[test]
fn the_sketch_is_the_papers_cell_with_six_labelled_edges() {
    let space = Nb201Space::default();
    let a = space.parse(RESNET).unwrap();
    let archer_space::Sketch::Cells(cells) = space.sketch(&a) else {
        panic!("NB201 draws as an edge-labelled cell");
    };
    assert_eq!(cells.len(), 1);
    assert_eq!(cells[0].nodes, ["0", "1", "2", "3"]);
    let edges: Vec<(usize, usize, &str)> = cells[0]
        .edges
        .iter()
        .map(|e| (e.from, e.to, e.op.as_str()))
        .collect();
    assert_eq!(
        edges,
        [
            (0, 1, "nor_conv_3x3"),
            (0, 2, "none"),
            (1, 2, "nor_conv_3x3"),
            (0, 3, "skip_connect"),
            (1, 3, "none"),
            (2, 3, "skip_connect"),
        ]
    );
}
