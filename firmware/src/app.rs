//! The board application: classify a board's embedded test images, time each inference and
//! report what a user needs to judge the board (class, label, logits, accuracy, cycles, flash,
//! RAM). Every board program, emulated or real, is this one [`run`]; a board supplies only its
//! output channel ([`Board::report`]), its timer ([`Board::Timer`]) and its memory map and use
//! ([`Board::memory`]).
//!
//! The reports are values ([`Report`]), not text, so a board renders them in its own channel:
//! semihosting lines through `core::fmt` on QEMU, defmt frames (no `core::fmt`) over RTT on
//! hardware.
//!
//! Stack: decoding the model and classifying happen in two frames that never coexist
//! (`load`, `classify_all`), so the peak is the larger of the two, not their sum: the
//! decoder copies the ~0.5 KiB model view a few times, classifying needs the scratch.

use model_format::Model;

use crate::classifier::{CLASSES, Classifier, INPUTS};
use crate::engine::Scratchpad;
use crate::error::Error;

/// A free-running counter of the core's clock (or a fixed fraction of it).
pub trait Timer {
    /// What it counts, for the report (`"dwt_cycles"`, `"systick"`).
    const NAME: &'static str;
    /// Ticks per second.
    const HZ: u32;
    /// The current count.
    fn now(&mut self) -> u32;
    /// Ticks from `start` (an earlier [`now`](Timer::now)) to now; correct across one wrap of
    /// the counter.
    fn since(&mut self, start: u32) -> u32;
}

/// A board's memory map (what it has) and use (what this program takes of it), in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Memory {
    /// Flash (code memory) of the chip.
    pub flash_size: usize,
    /// Flash the image occupies: vector table, code, constants (model and test images
    /// included) and the load copy of `.data`.
    pub flash_used: usize,
    /// RAM of the chip (the region `.data`, `.bss` and the stack live in).
    pub ram_size: usize,
    /// `.data` + `.bss` + `.uninit`.
    pub static_ram: usize,
    /// Stack high-water mark since reset.
    pub stack: usize,
    /// The embedded test images and labels (in `flash_used`; not part of a deployment).
    pub test_images: usize,
}

/// One thing the application reports, in order: [`Model`](Report::Model) (or
/// [`Refused`](Report::Refused), then nothing more), one [`Image`](Report::Image) per test
/// image, [`Summary`](Report::Summary), [`Time`](Report::Time), [`Memory`](Report::Memory).
#[derive(Debug, Clone, Copy)]
pub enum Report<'a> {
    /// The model was checked and will be run.
    Model {
        /// The checked model (variant, parameters, layers).
        model: &'a Model<'a>,
        /// Test images that follow.
        images: usize,
        /// Bytes of the activation scratch the images are classified in.
        scratch: usize,
    },
    /// The model was refused: the application stops here.
    Refused(Error),
    /// One classified image.
    Image {
        /// Index in the embedded images (the t10k set's order).
        index: usize,
        /// Predicted class.
        class: usize,
        /// The image's label.
        label: u8,
        /// The last layer's outputs.
        logits: [f32; CLASSES],
        /// Timer ticks the classification took.
        ticks: u32,
    },
    /// Accuracy over the images.
    Summary {
        /// Images classified as their label.
        correct: usize,
        /// Images classified.
        images: usize,
    },
    /// Timer ticks over all images.
    Time {
        /// [`Timer::NAME`].
        timer: &'static str,
        /// [`Timer::HZ`].
        hz: u32,
        /// Sum over the images.
        total: u64,
        /// Fewest ticks of one image.
        min: u32,
        /// Most ticks of one image.
        max: u32,
    },
    /// The board's memory, read after the images (so the stack high-water covers them).
    Memory(Memory),
}

/// What a board supplies to the application.
pub trait Board {
    /// Its cycle counter: DWT CYCCNT where the core has one, SysTick otherwise.
    type Timer: Timer;
    /// The timer, running.
    fn timer(&mut self) -> &mut Self::Timer;
    /// Sends one report down the board's output channel.
    ///
    /// # Errors
    /// The channel failed (the application stops).
    fn report(&mut self, report: &Report<'_>) -> Result<(), ChannelError>;
    /// The memory map and what this program uses of it.
    fn memory(&self) -> Memory;
}

/// A board's output channel failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelError;

/// Why [`run`] stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The model was refused (and reported).
    Refused(Error),
    /// The output channel failed.
    Channel,
}

impl From<ChannelError> for Stop {
    fn from(_: ChannelError) -> Self {
        Stop::Channel
    }
}

/// Accuracy in units of 0.0001: `correct · 10,000 / images`, rounded down (integer arithmetic,
/// so a board needs no float formatting).
pub const fn accuracy_per_10k(correct: usize, images: usize) -> usize {
    match (correct * 10_000).checked_div(images) {
        Some(a) => a,
        None => 0,
    }
}

/// The application: checks `model` for a scratch `S`, then classifies each of `images` (with
/// its label), timing each `classify_u8` call, and reports as [`Report`] describes.
///
/// # Errors
/// [`Stop::Refused`] after reporting a refused model; [`Stop::Channel`] if the board's output
/// channel fails.
///
/// # Panics
/// Never (the images are paired with labels up to the shorter of the two).
pub fn run<B: Board, S: Scratchpad + Default>(
    board: &mut B,
    model: &[u8],
    images: &[[u8; INPUTS]],
    labels: &[u8],
) -> Result<(), Stop> {
    // Borrowed in place, so this frame holds the model view once.
    let loaded = load::<S>(model);
    let classifier = match &loaded {
        Ok(classifier) => classifier,
        Err(e) => {
            board.report(&Report::Refused(*e))?;
            return Err(Stop::Refused(*e));
        }
    };
    classify_all(board, classifier, images, labels)?;
    let memory = board.memory();
    board.report(&Report::Memory(memory))?;
    Ok(())
}

