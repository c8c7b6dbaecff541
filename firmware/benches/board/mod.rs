//! Building the QEMU board program (`src/bin/qemu.rs`) for a model and a machine, shared by the
//! `m4` benchmark, the `kernels` benchmark's runner and the workspace's QEMU tests
//! (`tests/qemu.rs`, which includes this file by path).
// Each includer uses part of this module.
#![allow(dead_code)]

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A QEMU machine a program runs on, and the Rust target it is built for.
#[derive(Debug)]
pub struct Machine {
    /// QEMU's `-machine` name.
    pub name: &'static str,
    /// The core, for reports.
    pub core: &'static str,
    /// The Rust target.
    pub target: &'static str,
    /// The `qemu-system-arm` arguments that pick the machine.
    pub qemu: &'static [&'static str],
}

/// Arm MPS2+ AN386: a Cortex-M4F with 4 MiB of code memory and 4 MiB of RAM.
pub const MPS2_AN386: Machine = Machine {
    name: "mps2-an386",
    core: "Cortex-M4F",
    target: "thumbv7em-none-eabihf",
    qemu: &["-cpu", "cortex-m4", "-machine", "mps2-an386"],
};

/// The Netduino Plus 2's STM32F405: a Cortex-M4F with 1 MiB of flash at 0x0800_0000 and (in
/// the real chip's map the program links for) 128 KiB of SRAM.
pub const NETDUINOPLUS2: Machine = Machine {
    name: "netduinoplus2",
    core: "Cortex-M4F",
    target: "thumbv7em-none-eabihf",
    qemu: &["-machine", "netduinoplus2"],
};

/// Arm MPS2+ AN505: a Cortex-M33 (the RP2350's core) with 4 MiB of code memory and 4 MiB of
/// RAM.
pub const MPS2_AN505: Machine = Machine {
    name: "mps2-an505",
    core: "Cortex-M33",
    target: "thumbv8m.main-none-eabihf",
    qemu: &["-cpu", "cortex-m33", "-machine", "mps2-an505"],
};

/// The BBC micro:bit's nRF51822: a Cortex-M0 with 256 KiB of flash and 16 KiB of RAM.
pub const MICROBIT: Machine = Machine {
    name: "microbit",
    core: "Cortex-M0",
    target: "thumbv6m-none-eabi",
    qemu: &["-machine", "microbit"],
};

impl Machine {
    /// The `qemu-system-arm` arguments for this machine with semihosting, up to `-kernel`
    /// (the ELF comes next); with `icount_shift`, `-icount shift=N` (virtual time 2^N ns per
    /// instruction).
    pub fn qemu_args(&self, icount_shift: Option<u32>) -> Vec<String> {
        let mut args: Vec<String> = self.qemu.iter().map(|&a| a.to_owned()).collect();
        args.extend(
            [
                "-nographic",
                "-semihosting-config",
                "enable=on,target=native",
            ]
            .map(String::from),
        );
        if let Some(shift) = icount_shift {
            args.extend(["-icount".to_owned(), format!("shift={shift}")]);
        }
        args.push("-kernel".to_owned());
        args
    }
}

/// The scratch the board program classifies in (`FMLP_SCRATCH`, see `build.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScratchChoice {
    /// `Int8Scratch` for an int8 model, `Scratch` otherwise.
    ByModel,
    /// `Scratch`, which runs every storage.
    General,
}

/// Builds the board program for `machine` with `model` and the first `images` Fashion-MNIST
/// test images embedded, with a nested `cargo build --release` into `target_dir`, and returns
/// the ELF. With `data_dir`, the build script reads the images there (`$FASHION_MNIST_DIR`);
/// otherwise it searches its defaults.
///
/// # Errors
/// Cargo cannot start, or the build fails (with cargo's error output).
pub fn build(
    workspace: &Path,
    target_dir: &Path,
    machine: &Machine,
    model: &Path,
    images: usize,
    scratch: ScratchChoice,
    data_dir: Option<&Path>,
) -> Result<PathBuf, String> {
    build_bin(
        "qemu",
        workspace,
        target_dir,
        machine,
        model,
        images,
        scratch,
        data_dir,
        &[],
    )
}

/// [`build`] for the firmware binary `bin` (`qemu`, or `qemu-vector` with `FMLP_INPUTS` in
/// `extra_env`), with extra environment variables for the build script
/// (`FMLP_UNCHECKED_MODEL`, `FMLP_INPUTS`).
///
/// # Errors
/// As [`build`].
#[allow(clippy::too_many_arguments)]
pub fn build_bin(
    bin: &str,
    workspace: &Path,
    target_dir: &Path,
    machine: &Machine,
    model: &Path,
    images: usize,
    scratch: ScratchChoice,
    data_dir: Option<&Path>,
    extra_env: &[(&str, &str)],
) -> Result<PathBuf, String> {
    let target = machine.target;
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args([
            "build",
            "--release",
            "-p",
            "firmware",
            "--features",
            "board",
        ])
        .args(["--target", target, "--bin", bin])
        .env("CARGO_TARGET_DIR", target_dir)
        .env("FMLP_MACHINE", machine.name)
        .env("FMLP_MODEL", model)
        .env("FMLP_IMAGES", images.to_string())
        .env(
            "FMLP_SCRATCH",
            match scratch {
                ScratchChoice::ByModel => "auto",
                ScratchChoice::General => "general",
            },
        )
        // Host flags (e.g. `-C target-cpu=native`) must not reach the Cortex-M build.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    command.env_remove("FMLP_UNCHECKED_MODEL");
    command.env_remove("FMLP_INPUTS");
    command.envs(extra_env.iter().copied());
    if let Some(dir) = data_dir {
        command.env("FASHION_MNIST_DIR", dir);
    }
    let build = command
        .output()
        .map_err(|e| format!("cannot start cargo: {e}"))?;
    if !build.status.success() {
        return Err(format!(
            "building the board program for {} on {} failed ({}; is `rustup target add \
             {target}` done?):\n{}",
            model.display(),
            machine.name,
            build.status,
            String::from_utf8_lossy(&build.stderr)
        ));
    }
    Ok(target_dir.join(target).join("release").join(bin))
}
