//! Checked construction once, infallible classification after.

use core::marker::PhantomData;

use heapless::Vec;
use model_format::{Activation, Model, Params, round4};

use crate::activation::relu;
use crate::dense::dense;
use crate::dense_f16::dense_f16;
use crate::dense_i8::{Requant, dense_i8_with};
use crate::error::Error;
use crate::softmax::{argmax, ranks_above, softmax};

/// Inputs of every model the firmware runs: 28 × 28 pixels.
pub const INPUTS: usize = 784;
/// Classes of every model the firmware runs.
pub const CLASSES: usize = 10;

/// The activation RAM for every storage: two ping-pong buffers of `CAP` floats each
/// (`8 · CAP` bytes). An int8 model uses the first `CAP` bytes of each as its int8 buffers, and
/// the rest of the first as the Cortex-M4 kernel's packed input.
///
/// `CAP` must cover the widest layer side (for int8, rounded up to a multiple of 4);
/// [`Classifier::new`] refuses a model that needs more. Every trainer variant needs 784 (the
/// input layer), so `Scratch<784>` takes 6,272 bytes.
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

/// The activation RAM of an int8 model alone, for devices where every byte counts: two
/// ping-pong buffers of `CAP` bytes, and on the Cortex-M4 (whose `SMLAD` kernel reads its input
/// packed as 16-bit pairs) `2 · CAP` bytes more for that. `Int8Scratch<784>` takes 1,568 bytes
/// on a Cortex-M0, 3,136 on a Cortex-M4. A [`Classifier`] built with it refuses f32 and f16
/// models.
#[derive(Debug, Clone)]
pub struct Int8Scratch<const CAP: usize> {
    a: [i8; CAP],
    b: [i8; CAP],
    #[cfg(fmlp_dsp)]
    pack: Pack<CAP>,
}

/// `CAP` 16-bit halves, word-aligned: the packed input of a layer of up to `CAP` inputs.
#[cfg(fmlp_dsp)]
#[derive(Debug, Clone)]
#[repr(C, align(4))]
struct Pack<const CAP: usize>([u16; CAP]);

impl<const CAP: usize> Int8Scratch<CAP> {
    /// Zeroed buffers; `const`, so they can live in a `static`.
    pub const fn new() -> Self {
        const { assert!(CAP >= INPUTS, "CAP must hold the 784 input pixels") };
        Int8Scratch {
            a: [0; CAP],
            b: [0; CAP],
            #[cfg(fmlp_dsp)]
            pack: Pack([0; CAP]),
        }
    }
}

impl<const CAP: usize> Default for Int8Scratch<CAP> {
    fn default() -> Self {
        Self::new()
    }
}

mod sealed {
    pub trait Sealed {}
    impl<const CAP: usize> Sealed for super::Scratch<CAP> {}
    impl<const CAP: usize> Sealed for super::Int8Scratch<CAP> {}
}

/// Activation RAM a [`Classifier`] computes in: [`Scratch`] (every storage) or
/// [`Int8Scratch`] (int8 models only). Sealed: the engine relies on the buffers' sizes.
pub trait Scratchpad: sealed::Sealed {
    /// Values each buffer holds.
    const CAP: usize;
    /// Whether f32 and f16 models run in it.
    const FLOAT: bool;
    /// The two f32 buffers, each `CAP` long; `None` if the scratch has none.
    #[doc(hidden)]
    fn float(&mut self) -> Option<(&mut [f32], &mut [f32])>;
    /// The two int8 buffers, each `CAP` long, and the pack buffer of
    /// [`dense_i8_with`](crate::dense_i8::dense_i8_with) (empty where no kernel needs one).
    #[doc(hidden)]
    fn int8(&mut self) -> (&mut [i8], &mut [i8], &mut [u32]);
}

