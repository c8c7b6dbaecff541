//! The engine: any chain of dense layers, checked once, infallible after.
//!
//! [`Engine::new`] checks a model file once: everything [`Model::from_bytes`] checks, that it
//! maps `IN` inputs to `OUT` outputs, and that no layer is wider than the scratch's `CAP`.
//! After that, running it cannot fail (for `u8` inputs) and cannot panic. `IN`, `OUT` and `CAP`
//! are const generics, so every buffer's size is known at compile time and can live in a
//! `static`; the weights are read in place from the model bytes.
//!
//! What the outputs mean is the file's to say, through its last layer's activation
//! (`FORMAT.md`, "What the outputs mean"):
//! - `None`: the last layer's values are the model's outputs, as they are (a regression's
//!   values, or a classifier's logits);
//! - `Relu`: the same, clamped at 0;
//! - `Softmax`: the model's outputs are the softmax of those values, probabilities.
//!
//! [`run_u8`](Engine::run_u8) and [`run_f32`](Engine::run_f32) give the last layer's values
//! (before a softmax); [`predict_u8`](Engine::predict_u8) and
//! [`predict_f32`](Engine::predict_f32) give the model's outputs as the file defines them. A
//! classifier takes [`argmax`](crate::softmax::argmax) or [`top_k`](crate::softmax::top_k) of
//! either (softmax does not change the order); [`Classifier`](crate::Classifier), the
//! Fashion-MNIST application, is such a use with `IN = 784` and `OUT = 10`.
//!
//! Inputs follow the file's input contract ([`InputSpec`](model_format::InputSpec)): a raw
//! `u8` value `p` enters as `p · scale` (an int8 model reads it as `p − 128` with that scale and
//! zero point −128, the same real value), and an f32 input enters as it is, provided
//! `|x| ≤ 255 · scale`, the bound every activation check of the file was made for.

use core::marker::PhantomData;

use model_format::{Activation, Model, Params, round4};

use crate::activation::relu;
use crate::dense::dense;
use crate::dense_f16::dense_f16;
use crate::dense_i8::{Requant, dense_i8_with};
use crate::error::Error;
use crate::softmax::softmax;

/// The activation RAM for every storage: two ping-pong buffers of `CAP` floats each
/// (`8 · CAP` bytes). An int8 model uses the first `CAP` bytes of each as its int8 buffers, and
/// the rest of the first as the Cortex-M4 kernel's packed input.
///
/// `CAP` must cover the widest layer side (for int8, rounded up to a multiple of 4);
/// [`Engine::new`] refuses a model that needs more. Every Fashion-MNIST variant of the trainer
/// needs 784 (the input layer), so `Scratch<784>` takes 6,272 bytes; a 13-input sensor model
/// with 32 hidden units needs `Scratch<32>`, 256 bytes.
#[derive(Debug, Clone)]
pub struct Scratch<const CAP: usize> {
    a: [f32; CAP],
    b: [f32; CAP],
}

impl<const CAP: usize> Scratch<CAP> {
    /// Zeroed buffers; `const`, so they can live in a `static`.
    pub const fn new() -> Self {
        const { assert!(CAP >= 1, "CAP must hold at least one value") };
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
/// on a Cortex-M0, 3,136 on a Cortex-M4. An [`Engine`] built with it refuses f32 and f16
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
        const { assert!(CAP >= 1, "CAP must hold at least one value") };
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

/// Activation RAM an [`Engine`] computes in: [`Scratch`] (every storage) or
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

/// What a model's outputs are, from its last layer's activation (`FORMAT.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Outputs {
    /// The last layer's values as they are (activation `None` or `Relu`): regression values or
    /// logits.
    Values,
    /// The softmax of the last layer's values (activation `Softmax`): probabilities.
    Probabilities,
}

/// A checked model of `IN` inputs and `OUT` outputs, ready to run in a scratch `S`
/// ([`Scratch<CAP>`] unless named).
#[derive(Debug, Clone, Copy)]
pub struct Engine<'m, const IN: usize, const OUT: usize, const CAP: usize, S = Scratch<CAP>> {
    model: Model<'m>,
    scratch: PhantomData<fn(&mut S)>,
}

