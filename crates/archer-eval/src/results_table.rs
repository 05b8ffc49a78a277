//! A user's results table: one row per architecture, one column per dimension (the option's
//! value) and one per metric, read against the space it describes.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use archer_core::Arch;
use archer_space::{Domain, Gene, SearchSpace};

use crate::table_file::{Columns, DataFile};
use crate::DataError;

/// One row: its architecture and its metric values (NaN where the cell is empty), in
/// [`ResultsTable::metric_names`] order.
#[derive(Clone, Debug)]
pub struct TableRow {
    pub arch: Arch,
    pub values: Vec<f64>,
    /// The file's line, for messages.
    pub line: u64,
}

/// What to read from a table.
#[derive(Clone, Debug, Default)]
pub struct TableSpec {
    /// Metric columns; `None`: every column that is not a dimension, not in `select`, and
    /// holds only numbers (or empty cells).
    pub metrics: Option<Vec<String>>,
    /// Only rows whose column holds the given text.
    pub select: BTreeMap<String, String>,
    /// The column of a dimension whose column is not named as the dimension.
    pub columns: BTreeMap<String, String>,
}

/// A results table loaded against a space. Rows are keyed by the space's canonical hash,
/// so an isomorphic architecture (or a float within the hash precision) finds its row.
pub struct ResultsTable {
    file: DataFile,
    metric_names: Vec<String>,
    rows: Vec<TableRow>,
    by_hash: HashMap<String, usize>,
    /// Rows `select` dropped, rows outside the space, and rows isomorphic to an earlier one.
    pub unselected: usize,
    pub outside_space: usize,
    pub duplicates: usize,
}

/// How one dimension's column is read.
struct DimColumn {
    index: usize,
    /// Label → index, for categorical and integer dimensions.
    labels: HashMap<String, u16>,
    /// Numeric value → index, for options written as numbers (`16` matches `16.0`).
    numbers: Vec<(f64, u16)>,
    float: bool,
}

/// The architecture a row describes, or why it is none of `space`'s.
fn row_arch(
    record: &csv::StringRecord,
    space: &dyn SearchSpace,
    dim_cols: &[DimColumn],
    columns: &Columns,
) -> Result<Arch, DataError> {
    let mut genes = Vec::with_capacity(dim_cols.len());
    for (d, col) in space.dimensions().iter().zip(dim_cols) {
        let cell = record.get(col.index).unwrap_or("");
        let g = gene_from(cell, col).ok_or_else(|| {
            columns.bad(
                record,
                col.index,
                format!("{cell:?} is not a value of dimension {}", d.label),
            )
        })?;
        genes.push(g);
    }
    let arch = Arch::from_genes(space.name(), space.version(), genes);
    space.check(&arch).map_err(|e| DataError::BadValue {
        path: columns.path().to_path_buf(),
        line: record.position().map_or(0, |p| p.line()),
        column: "(the architecture)".into(),
        reason: e.to_string(),
    })?;
    Ok(arch)
}

fn gene_from(cell: &str, col: &DimColumn) -> Option<Gene> {
    let cell = cell.trim();
    if cell.is_empty() {
        return Some(Gene::Absent);
    }
    if col.float {
        return cell
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .map(Gene::float);
    }
    if let Some(&i) = col.labels.get(cell) {
        return Some(Gene::Index(i));
    }
    let x = cell.parse::<f64>().ok()?;
    col.numbers
        .iter()
        .find(|(v, _)| *v == x)
        .map(|&(_, i)| Gene::Index(i))
}

