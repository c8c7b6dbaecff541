//! Instructions per inference on the Cortex-M4F and the Cortex-M0: the board program
//! (`src/bin/qemu.rs`) under QEMU `mps2-an386` (the f32 vanilla and dropout shapes, the int8
//! vanilla shape) and QEMU `microbit` (the int8 vanilla shape, in `Int8Scratch`) with
//! `-icount shift=0`.
//!
//! ```text
//! cargo bench -p firmware --bench m4 [-- MODEL.fmlp ...]
//! ```
//!
//! With `-icount shift=0` QEMU advances virtual time exactly 1 ns per instruction, and the board
//! program reads SysTick (the core clock: 25 MHz on mps2-an386, 16 MHz on microbit) around each
//! `classify_u8` call, so one tick is 40 (62.5) instructions. Summed over [`IMAGES`] calls the
//! reading error (under one tick per call) is below 0.01 % of a count. Cross-checked once against an exact count, a single-step trace
//! (`-icount shift=0 -singlestep -d exec,nochain`) from the `bl` to `classify_u8` to its return,
//! vanilla shape, one image: 411,801 instructions traced, 10,295 ticks = 411,800 by SysTick.
//! Models come from `shapes` (seeded, untrained: instruction counts do not depend on trained
//! values; the spread between images, printed, comes from ReLU branches and `exp`); `.fmlp`
//! files given as arguments (relative to the workspace root) are measured as well. Each is
//! embedded into its own build (`target/m4-bench`, separate from the QEMU tests'
//! `target/qemu`), with the first [`IMAGES`] Fashion-MNIST test images (on microbit
//! [`M0_IMAGES`], what its flash holds beside the model), which the board program's build
//! script finds. Extra files run on mps2-an386.
//!
//! Needs `qemu-system-arm`, `rustup target add thumbv7em-none-eabihf thumbv6m-none-eabi` and
//! the test images.

mod board;
mod shapes;

use std::path::Path;
use std::process::{Command, ExitCode};
use std::{env, fs};

use board::{MICROBIT, MPS2_AN386, Machine, ScratchChoice};
use model_format::AlignedBytes;
use shapes::{DROPOUT, VANILLA};

/// Seed of the benchmark models' weights (the same as the host benchmark's).
const MODEL_SEED: u64 = 0x5EED_F00D;
/// Images classified per model on mps2-an386.
const IMAGES: usize = 100;
/// Images classified on microbit (256 KiB of flash: the 169 KB int8 model and the program
/// leave room for 66).
const M0_IMAGES: usize = 50;
/// QEMU's virtual nanoseconds per instruction: `-icount shift=0` gives 2^0.
const ICOUNT_SHIFT: u32 = 0;

/// What the board program reported, in the units it reports.
struct Report {
    model: String,
    systick_hz: u64,
    ticks: u64,
    min: u64,
    max: u64,
    flash: u64,
    text: u64,
    rodata: u64,
    data: u64,
    static_ram: u64,
    stack: u64,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("firmware/ has no parent")?
        .to_path_buf();
    let target_dir = workspace.join("target/m4-bench");
    let model_dir = target_dir.join("models");
    fs::create_dir_all(&model_dir).map_err(|e| format!("{}: {e}", model_dir.display()))?;

