//! `trainer import` of TFLite files against the TFLite interpreter: the committed fixtures in
//! `tests/fixtures/import/` (made by `trainer/benches/reference/import_fixtures_keras.py`) hold
//! a small Keras MLP with BatchNorm converted to float32 and to int8 TFLite (per-channel and
//! per-tensor weight scales), and the interpreter's outputs (reference kernels, what TFLM runs)
//! on the first 300 test images. Each file is imported, run by the firmware on the same images,
//! and compared; hand-built flatbuffers show what the importer refuses.

use std::path::{Path, PathBuf};

use firmware::{CLASSES, Classifier, Engine, INPUTS, Scratch};
use flatbuffers::{FlatBufferBuilder, TableFinishedWIPOffset, WIPOffset};
use model_format::{Activation, Int8Params, Model};
use trainer::import::{ImportError, ImportOptions, import_file, import_to};

use crate::common::{data, max_abs_diff, softmax_f64};
use crate::import::{FIXTURE_IMAGES, fixture};

/// Largest |Δlogit| between the TFLite interpreter's float32 `FULLY_CONNECTED` and the
/// firmware running the imported file. The file holds the converter's weights, BatchNorm
/// already folded, copied bit for bit (no fold or transpose of ours), so two f32 rounding
/// sources remain: the order of the 784-term sums (TFLite's reference kernel sums in index
/// order, the firmware in its own unrolled order: a few ulp of the partial sums, a few 1e-6
/// for partial sums of order 10), and the pixels, `p / 255` in the interpreter against
/// `p · f32(1/255)` on the device (at most 1 ulp each, ~1e-7 relative). A wrong transpose or
/// a layer read from the wrong buffer moves logits by 1e-1 or more.
const TFLITE_LOGIT_ATOL: f32 = 2e-5;

/// Largest |Δprobability| between the interpreter's f32 `SOFTMAX` and an exact f64 softmax of
/// the firmware's logits: |Δp| ≤ |Δz|/2 from the logits, plus the interpreter's f32 softmax
/// rounding (a few ulp of values ≤ 1, under 1e-6).
const TFLITE_PROB_ATOL: f32 = TFLITE_LOGIT_ATOL / 2.0 + 1e-6;

/// The first index of the largest value.
fn argmax_i8(values: &[i8]) -> usize {
    let max = values.iter().max().copied().unwrap_or(0);
    values.iter().position(|&v| v == max).unwrap_or(0)
}

fn pixels(i: usize) -> &'static [u8; INPUTS] {
    data().test.image(i).try_into().expect("784 pixels")
}

/// Where the reference files are: the committed fixtures (the first 300 test images), or the
/// full-size reference of `import_fixtures_keras.py --full` (all 10,000).
#[derive(Debug, Clone, Copy)]
struct Reference<'d> {
    dir: &'d Path,
    images: usize,
}

impl Reference<'_> {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn f32s(&self, name: &str) -> Vec<f32> {
        let bytes = std::fs::read(self.path(name)).expect("reference file present");
        let values: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        assert_eq!(values.len(), self.images * CLASSES, "{name}");
        values
    }

    fn i8s(&self, name: &str) -> Vec<i8> {
        let bytes = std::fs::read(self.path(name)).expect("reference file present");
        assert_eq!(bytes.len(), self.images * CLASSES, "{name}");
        bytes.iter().map(|&b| b as i8).collect()
    }
}

/// The committed fixtures.
fn fixtures() -> Reference<'static> {
    Reference {
        dir: Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/import")),
        images: FIXTURE_IMAGES,
    }
}

