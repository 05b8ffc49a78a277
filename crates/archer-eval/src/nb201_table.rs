use std::path::{Path, PathBuf};

use archer_core::Arch;
use archer_space::{Nb201Space, SearchSpace};
use serde::{Deserialize, Serialize};

use crate::table_file::{nb201_slot, Columns, NB201_CELLS};
use crate::{DataError, DataFile};

/// The three NAS-Bench-201 datasets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Nb201Dataset {
    #[serde(rename = "cifar10")]
    Cifar10,
    #[serde(rename = "cifar100")]
    Cifar100,
    #[serde(rename = "imagenet16-120", alias = "imagenet16")]
    ImageNet16,
}

impl Nb201Dataset {
    pub const ALL: [Nb201Dataset; 3] = [
        Nb201Dataset::Cifar10,
        Nb201Dataset::Cifar100,
        Nb201Dataset::ImageNet16,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Nb201Dataset::Cifar10 => "cifar10",
            Nb201Dataset::Cifar100 => "cifar100",
            Nb201Dataset::ImageNet16 => "imagenet16-120",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "cifar10" => Some(Nb201Dataset::Cifar10),
            "cifar100" => Some(Nb201Dataset::Cifar100),
            "imagenet16-120" | "imagenet16" => Some(Nb201Dataset::ImageNet16),
            _ => None,
        }
    }

    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Nb201Dataset::Cifar10 => "cifar10",
            Nb201Dataset::Cifar100 => "cifar100",
            Nb201Dataset::ImageNet16 => "imagenet16",
        }
    }

    fn valid_column(self) -> String {
        format!("{}_valid_acc_naslib", self.prefix())
    }

    fn test_column(self) -> String {
        match self {
            Nb201Dataset::Cifar10 => "cifar10_test_acc".into(),
            other => format!("{}_xtest_acc", other.prefix()),
        }
    }

    /// Share of the recorded per-epoch training time that one search epoch costs. The table's
    /// CIFAR-10 times are for the full 50k training set, but the search trains on the 25k
    /// `cifar10-valid` split; CIFAR-100 and ImageNet16-120 search on their full training sets.
    pub fn search_split_fraction(self) -> f64 {
        match self {
            Nb201Dataset::Cifar10 => 0.5,
            _ => 1.0,
        }
    }
}

/// One architecture's numbers on one dataset.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Nb201Record {
    /// Validation accuracy, percent: the signal a search sees (NASLib's single-run value).
    pub valid_acc: f64,
    /// Test accuracy, percent (CIFAR-10 ori-test; CIFAR-100 and ImageNet16-120 x-test).
    pub test_acc: f64,
    /// Recorded training seconds per epoch on the full training set.
    pub epoch_seconds: f64,
    pub params_m: f64,
    pub flops_m: f64,
}

struct Row {
    arch: Arch,
    arch_index: u32,
    records: [Nb201Record; 3],
}

struct Latency {
    file: PathBuf,
    sha256: String,
    devices: Vec<String>,
    /// `values[row][device]`, NaN where the latency file lacks the architecture.
    values: Vec<Vec<f64>>,
}

const CELLS: usize = NB201_CELLS;
const MISSING: u32 = u32::MAX;

/// The NAS-Bench-201 results table (`nb201_results.csv.gz`), optionally joined with the
/// latency table (`nb201_latency_help.csv.gz`). Partial tables (test fixtures) are allowed.
pub struct Nb201Table {
    file: PathBuf,
    sha256: String,
    rows: Vec<Row>,
    /// Row of each cell by [`Nb201Space::dense_index`], `MISSING` if absent.
    dense: Vec<u32>,
    latency: Option<Latency>,
}

impl Nb201Table {
    pub fn load(path: &Path) -> Result<Self, DataError> {
        let file = DataFile::read(path)?;
        let mut reader = file.csv();
        let cols = Columns::new(&file, &mut reader)?;
        let index_col = cols.find("arch_index")?;
        let arch_col = cols.find("arch_str")?;
        let mut dataset_cols = Vec::new();
        for d in Nb201Dataset::ALL {
            let p = d.prefix();
            dataset_cols.push([
                cols.find(&d.valid_column())?,
                cols.find(&d.test_column())?,
                cols.find(&format!("{p}_train_time_per_epoch_s"))?,
                cols.find(&format!("{p}_params_M"))?,
                cols.find(&format!("{p}_flops_M"))?,
            ]);
        }
        let mut rows = Vec::new();
        let mut dense = vec![MISSING; CELLS];
        for row in cols.nb201_rows(&mut reader, arch_col) {
            let (arch, record) = row?;
            let arch_index = cols.number(&record, index_col)?;
            if arch_index < 0.0 || arch_index.fract() != 0.0 || arch_index >= CELLS as f64 {
                return Err(cols.bad(
                    &record,
                    index_col,
                    format!("{arch_index} is not an index in 0..{CELLS}"),
                ));
            }
            let key = Nb201Space::dense_index(&arch);
            if dense[key] != MISSING {
                let arch_str = record.get(arch_col).unwrap_or("");
                return Err(cols.bad(&record, arch_col, format!("{arch_str} appears twice")));
            }
            let mut records = [Nb201Record {
                valid_acc: 0.0,
                test_acc: 0.0,
                epoch_seconds: 0.0,
                params_m: 0.0,
                flops_m: 0.0,
            }; 3];
            for (r, c) in records.iter_mut().zip(&dataset_cols) {
                *r = Nb201Record {
                    valid_acc: cols.number(&record, c[0])?,
                    test_acc: cols.number(&record, c[1])?,
                    epoch_seconds: cols.number(&record, c[2])?,
                    params_m: cols.number(&record, c[3])?,
                    flops_m: cols.number(&record, c[4])?,
                };
                if r.epoch_seconds <= 0.0 {
                    return Err(cols.bad(&record, c[2], "training time must be positive".into()));
                }
            }
            dense[key] = rows.len() as u32;
            rows.push(Row {
                arch,
                arch_index: arch_index as u32,
                records,
            });
        }
        if rows.is_empty() {
            return Err(DataError::Empty { path: file.path });
        }
        Ok(Nb201Table {
            file: file.path,
            sha256: file.sha256,
            rows,
            dense,
            latency: None,
        })
    }

