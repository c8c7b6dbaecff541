//! The reader's unit tests: golden files typed by hand, then every way a file can be wrong.

use std::path::Path;

use crate::IdxError;
use crate::fixtures::{gzip, idx_images, idx_labels, marked};
use crate::layout::{
    DEBIAN_DIR, FILE_NAMES, IMAGE_PIXELS, TEST_LABELS_FILE, find_dir, missing_files,
};
use crate::read::{decode_images, decode_labels, read_images, read_labels};

/// Two 28 × 28 images written out by hand: magic 0x803, count 2, rows 28, cols 28.
const IMAGES_HEADER: [u8; 16] = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28];
/// Three labels: magic 0x801, count 3, then 0, 9, 5.
const LABELS_FILE: [u8; 11] = [0, 0, 8, 1, 0, 0, 0, 3, 0, 9, 5];

fn p() -> &'static Path {
    Path::new("fixture.gz")
}

fn images(raw: &[u8]) -> Result<Vec<u8>, IdxError> {
    decode_images(p(), &gzip(raw))
}

fn labels(raw: &[u8]) -> Result<Vec<u8>, IdxError> {
    decode_labels(p(), &gzip(raw), 10)
}

fn two_images() -> Vec<u8> {
    let mut raw = IMAGES_HEADER.to_vec();
    raw.extend((0..2 * IMAGE_PIXELS).map(|i| (i % 251) as u8));
    raw
}

#[test]
fn golden_files_decode() {
    let raw = two_images();
    assert_eq!(images(&raw).expect("valid"), raw[16..]);
    assert_eq!(labels(&LABELS_FILE).expect("valid"), [0, 9, 5]);
    assert_eq!(
        idx_images(2, |i, p| ((i * IMAGE_PIXELS + p) % 251) as u8),
        raw
    );
    assert_eq!(idx_labels(&[0, 9, 5]), LABELS_FILE);
}

#[test]
fn concatenated_gzip_members_are_one_stream() {
    let raw = two_images();
    let mut gz = gzip(&raw[..100]);
    gz.extend(gzip(&raw[100..]));
    assert_eq!(decode_images(p(), &gz).expect("valid"), raw[16..]);
}

#[test]
fn wrong_magic() {
    let err = images(&LABELS_FILE).expect_err("a label file is not an image file");
    assert!(matches!(
        err,
        IdxError::BadMagic {
            expected: 0x803,
            found: 0x801,
            ..
        }
    ));
    let err = labels(&two_images()).expect_err("an image file is not a label file");
    assert!(matches!(
        err,
        IdxError::BadMagic {
            expected: 0x801,
            found: 0x803,
            ..
        }
    ));
}

#[test]
fn wrong_dimensions() {
    let mut raw = two_images();
    raw[15] = 27;
    let err = images(&raw).expect_err("28 x 27");
    assert!(matches!(
        err,
        IdxError::BadDimensions {
            rows: 28,
            cols: 27,
            ..
        }
    ));
}

#[test]
fn truncated_payload_and_header() {
    let raw = two_images();
    let err = images(&raw[..raw.len() - 1]).expect_err("one pixel short");
    assert!(matches!(
        err,
        IdxError::Truncated {
            expected: 1584,
            found: 1583,
            ..
        }
    ));
    let err = labels(&LABELS_FILE[..5]).expect_err("half a header");
    assert!(matches!(
        err,
        IdxError::Truncated {
            expected: 8,
            found: 5,
            ..
        }
    ));
}

#[test]
fn trailing_garbage() {
    let mut raw = LABELS_FILE.to_vec();
    raw.extend([1, 2, 3]);
    let err = labels(&raw).expect_err("three extra labels");
    assert!(matches!(err, IdxError::TrailingBytes { extra: 3, .. }));

    let mut gz = gzip(&LABELS_FILE);
    gz.extend(b"garbage after the gzip member");
    let err = decode_labels(p(), &gz, 10).expect_err("not gzip after the member");
    assert!(matches!(err, IdxError::Gzip { .. }));
}

#[test]
fn bad_gzip() {
    let err = decode_labels(p(), &LABELS_FILE, 10).expect_err("not gzipped");
    assert!(matches!(err, IdxError::Gzip { .. }));

    // Flip a bit of the CRC-32 in the gzip trailer (the 8 bytes before the last 4).
    let mut gz = gzip(&LABELS_FILE);
    let crc_at = gz.len() - 8;
    gz[crc_at] ^= 1;
    let err = decode_labels(p(), &gz, 10).expect_err("bad CRC");
    assert!(matches!(err, IdxError::Gzip { .. }));
}

