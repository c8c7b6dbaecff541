//! Build script. For the library it only sets the cfgs that pick the assembly kernels for the
//! target (see `instruction_set_cfgs`).
//!
//! With `kernel-bench` (and not `board`) it prepares the kernel benchmark program
//! (`src/bin/kernels.rs`): see the `kernels` module below.
//!
//! With `board` it prepares the QEMU program (`src/bin/qemu.rs`, thumbv7em only):
//! - links the bins with cortex-m-rt's `link.x` and this crate's `memory.x` (mps2-an386). The
//!   `-Tlink.x` argument lives here rather than in `.cargo/config.toml` `rustflags`, because a
//!   `RUSTFLAGS` variable silently replaces those, and an image linked without `link.x` has no
//!   vector table;
//! - copies the model named by `FMLP_MODEL` to `$OUT_DIR/model.fmlp`;
//! - copies the first `FMLP_IMAGES` (default 256) Fashion-MNIST test images and labels to
//!   `$OUT_DIR/images.bin` (784 bytes each) and `$OUT_DIR/labels.bin`, and writes their count to
//!   `$OUT_DIR/embedded.rs`. The data directory is `$FASHION_MNIST_DIR` when set (and then only
//!   that one), else the first of `data/fashion-mnist` (workspace root) and
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

    const MODEL_VAR: &str = "FMLP_MODEL";
    const COUNT_VAR: &str = "FMLP_IMAGES";
    const DEFAULT_COUNT: usize = 256;
    /// The code memory of mps2-an386 (see `memory.x`).
    const FLASH_BYTES: usize = 4 << 20;
    /// Room left in flash for the vector table, code and other constants.
    const CODE_RESERVE: usize = 256 << 10;

    pub fn main() {
        if let Err(message) = run() {
            eprintln!("error: {message}");
            process::exit(1);
        }
    }

    fn run() -> Result<(), String> {
        for var in [MODEL_VAR, COUNT_VAR, DIR_ENV_VAR] {
            println!("cargo:rerun-if-env-changed={var}");
        }
        println!("cargo:rerun-if-changed=memory.x");
        let target = env::var("TARGET").unwrap_or_default();
        if !target.starts_with("thumb") {
            return Err(format!(
                "the `board` feature builds the QEMU program for a Cortex-M, not for `{target}`: \
                 add `--target thumbv7em-none-eabihf`"
            ));
        }
        let out = PathBuf::from(env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
        let manifest = PathBuf::from(
            env::var_os("CARGO_MANIFEST_DIR").ok_or("CARGO_MANIFEST_DIR is not set")?,
        );
        let workspace = manifest.parent().unwrap_or(&manifest).to_path_buf();

        fs::copy(manifest.join("memory.x"), out.join("memory.x"))
            .map_err(|e| format!("cannot copy memory.x to {}: {e}", out.display()))?;
        println!("cargo:rustc-link-search={}", out.display());
        println!("cargo:rustc-link-arg-bins=-Tlink.x");

        let model = model_path(&workspace)?;
        println!("cargo:rerun-if-changed={}", model.display());
        let model_bytes = fs::read(&model)
            .map_err(|e| format!("cannot read {MODEL_VAR}={}: {e}", model.display()))?;
        if !model_bytes.starts_with(b"FMLP") {
            return Err(format!(
                "{MODEL_VAR}={} is not a .fmlp model file (no FMLP magic)",
                model.display()
            ));
        }

        let count = image_count()?;
        let needed = model_bytes.len() + count * (IMAGE_PIXELS + 1);
        if needed > FLASH_BYTES - CODE_RESERVE {
            return Err(format!(
                "the model ({} bytes) and {count} images ({} bytes) do not fit the 4 MiB code \
                 memory with room for the program: lower {COUNT_VAR}",
                model_bytes.len(),
                count * (IMAGE_PIXELS + 1)
            ));
        }

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

        write(&out.join("model.fmlp"), &model_bytes)?;
        write(&out.join("images.bin"), &images)?;
        write(&out.join("labels.bin"), &labels)?;
        let rust = format!(
            "/// Test images embedded by `build.rs`: the first of the t10k set, from `{}`.\n\
             pub const IMAGE_COUNT: usize = {count};\n",
            dir.display()
        );
        write(&out.join("embedded.rs"), rust.as_bytes())
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

    fn image_count() -> Result<usize, String> {
        let Some(value) = env::var_os(COUNT_VAR) else {
            return Ok(DEFAULT_COUNT);
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
