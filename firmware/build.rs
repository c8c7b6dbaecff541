//! Build script. For the library it only sets the cfgs that pick the assembly kernels for the
//! target (see `instruction_set_cfgs`).
//!
//! With `kernel-bench` (and not `board`) it prepares the kernel benchmark program
//! (`src/bin/kernels.rs`): see the `kernels` module below.
//!
//! With `board` it prepares the QEMU program (`src/bin/qemu.rs`, one board of the board
//! application `firmware::app`) for one QEMU machine that mirrors a real chip, chosen by
//! `FMLP_MACHINE` (default: the first for the target): `mps2-an386` (Cortex-M4F) or
//! `netduinoplus2` (STM32F405) for `thumbv7em-none-eabihf`, `microbit` (nRF51, Cortex-M0) for
//! `thumbv6m-none-eabi`, `mps2-an505` (Cortex-M33) for `thumbv8m.main-none-eabihf`. It
//! - links the bins with cortex-m-rt's `link.x` and that machine's memory map (`memory.x`,
//!   `memory-<machine>.x`). The `-Tlink.x` argument lives here rather than in
//!   `.cargo/config.toml` `rustflags`, because a `RUSTFLAGS` variable silently replaces those,
//!   and an image linked without `link.x` has no vector table;
//! - copies the model named by `FMLP_MODEL` to `$OUT_DIR/model.fmlp`, after checking that it
//!   decodes and, with the budget check of `host/budget.rs`, that it, the program and the images
//!   fit the machine's flash and its buffers and stack its RAM (else the build fails with a
//!   message naming the machine, its budget, the model's size and the storages that would fit).
//!   `FMLP_UNCHECKED_MODEL` (set to anything) embeds the bytes undecoded, so a test can show
//!   the device refusing a corrupt model;
//! - copies the first `FMLP_IMAGES` (default 256 on the mps2 machines, 64 on netduinoplus2, 16
//!   on microbit) Fashion-MNIST test images and labels to `$OUT_DIR/images.bin` (784 bytes
//!   each) and `$OUT_DIR/labels.bin`, and writes to `$OUT_DIR/embedded.rs` their count, the
//!   machine's name, core clock, flash and RAM, and `ModelScratch`, the scratch the program
//!   classifies in: `Int8Scratch` for an int8 model, `Scratch` otherwise, or `Scratch` for
//!   every model with `FMLP_SCRATCH=general`. The data directory is `$FASHION_MNIST_DIR` when
//!   set (and then only that one), else the first of `data/fashion-mnist` (workspace root) and
//!   `/usr/share/datasets/fashion-mnist` that holds the two t10k files.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    instruction_set_cfgs();
    #[cfg(feature = "board")]
    board::main();
    #[cfg(all(feature = "kernel-bench", not(feature = "board")))]
    kernels::main();
}

/// Sets the cfgs that select the assembly kernels of `src/dsp.rs`. Stable Rust exposes no Arm
/// `target_feature` cfgs, so they come from the target name:
/// - `fmlp_dsp`: the Armv7E-M DSP extension (SMLAD, SXTB16, SXTAB16) of every `thumbv7em`
///   target (Cortex-M4, M7);
/// - `fmlp_fp16`: VCVTB/VCVTT.F32.F16 in the FPU of the hard-float `thumbv7em-none-eabihf`
///   (FPv4-SP on the M4F, FPv5 on the M7);
/// - `fmlp_armv6m`: the Armv6-M (Cortex-M0/M0+) Thumb-1 instruction set of `thumbv6m`.
fn instruction_set_cfgs() {
    println!("cargo::rustc-check-cfg=cfg(fmlp_dsp)");
    println!("cargo::rustc-check-cfg=cfg(fmlp_fp16)");
    println!("cargo::rustc-check-cfg=cfg(fmlp_armv6m)");
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("thumbv6m-") {
        println!("cargo::rustc-cfg=fmlp_armv6m");
    }
    if target.starts_with("thumbv7em-") {
        println!("cargo::rustc-cfg=fmlp_dsp");
        if target.ends_with("eabihf") {
            println!("cargo::rustc-cfg=fmlp_fp16");
        }
    }
}

#[cfg(all(feature = "kernel-bench", not(feature = "board")))]
#[path = "host/kernel_data.rs"]
mod kernel_data;

