//! Issue 13's findings on the model file and the firmware, reproduced on a briefly trained
//! model, each a test named after it.

use firmware::{Classifier, INPUTS, Scratch};
use model_format::{AlignedBytes, CHECKSUM_LEN, Error as ModelError, Model, Params};
use trainer::variant::Variant;

use crate::common::{data, trained};

/// The finding's factor: every weight × 1e13.
const WEIGHT_FACTOR: f32 = 1e13;

/// `file` (an f32 model) with every weight, not the biases, multiplied by `factor` in place and
/// the CRC-32 resealed: what an attacker writes, passing every check of today's reader.
fn scale_weights(file: &[u8], factor: f32) -> AlignedBytes {
    let model = Model::from_bytes(file).expect("an f32 model");
    let mut bytes = file.to_vec();
    for layer in model.layers() {
        let Params::F32 { weights, .. } = layer.params() else {
            panic!("an f32 model");
        };
        // The weights are borrowed from `file`: their place in it is their address's distance.
        let start = weights.as_ptr().addr() - file.as_ptr().addr();
        for (k, w) in weights.iter().enumerate() {
            let at = start + 4 * k;
            bytes[at..at + 4].copy_from_slice(&(w * factor).to_le_bytes());
        }
    }
    let body = bytes.len() - CHECKSUM_LEN;
    let mut crc = flate2::Crc::new();
    crc.update(&bytes[..body]);
    bytes[body..].copy_from_slice(&crc.sum().to_le_bytes());
    AlignedBytes::from_slice(&bytes)
}

#[test]
fn finding_1_scaled_weights_refused_not_nan() {
    let file = &trained(Variant::Vanilla).file;
    Classifier::<INPUTS>::new(file).expect("the trained model loads");
    let scaled = scale_weights(file, WEIGHT_FACTOR);
    // By hand: layer 0's bound is about 1e13 · max_o Σ|w|, layer 1's that times 1e13 · Σ|w|
    // (about 1e29), layer 2's that times 1e13 · Σ|w| again, past f32::MAX (3.4e38).
    match Classifier::<INPUTS>::new(&scaled) {
        Err(firmware::Error::Model(ModelError::ActivationOverflow { layer, row })) => {
            assert_eq!(layer, 2, "row {row}");
        }
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(classifier) => {
            let test = &data().test;
            let mut scratch = Scratch::<INPUTS>::new();
            let nan = (0..test.len())
                .filter(|&i| {
                    let pixels: &[u8; INPUTS] = test.image(i).try_into().unwrap();
                    let c = classifier.classify_u8(pixels, &mut scratch);
                    c.logits
                        .iter()
                        .chain(&c.probabilities)
                        .any(|v| !v.is_finite())
                })
                .count();
            panic!(
                "the weights × {WEIGHT_FACTOR:e} model was accepted: {nan} of {} test images get \
                 non-finite logits or probabilities",
                test.len()
            );
        }
    }
}
