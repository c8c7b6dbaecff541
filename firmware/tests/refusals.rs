//! `Classifier::new` on bad model bytes: each defect gives its own
//! `firmware::Error::Model(model_format::Error::...)`, never a panic and never a classifier.
//!
//! Files are built with `model_format::encode` and then damaged; header and weight edits
//! recompute the CRC-32 so that the check behind the checksum is the one that fires.

use firmware::{Classifier, Error, INPUTS};
use model_format::{
    Activation, AlignedBytes, Error as ModelError, InputSpec, LayerSpec, ModelSpec, PREAMBLE_LEN,
    Provenance, encode,
};

const NAMES: [&str; 12] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"];

/// A `width × height → hidden... → classes` ReLU/softmax model with small deterministic weights.
fn model(width: u16, height: u16, widths: &[u32]) -> AlignedBytes {
    let mut sides = vec![u32::from(width) * u32::from(height)];
    sides.extend_from_slice(widths);
    let params: Vec<(Vec<f32>, Vec<f32>)> = sides
        .windows(2)
        .map(|s| {
            let w = (0..s[0] * s[1])
                .map(|i| (i % 7) as f32 * 0.01 - 0.03)
                .collect();
            let b = (0..s[1]).map(|i| i as f32 * 0.001).collect();
            (w, b)
        })
        .collect();
    let layers: Vec<LayerSpec<'_>> = sides
        .windows(2)
        .zip(&params)
        .enumerate()
        .map(|(k, (s, (w, b)))| {
            LayerSpec::f32(
                s[0],
                s[1],
                if k + 2 == sides.len() {
                    Activation::Softmax
                } else {
                    Activation::Relu
                },
                w,
                b,
            )
        })
        .collect();
    let classes = *widths.last().unwrap() as usize;
    encode(&ModelSpec {
        variant: "refusal-test",
        provenance: Provenance {
            seed: 1,
            epochs: 0,
            test_accuracy: 0.0,
            note: "",
        },
        input: InputSpec {
            width,
            height,
            scale: 1.0 / 255.0,
        },
        class_names: &NAMES[..classes],
        layers: &layers,
    })
    .expect("encode")
}

/// 784 → 16 → 10: valid for the firmware and small enough to damage exhaustively in places.
fn good() -> AlignedBytes {
    model(28, 28, &[16, 10])
}

fn refusal<const CAP: usize>(bytes: &[u8]) -> ModelError {
    match Classifier::<CAP>::new(bytes) {
        Ok(_) => panic!("a damaged model was accepted"),
        Err(Error::Model(e)) => e,
        Err(e) => panic!("expected a model error, got {e:?}"),
    }
}

fn header_len(bytes: &[u8]) -> usize {
    usize::from(u16::from_le_bytes([bytes[6], bytes[7]]))
}

fn data_start(bytes: &[u8]) -> usize {
    (PREAMBLE_LEN + header_len(bytes)).next_multiple_of(4)
}

/// Rewrites the CRC-32 trailer after an edit.
fn reseal(bytes: &mut [u8]) {
    let body = bytes.len() - 4;
    let mut crc = flate2::Crc::new();
    crc.update(&bytes[..body]);
    bytes[body..].copy_from_slice(&crc.sum().to_le_bytes());
}

/// Replaces the only occurrence of `from` in the postcard header with `to` (same length) and
/// reseals the file.
fn patch_header(file: &AlignedBytes, from: &[u8], to: &[u8]) -> AlignedBytes {
    let mut bytes = file.to_vec();
    let header = PREAMBLE_LEN..PREAMBLE_LEN + header_len(&bytes);
    let hits: Vec<usize> = bytes[header.clone()]
        .windows(from.len())
        .enumerate()
        .filter(|(_, w)| *w == from)
        .map(|(i, _)| header.start + i)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "pattern {from:02x?} must occur once in the header"
    );
    bytes[hits[0]..hits[0] + to.len()].copy_from_slice(to);
    reseal(&mut bytes);
    AlignedBytes::from_slice(&bytes)
}

#[test]
fn the_undamaged_model_is_accepted() {
    let file = good();
    let classifier = Classifier::<INPUTS>::new(&file).expect("valid model");
    assert_eq!(
        classifier.model().param_count(),
        784 * 16 + 16 + 16 * 10 + 10
    );
}

#[test]
fn truncated_files_are_refused() {
    let file = good();
    let len = file.len();
    for cut in [0, 1, 3, 4, 11, 12, 15] {
        assert_eq!(
            refusal::<INPUTS>(&file[..cut]),
            ModelError::TooShort { found: cut }
        );
    }
    for cut in [16, 40, data_start(&file), len / 2, len - 4, len - 1] {
        assert_eq!(
            refusal::<INPUTS>(&file[..cut]),
            ModelError::LengthMismatch {
                expected: len as u32,
                found: cut
            },
            "cut at {cut}"
        );
    }
}

