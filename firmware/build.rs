//! Build script. For the library it only sets the cfgs that pick the assembly kernels for the
//! target (see `instruction_set_cfgs`).
//!
//! With `kernel-bench` (and not `board`) it prepares the kernel benchmark program
//! (`src/bin/kernels.rs`): see the `kernels` module below.
//!
//! With `board` it prepares the QEMU program (`src/bin/qemu.rs`) for the target's machine:
//! `thumbv7em-none-eabihf` runs on `mps2-an386` (Cortex-M4F), `thumbv6m-none-eabi` on
//! `microbit` (nRF51, Cortex-M0). It
//! - links the bins with cortex-m-rt's `link.x` and that machine's memory map (`memory.x`,
//!   `memory-microbit.x`). The `-Tlink.x` argument lives here rather than in
//!   `.cargo/config.toml` `rustflags`, because a `RUSTFLAGS` variable silently replaces those,
//!   and an image linked without `link.x` has no vector table;
//! - copies the model named by `FMLP_MODEL` to `$OUT_DIR/model.fmlp`, after checking that it
//!   decodes and that it and the images fit the machine's flash;
//! - copies the first `FMLP_IMAGES` (default 256 on mps2-an386, 16 on microbit) Fashion-MNIST
//!   test images and labels to `$OUT_DIR/images.bin` (784 bytes each) and `$OUT_DIR/labels.bin`,
//!   and writes to `$OUT_DIR/embedded.rs` their count and `ModelScratch`, the scratch the
//!   program classifies in: `Int8Scratch` for an int8 model, `Scratch` otherwise, or `Scratch`
//!   for every model with `FMLP_SCRATCH=general`. The data directory is `$FASHION_MNIST_DIR`
//!   when set (and then only that one), else the first of `data/fashion-mnist` (workspace root)
//!   and `/usr/share/datasets/fashion-mnist` that holds the two t10k files.

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
mod board {
    use std::env;
    use std::fs;
    use std::path::{Path, PathBuf};
    use std::process;

    use idx::layout::{
        CLASS_NAMES, DEBIAN_DIR, DIR_ENV_VAR, DOWNLOAD_DIR, IMAGE_PIXELS, TEST_FILE_NAMES,
        TEST_IMAGES, TEST_IMAGES_FILE, TEST_LABELS_FILE,
    };
    use idx::{find_dir, read_images, read_labels};
    use model_format::{AlignedBytes, Model};

    const MODEL_VAR: &str = "FMLP_MODEL";
    const COUNT_VAR: &str = "FMLP_IMAGES";
    const SCRATCH_VAR: &str = "FMLP_SCRATCH";

    /// A QEMU machine the board program is built for, by Rust target.
    struct Machine {
        target: &'static str,
        /// QEMU's `-machine` name.
        name: &'static str,
        /// Its memory map, in this crate's directory.
        memory: &'static str,
        /// Code memory (flash) in bytes, as the memory map gives it.
        flash: usize,
        /// Flash kept for the vector table, code and other constants.
        code_reserve: usize,
        /// Images embedded when `FMLP_IMAGES` is not set.
        default_images: usize,
    }

    const MACHINES: [Machine; 2] = [
        Machine {
            target: "thumbv7em-none-eabihf",
            name: "mps2-an386",
            memory: "memory.x",
            flash: 4 << 20,
            code_reserve: 256 << 10,
            default_images: 256,
        },
        Machine {
            target: "thumbv6m-none-eabi",
            name: "microbit",
            memory: "memory-microbit.x",
            flash: 256 << 10,
            // The M0 program measured 29.7 KiB of vectors, code and other constants (int8
            // vanilla model, `Int8Scratch`).
            code_reserve: 40 << 10,
            default_images: 16,
        },
    ];

    pub fn main() {
        if let Err(message) = run() {
            eprintln!("error: {message}");
            process::exit(1);
        }
    }

    fn run() -> Result<(), String> {
        for var in [MODEL_VAR, COUNT_VAR, SCRATCH_VAR, DIR_ENV_VAR] {
            println!("cargo:rerun-if-env-changed={var}");
        }
        let target = env::var("TARGET").unwrap_or_default();
        let machine = MACHINES
            .iter()
            .find(|m| m.target == target)
            .ok_or_else(|| {
                format!(
                    "the `board` feature builds the QEMU program for mps2-an386 (`--target \
                 thumbv7em-none-eabihf`) or microbit (`--target thumbv6m-none-eabi`), not for \
                 `{target}`"
                )
            })?;
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
        let int8 = Model::from_bytes(&model_bytes)
            .map_err(|e| format!("{MODEL_VAR}={} is not a valid model: {e}", model.display()))?
            .is_int8();

        let count = image_count(machine.default_images)?;
        check_fits(machine, model_bytes.len(), count)?;

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
        let rust = format!(
            "/// Test images embedded by `build.rs`: the first of the t10k set, from `{}`.\n\
             pub const IMAGE_COUNT: usize = {count};\n\
             /// The scratch the embedded {} model is classified in.\n\
             pub type ModelScratch = firmware::{scratch}<{{ firmware::INPUTS }}>;\n",
            dir.display(),
            if int8 { "int8" } else { "float" },
        );
        write(&out.join("embedded.rs"), rust.as_bytes())
    }

    /// Checks that the model and `count` images fit the machine's flash beside the program.
    fn check_fits(machine: &Machine, model: usize, count: usize) -> Result<(), String> {
        let room = machine.flash - machine.code_reserve;
        let image_bytes = IMAGE_PIXELS + 1;
        if model + count * image_bytes <= room {
            return Ok(());
        }
        let (name, flash, reserve) = (
            machine.name,
            machine.flash >> 10,
            machine.code_reserve >> 10,
        );
        let advice = if model + image_bytes <= room {
            format!(
                "with this model at most {} images fit: lower {COUNT_VAR}",
                (room - model) / image_bytes
            )
        } else {
            format!(
                "a model of at most {} bytes fits with one image (an int8 file is about 0.26x \
                 the f32 one: `trainer quantize MODEL --to int8`)",
                room - image_bytes
            )
        };
        Err(format!(
            "the model ({model} bytes) and {count} images ({} bytes) do not fit {name}'s \
             {flash} KiB flash with {reserve} KiB kept for the program: {advice}",
            count * image_bytes
        ))
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

    fn image_count(default: usize) -> Result<usize, String> {
        let Some(value) = env::var_os(COUNT_VAR) else {
            return Ok(default);
        };
        let text = value.to_string_lossy();
        match text.trim().parse::<usize>() {
            Ok(n) if (1..=TEST_IMAGES).contains(&n) => Ok(n),
            _ => Err(format!(
                "{COUNT_VAR}={text} is not a number of test images in 1..={TEST_IMAGES}"
            )),
        }
    }

    fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
        fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}
