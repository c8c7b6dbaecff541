//! The structure-aware generator: an [`arbitrary`] description of a model ([`Desc`]) becomes
//! the parameters of a valid-looking model ([`Built`]), which the host encoder writes and the
//! independent writer of [`crate::wire`] writes again, then [`Edit`]s change the header or the
//! data the way a hostile file would (32-bit size overflows included) and the file is resealed.

use arbitrary::Arbitrary;
use firmware::model_format::{
    Activation, InputSpec, Int8Params, LayerSpec, ModelSpec, Params, Provenance, Quant, block_int8,
    encode,
};

use crate::wire::{self, Header, LayerEntry};

/// Hidden layers at most: a model has at most 8 layers.
const MAX_HIDDEN: usize = 7;

/// A model, as the fuzzer draws it.
#[derive(Debug, Arbitrary)]
pub struct Desc {
    /// 28 × 28 pixels and 10 classes (the firmware's contract, so it is classified), or the
    /// `width`, `height` and `classes` below.
    pub contract: bool,
    width: u8,
    height: u8,
    classes: u8,
    scale: Scalar,
    storage: StorageChoice,
    hidden: Vec<(Width, Act)>,
    last: Act,
    weights: Values,
    biases: Values,
    int8: Int8Choice,
    seed: u64,
    /// The images classified (at least one, at most two).
    pub images: Vec<Image>,
    /// Applied to the written file, in order.
    pub edits: Vec<Edit>,
}

/// One image's pixels: a constant, or seeded noise.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum Image {
    /// Every pixel the same.
    Flat(u8),
    /// Seeded bytes.
    Noise(u32),
}