impl<'m, const IN: usize, const OUT: usize, const CAP: usize> Engine<'m, IN, OUT, CAP> {
    /// Checks `bytes` once: a valid model file (see [`Model::from_bytes`]) in any storage
    /// whose first layer takes `IN` inputs and whose last gives `OUT` outputs, with no layer
    /// wider than `CAP`.
    ///
    /// # Errors
    /// [`Error::Model`] with the reason (corrupt file, [`ContractMismatch`], [`TooWide`], ...).
    ///
    /// [`ContractMismatch`]: model_format::Error::ContractMismatch
    /// [`TooWide`]: model_format::Error::TooWide
    #[inline(always)]
    pub fn new(bytes: &'m [u8]) -> Result<Self, Error> {
        Self::with_scratch(bytes)
    }

    /// The last layer's values for f32 inputs taken as they are (f32 and f16 models; an int8
    /// model takes `u8` inputs only). The contract allows `|x| ≤` [`max_input`] (`255 ·
    /// scale`): the model's activation bounds, checked at load, hold for those.
    ///
    /// # Errors
    /// [`Error::InputOutOfRange`] if an input is NaN, infinite or beyond [`max_input`],
    /// [`Error::NeedsPixels`] for an int8 model.
    ///
    /// [`max_input`]: model_format::InputSpec::max_input
    pub fn run_f32(
        &self,
        input: &[f32; IN],
        scratch: &mut Scratch<CAP>,
    ) -> Result<[f32; OUT], Error> {
        if self.model.is_int8() {
            return Err(Error::NeedsPixels);
        }
        let max = self.model.input().max_input();
        // NaN is not in range either.
        let in_range = |v: &f32| v.abs() <= max;
        if let Some(index) = input.iter().position(|v| !in_range(v)) {
            return Err(Error::InputOutOfRange { index });
        }
        let (a, b) = (&mut scratch.a, &mut scratch.b);
        for (x, &v) in a.iter_mut().zip(input) {
            *x = v;
        }
        Ok(run_float::<IN, OUT>(&self.model, a, b))
    }

    /// The model's outputs for f32 inputs, as its last layer's activation defines them
    /// ([`run_f32`](Self::run_f32), then softmax if the file says [`Outputs::Probabilities`]).
    ///
    /// # Errors
    /// As [`run_f32`](Self::run_f32).
    pub fn predict_f32(
        &self,
        input: &[f32; IN],
        scratch: &mut Scratch<CAP>,
    ) -> Result<[f32; OUT], Error> {
        Ok(self.outputs_from(self.run_f32(input, scratch)?))
    }
}