/// The float file against the interpreter's logits and probabilities.
fn check_float(reference: Reference<'_>) {
    let imported = import_file(
        &reference.path("keras_bn.tflite"),
        &ImportOptions::default(),
    )
    .expect("imports");
    let classifier = Classifier::<INPUTS>::new(&imported.file).expect("the firmware runs it");
    let mut scratch = Scratch::<INPUTS>::new();
    let (logits, probabilities) = (
        reference.f32s("keras_bn.logits.f32"),
        reference.f32s("keras_bn.out.f32"),
    );
    let (mut max_logit, mut max_prob, mut disagreements) = (0.0f32, 0.0f32, 0usize);
    for (i, (want_z, want_p)) in logits
        .chunks_exact(CLASSES)
        .zip(probabilities.chunks_exact(CLASSES))
        .enumerate()
    {
        let device = classifier.classify_u8(pixels(i), &mut scratch);
        let ours: Vec<f32> = softmax_f64(&device.logits)
            .iter()
            .map(|&p| p as f32)
            .collect();
        max_logit = max_logit.max(max_abs_diff(want_z, &device.logits));
        max_prob = max_prob.max(max_abs_diff(want_p, &ours));
        disagreements += usize::from(firmware::softmax::argmax(want_p) != device.class);
    }
    eprintln!(
        "{}: max |Δlogit| = {max_logit:.2e} (tolerance {TFLITE_LOGIT_ATOL:.1e}), \
         max |Δprobability| = {max_prob:.2e} (tolerance {TFLITE_PROB_ATOL:.1e}), \
         {disagreements} argmax disagreements on {} images",
        reference.path("keras_bn.tflite").display(),
        reference.images
    );
    assert!(max_logit <= TFLITE_LOGIT_ATOL, "{max_logit}");
    assert!(max_prob <= TFLITE_PROB_ATOL, "{max_prob}");
    assert_eq!(disagreements, 0, "argmax differs from the interpreter");
}

#[test]
fn tflite_float_matches_the_interpreter() {
    check_float(fixtures());
}

/// The requantization the interpreter the fixtures were recorded with (ai-edge-litert 2.3,
/// reference kernels) was measured to compute: `round(acc · m)` with the real factor
/// `m = (double)input_scale · (double)weight_scale / (double)output_scale` in f64, ties away
/// from zero. It equals every int8 output of every layer of the fixtures and of the full-size
/// reference (10,000 images, per-channel and per-tensor). TFLite's integer
/// `MultiplyByQuantizedMultiplier` with a Q31 multiplier differs from it at accumulators whose
/// real product lies within a Q31 rounding of a half: its `TFLITE_SINGLE_ROUNDING` form by
/// one on 11 of the full-size per-tensor model's 100,000 outputs, its default double-rounding
/// form (TFLM's, CMSIS-NN's and our firmware's,
/// [`model_format::quant::multiply_by_quantized_multiplier`]) on a few percent of them.
fn interpreter_requantize(p: &Int8Params<'_>, o: usize, acc: i32) -> i32 {
    let m = f64::from(p.input.scale) * f64::from(p.weight_scale[o]) / f64::from(p.output.scale);
    (f64::from(acc) * m).round() as i32
}

/// TFLite's default (double-rounding) `MultiplyByQuantizedMultiplier` with the row's
/// multiplier and shift from the file: what the firmware computes.
fn double_rounding(p: &Int8Params<'_>, o: usize, acc: i32) -> i32 {
    model_format::quant::multiply_by_quantized_multiplier(acc, p.multiplier[o], p.shift[o])
}