/// A layer width: small (fast), around the firmware's capacity (where it is classified), or
/// up to 256.
#[derive(Debug, Clone, Copy, Arbitrary)]
enum Width {
    Small(u8),
    NearCap(i8),
    Any(u16),
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Act {
    None,
    Relu,
    Softmax,
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum StorageChoice {
    F32,
    F16,
    Int8,
    /// f16 where the mask's bit is set, f32 elsewhere.
    Mixed(u8),
}

/// A positive scale.
#[derive(Debug, Clone, Copy, Arbitrary)]
enum Scalar {
    /// 1/255, the trainer's.
    Pixel,
    /// `m · 2^e` with `e` in −64..=63.
    Power(u8, i8),
    /// The extremes: the smallest subnormal, the smallest normal, the largest finite.
    Tiny,
    MinNormal,
    Max,
    /// Any bits (may be NaN, zero or negative: refused).
    Bits(u32),
}

impl Scalar {
    fn value(self) -> f32 {
        match self {
            Scalar::Pixel => 1.0 / 255.0,
            Scalar::Power(m, e) => (1.0 + f32::from(m) / 256.0) * 2f32.powi(i32::from(e) / 2),
            Scalar::Tiny => f32::from_bits(1),
            Scalar::MinNormal => f32::MIN_POSITIVE,
            Scalar::Max => f32::MAX,
            Scalar::Bits(b) => f32::from_bits(b),
        }
    }
}

/// How the float parameters are drawn from the seed.
#[derive(Debug, Clone, Copy, Arbitrary)]
enum Values {
    /// Uniform in ±2^e, `e` in −64..=63 (large ones overflow activations).
    Uniform(i8),
    /// All zero.
    Zero,
    /// Drawn from ±{0, smallest subnormal, smallest normal, 1, 65504, largest finite}.
    Extreme,
    /// Any bits (NaN and infinity included: refused).
    Bits,
}

/// How the int8 requantization is drawn.
#[derive(Debug, Clone, Copy, Arbitrary)]
struct Int8Choice {
    /// Multipliers from the seed, or all at an edge.
    multiplier: Edge,
    shift: Edge,
    bias: Edge,
    /// The output quantization of every layer.
    scale: Scalar,
    zero_point: i8,
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Edge {
    Seeded,
    Low,
    High,
    Outside,
}

/// A change to the written file; every edit but `FlipBit` reseals the file afterwards.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum Edit {
    /// Layer `layer`'s outputs and the next layer's inputs (or the pixels, for layer 0's
    /// inputs) set to a size whose byte count wraps in 32 bits; the offsets and the data
    /// length then set as a wrapping reader would expect them.
    Overflow { layer: u8, size: OverflowSize },
    /// A layer's dimensions.
    Dims {
        layer: u8,
        inputs: u32,
        outputs: u32,
    },
    /// A layer's offset (and, in version 1, its bias offset).
    Offset { layer: u8, offset: u32, bias: u32 },
    /// A layer's activation, storage or layout tag.
    Tags {
        layer: u8,
        activation: u8,
        storage: u8,
        layout: u8,
    },
    /// A layer's quantizations.
    Quant {
        layer: u8,
        input: (u32, i32),
        output: (u32, i32),
    },
    /// The counts written before the classes and the layers.
    Counts { classes: u32, layers: u32 },
    /// The preamble's version (the header keeps its layout).
    Version(u16),
    /// The header laid out as the other version (offsets recomputed): an all-f32 model in
    /// version 2 is one the host encoder never writes.
    Relayout,
    /// The input spec.
    Input { width: u16, height: u16, scale: u32 },
    /// One data word.
    Poke { at: u32, value: u32 },
    /// Data bytes cut from the end.
    Truncate(u16),
    /// Data bytes appended.
    Extend(u16),
    /// A string made `len` bytes long.
    LongString { which: u8, len: u16 },
    /// One bit of the whole file flipped, not resealed: the CRC must catch it.
    FlipBit(u32),
}

/// Sizes whose byte counts wrap in 32 bits: `(outputs, next inputs)` go to this value.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum OverflowSize {
    /// 2^16: 2^16 · 2^16 = 2^32.
    Pow16,
    /// 2^30: times 4 bytes, 2^32.
    Pow30,
    /// 2^31: times 2 bytes, 2^32.
    Pow31,
    /// 2^32 − 1.
    Max,
    /// 2^32 / 3 + 1.
    Third,
}

impl OverflowSize {
    fn value(self) -> u32 {
        match self {
            OverflowSize::Pow16 => 1 << 16,
            OverflowSize::Pow30 => 1 << 30,
            OverflowSize::Pow31 => 1 << 31,
            OverflowSize::Max => u32::MAX,
            OverflowSize::Third => (u32::MAX / 3) + 1,
        }
    }
}

/// xorshift64: seeded values without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0 | 1;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn float(&mut self, values: Values) -> f32 {
        let r = self.next();
        let unit = (r >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0;
        match values {
            Values::Uniform(e) => unit * 2f32.powi(i32::from(e)),
            Values::Zero => 0.0,
            Values::Extreme => {
                let v = [
                    0.0,
                    f32::from_bits(1),
                    f32::MIN_POSITIVE,
                    1.0,
                    65504.0,
                    f32::MAX,
                ][(r % 6) as usize];
                if r & 64 == 0 { v } else { -v }
            }
            Values::Bits => f32::from_bits(r as u32),
        }
    }
}

/// One layer's parameters, owned.
#[derive(Debug, Clone)]
enum Owned {
    F32(Vec<f32>, Vec<f32>),
    F16(Vec<u16>, Vec<f32>),
    Int8 {
        input: Quant,
        output: Quant,
        weights: Vec<i8>,
        rows: [Vec<i32>; 3],
        weight_scale: Vec<f32>,
    },
}

/// A drawn model: everything [`ModelSpec`] borrows.
#[derive(Debug)]
pub struct Built {
    input: InputSpec,
    classes: Vec<String>,
    layers: Vec<(u32, u32, Activation, Owned)>,
}

