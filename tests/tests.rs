//! Workspace tests, one binary so burn links once: parity, fold, QEMU.

mod common;
mod fold;
mod inspect;
mod parity;
mod qemu;
mod quantized;
