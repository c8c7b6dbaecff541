//! Building and running the kernel program (`src/bin/kernels.rs`) on QEMU, and what it reports,
//! shared by the `kernels` benchmark and by tests that include this file by path (as the
//! workspace's QEMU tests include `board/mod.rs`).
// Each includer uses part of this module.
#![allow(dead_code)]

#[path = "../../host/kernel_data.rs"]
mod kernel_data;

use std::collections::BTreeMap;
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::board::{MICROBIT, MPS2_AN386, Machine};
use firmware::dense::dense;
use firmware::dense_f16::dense_f16;
use firmware::dense_i8::{Requant, dense_i8};
use kernel_data::{INPUT_OFFSET, LAYERS, OUTPUT_ZERO_POINT, fnv1a, layer, seed};

/// QEMU's virtual nanoseconds per instruction: `-icount shift=0` gives 2^0.
pub const ICOUNT_SHIFT: u32 = 0;

/// The Cortex-M4F (`mps2-an386`: int8, f16, f32) and the Cortex-M0 (`microbit`: int8).
pub const MACHINES: [&Machine; 2] = [&MPS2_AN386, &MICROBIT];

/// An on-device comparison of a fast path with its reference.
#[derive(Debug)]
pub struct Check {
    /// What was compared (`dense_i8`, `widen_f16`, `dense_f16`).
    pub what: String,
    /// Cases compared.
    pub cases: u64,
    /// Cases that differed.
    pub mismatches: u64,
}

/// One timed kernel call.
#[derive(Debug)]
pub struct Timing {
    /// `int8`, `f16` or `f32`.
    pub kernel: String,
    /// `<inputs>x<outputs>`.
    pub shape: String,
    /// Multiply-accumulates of the layer.
    pub macs: u64,
    /// Instructions of the call, less those of an empty call.
    pub instructions: f64,
    /// The device's checksum of the outputs.
    pub device: String,
    /// The host's, for the same layer (`None` if the host has no such kernel).
    pub host: Option<String>,
}

impl Timing {
    /// Whether the device computed the host's outputs.
    pub fn same(&self) -> bool {
        self.host.as_deref() == Some(self.device.as_str())
    }
}

/// What the program reported on one machine.
#[derive(Debug)]
pub struct Report {
    /// The core, as the program names it.
    pub cpu: String,
    /// The on-device checks.
    pub checks: Vec<Check>,
    /// The timed calls, in the program's order.
    pub timings: Vec<Timing>,
}

impl Report {
    /// Every check found no mismatch (and there was at least one), and every checksum equals
    /// the host's.
    pub fn ok(&self) -> bool {
        !self.checks.is_empty()
            && self.checks.iter().all(|c| c.mismatches == 0 && c.cases > 0)
            && !self.timings.is_empty()
            && self.timings.iter().all(Timing::same)
    }
}

/// Builds the program for `machine` into `target_dir`, runs it under `qemu-system-arm
/// -icount shift=0` and reads its report, with the host's checksums filled in.
///
/// # Errors
/// The build or the run fails, or the output is not what the program prints.
pub fn run(workspace: &Path, target_dir: &Path, machine: &Machine) -> Result<Report, String> {
    let elf = build(workspace, target_dir, machine.target)?;
    let stdout = run_qemu(machine, &elf)?;
    parse(&stdout, &host_checksums())
}

