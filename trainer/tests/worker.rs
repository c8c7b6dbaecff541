//! The main job through `trainer worker` processes (as `cargo run` runs it) against the same
//! job in threads of this process: the same model bytes, and a worker's error reaches the
//! parent with its message.

use std::path::Path;
use std::process::Command;

use indicatif::{MultiProgress, ProgressDrawTarget};
use trainer::data::FashionMnist;
use trainer::model::Variant;
use trainer::run::{RunError, RunOptions, run};
use trainer::training::TrainConfig;

const TRAINER: &str = env!("CARGO_BIN_EXE_trainer");

fn options(out: &Path, worker: bool) -> RunOptions {
    RunOptions {
        variants: vec![Variant::Vanilla, Variant::BnDropout],
        config: TrainConfig {
            epochs: 1,
            seed: 7,
            train_limit: Some(600),
            ..TrainConfig::default()
        },
        out: out.to_path_buf(),
        resume: false,
        jobs: 2,
        worker: worker.then(|| TRAINER.into()),
    }
}

fn hidden() -> MultiProgress {
    MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
}

#[test]
fn worker_processes_give_the_bytes_of_threads() {
    let data = FashionMnist::load(None).expect("apt-get install dataset-fashion-mnist");
    let dir = tempfile::tempdir().unwrap();
    let (threads, processes) = (dir.path().join("threads"), dir.path().join("processes"));
    let in_threads = run(&options(&threads, false), &data, &hidden()).unwrap();
    let in_processes = run(&options(&processes, true), &data, &hidden()).unwrap();
    for (a, b) in in_threads.iter().zip(&in_processes) {
        assert_eq!(a.history.variant, b.history.variant);
        assert_eq!(a.test, b.test);
        let bytes = |p: &Path| std::fs::read(p).unwrap();
        assert_eq!(
            bytes(&a.model_path),
            bytes(&b.model_path),
            "{}",
            a.history.variant
        );
        assert!(b.model_path.starts_with(&processes));
    }
    assert_eq!(in_processes.len(), 2);
}

#[test]
fn a_failing_worker_is_an_error_with_its_message() {
    let data = FashionMnist::load(None).expect("apt-get install dataset-fashion-mnist");
    let dir = tempfile::tempdir().unwrap();
    // A checkpoint that is not one: the worker refuses to resume from it.
    std::fs::create_dir_all(dir.path().join("vanilla")).unwrap();
    std::fs::write(dir.path().join("vanilla/vanilla.ckpt"), b"garbage").unwrap();
    let opts = RunOptions {
        variants: vec![Variant::Vanilla],
        resume: true,
        ..options(dir.path(), true)
    };
    let err = run(&opts, &data, &hidden()).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            RunError::Worker {
                variant: Variant::Vanilla,
                ..
            }
        ),
        "{text}"
    );
    assert!(
        text.contains("vanilla.ckpt") && text.contains("unreadable"),
        "{text}"
    );
}

#[test]
fn the_worker_command_refuses_a_bad_configuration() {
    let out = Command::new(TRAINER)
        .args([
            "worker",
            "--variant",
            "bn",
            "--config",
            "{not json",
            "--out",
            "x",
        ])
        .args(["--data", "/nonexistent"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--config is not a training configuration"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}
