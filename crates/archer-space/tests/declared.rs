//! Declared spaces: the `SearchSpace` contract for a space with every primitive (conditions
//! and repeats included), isomorphism-aware hashes, sizes, and every declaration mistake.

use std::collections::{HashSet, VecDeque};
use std::path::PathBuf;

use archer_rng::Rng;
use archer_space::{
    CellItem, DeclaredSpace, Encoding, Gene, SearchSpace, SpaceBuilder, SpaceConfig, SpaceError,
};
use proptest::prelude::*;

fn example_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/spaces/every-primitive.toml")
}

fn every_primitive() -> DeclaredSpace {
    DeclaredSpace::from_file(&example_path()).unwrap()
}

/// The same space, built in Rust.
fn built() -> DeclaredSpace {
    let mut normal = CellItem::new(
        "normal",
        3,
        &["none", "skip_connect", "sep_conv_3x3", "max_pool_3x3"],
    );
    normal.sources = 2;
    normal.when.insert("stem".into(), vec!["cell".into()]);
    let mut nb201 = CellItem::new(
        "nb201",
        3,
        &[
            "none",
            "skip_connect",
            "nor_conv_1x1",
            "nor_conv_3x3",
            "avg_pool_3x3",
        ],
    );
    nb201.every_edge = true;
    SpaceBuilder::new("every-primitive", 1)
        .description("A stem choice, integer and float hyperparameters, a skip input, a repeated block with a conditional width, and a DARTS-style cell that exists only for one stem.")
        .choice("stem", ["conv3x3", "conv5x5", "cell"])
        .choice("activation", ["relu", "gelu"])
        .choice("channels", [16, 32, 64])
        .int("batch", 32, 256, 32)
        .float("lr", 1e-4, 0.1, true)
        .float("dropout", 0.0, 0.5, false)
        .when("activation", ["gelu"])
        .input("skip", ["stem", "block0", "block1", "block2"], 2)
        .repeat("blocks", 1, 3, |b| {
            b.choice("op", ["conv", "sep_conv", "pool"])
                .int("width", 1, 4, 1)
                .when("op", ["conv", "sep_conv"])
        })
        .cell(normal)
        .cell(nb201)
        .build()
        .unwrap()
}

/// Dimensions present in both and different.
fn edits(a: &[Gene], b: &[Gene]) -> usize {
    a.iter()
        .zip(b)
        .filter(|(x, y)| !x.is_absent() && !y.is_absent() && x != y)
        .count()
}

#[test]
fn the_file_and_the_builder_declare_the_same_space() {
    let f = every_primitive();
    let b = built();
    assert_eq!(f.declaration(), b.declaration());
    assert_eq!(f.dimensions(), b.dimensions());
    let mut rng = Rng::seed_from(3);
    let a = f.sample(&mut rng).unwrap();
    assert_eq!(f.canonical_hash(&a), b.canonical_hash(&a));
}

#[test]
fn flattening_labels_repeats_cells_and_conditions() {
    let s = every_primitive();
    let labels: Vec<&str> = s.dimensions().iter().map(|d| d.label.as_str()).collect();
    for l in [
        "stem",
        "lr",
        "dropout",
        "skip",
        "blocks",
        "blocks.0.op",
        "blocks.2.width",
        "normal.n2.inputs",
        "normal.n4.op1",
        "nb201.e0_1",
        "nb201.e2_3",
    ] {
        assert!(labels.contains(&l), "{l} in {labels:?}");
    }
    let at = |l: &str| labels.iter().position(|x| *x == l).unwrap();
    // The first copy always exists; the later ones only for deeper repeats.
    assert!(!s.dimensions()[at("blocks.0.op")].is_conditional());
    assert!(s.dimensions()[at("blocks.1.op")].is_conditional());
    assert!(s.dimensions()[at("blocks.0.width")].is_conditional());
}