impl<const CAP: usize> Scratchpad for Scratch<CAP> {
    const CAP: usize = CAP;
    const FLOAT: bool = true;
    fn float(&mut self) -> Option<(&mut [f32], &mut [f32])> {
        Some((&mut self.a, &mut self.b))
    }
    fn int8(&mut self) -> (&mut [i8], &mut [i8], &mut [u32]) {
        // `a`'s first CAP bytes (CAP.div_ceil(4) floats) are one int8 buffer, its other
        // 3·CAP bytes or so hold the packed input (at most CAP / 2 words).
        let (a, pack) = self.a.split_at_mut(CAP.div_ceil(4).min(CAP));
        let a: &mut [i8] = bytemuck::cast_slice_mut(a);
        let b: &mut [i8] = bytemuck::cast_slice_mut(&mut self.b);
        (&mut a[..CAP], &mut b[..CAP], bytemuck::cast_slice_mut(pack))
    }
}

impl<const CAP: usize> Scratchpad for Int8Scratch<CAP> {
    const CAP: usize = CAP;
    const FLOAT: bool = false;
    fn float(&mut self) -> Option<(&mut [f32], &mut [f32])> {
        None
    }
    fn int8(&mut self) -> (&mut [i8], &mut [i8], &mut [u32]) {
        #[cfg(fmlp_dsp)]
        let pack: &mut [u32] =
            bytemuck::try_cast_slice_mut(&mut self.pack.0[..CAP & !1]).unwrap_or(&mut []);
        #[cfg(not(fmlp_dsp))]
        let pack: &mut [u32] = &mut [];
        (&mut self.a, &mut self.b, pack)
    }
}

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
        let mut order: [usize; CLASSES] = core::array::from_fn(|i| i);
        // Stable insertion sort by descending rank: 10 elements, no allocation.
        for i in 1..CLASSES {
            let mut j = i;
            while j > 0 && ranks_above(self.logits[order[j]], self.logits[order[j - 1]]) {
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

/// A checked model, ready to classify with a scratch `S` ([`Scratch<CAP>`] unless named).
#[derive(Debug, Clone, Copy)]
pub struct Classifier<'m, const CAP: usize, S = Scratch<CAP>> {
    model: Model<'m>,
    scratch: PhantomData<fn(&mut S)>,
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
        if self.model.is_int8() {
            return Err(Error::NeedsPixels);
        }
        let max = self.model.input().max_input();
        // NaN is not in range either.
        let in_range = |v: &f32| v.abs() <= max;
        if let Some(index) = input.iter().position(|v| !in_range(v)) {
            return Err(Error::InputOutOfRange { index });
        }
        scratch.a[..INPUTS].copy_from_slice(input);
        Ok(classification(run_float(
            &self.model,
            &mut scratch.a,
            &mut scratch.b,
        )))
    }
}

impl<'m, const CAP: usize, S: Scratchpad> Classifier<'m, CAP, S> {
    /// [`new`](Classifier::new) for a scratch `S` of `CAP` values: also refuses an f32 or f16
    /// model when `S` is an [`Int8Scratch`].
    ///
    /// # Errors
    /// As [`new`](Classifier::new), and [`Error::NeedsFloatScratch`].
    pub fn with_scratch(bytes: &'m [u8]) -> Result<Self, Error> {
        const { assert!(S::CAP == CAP, "the scratch must hold CAP values") };
        // Checked where it was decoded and copied once, into the result: `?` would move the
        // ~0.5 KiB view into a second slot of this frame (stack matters on a 16 KiB Cortex-M0).
        let decoded = Model::from_bytes(bytes);
        let model = match &decoded {
            Ok(model) => model,
            Err(e) => return Err(Error::Model(*e)),
        };
        model.check_contract(INPUTS, CLASSES)?;
        model.check_capacity(CAP)?;
        if !model.is_int8() && !S::FLOAT {
            return Err(Error::NeedsFloatScratch);
        }
        Ok(Classifier {
            model: *model,
            scratch: PhantomData,
        })
    }

