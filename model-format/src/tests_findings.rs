//! Issue 13's findings on the model file, each a test named after it.

use crate::*;

const GOLDEN_V1: &[u8] = include_bytes!("../golden/tiny.fmlp");
const GOLDEN_F16: &[u8] = include_bytes!("../golden/tiny-f16.fmlp");
const GOLDEN_INT8: &[u8] = include_bytes!("../golden/tiny-int8.fmlp");

/// A varint of the header: where it starts, how many bytes it has, and the most bytes postcard
/// reads for its type (u16: 3, u32 and lengths: 5 — a length is a `usize`, 5 bytes on a
/// 32-bit target — u64: 10).
#[derive(Debug, Clone, Copy)]
struct Varint {
    at: usize,
    len: usize,
    max: usize,
}

/// Every varint of a header (the bytes after the preamble), found by walking FORMAT.md's field
/// list, so the test does not depend on the decoder it tests.
fn varints(version: u16, header: &[u8]) -> Vec<Varint> {
    struct Walk<'h> {
        h: &'h [u8],
        at: usize,
        found: Vec<Varint>,
    }
    impl Walk<'_> {
        fn varint(&mut self, max: usize) -> u64 {
            let start = self.at;
            let mut value = 0u64;
            loop {
                let b = self.h[self.at];
                value |= u64::from(b & 0x7f) << (7 * (self.at - start));
                self.at += 1;
                if b & 0x80 == 0 {
                    break;
                }
            }
            self.found.push(Varint {
                at: start,
                len: self.at - start,
                max,
            });
            value
        }
        fn skip(&mut self, n: usize) {
            self.at += n;
        }
        fn str(&mut self) {
            let n = self.varint(5) as usize;
            self.skip(n);
        }
        fn quant(&mut self) {
            self.skip(4); // scale, f32
            self.varint(5); // zero point, zigzag i32
        }
    }
    let mut w = Walk {
        h: header,
        at: 0,
        found: Vec::new(),
    };
    w.str(); // variant
    w.varint(10); // seed
    w.varint(5); // epochs
    w.skip(4); // test accuracy
    w.str(); // note
    w.varint(3); // width
    w.varint(3); // height
    w.skip(4); // scale
    for _ in 0..w.varint(5) {
        w.str(); // class names
    }
    for _ in 0..w.varint(5) {
        if version == 1 {
            for _ in 0..6 {
                w.varint(5); // inputs, outputs, activation, layout, two offsets
            }
        } else {
            for _ in 0..3 {
                w.varint(5); // inputs, outputs, activation
            }
            if w.varint(5) == 2 {
                w.quant();
                w.quant();
            }
            w.varint(5); // offset
        }
    }
    assert_eq!(w.at, header.len(), "the walk covers the whole header");
    w.found
}

/// `file` with one header varint re-encoded in `extra` more bytes (the same value: the last
/// byte gains the continuation bit, then `extra − 1` bytes `0x80` and a final `0x00`), laid out
/// again with every length, the padding and the CRC right, so nothing but the varint is wrong.
fn overlong(file: &[u8], v: Varint, extra: usize) -> AlignedBytes {
    let header_len = usize::from(u16::from_le_bytes([file[6], file[7]]));
    let data_start = align4(PREAMBLE_LEN + header_len);
    let mut header = file[PREAMBLE_LEN..PREAMBLE_LEN + header_len].to_vec();
    let last = v.at + v.len - 1;
    header[last] |= 0x80;
    let mut tail = vec![0x80; extra - 1];
    tail.push(0x00);
    header.splice(last + 1..last + 1, tail);

    let mut out = file[..PREAMBLE_LEN].to_vec();
    out[6..8].copy_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(&header);
    out.resize(align4(out.len()), 0);
    out.extend_from_slice(&file[data_start..file.len() - CHECKSUM_LEN]);
    let len = (out.len() + CHECKSUM_LEN) as u32;
    out[8..12].copy_from_slice(&len.to_le_bytes());
    let crc = CRC32.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    AlignedBytes::from_slice(&out)
}

