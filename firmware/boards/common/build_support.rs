//! The build script of every board crate (each `build.rs` includes this file,
//! `firmware/host/budget.rs` and `firmware/host/embed.rs` by path, and calls [`main`] with its board):
//! - puts the board's `memory.x` on the linker's search path (`link.x`, `defmt.x` and flip-link
//!   come from `.cargo/config.toml`);
//! - reads the model named by `FMLP_MODEL` (default: `../models/vanilla-int8.fmlp`, the full
//!   run's int8 vanilla model, which fits every board), checks that it decodes and that it, the
//!   program and the test images fit the board's flash and its buffers and stack its RAM, and
//!   fails the build with the budget message otherwise;
//! - embeds the first `FMLP_IMAGES` (default 100) Fashion-MNIST test images and labels, from
//!   `$FASHION_MNIST_DIR`, else `data/fashion-mnist` at the workspace root, else
//!   `/usr/share/datasets/fashion-mnist`;
//! - writes `$OUT_DIR/embedded.rs`: `IMAGE_COUNT` and `ModelScratch` (`Int8Scratch` for an int8
//!   model, `Scratch` otherwise).

use std::env;
use std::fs;
use std::path::PathBuf;
use std::process;

use idx::layout::{
    CLASS_NAMES, DEBIAN_DIR, DIR_ENV_VAR, DOWNLOAD_DIR, IMAGE_PIXELS, TEST_FILE_NAMES,
    TEST_IMAGES_FILE, TEST_LABELS_FILE,
};
use idx::{find_dir, read_images, read_labels};
use model_format::{AlignedBytes, Model};

use crate::budget::Budget;
use crate::embed::{COUNT_VAR, image_count, write};

const MODEL_VAR: &str = "FMLP_MODEL";
const DEFAULT_MODEL: &str = "../models/vanilla-int8.fmlp";
const DEFAULT_IMAGES: usize = 100;

/// Runs the build script for `budget`'s board; exits with the message on an error.
pub fn main(budget: &Budget) {
    if let Err(message) = run(budget) {
        eprintln!("error: {message}");
        process::exit(1);
    }
}

fn run(budget: &Budget) -> Result<(), String> {
    for var in [MODEL_VAR, COUNT_VAR, DIR_ENV_VAR] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=memory.x");
    let out = PathBuf::from(env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    let manifest =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").ok_or("CARGO_MANIFEST_DIR is not set")?);
    // firmware/boards/<board> → the workspace root.
    let workspace = manifest
        .ancestors()
        .nth(3)
        .ok_or("the board crate is not in firmware/boards/")?
        .to_path_buf();
    fs::copy(manifest.join("memory.x"), out.join("memory.x"))
        .map_err(|e| format!("cannot copy memory.x to {}: {e}", out.display()))?;
    println!("cargo:rustc-link-search={}", out.display());

    let model = match env::var_os(MODEL_VAR) {
        Some(value) => {
            let path = PathBuf::from(value);
            if path.is_absolute() {
                path
            } else {
                workspace.join(path)
            }
        }
        None => manifest.join(DEFAULT_MODEL),
    };
    println!("cargo:rerun-if-changed={}", model.display());
    let bytes = AlignedBytes::read(&model).map_err(|e| {
        format!(
            "cannot read {MODEL_VAR}={} ({e}; a relative path is taken from the workspace root)",
            model.display()
        )
    })?;
    let decoded = Model::from_bytes(&bytes)
        .map_err(|e| format!("{MODEL_VAR}={} is not a valid model: {e}", model.display()))?;
    let count = image_count(DEFAULT_IMAGES)?;
    budget
        .check(
            &decoded,
            bytes.len(),
            count * (IMAGE_PIXELS + 1),
            "test images",
        )
        .map_err(|e| format!("{MODEL_VAR}={}: {e}", model.display()))?;

    let defaults = [workspace.join(DOWNLOAD_DIR), PathBuf::from(DEBIAN_DIR)];
    let dir = find_dir(None, &defaults, &TEST_FILE_NAMES).map_err(|e| e.to_string())?;
    let (images_path, labels_path) = (dir.join(TEST_IMAGES_FILE), dir.join(TEST_LABELS_FILE));
    println!("cargo:rerun-if-changed={}", images_path.display());
    println!("cargo:rerun-if-changed={}", labels_path.display());
    let mut images = read_images(&images_path).map_err(|e| e.to_string())?;
    let mut labels = read_labels(&labels_path, CLASS_NAMES.len()).map_err(|e| e.to_string())?;
    images.truncate(count * IMAGE_PIXELS);
    labels.truncate(count);

    let scratch = if decoded.is_int8() {
        "Int8Scratch"
    } else {
        "Scratch"
    };
    write(&out.join("model.fmlp"), &bytes)?;
    write(&out.join("images.bin"), &images)?;
    write(&out.join("labels.bin"), &labels)?;
    let rust = format!(
        "/// Test images embedded by `build.rs`: the first of the t10k set.\n\
         pub const IMAGE_COUNT: usize = {count};\n\
         /// The scratch the embedded model (`{}`) is classified in.\n\
         pub type ModelScratch = fmlp_board::firmware::{scratch}<{{ fmlp_board::firmware::INPUTS }}>;\n",
        model.display()
    );
    write(&out.join("embedded.rs"), rust.as_bytes())
}
