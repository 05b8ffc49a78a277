//! Batches of normalised (and, for training, augmented) images, prepared on their own
//! thread while the network trains on the previous ones.

use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use archer_eval::Augment;
use archer_rng::Rng;
use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::data::ImageSet;

/// Per-channel normalisation of pixels scaled to [0, 1].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalize {
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

impl Normalize {
    /// The statistics of `set` (normally the training part).
    pub fn of(set: &ImageSet) -> Self {
        let (mean, std) = set.channel_stats();
        Normalize { mean, std }
    }
}

/// One batch as tensors (images `n×c×h×w` float, labels `n` int64).
pub struct Batch {
    pub images: Tensor,
    pub labels: Tensor,
}

struct RawBatch {
    images: Vec<f32>,
    labels: Vec<i64>,
}

/// Iterates over one pass (epoch) of a set in batches. The order (when shuffled) and the
/// augmentation are drawn from `seed`, per batch, so the batches do not depend on thread
/// timing.
pub struct BatchLoader {
    rx: Option<Receiver<RawBatch>>,
    worker: Option<JoinHandle<()>>,
    dims: [i64; 3],
    batches: usize,
    delivered: usize,
}

impl BatchLoader {
    /// `shuffle`: `Some(seed)` draws the order and augmentation from the seed; `None` keeps
    /// the set's order and applies no augmentation (evaluation). `prefetch` batches are
    /// prepared ahead. A last partial batch is dropped when `drop_last`.
    pub fn new(
        set: Arc<ImageSet>,
        batch_size: usize,
        shuffle: Option<u64>,
        augment: Augment,
        normalize: Normalize,
        prefetch: usize,
        drop_last: bool,
    ) -> Self {
        let batch_size = batch_size.max(1);
        let n = set.len();
        let batches = if drop_last && n >= batch_size {
            n / batch_size
        } else {
            n.div_ceil(batch_size)
        };
        let dims = [set.shape.c, set.shape.h, set.shape.w];
        let (tx, rx) = sync_channel(prefetch.max(1));
        let worker = std::thread::spawn(move || {
            let mut order: Vec<usize> = (0..n).collect();
            if let Some(seed) = shuffle {
                Rng::derive(seed, u64::MAX).shuffle(&mut order);
            }
            for b in 0..batches {
                let idx = &order[b * batch_size..((b + 1) * batch_size).min(n)];
                let mut rng = shuffle.map(|seed| Rng::derive(seed, b as u64));
                let raw = make_batch(&set, idx, rng.as_mut().map(|r| (r, &augment)), &normalize);
                if tx.send(raw).is_err() {
                    return; // the consumer stopped early
                }
            }
        });
        BatchLoader {
            rx: Some(rx),
            worker: Some(worker),
            dims,
            batches,
            delivered: 0,
        }
    }

    /// After the iterator ended: an error if it ended before every batch was delivered
    /// (the loader thread died), with the thread's panic message.
    pub fn finish(mut self) -> Result<(), crate::TrainError> {
        if self.delivered == self.batches {
            return Ok(());
        }
        self.rx.take();
        let why = match self.worker.take().map(|w| w.join()) {
            Some(Err(panic)) => panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the loader thread panicked".into()),
            _ => "the loader thread stopped early".into(),
        };
        Err(crate::TrainError::Loader(format!(
            "{why} after {} of {} batches",
            self.delivered, self.batches
        )))
    }
}

impl Iterator for BatchLoader {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        let raw = self.rx.as_ref()?.recv().ok()?;
        self.delivered += 1;
        let n = raw.labels.len() as i64;
        let [c, h, w] = self.dims;
        Some(Batch {
            images: Tensor::from_slice(&raw.images).view([n, c, h, w]),
            labels: Tensor::from_slice(&raw.labels),
        })
    }
}

impl Drop for BatchLoader {
    fn drop(&mut self) {
        // Closing the channel stops the worker at its next send.
        self.rx.take();
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

fn make_batch(
    set: &ImageSet,
    idx: &[usize],
    mut augment: Option<(&mut Rng, &Augment)>,
    norm: &Normalize,
) -> RawBatch {
    let (c, h, w) = (
        set.shape.c as usize,
        set.shape.h as usize,
        set.shape.w as usize,
    );
    let size = c * h * w;
    let mut images = vec![0f32; idx.len() * size];
    let scale: Vec<(f32, f32)> = (0..c)
        .map(|ch| {
            let s = norm.std[ch] as f32;
            (1.0 / (255.0 * s), norm.mean[ch] as f32 / s)
        })
        .collect();
    for (k, &i) in idx.iter().enumerate() {
        let src = set.image(i);
        let dst = &mut images[k * size..(k + 1) * size];
        // Crop offsets and flip, drawn per image.
        let (mut dy, mut dx, mut flip) = (0isize, 0isize, false);
        let mut cut = None;
        if let Some((rng, aug)) = augment.as_mut() {
            let p = aug.crop_padding as usize;
            if p > 0 {
                dy = rng.below(2 * p + 1) as isize - p as isize;
                dx = rng.below(2 * p + 1) as isize - p as isize;
            }
            flip = aug.flip && rng.chance(0.5);
            if aug.cutout > 0 {
                cut = Some((rng.below(h), rng.below(w), aug.cutout as usize));
            }
        }
        for ch in 0..c {
            let (a, b) = scale[ch];
            for y in 0..h {
                let sy = y as isize + dy;
                for x in 0..w {
                    let xx = if flip { w - 1 - x } else { x };
                    let sx = xx as isize + dx;
                    let v = if sy >= 0 && sx >= 0 && (sy as usize) < h && (sx as usize) < w {
                        src[ch * h * w + sy as usize * w + sx as usize]
                    } else {
                        0
                    };
                    dst[ch * h * w + y * w + x] = v as f32 * a - b;
                }
            }
        }
        if let Some((cy, cx, len)) = cut {
            let (y0, y1) = (cy.saturating_sub(len / 2), (cy + len / 2).min(h));
            let (x0, x1) = (cx.saturating_sub(len / 2), (cx + len / 2).min(w));
            for ch in 0..c {
                for y in y0..y1 {
                    dst[ch * h * w + y * w + x0..ch * h * w + y * w + x1].fill(0.0);
                }
            }
        }
    }
    RawBatch {
        images,
        labels: idx.iter().map(|&i| set.labels[i] as i64).collect(),
    }
}