/// A model with multi-byte varints: 784 inputs (`90 06`), a 255-byte note (`ff 01`), 130
/// outputs (`82 01`), a seed of ten bytes.
fn wide() -> AlignedBytes {
    let note = "n".repeat(255);
    let w = vec![0.01f32; 784 * 130];
    let b = [0.0f32; 130];
    let w1 = vec![-0.02f32; 130 * 3];
    let layers = [
        LayerSpec::f32(784, 130, Activation::Relu, &w, &b),
        LayerSpec::f32(130, 3, Activation::Softmax, &w1, &b[..3]),
    ];
    encode(&ModelSpec {
        variant: "wide",
        provenance: Provenance {
            seed: u64::MAX - 5,
            epochs: 200,
            test_accuracy: 0.5,
            note: &note,
        },
        input: InputSpec {
            width: 28,
            height: 28,
            scale: 1.0 / 255.0,
        },
        class_names: &["a", "b", "c"],
        layers: &layers,
    })
    .expect("the wide model encodes")
}

#[test]
fn finding_2_overlong_varints_refused() {
    let wide = wide();
    let files: [(&str, &[u8]); 4] = [
        ("tiny v1", GOLDEN_V1),
        ("tiny f16", GOLDEN_F16),
        ("tiny int8", GOLDEN_INT8),
        ("wide", &wide),
    ];
    let mut tried = 0;
    for (name, file) in files {
        assert!(Model::from_bytes(&AlignedBytes::from_slice(file)).is_ok());
        let version = u16::from_le_bytes([file[4], file[5]]);
        let header_len = usize::from(u16::from_le_bytes([file[6], file[7]]));
        let header = &file[PREAMBLE_LEN..PREAMBLE_LEN + header_len];
        for v in varints(version, header) {
            // One byte longer, and as long as postcard reads for the type.
            for extra in [1, v.max.saturating_sub(v.len)] {
                if extra == 0 || v.len + extra > v.max {
                    continue;
                }
                let bytes = overlong(file, v, extra);
                // The first byte that differs is the varint's last, now with its continuation bit.
                let offset = PREAMBLE_LEN + v.at + v.len - 1;
                assert_eq!(
                    Model::from_bytes(&bytes).err(),
                    Some(Error::NonCanonical { offset }),
                    "{name}: the varint at header byte {} ({} bytes) re-encoded {extra} bytes longer",
                    v.at,
                    v.len
                );
                tried += 1;
            }
        }
    }
    // 22 + 22 + 26 + 22 varints, most of them two ways.
    assert!(tried > 150, "{tried}");
}

#[test]
fn finding_3_encode_sizes_do_not_overflow_on_32_bit() {
    // A 2^16 × 2^16 layer: `inputs × outputs` = 2^32 wraps to 0 in a 32-bit `usize` (a panic
    // in a debug build, empty slices "matching" in a release one). Sizes are computed in u64,
    // so every target reports the block's true size. Empty slices are enough: shapes are
    // checked before any slice is read. Expected: f32 4·2^32 + 4·2^16; f16 2·2^32 + 4·2^16;
    // int8 2^32 (tiles) + 16·2^16.
    const SIDE: u32 = 1 << 16;
    let q = Quant {
        scale: 1.0 / 255.0,
        zero_point: PIXEL_ZERO_POINT,
    };
    let int8 = Params::Int8(Int8Params {
        input: q,
        output: q,
        weights: &[],
        bias: &[],
        multiplier: &[],
        shift: &[],
        weight_scale: &[],
    });
    let cases = [
        (
            Params::F32 {
                weights: &[],
                bias: &[],
            },
            (1u64 << 34) + (1 << 18),
        ),
        (
            Params::F16 {
                weights: &[],
                bias: &[],
            },
            (1u64 << 33) + (1 << 18),
        ),
        (int8, (1u64 << 32) + (1 << 20)),
    ];
    for (params, expected) in cases {
        let layers = [LayerSpec {
            inputs: SIDE,
            outputs: SIDE,
            activation: Activation::None,
            params,
        }];
        let names: Vec<String> = (0..16).map(|i| i.to_string()).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let spec = spec_of(256, &names, &layers);
        assert_eq!(
            encode(&spec).map(|_| ()),
            Err(Error::DataLengthMismatch { expected, found: 0 }),
            "{:?}",
            params.storage()
        );
    }
}

