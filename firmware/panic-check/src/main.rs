//! Links only if no panic survives in what `main` reaches: [`Classifier::new`] of a model the
//! optimiser knows nothing about, and `classify_u8` of the classifiers it accepts, in both
//! scratches and so for every storage (f32, f16, int8).
//!
//! The panic handler calls a function that is defined nowhere, the `panic-never` crate's trick:
//! if any path to a panic (an index out of bounds, an `unwrap`, a slice that might not fit, a
//! division by zero, ...) is left after whole-program optimisation, the handler is referenced
//! and the link fails with `undefined symbol: a_panic_path_survived`. The model bytes, their
//! length and the pixels pass through `black_box`, so nothing is constant-folded: what links
//! holds for every byte string and every image. Build (the `.ci/run` step):
//!
//! ```text
//! cargo build --release --manifest-path firmware/panic-check/Cargo.toml --target thumbv7em-none-eabihf
//! cargo build --release --manifest-path firmware/panic-check/Cargo.toml --target thumbv6m-none-eabi
//! ```
//!
//! Built with `overflow-checks = false`, as the firmware's release builds are: integer overflow
//! wraps there and is not a panic path.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m_rt::entry;
use firmware::{CLASSES, Classifier, INPUTS, Int8Scratch, Scratch};

/// Where the model would be: its bytes reach `Classifier::new` only through `black_box`.
#[repr(C, align(4))]
struct Aligned([u8; 16]);

static MODEL: Aligned = Aligned([0; 16]);
static PIXELS: [u8; INPUTS] = [0; INPUTS];

#[entry]
fn main() -> ! {
    let mut float = Scratch::<INPUTS>::new();
    let mut int8 = Int8Scratch::<INPUTS>::new();
    loop {
        // Opaque to the optimiser: any address, any length, any contents.
        let bytes: &[u8] = black_box(&MODEL.0[..]);
        let pixels: &[u8; INPUTS] = black_box(&PIXELS);
        match Classifier::<INPUTS>::new(bytes) {
            Ok(classifier) => {
                let c = classifier.classify_u8(pixels, &mut float);
                black_box((c.class, c.logits, c.probabilities));
            }
            Err(e) => {
                black_box(e);
            }
        }
        match Classifier::<INPUTS, Int8Scratch<INPUTS>>::with_scratch(bytes) {
            Ok(classifier) => {
                let c = classifier.classify_u8(pixels, &mut int8);
                black_box(c.class < CLASSES);
                black_box((c.class, c.logits, c.probabilities));
            }
            Err(e) => {
                black_box(e);
            }
        }
    }
}

#[cfg(feature = "locate")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

#[cfg(not(feature = "locate"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    unsafe extern "Rust" {
        /// Defined nowhere: referencing it fails the link.
        safe fn a_panic_path_survived() -> !;
    }
    a_panic_path_survived()
}
