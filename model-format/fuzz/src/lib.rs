//! What the fuzz targets share: the checks every input goes through ([`check`]), resealing a
//! mutated file with its true length and CRC ([`reseal_file`]), and an independent writer of
//! the format ([`wire`]) that the structure-aware target edits files with.
//!
//! Every accepted model is classified through the firmware engine, and these must hold:
//! - the decoder never panics, and a misaligned copy of a file is refused;
//! - an accepted model's layers have the lengths, ranges and chain `FORMAT.md` promises;
//! - [`firmware::Classifier`] accepts exactly the accepted models of its contract (784 inputs,
//!   10 classes, no side wider than [`CAP`]), with a float scratch for every storage and with an
//!   int8 scratch for int8 models only;
//! - each classification has its class in range and the first maximum of the logits, finite
//!   logits, probabilities in `[0, 1]` summing to 1, and `top_k`'s first entry is the class;
//! - `classify_f32` of the scaled pixels gives `classify_u8`'s bits (float models), and the int8
//!   scratch gives the float scratch's bits (int8 models).

pub mod generate;
pub mod seeds;
pub mod wire;

use firmware::model_format::{AlignedBytes, Error, Model, Params, Storage, round4};
use firmware::{CLASSES, Classification, Classifier, INPUTS, Int8Scratch, Scratch};

/// Activation capacity of the classifiers the targets run: wider than every trainer variant
/// (784), so models of up to 1,024 values per side are classified and wider ones refused.
pub const CAP: usize = 1024;

/// How far the probabilities may sum from 1: ten f32 divisions by the same sum, each within
/// half an ulp (2^-24) of 1, and their f32 sum.
const PROB_SUM_TOL: f32 = 1e-5;

/// Three fixed images (black, white, a checkerboard of both) and one made of `seed`'s bytes.
pub fn images(seed: &[u8]) -> [[u8; INPUTS]; 4] {
    let mut from_seed = [0u8; INPUTS];
    if !seed.is_empty() {
        for (i, p) in from_seed.iter_mut().enumerate() {
            *p = seed[i % seed.len()];
        }
    }
    [
        [0; INPUTS],
        [255; INPUTS],
        core::array::from_fn(|i| if (i + i / 28) % 2 == 0 { 0 } else { 255 }),
        from_seed,
    ]
}

/// Decodes `bytes` from an aligned and a misaligned copy; when the model is accepted, checks
/// it and classifies each of `images` (see the [crate documentation](crate)).
///
/// # Panics
/// When an invariant fails: that is what the fuzzer reports.
pub fn check(bytes: &[u8], images: &[[u8; INPUTS]]) {
    let aligned = AlignedBytes::from_slice(bytes);
    let decoded = Model::from_bytes(&aligned);
    let mut shifted = vec![0u8; bytes.len() + 1];
    shifted[1..].copy_from_slice(bytes);
    let misaligned = if aligned.as_ptr().addr() % 4 == shifted[1..].as_ptr().addr() % 4 {
        // The allocator happened to align it too: nothing to compare.
        decoded
    } else {
        Model::from_bytes(&shifted[1..])
    };
    let model = match decoded {
        Ok(model) => model,
        Err(_) => {
            assert!(misaligned.is_err(), "accepted misaligned, refused aligned");
            return;
        }
    };
    if aligned.as_ptr().addr() % 4 != shifted[1..].as_ptr().addr() % 4 {
        assert_eq!(misaligned, Err(Error::Misaligned), "a misaligned copy");
    }
    check_model(&model);
    classify(&aligned, &model, images);
}

/// The shapes and ranges of an accepted model.
fn check_model(m: &Model<'_>) {
    let mut inputs = m.input().pixels() as usize;
    let int8 = m.is_int8();
    assert!(m.input().scale.is_finite() && m.input().scale > 0.0);
    for l in m.layers() {
        let (n, o) = (l.inputs(), l.outputs());
        assert!(n > 0 && o > 0);
        assert_eq!(n, inputs, "layers chain");
        assert_eq!(l.storage() == Storage::Int8, int8, "int8 all or nothing");
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
                assert!(p.weight_scale.iter().all(|s| s.is_finite() && *s > 0.0));
                for q in [p.input, p.output] {
                    assert!(q.scale.is_finite() && q.scale > 0.0);
                    assert!((-128..=127).contains(&q.zero_point));
                }
                for o in 0..round4(o) {
                    for i in 0..round4(n) {
                        if o >= l.outputs() || i >= n {
                            assert_eq!(p.weight(o, i, n), 0, "int8 padding");
                        }
                    }
                }
            }
        }
        inputs = o;
    }
    assert_eq!(inputs, m.classes(), "the last layer names the classes");
}

