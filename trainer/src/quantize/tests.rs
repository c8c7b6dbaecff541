//! The quantizer's arithmetic, worked by hand, and what it refuses.

use model_format::{Activation, InputSpec, LayerSpec, ModelSpec, Provenance, Quant, encode};

use super::*;

const NAMES: [&str; 2] = ["a", "b"];

/// 2 pixels -> 2 (ReLU) -> 2 logits.
fn tiny(w0: &[f32], w1: &[f32]) -> AlignedBytes {
    two_pixels(&[
        LayerSpec::f32(2, 2, Activation::Relu, w0, &[0.1, -0.2]),
        LayerSpec::f32(2, 2, Activation::Softmax, w1, &[0.0, 0.05]),
    ])
}

/// A model of 2 pixels (scale 1/255) through `layers` into the 2 classes [`NAMES`].
fn two_pixels(layers: &[LayerSpec<'_>]) -> AlignedBytes {
    encode(&ModelSpec {
        variant: "tiny",
        provenance: Provenance {
            seed: 1,
            epochs: 1,
            test_accuracy: 0.5,
            note: "",
        },
        input: InputSpec {
            width: 2,
            height: 1,
            scale: 1.0 / 255.0,
        },
        class_names: &NAMES,
        layers,
    })
    .unwrap()
}

#[test]
fn activation_ranges_map_to_int8_as_tflite_does() {
    // [0, 2.55]: scale 0.01, and 0 at the bottom of the range.
    let q = activation_quant(0.0, 2.55);
    assert_eq!((q.scale, q.zero_point), (0.01, -128));
    // [-1, 1.55]: scale 0.01, real 0 at -128 + 100 = -28.
    let q = activation_quant(-1.0, 1.55);
    assert_eq!((q.scale, q.zero_point), (0.01, -28));
    // A range that excludes 0 is widened to hold it: [0.5, 2.55] -> [0, 2.55].
    assert_eq!(activation_quant(0.5, 2.55).zero_point, -128);
    // All zero: any scale, zero point at the bottom.
    assert_eq!(
        activation_quant(0.0, 0.0),
        Quant {
            scale: 1.0,
            zero_point: -128
        }
    );
}

#[test]
fn weights_quantize_per_row_symmetrically() {
    let input = Quant {
        scale: 0.5,
        zero_point: -128,
    };
    let output = Quant {
        scale: 0.25,
        zero_point: 0,
    };
    // Row 0: max |w| 1.27 -> scale 0.01: 0.5 -> 50, -1.27 -> -127. Row 1: all zero -> scale 1.
    let l = int8_layer(2, &[0.5, -1.27, 0.0, 0.0], &[0.1, 2.0], input, output);
    assert_eq!(l.weight_scale, [0.01, 1.0]);
    assert_eq!(&l.weights[..2], &[50, -127]);
    assert!(l.weights[2..].iter().all(|&w| w == 0));
    // Biases in units of 0.5 · scale_w: 0.1 / 0.005 = 20; 2.0 / 0.5 = 4.
    assert_eq!(l.bias, [20, 4]);
    // 0.5 · 0.01 / 0.25 = 0.02 = 0.64 · 2^-5: shift -5, multiplier round(0.64 · 2^31) with
    // 0.01 the f32 0.009999999776: `python3 -c "print(round(0.5*0.009999999776482582/0.25*2**36))"`
    // prints 1374389504. 0.5 · 1 / 0.25 = 2 = 0.5 · 2^2: multiplier 2^30, shift 2.
    assert_eq!(l.multiplier, [1_374_389_504, 1 << 30]);
    assert_eq!(l.shift, [-5, 2]);
}

#[test]
fn int8_model_tracks_the_f32_model() {
    let file = tiny(&[0.5, -0.25, 1.0, 0.75], &[1.0, -1.0, -0.5, 2.0]);
    let model = Model::from_bytes(&file).unwrap();
    let images: Vec<u8> = (0..=255u8).flat_map(|p| [p, 255 - p]).collect();
    let q = quantize(&model, Target::Int8, &images).unwrap();
    let qm = Model::from_bytes(&q).unwrap();
    assert!(qm.is_int8());
    let (f, i) = (Net::new(&model), Net::new(&qm));
    for img in images.chunks_exact(2) {
        let (a, b) = (forward(&f, img), forward(&i, img));
        // Logits span about [-1.2, 1.9]: 1/255 of that is one output step (0.012); the hidden
        // layer's rounding adds about as much again through weights of size 2.
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 0.05, "{img:?}: {a:?} vs {b:?}");
        }
    }
}