    let mut models: Vec<(&Machine, _)> = Vec::new();
    let seeded = [
        (&MPS2_AN386, "", VANILLA.model(MODEL_SEED), VANILLA),
        (&MPS2_AN386, "", DROPOUT.model(MODEL_SEED), DROPOUT),
        (
            &MPS2_AN386,
            "-int8",
            VANILLA.model_int8(MODEL_SEED),
            VANILLA,
        ),
        (&MICROBIT, "-int8", VANILLA.model_int8(MODEL_SEED), VANILLA),
    ];
    for (machine, suffix, bytes, shape) in seeded {
        let path = model_dir.join(format!("{}{suffix}.fmlp", shape.name));
        // Rewrite only on change: the board build reruns its build script when the file changes.
        if fs::read(&path).ok().as_deref() != Some(bytes.as_bytes()) {
            fs::write(&path, bytes.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        models.push((machine, path));
    }
    // Cargo passes `--bench` and whatever follows `--` (also to the package's other
    // benchmarks, whose filters this one ignores): `.fmlp` files are extra models, relative to
    // the workspace root (cargo runs benchmarks in the package directory).
    models.extend(
        env::args()
            .skip(1)
            .filter(|a| a.ends_with(".fmlp"))
            .map(|a| (&MPS2_AN386, workspace.join(a))),
    );

    println!(
        "QEMU -icount shift={ICOUNT_SHIFT}, {IMAGES} images per model ({M0_IMAGES} on microbit), \
         SysTick around each classify_u8"
    );
    println!(
        "{:<11} {:<22} {:>8} {:>12} {:>10} {:>21}",
        "cpu", "model", "MACs", "instr/image", "instr/MAC", "min..max instr/image"
    );
    for (machine, path) in &models {
        let images = if machine.name == MICROBIT.name {
            M0_IMAGES
        } else {
            IMAGES
        };
        let bytes = AlignedBytes::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let classifier = firmware::Classifier::<{ firmware::INPUTS }>::new(&bytes)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let macs: u64 = classifier
            .model()
            .layers()
            .iter()
            .map(|l| (l.inputs() * l.outputs()) as u64)
            .sum();
        let r = build_and_run(&workspace, &target_dir, machine, path, images)?;
        let per_tick = 1e9 / (r.systick_hz << ICOUNT_SHIFT) as f64;
        let per_image = r.ticks as f64 * per_tick / images as f64;
        println!(
            "{:<11} {:<22} {:>8} {:>12.0} {:>10.3} {:>10.0}..{:.0}",
            machine.core,
            r.model,
            macs,
            per_image,
            per_image / macs as f64,
            r.min as f64 * per_tick,
            r.max as f64 * per_tick,
        );
        // The test images and labels are the board program's, not part of a deployment.
        let model = bytes.len() as u64;
        let other_rodata = r.rodata - model - (images * (firmware::INPUTS + 1)) as u64;
        let vectors = r.flash - r.text - r.rodata - r.data;
        println!(
            "{:<34} flash: model {model} B + program {} B (vector table {vectors}, .text {}, \
             other .rodata {other_rodata}, .data {}); RAM {} B (static {} + stack {})",
            "",
            vectors + r.text + other_rodata + r.data,
            r.text,
            r.data,
            r.static_ram + r.stack,
            r.static_ram,
            r.stack
        );
    }
    Ok(())
}

/// Builds the board program for `machine` with `model` and `images` test images embedded
/// (in `Int8Scratch` for an int8 model) and runs it under QEMU with `-icount`.
fn build_and_run(
    workspace: &Path,
    target_dir: &Path,
    machine: &Machine,
    model: &Path,
    images: usize,
) -> Result<Report, String> {
    let model = fs::canonicalize(model).map_err(|e| format!("{}: {e}", model.display()))?;
    let elf = board::build(
        workspace,
        target_dir,
        machine,
        &model,
        images,
        ScratchChoice::ByModel,
        None,
    )?;
    let run = Command::new("timeout")
        .args(["300", "qemu-system-arm"])
        .args(machine.qemu_args(Some(ICOUNT_SHIFT)))
        .arg(&elf)
        .output()
        .map_err(|e| {
            format!("cannot start qemu-system-arm (apt-get install qemu-system-arm): {e}")
        })?;
    let stdout = String::from_utf8_lossy(&run.stdout);
    if !run.status.success() {
        return Err(format!(
            "the board program failed under QEMU ({}):\n{}{}",
            run.status,
            stdout.lines().rev().take(5).collect::<Vec<_>>().join("\n"),
            String::from_utf8_lossy(&run.stderr)
        ));
    }
    parse(&stdout)
}

/// Reads the `model`, `time` and `mem` lines (format in `src/bin/qemu.rs`).
fn parse(stdout: &str) -> Result<Report, String> {
    let line = |key: &str| {
        stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(key))
            .ok_or_else(|| format!("no `{key}` line in the device output:\n{stdout}"))
    };
    let field = |line: &str, key: &str| -> Result<u64, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        words
            .iter()
            .position(|w| *w == key)
            .and_then(|at| words.get(at + 1)?.parse().ok())
            .ok_or_else(|| format!("no number after `{key}` in {line:?}"))
    };
    let model = line("model")?;
    let time = line("time")?;
    let mem = line("mem")?;
    Ok(Report {
        model: model.split_whitespace().nth(1).unwrap_or("?").to_string(),
        systick_hz: field(time, "hz")?,
        ticks: field(time, "ticks")?,
        min: field(time, "min")?,
        max: field(time, "max")?,
        flash: field(mem, "flash")?,
        text: field(mem, "text")?,
        rodata: field(mem, "rodata")?,
        data: field(mem, "data")?,
        static_ram: field(mem, "static_ram")?,
        stack: field(mem, "stack")?,
    })
}