impl ResultsTable {
    /// Reads `path` (CSV, plain or gzip'd) against `space`. Rows that are not architectures
    /// of `space` are counted and skipped; a table with none is an error that shows why the
    /// first one was refused.
    pub fn load(path: &Path, space: &dyn SearchSpace, spec: &TableSpec) -> Result<Self, DataError> {
        let file = DataFile::read(path)?;
        let mut reader = file.csv();
        let columns = Columns::new(&file, &mut reader)?;
        let dims = space.dimensions();
        let mut dim_cols = Vec::with_capacity(dims.len());
        for label in spec.columns.keys() {
            if !dims.iter().any(|d| &d.label == label) {
                return Err(DataError::BadValue {
                    path: file.path.clone(),
                    line: 0,
                    column: label.clone(),
                    reason: format!(
                        "evaluator.columns names {label:?}, which is not a dimension of space {}",
                        space.name()
                    ),
                });
            }
        }
        for d in dims {
            let name = spec.columns.get(&d.label).unwrap_or(&d.label);
            let index = columns.find(name)?;
            let allowed: Vec<u16> = d.allowed.clone();
            let labels = allowed
                .iter()
                .map(|&i| (d.choices[usize::from(i)].clone(), i))
                .collect();
            let numbers = allowed
                .iter()
                .filter_map(|&i| {
                    d.choices[usize::from(i)]
                        .parse::<f64>()
                        .ok()
                        .map(|x| (x, i))
                })
                .collect();
            dim_cols.push(DimColumn {
                index,
                labels,
                numbers,
                float: matches!(d.domain, Domain::Float { .. }),
            });
        }
        let mut select = Vec::new();
        for (column, value) in &spec.select {
            select.push((columns.find(column)?, value.clone()));
        }
        let records: Vec<csv::StringRecord> =
            reader
                .records()
                .collect::<Result<_, _>>()
                .map_err(|e| DataError::Corrupt {
                    path: file.path.clone(),
                    reason: e.to_string(),
                })?;
        let is_dim: Vec<bool> = columns
            .names()
            .enumerate()
            .map(|(i, name)| {
                dim_cols.iter().any(|c| c.index == i) || spec.select.contains_key(name)
            })
            .collect();
        let chosen: Vec<&csv::StringRecord> = records
            .iter()
            .filter(|r| {
                select
                    .iter()
                    .all(|(i, v)| r.get(*i).map(str::trim) == Some(v.as_str()))
            })
            .collect();
        let metric_names: Vec<String> = match &spec.metrics {
            Some(m) => m.clone(),
            None => columns
                .names()
                .enumerate()
                .filter(|(i, _)| !is_dim[*i])
                .filter(|(i, _)| {
                    chosen.iter().all(|r| {
                        let c = r.get(*i).unwrap_or("").trim();
                        c.is_empty() || c.parse::<f64>().is_ok()
                    })
                })
                .map(|(_, n)| n.to_string())
                .collect(),
        };
        let metric_cols: Vec<usize> = metric_names
            .iter()
            .map(|m| columns.find(m))
            .collect::<Result<_, _>>()?;
        let mut rows = Vec::new();
        let mut by_hash = HashMap::new();
        let (mut outside, mut duplicates) = (0, 0);
        let mut first_refusal: Option<DataError> = None;
        for record in &chosen {
            let line = record.position().map_or(0, |p| p.line());
            let arch = match row_arch(record, space, &dim_cols, &columns) {
                Ok(a) => a,
                Err(e) => {
                    outside += 1;
                    first_refusal.get_or_insert(e);
                    continue;
                }
            };
            let mut values = Vec::with_capacity(metric_cols.len());
            for &i in &metric_cols {
                let cell = record.get(i).unwrap_or("").trim();
                // Empty, `nan` and infinite cells are missing values, not errors.
                let missing = cell.is_empty() || cell.parse::<f64>().is_ok_and(|v| !v.is_finite());
                values.push(if missing {
                    f64::NAN
                } else {
                    columns.number(record, i)?
                });
            }
            let hash = space.canonical_hash(&arch);
            if by_hash.contains_key(&hash) {
                duplicates += 1;
                continue;
            }
            by_hash.insert(hash, rows.len());
            rows.push(TableRow { arch, values, line });
        }
        if rows.is_empty() {
            return Err(first_refusal.unwrap_or(DataError::Empty {
                path: file.path.clone(),
            }));
        }
        Ok(ResultsTable {
            unselected: records.len() - chosen.len(),
            outside_space: outside,
            duplicates,
            file,
            metric_names,
            rows,
            by_hash,
        })
    }

    pub fn path(&self) -> &Path {
        &self.file.path
    }

    pub fn sha256(&self) -> &str {
        &self.file.sha256
    }

    pub fn metric_names(&self) -> &[String] {
        &self.metric_names
    }

    pub fn rows(&self) -> &[TableRow] {
        &self.rows
    }

    /// The row of `arch` (up to isomorphism), looked up by `space`'s canonical hash.
    pub fn row(&self, space: &dyn SearchSpace, arch: &Arch) -> Option<&TableRow> {
        self.by_hash
            .get(&space.canonical_hash(arch))
            .map(|&i| &self.rows[i])
    }

    /// Position of a metric column.
    pub fn metric_index(&self, name: &str) -> Option<usize> {
        self.metric_names.iter().position(|m| m == name)
    }
}