#[test]
fn bit_flips_are_refused() {
    let file = good();
    let start = data_start(&file);
    // A flipped weight bit: only the checksum can tell.
    let mut bytes = file.to_vec();
    bytes[start + 123] ^= 0x10;
    assert!(matches!(
        refusal::<INPUTS>(&bytes),
        ModelError::ChecksumMismatch { .. }
    ));
    // Magic and version are checked before the checksum, with their own errors.
    let mut bytes = file.to_vec();
    bytes[0] ^= 0x01;
    assert_eq!(
        refusal::<INPUTS>(&bytes),
        ModelError::BadMagic { found: *b"GMLP" }
    );
    let mut bytes = file.to_vec();
    bytes[4] ^= 0x02;
    assert_eq!(
        refusal::<INPUTS>(&bytes),
        ModelError::UnsupportedVersion { found: 3 }
    );
    // Any single flipped bit anywhere in the header and throughout the data: refused.
    let positions = (0..start).chain((start..file.len()).step_by(509));
    for at in positions {
        for bit in 0..8 {
            let mut bytes = file.to_vec();
            bytes[at] ^= 1 << bit;
            assert!(
                Classifier::<INPUTS>::new(&bytes).is_err(),
                "flip of bit {bit} at byte {at} accepted"
            );
        }
    }
}

#[test]
fn dims_that_do_not_chain_are_refused() {
    // Layer 1 as postcard writes it: inputs 16, outputs 10, softmax (2), row-major (0).
    let file = patch_header(&good(), &[16, 10, 2, 0], &[15, 10, 2, 0]);
    assert_eq!(
        refusal::<INPUTS>(&file),
        ModelError::ShapeMismatch {
            layer: 1,
            expected: 16,
            found: 15
        }
    );
}

#[test]
fn layers_wider_than_the_buffers_are_refused() {
    // A capacity below the 784 inputs does not compile (`Classifier::<100>` fails its `const`
    // assertion); a hidden layer wider than the capacity is refused at `new`.
    let wide = model(28, 28, &[1000, 10]);
    assert_eq!(
        refusal::<INPUTS>(&wide),
        ModelError::TooWide {
            layer: 0,
            width: 1000,
            capacity: 784
        }
    );
}

#[test]
fn models_outside_the_contract_are_refused() {
    assert_eq!(
        refusal::<INPUTS>(&model(28, 28, &[16, 9])),
        ModelError::ContractMismatch {
            expected_inputs: 784,
            found_inputs: 784,
            expected_classes: 10,
            found_classes: 9
        }
    );
    assert_eq!(
        refusal::<INPUTS>(&model(28, 27, &[16, 10])),
        ModelError::ContractMismatch {
            expected_inputs: 784,
            found_inputs: 756,
            expected_classes: 10,
            found_classes: 10
        }
    );
}

#[test]
fn non_finite_weights_are_refused() {
    let file = good();
    let mut bytes = file.to_vec();
    let at = data_start(&bytes) + 4 * 5;
    bytes[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    reseal(&mut bytes);
    let bytes = AlignedBytes::from_slice(&bytes);
    assert_eq!(
        refusal::<INPUTS>(&bytes),
        ModelError::NonFinite { layer: 0, index: 5 }
    );
}

#[test]
fn misaligned_bytes_are_refused() {
    let file = good();
    let mut shifted = vec![0u8];
    shifted.extend_from_slice(&file);
    let shifted = AlignedBytes::from_slice(&shifted);
    assert_eq!(refusal::<INPUTS>(&shifted[1..]), ModelError::Misaligned);
}

#[test]
fn f32_inputs_beyond_the_contract_are_refused() {
    let file = good();
    let classifier = Classifier::<INPUTS>::new(&file).expect("valid model");
    let mut scratch = firmware::Scratch::<INPUTS>::new();
    // Scale 1/255: the contract's largest input is 255 · f32(1/255) = 1.0 exactly, what
    // pixel 255 becomes; the load-time activation bounds hold for |x| ≤ 1.0.
    let mut input = [1.0f32; INPUTS];
    assert_eq!(
        classifier.classify_f32(&input, &mut scratch),
        Ok(classifier.classify_u8(&[255; INPUTS], &mut scratch)),
        "the same inputs, bit for bit"
    );
    input[5] = -1.0;
    assert!(classifier.classify_f32(&input, &mut scratch).is_ok());
    for bad in [1.000_001, -1.5, f32::INFINITY, f32::NAN, 1e30] {
        input[7] = bad;
        assert_eq!(
            classifier.classify_f32(&input, &mut scratch),
            Err(Error::InputOutOfRange { index: 7 }),
            "{bad}"
        );
    }
}