    /// The checked model (names, provenance, layers).
    pub const fn model(&self) -> &Model<'m> {
        &self.model
    }

    /// Classifies raw pixels, scaled by the model's input contract (`p as f32 * scale`; for an
    /// int8 model, `p − 128` with that scale, the same real value).
    ///
    /// # Panics
    /// Never.
    pub fn classify_u8(&self, pixels: &[u8; INPUTS], scratch: &mut S) -> Classification {
        if self.model.is_int8() {
            let (a, b, pack) = scratch.int8();
            for (x, &p) in a.iter_mut().zip(pixels) {
                *x = (p ^ 0x80) as i8; // p − 128, exactly
            }
            return classification(run_int8(&self.model, a, b, pack));
        }
        // `with_scratch` refused float models for scratches without float buffers.
        let Some((a, b)) = scratch.float() else {
            return classification([0.0; CLASSES]);
        };
        let scale = self.model.input().scale;
        for (x, &p) in a.iter_mut().zip(pixels) {
            *x = f32::from(p) * scale;
        }
        classification(run_float(&self.model, a, b))
    }
}

/// Runs float layers from `a[..INPUTS]`, ping-ponging between the two buffers; the logits.
fn run_float(model: &Model<'_>, a: &mut [f32], b: &mut [f32]) -> [f32; CLASSES] {
    let (mut src, mut dst) = (a, b);
    let mut width = INPUTS;
    for layer in model.layers() {
        // `check_capacity` guaranteed both sides fit in the buffers (`get` only spares the
        // optimiser a panic path it cannot rule out).
        let (Some(out), Some(input)) = (dst.get_mut(..layer.outputs()), src.get(..width)) else {
            break;
        };
        match layer.params() {
            Params::F32 { weights, bias } => dense(weights, bias, input, out),
            Params::F16 { weights, bias } => dense_f16(weights, bias, input, out),
            // A model is int8 throughout or not at all (checked at load).
            Params::Int8(_) => {}
        }
        if layer.activation() == Activation::Relu {
            relu(out);
        }
        width = layer.outputs();
        core::mem::swap(&mut src, &mut dst);
    }
    let mut logits = [0.0; CLASSES];
    for (l, &v) in logits.iter_mut().zip(src.iter()) {
        *l = v;
    }
    logits
}

/// Runs int8 layers from `a[..INPUTS]`; the last layer's outputs dequantized (the only float
/// arithmetic of an int8 model).
fn run_int8(model: &Model<'_>, a: &mut [i8], b: &mut [i8], pack: &mut [u32]) -> [f32; CLASSES] {
    let (mut src, mut dst) = (a, b);
    let mut output = model_format::Quant {
        scale: 1.0,
        zero_point: 0,
    };
    for layer in model.layers() {
        let Params::Int8(p) = layer.params() else {
            // Checked at load: an int8 model has int8 layers only.
            continue;
        };
        let relu = layer.activation() == Activation::Relu;
        let rq = Requant {
            bias: p.bias,
            multiplier: p.multiplier,
            shift: p.shift,
            output_zero_point: p.output.zero_point,
            min: if relu { p.output.zero_point } else { -128 },
            max: 127,
        };
        // `check_capacity` guaranteed whole tiles of both sides fit in the buffers.
        let inputs = layer.inputs();
        let (Some(input), Some(out)) = (src.get(..round4(inputs)), dst.get_mut(..layer.outputs()))
        else {
            break;
        };
        dense_i8_with(
            p.weights,
            inputs,
            input,
            -p.input.zero_point,
            &rq,
            pack,
            out,
        );
        output = p.output;
        core::mem::swap(&mut src, &mut dst);
    }
    let mut logits = [0.0; CLASSES];
    for (l, &q) in logits.iter_mut().zip(src.iter()) {
        *l = (i32::from(q) - output.zero_point) as f32 * output.scale;
    }
    logits
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
