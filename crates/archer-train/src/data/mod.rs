//! Image classification data: real loaders for real formats (IDX, CIFAR binary, image
//! folders), splits, normalisation, augmentation and a prefetching batch loader.

mod cifar;
mod file;
mod folder;
mod idx;
mod loader;
mod source;

pub use cifar::load_cifar;
pub use folder::load_folder;
pub use idx::load_idx;
pub use loader::{Batch, BatchLoader, Normalize};
pub use source::{load_data, LoadedData};

use archer_rng::Rng;

use crate::ops::Shape;

/// Images (`u8`, each stored channel-major `c×h×w`) with class labels.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageSet {
    pub images: Vec<u8>,
    pub labels: Vec<u32>,
    pub shape: Shape,
    pub classes: usize,
}

impl ImageSet {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Bytes per image.
    pub fn image_size(&self) -> usize {
        (self.shape.c * self.shape.h * self.shape.w) as usize
    }

    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_size();
        &self.images[i * n..(i + 1) * n]
    }

    /// The images at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> ImageSet {
        let mut images = Vec::with_capacity(indices.len() * self.image_size());
        for &i in indices {
            images.extend_from_slice(self.image(i));
        }
        ImageSet {
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            shape: self.shape,
            classes: self.classes,
        }
    }

    /// The indices of each class's images, in order.
    fn by_class(&self) -> Vec<Vec<usize>> {
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); self.classes];
        for (i, &l) in self.labels.iter().enumerate() {
            by_class[l as usize].push(i);
        }
        by_class
    }

    /// A split into `(train, valid)` with `valid_fraction` of every class held out, chosen
    /// by `seed` (stratified, so both parts keep the class balance).
    pub fn split(&self, valid_fraction: f64, seed: u64) -> (ImageSet, ImageSet) {
        let mut rng = Rng::derive(seed, 0x5b117);
        let (mut train, mut valid) = (Vec::new(), Vec::new());
        for mut members in self.by_class() {
            rng.shuffle(&mut members);
            let n_valid = (members.len() as f64 * valid_fraction).round() as usize;
            valid.extend_from_slice(&members[..n_valid]);
            train.extend_from_slice(&members[n_valid..]);
        }
        train.sort_unstable();
        valid.sort_unstable();
        (self.subset(&train), self.subset(&valid))
    }

    /// A stratified `fraction` of the images, chosen by `seed` (at least one per class that
    /// has any).
    pub fn fraction(&self, fraction: f64, seed: u64) -> ImageSet {
        if fraction >= 1.0 {
            return self.clone();
        }
        let mut rng = Rng::derive(seed, 0xf4ac);
        let mut keep = Vec::new();
        for mut members in self.by_class() {
            if members.is_empty() {
                continue;
            }
            rng.shuffle(&mut members);
            let n = ((members.len() as f64 * fraction).round() as usize).max(1);
            keep.extend_from_slice(&members[..n]);
        }
        keep.sort_unstable();
        self.subset(&keep)
    }

    /// Per-channel mean and standard deviation of the pixel values scaled to [0, 1].
    pub fn channel_stats(&self) -> (Vec<f64>, Vec<f64>) {
        let c = self.shape.c as usize;
        let plane = (self.shape.h * self.shape.w) as usize;
        let mut sum = vec![0f64; c];
        let mut sq = vec![0f64; c];
        for img in self.images.chunks_exact(self.image_size()) {
            for ch in 0..c {
                for &v in &img[ch * plane..(ch + 1) * plane] {
                    let x = v as f64 / 255.0;
                    sum[ch] += x;
                    sq[ch] += x * x;
                }
            }
        }
        let n = (self.len() * plane).max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let std = sq
            .iter()
            .zip(&mean)
            .map(|(s, m)| (s / n - m * m).max(1e-12).sqrt())
            .collect();
        (mean, std)
    }
}
