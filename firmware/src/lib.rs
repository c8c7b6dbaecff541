//! no_std, heap-free inference for `.fmlp` models: what runs on the microcontroller.
//!
//! [`Engine::new`] checks a model file once (everything [`model_format::Model::from_bytes`]
//! checks, plus its input and output widths and the buffer capacity); after that, running it
//! cannot fail and cannot panic. The engine runs any chain of dense layers in f32, f16 or int8
//! storage, from `u8` inputs scaled by the file's contract or f32 inputs as they are, to raw
//! values (regression) or classes ([`softmax::argmax`], [`softmax::top_k`], softmax);
//! [`Classifier`] is its Fashion-MNIST application (784 pixels, 10 classes). Weights are read **in place** from the
//! model bytes (flash on a device); the only RAM is a [`Scratch`] of two ping-pong activation
//! buffers whose capacity is a const generic, so it can live in a `static` and its size is known
//! at compile time. The same code gives bit-identical results on x86-64 and on a Cortex-M4:
//! summation order is fixed by the source ([`dense`]) and all transcendental math goes through
//! [`math`] (micromath).
//!
//! ```
//! use firmware::{Classifier, Scratch};
//! # use model_format::{encode, Activation, InputSpec, LayerSpec, ModelSpec, Provenance};
//! # let (w, b) = (vec![0.0f32; 784 * 10], [0.0f32; 10]);
//! # let layers = [LayerSpec::f32(784, 10, Activation::Softmax, &w, &b)];
//! # let names = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
//! # let file = encode(&ModelSpec { variant: "zero", provenance: Provenance { seed: 0, epochs: 0, test_accuracy: 0.1, note: "" },
//! #     input: InputSpec { width: 28, height: 28, scale: 1.0 / 255.0 }, class_names: &names, layers: &layers }).unwrap();
//! # let model_bytes: &[u8] = &file;
//! // `model_bytes`: a 4-byte-aligned `.fmlp` file, e.g. `include_bytes!` in flash.
//! let classifier = Classifier::<784>::new(model_bytes)?;
//! let mut scratch = Scratch::<784>::new();
//! let pixels = [0u8; 784];
//! let result = classifier.classify_u8(&pixels, &mut scratch);
//! assert_eq!(result.probabilities.iter().sum::<f32>().round(), 1.0);
//! let top3 = result.top_k::<3>();
//! assert_eq!(top3[0].0, result.class);
//! # Ok::<(), firmware::Error>(())
//! ```
#![cfg_attr(not(test), no_std)]
// `unsafe` only in `dsp`, the Armv7E-M assembly kernels, which alone allow it.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod activation;
pub mod app;
mod classifier;
pub mod dense;
pub mod dense_f16;
pub mod dense_i8;
#[cfg(any(fmlp_dsp, fmlp_armv6m, target_arch = "x86_64"))]
mod dsp;
pub mod engine;
mod error;
pub mod math;
#[cfg(test)]
mod seeded;
pub mod softmax;
#[cfg(feature = "cortex-m")]
pub mod timer;

pub use classifier::{CLASSES, Classification, Classifier, INPUTS};
pub use engine::{Engine, Int8Scratch, Outputs, Scratch, Scratchpad};
pub use error::Error;
pub use model_format;