#[test]
fn sampling_covers_absent_and_present_conditionals() {
    let s = every_primitive();
    let dims = s.dimensions();
    let mut rng = Rng::seed_from(1);
    let mut seen_absent = vec![false; dims.len()];
    let mut seen_present = vec![false; dims.len()];
    for _ in 0..400 {
        let a = s.sample(&mut rng).unwrap();
        assert!(s.contains(&a));
        for (i, g) in a.genes.iter().enumerate() {
            if g.is_absent() {
                seen_absent[i] = true;
            } else {
                seen_present[i] = true;
            }
        }
    }
    for (i, d) in dims.iter().enumerate() {
        assert!(seen_present[i], "{} never present", d.label);
        assert_eq!(seen_absent[i], d.is_conditional(), "{}", d.label);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_contract_holds(seed in any::<u64>()) {
        let s = every_primitive();
        let mut rng = Rng::seed_from(seed);
        let a = s.sample(&mut rng).unwrap();
        let b = s.sample(&mut rng).unwrap();
        prop_assert!(s.contains(&a));

        let m = s.mutate(&a, &mut rng);
        prop_assert!(s.contains(&m), "mutant {}", s.format(&m));
        prop_assert_ne!(&m, &a);
        prop_assert!(edits(&a.genes, &m.genes) <= 1, "one edit: {} -> {}", s.format(&a), s.format(&m));

        let c = s.crossover(&a, &b, &mut rng);
        prop_assert!(s.contains(&c), "child {}", s.format(&c));
        for (i, g) in c.genes.iter().enumerate() {
            // A gene present in both parents comes from one of them; others may be drawn
            // afresh when a condition brings them into existence.
            let from_parent = *g == a.genes[i] || *g == b.genes[i];
            let both_present = !a.genes[i].is_absent() && !b.genes[i].is_absent();
            prop_assert!(g.is_absent() || from_parent || !both_present,
                "gene {} of the child comes from neither parent", i);
        }

        let ns = s.neighbours(&a);
        prop_assert!(!ns.is_empty());
        let unique: HashSet<_> = ns.iter().collect();
        prop_assert_eq!(unique.len(), ns.len(), "neighbours repeat");
        for n in &ns {
            prop_assert!(s.contains(n), "neighbour {}", s.format(n));
            prop_assert!(edits(&a.genes, &n.genes) <= 1);
        }

        let text = s.format(&a);
        prop_assert_eq!(s.parse(&text).unwrap(), a.clone(), "{}", text);
        let json = s.labelled(&a);
        prop_assert_eq!(serde_json::to_string(&json).unwrap().len() > 2, true);

        for enc in [Encoding::OneHot, Encoding::AdjacencyOps, Encoding::Path] {
            prop_assert_eq!(s.encode(&a, enc).len(), s.encode(&b, enc).len(), "{:?}", enc);
        }
        prop_assert_eq!(s.graphs(&a).len(), 2);

        // The stored form round-trips, absent and float genes included.
        let stored = serde_json::to_string(&a).unwrap();
        prop_assert_eq!(serde_json::from_str::<archer_space::Arch>(&stored).unwrap(), a);
    }
}

#[test]
fn floats_mutate_by_gaussian_steps_and_hash_at_seven_digits() {
    let s = SpaceBuilder::new("f", 1)
        .float("x", 0.0, 1.0, false)
        .build()
        .unwrap();
    let a = archer_space::Arch::from_genes("f", 1, vec![Gene::float(0.5)]);
    let mut rng = Rng::seed_from(0);
    let steps: Vec<f64> = (0..2000)
        .map(|_| match s.mutate(&a, &mut rng).genes[0] {
            Gene::Float(x) => x - 0.5,
            _ => panic!("not a float"),
        })
        .collect();
    let mean = steps.iter().sum::<f64>() / steps.len() as f64;
    let sd = (steps.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / steps.len() as f64).sqrt();
    assert!(mean.abs() < 0.01, "mean step {mean}");
    assert!(
        (sd - archer_space::FLOAT_MUTATION_SIGMA).abs() < 0.01,
        "sd {sd}"
    );
    let near = a.with_genes(vec![Gene::float(0.5 + 1e-9)]);
    let far = a.with_genes(vec![Gene::float(0.5001)]);
    assert_eq!(s.canonical_hash(&a), s.canonical_hash(&near));
    assert_ne!(s.canonical_hash(&a), s.canonical_hash(&far));
    // Neighbours of a float are the documented finite set.
    let ns: Vec<f64> = s
        .neighbours(&a)
        .iter()
        .map(|n| match n.genes[0] {
            Gene::Float(x) => x,
            _ => f64::NAN,
        })
        .collect();
    assert_eq!(ns.len(), 4);
    for want in [0.45, 0.55, 0.25, 0.75] {
        assert!(
            ns.iter().any(|x| (x - want).abs() < 1e-12),
            "{want} in {ns:?}"
        );
    }
}

#[test]
fn ints_step_by_one_step() {
    let s = SpaceBuilder::new("i", 1)
        .int("w", 16, 64, 16)
        .build()
        .unwrap();
    let a = s.parse(r#"{"w":32}"#).unwrap();
    let mut ns: Vec<String> = s.neighbours(&a).iter().map(|n| s.format(n)).collect();
    ns.sort();
    assert_eq!(ns, vec![r#"{"w":16}"#, r#"{"w":48}"#]);
    assert_eq!(s.size(), 4);
}

fn as_refs(v: &[(String, serde_json::Value)]) -> Vec<(&str, serde_json::Value)> {
    v.iter().map(|(k, v)| (k.as_str(), v.clone())).collect()
}

fn arch_from(s: &DeclaredSpace, set: &[(&str, serde_json::Value)]) -> archer_space::Arch {
    let mut rng = Rng::seed_from(0);
    let base = loop {
        let a = s.sample(&mut rng).unwrap();
        if s.labelled(&a)["stem"] == "cell" {
            break a;
        }
    };
    let mut map = s.labelled(&base).as_object().unwrap().clone();
    for (k, v) in set {
        map.insert(k.to_string(), v.clone());
    }
    s.parse(&serde_json::Value::Object(map).to_string())
        .unwrap()
}

#[test]
fn isomorphic_cells_hash_alike() {
    let s = every_primitive();
    use serde_json::json;
    // NB201 form: node 1 reads only a `none` edge, so it is zero, and the ops on its way out
    // do not change the function.
    let dead = [("nb201.e0_1", json!("none"))];
    let a = arch_from(
        &s,
        &[dead[0].clone(), ("nb201.e1_3", json!("nor_conv_3x3"))],
    );
    let b = arch_from(
        &s,
        &[dead[0].clone(), ("nb201.e1_3", json!("avg_pool_3x3"))],
    );
    assert_ne!(a, b);
    assert_eq!(s.canonical_hash(&a), s.canonical_hash(&b));
    let live = arch_from(
        &s,
        &[
            ("nb201.e0_1", json!("nor_conv_1x1")),
            ("nb201.e1_3", json!("nor_conv_3x3")),
        ],
    );
    let live2 = arch_from(
        &s,
        &[
            ("nb201.e0_1", json!("nor_conv_1x1")),
            ("nb201.e1_3", json!("avg_pool_3x3")),
        ],
    );
    assert_ne!(s.canonical_hash(&live), s.canonical_hash(&live2));

    // DARTS form with a concatenated output: two nodes that read the same inputs swap ops.
    let node = |n: u32, op0: &str, op1: &str| {
        vec![
            (format!("normal.n{n}.inputs"), json!([0, 1])),
            (format!("normal.n{n}.op0"), json!(op0)),
            (format!("normal.n{n}.op1"), json!(op1)),
        ]
    };
    let cell = |first: (&str, &str), second: (&str, &str)| {
        let mut v = node(2, first.0, first.1);
        v.extend(node(3, second.0, second.1));
        v.extend(node(4, "skip_connect", "max_pool_3x3"));
        v
    };
    let x = cell(
        ("sep_conv_3x3", "max_pool_3x3"),
        ("max_pool_3x3", "sep_conv_3x3"),
    );
    let y = cell(
        ("max_pool_3x3", "sep_conv_3x3"),
        ("sep_conv_3x3", "max_pool_3x3"),
    );
    let ax = arch_from(&s, &as_refs(&x));
    let ay = arch_from(&s, &as_refs(&y));
    assert_ne!(ax, ay);
    assert_eq!(s.canonical_hash(&ax), s.canonical_hash(&ay));
}

/// Every architecture reachable by edits from `start`.
fn reachable(s: &DeclaredSpace, start: archer_space::Arch) -> usize {
    let mut seen = HashSet::new();
    let mut queue = VecDeque::from([start]);
    while let Some(a) = queue.pop_front() {
        if !seen.insert(a.clone()) {
            continue;
        }
        for n in s.neighbours(&a) {
            if !seen.contains(&n) {
                queue.push_back(n);
            }
        }
    }
    seen.len()
}

#[test]
fn size_counts_conditional_and_repeated_dimensions_exactly() {
    let s = SpaceBuilder::new("small", 1)
        .choice("a", ["x", "y"])
        .int("w", 1, 3, 1)
        .when("a", ["x"])
        .repeat("r", 1, 2, |b| b.choice("op", ["p", "q"]))
        .input("skip", ["u", "v", "t"], 2)
        .build()
        .unwrap();
    // a: x with 3 widths, or y: 4; depth 1: 2 ops, depth 2: 4; skip: 3 pairs.
    assert_eq!(s.size(), 4 * 6 * 3);
    let start = s.sample(&mut Rng::seed_from(0)).unwrap();
    assert_eq!(reachable(&s, start) as u128, s.size());
    assert_eq!(
        every_primitive().size(),
        u128::MAX,
        "floats make it infinite"
    );
}

#[test]
fn a_saved_config_rebuilds_the_space_without_its_file() {
    let dir = std::env::temp_dir().join(format!("archer-declared-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("s.toml");
    std::fs::copy(example_path(), &file).unwrap();
    let config = SpaceConfig::declared(&file).unwrap();
    std::fs::remove_file(&file).unwrap();
    let space = config.build().unwrap();
    assert_eq!(space.name(), "every-primitive");
    assert_eq!(space.dimensions(), every_primitive().dimensions());
}

fn mistake(text: &str) -> String {
    let decl: archer_space::SpaceDeclaration = toml::from_str(text).unwrap();
    match DeclaredSpace::new(decl, "bad.toml") {
        Err(e @ SpaceError::Declaration { .. }) => e.to_string(),
        Err(other) => panic!("not a declaration error: {other}"),
        Ok(_) => panic!("accepted:\n{text}"),
    }
}

#[test]
fn every_mistake_names_the_file_the_item_and_the_problem() {
    let head = "name = \"s\"\nversion = 1\n";
    let cases = [
        (
            "[[choice]]\nname = \"a\"\noptions = [\"x\"]\n[[int]]\nname = \"a\"\nlow = 1\nhigh = 2\n",
            "[[int]] \"a\": the name \"a\" is used twice",
        ),
        ("[[choice]]\nname = \"a\"\noptions = []\n", "[[choice]] \"a\": options is empty"),
        ("[[int]]\nname = \"w\"\nlow = 5\nhigh = 2\n", "[[int]] \"w\": low = 5 is above high = 2"),
        ("[[float]]\nname = \"lr\"\nlow = 0.5\nhigh = 0.1\n", "[[float]] \"lr\": low = 0.5 must be below high = 0.1"),
        (
            "[[choice]]\nname = \"a\"\noptions = [\"x\"]\nwhen = { b = [\"y\"] }\n",
            "[[choice]] \"a\": `when` names \"b\", which is not a dimension",
        ),
        (
            "[[choice]]\nname = \"a\"\noptions = [\"x\"]\n[[choice]]\nname = \"b\"\noptions = [\"y\"]\nwhen = { a = [\"z\"] }\n",
            "[[choice]] \"b\": `when` allows \"z\" for \"a\", which is not one of its values: x",
        ),
        (
            "[[choice]]\nname = \"a\"\noptions = [\"x\"]\nwhen = { b = [\"y\"] }\n[[choice]]\nname = \"b\"\noptions = [\"y\"]\nwhen = { a = [\"x\"] }\n",
            "bad.toml: the file: `when` conditions form a cycle: a → b → a",
        ),
        (
            "[[float]]\nname = \"lr\"\nlow = 0.0\nhigh = 1.0\nlog = true\n",
            "[[float]] \"lr\": log = true needs low > 0",
        ),
        (
            "[[input]]\nname = \"s\"\ncandidates = [\"a\"]\nn = 2\n",
            "[[input]] \"s\": n = 2 must be between 1 and the 1 candidates",
        ),
        (
            "[[repeat]]\nname = \"r\"\nmin = 3\nmax = 1\n[[repeat.choice]]\nname = \"op\"\noptions = [\"x\"]\n",
            "[[repeat]] \"r\": min = 3 is above max = 1",
        ),
        (
            "[[cell]]\nname = \"c\"\nnodes = 2\nops = [\"a\"]\ninputs = 3\n",
            "[[cell]] \"c\": inputs = 3",
        ),
        ("", "declares no items"),
    ];
    for (body, want) in cases {
        let got = mistake(&format!("{head}{body}"));
        assert!(got.starts_with("bad.toml: "), "{got}");
        assert!(got.contains(want), "wanted {want:?}, got {got:?}");
    }
}

#[test]
fn a_repeat_body_may_name_the_repeat_and_numeric_duplicates_are_refused() {
    let s = SpaceBuilder::new("r", 1)
        .repeat("blocks", 1, 3, |b| {
            b.choice("op", ["conv", "pool"])
                .int("width", 1, 2, 1)
                .when("blocks", [3])
        })
        .build()
        .unwrap();
    let labels: Vec<&str> = s.dimensions().iter().map(|d| d.label.as_str()).collect();
    assert!(labels.contains(&"blocks.0.width"));
    let err = SpaceBuilder::new("d", 1)
        .choice("k", [serde_json::json!(1), serde_json::json!(1.0)])
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("is listed twice"), "{err}");
    let err = SpaceBuilder::new("o", 1)
        .int(
            "huge",
            -9_000_000_000_000_000_000,
            9_000_000_000_000_000_000,
            9_000_000_000_000_000_000,
        )
        .build()
        .map(|s| s.dimensions()[0].choices.clone());
    assert_eq!(
        err.unwrap(),
        vec!["-9000000000000000000", "0", "9000000000000000000"]
    );
}
