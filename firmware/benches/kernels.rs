//! Instructions per multiply-accumulate of the dense kernels on the Cortex-M4F (QEMU
//! `mps2-an386`: int8, f16, f32) and the Cortex-M0 (QEMU `microbit`: int8), with the device's
//! output checksums compared against the same layers computed on this host.
//!
//! ```text
//! cargo bench -p firmware --bench kernels
//! ```
//!
//! Builds the `kernels` program (`src/bin/kernels.rs`, feature `kernel-bench`) for
//! `thumbv7em-none-eabihf` and `thumbv6m-none-eabi` into `target/kernel-bench`, runs each under
//! `qemu-system-arm -icount shift=0` (1 ns of virtual time per instruction), and converts the
//! SysTick ticks around each kernel call (one call per layer, minus the ticks of an empty
//! call) into instructions: under one tick of reading error, 40 instructions on the M4
//! (25 MHz), 62.5 on the M0 (16 MHz; the program's `calib` line times a loop of known length
//! to confirm the rate). The layers are the vanilla model's three (784→196, 196→49, 49→10),
//! seeded (`host/kernel_data.rs`): counts do not depend on the values. Exits non-zero when a
//! checksum or an on-device check differs.
//!
//! Needs `qemu-system-arm` and `rustup target add thumbv7em-none-eabihf thumbv6m-none-eabi`.

mod board;
mod kernel_run;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use kernel_run::{ICOUNT_SHIFT, MACHINES};

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<bool, String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("firmware/ has no parent")?
        .to_path_buf();
    let target_dir = workspace.join("target/kernel-bench");
    let mut ok = true;
    println!(
        "Dense kernels under QEMU -icount shift={ICOUNT_SHIFT}, one call per layer (seeded \
         vanilla-shaped layers; `total` is the vanilla model's dense layers)"
    );
    println!(
        "{:<11} {:<6} {:>8} {:>8} {:>12} {:>10}  {:<8} {:<8}",
        "cpu", "kernel", "layer", "MACs", "instructions", "instr/MAC", "device", "host"
    );
    for machine in &MACHINES {
        let report = kernel_run::run(&workspace, &target_dir, machine)?;
        let cpu = &report.cpu;
        for c in &report.checks {
            println!(
                "{cpu:<11} check {} on the device: {} cases, {} mismatches",
                c.what, c.cases, c.mismatches
            );
        }
        let mut totals: BTreeMap<&str, (u64, f64)> = BTreeMap::new();
        for t in &report.timings {
            let total = totals.entry(&t.kernel).or_default();
            total.0 += t.macs;
            total.1 += t.instructions;
            println!(
                "{cpu:<11} {:<6} {:>8} {:>8} {:>12.0} {:>10.3}  {:<8} {}{}",
                t.kernel,
                t.shape,
                t.macs,
                t.instructions,
                t.instructions / t.macs as f64,
                t.device,
                t.host.as_deref().unwrap_or("?"),
                if t.same() { "" } else { "  MISMATCH" }
            );
        }
        for (kernel, (macs, instructions)) in &totals {
            println!(
                "{cpu:<11} {kernel:<6} {:>8} {macs:>8} {instructions:>12.0} {:>10.3}  (all layers)",
                "total",
                instructions / *macs as f64
            );
        }
        ok &= report.ok();
    }
    println!(
        "{}",
        if ok {
            "every device checksum equals the host's; every on-device check passed"
        } else {
            "FAILED: a checksum or an on-device check differs"
        }
    );
    Ok(ok)
}
