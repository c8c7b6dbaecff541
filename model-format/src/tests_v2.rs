//! Format version 2: the f16 and int8 storages. Golden bytes from `tools/golden.py`, every
//! truncation and bit flip, each refusal, and arbitrary mutations.

use proptest::prelude::*;

use crate::tests::{check_invariants, decode, reseal};
use crate::*;

/// `python3 model-format/tools/golden.py --write` wrote these from FORMAT.md alone.
const GOLDEN_F16: &[u8] = include_bytes!("../golden/tiny-f16.fmlp");
const GOLDEN_INT8: &[u8] = include_bytes!("../golden/tiny-int8.fmlp");

const B0: [f32; 3] = [0.0, 0.5, -1.0];
const W1: [f32; 6] = [1.0, -1.0, 0.5, -2.0, 0.25, 1.0];
const B1: [f32; 2] = [0.125, -0.125];
/// The f32 model's layer-0 weights `[0.5, -0.25, 1.0, 0.0, -1.0, 2.0, 0.125, 0.75, 0.25,
/// 0.25, -0.5, 1.5]` in binary16 (each value is exact in f16: `struct.pack("<e", x)`).
const W0_F16: [u16; 12] = [
    0x3800, 0xb400, 0x3c00, 0x0000, 0xbc00, 0x4000, 0x3000, 0x3a00, 0x3400, 0x3400, 0xb800, 0x3e00,
];

const PIXELS: Quant = Quant {
    scale: 1.0 / 255.0,
    zero_point: -128,
};
const HIDDEN: Quant = Quant {
    scale: 0.05,
    zero_point: -128,
};
const LOGITS: Quant = Quant {
    scale: 0.1,
    zero_point: 3,
};
const QW0: [i8; 12] = [64, -32, 127, 0, -127, 100, 8, 48, 16, 16, -64, 96];
const QB0: [i32; 3] = [0, 300, -1000];
const S0: [f32; 3] = [0.0078125, 0.015625, 0.01];
/// golden.py's `quantize_multiplier` (TFLite's `QuantizeMultiplier` in Python's exact
/// arithmetic) of `PIXELS.scale · S0[o] / HIDDEN.scale`.
const M0: [i32; 3] = [1_347_440_780, 1_347_440_780, 1_724_724_160];
const SH0: [i32; 3] = [-10, -9, -10];
const QW1: [i8; 6] = [100, -100, 50, -90, 20, 127];
const QB1: [i32; 2] = [12, -7];
const S1: [f32; 2] = [0.01, 0.02];
const M1: [i32; 2] = [1_374_389_504, 1_374_389_504];
const SH1: [i32; 2] = [-7, -6];

fn spec<'s>(note: &'s str, layers: &'s [LayerSpec<'s>]) -> ModelSpec<'s> {
    ModelSpec {
        variant: "tiny",
        provenance: Provenance {
            seed: 42,
            epochs: 3,
            test_accuracy: 0.75,
            note,
        },
        input: InputSpec {
            width: 2,
            height: 2,
            scale: 1.0 / 255.0,
        },
        class_names: &["off", "on"],
        layers,
    }
}

fn f16_layers() -> [LayerSpec<'static>; 2] {
    [
        LayerSpec {
            inputs: 4,
            outputs: 3,
            activation: Activation::Relu,
            params: Params::F16 {
                weights: &W0_F16,
                bias: &B0,
            },
        },
        LayerSpec::f32(3, 2, Activation::Softmax, &W1, &B1),
    ]
}

struct Int8Owned {
    w0: Vec<i8>,
    w1: Vec<i8>,
}

fn int8_weights() -> Int8Owned {
    Int8Owned {
        w0: block_int8(&QW0, 4, 3),
        w1: block_int8(&QW1, 3, 2),
    }
}

fn int8_layers(w: &Int8Owned) -> [LayerSpec<'_>; 2] {
    [
        LayerSpec {
            inputs: 4,
            outputs: 3,
            activation: Activation::Relu,
            params: Params::Int8(Int8Params {
                input: PIXELS,
                output: HIDDEN,
                weights: &w.w0,
                bias: &QB0,
                multiplier: &M0,
                shift: &SH0,
                weight_scale: &S0,
            }),
        },
        LayerSpec {
            inputs: 3,
            outputs: 2,
            activation: Activation::Softmax,
            params: Params::Int8(Int8Params {
                input: HIDDEN,
                output: LOGITS,
                weights: &w.w1,
                bias: &QB1,
                multiplier: &M1,
                shift: &SH1,
                weight_scale: &S1,
            }),
        },
    ]
}

