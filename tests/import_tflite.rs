//! `trainer import` of TFLite files against the TFLite interpreter: the committed fixtures in
//! `tests/fixtures/import/` (made by `trainer/benches/reference/import_fixtures_keras.py`) hold
//! a small Keras MLP with BatchNorm converted to float32 and to int8 TFLite (per-channel and
//! per-tensor weight scales), and the interpreter's outputs (reference kernels, what TFLM runs)
//! on the first 300 test images. Each file is imported, run by the firmware on the same images,
//! and compared; hand-built flatbuffers show what the importer refuses.

use std::path::Path;

use firmware::{CLASSES, Classifier, INPUTS, Scratch};
use flatbuffers::{FlatBufferBuilder, TableFinishedWIPOffset, WIPOffset};
use model_format::{Activation, Model};
use trainer::import::{ImportError, ImportOptions, import_file, import_to};

use crate::common::{data, max_abs_diff, softmax_f64};
use crate::import::{FIXTURE_IMAGES, fixture, read_f32};

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

fn read_i8(name: &str) -> Vec<i8> {
    let bytes = std::fs::read(fixture(name)).expect("fixture present");
    bytes.iter().map(|&b| b as i8).collect()
}

fn pixels(i: usize) -> &'static [u8; INPUTS] {
    data().test.image(i).try_into().expect("784 pixels")
}

#[test]
fn tflite_float_matches_the_interpreter() {
    let imported =
        import_file(&fixture("keras_bn.tflite"), &ImportOptions::default()).expect("imports");
    let classifier = Classifier::<INPUTS>::new(&imported.file).expect("the firmware runs it");
    let mut scratch = Scratch::<INPUTS>::new();
    let (logits, probabilities) = (
        read_f32("keras_bn.logits.f32"),
        read_f32("keras_bn.out.f32"),
    );
    assert_eq!(logits.len(), FIXTURE_IMAGES * CLASSES);
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
        "keras_bn.tflite: max |Δlogit| = {max_logit:.2e} (tolerance {TFLITE_LOGIT_ATOL:.1e}), \
         max |Δprobability| = {max_prob:.2e} (tolerance {TFLITE_PROB_ATOL:.1e}), \
         {disagreements} argmax disagreements on {FIXTURE_IMAGES} images"
    );
    assert!(max_logit <= TFLITE_LOGIT_ATOL, "{max_logit}");
    assert!(max_prob <= TFLITE_PROB_ATOL, "{max_prob}");
    assert_eq!(disagreements, 0, "argmax differs from the interpreter");
}

/// TFLite's `MultiplyByQuantizedMultiplier` as built with `TFLITE_SINGLE_ROUNDING`
/// (`tensorflow/lite/kernels/internal/common.cc`): one rounding, half up, of
/// `x · multiplier / 2^(31 − shift)`. The interpreter the fixtures were recorded with
/// (ai-edge-litert 2.3, reference kernels) computes this; TFLM's and CMSIS-NN's default builds
/// and our firmware compute the double-rounding form
/// ([`model_format::quant::multiply_by_quantized_multiplier`]), which differs by one on a few
/// accumulators (a half-way case after the first rounding).
fn single_rounding(x: i32, multiplier: i32, shift: i32) -> i32 {
    let total_shift = 31 - shift;
    let round = 1i64 << (total_shift - 1);
    ((i64::from(x) * i64::from(multiplier) + round) >> total_shift) as i32
}

/// The int8 model's last-layer outputs for `pixels`, with `requantize` as the
/// `MultiplyByQuantizedMultiplier`: the arithmetic of `model_format::Int8Params`, in plain
/// loops over the file's integers.
fn int8_forward(
    model: &Model<'_>,
    pixels: &[u8],
    requantize: fn(i32, i32, i32) -> i32,
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
                (p.output.zero_point + requantize(acc, p.multiplier[o], p.shift[o])).clamp(lo, 127)
            })
            .collect();
    }
    x
}