/// The int8 model's last-layer outputs for `pixels`, with `requantize` as the
/// `MultiplyByQuantizedMultiplier`: the arithmetic of `model_format::Int8Params`, in plain
/// loops over the file's integers.
fn int8_forward(
    model: &Model<'_>,
    pixels: &[u8],
    requantize: fn(&Int8Params<'_>, usize, i32) -> i32,
) -> Vec<i32> {
    let mut x: Vec<i32> = pixels.iter().map(|&p| i32::from(p) - 128).collect();
    for layer in model.layers() {
        let model_format::Params::Int8(p) = layer.params() else {
            panic!("not an int8 layer")
        };
        let lo = if layer.activation() == Activation::Relu {
            p.output.zero_point
        } else {
            -128
        };
        x = (0..layer.outputs())
            .map(|o| {
                let acc = p.bias[o]
                    + (0..layer.inputs())
                        .map(|i| {
                            i32::from(p.weight(o, i, layer.inputs())) * (x[i] - p.input.zero_point)
                        })
                        .sum::<i32>();
                (p.output.zero_point + requantize(&p, o, acc)).clamp(lo, 127)
            })
            .collect();
    }
    x
}

/// Imports the int8 `model` and compares, on the reference images, last-layer int8 outputs with
/// the interpreters':
/// - with **TensorFlow Lite Micro**'s (`tflm`, recorded by `tflm_logits.py` with the
///   `tflite-micro` package, 0.dev20261023182759): the firmware ([`Engine::run_u8_int8`])
///   must give every integer exactly: TFLM is the interpreter a microcontroller runs, and it
///   requantizes with TFLite's default double-rounding `MultiplyByQuantizedMultiplier`;
/// - with the desktop interpreter's (`logits`, ai-edge-litert): the imported file's weights,
///   biases, zero points and scales run with that interpreter's requantization
///   ([`interpreter_requantize`]) must give its integers exactly (the import kept every
///   number TFLite uses), and the firmware then differs from it only by that rounding (counted,
///   at most 1);
/// - the firmware must equal the file's integers run with its multipliers and shifts in double
///   rounding ([`int8_forward`]), exactly.
///
/// Returns the count of outputs where the firmware differs from the desktop interpreter.
fn check_int8(reference: Reference<'_>, model: &str, logits: &str, tflm: &str) -> usize {
    let imported = import_file(&reference.path(model), &ImportOptions::default()).expect("imports");
    let view = Model::from_bytes(&imported.file).expect("a valid model file");
    assert!(view.is_int8());
    assert_eq!(
        view.layers().last().map(|l| l.activation()),
        Some(Activation::Softmax)
    );
    let engine =
        Engine::<INPUTS, CLASSES, INPUTS>::new(&imported.file).expect("the firmware runs it");
    let mut scratch = Scratch::<INPUTS>::new();
    let expected = reference.i8s(logits);
    let micro = reference.i8s(tflm);
    let mut firmware_vs_tflm = 0usize;
    let (mut file_vs_interpreter, mut firmware_vs_double, mut firmware_vs_interpreter) =
        (0usize, 0usize, 0usize);
    let mut max_delta = 0;
    let mut argmax_disagreements = 0;
    for (i, (want, micro)) in expected
        .chunks_exact(CLASSES)
        .zip(micro.chunks_exact(CLASSES))
        .enumerate()
    {
        let device = engine
            .run_u8_int8(pixels(i), &mut scratch)
            .expect("an int8 model");
        firmware_vs_tflm += device.iter().zip(micro).filter(|(a, b)| a != b).count();
        let interpreter = int8_forward(&view, pixels(i), interpreter_requantize);
        let double = int8_forward(&view, pixels(i), double_rounding);
        for (c, (&ours, &want)) in device.iter().zip(want).enumerate() {
            let (ours, want) = (i32::from(ours), i32::from(want));
            file_vs_interpreter += usize::from(interpreter[c] != want);
            firmware_vs_double += usize::from(ours != double[c]);
            firmware_vs_interpreter += usize::from(ours != want);
            max_delta = max_delta.max((ours - want).abs());
        }
        argmax_disagreements += usize::from(argmax_i8(&device) != argmax_i8(want));
    }
    eprintln!(
        "{model}: of {} int8 logits, {firmware_vs_tflm} differ between the firmware and TFLite \
         Micro, {file_vs_interpreter} differ between the imported file run \
         with the interpreter's requantization and the interpreter, {firmware_vs_double} between \
         the firmware and the file with double rounding, {firmware_vs_interpreter} between the \
         firmware and the interpreter (max |Δ| {max_delta}; {argmax_disagreements} of {} \
         images with another argmax)",
        expected.len(),
        reference.images
    );
    assert_eq!(
        firmware_vs_tflm, 0,
        "{model}: the firmware's int8 outputs are not TFLite Micro's"
    );
    assert_eq!(
        file_vs_interpreter, 0,
        "{model}: the imported integers are not TFLite's"
    );
    assert_eq!(
        firmware_vs_double, 0,
        "{model}: the firmware is not TFLite's double rounding"
    );
    assert!(
        max_delta <= 1,
        "{model}: differs from the interpreter by {max_delta}"
    );
    firmware_vs_interpreter
}

#[test]
fn tflite_int8_per_channel_outputs_identical_to_tflite_micro() {
    check_int8(
        fixtures(),
        "keras_bn_int8.tflite",
        "keras_bn_int8.logits.i8",
        "keras_bn_int8.tflm.logits.i8",
    );
}

#[test]
fn tflite_int8_per_tensor_outputs_identical_to_tflite_micro() {
    check_int8(
        fixtures(),
        "keras_bn_int8_pt.tflite",
        "keras_bn_int8_pt.logits.i8",
        "keras_bn_int8_pt.tflm.logits.i8",
    );
}

/// The full-size batch-norm model (784 → 196 → 49 → 10) on all 10,000 test images, from the
/// directory `import_fixtures_keras.py --full DIR` wrote (`TFLITE_FULL_DIR`, default
/// `/tmp/fmlp-tflite-full`). Ignored: it needs that Python run first.
#[test]
#[ignore = "needs import_fixtures_keras.py --full DIR (Python, TensorFlow) first"]
fn tflite_full_test_set_matches_the_interpreter() {
    let dir = std::env::var_os("TFLITE_FULL_DIR")
        .map_or_else(|| PathBuf::from("/tmp/fmlp-tflite-full"), PathBuf::from);
    let reference = Reference {
        dir: &dir,
        images: data().test.len(),
    };
    check_float(reference);
    for model in ["keras_bn_int8", "keras_bn_int8_pt"] {
        check_int8(
            reference,
            &format!("{model}.tflite"),
            &format!("{model}.logits.i8"),
            &format!("{model}.tflm.logits.i8"),
        );
    }
}

#[test]
fn tflite_import_maps_each_operator_and_says_what_softmax_becomes() {
    let float = import_file(&fixture("keras_bn.tflite"), &ImportOptions::default()).unwrap();
    assert_eq!(float.mapping.len(), 4, "{:?}", float.mapping);
    assert!(float.mapping[0].starts_with("operator 0 (FULLY_CONNECTED): dense 784 → 16"));
    assert!(float.mapping[0].contains("[out, in] used as is, fused ReLU"));
    assert_eq!(float.layers[2].activation, Activation::Softmax);
    let int8 = import_file(&fixture("keras_bn_int8.tflite"), &ImportOptions::default()).unwrap();
    let joined = int8.mapping.join("\n");
    assert!(joined.contains("16 per-channel weight scales"), "{joined}");
    assert!(joined.contains("activation tag Softmax"), "{joined}");
    let per_tensor = import_file(
        &fixture("keras_bn_int8_pt.tflite"),
        &ImportOptions::default(),
    )
    .unwrap();
    assert!(per_tensor.mapping[0].contains("one per-tensor weight scale"));
}

/// A tensor of a hand-built model: shape, `TensorType`, buffer, optional shape signature.
#[derive(Debug, Clone)]
struct TensorSpec {
    shape: Vec<i32>,
    ty: i8,
    buffer: u32,
    signature: Option<Vec<i32>>,
    /// Scales and zero points.
    quant: Option<(Vec<f32>, Vec<i64>)>,
}

/// An operator of a hand-built model: `BuiltinOperator` code, tensors, options.
#[derive(Debug, Clone)]
struct OpSpec {
    code: i32,
    inputs: Vec<i32>,
    outputs: Vec<i32>,
    /// `FullyConnectedOptions.fused_activation_function`, or `SoftmaxOptions.beta`.
    fused: Option<i8>,
    beta: Option<f32>,
}

/// A one-chain model, built with the flatbuffers crate's builder using `schema.fbs`'s field
/// slots (a field with id `n` at `4 + 2n`).
#[derive(Debug, Clone)]
struct ModelSpec {
    tensors: Vec<TensorSpec>,
    ops: Vec<OpSpec>,
    inputs: Vec<i32>,
    outputs: Vec<i32>,
    buffers: Vec<Vec<u8>>,
    subgraphs: usize,
}

const F32: i8 = 0;
const I8: i8 = 9;
const W: [f32; 8] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
const B: [f32; 2] = [0.5, -1.0];

fn le_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// 4 inputs → FULLY_CONNECTED (W `[2, 4]`, bias) → SOFTMAX: a valid float model.
fn tiny() -> ModelSpec {
    let tensor = |shape: &[i32], buffer| TensorSpec {
        shape: shape.to_vec(),
        ty: F32,
        buffer,
        signature: None,
        quant: None,
    };
    ModelSpec {
        tensors: vec![
            tensor(&[1, 4], 0),
            tensor(&[2, 4], 1),
            tensor(&[2], 2),
            tensor(&[1, 2], 0),
            tensor(&[1, 2], 0),
        ],
        ops: vec![
            OpSpec {
                code: 9,
                inputs: vec![0, 1, 2],
                outputs: vec![3],
                fused: Some(0),
                beta: None,
            },
            OpSpec {
                code: 25,
                inputs: vec![3],
                outputs: vec![4],
                fused: None,
                beta: Some(1.0),
            },
        ],
        inputs: vec![0],
        outputs: vec![4],
        buffers: vec![Vec::new(), le_bytes(&W), le_bytes(&B)],
        subgraphs: 1,
    }
}

fn subgraph(b: &mut FlatBufferBuilder<'_>, spec: &ModelSpec) -> WIPOffset<TableFinishedWIPOffset> {
    let tensors: Vec<_> = spec
        .tensors
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let shape = b.create_vector(&t.shape);
            let signature = t.signature.as_ref().map(|s| b.create_vector(s));
            let name = b.create_string(&format!("t{i}"));
            let quant = t.quant.as_ref().map(|(scales, zero_points)| {
                let (scales, zero_points) = (b.create_vector(scales), b.create_vector(zero_points));
                let table = b.start_table();
                b.push_slot_always(8, scales);
                b.push_slot_always(10, zero_points);
                b.end_table(table)
            });
            let table = b.start_table();
            b.push_slot_always(4, shape);
            b.push_slot::<i8>(6, t.ty, 0);
            b.push_slot::<u32>(8, t.buffer, 0);
            b.push_slot_always(10, name);
            if let Some(signature) = signature {
                b.push_slot_always(18, signature);
            }
            if let Some(quant) = quant {
                b.push_slot_always(12, quant);
            }
            b.end_table(table)
        })
        .collect();
    let tensors = b.create_vector(&tensors);
    let ops: Vec<_> = spec
        .ops
        .iter()
        .enumerate()
        .map(|(i, op)| {
            let inputs = b.create_vector(&op.inputs);
            let outputs = b.create_vector(&op.outputs);
            let options = match (op.fused, op.beta) {
                (Some(fused), _) => {
                    let t = b.start_table();
                    b.push_slot::<i8>(4, fused, 0);
                    Some((8u8, b.end_table(t)))
                }
                (None, Some(beta)) => {
                    let t = b.start_table();
                    b.push_slot::<f32>(4, beta, 0.0);
                    Some((9u8, b.end_table(t)))
                }
                (None, None) => None,
            };
            let table = b.start_table();
            b.push_slot::<u32>(4, i as u32, 0);
            b.push_slot_always(6, inputs);
            b.push_slot_always(8, outputs);
            if let Some((variant, options)) = options {
                b.push_slot::<u8>(10, variant, 0);
                b.push_slot_always(12, options);
            }
            b.end_table(table)
        })
        .collect();
    let ops = b.create_vector(&ops);
    let inputs = b.create_vector(&spec.inputs);
    let outputs = b.create_vector(&spec.outputs);
    let table = b.start_table();
    b.push_slot_always(4, tensors);
    b.push_slot_always(6, inputs);
    b.push_slot_always(8, outputs);
    b.push_slot_always(10, ops);
    b.end_table(table)
}

