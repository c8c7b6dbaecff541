//! Checked construction once, infallible classification after.

use heapless::Vec;
use model_format::{Activation, Model};

use crate::{Error, activation, dense, softmax};

/// Inputs of every model the firmware runs: 28 × 28 pixels.
pub const INPUTS: usize = 784;
/// Classes of every model the firmware runs.
pub const CLASSES: usize = 10;

/// The activation RAM: two ping-pong buffers of `CAP` floats each (`8 · CAP` bytes).
///
/// `CAP` must cover the widest layer side; [`Classifier::new`] refuses a model that needs more.
/// Every trainer variant needs 784 (the input layer), so `Scratch<784>` takes 6,272 bytes.
#[derive(Debug, Clone)]
pub struct Scratch<const CAP: usize> {
    a: [f32; CAP],
    b: [f32; CAP],
}

impl<const CAP: usize> Scratch<CAP> {
    /// Zeroed buffers; `const`, so they can live in a `static`.
    pub const fn new() -> Self {
        const { assert!(CAP >= INPUTS, "CAP must hold the 784 input pixels") };
        Scratch {
            a: [0.0; CAP],
            b: [0.0; CAP],
        }
    }
}

impl<const CAP: usize> Default for Scratch<CAP> {
    fn default() -> Self {
        Self::new()
    }
}

/// The outcome of classifying one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Classification {
    /// Index of the largest logit (lowest index on a tie).
    pub class: usize,
    /// Softmax of the logits, with micromath's `exp`.
    pub probabilities: [f32; CLASSES],
    /// The last layer's outputs before softmax.
    pub logits: [f32; CLASSES],
}

impl Classification {
    /// The `K` most probable classes with their probabilities, most probable first (lower
    /// index first on a tie).
    pub fn top_k<const K: usize>(&self) -> Vec<(usize, f32), K> {
        const { assert!(K <= CLASSES, "top_k: K must be at most CLASSES") };
        let mut order: [usize; CLASSES] = core::array::from_fn(|i| i);
        // Stable insertion sort by descending logit: 10 elements, no allocation.
        for i in 1..CLASSES {
            let mut j = i;
            while j > 0 && self.logits[order[j]] > self.logits[order[j - 1]] {
                order.swap(j, j - 1);
                j -= 1;
            }
        }
        order
            .iter()
            .take(K)
            .map(|&c| (c, self.probabilities[c]))
            .collect()
    }
}

/// A checked model, ready to classify with a [`Scratch<CAP>`].
#[derive(Debug, Clone, Copy)]
pub struct Classifier<'m, const CAP: usize> {
    model: Model<'m>,
}

impl<'m, const CAP: usize> Classifier<'m, CAP> {
    /// Checks `bytes` once: a valid model file (see [`Model::from_bytes`]) that maps
    /// [`INPUTS`] pixels to [`CLASSES`] classes with no layer wider than `CAP`.
    ///
    /// # Errors
    /// [`Error::Model`] with the reason (corrupt file, [`ContractMismatch`], [`TooWide`], ...).
    ///
    /// [`ContractMismatch`]: model_format::Error::ContractMismatch
    /// [`TooWide`]: model_format::Error::TooWide
    pub fn new(bytes: &'m [u8]) -> Result<Self, Error> {
        let model = Model::from_bytes(bytes)?;
        if let Some(layer) = model
            .layers()
            .iter()
            .position(|l| l.params().f32().is_none())
        {
            return Err(Error::UnsupportedStorage { layer });
        }
        model.check_contract(INPUTS, CLASSES)?;
        model.check_capacity(CAP)?;
        Ok(Classifier { model })
    }

    /// The checked model (names, provenance, layers).
    pub const fn model(&self) -> &Model<'m> {
        &self.model
    }

    /// Classifies raw pixels, scaled by the model's input contract (`p as f32 * scale`).
    ///
    /// # Panics
    /// Never.
    pub fn classify_u8(&self, pixels: &[u8; INPUTS], scratch: &mut Scratch<CAP>) -> Classification {
        let scale = self.model.input().scale;
        for (x, &p) in scratch.a.iter_mut().zip(pixels) {
            *x = f32::from(p) * scale;
        }
        self.run(scratch)
    }

    /// Classifies inputs that are already scaled.
    ///
    /// # Errors
    /// [`Error::NonFiniteInput`] if an input is NaN or infinite.
    pub fn classify_f32(
        &self,
        input: &[f32; INPUTS],
        scratch: &mut Scratch<CAP>,
    ) -> Result<Classification, Error> {
        if let Some(index) = input.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteInput { index });
        }
        scratch.a[..INPUTS].copy_from_slice(input);
        Ok(self.run(scratch))
    }

    /// Runs the layers from `scratch.a[..INPUTS]`, ping-ponging between the two buffers.
    fn run(&self, scratch: &mut Scratch<CAP>) -> Classification {
        let (mut src, mut dst) = (&mut scratch.a, &mut scratch.b);
        let mut width = INPUTS;
        for layer in self.model.layers() {
            // `check_capacity` guaranteed both sides fit in CAP.
            let out = &mut dst[..layer.outputs()];
            // `new` refused every other storage.
            if let Some((weights, bias)) = layer.params().f32() {
                dense::dense(weights, bias, &src[..width], out);
            }
            if layer.activation() == Activation::Relu {
                activation::relu(out);
            }
            width = layer.outputs();
            core::mem::swap(&mut src, &mut dst);
        }
        let mut logits = [0.0; CLASSES];
        logits.copy_from_slice(&src[..CLASSES]);
        let mut probabilities = [0.0; CLASSES];
        softmax::softmax(&logits, &mut probabilities);
        Classification {
            class: softmax::argmax(&logits),
            probabilities,
            logits,
        }
    }
}
