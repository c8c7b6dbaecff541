//! Run reports: per-variant history files, the cross-variant summary table, and the atomic
//! file write every writer in this crate goes through.
//!
//! Nothing here leaves a half-written file under its final name: [`write_atomic`] writes a
//! hidden sibling, fsyncs it and renames it over the target.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::history::{History, TestScore};

/// File name of the per-epoch CSV written by [`write_history`].
pub const HISTORY_CSV: &str = "history.csv";
/// File name of the JSON history written by [`write_history`].
pub const HISTORY_JSON: &str = "history.json";
/// File name of the markdown table written by [`write_summary`].
pub const SUMMARY_MD: &str = "summary.md";
/// File name of the CSV table written by [`write_summary`].
pub const SUMMARY_CSV: &str = "summary.csv";

/// Header line of `history.csv`, in the order of [`crate::history::EpochRecord`]'s fields.
pub const HISTORY_CSV_HEADER: &str = "epoch,loss,accuracy,val_loss,val_accuracy,seconds";

/// Why a report could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// Creating, writing or renaming a file failed.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file or directory being written.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// Reading a file failed.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file being read.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// A file's JSON could not be produced or parsed.
    #[error("invalid JSON in {}", path.display())]
    Json {
        /// The file being written or read.
        path: PathBuf,
        /// The underlying serde_json error.
        #[source]
        source: serde_json::Error,
    },
    /// A history has no epochs, so it has nothing to summarise.
    #[error("history of variant `{variant}` has no epochs")]
    EmptyHistory {
        /// The variant's name.
        variant: String,
    },
}

/// The seed notebook's published test accuracy for `variant` (`vanilla`, `dropout`, `bn`,
/// `bn_dropout`), as printed with three decimals; `None` for any other name.
#[must_use]
pub fn notebook_test_accuracy(variant: &str) -> Option<f64> {
    match variant {
        "vanilla" => Some(0.881),
        "dropout" => Some(0.853),
        "bn" => Some(0.867),
        "bn_dropout" => Some(0.768),
        _ => None,
    }
}

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

/// One variant's line in the comparison table.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SummaryRow {
    /// Variant name (`vanilla`, `dropout`, `bn`, `bn_dropout`).
    pub variant: String,
    /// Trainable parameters of the burn model (BatchNorm's gamma and beta included).
    pub params_trained: usize,
    /// Parameters in the exported model file, after BatchNorm folding.
    pub params_exported: usize,
    /// Median wall-clock seconds per epoch.
    pub seconds_per_epoch: f64,
    /// Highest validation accuracy over all epochs.
    pub best_val_accuracy: f64,
    /// Validation accuracy after the last epoch.
    pub final_val_accuracy: f64,
    /// Test-set loss of the final model.
    pub test_loss: f64,
    /// Test-set accuracy of the final model.
    pub test_accuracy: f64,
    /// The notebook's published test accuracy for this variant, if it has one.
    pub notebook_test_accuracy: Option<f64>,
    /// Size of the exported model file in bytes.
    pub model_bytes: u64,
}

impl SummaryRow {
    /// Builds a row from a finished run: median epoch time, best and final validation accuracy
    /// from `history`, the notebook's figure from [`notebook_test_accuracy`].
    ///
    /// Non-finite epoch values are ignored for the median and the best; if none is finite the
    /// field is NaN.
    ///
    /// # Errors
    /// [`ReportError::EmptyHistory`] if `history` has no epochs.
    pub fn from_run(
        history: &History,
        test: &TestScore,
        params_trained: usize,
        params_exported: usize,
        model_bytes: u64,
    ) -> Result<Self, ReportError> {
        let last = history
            .epochs
            .last()
            .ok_or_else(|| ReportError::EmptyHistory {
                variant: history.variant.clone(),
            })?;
        let best_val_accuracy = history
            .epochs
            .iter()
            .map(|r| r.val_accuracy)
            .filter(|v| v.is_finite())
            .reduce(f64::max)
            .unwrap_or(f64::NAN);
        Ok(Self {
            variant: history.variant.clone(),
            params_trained,
            params_exported,
            seconds_per_epoch: median(history.epochs.iter().map(|r| r.seconds)),
            best_val_accuracy,
            final_val_accuracy: last.val_accuracy,
            test_loss: test.loss,
            test_accuracy: test.accuracy,
            notebook_test_accuracy: notebook_test_accuracy(&history.variant),
            model_bytes,
        })
    }
}