/// The flatbuffer of `spec`: operator `i` uses operator code `i`.
fn build(spec: &ModelSpec) -> Vec<u8> {
    let mut b = FlatBufferBuilder::new();
    let codes: Vec<_> = spec
        .ops
        .iter()
        .map(|op| {
            let table = b.start_table();
            b.push_slot::<i8>(4, op.code.min(127) as i8, 0);
            b.push_slot::<i32>(10, op.code, 0);
            b.end_table(table)
        })
        .collect();
    let codes = b.create_vector(&codes);
    let subgraphs: Vec<_> = (0..spec.subgraphs)
        .map(|_| subgraph(&mut b, spec))
        .collect();
    let subgraphs = b.create_vector(&subgraphs);
    let buffers: Vec<_> = spec
        .buffers
        .iter()
        .map(|data| {
            let data = (!data.is_empty()).then(|| b.create_vector(data));
            let table = b.start_table();
            if let Some(data) = data {
                b.push_slot_always(4, data);
            }
            b.end_table(table)
        })
        .collect();
    let buffers = b.create_vector(&buffers);
    let root = b.start_table();
    b.push_slot::<u32>(4, 3, 0);
    b.push_slot_always(6, codes);
    b.push_slot_always(8, subgraphs);
    b.push_slot_always(12, buffers);
    let root = b.end_table(root);
    b.finish(root, Some("TFL3"));
    b.finished_data().to_vec()
}

