//! The build-time budget check of every board program (the QEMU machines of `build.rs` and the
//! board crates under `boards/`, whose build scripts include this file by path): a model that
//! does not fit a board's flash beside the program, or whose buffers and stack do not fit its
//! RAM, fails the build with a message naming the board, its budget, the model's size and the
//! storages of that model that would fit, instead of a linker error (`region FLASH overflowed`)
//! or a stack overflow on the device. Host code (std), not part of the no_std library.
// Each includer uses part of this module.
#![allow(dead_code)]

use model_format::{Model, Storage, block_len};

/// What a board offers and what its program takes besides the model, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// The board, as the user knows it (`nRF52840-DK`, QEMU `microbit`).
    pub board: &'static str,
    /// Flash (code memory) in the memory map.
    pub flash: usize,
    /// RAM in the memory map.
    pub ram: usize,
    /// Flash kept for the program: vector table, code, constants other than the model,
    /// measured with every storage's kernels linked, plus a margin.
    pub program: usize,
    /// RAM kept for statics and the stack frames besides the scratch (the model view, the
    /// decoder, the kernels, the output channel), measured, plus a margin.
    pub stack: usize,
    /// The activation scratch of a float model (`Scratch<784>`).
    pub float_scratch: usize,
    /// The activation scratch of an int8 model (`Int8Scratch<784>` on this core, or
    /// `float_scratch` where the program runs int8 in `Scratch`).
    pub int8_scratch: usize,
}

/// `Scratch<784>`: two buffers of 784 f32.
pub const FLOAT_SCRATCH: usize = 2 * 784 * 4;
/// `Int8Scratch<784>` without the SMLAD kernel's pack buffer (Cortex-M0, M33).
pub const INT8_SCRATCH: usize = 2 * 784;
/// `Int8Scratch<784>` on a Cortex-M4/M7: two int8 buffers and 784 packed 16-bit halves.
pub const INT8_SCRATCH_DSP: usize = 2 * 784 + 2 * 784;

const STORAGES: [Storage; 3] = [Storage::F32, Storage::F16, Storage::Int8];

impl Budget {
    /// The budget of `board` with `flash` and `ram` bytes, keeping `program` bytes of flash and
    /// `stack` bytes of RAM, with a float model in `Scratch<784>` and an int8 one in
    /// `int8_scratch` bytes.
    pub const fn new(
        board: &'static str,
        (flash, ram): (usize, usize),
        (program, stack): (usize, usize),
        int8_scratch: usize,
    ) -> Self {
        Budget {
            board,
            flash,
            ram,
            program,
            stack,
            float_scratch: FLOAT_SCRATCH,
            int8_scratch,
        }
    }

    /// RAM the program needs for a model in `storage`.
    pub fn ram_needed(&self, storage: Storage) -> usize {
        self.stack
            + match storage {
                Storage::Int8 => self.int8_scratch,
                Storage::F32 | Storage::F16 => self.float_scratch,
            }
    }

    /// Checks that `model` (the file of `model_len` bytes) and `extra` bytes of other embedded
    /// data (named `extra_name`, e.g. test images) fit; `Err` is the message for the user.
    pub fn check(
        &self,
        model: &Model<'_>,
        model_len: usize,
        extra: usize,
        extra_name: &str,
    ) -> Result<(), String> {
        let storage = storage_of(model);
        let fits = |len: usize, storage: Storage| {
            len + extra + self.program <= self.flash && self.ram_needed(storage) <= self.ram
        };
        if fits(model_len, storage) {
            return Ok(());
        }
        let room = self.flash.saturating_sub(self.program);
        let mut message = format!(
            "the {} model `{}` ({} bytes, {}) does not fit {}: flash {} KiB, of which {} KiB are \
             kept for the program, leaves {room} bytes for the model",
            storage.name(),
            model.variant(),
            model_len,
            shape(model),
            self.board,
            self.flash >> 10,
            self.program >> 10,
        );
        if extra > 0 {
            message += &format!(" and {extra} bytes of {extra_name}");
        }
        message += &format!(
            "; RAM {} KiB, of which it needs {} bytes (scratch and stack)",
            self.ram >> 10,
            self.ram_needed(storage)
        );
        if model_len + self.program <= self.flash && self.ram_needed(storage) <= self.ram {
            message += &format!(
                ". The model alone fits: embed fewer {extra_name} (at most {})",
                room - model_len
            );
            return Err(message);
        }
        let candidates: Vec<String> = STORAGES
            .iter()
            .filter(|&&s| s != storage)
            .filter_map(|&s| {
                let len = converted_len(model, model_len, s);
                fits(len, s).then(|| format!("{} (about {len} bytes)", s.name()))
            })
            .collect();
        if candidates.is_empty() {
            message += ". No storage of this model fits (f32, f16 and int8 all tried): choose a \
                        board with more flash or a smaller model";
        } else {
            message += &format!(
                ". Storages of this model that fit: {} — make one with `cargo run --release -p \
                 trainer -- quantize MODEL --to {} --out FILE` (from an f32 file)",
                candidates.join(", "),
                candidates[0].split(' ').next().unwrap_or("int8"),
            );
        }
        Err(message)
    }
}

/// The model's storage: int8 if any layer is (the trainer quantizes all layers alike).
fn storage_of(model: &Model<'_>) -> Storage {
    let layers = model.layers();
    if layers.iter().any(|l| l.storage() == Storage::Int8) {
        Storage::Int8
    } else if layers.iter().any(|l| l.storage() == Storage::F16) {
        Storage::F16
    } else {
        Storage::F32
    }
}

/// `784x196,196x49,49x10`.
fn shape(model: &Model<'_>) -> String {
    model
        .layers()
        .iter()
        .map(|l| format!("{}x{}", l.inputs(), l.outputs()))
        .collect::<Vec<_>>()
        .join(",")
}

/// The file length of `model` with every layer in `storage` (the header differs by a few bytes
/// between format versions, hence "about").
pub fn converted_len(model: &Model<'_>, model_len: usize, storage: Storage) -> usize {
    let block = |s: Storage, l: &model_format::Layer<'_>| {
        // Layer sides are u32 on the wire.
        block_len(s, l.inputs() as u32, l.outputs() as u32) as usize
    };
    let layers = model.layers();
    let now: usize = layers.iter().map(|l| block(l.storage(), l)).sum();
    let then: usize = layers.iter().map(|l| block(storage, l)).sum();
    model_len - now + then
}
