//! `trainer import` against the frameworks that trained the models: the committed fixtures in
//! `tests/fixtures/import/` (made by `trainer/benches/reference/import_fixtures_torch.py`) hold
//! PyTorch-exported ONNX files and onnxruntime's outputs on the first 300 test images. Each
//! file is imported, run by the firmware on the same images, and compared.

use std::path::PathBuf;

use firmware::{CLASSES, Classifier, INPUTS, Scratch};
use trainer::import::{ImportError, ImportOptions, import_file};

use crate::common::{data, max_abs_diff, softmax_f64};

/// Images the fixtures' outputs were recorded on (the first of t10k).
pub(crate) const FIXTURE_IMAGES: usize = 300;

/// Largest |Δlogit| between onnxruntime and the firmware running the imported file. The same
/// three f32 rounding sources as burn against the firmware (`parity::LOGIT_ATOL`): the order of
/// the 784-term sums (onnxruntime's MLAS kernels use FMA and their own blocking), BatchNorm
/// evaluated as its own node in f32 against folded into the weights in f64 and rounded once,
/// and `p / 255` against `p · f32(1/255)` (1 ulp). A few 1e-5 at most for logits of a few
/// tens; a wrongly transposed or mis-folded layer moves them by 1e-1 or more.
pub(crate) const LOGIT_ATOL: f32 = 1e-4;

/// Largest |Δprobability| between onnxruntime's Softmax and an exact f64 softmax of the
/// firmware's logits: |Δp| ≤ |Δz|/2 from the logits, plus onnxruntime's f32 softmax rounding
/// (a few ulp of values ≤ 1, under 1e-6).
const PROB_ATOL: f32 = LOGIT_ATOL / 2.0 + 1e-6;

pub(crate) fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/import")
        .join(name)
}

pub(crate) fn read_f32(name: &str) -> Vec<f32> {
    let bytes = std::fs::read(fixture(name)).expect("fixture present");
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Imports `model`, runs it on the fixture images and compares with `outputs`; `softmax` says
/// whether the source graph ends in Softmax (then onnxruntime gave probabilities).
fn check_onnx(model: &str, outputs: &str, softmax: bool) {
    let imported = import_file(&fixture(model), &ImportOptions::default()).expect("imports");
    let classifier = Classifier::<INPUTS>::new(&imported.file).expect("the firmware runs it");
    let mut scratch = Scratch::<INPUTS>::new();
    let reference = read_f32(outputs);
    assert_eq!(reference.len(), FIXTURE_IMAGES * CLASSES);
    let (mut max_delta, mut disagreements) = (0.0f32, 0usize);
    for (i, expected) in reference.chunks_exact(CLASSES).enumerate() {
        let pixels: &[u8; INPUTS] = data().test.image(i).try_into().expect("784 pixels");
        let device = classifier.classify_u8(pixels, &mut scratch);
        let ours: Vec<f32> = if softmax {
            softmax_f64(&device.logits)
                .iter()
                .map(|&p| p as f32)
                .collect()
        } else {
            device.logits.to_vec()
        };
        max_delta = max_delta.max(max_abs_diff(expected, &ours));
        if firmware::softmax::argmax(expected) != device.class {
            disagreements += 1;
        }
    }
    let tolerance = if softmax { PROB_ATOL } else { LOGIT_ATOL };
    eprintln!(
        "{model}: max |Δ{}| = {max_delta:.2e} (tolerance {tolerance:.1e}), {disagreements} \
         argmax disagreements on {FIXTURE_IMAGES} images",
        if softmax { "probability" } else { "logit" }
    );
    assert!(max_delta <= tolerance, "{model}: {max_delta} > {tolerance}");
    assert_eq!(disagreements, 0, "{model}: argmax differs from onnxruntime");
}

#[test]
fn onnx_dynamo_batchnorm_after_relu_matches_onnxruntime() {
    check_onnx(
        "torch_bn_after_relu.onnx",
        "torch_bn_after_relu.out.f32",
        true,
    );
}

#[test]
fn onnx_legacy_batchnorm_after_relu_matches_onnxruntime() {
    check_onnx(
        "torch_bn_after_relu_legacy.onnx",
        "torch_bn_after_relu_legacy.out.f32",
        true,
    );
}

#[test]
fn onnx_legacy_batchnorm_before_relu_matches_onnxruntime() {
    check_onnx(
        "torch_bn_before_relu_legacy.onnx",
        "torch_bn_before_relu_legacy.out.f32",
        false,
    );
}

#[test]
fn onnx_import_maps_each_node_and_folds_batchnorm_where_the_graph_puts_it() {
    let after = import_file(
        &fixture("torch_bn_after_relu.onnx"),
        &ImportOptions::default(),
    )
    .unwrap();
    assert_eq!(after.layers.len(), 3);
    let joined = after.mapping.join("\n");
    assert!(joined.contains("folded forward"), "{joined}");
    assert!(joined.contains("used as is"), "{joined}");
    let before = import_file(
        &fixture("torch_bn_before_relu_legacy.onnx"),
        &ImportOptions::default(),
    )
    .unwrap();
    let joined = before.mapping.join("\n");
    assert!(joined.contains("folded backward"), "{joined}");
    assert_eq!(
        before.layers.last().map(|l| l.activation),
        Some(model_format::Activation::None)
    );
}

/// Renames the first `from` operator in the file to `to` (same length, so the protobuf stays
/// valid) and returns the path of the edited copy.
fn with_op_renamed(dir: &tempfile::TempDir, from: &[u8], to: &[u8]) -> PathBuf {
    let mut bytes = std::fs::read(fixture("torch_bn_after_relu.onnx")).unwrap();
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("operator present");
    bytes[at..at + to.len()].copy_from_slice(to);
    let path = dir.path().join("edited.onnx");
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn onnx_unsupported_operator_is_refused_naming_the_node_and_op() {
    let dir = tempfile::tempdir().unwrap();
    let path = with_op_renamed(&dir, b"Relu", b"Tanh");
    let error = import_file(&path, &ImportOptions::default()).unwrap_err();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message += &format!(": {cause}");
        source = cause.source();
    }
    assert!(
        message.contains("Tanh") && message.contains("not supported"),
        "{message}"
    );
}

#[test]
fn onnx_corrupt_truncated_and_foreign_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let whole = std::fs::read(fixture("torch_bn_after_relu.onnx")).unwrap();
    for cut in [1, 100, whole.len() / 2, whole.len() - 1] {
        let path = dir.path().join(format!("cut-{cut}.onnx"));
        std::fs::write(&path, &whole[..cut]).unwrap();
        assert!(
            import_file(&path, &ImportOptions::default()).is_err(),
            "a file cut at {cut} bytes was accepted"
        );
    }
    let text = dir.path().join("notes.onnx");
    std::fs::write(&text, "not a model at all").unwrap();
    assert!(matches!(
        import_file(&text, &ImportOptions::default()),
        Err(ImportError::Onnx { .. })
    ));
    assert!(matches!(
        import_file(std::path::Path::new("/dev/zero"), &ImportOptions::default()),
        Err(ImportError::Refused { .. })
    ));
}
