//! Run reports: per-model history files and the cross-model summary table.

pub mod error;
pub mod history;
pub mod summary;

pub use error::ReportError;
pub use history::{HISTORY_CSV, HISTORY_CSV_HEADER, HISTORY_JSON, read_history, write_history};
pub use summary::{
    Quantized, SummaryRow, print_summary, summary_csv, summary_markdown, thousands, write_summary,
};

#[cfg(test)]
mod tests;