/// Checks the model; out of line so its frame is gone before [`classify_all`]'s exists.
#[inline(never)]
fn load<S: Scratchpad>(model: &[u8]) -> Result<Classifier<'_, INPUTS, S>, Error> {
    Classifier::with_scratch(model)
}

/// Classifies and reports every image, then the summary and the timing.
#[inline(never)]
fn classify_all<B: Board, S: Scratchpad + Default>(
    board: &mut B,
    classifier: &Classifier<'_, INPUTS, S>,
    images: &[[u8; INPUTS]],
    labels: &[u8],
) -> Result<(), Stop> {
    // On the stack, not in a `static`: the decoding phase's peak then shares these bytes.
    let mut scratch = S::default();
    let count = images.len().min(labels.len());
    board.report(&Report::Model {
        model: classifier.model(),
        images: count,
        scratch: size_of::<S>(),
    })?;
    let (mut correct, mut total, mut min, mut max) = (0usize, 0u64, u32::MAX, 0u32);
    for (index, (pixels, &label)) in images.iter().zip(labels).enumerate() {
        let start = board.timer().now();
        let result = classifier.classify_u8(pixels, &mut scratch);
        let ticks = board.timer().since(start);
        total += u64::from(ticks);
        (min, max) = (min.min(ticks), max.max(ticks));
        correct += usize::from(result.class == usize::from(label));
        board.report(&Report::Image {
            index,
            class: result.class,
            label,
            logits: result.logits,
            ticks,
        })?;
    }
    board.report(&Report::Summary {
        correct,
        images: count,
    })?;
    board.report(&Report::Time {
        timer: B::Timer::NAME,
        hz: B::Timer::HZ,
        total,
        min: if count == 0 { 0 } else { min },
        max,
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scratch;
    use model_format::{Activation, InputSpec, LayerSpec, ModelSpec, Provenance, encode};

    /// Counts one tick per call to `now`.
    struct Counter(u32);
    impl Timer for Counter {
        const NAME: &'static str = "calls";
        const HZ: u32 = 1;
        fn now(&mut self) -> u32 {
            self.0 += 1;
            self.0
        }
        fn since(&mut self, start: u32) -> u32 {
            self.now().wrapping_sub(start)
        }
    }

    /// Keeps what was reported, as text.
    struct Recorder(Counter, std::vec::Vec<std::string::String>);
    impl Board for Recorder {
        type Timer = Counter;
        fn timer(&mut self) -> &mut Counter {
            &mut self.0
        }
        fn report(&mut self, report: &Report<'_>) -> Result<(), ChannelError> {
            let line = match report {
                Report::Model { images, .. } => format!("model {images}"),
                Report::Refused(e) => format!("refused {e}"),
                Report::Image {
                    index,
                    class,
                    label,
                    ticks,
                    ..
                } => format!("img {index} {class} {label} {ticks}"),
                Report::Summary { correct, images } => format!("summary {correct} {images}"),
                Report::Time { total, .. } => format!("time {total}"),
                Report::Memory(m) => format!("mem {}", m.flash_size),
            };
            self.1.push(line);
            Ok(())
        }
        fn memory(&self) -> Memory {
            Memory {
                flash_size: 7,
                ..Memory::default()
            }
        }
    }

    /// A model whose class is always 3: zero weights, bias one-hot on 3.
    fn class_three() -> model_format::AlignedBytes {
        let w = vec![0.0f32; 784 * 10];
        let mut b = [0.0f32; 10];
        b[3] = 1.0;
        let layers = [LayerSpec::f32(784, 10, Activation::Softmax, &w, &b)];
        let names = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
        encode(&ModelSpec {
            variant: "three",
            provenance: Provenance {
                seed: 0,
                epochs: 0,
                test_accuracy: 0.1,
                note: "",
            },
            input: InputSpec {
                width: 28,
                height: 28,
                scale: 1.0 / 255.0,
            },
            class_names: &names,
            layers: &layers,
        })
        .unwrap()
    }

    #[test]
    fn reports_in_order_with_accuracy_and_one_tick_per_image() {
        let model = class_three();
        let images = [[0u8; INPUTS]; 3];
        let mut board = Recorder(Counter(0), vec![]);
        run::<_, Scratch<INPUTS>>(&mut board, model.as_bytes(), &images, &[3, 1, 3]).unwrap();
        assert_eq!(
            board.1,
            [
                "model 3",
                "img 0 3 3 1",
                "img 1 3 1 1",
                "img 2 3 3 1",
                "summary 2 3",
                "time 3",
                "mem 7"
            ]
        );
        assert_eq!(accuracy_per_10k(2, 3), 6_666);
    }

    #[test]
    fn a_corrupt_model_is_reported_and_stops() {
        let mut model = class_three().as_bytes().to_vec();
        let last = model.len() - 1;
        model[last] ^= 1;
        let mut board = Recorder(Counter(0), vec![]);
        let stop = run::<_, Scratch<INPUTS>>(&mut board, &model, &[[0; INPUTS]], &[0]);
        assert!(matches!(stop, Err(Stop::Refused(Error::Model(_)))));
        assert_eq!(board.1.len(), 1);
        assert!(
            board.1[0].starts_with("refused model refused"),
            "{:?}",
            board.1
        );
    }
}