/// Imports `bytes` written to a temporary file with [`import_to`]; on an error, checks that no
/// output file was left and returns the error with its causes.
fn import_bytes(bytes: &[u8], options: &ImportOptions) -> Result<usize, String> {
    let dir = tempfile::tempdir().unwrap();
    let (path, out) = (dir.path().join("m.tflite"), dir.path().join("m.fmlp"));
    std::fs::write(&path, bytes).unwrap();
    import_path(&path, &out, options)
}

fn import_path(path: &Path, out: &Path, options: &ImportOptions) -> Result<usize, String> {
    match import_to(path, options, out) {
        Ok(imported) => Ok(imported.layers.len()),
        Err(error) => {
            assert!(!out.exists(), "an output file was written for {error}");
            let mut message = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                message += &format!(": {cause}");
                source = cause.source();
            }
            Err(message)
        }
    }
}

#[test]
fn tflite_hand_built_model_imports_its_weight_as_out_in() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.tflite");
    std::fs::write(&path, build(&tiny())).unwrap();
    let imported = import_file(&path, &ImportOptions::default()).expect("a valid model");
    let [layer] = imported.layers.as_slice() else {
        panic!("{:?}", imported.layers)
    };
    // TFLite's [out, in] is the device's layout: row o of W is output o's weights, as is.
    assert_eq!((layer.inputs, layer.outputs), (4, 2));
    assert_eq!(layer.weights, W);
    assert_eq!(layer.bias, B);
    assert_eq!(layer.activation, Activation::Softmax);
}