impl Desc {
    /// Draws the model's shapes and parameters.
    pub fn build(&self) -> Built {
        let (width, height, classes) = if self.contract {
            (28, 28, 10)
        } else {
            (
                u16::from(self.width % 8 + 1),
                u16::from(self.height % 8 + 1),
                usize::from(self.classes % 16 + 1),
            )
        };
        let input = InputSpec {
            width,
            height,
            scale: self.scale.value(),
        };
        let mut rng = Rng(self.seed);
        let mut dims: Vec<(u32, Act)> = self
            .hidden
            .iter()
            .take(MAX_HIDDEN)
            .map(|&(w, a)| (width_of(w, self.contract), a))
            .collect();
        dims.push((classes as u32, self.last));
        let mut layers = Vec::new();
        let mut inputs = input.pixels();
        let mut quant = input.int8_quant();
        for (k, &(outputs, act)) in dims.iter().enumerate() {
            let f16 = match self.storage {
                StorageChoice::F16 => true,
                StorageChoice::Mixed(mask) => mask >> (k % 8) & 1 == 1,
                _ => false,
            };
            let n = (inputs * outputs) as usize;
            let o = outputs as usize;
            let params = if matches!(self.storage, StorageChoice::Int8) {
                let output = Quant {
                    scale: self.int8.scale.value(),
                    zero_point: i32::from(self.int8.zero_point),
                };
                let row_major: Vec<i8> = (0..n).map(|_| rng.next() as i8).collect();
                let p = Owned::Int8 {
                    input: quant,
                    output,
                    weights: block_int8(&row_major, inputs as usize, o),
                    rows: [
                        edged(&mut rng, o, self.int8.bias, i32::MIN, i32::MAX),
                        edged(&mut rng, o, self.int8.multiplier, 1 << 30, i32::MAX),
                        edged(&mut rng, o, self.int8.shift, -31, 30),
                    ],
                    weight_scale: (0..o)
                        .map(|_| 2f32.powi(-((rng.next() % 20) as i32)))
                        .collect(),
                };
                quant = output;
                p
            } else if f16 {
                let weights = (0..n).map(|_| half_bits(&mut rng, self.weights)).collect();
                Owned::F16(weights, (0..o).map(|_| rng.float(self.biases)).collect())
            } else {
                Owned::F32(
                    (0..n).map(|_| rng.float(self.weights)).collect(),
                    (0..o).map(|_| rng.float(self.biases)).collect(),
                )
            };
            let activation = match act {
                Act::None => Activation::None,
                Act::Relu => Activation::Relu,
                Act::Softmax => Activation::Softmax,
            };
            layers.push((inputs, outputs, activation, params));
            inputs = outputs;
        }
        Built {
            input,
            classes: (0..classes).map(|c| format!("c{c}")).collect(),
            layers,
        }
    }

    /// The images to classify: at least one, at most two.
    pub fn pixels(&self) -> Vec<[u8; firmware::INPUTS]> {
        let mut out: Vec<_> = self
            .images
            .iter()
            .take(2)
            .map(|&image| match image {
                Image::Flat(p) => [p; firmware::INPUTS],
                Image::Noise(seed) => {
                    let mut rng = Rng(u64::from(seed) << 1);
                    core::array::from_fn(|_| rng.next() as u8)
                }
            })
            .collect();
        if out.is_empty() {
            out.push([255; firmware::INPUTS]);
        }
        out
    }
}

fn width_of(w: Width, contract: bool) -> u32 {
    let cap = crate::CAP as i32;
    match w {
        Width::Small(n) => u32::from(n % 64) + 1,
        // Wide layers only where they run: on the 784-pixel contract.
        Width::NearCap(d) if contract => (cap + i32::from(d % 8)) as u32,
        Width::NearCap(d) => u32::from(d.unsigned_abs() % 16) + 1,
        Width::Any(n) => u32::from(n % 256) + 1,
    }
}

fn edged(rng: &mut Rng, n: usize, edge: Edge, lo: i32, hi: i32) -> Vec<i32> {
    (0..n)
        .map(|_| match edge {
            Edge::Seeded => {
                let span = (i64::from(hi) - i64::from(lo) + 1) as u64;
                (i64::from(lo) + (rng.next() % span) as i64) as i32
            }
            Edge::Low => lo,
            Edge::High => hi,
            Edge::Outside => {
                if rng.next() & 1 == 0 {
                    lo.wrapping_sub(1)
                } else {
                    hi.wrapping_add(1)
                }
            }
        })
        .collect()
}

/// binary16 bits of a drawn value (the largest finite f16 for `Extreme`'s big ones, so they
/// stay finite; `Bits` may give infinity or NaN, which the reader refuses).
fn half_bits(rng: &mut Rng, values: Values) -> u16 {
    match values {
        Values::Bits => rng.next() as u16,
        _ => {
            let v = rng.float(values).clamp(-65504.0, 65504.0);
            half::f16::from_f32(v).to_bits()
        }
    }
}