/// Median of the finite values, NaN if there are none.
fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// `n` with a comma every three digits: `164013` → `"164,013"`.
#[must_use]
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Column headers of [`summary_markdown`]; `true` marks a right-aligned (numeric) column.
const MD_COLUMNS: [(&str, bool); 11] = [
    ("variant", false),
    ("params trained", true),
    ("params exported", true),
    ("s/epoch (median)", true),
    ("best val acc", true),
    ("final val acc", true),
    ("test loss", true),
    ("test acc", true),
    ("notebook test acc", true),
    ("Δ vs notebook", true),
    ("model bytes", true),
];

/// The rows as a GitHub markdown table, padded so it also reads well in a terminal.
///
/// Parameter counts and byte sizes get thousands separators, accuracies and losses four
/// decimals, the notebook's accuracy and the difference to it three (the notebook printed
/// three), seconds two. A missing notebook figure shows as `n/a`.
#[must_use]
pub fn summary_markdown(rows: &[SummaryRow]) -> String {
    let cells: Vec<[String; 11]> = rows
        .iter()
        .map(|r| {
            let usize_cell = |n: usize| thousands(u64::try_from(n).unwrap_or(u64::MAX));
            [
                r.variant.replace('|', "\\|"),
                usize_cell(r.params_trained),
                usize_cell(r.params_exported),
                format!("{:.2}", r.seconds_per_epoch),
                format!("{:.4}", r.best_val_accuracy),
                format!("{:.4}", r.final_val_accuracy),
                format!("{:.4}", r.test_loss),
                format!("{:.4}", r.test_accuracy),
                r.notebook_test_accuracy
                    .map_or_else(|| "n/a".to_owned(), |a| format!("{a:.3}")),
                r.notebook_test_accuracy.map_or_else(
                    || "n/a".to_owned(),
                    |a| format!("{:+.3}", r.test_accuracy - a),
                ),
                thousands(r.model_bytes),
            ]
        })
        .collect();

    let mut widths = MD_COLUMNS.map(|(name, _)| name.chars().count());
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }

    let mut out = String::new();
    push_md_row(
        &mut out,
        &MD_COLUMNS.map(|(name, _)| name.to_owned()),
        &widths,
        false,
    );
    out.push('|');
    for ((_, right), w) in MD_COLUMNS.iter().zip(widths) {
        let dashes = "-".repeat(w + 1);
        out.push_str(&if *right {
            format!("{dashes}:|")
        } else {
            format!(":{dashes}|")
        });
    }
    out.push('\n');
    for row in &cells {
        push_md_row(&mut out, row, &widths, true);
    }
    out
}

/// Appends one padded table row; `align` right-aligns the numeric columns.
fn push_md_row(out: &mut String, cells: &[String; 11], widths: &[usize; 11], align: bool) {
    out.push('|');
    for ((cell, w), (_, right)) in cells.iter().zip(widths).zip(MD_COLUMNS) {
        // Writing to a String cannot fail.
        let _ = if align && right {
            write!(out, " {cell:>w$} |")
        } else {
            write!(out, " {cell:<w$} |")
        };
    }
    out.push('\n');
}

/// Header line of [`summary_csv`], the [`SummaryRow`] field names in order.
pub const SUMMARY_CSV_HEADER: &str = "variant,params_trained,params_exported,seconds_per_epoch,\
best_val_accuracy,final_val_accuracy,test_loss,test_accuracy,notebook_test_accuracy,model_bytes";