/// f32 input → QUANTIZE → int8 FULLY_CONNECTED (per-channel W `[2, 4]`, INT32 bias) →
/// DEQUANTIZE: an int8 model with float edges, as the converter writes one without
/// `inference_input_type = int8`.
fn tiny_int8() -> ModelSpec {
    let tensor = |shape: &[i32], ty, buffer, quant: Option<(&[f32], &[i64])>| TensorSpec {
        shape: shape.to_vec(),
        ty,
        buffer,
        signature: None,
        quant: quant.map(|(s, z)| (s.to_vec(), z.to_vec())),
    };
    let pixel = (&[1.0f32 / 255.0][..], &[-128i64][..]);
    let weights: [i8; 8] = [1, -2, 3, 4, 5, 6, -7, 8];
    let bias: Vec<u8> = [10i32, -20].iter().flat_map(|b| b.to_le_bytes()).collect();
    let op = |code, inputs: &[i32], output| OpSpec {
        code,
        inputs: inputs.to_vec(),
        outputs: vec![output],
        fused: (code == 9).then_some(0),
        beta: None,
    };
    ModelSpec {
        tensors: vec![
            tensor(&[1, 4], F32, 0, None),
            tensor(&[1, 4], I8, 0, Some(pixel)),
            tensor(&[2, 4], I8, 1, Some((&[0.01, 0.02], &[0, 0]))),
            tensor(&[2], 2, 2, Some((&[0.01 / 255.0, 0.02 / 255.0], &[0, 0]))),
            tensor(&[1, 2], I8, 0, Some((&[0.05], &[3]))),
            tensor(&[1, 2], F32, 0, None),
        ],
        ops: vec![op(114, &[0], 1), op(9, &[1, 2, 3], 4), op(6, &[4], 5)],
        inputs: vec![0],
        outputs: vec![5],
        buffers: vec![Vec::new(), weights.iter().map(|&w| w as u8).collect(), bias],
        subgraphs: 1,
    }
}

