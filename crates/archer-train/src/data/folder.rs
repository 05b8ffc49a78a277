//! Image folders: one sub-folder per class (sorted by name), PNG or JPEG images inside, all
//! of one size. Images are decoded with the `image` crate and stored as RGB.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::data::ImageSet;
use crate::ops::Shape;
use crate::TrainError;

fn list(dir: &Path) -> Result<Vec<PathBuf>, TrainError> {
    let mut out = std::fs::read_dir(dir)
        .and_then(|entries| {
            entries
                .map(|e| e.map(|e| e.path()))
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| TrainError::io(dir, e))?;
    out.sort();
    Ok(out)
}

fn is_image(p: &Path) -> bool {
    matches!(
        p.extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref(),
        Some("png" | "jpg" | "jpeg")
    )
}

/// Loads `root/<class>/<image>`; `classes` fixes the class names (and their order) when
/// given, e.g. to load a test folder with the train folder's classes. Returns the set, the
/// class names and one SHA-256 over every file's name and bytes.
pub fn load_folder(
    root: &Path,
    classes: Option<&[String]>,
) -> Result<(ImageSet, Vec<String>, String), TrainError> {
    let found: Vec<PathBuf> = list(root)?.into_iter().filter(|p| p.is_dir()).collect();
    let names: Vec<String> = match classes {
        Some(c) => c.to_vec(),
        None => found
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect(),
    };
    if names.is_empty() {
        return Err(TrainError::data(root, "no class sub-folders"));
    }
    let mut hasher = Sha256::new();
    let mut set = ImageSet {
        images: Vec::new(),
        labels: Vec::new(),
        shape: Shape::new(3, 0, 0),
        classes: names.len(),
    };
    for (label, name) in names.iter().enumerate() {
        let dir = root.join(name);
        if !dir.is_dir() {
            return Err(TrainError::data(&dir, "class folder missing"));
        }
        for file in list(&dir)?.into_iter().filter(|p| is_image(p)) {
            let bytes = std::fs::read(&file).map_err(|e| TrainError::io(&file, e))?;
            hasher.update(
                file.strip_prefix(root)
                    .unwrap_or(&file)
                    .to_string_lossy()
                    .as_bytes(),
            );
            hasher.update(&bytes);
            let img = image::load_from_memory(&bytes)
                .map_err(|e| TrainError::data(&file, format!("cannot decode image: {e}")))?
                .to_rgb8();
            let (w, h) = (img.width() as i64, img.height() as i64);
            if set.is_empty() {
                set.shape = Shape::new(3, h, w);
            } else if (h, w) != (set.shape.h, set.shape.w) {
                return Err(TrainError::data(
                    &file,
                    format!("image is {w}×{h}, the folder's first image is {}×{}; resize the folder's images to one size", set.shape.w, set.shape.h),
                ));
            }
            // HWC → CHW.
            let raw = img.into_raw();
            let plane = (h * w) as usize;
            let start = set.images.len();
            set.images.resize(start + 3 * plane, 0);
            for (px, rgb) in raw.chunks_exact(3).enumerate() {
                for (ch, &v) in rgb.iter().enumerate() {
                    set.images[start + ch * plane + px] = v;
                }
            }
            set.labels.push(label as u32);
        }
    }
    if set.is_empty() {
        return Err(TrainError::data(
            root,
            "no PNG or JPEG images in the class folders",
        ));
    }
    Ok((set, names, format!("{:x}", hasher.finalize())))
}