/// The `kernel-bench` build (`src/bin/kernels.rs`): links with the memory map of the target's
/// QEMU machine and writes the seeded layers of `host/kernel_data.rs` to `$OUT_DIR`, with
/// `$OUT_DIR/kernel_data.rs` naming them.
#[cfg(all(feature = "kernel-bench", not(feature = "board")))]
mod kernels {
    use std::env;
    use std::fmt::Write as _;
    use std::fs;
    use std::path::{Path, PathBuf};
    use std::process;

    use super::kernel_data::{LAYERS, Layer, layer, seed};

    pub fn main() {
        if let Err(message) = run() {
            eprintln!("error: {message}");
            process::exit(1);
        }
    }

    fn run() -> Result<(), String> {
        let target = env::var("TARGET").unwrap_or_default();
        let memory = match target.as_str() {
            "thumbv7em-none-eabihf" => "memory.x",
            "thumbv6m-none-eabi" => "memory-microbit.x",
            _ => {
                return Err(format!(
                    "the `kernel-bench` feature builds the kernel program for QEMU's mps2-an386 \
                     (`--target thumbv7em-none-eabihf`) or microbit (`--target \
                     thumbv6m-none-eabi`), not for `{target}`"
                ));
            }
        };
        let out = PathBuf::from(env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
        let manifest = PathBuf::from(
            env::var_os("CARGO_MANIFEST_DIR").ok_or("CARGO_MANIFEST_DIR is not set")?,
        );
        println!("cargo:rerun-if-changed={memory}");
        println!("cargo:rerun-if-changed=host/kernel_data.rs");
        fs::copy(manifest.join(memory), out.join("memory.x"))
            .map_err(|e| format!("cannot copy {memory} to {}: {e}", out.display()))?;
        println!("cargo:rustc-link-search={}", out.display());
        println!("cargo:rustc-link-arg-bins=-Tlink.x");

        let mut rust = format!(
            "/// The seeded layers of `host/kernel_data.rs`.\nstatic LAYERS: [Layer; {}] = [\n",
            LAYERS.len()
        );
        for (k, &(inputs, outputs)) in LAYERS.iter().enumerate() {
            let l = layer(inputs, outputs, seed(k));
            let field = |name: &str, bytes: Vec<u8>| -> Result<String, String> {
                let path = out.join(format!("layer{k}_{name}.bin"));
                write(&path, &bytes)?;
                // The float layers only exist where the FPU kernels run.
                let cfg = if name.starts_with('f') {
                    "        #[cfg(fmlp_fp16)]\n"
                } else {
                    ""
                };
                Ok(format!(
                    "{cfg}        {name}: &Aligned(*include_bytes!({:?})),\n",
                    path.display().to_string()
                ))
            };
            let _ = writeln!(
                rust,
                "    Layer {{\n        inputs: {inputs},\n        outputs: {outputs},"
            );
            for (name, bytes) in fields(&l) {
                rust.push_str(&field(name, bytes)?);
            }
            rust.push_str("    },\n");
        }
        rust.push_str("];\n");
        write(&out.join("kernel_data.rs"), rust.as_bytes())
    }

    /// The layer's arrays as little-endian bytes, by field name of the program's `Layer`.
    fn fields(l: &Layer) -> [(&'static str, Vec<u8>); 9] {
        fn le<const N: usize, T: Copy>(v: &[T], f: impl Fn(T) -> [u8; N]) -> Vec<u8> {
            v.iter().flat_map(|&x| f(x)).collect()
        }
        [
            ("i8_weights", le(&l.i8_weights, i8::to_le_bytes)),
            ("bias", le(&l.bias, i32::to_le_bytes)),
            ("multiplier", le(&l.multiplier, i32::to_le_bytes)),
            ("shift", le(&l.shift, i32::to_le_bytes)),
            ("i8_input", le(&l.i8_input, i8::to_le_bytes)),
            ("f16_weights", le(&l.f16_weights, u16::to_le_bytes)),
            ("f32_weights", le(&l.f32_weights, f32::to_le_bytes)),
            ("f32_bias", le(&l.f32_bias, f32::to_le_bytes)),
            ("f32_input", le(&l.f32_input, f32::to_le_bytes)),
        ]
    }

    fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
        // Rewrite only on change, so the program is not relinked for nothing.
        if fs::read(path).ok().as_deref() == Some(bytes) {
            return Ok(());
        }
        fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

#[cfg(feature = "board")]
#[path = "host/budget.rs"]
mod budget;
#[cfg(feature = "board")]
#[path = "host/embed.rs"]
mod embed;

#[cfg(feature = "board")]
mod board {
    use std::env;
    use std::fs;
    use std::path::{Path, PathBuf};
    use std::process;

    use idx::layout::{
        CLASS_NAMES, DEBIAN_DIR, DIR_ENV_VAR, DOWNLOAD_DIR, IMAGE_PIXELS, TEST_FILE_NAMES,
        TEST_IMAGES_FILE, TEST_LABELS_FILE,
    };
    use idx::{find_dir, read_images, read_labels};
    use model_format::{AlignedBytes, Model};

    use super::budget::{Budget, INT8_SCRATCH, INT8_SCRATCH_DSP};
    use super::embed::{COUNT_VAR, image_count, write};

    const MODEL_VAR: &str = "FMLP_MODEL";
    const SCRATCH_VAR: &str = "FMLP_SCRATCH";
    const MACHINE_VAR: &str = "FMLP_MACHINE";
    /// The f32 input vectors of the `qemu-vector` program: a file of little-endian f32, one
    /// row of the model's input width after another (none when unset).
    const INPUTS_VAR: &str = "FMLP_INPUTS";
    /// Set (to anything): embed the model without decoding it first, so a test can show what
    /// the device does with a corrupt one.
    const UNCHECKED_VAR: &str = "FMLP_UNCHECKED_MODEL";

    /// A QEMU machine the board program is built for.
    struct Machine {
        target: &'static str,
        /// Its memory map, in this crate's directory.
        memory: &'static str,
        /// The core clock that drives SysTick, in Hz (under `-icount shift=0` one instruction
        /// takes 1 ns of virtual time, so `10^9 / clock` instructions per tick).
        clock_hz: u32,
        /// Flash, RAM and what the program keeps of them.
        budget: Budget,
        /// Images embedded when `FMLP_IMAGES` is not set.
        default_images: usize,
    }

    /// Program size with every storage linked, measured 2026-12-01 (`cargo bench -p firmware
    /// --bench m4`): 44,640 bytes on the M4, 35,880 on the M0; kept with a margin.
    const M4_PROGRAM: usize = 52 << 10;
    /// See [`M4_PROGRAM`].
    const M0_PROGRAM: usize = 40 << 10;
    /// RAM besides the scratch: measured 1,536 (f32, M4) to 2,240 bytes (int8, M0, the decoder's
    /// peak), with a margin.
    const STACK: usize = 3 << 10;

    const fn budget(
        board: &'static str,
        flash: usize,
        ram: usize,
        program: usize,
        int8: usize,
    ) -> Budget {
        Budget::new(board, (flash, ram), (program, STACK), int8)
    }

    const MACHINES: [Machine; 4] = [
        Machine {
            target: "thumbv7em-none-eabihf",
            memory: "memory.x",
            clock_hz: 25_000_000,
            budget: budget(
                "QEMU mps2-an386",
                4 << 20,
                4 << 20,
                M4_PROGRAM,
                INT8_SCRATCH_DSP,
            ),
            default_images: 256,
        },
        Machine {
            target: "thumbv7em-none-eabihf",
            memory: "memory-netduinoplus2.x",
            clock_hz: 168_000_000,
            // The STM32F405's 1 MiB flash and its 128 KiB of SRAM1 + SRAM2 (the 64 KiB CCM,
            // which QEMU maps contiguously, stays unused as on the real chip's link).
            budget: budget(
                "QEMU netduinoplus2 (STM32F405)",
                1 << 20,
                128 << 10,
                M4_PROGRAM,
                INT8_SCRATCH_DSP,
            ),
            default_images: 64,
        },
        Machine {
            target: "thumbv6m-none-eabi",
            memory: "memory-microbit.x",
            clock_hz: 16_000_000,
            budget: budget(
                "QEMU microbit (nRF51822)",
                256 << 10,
                16 << 10,
                M0_PROGRAM,
                INT8_SCRATCH,
            ),
            default_images: 16,
        },
        Machine {
            target: "thumbv8m.main-none-eabihf",
            memory: "memory-mps2-an505.x",
            clock_hz: 20_000_000,
            budget: budget(
                "QEMU mps2-an505 (Cortex-M33)",
                4 << 20,
                4 << 20,
                M4_PROGRAM,
                INT8_SCRATCH,
            ),
            default_images: 256,
        },
    ];

    /// QEMU's `-machine` name: the budget's board name without `QEMU ` and the chip.
    fn qemu_name(machine: &Machine) -> &'static str {
        let name = machine.budget.board.trim_start_matches("QEMU ");
        name.split(' ').next().unwrap_or(name)
    }

    pub fn main() {
        if let Err(message) = run() {
            eprintln!("error: {message}");
            process::exit(1);
        }
    }

    fn run() -> Result<(), String> {
        for var in [
            MODEL_VAR,
            COUNT_VAR,
            SCRATCH_VAR,
            MACHINE_VAR,
            UNCHECKED_VAR,
            INPUTS_VAR,
            DIR_ENV_VAR,
        ] {
            println!("cargo:rerun-if-env-changed={var}");
        }
        let target = env::var("TARGET").unwrap_or_default();
        let wanted = env::var(MACHINE_VAR).ok();
        let machine = MACHINES
            .iter()
            .find(|m| match &wanted {
                Some(name) => qemu_name(m) == name,
                None => m.target == target,
            })
            .ok_or_else(|| {
                let known: Vec<String> = MACHINES
                    .iter()
                    .map(|m| format!("{} (`--target {}`)", qemu_name(m), m.target))
                    .collect();
                format!(
                    "the `board` feature builds the QEMU program for {}; {MACHINE_VAR} picks one \
                     (default: the first for the target), not {wanted:?} for `{target}`",
                    known.join(", ")
                )
            })?;
        if machine.target != target {
            return Err(format!(
                "{MACHINE_VAR}={} runs `--target {}`, not `{target}`",
                qemu_name(machine),
                machine.target
            ));
        }
        let out = PathBuf::from(env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
        let manifest = PathBuf::from(
            env::var_os("CARGO_MANIFEST_DIR").ok_or("CARGO_MANIFEST_DIR is not set")?,
        );
        let workspace = manifest.parent().unwrap_or(&manifest).to_path_buf();

        println!("cargo:rerun-if-changed={}", machine.memory);
        fs::copy(manifest.join(machine.memory), out.join("memory.x"))
            .map_err(|e| format!("cannot copy {} to {}: {e}", machine.memory, out.display()))?;
        println!("cargo:rustc-link-search={}", out.display());
        println!("cargo:rustc-link-arg-bins=-Tlink.x");

        let model = model_path(&workspace)?;
        println!("cargo:rerun-if-changed={}", model.display());
        let model_bytes = AlignedBytes::read(&model)
            .map_err(|e| format!("cannot read {MODEL_VAR}={}: {e}", model.display()))?;
        let count = image_count(machine.default_images)?;
        let images_len = count * (IMAGE_PIXELS + 1);
        // The engine's widths for `qemu-vector` (a corrupt model's are the classifier's: the
        // device refuses it either way).
        let mut widths = (IMAGE_PIXELS, CLASS_NAMES.len(), IMAGE_PIXELS);
        if let Ok(m) = Model::from_bytes(&model_bytes) {
            widths = (m.inputs(), m.classes(), m.max_width().max(1));
        }
        let (vectors, rows) = input_vectors(widths.0)?;
        let images_len = images_len + vectors.len();
        let int8 = if env::var_os(UNCHECKED_VAR).is_some() {
            // The device's own refusal is what is being tested: only the flash is checked.
            if model_bytes.len() + images_len + machine.budget.program > machine.budget.flash {
                return Err(format!(
                    "{UNCHECKED_VAR}: the bytes do not fit {}",
                    machine.budget.board
                ));
            }
            Model::from_bytes(&model_bytes).is_ok_and(|m| m.is_int8())
        } else {
            let decoded = Model::from_bytes(&model_bytes).map_err(|e| {
                format!("{MODEL_VAR}={} is not a valid model: {e}", model.display())
            })?;
            machine
                .budget
                .check(&decoded, model_bytes.len(), images_len, "test images")
                .map_err(|e| format!("{MODEL_VAR}={}: {e}", model.display()))?;
            decoded.is_int8()
        };

        let defaults = [workspace.join(DOWNLOAD_DIR), PathBuf::from(DEBIAN_DIR)];
        let dir = find_dir(None, &defaults, &TEST_FILE_NAMES).map_err(|e| e.to_string())?;
        let images_path = dir.join(TEST_IMAGES_FILE);
        let labels_path = dir.join(TEST_LABELS_FILE);
        println!("cargo:rerun-if-changed={}", images_path.display());
        println!("cargo:rerun-if-changed={}", labels_path.display());
        let mut images = read_images(&images_path).map_err(|e| e.to_string())?;
        let mut labels = read_labels(&labels_path, CLASS_NAMES.len()).map_err(|e| e.to_string())?;
        if labels.len() < count || images.len() < count * IMAGE_PIXELS {
            return Err(format!(
                "{} holds {} test images, fewer than {COUNT_VAR}={count}",
                dir.display(),
                labels.len().min(images.len() / IMAGE_PIXELS)
            ));
        }
        images.truncate(count * IMAGE_PIXELS);
        labels.truncate(count);

        let scratch = match env::var(SCRATCH_VAR).as_deref() {
            Err(_) | Ok("auto") if int8 => "Int8Scratch",
            Err(_) | Ok("auto" | "general") => "Scratch",
            Ok(other) => {
                return Err(format!(
                    "{SCRATCH_VAR}={other} is neither `auto` (Int8Scratch for an int8 model, \
                     Scratch otherwise; the default) nor `general` (Scratch for every model)"
                ));
            }
        };
        write(&out.join("model.fmlp"), &model_bytes)?;
        write(&out.join("images.bin"), &images)?;
        write(&out.join("labels.bin"), &labels)?;
        write(&out.join("inputs.bin"), &vectors)?;
        let rust = format!(
            "/// Test images embedded by `build.rs`: the first of the t10k set, from `{}`.\n\
             pub const IMAGE_COUNT: usize = {count};\n\
             /// The scratch the embedded {} model is classified in.\n\
             pub type ModelScratch = firmware::{scratch}<{{ firmware::INPUTS }}>;\n\
             /// The QEMU machine this program is linked for.\n\
             pub const MACHINE: &str = {:?};\n\
             /// Its core clock, which drives SysTick.\n\
             pub const CORE_CLOCK_HZ: u32 = {};\n\
             /// Flash and RAM in its memory map.\n\
             pub const FLASH_SIZE: usize = {};\n\
             /// See [`FLASH_SIZE`].\n\
             pub const RAM_SIZE: usize = {};\n\
             /// The embedded model's inputs, outputs and widest layer side (`qemu-vector`).\n\
             pub const VECTOR_IN: usize = {};\n\
             /// See [`VECTOR_IN`].\n\
             pub const VECTOR_OUT: usize = {};\n\
             /// See [`VECTOR_IN`].\n\
             pub const VECTOR_CAP: usize = {};\n\
             /// f32 input rows embedded from `{INPUTS_VAR}` (`qemu-vector`).\n\
             pub const VECTOR_ROWS: usize = {rows};\n",
            dir.display(),
            if int8 { "int8" } else { "float" },
            qemu_name(machine),
            machine.clock_hz,
            machine.budget.flash,
            machine.budget.ram,
            widths.0,
            widths.1,
            widths.2,
        );
        write(&out.join("embedded.rs"), rust.as_bytes())
    }

    /// The bytes of `FMLP_INPUTS` (empty when unset) and their rows of `inputs` f32 values.
    fn input_vectors(inputs: usize) -> Result<(Vec<u8>, usize), String> {
        let Some(path) = env::var_os(INPUTS_VAR) else {
            return Ok((Vec::new(), 0));
        };
        let path = PathBuf::from(path);
        println!("cargo:rerun-if-changed={}", path.display());
        let bytes = fs::read(&path).map_err(|e| format!("{INPUTS_VAR}={}: {e}", path.display()))?;
        let row = inputs * 4;
        if bytes.is_empty() || bytes.len() % row != 0 {
            return Err(format!(
                "{INPUTS_VAR}={} holds {} bytes, not whole rows of the model's {inputs} f32 inputs \
                 ({row} bytes each)",
                path.display(),
                bytes.len()
            ));
        }
        let rows = bytes.len() / row;
        Ok((bytes, rows))
    }

    fn model_path(workspace: &Path) -> Result<PathBuf, String> {
        let value = env::var_os(MODEL_VAR).ok_or_else(|| {
            format!(
                "set {MODEL_VAR} to the .fmlp model to embed, e.g. \
                 `{MODEL_VAR}=$PWD/out/vanilla.fmlp cargo run --release -p firmware --features board \
                 --target thumbv7em-none-eabihf --bin qemu` (a relative path is taken from the \
                 workspace root)"
            )
        })?;
        let path = PathBuf::from(value);
        let path = if path.is_absolute() {
            path
        } else {
            workspace.join(path)
        };
        if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "{MODEL_VAR}={} does not exist (a relative path is taken from the workspace root)",
                path.display()
            ))
        }
    }
}