#[test]
fn tflite_int8_with_quantize_and_dequantize_at_the_edges_runs_the_files_integers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny-int8.tflite");
    std::fs::write(&path, build(&tiny_int8())).unwrap();
    let imported = import_file(&path, &ImportOptions::default()).expect("a valid int8 model");
    assert!(
        imported.mapping[0].contains("p − 128"),
        "{:?}",
        imported.mapping
    );
    assert!(
        imported.mapping[2].contains("dequantizes"),
        "{:?}",
        imported.mapping
    );
    let engine = Engine::<4, 2, 4>::new(&imported.file).expect("the firmware runs it");
    let mut scratch = Scratch::<4>::new();
    // x − zx = p = [0, 255, 128, 64]; acc = bias + W·p = [10 − 510 + 384 + 256,
    // −20 + 1530 − 896 + 512] = [140, 1126]; times (1/255 · [0.01, 0.02] / 0.05) = [0.110,
    // 1.766], rounded [0, 2], plus the zero point 3.
    assert_eq!(
        engine.run_u8_int8(&[0, 255, 128, 64], &mut scratch),
        Some([3, 5])
    );
    // QUANTIZE anywhere but first, DEQUANTIZE anywhere but last: refused, naming them.
    let mut spec = tiny_int8();
    spec.ops.swap(0, 2);
    let message = import_bytes(&build(&spec), &ImportOptions::default()).unwrap_err();
    assert!(message.contains("operator 0 (DEQUANTIZE)"), "{message}");
    // A weight with a zero point: int8 weights must be symmetric.
    let mut spec = tiny_int8();
    spec.tensors[2].quant = Some((vec![0.01, 0.02], vec![0, 1]));
    let message = import_bytes(&build(&spec), &ImportOptions::default()).unwrap_err();
    assert!(message.contains("non-zero zero point"), "{message}");
}

#[test]
fn tflite_unsupported_operator_is_refused_naming_its_index_and_op() {
    let mut spec = tiny();
    spec.ops[1].code = 28; // TANH
    let message = import_bytes(&build(&spec), &ImportOptions::default()).unwrap_err();
    assert!(
        message.contains("operator 1 (TANH)") && message.contains("not supported"),
        "{message}"
    );
}

/// Each edit of the tiny model, the words its refusal must contain.
#[test]
fn tflite_unsupported_graphs_are_refused_with_the_reason() {
    type Edit = fn(&mut ModelSpec);
    let cases: [(&str, Edit, &[&str]); 9] = [
        ("two subgraphs", |s| s.subgraphs = 2, &["2 subgraphs"]),
        (
            "a branch",
            |s| s.ops[1].inputs = vec![0],
            &[
                "operator 0 (FULLY_CONNECTED)",
                "\"t0\" is read by 2",
                "no branches",
            ],
        ),
        (
            "a dynamic shape",
            |s| s.tensors[3].signature = Some(vec![-1, -1]),
            &["operator 0 (FULLY_CONNECTED)", "dynamic"],
        ),
        (
            "a weight with no data",
            |s| s.tensors[1].buffer = 0,
            &["operator 0 (FULLY_CONNECTED)", "constants"],
        ),
        (
            "a computed weight",
            |s| s.ops[0].inputs = vec![0, 3, 2],
            &["operator 0 (FULLY_CONNECTED)", "not a constant"],
        ),
        (
            "int8 weights with float inputs",
            |s| s.tensors[1].ty = I8,
            &["operator 0 (FULLY_CONNECTED)", "hybrid"],
        ),
        (
            "a fused RELU6",
            |s| s.ops[0].fused = Some(3),
            &["operator 0 (FULLY_CONNECTED)", "RELU6"],
        ),
        (
            "a truncated weight buffer",
            |s| s.buffers[1].truncate(12),
            &["operator 0 (FULLY_CONNECTED)", "12 bytes"],
        ),
        (
            "a softmax with beta 2",
            |s| s.ops[1].beta = Some(2.0),
            &["operator 1 (SOFTMAX)", "beta"],
        ),
    ];
    for (what, edit, words) in cases {
        let mut spec = tiny();
        edit(&mut spec);
        let message = import_bytes(&build(&spec), &ImportOptions::default())
            .expect_err(&format!("{what} was accepted"));
        assert!(
            words.iter().all(|w| message.contains(w)),
            "{what}: {message}"
        );
    }
}