/// Classifies `images` with both scratches wherever the contract lets the engine run.
fn classify(bytes: &[u8], m: &Model<'_>, images: &[[u8; INPUTS]]) {
    let runs = m.inputs() == INPUTS && m.classes() == CLASSES && m.max_width() <= CAP;
    let float = Classifier::<CAP>::new(bytes);
    let int8 = Classifier::<CAP, Int8Scratch<CAP>>::with_scratch(bytes);
    assert_eq!(float.is_ok(), runs, "Classifier::new: {float:?}");
    assert_eq!(int8.is_ok(), runs && m.is_int8(), "with_scratch: {int8:?}");
    let Ok(float) = float else { return };
    let mut scratch = Box::new(Scratch::<CAP>::new());
    let mut int8_scratch = Box::new(Int8Scratch::<CAP>::new());
    for pixels in images {
        let c = float.classify_u8(pixels, &mut scratch);
        check_classification(&c);
        if let Ok(int8) = &int8 {
            let other = int8.classify_u8(pixels, &mut int8_scratch);
            assert_eq!(bits(&other), bits(&c), "int8 scratch vs float scratch");
            assert_eq!(
                float.classify_f32(&[0.0; INPUTS], &mut scratch),
                Err(firmware::Error::NeedsPixels)
            );
        } else {
            let scale = m.input().scale;
            let scaled = pixels.map(|p| f32::from(p) * scale);
            let other = float
                .classify_f32(&scaled, &mut scratch)
                .expect("finite inputs of a float model");
            assert_eq!(bits(&other), bits(&c), "classify_f32 vs classify_u8");
        }
    }
}

fn bits(c: &Classification) -> (usize, [u32; CLASSES], [u32; CLASSES]) {
    (
        c.class,
        c.logits.map(f32::to_bits),
        c.probabilities.map(f32::to_bits),
    )
}

fn check_classification(c: &Classification) {
    assert!(c.class < CLASSES, "class {} out of range", c.class);
    // Issue 13, finding 1: on the code before load-time bounds, a model whose activations
    // overflow passes every load check and gives non-finite logits here.
    assert!(
        c.logits.iter().all(|l| l.is_finite()),
        "non-finite logits from an accepted model: {:?}",
        c.logits
    );
    let best = c.logits[c.class];
    for (i, &l) in c.logits.iter().enumerate() {
        assert!(l <= best, "logit {i} above the class's");
        assert!(
            i >= c.class || l < best,
            "an earlier logit ties the class's"
        );
    }
    assert!(
        c.probabilities.iter().all(|p| (0.0..=1.0).contains(p)),
        "probabilities {:?}",
        c.probabilities
    );
    let sum: f32 = c.probabilities.iter().sum();
    assert!(
        (sum - 1.0).abs() <= PROB_SUM_TOL,
        "probabilities sum to {sum}"
    );
    assert_eq!(c.top_k::<1>()[0].0, c.class, "top_k's first is the class");
}

/// `bytes` made into a file the checksum and length checks pass: magic, a known version (a
/// mutated one becomes 2), the true length and the CRC-32 written in, the header length cut to
/// what fits and the padding after the header zeroed. Shorter inputs are padded to the 16
/// bytes of preamble and trailer.
pub fn reseal_file(bytes: &[u8]) -> Vec<u8> {
    let mut file = bytes.to_vec();
    if file.len() < 16 {
        file.resize(16, 0);
    }
    let n = file.len();
    file[0..4].copy_from_slice(b"FMLP");
    let version = u16::from_le_bytes([file[4], file[5]]);
    if !(1..=2).contains(&version) {
        file[4..6].copy_from_slice(&2u16.to_le_bytes());
    }
    let header_len = usize::from(u16::from_le_bytes([file[6], file[7]])).min(n - 16);
    file[6..8].copy_from_slice(&(header_len as u16).to_le_bytes());
    file[8..12].copy_from_slice(&(n as u32).to_le_bytes());
    let end = 12 + header_len;
    let data = (end + 3) & !3;
    file[end..data.min(n - 4)].fill(0);
    let crc = wire::CRC32.checksum(&file[..n - 4]);
    file[n - 4..].copy_from_slice(&crc.to_le_bytes());
    file
}
