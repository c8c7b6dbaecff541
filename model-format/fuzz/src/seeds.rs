//! The committed seed corpus (`model-format/fuzz/seeds/`): the three golden files of
//! `model-format/golden` and three small models of the firmware's contract (784 pixels, 10
//! classes), one per storage, which the engine classifies. Rewritten by
//! `FMLP_WRITE_SEEDS=1 cargo +nightly test --manifest-path model-format/fuzz/Cargo.toml`; the
//! test fails when the committed files differ from what this module writes.

use firmware::model_format::{
    Activation, InputSpec, Int8Params, LayerSpec, ModelSpec, Provenance, Quant, block_int8, encode,
};

/// Seed files by name: `(name, bytes)`.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let golden = |name: &str| {
        let path = format!("{}/../golden/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    vec![
        ("golden-tiny.fmlp", golden("tiny.fmlp")),
        ("golden-tiny-f16.fmlp", golden("tiny-f16.fmlp")),
        ("golden-tiny-int8.fmlp", golden("tiny-int8.fmlp")),
        ("contract-f32-784x4x10.fmlp", float_model(false)),
        ("contract-f16-784x4x10.fmlp", float_model(true)),
        ("contract-int8-784x10.fmlp", int8_model()),
    ]
}

/// Seeded values in ±`scale` (an xorshift32 stream).
fn values(n: usize, seed: u32, scale: f32) -> Vec<f32> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            ((x >> 8) as f32 / (1 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

const NAMES: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

fn spec<'s>(note: &'s str, layers: &'s [LayerSpec<'s>]) -> ModelSpec<'s> {
    ModelSpec {
        variant: "seed",
        provenance: Provenance {
            seed: 1,
            epochs: 0,
            test_accuracy: 0.1,
            note,
        },
        input: InputSpec {
            width: 28,
            height: 28,
            scale: 1.0 / 255.0,
        },
        class_names: &NAMES,
        layers,
    }
}

/// 784 → 4 (ReLU) → 10 (softmax), the hidden layer in f16 when `f16`.
fn float_model(f16: bool) -> Vec<u8> {
    let (w0, b0) = (values(784 * 4, 1, 0.1), values(4, 2, 0.1));
    let (w1, b1) = (values(4 * 10, 3, 1.0), values(10, 4, 0.1));
    let halves: Vec<u16> = w0
        .iter()
        .map(|&w| half::f16::from_f32(w).to_bits())
        .collect();
    let first = if f16 {
        LayerSpec {
            inputs: 784,
            outputs: 4,
            activation: Activation::Relu,
            params: firmware::model_format::Params::F16 {
                weights: &halves,
                bias: &b0,
            },
        }
    } else {
        LayerSpec::f32(784, 4, Activation::Relu, &w0, &b0)
    };
    let layers = [first, LayerSpec::f32(4, 10, Activation::Softmax, &w1, &b1)];
    let note = if f16 {
        "fuzz seed f16"
    } else {
        "fuzz seed f32"
    };
    encode(&spec(note, &layers)).expect("a valid seed").to_vec()
}

/// 784 → 10 (softmax) in int8.
fn int8_model() -> Vec<u8> {
    let row_major: Vec<i8> = values(784 * 10, 5, 127.0)
        .iter()
        .map(|&v| v as i8)
        .collect();
    let bias: Vec<i32> = values(10, 6, 5000.0).iter().map(|&v| v as i32).collect();
    let layer = LayerSpec {
        inputs: 784,
        outputs: 10,
        activation: Activation::Softmax,
        params: firmware::model_format::Params::Int8(Int8Params {
            input: InputSpec {
                width: 28,
                height: 28,
                scale: 1.0 / 255.0,
            }
            .int8_quant(),
            output: Quant {
                scale: 0.1,
                zero_point: 3,
            },
            weights: &block_int8(&row_major, 784, 10),
            bias: &bias,
            multiplier: &[1 << 30; 10],
            shift: &[-10; 10],
            weight_scale: &[1.0 / 128.0; 10],
        }),
    };
    encode(&spec("fuzz seed int8", &[layer]))
        .expect("a valid seed")
        .to_vec()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_seeds_are_these() {
        let dir = format!("{}/seeds", env!("CARGO_MANIFEST_DIR"));
        for (name, bytes) in super::seeds() {
            let path = format!("{dir}/{name}");
            if std::env::var_os("FMLP_WRITE_SEEDS").is_some() {
                std::fs::write(&path, &bytes).unwrap();
            }
            let committed = std::fs::read(&path).unwrap_or_default();
            assert!(
                committed == bytes,
                "{path} differs: FMLP_WRITE_SEEDS=1 rewrites it"
            );
            // Each seed is accepted and, for the contract ones, classified.
            crate::check(&bytes, &crate::images(&bytes));
        }
    }
}