/// The rows as CSV: plain integers, floats in shortest round-trip form, an empty
/// `notebook_test_accuracy` when there is none, variant names quoted when they need it.
#[must_use]
pub fn summary_csv(rows: &[SummaryRow]) -> String {
    let mut out = String::from(SUMMARY_CSV_HEADER);
    out.push('\n');
    for r in rows {
        let notebook = r
            .notebook_test_accuracy
            .map(|a| a.to_string())
            .unwrap_or_default();
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{}",
            csv_field(&r.variant),
            r.params_trained,
            r.params_exported,
            r.seconds_per_epoch,
            r.best_val_accuracy,
            r.final_val_accuracy,
            r.test_loss,
            r.test_accuracy,
            notebook,
            r.model_bytes
        );
    }
    out
}

/// Quotes a CSV field (RFC 4180) if it holds a comma, quote or line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// Writes `out_dir/summary.md` and `out_dir/summary.csv`, creating `out_dir` if needed.
///
/// # Errors
/// [`ReportError::Write`] naming the file or directory that failed.
pub fn write_summary(rows: &[SummaryRow], out_dir: &Path) -> Result<(), ReportError> {
    create_dir(out_dir)?;
    write_file(&out_dir.join(SUMMARY_MD), summary_markdown(rows).as_bytes())?;
    write_file(&out_dir.join(SUMMARY_CSV), summary_csv(rows).as_bytes())
}

/// Prints [`summary_markdown`] to stdout.
pub fn print_summary(rows: &[SummaryRow]) {
    print!("{}", summary_markdown(rows));
}

fn create_dir(dir: &Path) -> Result<(), ReportError> {
    fs::create_dir_all(dir).map_err(|source| ReportError::Write {
        path: dir.to_owned(),
        source,
    })
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    write_atomic(path, bytes).map_err(|source| ReportError::Write {
        path: path.to_owned(),
        source,
    })
}

/// Replaces `path` with `bytes` atomically: readers see the old file or the whole new one, never
/// a part. The parent directory must exist.
///
/// # Errors
/// Any I/O error from writing, syncing or renaming; the temporary file is removed on failure.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |tmp| File::create_new(tmp)?.write_all(bytes))
}

