//! Quantized models (f16, int8) of the briefly trained variants: the firmware's kernels against
//! the trainer's plain forward pass (`trainer::quantize::forward`), on the real test images.
//!
//! int8 is integer arithmetic from the pixels to the last layer, so the firmware's int8
//! outputs must equal the plain forward's exactly: the logits are compared bit for bit. f16
//! computes in f32 like the f32 model, with weights widened exactly, so its only difference to
//! the plain f64 forward is f32 rounding in the sums (the same bound as `parity.rs`).

use firmware::{CLASSES, Classifier, INPUTS, Int8Scratch, Scratch};
use model_format::{AlignedBytes, Model};
use trainer::quantize::{Net, Target, argmax, forward, quantize};
use trainer::variant::Variant;

use crate::common::{data, trained};

/// Calibration images: the first of the training set (never validation or test images).
const CALIBRATION_IMAGES: usize = 500;
/// Test images compared (the first of the test set).
const IMAGES: usize = 2_000;
/// |Δlogit| between the firmware's f32 sums and the f64 forward: f32 rounding of 784-term
/// sums, as `parity.rs`'s `LOGIT_ATOL` explains; a wrongly widened f16 weight moves a logit by
/// 1e-2 or more.
const F16_LOGIT_ATOL: f64 = 1e-4;

/// The f16 or int8 file of a briefly trained variant.
pub(crate) fn quantized(variant: Variant, target: Target) -> AlignedBytes {
    let t = trained(variant);
    let model = Model::from_bytes(&t.file).expect("exported model");
    let calibration = &data().train.images[..CALIBRATION_IMAGES * INPUTS];
    quantize(&model, target, calibration).expect("quantizes")
}

fn check_int8(variant: Variant) {
    let file = quantized(variant, Target::Int8);
    let model = Model::from_bytes(&file).unwrap();
    let net = Net::new(&model);
    // The smallest scratch that runs it, and the general one: the same integers.
    let small = Classifier::<INPUTS, Int8Scratch<INPUTS>>::with_scratch(&file).expect("int8 model");
    let general = Classifier::<INPUTS>::new(&file).expect("int8 model");
    let (mut s8, mut s32) = (Int8Scratch::<INPUTS>::new(), Scratch::<INPUTS>::new());
    let test = &data().test;
    let mut agree = 0;
    for i in 0..IMAGES {
        let pixels: &[u8; INPUTS] = test.image(i).try_into().unwrap();
        let device = small.classify_u8(pixels, &mut s8);
        let reference = forward(&net, pixels);
        let want: Vec<u32> = reference.iter().map(|&v| (v as f32).to_bits()).collect();
        let got: Vec<u32> = device.logits.iter().map(|v| v.to_bits()).collect();
        assert_eq!(got, want, "{variant} int8, image {i}");
        assert_eq!(
            general.classify_u8(pixels, &mut s32),
            device,
            "{variant}, image {i}"
        );
        agree += usize::from(device.class == argmax(&reference));
    }
    assert_eq!(agree, IMAGES);
    println!("{variant} int8: {IMAGES} images, every logit bit-identical to the plain forward");
}

fn check_f16(variant: Variant) {
    let file = quantized(variant, Target::F16);
    let model = Model::from_bytes(&file).unwrap();
    let net = Net::new(&model);
    let classifier = Classifier::<INPUTS>::new(&file).expect("f16 model");
    let mut scratch = Scratch::<INPUTS>::new();
    let test = &data().test;
    let mut max_d = 0.0f64;
    for i in 0..IMAGES {
        let pixels: &[u8; INPUTS] = test.image(i).try_into().unwrap();
        let device = classifier.classify_u8(pixels, &mut scratch);
        let reference = forward(&net, pixels);
        for (d, r) in device.logits.iter().zip(&reference) {
            max_d = max_d.max((f64::from(*d) - r).abs());
        }
    }
    println!("{variant} f16: max |Δlogit| firmware vs f64 forward {max_d:.2e}");
    assert!(max_d < F16_LOGIT_ATOL, "{variant} f16: {max_d}");
    assert_eq!(model.layers().len(), trained(variant).snapshot.dense.len());
    assert_eq!(CLASSES, model.classes());
}

#[test]
fn int8_vanilla_firmware_matches_plain_forward() {
    check_int8(Variant::Vanilla);
}

#[test]
fn int8_dropout_firmware_matches_plain_forward() {
    check_int8(Variant::Dropout);
}

#[test]
fn int8_bn_firmware_matches_plain_forward() {
    check_int8(Variant::Bn);
}

#[test]
fn int8_bn_dropout_firmware_matches_plain_forward() {
    check_int8(Variant::BnDropout);
}

#[test]
fn f16_firmware_matches_plain_forward() {
    for variant in Variant::ALL {
        check_f16(variant);
    }
}