#[test]
fn tflite_int8_input_other_than_the_pixel_contract_is_refused_naming_the_tensor() {
    let options = ImportOptions {
        input_scale: 1.0 / 256.0,
        ..ImportOptions::default()
    };
    let bytes = std::fs::read(fixture("keras_bn_int8.tflite")).unwrap();
    let message = import_bytes(&bytes, &options).unwrap_err();
    assert!(
        message.contains("serving_default_keras_tensor:0") && message.contains("p − 128"),
        "{message}"
    );
}

#[test]
fn tflite_truncated_corrupt_and_foreign_files_are_typed_errors() {
    let whole = std::fs::read(fixture("keras_bn_int8.tflite")).unwrap();
    for k in 0..64 {
        let cut = whole.len() * k / 64;
        assert!(
            import_bytes(&whole[..cut], &ImportOptions::default()).is_err(),
            "a file cut at {cut} of {} bytes was accepted",
            whole.len()
        );
    }
    // Bit flips across the file: each is a typed error or a model that still verifies (a flip
    // in weight data changes a weight); none panics. Flips in the root offset and in the
    // identifier are always refused.
    let mut refused = 0;
    let positions: Vec<usize> = (0..whole.len()).step_by(whole.len() / 200).collect();
    for &at in &positions {
        let mut bytes = whole.clone();
        bytes[at] ^= 0x40;
        refused += usize::from(import_bytes(&bytes, &ImportOptions::default()).is_err());
    }
    for at in [2, 3, 5, 6] {
        let mut bytes = whole.clone();
        bytes[at] ^= 0x40;
        let error = import_bytes(&bytes, &ImportOptions::default()).unwrap_err();
        assert!(!error.is_empty());
    }
    eprintln!(
        "keras_bn_int8.tflite: {refused} of {} single bit flips refused, the rest still valid",
        positions.len()
    );
    // The hand-built model (all structure, little data) with three bytes set at random, 2,000
    // times: each a typed error or a valid model, never a panic.
    let tiny = build(&tiny_int8());
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut tiny_refused = 0;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.tflite");
    for _ in 0..2_000 {
        let mut bytes = tiny.clone();
        for _ in 0..3 {
            let at = (next() % bytes.len() as u64) as usize;
            bytes[at] = next() as u8;
        }
        std::fs::write(&path, &bytes).unwrap();
        tiny_refused += usize::from(import_file(&path, &ImportOptions::default()).is_err());
    }
    eprintln!("tiny int8 model: {tiny_refused} of 2,000 three-byte corruptions refused");
    // The identifier with flatbuffer garbage after it.
    let mut fake = vec![0xffu8; 64];
    fake[4..8].copy_from_slice(b"TFL3");
    let path = dir.path().join("fake.tflite");
    std::fs::write(&path, &fake).unwrap();
    assert!(matches!(
        import_file(&path, &ImportOptions::default()),
        Err(ImportError::Tflite { .. })
    ));
    let message = import_path(
        Path::new("/dev/zero"),
        &dir.path().join("zero.fmlp"),
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert!(message.contains("not a regular file"), "{message}");
}
