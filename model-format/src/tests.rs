//! Wire-format tests: golden bytes, round trips, truncation, bit flips, arbitrary bytes.

use proptest::prelude::*;

use crate::*;

/// The worked example of `FORMAT.md`, written by `python3 model-format/tools/golden.py` from
/// the spec alone (no Rust code involved). Any change to the wire format breaks this test.
const GOLDEN: [u8; 156] = [
    0x46, 0x4d, 0x4c, 0x50, 0x01, 0x00, 0x2d, 0x00, 0x9c, 0x00, 0x00, 0x00, 0x04, 0x74, 0x69, 0x6e,
    0x79, 0x2a, 0x03, 0x00, 0x00, 0x40, 0x3f, 0x06, 0x67, 0x6f, 0x6c, 0x64, 0x65, 0x6e, 0x02, 0x02,
    0x81, 0x80, 0x80, 0x3b, 0x02, 0x03, 0x6f, 0x66, 0x66, 0x02, 0x6f, 0x6e, 0x02, 0x04, 0x03, 0x01,
    0x00, 0x00, 0x0c, 0x03, 0x02, 0x02, 0x00, 0x0f, 0x15, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3f,
    0x00, 0x00, 0x80, 0xbe, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0xbf,
    0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x3e, 0x00, 0x00, 0x40, 0x3f, 0x00, 0x00, 0x80, 0x3e,
    0x00, 0x00, 0x80, 0x3e, 0x00, 0x00, 0x00, 0xbf, 0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x80, 0xbf, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x80, 0xbf,
    0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x80, 0x3e, 0x00, 0x00, 0x80, 0x3f,
    0x00, 0x00, 0x00, 0x3e, 0x00, 0x00, 0x00, 0xbe, 0x7e, 0x9b, 0x92, 0x6a,
];

const W0: [f32; 12] = [
    0.5, -0.25, 1.0, 0.0, -1.0, 2.0, 0.125, 0.75, 0.25, 0.25, -0.5, 1.5,
];
const B0: [f32; 3] = [0.0, 0.5, -1.0];
const W1: [f32; 6] = [1.0, -1.0, 0.5, -2.0, 0.25, 1.0];
const B1: [f32; 2] = [0.125, -0.125];

fn tiny_layers() -> [LayerSpec<'static>; 2] {
    [
        LayerSpec::f32(4, 3, Activation::Relu, &W0, &B0),
        LayerSpec::f32(3, 2, Activation::Softmax, &W1, &B1),
    ]
}

