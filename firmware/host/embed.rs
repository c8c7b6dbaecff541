//! What the build scripts that embed a model and test images share (`build.rs` with `board`,
//! and the board crates' `boards/common/build_support.rs`, which include this file by path):
//! the image count from `FMLP_IMAGES`, and writing an output only when it changed. Host code
//! (std), not part of the no_std library.

use std::env;
use std::fs;
use std::path::Path;

use idx::layout::TEST_IMAGES;

/// The variable that sets how many test images are embedded.
pub const COUNT_VAR: &str = "FMLP_IMAGES";

/// The number of test images to embed: `FMLP_IMAGES`, else `default`.
///
/// # Errors
/// `FMLP_IMAGES` is not a number in `1..=10,000`.
pub fn image_count(default: usize) -> Result<usize, String> {
    let Some(value) = env::var_os(COUNT_VAR) else {
        return Ok(default);
    };
    let text = value.to_string_lossy();
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=TEST_IMAGES).contains(&n) => Ok(n),
        _ => Err(format!(
            "{COUNT_VAR}={text} is not a number of test images in 1..={TEST_IMAGES}"
        )),
    }
}

/// Writes `bytes` to `path` unless it already holds them, so the program is not relinked for
/// nothing.
///
/// # Errors
/// The file cannot be written (the message names it).
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
