//! Loading a directory, Keras's split, and choosing the directory, on fixtures built in code.

use std::path::{Path, PathBuf};

use idx::IdxError;
use idx::fixtures::{gz_set, gzip, idx_images, idx_labels, marked, write_set};
use idx::layout::{
    DEBIAN_DIR, DIR_ENV_VAR, DOWNLOAD_DIR, FILE_NAMES, IMAGE_PIXELS, TEST_IMAGES, TEST_IMAGES_FILE,
    TEST_LABELS_FILE, TRAIN_IMAGES, TRAIN_IMAGES_FILE, TRAIN_LABELS_FILE,
};

use crate::data::dataset::{Dataset, FashionMnist, read_pair};
use crate::data::download::DownloadError;
use crate::data::error::DataError;
use crate::data::locate::{locate_in, search_dirs};

const NUM_CLASSES: usize = 10;

#[test]
fn pair_counts_must_agree_and_match() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (d, im, lb) = (dir.path(), "im.gz", "lb.gz");
    std::fs::write(d.join(im), gzip(&idx_images(3, marked))).expect("write");
    std::fs::write(d.join(lb), gzip(&idx_labels(&[1, 2]))).expect("write");
    let err = read_pair(d, (im, lb), NUM_CLASSES, 3).expect_err("3 images, 2 labels");
    assert!(matches!(
        err,
        DataError::CountMismatch {
            images: 3,
            labels: 2,
            ..
        }
    ));

    std::fs::write(d.join(lb), gzip(&idx_labels(&[1, 2, 3]))).expect("write");
    let err = read_pair(d, (im, lb), NUM_CLASSES, 4).expect_err("3 images, 4 expected");
    assert!(matches!(
        err,
        DataError::UnexpectedCount {
            expected: 4,
            found: 3,
            ..
        }
    ));
    assert_eq!(
        read_pair(d, (im, lb), NUM_CLASSES, 3).expect("valid").len(),
        3
    );
}

#[test]
fn missing_files_say_how_to_get_the_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(TRAIN_LABELS_FILE), b"").expect("write");
    let err = FashionMnist::load_dir(dir.path(), NUM_CLASSES).expect_err("three files missing");
    let DataError::Idx(IdxError::MissingFiles { missing, .. }) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(
        *missing,
        [TRAIN_IMAGES_FILE, TEST_IMAGES_FILE, TEST_LABELS_FILE]
    );
    let message = err.to_string();
    assert!(
        message.contains("apt-get install dataset-fashion-mnist"),
        "{message}"
    );
    assert!(
        message.contains("--data DIR") && message.contains(DIR_ENV_VAR),
        "{message}"
    );
}

/// A full-size synthetic set: load, then Keras's split at image 50,000.
#[test]
fn load_dir_and_split_full_size_fixture() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_set(dir.path(), TRAIN_IMAGES, TEST_IMAGES);
    let data = FashionMnist::load_dir(dir.path(), NUM_CLASSES).expect("valid set");
    assert_eq!((data.train.len(), data.test.len()), (60_000, 10_000));
    assert_eq!(data.source, dir.path());

    let (train, val) = data.split_validation();
    assert_eq!((train.len(), val.len()), (50_000, 10_000));
    assert_eq!(train.images.len(), 50_000 * IMAGE_PIXELS);
    assert_eq!(val.images.len(), 10_000 * IMAGE_PIXELS);
    // Image 50,000 = 0xC350 is the first validation image; its label is 50,000 % 10.
    assert_eq!(val.image(0)[..2], [0xC3, 0x50]);
    assert_eq!(val.labels[0], 0);
    assert_eq!(train.image(49_999)[..2], [0xC3, 0x4F]);
    assert_eq!(val.image(9_999)[..2], [0xEA, 0x5F]); // 59,999
}

#[test]
fn split_never_panics_on_small_or_inconsistent_sets() {
    let mut data = FashionMnist {
        train: Dataset {
            images: vec![0; 3 * IMAGE_PIXELS],
            labels: vec![1, 2, 3],
        },
        test: Dataset::default(),
        source: PathBuf::new(),
    };
    let (train, val) = data.split_validation();
    assert_eq!((train.len(), val.len()), (0, 3));
    data.train.images.truncate(100);
    let (_, val) = data.split_validation();
    assert_eq!(val.images.len(), 100);
}

