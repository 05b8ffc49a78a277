use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

use archer_core::Arch;
use archer_space::{Nb201Space, SearchSpace};

use crate::DataError;

/// A data file read whole into memory, decompressed if it is gzip (detected by its magic
/// bytes, not its name), with the SHA-256 of the bytes on disk for provenance.
pub struct DataFile {
    pub path: PathBuf,
    pub sha256: String,
    pub text: String,
}

impl DataFile {
    pub fn read(path: &Path) -> Result<Self, DataError> {
        let raw = std::fs::read(path).map_err(|e| DataError::Io {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let sha256 = Sha256::digest(&raw)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
            let mut out = Vec::new();
            MultiGzDecoder::new(raw.as_slice())
                .read_to_end(&mut out)
                .map_err(|e| DataError::Corrupt {
                    path: path.to_path_buf(),
                    reason: format!("gzip stream: {e} (after {} decompressed bytes)", out.len()),
                })?;
            out
        } else {
            raw
        };
        let text = String::from_utf8(bytes).map_err(|e| DataError::Corrupt {
            path: path.to_path_buf(),
            reason: format!(
                "not UTF-8 text (first bad byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        })?;
        Ok(DataFile {
            path: path.to_path_buf(),
            sha256,
            text,
        })
    }

    /// A CSV reader over the text, with a header row.
    pub fn csv(&self) -> csv::Reader<&[u8]> {
        csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(self.text.as_bytes())
    }
}

/// Column positions looked up by name, with errors that list what the file has.
pub(crate) struct Columns<'a> {
    path: &'a Path,
    headers: csv::StringRecord,
}

impl<'a> Columns<'a> {
    pub(crate) fn new(
        file: &'a DataFile,
        reader: &mut csv::Reader<&[u8]>,
    ) -> Result<Self, DataError> {
        let headers = reader.headers().map_err(|e| DataError::Corrupt {
            path: file.path.clone(),
            reason: format!("header row: {e}"),
        })?;
        Ok(Columns {
            path: &file.path,
            headers: headers.clone(),
        })
    }

    pub(crate) fn find(&self, name: &str) -> Result<usize, DataError> {
        self.headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| DataError::MissingColumn {
                path: self.path.to_path_buf(),
                column: name.to_string(),
                found: self.headers.iter().collect::<Vec<_>>().join(", "),
            })
    }

    /// The file the columns belong to.
    pub(crate) fn path(&self) -> &Path {
        self.path
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.headers.iter()
    }

    /// The number in `record[index]`, or an error naming line and column.
    pub(crate) fn number(
        &self,
        record: &csv::StringRecord,
        index: usize,
    ) -> Result<f64, DataError> {
        let raw = record.get(index).unwrap_or("");
        raw.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| self.bad(record, index, format!("{raw:?} is not a finite number")))
    }

    /// Every data row with its NAS-Bench-201 cell, parsed from `arch_col`. A broken row or
    /// an unparseable cell is an error naming the file (and line and column).
    pub(crate) fn nb201_rows<'r>(
        &'r self,
        reader: &'r mut csv::Reader<&'r [u8]>,
        arch_col: usize,
    ) -> impl Iterator<Item = Result<(Arch, csv::StringRecord), DataError>> + 'r {
        let space = Nb201Space::default();
        reader.records().map(move |record| {
            let record = record.map_err(|e| DataError::Corrupt {
                path: self.path.to_path_buf(),
                reason: e.to_string(),
            })?;
            let arch = space
                .parse(record.get(arch_col).unwrap_or(""))
                .map_err(|e| self.bad(&record, arch_col, e.to_string()))?;
            Ok((arch, record))
        })
    }

    pub(crate) fn bad(
        &self,
        record: &csv::StringRecord,
        index: usize,
        reason: String,
    ) -> DataError {
        DataError::BadValue {
            path: self.path.to_path_buf(),
            line: record.position().map_or(0, |p| p.line()),
            column: self.headers.get(index).unwrap_or("?").to_string(),
            reason,
        }
    }
}

/// Number of NAS-Bench-201 cells (5 ops on 6 edges).
pub(crate) const NB201_CELLS: usize = 15_625;

/// The slot of an NB201 cell in a dense per-cell vector ([`Nb201Space::dense_index`]), or
/// `None` for an architecture that is not an unrestricted-index NB201 cell.
pub(crate) fn nb201_slot(arch: &Arch) -> Option<usize> {
    (arch.genes.len() == 6 && arch.genes.iter().all(|g| g.index().is_some_and(|c| c < 5)))
        .then(|| Nb201Space::dense_index(arch))
}