#[test]
fn label_out_of_range() {
    let mut raw = LABELS_FILE.to_vec();
    raw[9] = 10;
    let err = labels(&raw).expect_err("label 10");
    assert!(matches!(
        err,
        IdxError::BadLabel {
            index: 1,
            value: 10,
            ..
        }
    ));
}

#[test]
fn hostile_count_is_refused_before_allocating() {
    let mut raw = IMAGES_HEADER.to_vec();
    raw[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
    let err = images(&raw).expect_err("2^32 images");
    assert!(matches!(err, IdxError::TooLarge { .. }));

    // A gzip bomb: a valid header for 1 label followed by 80 MiB of zeros.
    let mut raw = idx_labels(&[3]);
    raw.resize(80 << 20, 0);
    let err = labels(&raw).expect_err("bomb");
    assert!(matches!(err, IdxError::TrailingBytes { .. }));
}

#[test]
fn every_prefix_is_an_error_not_a_panic() {
    let raw = idx_images(1, marked);
    for cut in 0..raw.len() {
        assert!(images(&raw[..cut]).is_err(), "raw prefix {cut}");
    }
    let gz = gzip(&raw);
    for cut in 0..gz.len() {
        let result = decode_images(p(), &gz[..cut]);
        assert!(result.is_err(), "gzip prefix {cut}");
    }
}

#[test]
fn errors_name_the_file() {
    let err = images(&LABELS_FILE).expect_err("bad magic");
    let message = err.to_string();
    assert!(message.contains("fixture.gz"), "{message}");
    assert!(message.contains("0x00000801"), "{message}");
}

#[test]
fn read_files_from_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("x-images.gz");
    std::fs::write(&path, gzip(&two_images())).expect("write");
    assert_eq!(read_images(&path).expect("valid").len(), 2 * IMAGE_PIXELS);
    let err = read_labels(&dir.path().join("absent.gz"), 10).expect_err("absent");
    assert!(matches!(err, IdxError::Io { .. }));
}

#[test]
fn find_dir_takes_the_named_directory_or_the_first_complete_default() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (empty, full) = (tmp.path().join("empty"), tmp.path().join("full"));
    std::fs::create_dir(&empty).expect("mkdir");
    crate::fixtures::write_set(
        &{
            std::fs::create_dir(&full).expect("mkdir");
            full.clone()
        },
        1,
        1,
    );
    // Skipped when the caller's environment names a directory: it would win.
    if std::env::var_os(crate::layout::DIR_ENV_VAR).is_some() {
        return;
    }
    let defaults = [empty.clone(), full.clone()];
    assert_eq!(find_dir(None, &defaults, &FILE_NAMES).expect("found"), full);
    let err = find_dir(Some(&empty), &defaults, &FILE_NAMES).expect_err("named, empty");
    assert!(matches!(&err, IdxError::MissingFiles { missing, .. } if missing.len() == 4));
    assert!(
        err.to_string()
            .contains("apt-get install dataset-fashion-mnist"),
        "{err}"
    );
    let err = find_dir(None, &defaults[..1], &[TEST_LABELS_FILE]).expect_err("nowhere");
    assert!(matches!(err, IdxError::NotFound { .. }));
    assert_eq!(missing_files(&full, &FILE_NAMES), Vec::<String>::new());
}

/// The real test labels, from Debian's `dataset-fashion-mnist` (installed here and in CI).
#[test]
fn real_test_set_from_debian() {
    let dir = Path::new(DEBIAN_DIR);
    if !missing_files(dir, &FILE_NAMES).is_empty() {
        eprintln!("skipped: {DEBIAN_DIR} lacks the files");
        return;
    }
    let labels = read_labels(&dir.join(TEST_LABELS_FILE), 10).expect("real labels");
    assert_eq!(labels.len(), 10_000);
    let mut histogram = [0usize; 10];
    for &l in &labels {
        histogram[usize::from(l)] += 1;
    }
    assert_eq!(histogram, [1_000; 10]);
}

/// A sparse file one byte over the compressed cap (64 MiB plus 8 KiB of room for deflate's
/// stored blocks) is refused from its length, before a byte of it is decompressed.
#[test]
fn finding_5_a_gz_file_over_the_compressed_cap_is_refused_before_reading() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("train-images-idx3-ubyte.gz");
    let cap: u64 = (64 << 20) + (8 << 10);
    assert_eq!(cap, crate::MAX_COMPRESSED_BYTES);
    let file = std::fs::File::create(&path).expect("create");
    file.set_len(cap + 1).expect("sparse");
    let err = read_images(&path).expect_err("over the cap");
    let message = err.to_string();
    assert!(
        message.contains(&format!("{cap} compressed bytes")),
        "{message}"
    );
    assert!(message.contains("train-images-idx3-ubyte.gz"), "{message}");
}
