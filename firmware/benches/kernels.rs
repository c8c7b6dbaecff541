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
//! (25 MHz), 62.5 on the M0 (16 MHz). The layers are the vanilla model's three
//! (784→196, 196→49, 49→10), seeded (`host/kernel_data.rs`): counts do not depend on the values.
//!
//! Needs `qemu-system-arm` and `rustup target add thumbv7em-none-eabihf thumbv6m-none-eabi`.

#[path = "../host/kernel_data.rs"]
mod kernel_data;

use std::collections::BTreeMap;
use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use firmware::dense::dense;
use firmware::dense_f16::dense_f16;
use firmware::dense_i8::{Requant, dense_i8};
use kernel_data::{INPUT_OFFSET, LAYERS, OUTPUT_ZERO_POINT, fnv1a, layer, seed};

/// QEMU's virtual nanoseconds per instruction: `-icount shift=0` gives 2^0.
const ICOUNT_SHIFT: u32 = 0;

/// A QEMU machine the program runs on.
struct Machine {
    target: &'static str,
    qemu: &'static [&'static str],
}

const MACHINES: [Machine; 2] = [
    Machine {
        target: "thumbv7em-none-eabihf",
        qemu: &["-cpu", "cortex-m4", "-machine", "mps2-an386"],
    },
    Machine {
        target: "thumbv6m-none-eabi",
        qemu: &["-machine", "microbit"],
    },
];

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
    let host = host_checksums();
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
        let elf = build(&workspace, &target_dir, machine.target)?;
        let stdout = run_qemu(machine, &elf)?;
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
        let cpu = head.get(2).cloned().unwrap_or_default();
        let hz: u64 = number(&head, "systick_hz")?;
        let per_tick = 1e9 / (hz << ICOUNT_SHIFT) as f64;
        for check in stdout.lines().filter(|l| l.starts_with("check ")) {
            let w = words(check);
            let bad: u64 = number(&w, "mismatches")?;
            println!(
                "{cpu:<11} check {} on the device: {} cases, {bad} mismatches",
                w[1], w[3]
            );
            ok &= bad == 0;
        }
        let mut empty = 0u64;
        let mut totals: BTreeMap<String, (u64, f64)> = BTreeMap::new();
        for line in stdout.lines().filter(|l| l.starts_with("time ")) {
            let w = words(line);
            let ticks: u64 = number(&w, "ticks")?;
            if w[1] == "empty" {
                empty = ticks;
                continue;
            }
            let (kernel, shape) = (&w[1], &w[2]);
            let macs: u64 = number(&w, "macs")?;
            let device = w.last().cloned().unwrap_or_default();
            let want = host.get(&(kernel.clone(), shape.clone()));
            let same = want == Some(&device);
            ok &= same;
            let instructions = ticks.saturating_sub(empty) as f64 * per_tick;
            let total = totals.entry(kernel.clone()).or_default();
            total.0 += macs;
            total.1 += instructions;
            println!(
                "{cpu:<11} {kernel:<6} {shape:>8} {macs:>8} {instructions:>12.0} {:>10.3}  \
                 {device:<8} {}{}",
                instructions / macs as f64,
                want.map_or("?", String::as_str),
                if same { "" } else { "  MISMATCH" }
            );
        }
        for (kernel, (macs, instructions)) in &totals {
            println!(
                "{cpu:<11} {kernel:<6} {:>8} {macs:>8} {instructions:>12.0} {:>10.3}  (all layers)",
                "total",
                instructions / *macs as f64
            );
        }
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
fn build(workspace: &Path, target_dir: &Path, target: &str) -> Result<PathBuf, String> {
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
        .args(machine.qemu)
        .args([
            "-nographic",
            "-semihosting-config",
            "enable=on,target=native",
        ])
        .args(["-icount", &format!("shift={ICOUNT_SHIFT}"), "-kernel"])
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
