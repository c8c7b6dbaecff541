//! The part of every board program that is not the chip: the board application
//! ([`firmware::app`]) with defmt over RTT as its output channel, the memory report, and what
//! happens at the end. A board crate supplies its timer, its memory map (`memory.x`, and the
//! sizes for the report) and its boot block where the chip needs one, then calls [`run`].
//!
//! Output (`probe-rs run` decodes it): the model line, one line per image (class, label, the ten
//! logits, cycles), the accuracy, the cycle totals and the memory line; a refused model is one
//! `ERROR` line with the model's error, after which the core sleeps (no HardFault, no reset
//! loop). Panics go through panic-probe; a stack overflow hits flip-link's guard (the stack
//! grows down into the bottom of RAM) and faults instead of overwriting statics.
#![no_std]

use defmt_rtt as _;
use panic_probe as _;

pub use firmware;
use firmware::app::{self, Board, ChannelError, Memory, Report, Stop, Timer};
use firmware::{INPUTS, Scratchpad};

// The report uses the flash and RAM figures; the QEMU program also the section sizes.
#[allow(dead_code)]
mod rt;

/// Flash and RAM of the chip, from its datasheet (and its `memory.x`).
#[derive(Debug, Clone, Copy)]
pub struct MemoryMap {
    /// Flash (code memory) in bytes.
    pub flash: usize,
    /// RAM in bytes (the region `memory.x` calls RAM).
    pub ram: usize,
}

/// A board that reports through defmt.
struct Rtt<T> {
    timer: T,
    map: MemoryMap,
    test_images: usize,
}

impl<T: Timer> Board for Rtt<T> {
    type Timer = T;

    fn timer(&mut self) -> &mut T {
        &mut self.timer
    }

    fn report(&mut self, report: &Report<'_>) -> Result<(), ChannelError> {
        match report {
            Report::Model {
                model,
                images,
                scratch,
            } => {
                defmt::println!(
                    "model {=str} params {=usize} images {=usize} scratch {=usize} B",
                    model.variant(),
                    model.param_count(),
                    images,
                    scratch
                );
                for (i, layer) in model.layers().iter().enumerate() {
                    defmt::println!(
                        "layer {=usize} {=usize}x{=usize} {=str}",
                        i,
                        layer.inputs(),
                        layer.outputs(),
                        layer.storage().name()
                    );
                }
            }
            Report::Refused(e) => defmt::error!("model refused: {}", e),
            Report::Image {
                index,
                class,
                label,
                logits,
                ticks,
            } => defmt::println!(
                "img {=usize} pred {=usize} label {=u8} logits {=[?]} cycles {=u32}",
                index,
                class,
                label,
                &logits[..],
                ticks
            ),
            Report::Summary { correct, images } => {
                let per_10k = app::accuracy_per_10k(*correct, *images);
                defmt::println!(
                    "summary correct {=usize} of {=usize} accuracy {=usize}.{=usize:04}",
                    correct,
                    images,
                    per_10k / 10_000,
                    per_10k % 10_000
                );
            }
            Report::Time {
                timer,
                hz,
                total,
                min,
                max,
            } => defmt::println!(
                "time timer {=str} hz {=u32} cycles {=u64} min {=u32} max {=u32}",
                timer,
                hz,
                total,
                min,
                max
            ),
            Report::Memory(m) => defmt::println!(
                "mem flash {=usize} of {=usize} (test images {=usize}) ram static {=usize} stack {=usize} of {=usize}",
                m.flash_used,
                m.flash_size,
                m.test_images,
                m.static_ram,
                m.stack,
                m.ram_size
            ),
        }
        Ok(())
    }

    fn memory(&self) -> Memory {
        let s = rt::sections();
        Memory {
            flash_size: self.map.flash,
            flash_used: s.flash,
            ram_size: self.map.ram,
            static_ram: s.static_ram,
            stack: rt::stack_high_water(),
            test_images: self.test_images,
        }
    }
}

/// Runs the board application on the embedded `model` and test images with `timer`, then
/// sleeps: after `done` on success, after the model's error if it was refused.
///
/// # Shapes
/// `images`: one `[u8; 784]` per image; `labels`: one per image.
pub fn run<S: Scratchpad + Default, T: Timer>(
    timer: T,
    map: MemoryMap,
    model: &[u8],
    images: &[[u8; INPUTS]],
    labels: &[u8],
) -> ! {
    let mut board = Rtt {
        timer,
        map,
        test_images: size_of_val(images) + labels.len(),
    };
    match app::run::<_, S>(&mut board, model, images, labels) {
        Ok(()) => defmt::println!("done"),
        // Already reported; nothing to classify with.
        Err(Stop::Refused(_)) => defmt::println!("stopped: the model was refused"),
        Err(Stop::Channel) => {}
    }
    loop {
        cortex_m::asm::wfi();
    }
}

/// Runs [`run`] on what the board crate's build script embedded (`$OUT_DIR/model.fmlp`,
/// `images.bin`, `labels.bin` and `embedded.rs`, see `build_support.rs`), with `timer` and
/// `map`. Expands in the board crate, so `OUT_DIR` is the board's.
#[macro_export]
macro_rules! run_embedded {
    ($timer:expr, $map:expr) => {{
        mod embedded {
            include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
        }
        /// 4-byte alignment, so the model's weights are read in place as `f32` or `i32`.
        #[repr(C, align(4))]
        struct Aligned<T: ?Sized>(T);
        static MODEL: &Aligned<[u8]> =
            &Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/model.fmlp")));
        static IMAGES: &[u8; embedded::IMAGE_COUNT * $crate::firmware::INPUTS] =
            include_bytes!(concat!(env!("OUT_DIR"), "/images.bin"));
        static LABELS: &[u8; embedded::IMAGE_COUNT] =
            include_bytes!(concat!(env!("OUT_DIR"), "/labels.bin"));
        $crate::run::<embedded::ModelScratch, _>(
            $timer,
            $map,
            &MODEL.0,
            IMAGES.as_chunks::<{ $crate::firmware::INPUTS }>().0,
            LABELS,
        )
    }};
}
