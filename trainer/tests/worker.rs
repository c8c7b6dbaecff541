//! The main job through `trainer worker` processes (as `cargo run` runs it) against the same
//! job in threads of this process: the same model bytes, and a worker's error reaches the
//! parent with its message.

use std::path::Path;
use std::process::Command;

use indicatif::{MultiProgress, ProgressDrawTarget};
use trainer::job::{RunError, RunOptions, Settings, run};
use trainer::training::TrainConfig;
use trainer::variant::Variant;

const TRAINER: &str = env!("CARGO_BIN_EXE_trainer");

fn options(out: &Path, worker: bool) -> RunOptions {
    RunOptions {
        specs: vec![Variant::Vanilla.spec(), Variant::BnDropout.spec()],
        settings: Settings {
            config: TrainConfig {
                epochs: 1,
                seed: 7,
                train_limit: Some(600),
                ..TrainConfig::default()
            },
            out: out.to_path_buf(),
            resume: false,
        },
        jobs: 2,
        worker: worker.then(|| TRAINER.into()),
    }
}

fn data_dir() -> std::path::PathBuf {
    trainer::data::locate(None).expect("apt-get install dataset-fashion-mnist")
}

fn hidden() -> MultiProgress {
    MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
}

#[test]
fn worker_processes_give_the_bytes_of_threads() {
    let data = data_dir();
    let dir = tempfile::tempdir().unwrap();
    let (threads, processes) = (dir.path().join("threads"), dir.path().join("processes"));
    let in_threads = run(&options(&threads, false), &data, &hidden()).unwrap();
    let in_processes = run(&options(&processes, true), &data, &hidden()).unwrap();
    for (a, b) in in_threads.iter().zip(&in_processes) {
        assert_eq!(a.history.spec, b.history.spec);
        assert_eq!(a.test, b.test);
        let bytes = |p: &Path| std::fs::read(p).unwrap();
        assert_eq!(
            bytes(&a.model_path),
            bytes(&b.model_path),
            "{}",
            a.history.spec.name
        );
        assert!(b.model_path.starts_with(&processes));
    }
    assert_eq!(in_processes.len(), 2);
}

#[test]
fn a_failing_worker_is_an_error_with_its_message() {
    let data = data_dir();
    let dir = tempfile::tempdir().unwrap();
    // A checkpoint that is not one: the worker refuses to resume from it.
    std::fs::create_dir_all(dir.path().join("vanilla")).unwrap();
    std::fs::write(dir.path().join("vanilla/vanilla.ckpt"), b"garbage").unwrap();
    let mut opts = options(dir.path(), true);
    opts.specs.truncate(1);
    opts.settings.resume = true;
    let err = run(&opts, &data, &hidden()).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            RunError::Worker { ref name, .. } if name == "vanilla"
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
        .args(["worker", "--spec", "{not json", "--settings", "{}"])
        .args(["--data", "/nonexistent"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--spec is not a model spec"), "{stderr}");
    assert!(out.stdout.is_empty());
}
