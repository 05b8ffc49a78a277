//! The dataset loaders read real formats and name the file and place of any corruption.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use archer_eval::{Augment, DataConfig};
use archer_train::data::{load_cifar, load_data, load_folder, load_idx, BatchLoader, Normalize};

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn idx_images(n: u32, h: u32, w: u32, pixel: impl Fn(u32) -> u8) -> Vec<u8> {
    let mut out = vec![0, 0, 8, 3];
    for d in [n, h, w] {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend((0..n * h * w).map(pixel));
    out
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 8, 1];
    out.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    out.extend_from_slice(labels);
    out
}

#[test]
fn idx_files_load_plain_or_gzipped() {
    let dir = tempfile::tempdir().unwrap();
    let labels: Vec<u8> = (0..20).map(|i| (i % 10) as u8).collect();
    std::fs::write(
        dir.path().join("img"),
        idx_images(20, 4, 4, |i| (i % 251) as u8),
    )
    .unwrap();
    std::fs::write(dir.path().join("lab.gz"), gz(&idx_labels(&labels))).unwrap();
    let (set, hashes) = load_idx(&dir.path().join("img"), &dir.path().join("lab.gz")).unwrap();
    assert_eq!(set.len(), 20);
    assert_eq!((set.shape.c, set.shape.h, set.shape.w), (1, 4, 4));
    assert_eq!(set.labels[13], 3);
    assert_eq!(set.image(1)[0], 16);
    assert_eq!(hashes.len(), 2);
}

#[test]
fn corrupt_idx_files_name_the_file_and_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("img");
    let lab = dir.path().join("lab");
    std::fs::write(&lab, idx_labels(&[1, 2, 3])).unwrap();
    // Truncated pixel data.
    let mut bytes = idx_images(3, 4, 4, |_| 7);
    bytes.truncate(bytes.len() - 5);
    std::fs::write(&img, &bytes).unwrap();
    let err = load_idx(&img, &lab).unwrap_err().to_string();
    assert!(
        err.contains("img") && err.contains("truncated") && err.contains("byte offset"),
        "{err}"
    );
    // Wrong magic (a labels file given as images).
    std::fs::write(&img, idx_labels(&[1, 2, 3])).unwrap();
    let err = load_idx(&img, &lab).unwrap_err().to_string();
    assert!(
        err.contains("bad IDX magic") && err.contains("byte 0"),
        "{err}"
    );
    // Corrupt gzip stream.
    let mut z = gz(&idx_images(3, 4, 4, |_| 7));
    let mid = z.len() / 2;
    z[mid] ^= 0xff;
    z[mid + 1] ^= 0xff;
    std::fs::write(&img, &z).unwrap();
    let err = load_idx(&img, &lab).unwrap_err().to_string();
    assert!(err.contains("img"), "{err}");
    // Count mismatch between images and labels.
    std::fs::write(&img, idx_images(4, 4, 4, |_| 7)).unwrap();
    let err = load_idx(&img, &lab).unwrap_err().to_string();
    assert!(err.contains("3 labels for 4 images"), "{err}");
    // A missing file.
    let err = load_idx(&dir.path().join("nope"), &lab)
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn crafted_idx_dimensions_cannot_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("img");
    let lab = dir.path().join("lab");
    std::fs::write(&lab, idx_labels(&[1])).unwrap();
    // Three dimensions of 2^32 - 1: their product overflows 64 bits.
    let mut bytes = vec![0, 0, 8, 3];
    for _ in 0..3 {
        bytes.extend(u32::MAX.to_be_bytes());
    }
    bytes.extend([0u8; 16]);
    std::fs::write(&img, &bytes).unwrap();
    let err = load_idx(&img, &lab).unwrap_err().to_string();
    assert!(err.contains("img") && err.contains("overflow"), "{err}");
}

fn cifar_record(label: u8, fill: u8) -> Vec<u8> {
    let mut r = vec![label];
    r.extend(std::iter::repeat_n(fill, 3072));
    r
}

#[test]
fn cifar_binary_loads_and_reports_truncated_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data_batch_1.bin");
    let mut bytes: Vec<u8> = (0..5).flat_map(|i| cifar_record(i, i * 10)).collect();
    std::fs::write(&path, gz(&bytes)).unwrap();
    let (set, _) = load_cifar(&[&path], 10).unwrap();
    assert_eq!(set.len(), 5);
    assert_eq!(set.labels, vec![0, 1, 2, 3, 4]);
    assert_eq!(set.image(3)[100], 30);
    bytes.truncate(bytes.len() - 10);
    std::fs::write(&path, &bytes).unwrap();
    let err = load_cifar(&[&path], 10).unwrap_err().to_string();
    assert!(
        err.contains("data_batch_1.bin") && err.contains("record 4 at byte offset 12292"),
        "{err}"
    );
    let bytes: Vec<u8> = [cifar_record(1, 0), cifar_record(42, 0)].concat();
    std::fs::write(&path, bytes).unwrap();
    let err = load_cifar(&[&path], 10).unwrap_err().to_string();
    assert!(
        err.contains("record 1 (byte offset 3073): label 42"),
        "{err}"
    );
}

