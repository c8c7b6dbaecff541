//! Building the QEMU board program (`src/bin/qemu.rs`) for a model, shared by the `m4`
//! benchmark and the workspace's QEMU tests (`tests/qemu.rs`, which includes this file by path).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target the board program is built for.
pub const TARGET: &str = "thumbv7em-none-eabihf";

/// Builds the board program with `model` and the first `images` Fashion-MNIST test images
/// embedded, with a nested `cargo build --release` into `target_dir`, and returns the ELF.
/// With `data_dir`, the build script reads the images there (`$FASHION_MNIST_DIR`); otherwise
/// it searches its defaults.
///
/// # Errors
/// Cargo cannot start, or the build fails (with cargo's error output).
pub fn build(
    workspace: &Path,
    target_dir: &Path,
    model: &Path,
    images: usize,
    data_dir: Option<&Path>,
) -> Result<PathBuf, String> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args([
            "build",
            "--release",
            "-p",
            "firmware",
            "--features",
            "board",
        ])
        .args(["--target", TARGET, "--bin", "qemu"])
        .env("CARGO_TARGET_DIR", target_dir)
        .env("FMLP_MODEL", model)
        .env("FMLP_IMAGES", images.to_string())
        // Host flags (e.g. `-C target-cpu=native`) must not reach the Cortex-M build.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    if let Some(dir) = data_dir {
        command.env("FASHION_MNIST_DIR", dir);
    }
    let build = command
        .output()
        .map_err(|e| format!("cannot start cargo: {e}"))?;
    if !build.status.success() {
        return Err(format!(
            "building the board program for {} failed ({}; is `rustup target add {TARGET}` \
             done?):\n{}",
            model.display(),
            build.status,
            String::from_utf8_lossy(&build.stderr)
        ));
    }
    Ok(target_dir.join(TARGET).join("release/qemu"))
}