fn tiny_f16() -> AlignedBytes {
    encode(&spec("golden f16", &f16_layers())).expect("tiny f16 encodes")
}

fn tiny_int8() -> AlignedBytes {
    let w = int8_weights();
    encode(&spec("golden int8", &int8_layers(&w))).expect("tiny int8 encodes")
}

#[test]
fn golden_bytes_v2() {
    assert_eq!(tiny_f16().as_bytes(), GOLDEN_F16);
    assert_eq!(tiny_int8().as_bytes(), GOLDEN_INT8);
    assert_eq!(&GOLDEN_INT8[4..6], &[2, 0]);
}

#[test]
fn golden_v2_decodes_to_the_spec() {
    let bytes = tiny_f16();
    let m = Model::from_bytes(&bytes).unwrap();
    assert_eq!((m.version(), m.is_int8()), (2, false));
    assert_eq!(
        m.layers()[0].params(),
        Params::F16 {
            weights: &W0_F16,
            bias: &B0
        }
    );
    assert_eq!(m.layers()[1].params().f32(), Some((&W1[..], &B1[..])));

    let bytes = tiny_int8();
    let m = Model::from_bytes(&bytes).unwrap();
    assert_eq!((m.version(), m.is_int8()), (2, true));
    assert_eq!(m.param_count(), 12 + 3 + 6 + 2);
    // Int8 layers need their sides rounded up to whole tiles.
    assert_eq!(m.max_width(), 4);
    let Params::Int8(p) = m.layers()[1].params() else {
        panic!("layer 1 is int8")
    };
    assert_eq!((p.input, p.output), (HIDDEN, LOGITS));
    assert_eq!(
        (p.bias, p.multiplier, p.shift),
        (&QB1[..], &M1[..], &SH1[..])
    );
    for o in 0..2 {
        for i in 0..3 {
            assert_eq!(p.weight(o, i, 3), QW1[o * 3 + i]);
        }
        assert_eq!(p.weight(o, 3, 3), 0, "padding column");
    }
}

#[test]
fn int8_blocks_follow_the_documented_index() {
    for outputs in 1..=9 {
        for inputs in 1..=9 {
            let w: Vec<i8> = (0..inputs * outputs).map(|k| (k % 251) as i8 + 1).collect();
            let blocked = block_int8(&w, inputs, outputs);
            assert_eq!(blocked.len(), round4(inputs) * round4(outputs));
            let mut seen = 0;
            for o in 0..outputs {
                for i in 0..inputs {
                    // The formula of FORMAT.md, written out independently of the crate's.
                    let i4 = inputs.div_ceil(4) * 4;
                    let at = ((o / 4) * (i4 / 4) + i / 4) * 16 + (o % 4) * 4 + i % 4;
                    assert_eq!(blocked[at], w[o * inputs + i]);
                    seen += 1;
                }
            }
            let nonzero = blocked.iter().filter(|&&v| v != 0).count();
            assert_eq!(
                nonzero, seen,
                "{outputs}x{inputs}: padding holds zeros only"
            );
        }
    }
}

#[test]
fn every_v2_truncation_and_bit_flip_is_rejected() {
    for bytes in [tiny_f16(), tiny_int8()] {
        for len in 0..bytes.len() {
            assert!(
                decode(&bytes[..len]).is_err(),
                "truncation to {len} accepted"
            );
        }
        let mut copy = bytes.to_vec();
        for i in 0..copy.len() {
            for bit in 0..8 {
                copy[i] ^= 1 << bit;
                assert!(decode(&copy).is_err(), "flip of bit {bit} in byte {i}");
                copy[i] ^= 1 << bit;
            }
        }
        assert!(decode(&copy).is_ok());
    }
}

/// The golden int8 file with `edit` applied to its body, resealed.
fn edited_int8(edit: impl FnOnce(&mut Vec<u8>)) -> Result<(), Error> {
    let mut body = GOLDEN_INT8[..GOLDEN_INT8.len() - CHECKSUM_LEN].to_vec();
    edit(&mut body);
    decode(&reseal(body))
}