fn write_png(path: &Path, w: u32, h: u32, v: u8) {
    image::RgbImage::from_pixel(w, h, image::Rgb([v, v / 2, 255 - v]))
        .save(path)
        .unwrap();
}

#[test]
fn image_folders_load_by_class_and_refuse_mixed_sizes() {
    let dir = tempfile::tempdir().unwrap();
    for (class, v) in [("cat", 10u8), ("dog", 200u8)] {
        std::fs::create_dir_all(dir.path().join(class)).unwrap();
        for i in 0..3 {
            write_png(&dir.path().join(class).join(format!("{i}.png")), 8, 6, v);
        }
    }
    let (set, classes, _) = load_folder(dir.path(), None).unwrap();
    assert_eq!(classes, vec!["cat", "dog"]);
    assert_eq!(set.len(), 6);
    assert_eq!((set.shape.c, set.shape.h, set.shape.w), (3, 6, 8));
    // Channel-major: the first plane is red.
    assert_eq!(set.image(4)[0], 200);
    assert_eq!(set.image(4)[48], 100);
    write_png(&dir.path().join("dog").join("odd.png"), 9, 6, 1);
    let err = load_folder(dir.path(), None).unwrap_err().to_string();
    assert!(err.contains("odd.png") && err.contains("9×6"), "{err}");
    std::fs::write(dir.path().join("dog").join("odd.png"), b"not a png").unwrap();
    let err = load_folder(dir.path(), None).unwrap_err().to_string();
    assert!(
        err.contains("odd.png") && err.contains("cannot decode"),
        "{err}"
    );
}

#[test]
fn the_bundled_mnist_subset_loads_and_splits_by_class() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist-small");
    let data = load_data(&DataConfig::Idx { dir }).unwrap();
    assert_eq!((data.train.len(), data.test.len()), (10_000, 2_000));
    let (train, valid) = data.train.split(0.1, 7);
    assert_eq!((train.len(), valid.len()), (9_000, 1_000));
    for class in 0..10 {
        assert_eq!(valid.labels.iter().filter(|&&l| l == class).count(), 100);
    }
    assert_eq!(data.train.split(0.1, 7), (train, valid.clone()));
    assert_ne!(data.train.split(0.1, 8).1, valid);
    assert_eq!(data.train.fraction(0.1, 1).len(), 1_000);
}

#[test]
fn batches_are_normalised_augmented_and_reproducible() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist-small");
    let data = load_data(&DataConfig::Idx { dir }).unwrap();
    let set = Arc::new(data.test);
    let norm = Normalize::of(&set);
    let aug = Augment {
        crop_padding: 2,
        flip: true,
        cutout: 8,
    };
    let collect = |seed| {
        BatchLoader::new(
            set.clone(),
            128,
            Some(seed),
            aug.clone(),
            norm.clone(),
            2,
            true,
        )
        .map(|b| (b.images, b.labels))
        .collect::<Vec<_>>()
    };
    let a = collect(1);
    assert_eq!(a.len(), 2_000 / 128);
    assert_eq!(a[0].0.size(), vec![128, 1, 28, 28]);
    let b = collect(1);
    for (x, y) in a.iter().zip(&b) {
        assert!(x.0.equal(&y.0) && x.1.equal(&y.1));
    }
    let c = collect(2);
    assert!(!a[0].0.equal(&c[0].0));
    // Without augmentation, the whole pass has mean ~0 and std ~1.
    let plain: Vec<_> =
        BatchLoader::new(set.clone(), 500, None, Augment::default(), norm, 2, false)
            .map(|b| b.images)
            .collect();
    let all = tch::Tensor::cat(&plain, 0);
    assert_eq!(all.size()[0], 2_000);
    assert!(all.mean(tch::Kind::Float).double_value(&[]).abs() < 1e-3);
    assert!((all.std(true).double_value(&[]) - 1.0).abs() < 1e-3);
}

#[test]
fn a_loader_thread_that_dies_is_an_error_not_a_short_epoch() {
    // Labels for 10 images but pixels for 3: the loader thread fails on the fourth.
    let broken = archer_train::data::ImageSet {
        images: vec![0; 3 * 16],
        labels: vec![0; 10],
        shape: archer_train::ops::Shape::new(1, 4, 4),
        classes: 1,
    };
    let norm = Normalize {
        mean: vec![0.0],
        std: vec![1.0],
    };
    let mut loader = BatchLoader::new(
        Arc::new(broken),
        2,
        None,
        Augment::default(),
        norm,
        1,
        false,
    );
    let delivered = loader.by_ref().count();
    assert!(delivered < 5);
    let err = loader.finish().unwrap_err().to_string();
    assert!(
        err.contains(&format!("after {delivered} of 5 batches")),
        "{err}"
    );
}
