//! IDX files built in code, for tests anywhere in the workspace: no test need read a file it did
//! not make (except those that use the real data set).

use std::io::Write;
use std::path::Path;

use crate::layout::{
    IMAGE_PIXELS, TEST_IMAGES_FILE, TEST_LABELS_FILE, TRAIN_IMAGES_FILE, TRAIN_LABELS_FILE,
};

/// Gzips `raw` (one member).
///
/// # Panics
/// Never: writing to a `Vec` cannot fail.
pub fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(raw).expect("writing to a Vec");
    enc.finish().expect("writing to a Vec")
}

/// A raw IDX image file: `n` images of 28 × 28, pixel `p` of image `i` is `pixel(i, p)`.
///
/// # Panics
/// If `n` does not fit a `u32`.
pub fn idx_images(n: usize, pixel: impl Fn(usize, usize) -> u8) -> Vec<u8> {
    let count = u32::try_from(n).expect("fixture count fits u32");
    let mut raw = [0x0803_u32, count, 28, 28]
        .iter()
        .flat_map(|w| w.to_be_bytes())
        .collect::<Vec<u8>>();
    raw.extend(
        (0..n)
            .flat_map(|i| (0..IMAGE_PIXELS).map(move |p| (i, p)))
            .map(|(i, p)| pixel(i, p)),
    );
    raw
}

/// A raw IDX label file.
///
/// # Panics
/// If there are more than `u32::MAX` labels.
pub fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let count = u32::try_from(labels.len()).expect("fixture count fits u32");
    let mut raw = [0x0801_u32, count]
        .iter()
        .flat_map(|w| w.to_be_bytes())
        .collect::<Vec<u8>>();
    raw.extend_from_slice(labels);
    raw
}

/// The pixel pattern of the full-size fixtures: image `i` starts with `i` as two big-endian
/// bytes, the rest is zero (so a full-size set compresses to a few tens of kB).
pub fn marked(i: usize, p: usize) -> u8 {
    match p {
        0 => (i >> 8) as u8,
        1 => i as u8,
        _ => 0,
    }
}

/// The four gzipped files of a synthetic set: `n_train` and `n_test` [`marked`] images, image
/// `i` labelled `i % 10`. Returned as `(name, bytes)` in [`crate::layout::FILE_NAMES`] order.
pub fn gz_set(n_train: usize, n_test: usize) -> Vec<(&'static str, Vec<u8>)> {
    let labels = |n: usize| (0..n).map(|i| (i % 10) as u8).collect::<Vec<u8>>();
    vec![
        (TRAIN_IMAGES_FILE, gzip(&idx_images(n_train, marked))),
        (TRAIN_LABELS_FILE, gzip(&idx_labels(&labels(n_train)))),
        (TEST_IMAGES_FILE, gzip(&idx_images(n_test, marked))),
        (TEST_LABELS_FILE, gzip(&idx_labels(&labels(n_test)))),
    ]
}

/// Writes [`gz_set`] into `dir`.
///
/// # Panics
/// If a file cannot be written.
pub fn write_set(dir: &Path, n_train: usize, n_test: usize) {
    for (name, bytes) in gz_set(n_train, n_test) {
        std::fs::write(dir.join(name), bytes).expect("writing a fixture");
    }
}
