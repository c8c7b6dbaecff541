//! Workspace tests, one binary so burn links once: parity, fold, presets' bytes, QEMU.

mod boards;
mod common;
mod fold;
mod import;
mod import_parity;
mod import_tflite;
mod inspect;
mod model_findings;
mod parity;
mod presets;
mod qemu;
mod quantized;
mod vector;