fn tiny_spec<'s>(layers: &'s [LayerSpec<'s>]) -> ModelSpec<'s> {
    ModelSpec {
        variant: "tiny",
        provenance: Provenance {
            seed: 42,
            epochs: 3,
            test_accuracy: 0.75,
            note: "golden",
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

fn tiny() -> AlignedBytes {
    encode(&tiny_spec(&tiny_layers())).expect("tiny model encodes")
}

/// A model with a few hundred parameters, for the exhaustive bit-flip test.
fn small() -> AlignedBytes {
    let w0: Vec<f32> = (0..16 * 8).map(|i| (i as f32 - 60.0) / 64.0).collect();
    let w1: Vec<f32> = (0..8 * 4).map(|i| (i as f32 - 16.0) / 8.0).collect();
    let layers = [
        LayerSpec::f32(16, 8, Activation::Relu, &w0, &[0.5; 8]),
        LayerSpec::f32(8, 4, Activation::Softmax, &w1, &[-0.25; 4]),
    ];
    encode(&ModelSpec {
        variant: "small",
        provenance: Provenance {
            seed: u64::MAX,
            epochs: 25,
            test_accuracy: 1.0,
            note: "for bit flips",
        },
        input: InputSpec {
            width: 4,
            height: 4,
            scale: 1.0,
        },
        class_names: &["a", "b", "c", "d"],
        layers: &layers,
    })
    .expect("small model encodes")
}

/// The f32 `(weights, bias)` of a layer that must be f32.
fn f32s<'a>(l: &Layer<'a>) -> (&'a [f32], &'a [f32]) {
    l.params().f32().expect("an f32 layer")
}

/// Replaces the weights or the bias of an f32 layer spec.
fn set_f32<'s>(l: &mut LayerSpec<'s>, weights: Option<&'s [f32]>, bias: Option<&'s [f32]>) {
    let (w, b) = l.params.f32().expect("an f32 layer spec");
    l.params = Params::F32 {
        weights: weights.unwrap_or(w),
        bias: bias.unwrap_or(b),
    };
}

/// Decodes bytes copied into aligned storage (a sub-slice of an aligned buffer is not).
pub(super) fn decode(bytes: &[u8]) -> Result<(), Error> {
    Model::from_bytes(&AlignedBytes::from_slice(bytes)).map(|_| ())
}

#[test]
fn golden_bytes() {
    assert_eq!(tiny().as_bytes(), &GOLDEN[..]);
}

#[test]
fn golden_file_matches_golden_bytes() {
    assert_eq!(include_bytes!("../golden/tiny.fmlp"), &GOLDEN);
}

#[test]
fn golden_decodes_to_the_spec() {
    let bytes = AlignedBytes::from_slice(&GOLDEN);
    let m = Model::from_bytes(&bytes).unwrap();
    assert_eq!(m.variant(), "tiny");
    assert_eq!(m.provenance().seed, 42);
    assert_eq!(m.provenance().epochs, 3);
    assert_eq!(m.provenance().test_accuracy, 0.75);
    assert_eq!(m.provenance().note, "golden");
    assert_eq!(m.input().pixels(), 4);
    assert_eq!(m.input().scale, 1.0 / 255.0);
    assert_eq!(m.class_names(), &["off", "on"]);
    assert_eq!(m.layers().len(), 2);
    let (l0, l1) = (m.layers()[0], m.layers()[1]);
    assert_eq!(
        (l0.inputs(), l0.outputs(), l0.activation()),
        (4, 3, Activation::Relu)
    );
    assert_eq!(
        (l1.inputs(), l1.outputs(), l1.activation()),
        (3, 2, Activation::Softmax)
    );
    assert_eq!(f32s(&l0).0, &W0);
    assert_eq!(f32s(&l0).1, &B0);
    assert_eq!(f32s(&l1).0, &W1);
    assert_eq!(f32s(&l1).1, &B1);
    assert_eq!(m.param_count(), 12 + 3 + 6 + 2);
    assert_eq!(m.max_width(), 4);
    assert_eq!(m.inputs(), 4);
    assert_eq!(m.classes(), 2);
}

#[test]
fn weights_are_borrowed_in_place() {
    let bytes = tiny();
    let m = Model::from_bytes(&bytes).unwrap();
    let range = bytes.as_bytes().as_ptr_range();
    for l in m.layers() {
        assert!(range.contains(&f32s(l).0.as_ptr().cast()));
        assert!(range.contains(&f32s(l).1.as_ptr().cast()));
    }
}

#[test]
fn every_truncation_is_rejected() {
    for bytes in [tiny(), small()] {
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n]).is_err(), "prefix of {n} bytes accepted");
        }
    }
}

#[test]
fn every_bit_flip_is_rejected() {
    for bytes in [tiny(), small()] {
        let mut copy = bytes.to_vec();
        for i in 0..copy.len() {
            for bit in 0..8 {
                copy[i] ^= 1 << bit;
                assert!(
                    decode(&copy).is_err(),
                    "flip of bit {bit} in byte {i} accepted"
                );
                copy[i] ^= 1 << bit;
            }
        }
        assert!(decode(&copy).is_ok());
    }
}

#[test]
fn preamble_errors_are_specific() {
    let good = tiny().to_vec();
    let mut b = good.clone();
    b[0] = b'X';
    assert_eq!(decode(&b), Err(Error::BadMagic { found: *b"XMLP" }));
    for version in [0, VERSION + 1, u16::MAX] {
        let mut b = good.clone();
        b[4..6].copy_from_slice(&version.to_le_bytes());
        assert_eq!(
            decode(&b),
            Err(Error::UnsupportedVersion { found: version })
        );
    }
    assert_eq!(
        decode(&good[..100]),
        Err(Error::LengthMismatch {
            expected: 156,
            found: 100
        })
    );
    assert_eq!(decode(&good[..15]), Err(Error::TooShort { found: 15 }));
    let mut b = good.clone();
    b[70] ^= 0x10;
    assert!(matches!(decode(&b), Err(Error::ChecksumMismatch { .. })));
}

#[test]
fn misaligned_bytes_are_refused() {
    let bytes = tiny();
    let mut shifted = AlignedBytes::from_slice(&[[0u8].as_slice(), &bytes].concat());
    // `shifted[1..]` starts one byte past a 4-byte boundary.
    assert_eq!(
        Model::from_bytes(&shifted[1..]).err(),
        Some(Error::Misaligned)
    );
    shifted = AlignedBytes::from_slice(&bytes);
    assert!(Model::from_bytes(&shifted).is_ok());
}

