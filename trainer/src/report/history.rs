//! Per-model history files: `history.csv` (one line per epoch) and `history.json` (reloadable).

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use crate::atomic::write_atomic;
use crate::report::error::ReportError;
use crate::training::history::History;

/// File name of the per-epoch CSV written by [`write_history`].
pub const HISTORY_CSV: &str = "history.csv";
/// File name of the JSON history written by [`write_history`].
pub const HISTORY_JSON: &str = "history.json";
/// Header line of `history.csv`, in the order of [`crate::training::history::EpochRecord`]'s fields.
pub const HISTORY_CSV_HEADER: &str = "epoch,loss,accuracy,val_loss,val_accuracy,seconds";

/// Writes `history` as `dir/history.csv` and `dir/history.json`, creating `dir` if needed.
///
/// Floats are written in Rust's shortest round-trip form. serde_json writes non-finite floats as
/// `null`, which [`read_history`] then rejects: a diverged run's JSON is for reading, not reloading.
///
/// # Errors
/// [`ReportError::Write`] or [`ReportError::Json`] naming the file that failed.
pub fn write_history(history: &History, dir: &Path) -> Result<(), ReportError> {
    create_dir(dir)?;
    let mut csv = String::with_capacity(64 * (history.epochs.len() + 1));
    csv.push_str(HISTORY_CSV_HEADER);
    csv.push('\n');
    for r in &history.epochs {
        // Writing to a String cannot fail.
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{}",
            r.epoch, r.loss, r.accuracy, r.val_loss, r.val_accuracy, r.seconds
        );
    }
    write_file(&dir.join(HISTORY_CSV), csv.as_bytes())?;

    let json_path = dir.join(HISTORY_JSON);
    let mut json = serde_json::to_vec_pretty(history).map_err(|source| ReportError::Json {
        path: json_path.clone(),
        source,
    })?;
    json.push(b'\n');
    write_file(&json_path, &json)
}

/// Reads back `dir/history.json` as written by [`write_history`].
///
/// # Errors
/// [`ReportError::Read`] if the file cannot be read, [`ReportError::Json`] if it does not parse.
pub fn read_history(dir: &Path) -> Result<History, ReportError> {
    let path = dir.join(HISTORY_JSON);
    let bytes = fs::read(&path).map_err(|source| ReportError::Read {
        path: path.clone(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| ReportError::Json { path, source })
}

/// Creates `dir` and its parents.
///
/// # Errors
/// [`ReportError::Write`] naming the directory.
pub fn create_dir(dir: &Path) -> Result<(), ReportError> {
    fs::create_dir_all(dir).map_err(|source| ReportError::Write {
        path: dir.to_owned(),
        source,
    })
}

/// Writes `bytes` to `path` through [`write_atomic`].
///
/// # Errors
/// [`ReportError::Write`] naming the file.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    write_atomic(path, bytes).map_err(|source| ReportError::Write {
        path: path.to_owned(),
        source,
    })
}
