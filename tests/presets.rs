//! The four presets' model files, byte for byte, from a quick run of the main job, and the
//! example spec through the same job and the firmware.
//!
//! The pinned digests are those of `trainer train --variants vanilla,dropout,bn,bn_dropout
//! --epochs 1 --train-limit 2000` (seed 0, the defaults otherwise) before the trainer was split
//! into folders and its variants became presets of a spec: the redesign changed no result.
//! Everything in the files is deterministic: the weights (seeded streams), the test accuracy,
//! and the provenance note, which holds the trainer's version, batch size, Adam settings and
//! training image count but no date.

use std::path::Path;

use firmware::{Classifier, INPUTS};
use indicatif::{MultiProgress, ProgressDrawTarget};
use model_format::AlignedBytes;
use sha2::{Digest, Sha256};
use trainer::job::{RunOptions, Settings, run};
use trainer::model::MlpSpec;
use trainer::training::TrainConfig;
use trainer::variant::Variant;

/// SHA-256 of `OUT/<variant>/model.fmlp` for the run described above.
const PINNED: [(Variant, &str); 4] = [
    (
        Variant::Vanilla,
        "3b3fbf39110cfa0e0749a73a9a56e40fefaa63a4d4576a6bb0dc98d7e17c0689",
    ),
    (
        Variant::Dropout,
        "af8e5462af6a4649ad7445be433560285e428dca95a28f6fc053934a8066ceac",
    ),
    (
        Variant::Bn,
        "b5c65c5f3e2b144a0cdfc519cc836176754e133921e28236d439de3c5dc6153d",
    ),
    (
        Variant::BnDropout,
        "dd6145f2a93621ef5f891a4c1c3653eaac561bd64371001ebd4e3c932ea027dd",
    ),
];

fn quick_run(specs: Vec<MlpSpec>, out: &Path) -> Vec<trainer::job::ModelRun> {
    let opts = RunOptions {
        specs,
        settings: Settings {
            config: TrainConfig {
                epochs: 1,
                train_limit: Some(2000),
                ..TrainConfig::default()
            },
            out: out.to_path_buf(),
            resume: false,
        },
        jobs: 2,
        worker: None,
    };
    let data_dir = trainer::data::locate(None).expect("apt-get install dataset-fashion-mnist");
    let hidden = MultiProgress::with_draw_target(ProgressDrawTarget::hidden());
    run(&opts, &data_dir, &hidden).expect("the quick run")
}

fn sha256_hex(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("the model file");
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn presets_export_the_pinned_bytes() {
    // The version is part of the provenance note, so a new version changes every digest:
    // re-pin with the command above, after checking nothing else changed.
    assert_eq!(env!("CARGO_PKG_VERSION"), "0.1.0", "re-pin the digests");
    let dir = tempfile::tempdir().unwrap();
    let runs = quick_run(PINNED.iter().map(|(v, _)| v.spec()).collect(), dir.path());
    for ((variant, digest), run) in PINNED.iter().zip(&runs) {
        assert_eq!(run.history.spec.name, variant.name());
        assert_eq!(sha256_hex(&run.model_path), *digest, "{variant}");
    }
}

#[test]
fn the_example_spec_trains_exports_and_runs_on_the_firmware() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../trainer/specs/mlp_128_64.toml");
    let spec = MlpSpec::read(&path).unwrap();
    assert_eq!(spec.widths(), [784, 128, 64, 10]);
    let dir = tempfile::tempdir().unwrap();
    let runs = quick_run(vec![Variant::Vanilla.spec(), spec], dir.path());
    let custom = &runs[1];
    // 784·128 + 128 + 128·64 + 64 + 64·10 + 10, BatchNorm folded into the second layer.
    assert_eq!(custom.row.params_exported, 109_386);
    assert_eq!(custom.row.params_trained, 109_386 + 4 * 128);
    for file in ["accuracy.png", "loss.png", "history.csv"] {
        assert!(dir.path().join("mlp_128_64").join(file).is_file(), "{file}");
    }
    assert!(
        dir.path()
            .join("vanilla_vs_mlp_128_64_accuracy.png")
            .is_file()
    );
    let bytes = AlignedBytes::read(&custom.model_path).unwrap();
    let classifier = Classifier::<INPUTS>::new(&bytes).expect("the firmware takes it");
    assert_eq!(classifier.model().variant(), "mlp_128_64");
    assert!(custom.test.accuracy > 0.5, "{:?}", custom.test);
}
