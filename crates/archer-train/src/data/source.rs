//! Loading the dataset an experiment names (`[evaluator.data]`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use archer_eval::DataConfig;
use sha2::{Digest, Sha256};

use crate::data::file::find;
use crate::data::{load_cifar, load_folder, load_idx, ImageSet};
use crate::TrainError;

/// A loaded dataset: the training images (from which a validation part is split), the
/// test images, and the SHA-256 of every file read.
#[derive(Clone, Debug)]
pub struct LoadedData {
    pub train: ImageSet,
    pub test: ImageSet,
    pub files: BTreeMap<String, String>,
}

impl LoadedData {
    /// One hash over every file's name and hash: the data's identity in manifests.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        for (name, hash) in &self.files {
            h.update(name.as_bytes());
            h.update(hash.as_bytes());
        }
        format!("{:x}", h.finalize())
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// Reads every file of the dataset `config` names.
pub fn load_data(config: &DataConfig) -> Result<LoadedData, TrainError> {
    let mut files = BTreeMap::new();
    let mut record = |paths: &[PathBuf], hashes: Vec<String>| {
        for (p, h) in paths.iter().zip(hashes) {
            files.insert(file_name(p), h);
        }
    };
    let (train, test) = match config {
        DataConfig::Idx { dir } => {
            let f = |n: &str| find(dir, n);
            let paths = [
                f("train-images-idx3-ubyte")?,
                f("train-labels-idx1-ubyte")?,
                f("t10k-images-idx3-ubyte")?,
                f("t10k-labels-idx1-ubyte")?,
            ];
            let (train, h1) = load_idx(&paths[0], &paths[1])?;
            let (test, h2) = load_idx(&paths[2], &paths[3])?;
            record(&paths[..2], h1);
            record(&paths[2..], h2);
            (train, test)
        }
        DataConfig::Cifar10 { dir } => {
            let mut train_paths = Vec::new();
            for i in 1..=5 {
                train_paths.push(find(dir, &format!("data_batch_{i}.bin"))?);
            }
            let test_path = [find(dir, "test_batch.bin")?];
            let refs: Vec<&Path> = train_paths.iter().map(|p| p.as_path()).collect();
            let (train, h1) = load_cifar(&refs, 10)?;
            let (test, h2) = load_cifar(&[&test_path[0]], 10)?;
            record(&train_paths, h1);
            record(&test_path, h2);
            (train, test)
        }
        DataConfig::Cifar100 { dir } => {
            let paths = [find(dir, "train.bin")?, find(dir, "test.bin")?];
            let (train, h1) = load_cifar(&[&paths[0]], 100)?;
            let (test, h2) = load_cifar(&[&paths[1]], 100)?;
            record(&paths[..1], h1);
            record(&paths[1..], h2);
            (train, test)
        }
        DataConfig::Folder { train, test } => {
            let (tr, classes, h1) = load_folder(train, None)?;
            let (te, _, h2) = load_folder(test, Some(&classes))?;
            if te.shape != tr.shape {
                return Err(TrainError::data(
                    test,
                    format!(
                        "test images are {}×{}, train images {}×{}",
                        te.shape.w, te.shape.h, tr.shape.w, tr.shape.h
                    ),
                ));
            }
            record(&[train.clone(), test.clone()], vec![h1, h2]);
            (tr, te)
        }
    };
    Ok(LoadedData { train, test, files })
}
