//! The CIFAR binary format: fixed-size records of the label byte(s) then 3×32×32 pixels,
//! channel-major. CIFAR-10 has one label byte; CIFAR-100 two (coarse, fine: the fine label
//! is used).

use std::path::Path;

use crate::data::file::read_maybe_gz;
use crate::data::ImageSet;
use crate::ops::Shape;
use crate::TrainError;

const PIXELS: usize = 3 * 32 * 32;

/// Loads and concatenates CIFAR binary files (`.bin` or `.bin.gz`) with `classes` 10 or
/// 100; returns the set and each file's SHA-256.
pub fn load_cifar(paths: &[&Path], classes: usize) -> Result<(ImageSet, Vec<String>), TrainError> {
    let label_bytes = match classes {
        10 => 1,
        100 => 2,
        _ => {
            return Err(TrainError::Setting(format!(
                "CIFAR has 10 or 100 classes, not {classes}"
            )))
        }
    };
    let record = label_bytes + PIXELS;
    let mut set = ImageSet {
        images: Vec::new(),
        labels: Vec::new(),
        shape: Shape::new(3, 32, 32),
        classes,
    };
    let mut hashes = Vec::new();
    for path in paths {
        let file = read_maybe_gz(path)?;
        let bytes = &file.bytes;
        if bytes.is_empty() {
            return Err(TrainError::data(path, "empty file: no CIFAR records"));
        }
        if bytes.len() % record != 0 {
            let n = bytes.len() / record;
            return Err(TrainError::data(
                path,
                format!(
                    "truncated: record {n} at byte offset {} has {} of its {record} bytes",
                    n * record,
                    bytes.len() - n * record
                ),
            ));
        }
        for (i, r) in bytes.chunks_exact(record).enumerate() {
            let label = r[label_bytes - 1] as usize;
            if label >= classes {
                return Err(TrainError::data(
                    path,
                    format!(
                        "record {i} (byte offset {}): label {label} is not below {classes}; is this a CIFAR-{} file?",
                        i * record,
                        if classes == 10 { 100 } else { 10 }
                    ),
                ));
            }
            set.labels.push(label as u32);
            set.images.extend_from_slice(&r[label_bytes..]);
        }
        hashes.push(file.sha256);
    }
    Ok((set, hashes))
}