#[test]
fn encoder_refuses_what_a_device_could_not_run() {
    let mut layers = tiny_layers();
    layers[1].inputs = 4; // 3 outputs feed a layer that claims 4 inputs
    set_f32(&mut layers[1], Some(&[0.0; 8]), None);
    assert_eq!(
        encode(&tiny_spec(&layers)).err(),
        Some(Error::ShapeMismatch {
            layer: 1,
            expected: 3,
            found: 4
        })
    );

    let nan_w = [
        0.5,
        f32::NAN,
        1.0,
        0.0,
        -1.0,
        2.0,
        0.125,
        0.75,
        0.25,
        0.25,
        -0.5,
        1.5,
    ];
    let mut layers = tiny_layers();
    set_f32(&mut layers[0], Some(&nan_w), None);
    assert_eq!(
        encode(&tiny_spec(&layers)).err(),
        Some(Error::NonFinite { layer: 0, index: 1 })
    );

    let inf_b = [0.0, f32::INFINITY];
    let mut layers = tiny_layers();
    set_f32(&mut layers[1], None, Some(&inf_b));
    assert_eq!(
        encode(&tiny_spec(&layers)).err(),
        Some(Error::NonFinite { layer: 1, index: 7 })
    );

    let mut layers = tiny_layers();
    layers[0].activation = Activation::Softmax;
    assert_eq!(
        encode(&tiny_spec(&layers)).err(),
        Some(Error::BadActivation { layer: 0 })
    );

    let mut layers = tiny_layers();
    set_f32(&mut layers[1], Some(&W1[..5]), None);
    assert!(matches!(
        encode(&tiny_spec(&layers)),
        Err(Error::DataLengthMismatch { .. })
    ));

    let layers = tiny_layers();
    let mut spec = tiny_spec(&layers);
    spec.class_names = &["a", "b", "c"];
    assert_eq!(
        encode(&spec).err(),
        Some(Error::ClassMismatch {
            expected: 3,
            found: 2
        })
    );
    let long = "x".repeat(MAX_STR_LEN + 1);
    let mut spec = tiny_spec(&layers);
    spec.variant = &long;
    assert_eq!(
        encode(&spec).err(),
        Some(Error::StringTooLong {
            found: MAX_STR_LEN + 1
        })
    );
    let mut spec = tiny_spec(&layers);
    spec.provenance.test_accuracy = f32::NAN;
    assert_eq!(encode(&spec).err(), Some(Error::BadProvenance));
    let mut spec = tiny_spec(&layers);
    spec.input.scale = 0.0;
    assert_eq!(encode(&spec).err(), Some(Error::BadInput));
}

#[test]
fn contract_and_capacity_checks() {
    let bytes = tiny();
    let m = Model::from_bytes(&bytes).unwrap();
    assert!(m.check_contract(4, 2).is_ok());
    assert_eq!(
        m.check_contract(784, 10),
        Err(Error::ContractMismatch {
            expected_inputs: 784,
            found_inputs: 4,
            expected_classes: 10,
            found_classes: 2
        })
    );
    assert!(m.check_capacity(4).is_ok());
    assert_eq!(
        m.check_capacity(3),
        Err(Error::TooWide {
            layer: 0,
            width: 4,
            capacity: 3
        })
    );
}

