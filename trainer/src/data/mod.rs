//! The data: where a directory of the Fashion-MNIST layout is ([`locate`], downloading the
//! official files when nothing is found), and its sets in memory ([`FashionMnist`], [`Dataset`]).
//! The IDX files themselves are read by the workspace's `idx` crate.

pub mod dataset;
pub mod download;
pub mod error;
pub mod locate;

pub use dataset::{Dataset, FashionMnist, VALIDATION_IMAGES};
pub use error::DataError;
pub use locate::locate;

#[cfg(test)]
mod tests;
