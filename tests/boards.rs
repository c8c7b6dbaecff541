//! What a board program does with a model it cannot run: one too big for the board fails the
//! build with the budget message (never a linker error), a corrupt one is reported by the
//! device, which then stops with a failure status (never a HardFault).

use std::fs;

use crate::qemu::{M0_INT8, STM32F405, Setup, run_raw, workspace_root};
use trainer::variant::Variant;

/// Builds the board program for `setup` with `name` holding `bytes`, expecting the build to
/// fail; returns the build's error output.
fn build_error(setup: &Setup, name: &str, bytes: &[u8]) -> String {
    let path = write_model(name, bytes);
    match run_raw(setup, &path, 1, &[]) {
        Ok(run) => panic!(
            "{name} built for {} although it should not fit:\n{}",
            setup.machine.name, run.stdout
        ),
        Err(message) => message,
    }
}

fn write_model(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = workspace_root().join("target/qemu/models");
    fs::create_dir_all(&dir).expect("create target/qemu/models");
    let path = dir.join(name);
    if fs::read(&path).ok().as_deref() != Some(bytes) {
        fs::write(&path, bytes).expect("write model");
    }
    path
}

#[test]
fn netduinoplus2_refuses_f32_dropout_at_build_time() {
    let file = &crate::common::trained(Variant::Dropout).file;
    let message = build_error(&STM32F405, "dropout.fmlp", file.as_bytes());
    let len = file.as_bytes().len();
    for expected in [
        "the f32 model `dropout`".to_string(),
        format!("({len} bytes, 784x392,392x98,98x24,24x10)"),
        "does not fit QEMU netduinoplus2 (STM32F405): flash 1024 KiB".to_string(),
        "Storages of this model that fit: f16 (about".to_string(),
        "int8 (about".to_string(),
    ] {
        assert!(
            message.contains(&expected),
            "no {expected:?} in:\n{message}"
        );
    }
    assert!(
        !message.contains("overflowed"),
        "a linker error:\n{message}"
    );
    println!(
        "{}",
        message
            .lines()
            .find(|l| l.contains("does not fit"))
            .unwrap_or("")
    );
}

#[test]
fn microbit_refuses_f32_vanilla_and_names_int8_only() {
    let file = &crate::common::trained(Variant::Vanilla).file;
    let message = build_error(&M0_INT8, "vanilla.fmlp", file.as_bytes());
    assert!(
        message.contains("does not fit QEMU microbit (nRF51822): flash 256 KiB"),
        "{message}"
    );
    // f16 (about 329 KB) is still too big for 256 KiB; int8 (about 169 KB) fits.
    assert!(message.contains("that fit: int8 (about"), "{message}");
    assert!(!message.contains("f16 (about"), "{message}");
}

#[test]
fn microbit_reports_a_corrupt_model_and_stops() {
    let mut bytes = crate::quantized::quantized(Variant::Vanilla, trainer::quantize::Target::Int8)
        .as_bytes()
        .to_vec();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    let path = write_model("vanilla-int8-corrupt.fmlp", &bytes);
    let run = run_raw(&M0_INT8, &path, 1, &[("FMLP_UNCHECKED_MODEL", "1")])
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!run.exited_ok, "a corrupt model ran:\n{}", run.stdout);
    assert!(
        run.stdout
            .starts_with("error model refused: checksum mismatch"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("hardfault"), "{}", run.stdout);
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
}
