//! Training-curve figures as PNG: [`figure`] says what each figure shows, [`render`] draws it.

pub mod error;
pub mod figure;
pub mod render;
pub mod series;

pub use error::PlotError;
pub use figure::{
    Metric, plot_accuracy, plot_all_variants, plot_comparison, plot_loss, plot_metric,
};
pub use render::FIGURE_SIZE;

#[cfg(test)]
mod tests;