impl Built {
    fn spec_layers(&self) -> Vec<LayerSpec<'_>> {
        self.layers
            .iter()
            .map(|(inputs, outputs, activation, p)| LayerSpec {
                inputs: *inputs,
                outputs: *outputs,
                activation: *activation,
                params: match p {
                    Owned::F32(w, b) => Params::F32 {
                        weights: w,
                        bias: b,
                    },
                    Owned::F16(w, b) => Params::F16 {
                        weights: w,
                        bias: b,
                    },
                    Owned::Int8 {
                        input,
                        output,
                        weights,
                        rows,
                        weight_scale,
                    } => Params::Int8(Int8Params {
                        input: *input,
                        output: *output,
                        weights,
                        bias: &rows[0],
                        multiplier: &rows[1],
                        shift: &rows[2],
                        weight_scale,
                    }),
                },
            })
            .collect()
    }

    /// The host encoder's file, or its refusal.
    pub fn encode(&self) -> Result<Vec<u8>, firmware::model_format::Error> {
        let layers = self.spec_layers();
        let names: Vec<&str> = self.classes.iter().map(String::as_str).collect();
        let spec = ModelSpec {
            variant: "fuzz",
            provenance: Provenance {
                seed: 7,
                epochs: 1,
                test_accuracy: 0.5,
                note: "structured",
            },
            input: self.input,
            class_names: &names,
            layers: &layers,
        };
        encode(&spec).map(|bytes| bytes.to_vec())
    }

    /// The same model through [`crate::wire`]: its header and its data section.
    pub fn write(&self) -> (Header, Vec<u8>) {
        let all_f32 = self.layers.iter().all(|l| matches!(l.3, Owned::F32(..)));
        let mut data = Vec::new();
        let mut layers = Vec::new();
        for (inputs, outputs, activation, p) in &self.layers {
            let mut entry = LayerEntry {
                inputs: *inputs,
                outputs: *outputs,
                activation: *activation as u32,
                storage: 0,
                quant: (zero_quant(), zero_quant()),
                offset: 0,
                bias_offset: 0,
                layout: 0,
            };
            match p {
                Owned::F32(w, b) => {
                    w.iter().chain(b).for_each(|v| data.extend(v.to_le_bytes()));
                }
                Owned::F16(w, b) => {
                    entry.storage = 1;
                    w.iter().for_each(|v| data.extend(v.to_le_bytes()));
                    data.resize((data.len() + 3) & !3, 0);
                    b.iter().for_each(|v| data.extend(v.to_le_bytes()));
                }
                Owned::Int8 {
                    input,
                    output,
                    weights,
                    rows,
                    weight_scale,
                } => {
                    entry.storage = 2;
                    entry.quant = (wire_quant(*input), wire_quant(*output));
                    data.extend(weights.iter().map(|&w| w as u8));
                    rows.iter()
                        .flatten()
                        .for_each(|v| data.extend(v.to_le_bytes()));
                    weight_scale
                        .iter()
                        .for_each(|v| data.extend(v.to_le_bytes()));
                }
            }
            layers.push(entry);
        }
        let mut header = Header {
            version: if all_f32 { 1 } else { 2 },
            variant: b"fuzz".to_vec(),
            seed: 7,
            epochs: 1,
            accuracy: 0.5f32.to_bits(),
            note: b"structured".to_vec(),
            width: self.input.width,
            height: self.input.height,
            scale: self.input.scale.to_bits(),
            classes: self.classes.iter().map(|c| c.as_bytes().to_vec()).collect(),
            class_count: None,
            layers,
            layer_count: None,
        };
        header.wrapped_offsets();
        (header, data)
    }
}

fn zero_quant() -> wire::Quant {
    wire::Quant {
        scale: 0,
        zero_point: 0,
    }
}

fn wire_quant(q: Quant) -> wire::Quant {
    wire::Quant {
        scale: q.scale.to_bits(),
        zero_point: q.zero_point,
    }
}

