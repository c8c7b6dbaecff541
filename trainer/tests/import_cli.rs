//! `trainer import` as a user runs it: on bad input, a clear message, exit status 1 and no output
//! file (issue #12's "Bad input").

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const TRAINER: &str = env!("CARGO_BIN_EXE_trainer");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/import")
        .join(name)
}

fn import(source: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(TRAINER)
        .arg("import")
        .arg(source)
        .arg("--out")
        .arg(out)
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("run the trainer")
}

/// Exit status 1, `needle` in the message, nothing written.
fn assert_refused(output: &Output, out: &Path, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(needle),
        "{needle:?} missing from:\n{stderr}"
    );
    assert!(!out.exists(), "{} was written", out.display());
    let dir = out.parent().expect("a directory");
    let left: Vec<_> = std::fs::read_dir(dir).unwrap().collect();
    assert!(left.is_empty(), "left in the output directory: {left:?}");
}

#[test]
fn import_wider_than_the_named_capacity_exits_1_naming_the_layer() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("wine.fmlp");
    let source = fixture("torch_wine.onnx");
    let refused = import(&source, &out, &["--input-scale", "0.02", "--capacity", "8"]);
    assert_refused(
        &refused,
        &out,
        "layer 0 is 13 wide, wider than the capacity 8",
    );
    // The capacity it needs is accepted, and the file is written.
    let fits = import(
        &source,
        &out,
        &["--input-scale", "0.02", "--capacity", "13"],
    );
    assert!(
        fits.status.success(),
        "{}",
        String::from_utf8_lossy(&fits.stderr)
    );
    assert!(out.is_file());
}

#[test]
fn import_of_a_file_that_is_neither_onnx_nor_tflite_exits_1_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("model.fmlp");
    let manifest = fixture("manifest-torch.json");
    let refused = import(&manifest, &out, &[]);
    assert_refused(&refused, &out, "manifest-torch.json");
}