/// Imports the int8 `model` and compares, on the fixture images, three sets of last-layer int8
/// outputs with the interpreter's (`logits`): the file's integers run with single rounding must
/// equal the interpreter's exactly (the import kept every weight, bias, zero point and
/// multiplier); the firmware must equal the same integers run with double rounding exactly;
/// the firmware against the interpreter then differs only where the two roundings do (counted).
///
/// The firmware returns the last layer's int8 output `q` dequantized, `(q − zp) as f32 · scale`
/// with `|q − zp| ≤ 255`: one rounding of an exact integer times `scale`, so
/// `round(logit / scale)` in f64 is `q − zp` exactly (relative error ≤ 2^-24, times 255, far
/// below 0.5). The test recovers `q` so, and checks the recovery by recomputing the logit bit
/// for bit.
fn check_int8(model: &str, logits: &str) -> usize {
    let imported = import_file(&fixture(model), &ImportOptions::default()).expect("imports");
    let view = Model::from_bytes(&imported.file).expect("a valid model file");
    assert!(view.is_int8());
    let output = match view.layers().last().map(|l| l.params()) {
        Some(model_format::Params::Int8(p)) => p.output,
        _ => panic!("{model}: the last layer is not int8"),
    };
    assert_eq!(
        view.layers().last().map(|l| l.activation()),
        Some(Activation::Softmax)
    );
    let classifier = Classifier::<INPUTS>::new(&imported.file).expect("the firmware runs it");
    let mut scratch = Scratch::<INPUTS>::new();
    let reference = read_i8(logits);
    assert_eq!(reference.len(), FIXTURE_IMAGES * CLASSES);
    let (mut single_vs_interpreter, mut firmware_vs_double, mut firmware_vs_interpreter) =
        (0usize, 0usize, 0usize);
    let mut max_delta = 0;
    for (i, want) in reference.chunks_exact(CLASSES).enumerate() {
        let device = classifier.classify_u8(pixels(i), &mut scratch);
        let single = int8_forward(&view, pixels(i), single_rounding);
        let double = int8_forward(
            &view,
            pixels(i),
            model_format::quant::multiply_by_quantized_multiplier,
        );
        for (c, (&logit, &want)) in device.logits.iter().zip(want).enumerate() {
            let k = (f64::from(logit) / f64::from(output.scale)).round() as i32;
            assert_eq!(
                (k as f32 * output.scale).to_bits(),
                logit.to_bits(),
                "{model}, image {i}: {logit} is not an int8 output dequantized"
            );
            let (ours, want) = (k + output.zero_point, i32::from(want));
            single_vs_interpreter += usize::from(single[c] != want);
            firmware_vs_double += usize::from(ours != double[c]);
            firmware_vs_interpreter += usize::from(ours != want);
            max_delta = max_delta.max((ours - want).abs());
        }
    }
    eprintln!(
        "{model}: of {} int8 logits, {single_vs_interpreter} differ between the file's integers \
         with single rounding and the interpreter, {firmware_vs_double} between the firmware \
         and the same integers with double rounding, {firmware_vs_interpreter} between the \
         firmware and the interpreter (max |Δ| {max_delta})",
        reference.len()
    );
    assert_eq!(
        single_vs_interpreter, 0,
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
fn tflite_int8_per_channel_integers_are_the_interpreters() {
    check_int8("keras_bn_int8.tflite", "keras_bn_int8.logits.i8");
}

#[test]
fn tflite_int8_per_tensor_integers_are_the_interpreters() {
    check_int8("keras_bn_int8_pt.tflite", "keras_bn_int8_pt.logits.i8");
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
            let table = b.start_table();
            b.push_slot_always(4, shape);
            b.push_slot::<i8>(6, t.ty, 0);
            b.push_slot::<u32>(8, t.buffer, 0);
            b.push_slot_always(10, name);
            if let Some(signature) = signature {
                b.push_slot_always(18, signature);
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
    // The identifier with flatbuffer garbage after it.
    let mut fake = vec![0xffu8; 64];
    fake[4..8].copy_from_slice(b"TFL3");
    let dir = tempfile::tempdir().unwrap();
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