#[test]
fn f16_rounds_weights_and_refuses_overflow() {
    let file = tiny(&[0.1, -0.25, 1.0, 0.75], &[1.0, -1.0, -0.5, 2.0]);
    let model = Model::from_bytes(&file).unwrap();
    let q = quantize(&model, Target::F16, &[]).unwrap();
    let qm = Model::from_bytes(&q).unwrap();
    let Params::F16 { weights, bias } = qm.layers()[0].params() else {
        panic!("f16 layer")
    };
    // 0.1 in binary16 is 0x2e66 (0.0999755859375), the nearest of its neighbours.
    assert_eq!(weights[0], 0x2e66);
    assert_eq!(bias, &[0.1, -0.2]);

    let big = tiny(&[7e4, 0.0, 0.0, 0.0], &[1.0, -1.0, -0.5, 2.0]);
    let err = quantize(&Model::from_bytes(&big).unwrap(), Target::F16, &[]).unwrap_err();
    assert!(
        matches!(
            err,
            QuantizeError::F16Overflow {
                layer: 0,
                index: 0,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn refuses_quantized_input_and_bad_calibration() {
    let file = tiny(&[0.5, -0.25, 1.0, 0.75], &[1.0, -1.0, -0.5, 2.0]);
    let model = Model::from_bytes(&file).unwrap();
    let q = quantize(&model, Target::Int8, &[1, 2]).unwrap();
    let err = quantize(&Model::from_bytes(&q).unwrap(), Target::Int8, &[1, 2]).unwrap_err();
    assert!(
        matches!(
            err,
            QuantizeError::NotF32 {
                layer: 0,
                storage: "int8"
            }
        ),
        "{err}"
    );
    assert!(matches!(
        quantize(&model, Target::Int8, &[]),
        Err(QuantizeError::NoCalibrationImages)
    ));
    assert!(matches!(
        quantize(&model, Target::Int8, &[1, 2, 3]),
        Err(QuantizeError::CalibrationShape {
            inputs: 2,
            found: 3
        })
    ));
}

#[test]
fn quantile_takes_the_rank_of_the_share() {
    let mut v: Vec<f64> = (0..=1000).rev().map(f64::from).collect();
    // Rank round(1000 · 0.999) = 999 of 0..=1000.
    assert_eq!(quantile(&mut v, 0.999), Some(999.0));
    assert_eq!(quantile(&mut v, 1.0), Some(1000.0));
    assert_eq!(quantile(&mut v, 0.0), Some(0.0));
    assert_eq!(quantile(&mut [], 0.5), None);
}

#[test]
fn bias_correction_takes_out_the_mean_rounding_error() {
    // Row 0: max |w| 1, so scale_w = 1/127 and 0.004 rounds to 1 step (0.00787): on the one
    // calibration image, pixels (0, 255) = reals (0, 1) = int8 offsets (0, 255), the integer
    // sum is 1 · 255 where the f32 weights give 0.004. In accumulator steps
    // (s_acc = 1/255 · 1/127): 0.004 · 255 · 127 = 129.54, so the bias is
    // round(129.54 − 255) = −125 (without the correction: round(0 / s_acc) = 0).
    // Row 1 (±0.5) rounds exactly: no correction.
    let file = two_pixels(&[LayerSpec::f32(
        2,
        2,
        Activation::Softmax,
        &[1.0, 0.004, 0.5, -0.5],
        &[0.0, 0.0],
    )]);
    let model = Model::from_bytes(&file).unwrap();
    let q = calibrate::int8_layers(&model, &f32_layers(&model).unwrap(), &[0, 255]);
    assert_eq!(q[0].bias, [-125, 0]);
}

#[test]
fn requantization_is_tflites_quantize_multiplier_of_the_double_product() {
    // The per-tensor scales (input, weight, output) of the three layers of
    // tests/fixtures/import/keras_bn_int8_pt.tflite, and the (multiplier, shift) of TFLite's
    // formula in Python, written from quantization_util.cc and kernel_util.cc:
    //   real = float(in) * float(w) / float(out); q, s = math.frexp(real)
    //   m = floor(q * 2**31 + 0.5)  (std::round for q > 0), then the 2**31 carry.
    let cases: [([u32; 3], (i32, i32)); 3] = [
        (
            [0x3b80_8081, 0x3b2e_84b6, 0x3c87_ff84],
            (1_383_273_453, -10),
        ),
        ([0x3c87_ff84, 0x3deb_195b, 0x3c85_1826], (2_015_181_081, -3)),
        ([0x3c85_1826, 0x3c6b_8b50, 0x3da0_a80d], (1_636_905_800, -8)),
    ];
    for ([input, weight, output], want) in cases {
        let [input, weight, output] = [input, weight, output].map(f32::from_bits);
        assert_eq!(super::requantization(input, weight, output), want);
    }
}