    /// Joins the latency table (columns `arch_str` and `lat_ms_<device>`).
    pub fn with_latency(mut self, path: &Path) -> Result<Self, DataError> {
        let file = DataFile::read(path)?;
        let mut reader = file.csv();
        let cols = Columns::new(&file, &mut reader)?;
        let arch_col = cols.find("arch_str")?;
        let device_cols: Vec<(usize, String)> = cols
            .names()
            .enumerate()
            .filter_map(|(i, n)| n.strip_prefix("lat_ms_").map(|d| (i, d.to_string())))
            .collect();
        if device_cols.is_empty() {
            return Err(DataError::MissingColumn {
                path: file.path.clone(),
                column: "lat_ms_<device>".into(),
                found: cols.names().collect::<Vec<_>>().join(", "),
            });
        }
        let mut values = vec![vec![f64::NAN; device_cols.len()]; self.rows.len()];
        for row in cols.nb201_rows(&mut reader, arch_col) {
            let (arch, record) = row?;
            let Some(row) = self.row_of(&arch) else {
                continue;
            };
            for (d, (col, _)) in device_cols.iter().enumerate() {
                values[row][d] = cols.number(&record, *col)?;
            }
        }
        self.latency = Some(Latency {
            file: file.path,
            sha256: file.sha256,
            devices: device_cols.into_iter().map(|(_, d)| d).collect(),
            values,
        });
        Ok(self)
    }

    pub fn path(&self) -> &Path {
        &self.file
    }

    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Latency devices available (`1080ti_1`, `raspi4`, ...); empty without a latency table.
    pub fn latency_devices(&self) -> &[String] {
        self.latency.as_ref().map_or(&[], |l| &l.devices)
    }

    /// (path, sha256) of the latency table, if joined.
    pub fn latency_source(&self) -> Option<(&Path, &str)> {
        self.latency
            .as_ref()
            .map(|l| (l.file.as_path(), l.sha256.as_str()))
    }

    fn row_of(&self, arch: &Arch) -> Option<usize> {
        let r = self.dense[nb201_slot(arch)?];
        (r != MISSING).then_some(r as usize)
    }

    /// The recorded numbers of `arch` on `dataset`, if the table has it.
    pub fn record(&self, arch: &Arch, dataset: Nb201Dataset) -> Option<&Nb201Record> {
        let row = self.row_of(arch)?;
        Some(&self.rows[row].records[dataset as usize])
    }

    /// The official NAS-Bench-201 index of `arch`, if the table has it.
    pub fn arch_index(&self, arch: &Arch) -> Option<u32> {
        self.row_of(arch).map(|r| self.rows[r].arch_index)
    }

    /// Latency in ms of `arch` on `device`, if known.
    pub fn latency_ms(&self, arch: &Arch, device: &str) -> Option<f64> {
        let l = self.latency.as_ref()?;
        let d = l.devices.iter().position(|x| x == device)?;
        let v = l.values[self.row_of(arch)?][d];
        v.is_finite().then_some(v)
    }

    /// Every architecture in the table with its records, in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&Arch, &[Nb201Record; 3])> {
        self.rows.iter().map(|r| (&r.arch, &r.records))
    }

    /// Architectures of `space` that the table lacks (at most `limit` of them listed).
    pub fn missing_from(&self, space: &dyn SearchSpace, limit: usize) -> (usize, Vec<String>) {
        let allowed: Vec<&[u16]> = space
            .dimensions()
            .iter()
            .map(|d| d.allowed.as_slice())
            .collect();
        let mut missing = 0;
        let mut examples = Vec::new();
        for key in 0..CELLS {
            let choices: Vec<u16> = (0..6)
                .rev()
                .map(|p| ((key / 5usize.pow(p)) % 5) as u16)
                .collect();
            if choices.iter().zip(&allowed).all(|(c, a)| a.contains(c))
                && self.dense[key] == MISSING
            {
                missing += 1;
                if examples.len() < limit {
                    examples.push(space.format(&Arch::new(space.name(), space.version(), choices)));
                }
            }
        }
        (missing, examples)
    }
}
