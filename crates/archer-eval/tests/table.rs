//! The table evaluator on small tables it writes: lookups (gzip'd too), a missing
//! architecture named in its error, `select`, held-out columns, costs, rows as the space.

use std::io::Write;
use std::sync::Arc;

use archer_core::{Fidelity, TrialCtx};
use archer_eval::{EvalError, Evaluator, TableEvaluator, TableSettings, TableSpace};
use archer_space::{SearchSpace, SpaceBuilder};

fn space() -> Arc<dyn SearchSpace> {
    Arc::new(
        SpaceBuilder::new("t", 1)
            .choice("op", ["a", "b"])
            .choice("width", [16, 32])
            .float("lr", 0.001, 0.1, true)
            .build()
            .unwrap(),
    )
}

const CSV: &str = "split,op,width,lr,acc,test_acc,secs,comment\n\
train,a,16,0.01,50,49,10,x\n\
train,b,32,0.0100000001,70,68,20,y\n\
valid,b,16,0.05,60,59,30,z\n";

fn settings(dir: &std::path::Path, gzip: bool) -> TableSettings {
    let path = if gzip {
        let p = dir.join("t.csv.gz");
        let mut e = flate2::write::GzEncoder::new(
            std::fs::File::create(&p).unwrap(),
            flate2::Compression::default(),
        );
        e.write_all(CSV.as_bytes()).unwrap();
        e.finish().unwrap();
        p
    } else {
        let p = dir.join("t.csv");
        std::fs::write(&p, CSV).unwrap();
        p
    };
    let mut s = TableSettings::for_table(path);
    s.held_out = vec!["test_acc".into()];
    s.cost_column = Some("secs".into());
    s.cost_scale = 0.5;
    s.select = [("split".to_string(), "train".to_string())].into();
    s
}

#[test]
fn lookups_charge_the_cost_and_report_every_metric_column() {
    let dir = tempfile::tempdir().unwrap();
    for gzip in [false, true] {
        let e = TableEvaluator::load(&settings(dir.path(), gzip), space()).unwrap();
        let names: Vec<String> = e.metrics().iter().map(|m| m.name.clone()).collect();
        assert_eq!(names, ["acc", "test_acc", "secs", "sim_seconds"]);
        assert!(e
            .metrics()
            .iter()
            .any(|m| m.name == "test_acc" && m.held_out));
        // A float within the hash precision finds its row.
        let arch = space().parse(r#"{"op":"b","width":32,"lr":0.01}"#).unwrap();
        let mut ctx = TrialCtx::new(0, 0);
        let m = e.evaluate(&arch, &Fidelity::full(), &mut ctx).unwrap();
        assert_eq!(m.get("acc"), Some(70.0));
        assert_eq!(m.get("sim_seconds"), Some(10.0));
        assert_eq!(ctx.charged_seconds(), 10.0);
        assert_eq!(e.table().unselected, 1);
    }
}

#[test]
fn an_architecture_missing_from_the_table_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let e = TableEvaluator::load(&settings(dir.path(), false), space()).unwrap();
    // Only in the unselected row.
    let arch = space().parse(r#"{"op":"b","width":16,"lr":0.05}"#).unwrap();
    match e.evaluate(&arch, &Fidelity::full(), &mut TrialCtx::new(0, 0)) {
        Err(err @ EvalError::NotInTable { .. }) => {
            let m = err.to_string();
            assert!(m.contains(r#"{"op":"b","width":16,"lr":0.05}"#), "{m}");
            assert!(m.contains("t.csv"), "{m}");
        }
        other => panic!("expected NotInTable, got {other:?}"),
    }
}

#[test]
fn rows_form_the_space_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path(), false);
    assert!(TableEvaluator::load(&s, space())
        .unwrap()
        .space_members()
        .is_none());
    s.space = Some(TableSpace::Rows);
    let members = TableEvaluator::load(&s, space())
        .unwrap()
        .space_members()
        .unwrap();
    assert_eq!(members.len(), 2);
    let finite = archer_space::FiniteSpace::new(space(), members, "t.csv").unwrap();
    let mut rng = archer_rng::Rng::seed_from(1);
    for _ in 0..20 {
        let a = finite.sample(&mut rng).unwrap();
        assert!(finite.contains(&a));
        assert!(finite.contains(&finite.mutate(&a, &mut rng)));
    }
    assert_eq!(finite.size(), 2);
}

#[test]
fn named_columns_must_exist_and_a_table_of_another_space_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path(), false);
    s.held_out = vec!["nope".into()];
    let err = TableEvaluator::load(&s, space()).err().unwrap().to_string();
    assert!(err.contains("evaluator.held_out names \"nope\""), "{err}");
    let other: Arc<dyn SearchSpace> = Arc::new(
        SpaceBuilder::new("o", 1)
            .choice("kernel", [3, 5])
            .build()
            .unwrap(),
    );
    let err = TableEvaluator::load(&settings(dir.path(), false), other)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("no column `kernel`"), "{err}");
}

#[test]
fn a_dimension_reads_the_column_it_is_mapped_to() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("renamed.csv");
    std::fs::write(&p, CSV.replace("split,op,", "split,operation,")).unwrap();
    let mut s = TableSettings::for_table(p);
    s.columns = [("op".to_string(), "operation".to_string())].into();
    let e = TableEvaluator::load(&s, space()).unwrap();
    let arch = space().parse(r#"{"op":"a","width":16,"lr":0.01}"#).unwrap();
    let m = e
        .evaluate(&arch, &Fidelity::full(), &mut TrialCtx::new(0, 0))
        .unwrap();
    assert_eq!(m.get("acc"), Some(50.0));
    s.columns = [("kernel".to_string(), "operation".to_string())].into();
    let err = TableEvaluator::load(&s, space()).err().unwrap().to_string();
    assert!(
        err.contains("evaluator.columns names \"kernel\", which is not a dimension"),
        "{err}"
    );
}

#[test]
fn rows_with_float_columns_still_have_neighbours() {
    // Rows whose floats never sit one documented nudge apart: the nearest rows stand in.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("floats.csv");
    let mut text = String::from("op,width,lr,acc\n");
    for (i, lr) in [0.0013, 0.0071, 0.0233, 0.0517, 0.0891].iter().enumerate() {
        text.push_str(&format!("a,16,{lr},{}\n", 50 + i));
    }
    std::fs::write(&p, text).unwrap();
    let mut s = TableSettings::for_table(p);
    s.space = Some(TableSpace::Rows);
    let members = TableEvaluator::load(&s, space())
        .unwrap()
        .space_members()
        .unwrap();
    let finite = archer_space::FiniteSpace::new(space(), members.clone(), "floats.csv").unwrap();
    let ns = finite.neighbours(&members[2]);
    assert_eq!(ns.len(), 4);
    assert!(ns.iter().all(|n| finite.contains(n) && n != &members[2]));
    let mut rng = archer_rng::Rng::seed_from(0);
    assert_ne!(finite.mutate(&members[2], &mut rng), members[2]);
}
