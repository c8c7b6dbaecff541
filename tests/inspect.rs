//! `trainer inspect`: what it shows for an exported file, and that a corrupt one is a clean error.

use trainer::inspect::{InspectError, describe, read_model};
use trainer::variant::Variant;

use crate::common::trained;

#[test]
fn inspect_shows_the_folded_bn_shape_and_parameter_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bn.fmlp");
    std::fs::write(&path, trained(Variant::Bn).file.as_bytes()).unwrap();
    let bytes = read_model(&path).unwrap();
    let model = model_format::Model::from_bytes(&bytes).unwrap();
    let text = describe(&model, bytes.len());
    assert!(text.contains("784→196→49→10"), "{text}");
    assert!(text.contains("parameters     164,013"), "{text}");
    assert!(text.contains("6,272 bytes of activation buffers"), "{text}");
    assert!(
        text.contains("firmware::Engine::<784, 10, 784, Scratch<784>>"),
        "{text}"
    );
    assert!(text.contains("firmware::Classifier::<784>"), "{text}");
}

#[test]
fn inspect_says_which_firmware_types_run_a_vector_model() {
    let options = trainer::import::ImportOptions {
        input_scale: 0.02,
        ..Default::default()
    };
    let fixture = crate::import::fixture("torch_wine.onnx");
    let file = trainer::import::import_file(&fixture, &options)
        .unwrap()
        .file;
    let model = model_format::Model::from_bytes(&file).unwrap();
    let text = describe(&model, file.len());
    for line in [
        "input          13 values: u8 × 2e-2, or f32 as they are within ±5.1",
        "outputs        3 values as they are: regression outputs or logits",
        "firmware::Engine::<13, 3, 13, Scratch<13>> (u8 or f32 inputs",
        "not the Fashion-MNIST firmware::Classifier",
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
}

#[test]
fn inspect_shows_int8_storage_and_its_ram() {
    let file = crate::quantized::quantized(Variant::Vanilla, trainer::quantize::Target::Int8);
    let model = model_format::Model::from_bytes(&file).unwrap();
    let text = describe(&model, file.len());
    assert!(
        text.contains("  0  dense  784 → 196  Relu     int8"),
        "{text}"
    );
    assert!(text.contains("format version 2"), "{text}");
    // Two int8 buffers of 784 values; the M4 kernel's packed input doubles that.
    assert!(
        text.contains("1,568 bytes of activation buffers, 3,136 on a Cortex-M4"),
        "{text}"
    );
}

#[test]
fn inspect_refuses_truncated_and_corrupt_files_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let good = trained(Variant::Vanilla).file.as_bytes();

    let truncated = dir.path().join("truncated.fmlp");
    std::fs::write(&truncated, &good[..good.len() / 2]).unwrap();
    match read_model(&truncated) {
        Err(InspectError::Invalid { path, source }) => {
            assert_eq!(path, truncated);
            assert!(matches!(source, model_format::Error::LengthMismatch { .. }));
        }
        other => panic!("expected Invalid, got {other:?}"),
    }

    let mut flipped = good.to_vec();
    flipped[good.len() / 3] ^= 0x04;
    let corrupt = dir.path().join("corrupt.fmlp");
    std::fs::write(&corrupt, &flipped).unwrap();
    assert!(matches!(
        read_model(&corrupt),
        Err(InspectError::Invalid {
            source: model_format::Error::ChecksumMismatch { .. },
            ..
        })
    ));

    assert!(matches!(
        read_model(&dir.path().join("missing.fmlp")),
        Err(InspectError::Read { .. })
    ));
}