fn put_i32(body: &mut [u8], at: usize, v: i32) {
    body[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

// Offsets into GOLDEN_INT8 (FORMAT.md's int8 hex dump): layer 0's header entry at 0x32, its
// storage tag at 0x35, input scale 0x36, output scale 0x3c, output zero point 0x40; layer 1's
// input scale at 0x47; the data section at 84 = 0x54. Layer 0's block, from there: 16 weight
// bytes, biases at +16, multipliers at +28, shifts at +40, weight scales at +52; layer 1's at +64.
const TAG0: usize = 0x35;
const IN_SCALE0: usize = 0x36;
const OUT_SCALE0: usize = 0x3c;
const OUT_ZP0: usize = 0x40;
const IN_SCALE1: usize = 0x47;
const DATA: usize = 84;

#[test]
fn int8_fields_out_of_range_are_refused() {
    assert_eq!(edited_int8(|_| {}), Ok(()));
    assert_eq!(
        edited_int8(|b| b[TAG0] = 3),
        Err(Error::UnknownStorage { layer: 0, tag: 3 })
    );
    assert_eq!(
        edited_int8(|b| b[OUT_SCALE0..OUT_SCALE0 + 4].fill(0)),
        Err(Error::BadScale { layer: 0 })
    );
    assert_eq!(
        edited_int8(|b| b[OUT_SCALE0 + 3] |= 0x80),
        Err(Error::BadScale { layer: 0 }),
        "negative scale"
    );
    // Zigzag varint `80 02` is 128: the same length as -128's `ff 01`.
    assert_eq!(
        edited_int8(|b| b[OUT_ZP0..OUT_ZP0 + 2].copy_from_slice(&[0x80, 0x02])),
        Err(Error::BadZeroPoint {
            layer: 0,
            found: 128
        })
    );
    assert_eq!(
        edited_int8(|b| b[IN_SCALE0] ^= 1),
        Err(Error::QuantMismatch { layer: 0 }),
        "layer 0 must read the pixels' quantization"
    );
    assert_eq!(
        edited_int8(|b| b[IN_SCALE1] ^= 1),
        Err(Error::QuantMismatch { layer: 1 })
    );
    // Row 0 of layer 0: weights 64, −32, 127, 0 (Σ|w| = 223) on pixels p − 128 with zero
    // point −128 (|x − zx| ≤ 255), bias 0: the accumulator is at most 223 · 255 = 56,865, and
    // 56,865 · 2^15 = 1,863,352,320 ≤ 2^31 − 1 − 128 < 56,865 · 2^16. Shifts 16 to 30 are in
    // range but could wrap the requantization's left shift.
    for (shift, ok) in [(-32, false), (-31, true), (15, true), (31, false)] {
        let got = edited_int8(|b| put_i32(b, DATA + 40, shift));
        if ok {
            assert_eq!(got, Ok(()), "shift {shift}");
        } else {
            let want = Error::BadShift {
                layer: 0,
                row: 0,
                found: shift,
            };
            assert_eq!(got, Err(want));
        }
    }
    for shift in [16, 30] {
        assert_eq!(
            edited_int8(|b| put_i32(b, DATA + 40, shift)),
            Err(Error::ActivationOverflow { layer: 0, row: 0 }),
            "shift {shift}"
        );
    }
    for m in [0, 5, (1 << 30) - 1, -(1 << 30), i32::MIN] {
        assert_eq!(
            edited_int8(|b| put_i32(b, DATA + 32, m)),
            Err(Error::BadMultiplier { layer: 0, row: 1 }),
            "multiplier {m}"
        );
    }
    assert_eq!(edited_int8(|b| put_i32(b, DATA + 28, i32::MAX)), Ok(()));
    assert_eq!(
        edited_int8(|b| put_i32(b, DATA + 52, 0)),
        Err(Error::BadScale { layer: 0 }),
        "zero weight scale"
    );
    // Row 3 of layer 0's tile is padding (3 outputs); column 3 of layer 1 too (3 inputs).
    assert_eq!(
        edited_int8(|b| b[DATA + 12] = 1),
        Err(Error::NonZeroWeightPadding { layer: 0 })
    );
    assert_eq!(
        edited_int8(|b| b[DATA + 64 + 3] = 0xff),
        Err(Error::NonZeroWeightPadding { layer: 1 })
    );
}

#[test]
fn f16_values_and_padding_are_checked() {
    // 3 pixels -> 3 outputs: 9 binary16 weights, 18 bytes, 2 bytes of padding.
    let w = [0x3c00u16; 9];
    let layers = [LayerSpec {
        inputs: 3,
        outputs: 3,
        activation: Activation::Softmax,
        params: Params::F16 {
            weights: &w,
            bias: &[0.0; 3],
        },
    }];
    let mut s = spec("f16 padding", &layers);
    s.input.width = 3;
    s.input.height = 1;
    s.class_names = &["a", "b", "c"];
    let file = encode(&s).unwrap();
    let header_len = u16::from_le_bytes([file[6], file[7]]) as usize;
    let data = (PREAMBLE_LEN + header_len).next_multiple_of(4);
    let edited = |at: usize, v: &[u8]| {
        let mut body = file[..file.len() - CHECKSUM_LEN].to_vec();
        body[at..at + v.len()].copy_from_slice(v);
        decode(&reseal(body))
    };
    assert_eq!(edited(data, &[0x00, 0x3c]), Ok(()));
    assert_eq!(
        edited(data + 18, &[1]),
        Err(Error::NonZeroWeightPadding { layer: 0 })
    );
    for bad in [0x7c00u16, 0xfc00, 0x7e00, 0x7c01] {
        assert_eq!(
            edited(data + 4, &bad.to_le_bytes()),
            Err(Error::NonFinite { layer: 0, index: 2 }),
            "{bad:#06x}"
        );
    }
    assert_eq!(
        edited(data + 20, &f32::NAN.to_le_bytes()),
        Err(Error::NonFinite { layer: 0, index: 9 }),
        "bias 0 follows the 9 weights"
    );
}

#[test]
fn encoder_refuses_inconsistent_v2_layers() {
    let w = int8_weights();
    let mut layers = int8_layers(&w);
    layers[1] = LayerSpec::f32(3, 2, Activation::Softmax, &W1, &B1);
    assert_eq!(
        encode(&spec("mixed", &layers)).err(),
        Some(Error::MixedStorage { layer: 1 })
    );

    let mut layers = int8_layers(&w);
    let Params::Int8(ref mut p) = layers[0].params else {
        unreachable!()
    };
    p.weights = &QW0; // row-major, not blocked: 12 bytes instead of 16
    assert!(matches!(
        encode(&spec("unblocked", &layers)),
        Err(Error::DataLengthMismatch {
            expected: 64,
            found: 60
        })
    ));

    let mut layers = f16_layers();
    layers[0].params = Params::F16 {
        weights: &W0_F16[..11],
        bias: &B0,
    };
    assert!(matches!(
        encode(&spec("short", &layers)),
        Err(Error::DataLengthMismatch { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5_000))]

    #[test]
    fn resealed_v2_mutations_never_panic(
        int8 in any::<bool>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)
    ) {
        let golden = if int8 { GOLDEN_INT8 } else { GOLDEN_F16 };
        let mut body = golden[..golden.len() - CHECKSUM_LEN].to_vec();
        for (i, v) in edits {
            let at = i.index(body.len());
            body[at] = v;
        }
        check_invariants(&reseal(body));
    }

    #[test]
    fn int8_round_trip(
        widths in prop::collection::vec(1u32..11, 1..4),
        seed in any::<u32>(),
    ) {
        let inputs = 5u32;
        let mut x = seed | 1;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        let mut owned = Vec::new();
        let mut prev = inputs;
        for &w in &widths {
            let row_major: Vec<i8> = (0..prev * w).map(|_| next() as i8).collect();
            let bias: Vec<i32> = (0..w).map(|_| next() as i32 >> 8).collect();
            let mult: Vec<i32> = (0..w).map(|_| (1 << 30) | (next() as i32 & 0x3fff_ffff)).collect();
            // Shifts ≤ 0 (a real factor below 1, as every quantized layer has): a positive
            // shift on these biases could wrap, which the reader refuses.
            let shift: Vec<i32> = (0..w).map(|_| -((next() % 32) as i32)).collect();
            owned.push((block_int8(&row_major, prev as usize, w as usize), bias, mult, shift, vec![0.5f32; w as usize]));
            prev = w;
        }
        let mut q = PIXELS;
        let mut layers = Vec::new();
        prev = inputs;
        for (k, (&w, (weights, bias, multiplier, shift, weight_scale))) in widths.iter().zip(&owned).enumerate() {
            let output = Quant { scale: 0.25 * (k + 1) as f32, zero_point: (k as i32 * 37) % 256 - 128 };
            layers.push(LayerSpec {
                inputs: prev,
                outputs: w,
                activation: Activation::Relu,
                params: Params::Int8(Int8Params { input: q, output, weights, bias, multiplier, shift, weight_scale }),
            });
            q = output;
            prev = w;
        }
        let names = ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10"];
        let mut s = spec("prop", &layers);
        s.input.width = inputs as u16;
        s.input.height = 1;
        s.class_names = &names[..prev as usize];
        let bytes = encode(&s).unwrap();
        check_invariants(&bytes);
        let m = Model::from_bytes(&bytes).unwrap();
        for (got, want) in m.layers().iter().zip(&layers) {
            prop_assert_eq!(got.params(), want.params);
        }
    }
}
