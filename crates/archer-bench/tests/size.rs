//! Every NAS-Bench-201 network, counted on its description, has the table's size.

use std::path::Path;

use archer_bench::size_bench::check_sizes;
use archer_eval::{Nb201Dataset, Nb201Table};

#[test]
fn all_15625_networks_match_the_table_on_every_dataset() {
    let table = Nb201Table::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../data/nas-bench-201/nb201_results.csv.gz"),
    )
    .unwrap();
    for dataset in Nb201Dataset::ALL {
        let c = check_sizes(&table, dataset).unwrap();
        assert_eq!(c.checked, 15_625);
        assert_eq!((c.params_mismatches, c.flops_mismatches), (0, 0), "{c:?}");
        assert!(
            c.params_max_rel_err < 1e-6 && c.flops_max_rel_err < 1e-6,
            "{c:?}"
        );
    }
}