impl<'m, const IN: usize, const OUT: usize, const CAP: usize, S: Scratchpad>
    Engine<'m, IN, OUT, CAP, S>
{
    /// [`new`](Engine::new) for a scratch `S` of `CAP` values: also refuses an f32 or f16
    /// model when `S` is an [`Int8Scratch`].
    ///
    /// # Errors
    /// As [`new`](Engine::new), and [`Error::NeedsFloatScratch`].
    #[inline(always)]
    pub fn with_scratch(bytes: &'m [u8]) -> Result<Self, Error> {
        const {
            assert!(S::CAP == CAP, "the scratch must hold CAP values");
            assert!(IN >= 1 && IN <= CAP, "the scratch must hold the IN inputs");
            assert!(
                OUT >= 1 && OUT <= CAP,
                "the scratch must hold the OUT outputs"
            );
        };
        // Checked where it was decoded and copied once, into the result: `?` would move the
        // ~0.5 KiB view into a second slot of this frame (stack matters on a 16 KiB Cortex-M0).
        let decoded = Model::from_bytes(bytes);
        let model = match &decoded {
            Ok(model) => model,
            Err(e) => return Err(Error::Model(*e)),
        };
        model.check_contract(IN, OUT)?;
        model.check_capacity(CAP)?;
        if !model.is_int8() && !S::FLOAT {
            return Err(Error::NeedsFloatScratch);
        }
        Ok(Engine {
            model: *model,
            scratch: PhantomData,
        })
    }

    /// The checked model (names, provenance, layers).
    pub const fn model(&self) -> &Model<'m> {
        &self.model
    }

    /// What the outputs are, from the last layer's activation.
    pub fn outputs(&self) -> Outputs {
        match self.model.layers().last().map(|l| l.activation()) {
            Some(Activation::Softmax) => Outputs::Probabilities,
            _ => Outputs::Values,
        }
    }

    /// The last layer's values for raw `u8` inputs, scaled by the model's input contract
    /// (`p as f32 * scale`; for an int8 model, `p − 128` with that scale, the same real value,
    /// and the int8 outputs dequantized).
    ///
    /// # Panics
    /// Never.
    pub fn run_u8(&self, input: &[u8; IN], scratch: &mut S) -> [f32; OUT] {
        if self.model.is_int8() {
            let (q, quant) = self.int8(input, scratch);
            return dequantize(q, quant);
        }
        // `with_scratch` refused float models for scratches without float buffers.
        let Some((a, b)) = scratch.float() else {
            return [0.0; OUT];
        };
        let scale = self.model.input().scale;
        for (x, &p) in a.iter_mut().zip(input) {
            *x = f32::from(p) * scale;
        }
        run_float::<IN, OUT>(&self.model, a, b)
    }

    /// The last layer's int8 outputs for raw `u8` inputs (what TFLite's int8 kernels give for
    /// the same parameters), or `None` for an f32 or f16 model.
    ///
    /// # Panics
    /// Never.
    pub fn run_u8_int8(&self, input: &[u8; IN], scratch: &mut S) -> Option<[i8; OUT]> {
        self.model.is_int8().then(|| self.int8(input, scratch).0)
    }

    /// The model's outputs for raw `u8` inputs, as its last layer's activation defines them
    /// ([`run_u8`](Self::run_u8), then softmax if the file says
    /// [`Outputs::Probabilities`]).
    ///
    /// # Panics
    /// Never.
    pub fn predict_u8(&self, input: &[u8; IN], scratch: &mut S) -> [f32; OUT] {
        self.outputs_from(self.run_u8(input, scratch))
    }

    fn int8(&self, input: &[u8; IN], scratch: &mut S) -> ([i8; OUT], model_format::Quant) {
        let (a, b, pack) = scratch.int8();
        for (x, &p) in a.iter_mut().zip(input) {
            *x = (p ^ 0x80) as i8; // p − 128, exactly
        }
        run_int8::<OUT>(&self.model, a, b, pack)
    }

    /// The model's outputs from the last layer's `values` (what `run_*` gave): the values
    /// themselves, or their softmax if the file says [`Outputs::Probabilities`]. `predict_*` is
    /// `run_*` then this, for a caller that wants both without running the layers twice.
    pub fn outputs_from(&self, values: [f32; OUT]) -> [f32; OUT] {
        match self.outputs() {
            Outputs::Values => values,
            Outputs::Probabilities => {
                let mut p = [0.0; OUT];
                softmax(&values, &mut p);
                p
            }
        }
    }
}

/// Runs float layers from `a[..IN]`, ping-ponging between the two buffers; the last layer's
/// outputs (its ReLU applied, not its softmax).
fn run_float<const IN: usize, const OUT: usize>(
    model: &Model<'_>,
    a: &mut [f32],
    b: &mut [f32],
) -> [f32; OUT] {
    let (mut src, mut dst) = (a, b);
    let mut width = IN;
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
    let mut outputs = [0.0; OUT];
    for (o, &v) in outputs.iter_mut().zip(src.iter()) {
        *o = v;
    }
    outputs
}

/// Runs int8 layers from `a[..IN]`; the last layer's int8 outputs and their quantization.
fn run_int8<const OUT: usize>(
    model: &Model<'_>,
    a: &mut [i8],
    b: &mut [i8],
    pack: &mut [u32],
) -> ([i8; OUT], model_format::Quant) {
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
    let mut outputs = [0; OUT];
    for (o, &q) in outputs.iter_mut().zip(src.iter()) {
        *o = q;
    }
    (outputs, output)
}