/// Re-seals `body` (everything but the trailer) with a correct length and CRC, so mutations
/// reach the header decoder instead of stopping at the checksum.
pub(super) fn reseal(mut body: Vec<u8>) -> Vec<u8> {
    if body.len() >= PREAMBLE_LEN {
        let len = (body.len() + CHECKSUM_LEN) as u32;
        body[8..12].copy_from_slice(&len.to_le_bytes());
        body[0..4].copy_from_slice(&MAGIC);
        // A known version stays (so mutations of a version-1 file stay version 1).
        let version = u16::from_le_bytes([body[4], body[5]]);
        if !(1..=VERSION).contains(&version) {
            body[4..6].copy_from_slice(&VERSION.to_le_bytes());
        }
    }
    let crc = CRC32.checksum(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}

/// What must hold for anything `from_bytes` accepts, in every storage.
pub(super) fn check_invariants(bytes: &[u8]) {
    let aligned = AlignedBytes::from_slice(bytes);
    if let Ok(m) = Model::from_bytes(&aligned) {
        let mut inputs = m.input().pixels() as usize;
        let int8 = m.is_int8();
        for l in m.layers() {
            let (n, o) = (l.inputs(), l.outputs());
            assert_eq!(n, inputs);
            assert_eq!(l.storage() == Storage::Int8, int8);
            match l.params() {
                Params::F32 { weights, bias } => {
                    assert_eq!((weights.len(), bias.len()), (n * o, o));
                    assert!(weights.iter().chain(bias).all(|v| v.is_finite()));
                }
                Params::F16 { weights, bias } => {
                    assert_eq!((weights.len(), bias.len()), (n * o, o));
                    assert!(weights.iter().all(|w| w & 0x7c00 != 0x7c00));
                    assert!(bias.iter().all(|v| v.is_finite()));
                }
                Params::Int8(p) => {
                    assert_eq!(p.weights.len(), round4(n) * round4(o));
                    for len in [p.bias.len(), p.multiplier.len(), p.shift.len()] {
                        assert_eq!(len, o);
                    }
                    assert_eq!(p.weight_scale.len(), o);
                    assert!(p.multiplier.iter().all(|&m| m >= 1 << 30));
                    assert!(p.shift.iter().all(|s| (-31..=30).contains(s)));
                    for q in [p.input, p.output] {
                        assert!(q.scale.is_finite() && q.scale > 0.0);
                        assert!((-128..=127).contains(&q.zero_point));
                    }
                }
            }
            inputs = o;
        }
        assert_eq!(inputs, m.classes());
    }
}

fn layer_strategy() -> impl Strategy<Value = (u32, Vec<u32>, Vec<f32>)> {
    (
        1u32..6,
        prop::collection::vec(1u32..6, 1..MAX_LAYERS),
        any::<u64>(),
    )
        .prop_map(|(inputs, widths, seed)| {
            let total: u32 = widths
                .iter()
                .scan(inputs, |prev, &w| {
                    let n = *prev * w + w;
                    *prev = w;
                    Some(n)
                })
                .sum();
            let mut x = seed | 1;
            let values = (0..total)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x as i32 as f32) / (1u64 << 31) as f32
                })
                .collect();
            (inputs, widths, values)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_invariants(&bytes);
    }

    #[test]
    fn resealed_arbitrary_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 12..400)) {
        check_invariants(&reseal(body));
    }

    #[test]
    fn resealed_mutations_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)
    ) {
        let mut body = GOLDEN[..GOLDEN.len() - CHECKSUM_LEN].to_vec();
        for (i, v) in edits {
            let at = i.index(body.len());
            body[at] = v;
        }
        check_invariants(&reseal(body));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn round_trip((inputs, widths, values) in layer_strategy(), seed in any::<u64>(), acc in 0.0f32..=1.0) {
        let mut rest = values.as_slice();
        let mut prev = inputs;
        let mut layers = Vec::new();
        for (i, &w) in widths.iter().enumerate() {
            let (weights, tail) = rest.split_at((prev * w) as usize);
            let (bias, tail) = tail.split_at(w as usize);
            rest = tail;
            let last = i + 1 == widths.len();
            let activation = if last { Activation::Softmax } else { Activation::Relu };
            layers.push(LayerSpec::f32(prev, w, activation, weights, bias));
            prev = w;
        }
        let names = ["c0", "c1", "c2", "c3", "c4", "c5"];
        let spec = ModelSpec {
            variant: "prop",
            provenance: Provenance { seed, epochs: 1, test_accuracy: acc, note: "round trip" },
            input: InputSpec { width: inputs as u16, height: 1, scale: 0.5 },
            class_names: &names[..prev as usize],
            layers: &layers,
        };
        let bytes = encode(&spec).unwrap();
        let m = Model::from_bytes(&bytes).unwrap();
        prop_assert_eq!(m.variant(), "prop");
        prop_assert_eq!(m.provenance(), &spec.provenance);
        prop_assert_eq!(m.input(), &spec.input);
        prop_assert_eq!(m.class_names(), spec.class_names);
        prop_assert_eq!(m.layers().len(), layers.len());
        for (got, want) in m.layers().iter().zip(&layers) {
            prop_assert_eq!(got.inputs() as u32, want.inputs);
            prop_assert_eq!(got.outputs() as u32, want.outputs);
            prop_assert_eq!(got.activation(), want.activation);
            prop_assert_eq!(got.params(), want.params);
        }
    }
}