/// Like [`write_atomic`] for writers that want a path rather than bytes (an image encoder, say).
///
/// `write` must create and fill the file at the path it is given: a hidden, unique sibling of
/// `path` with the same extension, so writers that pick a format by extension still work. That
/// file is then fsynced and renamed over `path`, and on Unix the directory is fsynced.
///
/// # Errors
/// The error of `write`, or of syncing or renaming; the temporary file is removed on failure.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&Path) -> io::Result<()>,
) -> io::Result<()> {
    let tmp = temp_sibling(path)?;
    let result = write(&tmp)
        .and_then(|()| OpenOptions::new().write(true).open(&tmp)?.sync_all())
        .and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        // Best effort: the write may have failed before creating the file.
        let _ = fs::remove_file(&tmp);
    }
    result?;
    #[cfg(unix)]
    {
        // Makes the rename itself durable. The new file is already in place, so a failure here
        // is not reported as a failed write.
        if let Ok(dir) = File::open(parent_dir(path)) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// `dir/.name.tmp-<pid>-<n>.ext` for `dir/name.ext`, unique within and across processes.
fn temp_sibling(path: &Path) -> io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let stem = path.file_stem().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a file path", path.display()),
        )
    })?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut name = OsString::from(".");
    name.push(stem);
    name.push(format!(".tmp-{}-{n}", std::process::id()));
    if let Some(ext) = path.extension() {
        name.push(".");
        name.push(ext);
    }
    Ok(parent_dir(path).join(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::EpochRecord;

    fn row(variant: &str, notebook: Option<f64>) -> SummaryRow {
        SummaryRow {
            variant: variant.to_owned(),
            params_trained: 0,
            params_exported: 0,
            seconds_per_epoch: 0.0,
            best_val_accuracy: 0.0,
            final_val_accuracy: 0.0,
            test_loss: 0.0,
            test_accuracy: 0.0,
            notebook_test_accuracy: notebook,
            model_bytes: 0,
        }
    }

    /// Hand-made rows: one ordinary, one with BatchNorm parameters folded away, one variant the
    /// notebook does not have.
    fn rows() -> Vec<SummaryRow> {
        vec![
            SummaryRow {
                params_trained: 164_013,
                params_exported: 164_013,
                seconds_per_epoch: 4.2567,
                best_val_accuracy: 0.8906,
                final_val_accuracy: 0.885,
                test_loss: 0.41264,
                test_accuracy: 0.8823,
                model_bytes: 656_180,
                ..row("vanilla", Some(0.881))
            },
            SummaryRow {
                params_trained: 165_293,
                params_exported: 164_013,
                seconds_per_epoch: 12.5,
                best_val_accuracy: 0.782,
                final_val_accuracy: 0.7717,
                test_loss: 0.646,
                test_accuracy: 0.7601,
                model_bytes: 656_180,
                ..row("bn_dropout", Some(0.768))
            },
            SummaryRow {
                params_trained: 999,
                params_exported: 1_000,
                seconds_per_epoch: 0.5,
                best_val_accuracy: 0.5,
                final_val_accuracy: 0.25,
                test_loss: 1.0,
                test_accuracy: 0.125,
                model_bytes: 1_234_567,
                ..row("tiny,v2", None)
            },
        ]
    }

    // Typed by hand from the rows above: widths are the longer of header and widest cell.
    const GOLDEN_MD: &str = "\
| variant    | params trained | params exported | s/epoch (median) | best val acc | final val acc | test loss | test acc | notebook test acc | Δ vs notebook | model bytes |
|:-----------|---------------:|----------------:|-----------------:|-------------:|--------------:|----------:|---------:|------------------:|--------------:|------------:|
| vanilla    |        164,013 |         164,013 |             4.26 |       0.8906 |        0.8850 |    0.4126 |   0.8823 |             0.881 |        +0.001 |     656,180 |
| bn_dropout |        165,293 |         164,013 |            12.50 |       0.7820 |        0.7717 |    0.6460 |   0.7601 |             0.768 |        -0.008 |     656,180 |
| tiny,v2    |            999 |           1,000 |             0.50 |       0.5000 |        0.2500 |    1.0000 |   0.1250 |               n/a |           n/a |   1,234,567 |
";

    const GOLDEN_CSV: &str = "\
variant,params_trained,params_exported,seconds_per_epoch,best_val_accuracy,final_val_accuracy,test_loss,test_accuracy,notebook_test_accuracy,model_bytes
vanilla,164013,164013,4.2567,0.8906,0.885,0.41264,0.8823,0.881,656180
bn_dropout,165293,164013,12.5,0.782,0.7717,0.646,0.7601,0.768,656180
\"tiny,v2\",999,1000,0.5,0.5,0.25,1,0.125,,1234567
";

    #[test]
    fn summary_markdown_matches_golden() {
        assert_eq!(summary_markdown(&rows()), GOLDEN_MD);
    }

    #[test]
    fn summary_csv_matches_golden() {
        assert_eq!(summary_csv(&rows()), GOLDEN_CSV);
    }

    #[test]
    fn empty_summary_is_just_the_header() {
        assert_eq!(summary_markdown(&[]).lines().count(), 2);
        assert_eq!(summary_csv(&[]), format!("{SUMMARY_CSV_HEADER}\n"));
    }

    #[test]
    fn thousands_separators() {
        for (n, s) in [
            (0, "0"),
            (999, "999"),
            (1_000, "1,000"),
            (164_013, "164,013"),
        ] {
            assert_eq!(thousands(n), s);
        }
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn notebook_figures() {
        assert_eq!(notebook_test_accuracy("vanilla"), Some(0.881));
        assert_eq!(notebook_test_accuracy("dropout"), Some(0.853));
        assert_eq!(notebook_test_accuracy("bn"), Some(0.867));
        assert_eq!(notebook_test_accuracy("bn_dropout"), Some(0.768));
        assert_eq!(notebook_test_accuracy("Vanilla"), None);
    }

    fn history() -> History {
        // Epochs 1-3 of the notebook's vanilla run, with made-up seconds.
        let rec = |epoch, loss, accuracy, val_loss, val_accuracy, seconds| EpochRecord {
            epoch,
            loss,
            accuracy,
            val_loss,
            val_accuracy,
            seconds,
        };
        History {
            variant: "vanilla".to_owned(),
            epochs: vec![
                rec(1, 0.3341, 0.8766, 0.3904, 0.8631, 19.0),
                rec(2, 0.3157, 0.8837, 0.3603, 0.8742, 18.5),
                rec(3, 0.2959, 0.8904, 0.35, 0.8781, 30.25),
            ],
        }
    }

    #[test]
    fn summary_row_from_run() {
        let test = TestScore {
            loss: 0.4,
            accuracy: 0.88,
        };
        let r = SummaryRow::from_run(&history(), &test, 10, 9, 100).unwrap();
        assert_eq!(r.seconds_per_epoch, 19.0);
        assert_eq!(r.best_val_accuracy, 0.8781);
        assert_eq!(r.final_val_accuracy, 0.8781);
        assert_eq!(r.notebook_test_accuracy, Some(0.881));
        assert_eq!((r.test_loss, r.test_accuracy), (0.4, 0.88));

        let empty = History {
            variant: "bn".to_owned(),
            epochs: vec![],
        };
        let err = SummaryRow::from_run(&empty, &test, 0, 0, 0).unwrap_err();
        assert!(matches!(err, ReportError::EmptyHistory { .. }), "{err}");
    }

    #[test]
    fn median_ignores_nan_and_averages_even_counts() {
        assert_eq!(median([3.0, f64::NAN, 1.0, 2.0].into_iter()), 2.0);
        assert_eq!(median([4.0, 1.0, 2.0, 3.0].into_iter()), 2.5);
        assert!(median([f64::NAN].into_iter()).is_nan());
    }

    #[test]
    fn history_round_trips_through_json_and_csv_is_exact() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("runs/vanilla");
        write_history(&history(), &out).unwrap();
        assert_eq!(read_history(&out).unwrap(), history());

        let csv = fs::read_to_string(out.join(HISTORY_CSV)).unwrap();
        let expected = "epoch,loss,accuracy,val_loss,val_accuracy,seconds\n\
                        1,0.3341,0.8766,0.3904,0.8631,19\n\
                        2,0.3157,0.8837,0.3603,0.8742,18.5\n\
                        3,0.2959,0.8904,0.35,0.8781,30.25\n";
        assert_eq!(csv, expected);
        let mut names: Vec<_> = fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, [HISTORY_CSV, HISTORY_JSON]);
    }

    #[test]
    fn write_summary_writes_both_files() {
        let dir = tempfile::tempdir().unwrap();
        write_summary(&rows(), dir.path()).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join(SUMMARY_MD)).unwrap(),
            GOLDEN_MD
        );
        assert_eq!(
            fs::read_to_string(dir.path().join(SUMMARY_CSV)).unwrap(),
            GOLDEN_CSV
        );
    }

    #[test]
    fn read_history_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_history(dir.path()).unwrap_err();
        assert!(err.to_string().contains(HISTORY_JSON), "{err}");
        fs::write(dir.path().join(HISTORY_JSON), b"{").unwrap();
        let err = read_history(dir.path()).unwrap_err();
        assert!(matches!(err, ReportError::Json { .. }), "{err}");
    }

    #[test]
    fn write_atomic_replaces_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn failed_write_keeps_old_file_and_removes_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.png");
        write_atomic(&path, b"old").unwrap();
        let err = write_atomic_with(&path, |tmp| {
            assert_eq!(tmp.parent(), Some(dir.path()));
            assert_eq!(tmp.extension().unwrap(), "png");
            fs::write(tmp, b"half")?;
            Err(io::Error::other("encoder failed"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "encoder failed");
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn write_atomic_rejects_bad_targets() {
        let dir = tempfile::tempdir().unwrap();
        assert!(write_atomic(&dir.path().join("missing/a.txt"), b"x").is_err());
        assert_eq!(
            write_atomic(Path::new("/"), b"x").unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