/// Reads the program's output (format in `src/bin/kernels.rs`).
fn parse(stdout: &str, host: &BTreeMap<(String, String), String>) -> Result<Report, String> {
    let words = |line: &str| {
        line.split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let head = stdout
        .lines()
        .find(|l| l.starts_with("kernels "))
        .map(words)
        .ok_or_else(|| format!("no `kernels` line in:\n{stdout}"))?;
    let hz: u64 = number(&head, "systick_hz")?;
    let per_tick = 1e9 / (hz << ICOUNT_SHIFT) as f64;
    let mut checks = Vec::new();
    for line in stdout.lines().filter(|l| l.starts_with("check ")) {
        let w = words(line);
        checks.push(Check {
            what: w.get(1).cloned().unwrap_or_default(),
            cases: number(&w, "cases")?,
            mismatches: number(&w, "mismatches")?,
        });
    }
    let mut empty = 0u64;
    let mut timings = Vec::new();
    for line in stdout.lines().filter(|l| l.starts_with("time ")) {
        let w = words(line);
        let ticks: u64 = number(&w, "ticks")?;
        if w[1] == "empty" {
            empty = ticks;
            continue;
        }
        let (kernel, shape) = (w[1].clone(), w.get(2).cloned().unwrap_or_default());
        timings.push(Timing {
            macs: number(&w, "macs")?,
            instructions: ticks.saturating_sub(empty) as f64 * per_tick,
            device: w.last().cloned().unwrap_or_default(),
            host: host.get(&(kernel.clone(), shape.clone())).cloned(),
            kernel,
            shape,
        });
    }
    Ok(Report {
        cpu: head.get(2).cloned().unwrap_or_default(),
        checks,
        timings,
    })
}

/// The checksums the device should print, by `(kernel, "<in>x<out>")`.
fn host_checksums() -> BTreeMap<(String, String), String> {
    let mut sums = BTreeMap::new();
    for (k, &(inputs, outputs)) in LAYERS.iter().enumerate() {
        let l = layer(inputs, outputs, seed(k));
        let shape = format!("{inputs}x{outputs}");
        let rq = Requant {
            bias: &l.bias,
            multiplier: &l.multiplier,
            shift: &l.shift,
            output_zero_point: OUTPUT_ZERO_POINT,
            min: OUTPUT_ZERO_POINT,
            max: 127,
        };
        let mut out = vec![0i8; outputs];
        dense_i8(
            &l.i8_weights,
            inputs,
            &l.i8_input,
            INPUT_OFFSET,
            &rq,
            &mut out,
        );
        let hex = |h: u32| format!("{h:08x}");
        sums.insert(
            ("int8".into(), shape.clone()),
            hex(fnv1a(out.iter().map(|&b| b as u8))),
        );
        let floats = |v: &[f32]| hex(fnv1a(v.iter().flat_map(|f| f.to_bits().to_le_bytes())));
        let mut out = vec![0f32; outputs];
        dense_f16(&l.f16_weights, &l.f32_bias, &l.f32_input, &mut out);
        sums.insert(("f16".into(), shape.clone()), floats(&out));
        dense(&l.f32_weights, &l.f32_bias, &l.f32_input, &mut out);
        sums.insert(("f32".into(), shape), floats(&out));
    }
    sums
}

fn number<T: std::str::FromStr>(words: &[String], key: &str) -> Result<T, String> {
    words
        .iter()
        .position(|w| w == key)
        .and_then(|at| words.get(at + 1)?.parse().ok())
        .ok_or_else(|| format!("no number after `{key}` in {words:?}"))
}

/// Builds the kernel program for `target` with a nested `cargo build --release`.
pub fn build(workspace: &Path, target_dir: &Path, target: &str) -> Result<PathBuf, String> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let build = Command::new(cargo)
        .current_dir(workspace)
        .args(["build", "--release", "-p", "firmware", "--features"])
        .args(["kernel-bench", "--target", target, "--bin", "kernels"])
        .env("CARGO_TARGET_DIR", target_dir)
        // Host flags (e.g. `-C target-cpu=native`) must not reach the Cortex-M build.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .map_err(|e| format!("cannot start cargo: {e}"))?;
    if !build.status.success() {
        return Err(format!(
            "building the kernel program for {target} failed ({}; is `rustup target add \
             {target}` done?):\n{}",
            build.status,
            String::from_utf8_lossy(&build.stderr)
        ));
    }
    Ok(target_dir.join(target).join("release/kernels"))
}

fn run_qemu(machine: &Machine, elf: &Path) -> Result<String, String> {
    let run = Command::new("timeout")
        .args(["300", "qemu-system-arm"])
        .args(machine.qemu_args(Some(ICOUNT_SHIFT)))
        .arg(elf)
        .output()
        .map_err(|e| {
            format!("cannot start qemu-system-arm (apt-get install qemu-system-arm): {e}")
        })?;
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    if !run.status.success() {
        return Err(format!(
            "the kernel program failed on {} ({}):\n{stdout}{}",
            machine.target,
            run.status,
            String::from_utf8_lossy(&run.stderr)
        ));
    }
    Ok(stdout)
}
