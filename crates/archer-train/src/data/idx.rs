//! The IDX format of MNIST and Fashion-MNIST: a big-endian header (magic `0 0 8 ndim`, then
//! the dimensions) followed by unsigned bytes.

use std::path::Path;

use crate::data::file::{read_maybe_gz, FileBytes};
use crate::data::ImageSet;
use crate::ops::Shape;
use crate::TrainError;

/// Parses an IDX file of unsigned bytes with `ndim` dimensions: (dims, payload).
fn parse(
    path: &Path,
    bytes: &[u8],
    ndim: usize,
) -> Result<(Vec<usize>, std::ops::Range<usize>), TrainError> {
    let header = 4 + 4 * ndim;
    if bytes.len() < 4 {
        return Err(TrainError::data(
            path,
            format!("truncated IDX header: {} bytes", bytes.len()),
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08 || bytes[3] as usize != ndim {
        return Err(TrainError::data(
            path,
            format!(
                "bad IDX magic {:02x} {:02x} {:02x} {:02x} at byte 0: expected 00 00 08 {ndim:02x} (unsigned bytes, {ndim} dimensions)",
                bytes[0], bytes[1], bytes[2], bytes[3]
            ),
        ));
    }
    if bytes.len() < header {
        return Err(TrainError::data(
            path,
            format!("truncated IDX header: {} bytes, need {header}", bytes.len()),
        ));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|i| {
            u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().expect("4 bytes")) as usize
        })
        .collect();
    let payload = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let Some(payload) = payload.filter(|p| p.checked_add(header).is_some()) else {
        return Err(TrainError::data(
            path,
            format!("IDX dimensions {dims:?} at byte 4 overflow the addressable size"),
        ));
    };
    if bytes.len() != header + payload {
        let at = header + payload.min(bytes.len().saturating_sub(header));
        return Err(TrainError::data(
            path,
            format!(
                "{} bytes of data after the header, the dimensions {dims:?} need {payload}: {} at byte offset {at}",
                bytes.len() - header,
                if bytes.len() < header + payload { "truncated" } else { "trailing bytes" }
            ),
        ));
    }
    Ok((dims, header..header + payload))
}

/// Loads an IDX image file (`n×h×w`) and its label file (`n`); returns the set and the
/// SHA-256 of both files.
pub fn load_idx(images: &Path, labels: &Path) -> Result<(ImageSet, Vec<String>), TrainError> {
    let FileBytes {
        bytes: img,
        sha256: img_hash,
    } = read_maybe_gz(images)?;
    let FileBytes {
        bytes: lab,
        sha256: lab_hash,
    } = read_maybe_gz(labels)?;
    let (dims, pixels) = parse(images, &img, 3)?;
    let (ldims, label_bytes) = parse(labels, &lab, 1)?;
    if dims[0] != ldims[0] {
        return Err(TrainError::data(
            labels,
            format!(
                "{} labels for {} images in {}",
                ldims[0],
                dims[0],
                images.display()
            ),
        ));
    }
    let labels_u32: Vec<u32> = lab[label_bytes.clone()].iter().map(|&l| l as u32).collect();
    if let Some((i, l)) = labels_u32.iter().enumerate().find(|(_, &l)| l > 9) {
        return Err(TrainError::data(
            labels,
            format!(
                "label {l} of record {i} (byte offset {}) is not a digit class 0-9",
                label_bytes.start + i
            ),
        ));
    }
    let set = ImageSet {
        images: img[pixels].to_vec(),
        labels: labels_u32,
        shape: Shape::new(1, dims[1] as i64, dims[2] as i64),
        classes: 10,
    };
    Ok((set, vec![img_hash, lab_hash]))
}
