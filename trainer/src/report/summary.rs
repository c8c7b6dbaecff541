//! The cross-model comparison table: `summary.md` (also printed) and `summary.csv`.

use std::fmt::Write as _;
use std::path::Path;

use crate::report::error::ReportError;
use crate::report::history::{create_dir, write_file};
use crate::training::history::{History, TestScore, median};

/// File name of the markdown table written by [`write_summary`].
pub const SUMMARY_MD: &str = "summary.md";
/// File name of the CSV table written by [`write_summary`].
pub const SUMMARY_CSV: &str = "summary.csv";

/// One variant's line in the comparison table.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SummaryRow {
    /// The model's name (its spec's).
    pub name: String,
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
    /// The reference test accuracy of the model's spec (the notebook's, for the presets).
    pub notebook_test_accuracy: Option<f64>,
    /// Size of the exported model file in bytes.
    pub model_bytes: u64,
    /// The f16 and int8 files quantized from it, if any.
    #[serde(default)]
    pub quantized: Quantized,
}

/// The quantized files of one model: sizes and test accuracies.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Quantized {
    /// Size of `model-f16.fmlp` in bytes.
    pub f16_bytes: Option<u64>,
    /// Its test accuracy.
    pub f16_test_accuracy: Option<f64>,
    /// Size of `model-int8.fmlp` in bytes.
    pub int8_bytes: Option<u64>,
    /// Its test accuracy.
    pub int8_test_accuracy: Option<f64>,
    /// Share of the test images where the int8 file's class is the f32 file's.
    pub int8_agreement: Option<f64>,
}

impl SummaryRow {
    /// Builds a row from a finished run: median epoch time, best and final validation accuracy
    /// from `history`, the reference figure from the history's spec.
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
                name: history.spec.name.clone(),
            })?;
        let best_val_accuracy = history
            .epochs
            .iter()
            .map(|r| r.val_accuracy)
            .filter(|v| v.is_finite())
            .reduce(f64::max)
            .unwrap_or(f64::NAN);
        Ok(Self {
            name: history.spec.name.clone(),
            params_trained,
            params_exported,
            seconds_per_epoch: median(history.epochs.iter().map(|r| r.seconds)),
            best_val_accuracy,
            final_val_accuracy: last.val_accuracy,
            test_loss: test.loss,
            test_accuracy: test.accuracy,
            notebook_test_accuracy: history.spec.reference_test_accuracy,
            model_bytes,
            quantized: Quantized::default(),
        })
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
const MD_COLUMNS: [(&str, bool); 16] = [
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
    ("f16 bytes", true),
    ("f16 test acc", true),
    ("int8 bytes", true),
    ("int8 test acc", true),
    ("int8 = f32 class", true),
];

/// The rows as a GitHub markdown table, padded so it also reads well in a terminal.
///
/// Parameter counts and byte sizes get thousands separators, accuracies and losses four
/// decimals, the notebook's accuracy and the difference to it three (the notebook printed
/// three), seconds two. A missing notebook figure shows as `n/a`.
#[must_use]
pub fn summary_markdown(rows: &[SummaryRow]) -> String {
    let cells: Vec<[String; 16]> = rows
        .iter()
        .map(|r| {
            let usize_cell = |n: usize| thousands(u64::try_from(n).unwrap_or(u64::MAX));
            [
                r.name.replace('|', "\\|"),
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
                opt(r.quantized.f16_bytes, thousands),
                opt(r.quantized.f16_test_accuracy, |a| format!("{a:.4}")),
                opt(r.quantized.int8_bytes, thousands),
                opt(r.quantized.int8_test_accuracy, |a| format!("{a:.4}")),
                opt(r.quantized.int8_agreement, |a| {
                    format!("{:.2} %", 100.0 * a)
                }),
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

/// `n/a` for a missing value, else `f` of it.
fn opt<T>(value: Option<T>, f: impl Fn(T) -> String) -> String {
    value.map_or_else(|| "n/a".to_owned(), f)
}

/// Appends one padded table row; `align` right-aligns the numeric columns.
fn push_md_row(out: &mut String, cells: &[String; 16], widths: &[usize; 16], align: bool) {
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
best_val_accuracy,final_val_accuracy,test_loss,test_accuracy,notebook_test_accuracy,model_bytes,\
f16_bytes,f16_test_accuracy,int8_bytes,int8_test_accuracy,int8_agreement";

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
        let q = &r.quantized;
        let cell = |v: Option<String>| v.unwrap_or_default();
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            csv_field(&r.name),
            r.params_trained,
            r.params_exported,
            r.seconds_per_epoch,
            r.best_val_accuracy,
            r.final_val_accuracy,
            r.test_loss,
            r.test_accuracy,
            notebook,
            r.model_bytes,
            cell(q.f16_bytes.map(|v| v.to_string())),
            cell(q.f16_test_accuracy.map(|v| v.to_string())),
            cell(q.int8_bytes.map(|v| v.to_string())),
            cell(q.int8_test_accuracy.map(|v| v.to_string())),
            cell(q.int8_agreement.map(|v| v.to_string())),
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