#[test]
fn search_order() {
    let dirs = search_dirs(Some("/env/dir".into()));
    assert_eq!(
        dirs,
        [
            PathBuf::from("/env/dir"),
            PathBuf::from(DOWNLOAD_DIR),
            PathBuf::from(DEBIAN_DIR)
        ]
    );
    assert_eq!(search_dirs(Some("".into())).len(), 2);
    assert_eq!(search_dirs(None).len(), 2);
}

#[test]
fn load_takes_the_first_complete_directory_without_downloading() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (partial, complete, later) = (
        tmp.path().join("partial"),
        tmp.path().join("complete"),
        tmp.path().join("later"),
    );
    for d in [&partial, &complete, &later] {
        std::fs::create_dir(d).expect("mkdir");
    }
    write_set(&complete, TRAIN_IMAGES, TEST_IMAGES);
    std::fs::write(later.join(TRAIN_IMAGES_FILE), b"not read").expect("write");
    for (name, _) in gz_set(1, 1).into_iter().take(3) {
        std::fs::write(partial.join(name), b"").expect("write");
    }
    let candidates = [partial, complete.clone(), later];
    let dir = locate_in(&candidates, &tmp.path().join("dl"), |_| {
        panic!("no download when a directory is complete")
    })
    .expect("found");
    assert_eq!(dir, complete);
}

#[test]
fn load_downloads_when_nothing_is_found_and_explains_failure() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let candidates = [tmp.path().join("nothing-here")];
    let dl = tmp.path().join("dl");

    let err = locate_in(&candidates, &dl, |_| {
        Err(DownloadError::Download {
            url: "http://127.0.0.1:9/x".into(),
            reason: "refused".into(),
        })
    })
    .expect_err("nothing anywhere");
    let message = err.to_string();
    assert!(message.contains("nothing-here"), "{message}");
    assert!(
        message.contains("apt-get install dataset-fashion-mnist"),
        "{message}"
    );
    let source = std::error::Error::source(&err).map(ToString::to_string);
    assert_eq!(
        source.as_deref(),
        Some("downloading http://127.0.0.1:9/x failed: refused")
    );

    let dir = locate_in(&candidates, &dl, |dir| {
        std::fs::create_dir_all(dir).expect("mkdir");
        write_set(dir, TRAIN_IMAGES, TEST_IMAGES);
        Ok(())
    })
    .expect("finds what was fetched");
    assert_eq!(dir, dl);
    let data = FashionMnist::load_dir(&dir, NUM_CLASSES).expect("loads what was fetched");
    assert_eq!(data.source, dl);
}

/// The real data set, from Debian's `dataset-fashion-mnist` (installed here and in CI).
#[test]
fn real_fashion_mnist_from_debian() {
    let dir = Path::new(DEBIAN_DIR);
    if !idx::missing_files(dir, &FILE_NAMES).is_empty() {
        eprintln!("skipped: {DEBIAN_DIR} lacks the files");
        return;
    }
    let start = std::time::Instant::now();
    let data = FashionMnist::load_dir(dir, NUM_CLASSES).expect("the real data set loads");
    eprintln!("loaded {DEBIAN_DIR} in {:?}", start.elapsed());
    assert_eq!(data.train.len(), 60_000);
    assert_eq!(data.test.len(), 10_000);
    assert_eq!(data.train.images.len(), 60_000 * IMAGE_PIXELS);
    let histogram = |labels: &[u8]| {
        let mut h = [0usize; NUM_CLASSES];
        for &l in labels {
            h[usize::from(l)] += 1;
        }
        h
    };
    assert_eq!(histogram(&data.train.labels), [6_000; NUM_CLASSES]);
    assert_eq!(histogram(&data.test.labels), [1_000; NUM_CLASSES]);
    let (train, val) = data.split_validation();
    assert_eq!((train.len(), val.len()), (50_000, 10_000));
    // The first training image is an ankle boot (label 9).
    assert_eq!(data.train.labels[0], 9);
}
