//! `trainer import` against the frameworks that trained the models: the committed fixtures in
//! `tests/fixtures/import/` (made by `trainer/benches/reference/import_fixtures_torch.py`) hold
//! PyTorch-exported ONNX files and onnxruntime's outputs on the first 300 test images. Each
//! file is imported, run by the firmware on the same images, and compared.

use std::path::PathBuf;

use firmware::CLASSES;
use trainer::import::{ImportError, ImportOptions, import_file};

use crate::common::data;
use crate::import_parity::{Reference, compare_float, f32_values};

/// Images the fixtures' outputs were recorded on (the first of t10k).
pub(crate) const FIXTURE_IMAGES: usize = 300;

pub(crate) use crate::import_parity::LOGIT_ATOL;

pub(crate) fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/import")
        .join(name)
}

pub(crate) fn read_f32(name: &str) -> Vec<f32> {
    f32_values(&std::fs::read(fixture(name)).expect("fixture present"))
}

/// Imports `model`, runs it on the fixture images and compares with `outputs` under the named
/// tolerances of [`crate::import_parity`]; `softmax` says whether the source graph ends in
/// Softmax (then onnxruntime gave probabilities).
fn check_onnx(model: &str, outputs: &str, softmax: bool) {
    let imported = import_file(&fixture(model), &ImportOptions::default()).expect("imports");
    let reference = read_f32(outputs);
    assert_eq!(reference.len(), FIXTURE_IMAGES * CLASSES);
    let kind = if softmax {
        Reference::Probabilities
    } else {
        Reference::Logits
    };
    let images = (0..FIXTURE_IMAGES).map(|i| data().test.image(i));
    let c = compare_float(&imported.file, images, &reference, kind);
    eprintln!(
        "{model}: max |Δ{}| = {:.2e} (tolerance {:.1e}), {} argmax disagreements on {} images",
        if softmax { "probability" } else { "logit" },
        c.max_delta,
        c.tolerance,
        c.disagreements,
        c.images
    );
    assert!(c.passes(), "{model}: {c:?}");
}

/// `x @ W + b` with `W` stored `[in, out]`: the importer must transpose (the `[in, out]` data
/// read as `[out, in]` with the right dimensions makes a file that passes every check and
/// gives logits off by far more than the tolerance).
#[test]
fn onnx_matmul_add_in_out_weights_are_transposed_and_match_onnxruntime() {
    check_onnx(
        "torch_matmul_add_legacy.onnx",
        "torch_matmul_add_legacy.out.f32",
        false,
    );
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
