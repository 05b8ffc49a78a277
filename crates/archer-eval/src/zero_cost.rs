use std::path::{Path, PathBuf};

use archer_core::Arch;
use archer_space::Nb201Space;

use crate::table_file::{nb201_slot, Columns, DataFile, NB201_CELLS};
use crate::{DataError, Nb201Dataset};

/// Proxies the NAS-Bench-201 zero-cost table has (nregions is missing for ImageNet16-120).
pub const NB201_ZERO_COST_PROXIES: [&str; 5] =
    ["naswot", "synflow", "logsynflow", "nregions", "zen"];

/// A source of zero-cost proxy scores: a cheap guess of an architecture's quality (higher =
/// predicted better), known without training. Strategies use it to warm-start; it is never
/// charged to the simulated clock, and it is not an evaluator's business.
pub trait ZeroCostProxy: Send + Sync {
    /// What is scored, e.g. `cifar10_naswot`.
    fn name(&self) -> String;

    /// The score of `arch`, if the source has one.
    fn score(&self, arch: &Arch) -> Option<f64>;

    /// Where the scores come from (paths, content hashes), saved with every run.
    fn provenance(&self) -> serde_json::Value;
}

impl ZeroCostProxy for Nb201ZeroCost {
    fn name(&self) -> String {
        self.column.clone()
    }

    fn score(&self, arch: &Arch) -> Option<f64> {
        Nb201ZeroCost::score(self, arch)
    }

    fn provenance(&self) -> serde_json::Value {
        serde_json::json!({
            "zero_cost_table": self.path,
            "zero_cost_table_sha256": self.sha256,
            "zero_cost_column": self.column,
        })
    }
}

/// Zero-cost proxy scores (computed at initialisation, higher = predicted better) for
/// NAS-Bench-201 cells: one column `<dataset>_<proxy>` of `nb201_zero_cost_proxies.csv.gz`,
/// keyed by `arch_str`.
pub struct Nb201ZeroCost {
    path: PathBuf,
    sha256: String,
    proxy: String,
    column: String,
    /// By `Nb201Space::dense_index`; NaN where the file has no row.
    scores: Vec<f64>,
}

impl Nb201ZeroCost {
    /// Loads the `proxy` column for `dataset`. Errors name the file, line and column.
    pub fn load(path: &Path, dataset: Nb201Dataset, proxy: &str) -> Result<Self, DataError> {
        let file = DataFile::read(path)?;
        let mut reader = file.csv();
        let cols = Columns::new(&file, &mut reader)?;
        let arch_col = cols.find("arch_str")?;
        let column = format!("{}_{proxy}", dataset.prefix());
        let score_col = cols.find(&column)?;
        let mut scores = vec![f64::NAN; NB201_CELLS];
        let mut rows = 0usize;
        for row in cols.nb201_rows(&mut reader, arch_col) {
            let (arch, record) = row?;
            scores[Nb201Space::dense_index(&arch)] = proxy_value(&cols, &record, score_col)?;
            rows += 1;
        }
        if rows == 0 {
            return Err(DataError::Empty { path: file.path });
        }
        Ok(Nb201ZeroCost {
            path: file.path,
            sha256: file.sha256,
            proxy: proxy.to_string(),
            column,
            scores,
        })
    }

    /// The score of `arch`, if the file has it; `-inf` for a cell the proxy rates as
    /// hopeless (NASWOT's log-determinant of a cell that passes nothing on).
    pub fn score(&self, arch: &Arch) -> Option<f64> {
        let s = self.scores[nb201_slot(arch)?];
        (!s.is_nan()).then_some(s)
    }

    /// The proxy, e.g. `naswot`.
    pub fn proxy(&self) -> &str {
        &self.proxy
    }

    /// The column read, e.g. `cifar10_naswot`.
    pub fn column(&self) -> &str {
        &self.column
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn sha256(&self) -> &str {
        &self.sha256
    }
}

/// A proxy score: a number, where `-inf` is legitimate (NASWOT gives it to cells whose
/// activations are all equal); NaN and `+inf` are not.
fn proxy_value(cols: &Columns, record: &csv::StringRecord, index: usize) -> Result<f64, DataError> {
    let raw = record.get(index).unwrap_or("").trim();
    match raw.parse::<f64>() {
        Ok(v) if v.is_finite() || v == f64::NEG_INFINITY => Ok(v),
        _ => Err(cols.bad(record, index, format!("{raw:?} is not a number (or -inf)"))),
    }
}