/// Largest data section an overflow edit writes (a wrapping reader's length can be ~4 GiB).
const MAX_WRAPPED_DATA: u32 = 1 << 20;

/// Applies the first 8 `edits` in order to a written model and reseals it; returns the file and
/// whether a `FlipBit` then flipped one of its bits (a file the reader must refuse).
pub fn apply(edits: &[Edit], mut header: Header, mut data: Vec<u8>) -> (Vec<u8>, bool) {
    let mut flipped = None;
    let mut preamble = None;
    for &edit in edits.iter().take(8) {
        let count = header.layers.len().max(1);
        let layer = |k: u8| usize::from(k) % count;
        match edit {
            Edit::Overflow { layer: k, size } => {
                let big = size.value();
                let k = layer(k);
                if header.layers.is_empty() {
                    continue;
                }
                if k + 1 < header.layers.len() {
                    header.layers[k].outputs = big;
                    header.layers[k + 1].inputs = big;
                } else {
                    // The pixels: a square of `width · height` that multiplies to `big` (or
                    // close to it, for sizes no square of u16 sides reaches).
                    let side = (f64::from(big).sqrt() as u32).min(u32::from(u16::MAX)) as u16;
                    header.width = side;
                    header.height = side;
                    header.layers[0].inputs = u32::from(side) * u32::from(side);
                }
                let len = header.wrapped_offsets();
                if len <= MAX_WRAPPED_DATA {
                    data.resize(len as usize, 0);
                }
            }
            Edit::Dims {
                layer: k,
                inputs,
                outputs,
            } => {
                if let Some(l) = header.layers.get_mut(layer(k)) {
                    (l.inputs, l.outputs) = (inputs, outputs);
                }
            }
            Edit::Offset {
                layer: k,
                offset,
                bias,
            } => {
                if let Some(l) = header.layers.get_mut(layer(k)) {
                    (l.offset, l.bias_offset) = (offset, bias);
                }
            }
            Edit::Tags {
                layer: k,
                activation,
                storage,
                layout,
            } => {
                if let Some(l) = header.layers.get_mut(layer(k)) {
                    l.activation = u32::from(activation % 4);
                    l.storage = u32::from(storage % 4);
                    l.layout = u32::from(layout % 2);
                }
            }
            Edit::Quant {
                layer: k,
                input,
                output,
            } => {
                if let Some(l) = header.layers.get_mut(layer(k)) {
                    l.quant = (
                        wire::Quant {
                            scale: input.0,
                            zero_point: input.1,
                        },
                        wire::Quant {
                            scale: output.0,
                            zero_point: output.1,
                        },
                    );
                }
            }
            Edit::Counts { classes, layers } => {
                header.class_count = Some(classes % 32);
                header.layer_count = Some(layers % 16);
            }
            Edit::Version(v) => preamble = Some(v % 4),
            Edit::Relayout => {
                header.version = if header.version == 1 { 2 } else { 1 };
                header.wrapped_offsets();
            }
            Edit::Input {
                width,
                height,
                scale,
            } => {
                (header.width, header.height, header.scale) = (width, height, scale);
            }
            Edit::Poke { at, value } => {
                if data.len() >= 4 {
                    let at = (at as usize % (data.len() / 4)) * 4;
                    data[at..at + 4].copy_from_slice(&value.to_le_bytes());
                }
            }
            Edit::Truncate(n) => data.truncate(data.len().saturating_sub(usize::from(n))),
            Edit::Extend(n) => data.resize(data.len() + usize::from(n % 1024), 0),
            Edit::LongString { which, len } => {
                let s = vec![b'x'; usize::from(len % 600)];
                match which % 3 {
                    0 => header.variant = s,
                    1 => header.note = s,
                    _ => {
                        if let Some(c) = header.classes.first_mut() {
                            *c = s;
                        }
                    }
                }
            }
            Edit::FlipBit(bit) => flipped = Some(bit),
        }
    }
    let version = preamble.unwrap_or(header.version);
    let mut file = wire::file(version, &header.encode(), &data);
    if let Some(bit) = flipped {
        let bit = bit as usize % (file.len() * 8);
        file[bit / 8] ^= 1 << (bit % 8);
    }
    (file, flipped.is_some())
}