/// The real values of int8 outputs, `(q − zero_point) · scale`: the only float arithmetic of an
/// int8 model.
fn dequantize<const OUT: usize>(q: [i8; OUT], quant: model_format::Quant) -> [f32; OUT] {
    q.map(|q| (i32::from(q) - quant.zero_point) as f32 * quant.scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::softmax::{argmax, top_k};
    use model_format::{
        AlignedBytes, InputSpec, Int8Params, LayerSpec, ModelSpec, Provenance, Quant, block_int8,
        encode,
    };

    /// A vector contract: `inputs` values, raw `u8` × 0.5, f32 inputs within ±127.5.
    fn vector(inputs: u16) -> InputSpec {
        InputSpec {
            width: inputs,
            height: 1,
            scale: 0.5,
        }
    }

    fn file(input: InputSpec, names: &[&str], layers: &[LayerSpec<'_>]) -> AlignedBytes {
        encode(&ModelSpec {
            variant: "t",
            provenance: Provenance {
                seed: 0,
                epochs: 0,
                test_accuracy: 0.0,
                note: "",
            },
            input,
            class_names: names,
            layers,
        })
        .unwrap()
    }

    /// 3 inputs → 2 ReLU → 1 output, with numbers worked by hand below.
    fn regression(last: Activation) -> AlignedBytes {
        let (w1, b1) = ([1.0, 2.0, -1.0, 0.5, 0.0, 1.0], [0.5, -4.0]);
        let (w2, b2) = ([2.0, -3.0], [0.25]);
        file(
            vector(3),
            &["y"],
            &[
                LayerSpec::f32(3, 2, Activation::Relu, &w1, &b1),
                LayerSpec::f32(2, 1, last, &w2, &b2),
            ],
        )
    }

    #[test]
    fn a_regression_model_gives_its_raw_values() {
        let bytes = regression(Activation::None);
        let engine = Engine::<3, 1, 4>::new(&bytes).unwrap();
        assert_eq!(engine.outputs(), Outputs::Values);
        let mut scratch = Scratch::<4>::new();
        // h = relu([1 + 4 - 3 + 0.5, 0.5 + 0 + 3 - 4]) = [2.5, 0]; y = 2·2.5 - 0 + 0.25.
        let y = engine.run_f32(&[1.0, 2.0, 3.0], &mut scratch).unwrap();
        assert_eq!(y, [5.25]);
        assert_eq!(
            engine.predict_f32(&[1.0, 2.0, 3.0], &mut scratch).unwrap(),
            [5.25]
        );
        // u8 inputs × 0.5: [2, 4, 6] are [1, 2, 3].
        assert_eq!(engine.run_u8(&[2, 4, 6], &mut scratch), [5.25]);
        // h = relu([-1 + 0 - 2 + 0.5, -0.5 + 0 + 2 - 4]) = [0, 0]: the bias alone.
        assert_eq!(
            engine.run_f32(&[-1.0, 0.0, 2.0], &mut scratch).unwrap(),
            [0.25]
        );
    }

    #[test]
    fn a_softmax_last_layer_makes_the_outputs_probabilities() {
        let (w, b) = ([1.0, 0.0, 0.0, 1.0, 1.0, 1.0], [0.0, 0.0, -1.0]);
        let layers = [LayerSpec::f32(2, 3, Activation::Softmax, &w, &b)];
        let bytes = file(vector(2), &["a", "b", "c"], &layers);
        let engine = Engine::<2, 3, 3>::new(&bytes).unwrap();
        assert_eq!(engine.outputs(), Outputs::Probabilities);
        let mut scratch = Scratch::<3>::new();
        let raw = engine.run_f32(&[2.0, 1.0], &mut scratch).unwrap();
        assert_eq!(raw, [2.0, 1.0, 2.0]);
        let p = engine.predict_f32(&[2.0, 1.0], &mut scratch).unwrap();
        // exp(0), exp(-1), exp(0) over their sum 2.367879.
        for (got, want) in p.iter().zip([0.422319, 0.155362, 0.422319]) {
            assert!((got - want).abs() < 2e-3, "{got} vs {want}");
        }
        assert_eq!(argmax(&p), argmax(&raw));
        assert_eq!(top_k::<3>(&p).as_slice(), &[0, 2, 1]);
        // The same layer tagged `None` gives the raw values from both.
        let layers = [LayerSpec::f32(2, 3, Activation::None, &w, &b)];
        let bytes = file(vector(2), &["a", "b", "c"], &layers);
        let engine = Engine::<2, 3, 3>::new(&bytes).unwrap();
        assert_eq!(engine.predict_f32(&[2.0, 1.0], &mut scratch).unwrap(), raw);
    }

    #[test]
    fn widths_and_capacity_are_checked_once() {
        let bytes = regression(Activation::None);
        let mismatch = Engine::<4, 1, 4>::new(&bytes).unwrap_err();
        assert!(matches!(
            mismatch,
            Error::Model(model_format::Error::ContractMismatch {
                expected_inputs: 4,
                found_inputs: 3,
                ..
            })
        ));
        // 2 → 5 → 1 in buffers of 4 (the inputs and outputs fit; `const` asserts see to that).
        let (w1, w2) = ([0.0; 10], [0.0; 5]);
        let wide = file(
            vector(2),
            &["y"],
            &[
                LayerSpec::f32(2, 5, Activation::Relu, &w1, &[0.0; 5]),
                LayerSpec::f32(5, 1, Activation::None, &w2, &[0.0]),
            ],
        );
        let narrow = Engine::<2, 1, 4>::new(&wide).unwrap_err();
        assert!(matches!(
            narrow,
            Error::Model(model_format::Error::TooWide {
                layer: 0,
                width: 5,
                capacity: 4
            })
        ));
        assert!(matches!(
            Engine::<3, 1, 4, Int8Scratch<4>>::with_scratch(&bytes),
            Err(Error::NeedsFloatScratch)
        ));
    }

    #[test]
    fn f32_inputs_beyond_the_contract_are_refused() {
        let bytes = regression(Activation::None);
        let engine = Engine::<3, 1, 4>::new(&bytes).unwrap();
        let mut scratch = Scratch::<4>::new();
        // 255 · 0.5 = 127.5 is the bound.
        assert!(engine.run_f32(&[127.5, -127.5, 0.0], &mut scratch).is_ok());
        for (bad, index) in [([0.0, 127.6, 0.0], 1), ([0.0, 0.0, f32::NAN], 2)] {
            assert_eq!(
                engine.run_f32(&bad, &mut scratch),
                Err(Error::InputOutOfRange { index })
            );
        }
        assert_eq!(engine.run_u8_int8(&[0, 0, 0], &mut scratch), None);
    }

    /// One int8 layer of 2 inputs and 1 output, worked by hand: input and output scale 0.5,
    /// zero points −128 and 0, weights [3, −2] of scale 1, bias 10, so the real multiplier is
    /// 0.5 · 1 / 0.5 = 1 = 2^30 / 2^31 · 2^1 (multiplier 2^30, shift 1).
    #[test]
    fn an_int8_model_gives_its_integers() {
        let weights = block_int8(&[3, -2], 2, 1);
        let params = Int8Params {
            input: Quant {
                scale: 0.5,
                zero_point: -128,
            },
            output: Quant {
                scale: 0.5,
                zero_point: 0,
            },
            weights: &weights,
            bias: &[10],
            multiplier: &[1 << 30],
            shift: &[1],
            weight_scale: &[1.0],
        };
        let layer = LayerSpec {
            inputs: 2,
            outputs: 1,
            activation: Activation::None,
            params: Params::Int8(params),
        };
        let bytes = file(vector(2), &["y"], &[layer]);
        let engine = Engine::<2, 1, 4, Int8Scratch<4>>::with_scratch(&bytes).unwrap();
        let mut scratch = Int8Scratch::<4>::new();
        // The real inputs are p · 0.5 (q = p − 128 with zero point −128), so the accumulator
        // is 3·5 − 2·2 + 10 = 21 for p = [5, 2], and the output 21 · 0.5.
        assert_eq!(engine.run_u8_int8(&[5, 2], &mut scratch), Some([21]));
        assert_eq!(engine.run_u8(&[5, 2], &mut scratch), [10.5]);
        // 3·0 − 2·10 + 10 = −10; 3·255 + 10 = 775, clamped to 127.
        assert_eq!(engine.run_u8_int8(&[0, 10], &mut scratch), Some([-10]));
        assert_eq!(engine.run_u8_int8(&[255, 0], &mut scratch), Some([127]));
        assert!(matches!(
            Engine::<2, 1, 4>::new(&bytes).map(|e| e.run_f32(&[0.0, 0.0], &mut Scratch::new())),
            Ok(Err(Error::NeedsPixels))
        ));
    }
}
