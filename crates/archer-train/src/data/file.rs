//! Reading a data file whole, gzip'd or not, with its content hash.

use std::io::Read;
use std::path::Path;

use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};

use crate::TrainError;

/// A file's decompressed bytes and the SHA-256 of its bytes on disk.
pub struct FileBytes {
    pub bytes: Vec<u8>,
    pub sha256: String,
}

/// Reads `path`, decompressing it when it starts with the gzip magic bytes.
pub fn read_maybe_gz(path: &Path) -> Result<FileBytes, TrainError> {
    let raw = std::fs::read(path).map_err(|e| TrainError::io(path, e))?;
    let sha256 = format!("{:x}", Sha256::digest(&raw));
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 4);
        GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| {
                TrainError::data(
                    path,
                    format!(
                        "corrupt gzip data after {} decompressed bytes: {e}",
                        out.len()
                    ),
                )
            })?;
        out
    } else {
        raw
    };
    Ok(FileBytes { bytes, sha256 })
}

/// The first of `name` and `name.gz` that exists in `dir`.
pub fn find(dir: &Path, name: &str) -> Result<std::path::PathBuf, TrainError> {
    for candidate in [name.to_string(), format!("{name}.gz")] {
        let p = dir.join(&candidate);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(TrainError::data(
        dir.join(name),
        format!("not found (nor {name}.gz) in {}", dir.display()),
    ))
}
