//! The Fashion-MNIST application of the [`Engine`]: 784 pixels in, 10 classes out. Checked
//! construction once, infallible classification after.

use heapless::Vec;
use model_format::Model;

use crate::engine::{Engine, Scratch, Scratchpad};
use crate::error::Error;
use crate::softmax::{argmax, softmax, top_k};

/// Inputs of every model the firmware runs: 28 × 28 pixels.
pub const INPUTS: usize = 784;
/// Classes of every model the firmware runs.
pub const CLASSES: usize = 10;

/// The outcome of classifying one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Classification {
    /// Index of the largest logit (lowest index on a tie; see [`argmax`]).
    pub class: usize,
    /// Softmax of the logits, with micromath's `exp`.
    pub probabilities: [f32; CLASSES],
    /// The last layer's outputs before softmax.
    pub logits: [f32; CLASSES],
}

impl Classification {
    /// The `K` classes of the largest logits with their probabilities, largest first, in
    /// [`argmax`]'s order for every input (lower index first on a tie, NaN below every number),
    /// so the first is always [`class`](Self::class).
    ///
    /// # Panics
    /// Never.
    pub fn top_k<const K: usize>(&self) -> Vec<(usize, f32), K> {
        const { assert!(K <= CLASSES, "top_k: K must be at most CLASSES") };
        top_k::<K>(&self.logits)
            .iter()
            .map(|&c| (c, self.probabilities[c]))
            .collect()
    }
}

/// A checked model, ready to classify with a scratch `S` ([`Scratch<CAP>`] unless named).
#[derive(Debug, Clone, Copy)]
pub struct Classifier<'m, const CAP: usize, S = Scratch<CAP>> {
    engine: Engine<'m, INPUTS, CLASSES, CAP, S>,
}

impl<'m, const CAP: usize> Classifier<'m, CAP> {
    /// Checks `bytes` once: a valid model file (see [`Model::from_bytes`]) in any storage that
    /// maps [`INPUTS`] pixels to [`CLASSES`] classes with no layer wider than `CAP`.
    ///
    /// # Errors
    /// [`Error::Model`] with the reason (corrupt file, [`ContractMismatch`], [`TooWide`], ...).
    ///
    /// [`ContractMismatch`]: model_format::Error::ContractMismatch
    /// [`TooWide`]: model_format::Error::TooWide
    pub fn new(bytes: &'m [u8]) -> Result<Self, Error> {
        Self::with_scratch(bytes)
    }

    /// Classifies inputs that are already scaled (f32 and f16 models; an int8 model takes raw
    /// pixels only). The contract allows `|x| ≤` [`max_input`] (`255 · scale`, what the
    /// brightest pixel becomes): the model's activation bounds, checked at load, hold for those.
    ///
    /// # Errors
    /// [`Error::InputOutOfRange`] if an input is NaN, infinite or beyond [`max_input`],
    /// [`Error::NeedsPixels`] for an int8 model.
    ///
    /// [`max_input`]: model_format::InputSpec::max_input
    pub fn classify_f32(
        &self,
        input: &[f32; INPUTS],
        scratch: &mut Scratch<CAP>,
    ) -> Result<Classification, Error> {
        Ok(classification(self.engine.run_f32(input, scratch)?))
    }
}

impl<'m, const CAP: usize, S: Scratchpad> Classifier<'m, CAP, S> {
    /// [`new`](Classifier::new) for a scratch `S` of `CAP` values: also refuses an f32 or f16
    /// model when `S` is an [`Int8Scratch`](crate::Int8Scratch).
    ///
    /// # Errors
    /// As [`new`](Classifier::new), and [`Error::NeedsFloatScratch`].
    #[inline(always)]
    pub fn with_scratch(bytes: &'m [u8]) -> Result<Self, Error> {
        const { assert!(CAP >= INPUTS, "CAP must hold the 784 input pixels") };
        Ok(Classifier {
            engine: Engine::with_scratch(bytes)?,
        })
    }

    /// The checked model (names, provenance, layers).
    pub const fn model(&self) -> &Model<'m> {
        self.engine.model()
    }

    /// The engine it classifies with.
    pub const fn engine(&self) -> &Engine<'m, INPUTS, CLASSES, CAP, S> {
        &self.engine
    }

    /// Classifies raw pixels, scaled by the model's input contract (`p as f32 * scale`; for an
    /// int8 model, `p − 128` with that scale, the same real value).
    ///
    /// # Panics
    /// Never.
    pub fn classify_u8(&self, pixels: &[u8; INPUTS], scratch: &mut S) -> Classification {
        classification(self.engine.run_u8(pixels, scratch))
    }
}

fn classification(logits: [f32; CLASSES]) -> Classification {
    let mut probabilities = [0.0; CLASSES];
    softmax(&logits, &mut probabilities);
    Classification {
        class: argmax(&logits),
        probabilities,
        logits,
    }
}