/// `layers` behind `side × side` pixels of scale 1/255, so the input bound is exactly 1.0.
fn spec_of<'s>(
    side: u16,
    class_names: &'s [&'s str],
    layers: &'s [LayerSpec<'s>],
) -> ModelSpec<'s> {
    ModelSpec {
        variant: "findings",
        provenance: Provenance {
            seed: 0,
            epochs: 0,
            test_accuracy: 0.0,
            note: "",
        },
        input: InputSpec {
            width: side,
            height: side,
            scale: 1.0 / 255.0,
        },
        class_names,
        layers,
    }
}

/// `layers` behind 2×2 pixels, encoded (and so checked).
fn model_of(layers: &[LayerSpec<'_>]) -> Result<AlignedBytes, Error> {
    let classes = layers.last().unwrap().outputs as usize;
    encode(&spec_of(2, &["a", "b", "c", "d"][..classes], layers))
}

#[test]
fn finding_1_float_bounds_refuse_what_could_overflow() {
    // 255 · f32(1/255) rounds to exactly 1.0, so the bound of a 4 → 4 layer with weights w
    // and bias 0 is (0 + 1 · 4w) · 2 (the margin for 4 inputs) = 8w.
    assert_eq!(255.0 * (1.0f32 / 255.0), 1.0);
    let layer = |w: &'static [f32]| LayerSpec::f32(4, 4, Activation::Softmax, w, &[0.0; 4]);
    // 8 · 1.5 · 2^124 = 1.5 · 2^127 ≤ f32::MAX; 8 · 2^125 = 2^128 > f32::MAX.
    static FITS: [f32; 16] = [1.5 * (1u128 << 124) as f32; 16];
    static OVER: [f32; 16] = [(1u128 << 125) as f32; 16];
    assert!(model_of(&[layer(&FITS)]).is_ok());
    assert_eq!(
        model_of(&[layer(&OVER)]).err(),
        Some(Error::ActivationOverflow { layer: 0, row: 0 })
    );
    // The row named is the first whose bound is out: only row 2 has large weights.
    static ROW2: [f32; 16] = {
        let mut w = [0.5f32; 16];
        let mut i = 8;
        while i < 12 {
            w[i] = 1e38;
            i += 1;
        }
        w
    };
    assert_eq!(
        model_of(&[layer(&ROW2)]).err(),
        Some(Error::ActivationOverflow { layer: 0, row: 2 })
    );
    // Σ|w| itself overflows f32 (4 · 3e38): infinity, refused, not wrapped or ignored.
    static SUM_OVERFLOWS: [f32; 16] = [3e38; 16];
    assert_eq!(
        model_of(&[layer(&SUM_OVERFLOWS)]).err(),
        Some(Error::ActivationOverflow { layer: 0, row: 0 })
    );
}

#[test]
fn finding_1_f16_bounds_grow_through_the_layers() {
    // f16's largest weight, 65504, everywhere: each 4 → 4 layer multiplies the bound by
    // 2 · 4 · 65504 = 524,032, so after layer L it is 524,032^(L+1), beyond f32::MAX
    // (e^88.72) first at L + 1 = 7 (13.169 · 7 = 92.2 > 88.72 > 13.169 · 6 = 79.0).
    static MAX_F16: [u16; 16] = [0x7bff; 16];
    let layers: Vec<LayerSpec<'_>> = (0..8)
        .map(|k| LayerSpec {
            inputs: 4,
            outputs: 4,
            activation: if k == 7 {
                Activation::Softmax
            } else {
                Activation::Relu
            },
            params: Params::F16 {
                weights: &MAX_F16,
                bias: &[0.0; 4],
            },
        })
        .collect();
    assert_eq!(
        model_of(&layers).err(),
        Some(Error::ActivationOverflow { layer: 6, row: 0 })
    );
    assert!(model_of(&layers[..6]).is_ok());
}

/// The golden int8 model with one little-endian i32 of the data section replaced.
fn int8_with(at: usize, value: i32) -> Result<(), Error> {
    let mut body = GOLDEN_INT8[..GOLDEN_INT8.len() - CHECKSUM_LEN].to_vec();
    body[at..at + 4].copy_from_slice(&value.to_le_bytes());
    let crc = CRC32.checksum(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    Model::from_bytes(&AlignedBytes::from_slice(&body)).map(|_| ())
}

#[test]
fn finding_1_int8_accumulators_stay_exact() {
    // Layer 0's block starts at byte 84; its row-0 bias is at 84 + 16. Row 0's weights
    // 64, −32, 127, 0 on |x − zx| ≤ 255 add at most 56,865 to the bias, and the shift is
    // −10 (no left shift): the accumulator fits while |bias| + 56,865 ≤ 2^31 − 1 − 128.
    const BIAS0: usize = 84 + 16;
    const LARGEST: i32 = i32::MAX - 128 - 56_865;
    assert_eq!(int8_with(BIAS0, LARGEST), Ok(()));
    assert_eq!(int8_with(BIAS0, -LARGEST), Ok(()));
    for bias in [LARGEST + 1, -LARGEST - 1, i32::MAX, i32::MIN] {
        assert_eq!(
            int8_with(BIAS0, bias),
            Err(Error::ActivationOverflow { layer: 0, row: 0 }),
            "bias {bias}"
        );
    }
}

#[test]
fn finding_1_scales_keep_every_code_finite() {
    // 255 · scale must be finite: the dequantized logits (q − zp) · scale, |q − zp| ≤ 255,
    // and the largest input 255 · scale.
    let mut spec_input = InputSpec {
        width: 2,
        height: 2,
        scale: f32::MAX / 255.0,
    };
    assert!(spec_input.max_input().is_finite());
    spec_input.scale = f32::MAX / 200.0;
    assert!(!spec_input.max_input().is_finite());
    let w = [0.0f32; 16];
    let layers = [LayerSpec::f32(4, 4, Activation::Softmax, &w, &[0.0; 4])];
    let mut bytes = model_of(&layers).unwrap().as_bytes().to_vec();
    // The input scale of this model's header: after "findings" (9 bytes), seed 0, epochs 0,
    // the accuracy (4), note "" (1), width and height.
    let at = PREAMBLE_LEN + 9 + 1 + 1 + 4 + 1 + 2;
    assert_eq!(bytes[at..at + 4], (1.0f32 / 255.0).to_le_bytes());
    bytes[at..at + 4].copy_from_slice(&(f32::MAX / 200.0).to_le_bytes());
    let body = bytes.len() - CHECKSUM_LEN;
    let crc = CRC32.checksum(&bytes[..body]);
    bytes[body..].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(
        Model::from_bytes(&AlignedBytes::from_slice(&bytes)).err(),
        Some(Error::BadInput)
    );
    // Layer 1's output scale of the golden int8 model (0.1, at header byte 0x4d): f32::MAX / 200
    // makes 255 · scale infinite.
    let mut body = GOLDEN_INT8[..GOLDEN_INT8.len() - CHECKSUM_LEN].to_vec();
    assert_eq!(body[0x4d..0x51], 0.1f32.to_le_bytes());
    body[0x4d..0x51].copy_from_slice(&(f32::MAX / 200.0).to_le_bytes());
    let crc = CRC32.checksum(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(
        Model::from_bytes(&AlignedBytes::from_slice(&body)).err(),
        Some(Error::BadScale { layer: 1 })
    );
}
