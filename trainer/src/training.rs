//! The training loop: Keras's `fit(batch_size=8, epochs=25)` by hand, with per-epoch
//! validation, Keras-style progress, atomic checkpoints and bit-identical resume.
//!
//! Every source of randomness is a [`StdRng`] derived from `(seed, purpose, epoch)`: the
//! initial weights, each epoch's shuffle and each epoch's dropout masks. Nothing depends on
//! burn's global backend RNG, so variants may train concurrently in threads, and a run resumed
//! from the checkpoint of epoch `k` continues exactly as the uninterrupted run would.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::{AutodiffModule, Module};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{GradientsParams, Optimizer, SimpleOptimizer};
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Record, Recorder};
use burn::tensor::backend::Backend as BurnBackend;
use burn::tensor::{Tensor, TensorData, activation};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::data::{Dataset, IMAGE_PIXELS, NUM_CLASSES};
use crate::history::{EpochRecord, History, TestScore};
use crate::model::{Mlp, MlpConfig, MovingVariance, Variant, pixels_tensor};
use crate::worker::Message;
use crate::{Backend, TrainBackend};

/// Images per batch when evaluating (eval mode needs no per-sample statistics).
pub const EVAL_BATCH: usize = 1000;

/// Training hyper-parameters. [`Default`] is the notebook's `fit` call with Keras's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Number of epochs (25).
    pub epochs: usize,
    /// Images per Adam step (8).
    pub batch_size: usize,
    /// Adam learning rate (1e-3).
    pub learning_rate: f64,
    /// Adam β₁ (0.9).
    pub beta_1: f64,
    /// Adam β₂ (0.999).
    pub beta_2: f64,
    /// Adam ε (Keras's 1e-7; burn's `AdamConfig` would default to 1e-5).
    pub epsilon: f64,
    /// Seed of every random draw of the run.
    pub seed: u64,
    /// Keep only the first `n` training images (quick runs).
    pub train_limit: Option<usize>,
    /// BatchNorm momentum, Keras convention (0.99).
    pub bn_momentum: f64,
    /// BatchNorm ε (1e-3).
    pub bn_epsilon: f64,
    /// Which batch variance feeds BatchNorm's moving variance.
    pub bn_moving_variance: MovingVariance,
    /// Dropout rate for the dropout variants (0.5).
    pub dropout: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        let mlp = MlpConfig::default();
        Self {
            epochs: 25,
            batch_size: 8,
            learning_rate: 1e-3,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            seed: 0,
            train_limit: None,
            bn_momentum: mlp.bn_momentum,
            bn_epsilon: mlp.bn_epsilon,
            bn_moving_variance: mlp.bn_moving_variance,
            dropout: mlp.dropout,
        }
    }
}

impl TrainConfig {
    /// The layer hyper-parameters of this run.
    pub fn mlp_config(&self) -> MlpConfig {
        MlpConfig {
            dropout: self.dropout,
            bn_momentum: self.bn_momentum,
            bn_epsilon: self.bn_epsilon,
            bn_moving_variance: self.bn_moving_variance,
        }
    }
}

/// Why training stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// A setting or an input cannot be trained on.
    #[error("invalid training setup: {0}")]
    InvalidConfig(&'static str),
    /// Reading or writing the checkpoint failed.
    #[error("checkpoint I/O on {path}: {source}")]
    CheckpointIo {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The checkpoint file is damaged or not a checkpoint.
    #[error("checkpoint {path} is unreadable: {reason}")]
    CheckpointCorrupt {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The checkpoint belongs to another variant or another configuration.
    #[error("checkpoint {path} does not match this run: {details}")]
    CheckpointMismatch {
        /// The file concerned.
        path: PathBuf,
        /// The differing settings, checkpoint value first.
        details: String,
    },
    /// The training loss became NaN or infinite.
    #[error("training loss became {value} at epoch {epoch}, step {step} (1-based)")]
    NonFiniteLoss {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based step within the epoch.
        step: usize,
        /// The loss value.
        value: f32,
    },
}

/// A trained model with its history.
#[derive(Debug)]
pub struct TrainOutcome {
    /// The trained model on the inference backend (eval mode).
    pub model: Mlp<Backend>,
    /// One record per epoch, including epochs done before a resume.
    pub history: History,
    /// Parameter count as Keras's `model.summary()` reports it.
    pub params: usize,
}

/// Where [`train`] reports progress.
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    /// A Keras-style bar per epoch and one line per epoch in this `MultiProgress` (lines go
    /// to stderr directly when it is hidden).
    Bars(&'a MultiProgress),
    /// [`Message`]s on stdout, for the parent of a `trainer worker` process.
    Lines,
}

impl<'a> From<&'a MultiProgress> for Progress<'a> {
    fn from(multi: &'a MultiProgress) -> Self {
        Progress::Bars(multi)
    }
}

impl Progress<'_> {
    /// Prints a finished line above the bars.
    pub fn line(self, line: &str) {
        match self {
            Progress::Bars(multi) => {
                if multi.is_hidden() || multi.println(line).is_err() {
                    eprintln!("{line}");
                }
            }
            Progress::Lines => Message::Line(line.to_owned()).send(),
        }
    }
}

/// The style of the per-epoch bar: `{prefix} [=====>    ] pos/len - ETA - {msg}`.
pub fn epoch_bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} - ETA {eta} - {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// The prefix of a variant's bar during `epoch`.
pub fn epoch_bar_prefix(variant: &str, epoch: usize, epochs: usize) -> String {
    format!("{variant:<10} Epoch {epoch}/{epochs}")
}

/// Trains `variant` on `train`, validating on `val` after every epoch.
///
/// With `checkpoint_dir`, the model, the optimiser state and the history are written to
/// `<dir>/<variant>.ckpt` after every epoch (atomically: temp file, fsync, rename). With
/// `resume`, training continues from that file if it exists (from scratch otherwise); the
/// resumed run is bit-identical to an uninterrupted one. Progress bars and one Keras-style line
/// per epoch go to `progress` (a `&MultiProgress` converts into [`Progress::Bars`]).
///
/// # Errors
/// [`TrainError::InvalidConfig`] for an empty or malformed data set (labels ≥ 10, not 784
/// bytes per image) or batch size 0;
/// [`TrainError::CheckpointIo`], [`TrainError::CheckpointCorrupt`] and
/// [`TrainError::CheckpointMismatch`] (other variant, or any setting but `epochs` differs) for
/// checkpoints; [`TrainError::NonFiniteLoss`] as soon as a batch loss is NaN or infinite.
pub fn train<'a>(
    variant: Variant,
    config: &TrainConfig,
    train: &Dataset,
    val: &Dataset,
    checkpoint_dir: Option<&Path>,
    resume: bool,
    progress: impl Into<Progress<'a>>,
) -> Result<TrainOutcome, TrainError> {
    let progress = progress.into();
    let n_train = config
        .train_limit
        .map_or(train.len(), |n| n.min(train.len()));
    if config.batch_size == 0 {
        return Err(TrainError::InvalidConfig("batch size must be positive"));
    }
    if n_train == 0 || val.is_empty() {
        return Err(TrainError::InvalidConfig(
            "training and validation sets must be non-empty",
        ));
    }
    for set in [train, val] {
        if set.images.len() != set.len() * IMAGE_PIXELS {
            return Err(TrainError::InvalidConfig(
                "image bytes are not 784 per label",
            ));
        }
        if set.labels.iter().any(|&l| usize::from(l) >= NUM_CLASSES) {
            return Err(TrainError::InvalidConfig("a label is not in 0..10"));
        }
    }
    let device = Default::default();
    // Belt and braces: nothing below draws from the backend RNG.
    TrainBackend::seed(&device, config.seed);
    let mut init_rng = StdRng::seed_from_u64(derive_seed(config.seed, Stream::Init, 0));
    let mut model: Mlp<TrainBackend> =
        Mlp::new(variant, &config.mlp_config(), &mut init_rng, &device);
    let mut optim = KerasAdam::from_config(config).init();
    let mut history = History {
        variant: variant.name().to_owned(),
        epochs: Vec::new(),
    };

    let ckpt_path = checkpoint_dir.map(|dir| dir.join(format!("{}.ckpt", variant.name())));
    if resume && let Some(path) = ckpt_path.as_deref().filter(|p| p.exists()) {
        let ckpt = read_checkpoint(path)?;
        check_matches(path, &ckpt.meta, variant, config)?;
        let recorder = NamedMpkBytesRecorder::<FullPrecisionSettings>::default();
        let model_record = recorder
            .load(ckpt.model, &device)
            .map_err(|e| corrupt(path, format!("model record: {e}")))?;
        model = model.load_record(model_record);
        let optim_record = recorder
            .load(ckpt.optimizer, &device)
            .map_err(|e| corrupt(path, format!("optimizer record: {e}")))?;
        optim = optim.load_record(optim_record);
        history = ckpt.meta.history;
    }

    let data = TrainData {
        images: &train.images[..n_train * IMAGE_PIXELS],
        labels: &train.labels[..n_train],
    };
    for epoch in history.epochs.len() + 1..=config.epochs {
        let start = Instant::now();
        let (trained, loss, accuracy) = flushing_subnormals(|| {
            run_epoch(model, &mut optim, &data, config, variant, epoch, progress)
        })?;
        model = trained;
        let score = evaluate(&model.valid(), val);
        let seconds = start.elapsed().as_secs_f64();
        let record = EpochRecord {
            epoch,
            loss,
            accuracy,
            val_loss: score.loss,
            val_accuracy: score.accuracy,
            seconds,
        };
        history.epochs.push(record);
        progress.line(&format!(
            "{} - {seconds:.0}s {:.0}us/step - loss: {loss:.4} - accuracy: {accuracy:.4} - \
             val_loss: {:.4} - val_accuracy: {:.4}",
            epoch_bar_prefix(variant.name(), epoch, config.epochs),
            // Keras 2.3 counts a "step" per sample in this line.
            seconds * 1e6 / n_train as f64,
            score.loss,
            score.accuracy,
        ));
        if let Some(path) = &ckpt_path {
            write_checkpoint(path, variant, config, &history, &model, &optim)?;
        }
    }

    let model = model.valid();
    Ok(TrainOutcome {
        params: model.param_count(),
        model,
        history,
    })
}

/// Mean categorical cross-entropy and accuracy of `model` (eval mode) on `data`, computed
/// [`EVAL_BATCH`] images at a time; both are `NaN` for an empty set.
///
/// # Panics
/// If a label is 10 or more (data sets from [`crate::data`] are checked when loaded).
pub fn evaluate(model: &Mlp<Backend>, data: &Dataset) -> TestScore {
    let device = Default::default();
    let (mut loss, mut correct) = (0.0f64, 0usize);
    for (images, labels) in data
        .images
        .chunks(EVAL_BATCH * IMAGE_PIXELS)
        .zip(data.labels.chunks(EVAL_BATCH))
    {
        let logits = model.forward(pixels_tensor::<Backend>(images, &device));
        let log_probs = activation::log_softmax(logits, 1).into_data();
        let log_probs = log_probs.as_slice::<f32>().unwrap_or_default();
        for (row, &label) in log_probs.chunks(NUM_CLASSES).zip(labels) {
            loss -= f64::from(row[usize::from(label)]);
            correct += usize::from(argmax(row) == usize::from(label));
        }
    }
    let n = data.len() as f64;
    TestScore {
        loss: loss / n,
        accuracy: correct as f64 / n,
    }
}

struct TrainData<'a> {
    images: &'a [u8],
    labels: &'a [u8],
}

/// One pass over the shuffled training set; returns the model, mean loss and accuracy.
fn run_epoch<O: Optimizer<Mlp<TrainBackend>, TrainBackend>>(
    mut model: Mlp<TrainBackend>,
    optim: &mut O,
    data: &TrainData<'_>,
    config: &TrainConfig,
    variant: Variant,
    epoch: usize,
    progress: Progress<'_>,
) -> Result<(Mlp<TrainBackend>, f64, f64), TrainError> {
    const REFRESH_STEPS: usize = 64;
    let device = Default::default();
    let n = data.labels.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut StdRng::seed_from_u64(derive_seed(
        config.seed,
        Stream::Shuffle,
        epoch,
    )));
    let mut dropout_rng = StdRng::seed_from_u64(derive_seed(config.seed, Stream::Dropout, epoch));

    let bar = match progress {
        Progress::Bars(multi) => multi.add(ProgressBar::new(n as u64)),
        Progress::Lines => ProgressBar::hidden(),
    };
    bar.set_style(epoch_bar_style());
    bar.set_prefix(epoch_bar_prefix(variant.name(), epoch, config.epochs));
    let finish = |bar: &ProgressBar| {
        bar.finish_and_clear();
        if let Progress::Bars(multi) = progress {
            multi.remove(bar);
        }
    };

    let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
    for (step, batch) in order.chunks(config.batch_size).enumerate() {
        let b = batch.len();
        let mut pixels = Vec::with_capacity(b * IMAGE_PIXELS);
        let mut targets = vec![0.0f32; b * NUM_CLASSES];
        for (row, &i) in batch.iter().enumerate() {
            let image = &data.images[i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS];
            pixels.extend(image.iter().map(|&p| f32::from(p) / 255.0));
            targets[row * NUM_CLASSES + usize::from(data.labels[i])] = 1.0;
        }
        let x = Tensor::<TrainBackend, 2>::from_data(
            TensorData::new(pixels, [b, IMAGE_PIXELS]),
            &device,
        );
        let targets = Tensor::<TrainBackend, 2>::from_data(
            TensorData::new(targets, [b, NUM_CLASSES]),
            &device,
        );

        let logits = model.forward_train(x, &mut dropout_rng);
        let log_probs = activation::log_softmax(logits.clone(), 1);
        let loss = (log_probs * targets).sum().mul_scalar(-1.0 / b as f64);

        // On burn-ndarray these reads are plain memory reads of 1 and b·10 floats.
        let value: f32 = loss.clone().into_scalar();
        if !value.is_finite() {
            finish(&bar);
            return Err(TrainError::NonFiniteLoss {
                epoch,
                step: step + 1,
                value,
            });
        }
        let logits = logits.into_data();
        let logits = logits.as_slice::<f32>().unwrap_or_default();
        for (row, &i) in logits.chunks(NUM_CLASSES).zip(batch) {
            correct += usize::from(argmax(row) == usize::from(data.labels[i]));
        }
        // Keras averages batch losses weighted by batch size.
        loss_sum += f64::from(value) * b as f64;
        seen += b;

        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(config.learning_rate, model, grads);

        if step % REFRESH_STEPS == 0 || seen == n {
            let text = format!(
                "loss: {:.4} - accuracy: {:.4}",
                loss_sum / seen as f64,
                correct as f64 / seen as f64
            );
            if let Progress::Lines = progress {
                Message::Step {
                    epoch,
                    epochs: config.epochs,
                    seen: seen as u64,
                    total: n as u64,
                    text,
                }
                .send();
            } else {
                bar.set_position(seen as u64);
                bar.set_message(text);
            }
        }
    }
    finish(&bar);
    Ok((model, loss_sum / n as f64, correct as f64 / n as f64))
}

/// Runs `f` with this thread's CPU flushing subnormal floats to zero (x86 FTZ and DAZ,
/// aarch64 FZ), as TensorFlow runs by default and as our PyTorch reference asks with
/// `torch.set_flush_denormal(True)`; the previous mode is restored when `f` returns or unwinds.
///
/// Why: late in training, softmax gives probabilities below f32's smallest normal (1.2e-38)
/// to classes the model is sure against, and their gradients and products become subnormal;
/// x86 handles each such operation in microcode, ~100 cycles. Measured: vanilla's epochs grew
/// from 3.1 s to 4.5–5.4 s over 25 epochs (5–7 s for an epoch 26 resumed from the final
/// checkpoint, 3 s with the flush). What it changes: values that would be below 1.2e-38 are
/// 0 instead; the loss and accuracy of that epoch 26 were the same to 4 decimals.
///
/// Only training steps run in this mode: validation, test evaluation and export do not.
fn flushing_subnormals<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: `no_denormals` sets the mode for this thread and restores it with an RAII guard.
    // Rust and LLVM assume the default floating-point environment, so a value that constant
    // folding computes as subnormal at compile time may be flushed when computed at run time:
    // the only difference this mode can make is to subnormal values, which is its purpose.
    // No code here relies on subnormals (the Adam floor, the dropout draws and the pixels are
    // all normal or zero).
    #[allow(unsafe_code)]
    unsafe {
        no_denormals::no_denormals(f)
    }
}

/// Index of the first maximum, like `argmax` in TensorFlow.
fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| {
            if v > bv { (i, v) } else { (bi, bv) }
        })
        .0
}

#[derive(Clone, Copy)]
enum Stream {
    Init = 1,
    Shuffle = 2,
    Dropout = 3,
}

/// An independent seed per `(seed, stream, epoch)`, mixed with SplitMix64's finaliser.
fn derive_seed(seed: u64, stream: Stream, epoch: usize) -> u64 {
    fn mix(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    mix(mix(mix(seed) ^ stream as u64) ^ epoch as u64)
}

/// Adam exactly as Keras 2.3 / tf.keras apply it ("epsilon hat" form):
/// `lr_t = lr·sqrt(1-β₂ᵗ)/(1-β₁ᵗ)`, `p -= lr_t·m / (sqrt(v) + ε)`.
///
/// burn 0.21's `Adam` divides by `sqrt(v) + ε·sqrt(1-β₂ᵗ)` instead, i.e. the paper's
/// `m̂ / (sqrt(v̂) + ε)`; the two differ only where `sqrt(v)` is not much larger than ε (tiny
/// gradients, first steps) and agree as `t` grows. This one follows Keras and is one fused,
/// vectorised loop per tensor: burn's `Adam` (a dozen tensor ops per parameter, and no guard
/// against subnormal moments) measured 3.7 ms per vanilla step here against 0.7 ms.
#[derive(Debug, Clone, Copy)]
struct KerasAdam {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
}

/// Per-tensor state of [`KerasAdam`].
#[derive(Record, Clone)]
struct KerasAdamState<B: BurnBackend, const D: usize> {
    time: usize,
    moment_1: Tensor<B, D>,
    moment_2: Tensor<B, D>,
}

impl KerasAdam {
    fn from_config(config: &TrainConfig) -> Self {
        Self {
            beta_1: config.beta_1 as f32,
            beta_2: config.beta_2 as f32,
            epsilon: config.epsilon as f32,
        }
    }

    fn init(self) -> OptimizerAdaptor<Self, Mlp<TrainBackend>, TrainBackend> {
        OptimizerAdaptor::from(self)
    }
}

impl<B: BurnBackend> SimpleOptimizer<B> for KerasAdam {
    type State<const D: usize> = KerasAdamState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        let device = tensor.device();
        let shape = tensor.shape();
        // On burn-ndarray, `into_data`/`from_data` move the buffers when they are not shared.
        let mut param = host_vec(tensor);
        let grad = host_vec(grad);
        let (time, mut m, mut v) = match state {
            Some(s) => (s.time + 1, host_vec(s.moment_1), host_vec(s.moment_2)),
            None => (1, vec![0.0; param.len()], vec![0.0; param.len()]),
        };
        let t = time as i32;
        let (b1, b2, eps) = (self.beta_1, self.beta_2, self.epsilon);
        let lr_t =
            (lr * (1.0 - f64::from(b2).powi(t)).sqrt() / (1.0 - f64::from(b1).powi(t))) as f32;
        adam_update(&mut param, &grad, &mut m, &mut v, [b1, b2, eps, lr_t]);
        let tensor =
            |values: Vec<f32>| Tensor::from_data(TensorData::new(values, shape.clone()), &device);
        let state = KerasAdamState {
            time,
            moment_1: tensor(m),
            moment_2: tensor(v),
        };
        (tensor(param), Some(state))
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        state.moment_1 = state.moment_1.to_device(device);
        state.moment_2 = state.moment_2.to_device(device);
        state
    }
}

/// One Keras Adam update of `param` in place, `[β₁, β₂, ε, lr_t]` in `k`.
///
/// Written as fixed-width chunks so that the compiler vectorises it: the scalar loop was
/// bound by `sqrtss`/`divss` throughput at ~3.5 ns per weight, most of a vanilla step.
///
/// # Shapes
/// All four slices have the same length.
fn adam_update(param: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32], k: [f32; 4]) {
    const LANES: usize = 16;
    let [b1, b2, eps, lr_t] = k;
    let one = |p: &mut f32, g: f32, m: &mut f32, v: &mut f32| {
        *m = flush_tiny(b1 * *m + (1.0 - b1) * g);
        *v = flush_tiny(b2 * *v + (1.0 - b2) * (g * g));
        *p -= lr_t * *m / (v.sqrt() + eps);
    };
    let n = param.len();
    let (grad, m, v) = (&grad[..n], &mut m[..n], &mut v[..n]);
    let split = n - n % LANES;
    let (p_head, p_tail) = param.split_at_mut(split);
    let (m_head, m_tail) = m.split_at_mut(split);
    let (v_head, v_tail) = v.split_at_mut(split);
    let chunks = p_head
        .chunks_exact_mut(LANES)
        .zip(grad[..split].chunks_exact(LANES))
        .zip(
            m_head
                .chunks_exact_mut(LANES)
                .zip(v_head.chunks_exact_mut(LANES)),
        );
    for ((p, g), (m, v)) in chunks {
        for j in 0..LANES {
            one(&mut p[j], g[j], &mut m[j], &mut v[j]);
        }
    }
    for (i, p) in p_tail.iter_mut().enumerate() {
        one(p, grad[split + i], &mut m_tail[i], &mut v_tail[i]);
    }
}

/// Moments below this are set to zero.
///
/// Weights that rarely see a gradient (border pixels, dead ReLUs) have moments that decay
/// geometrically towards zero; on the way, products like `lr_t·m` become subnormal, and x86
/// takes ~100 cycles per subnormal operation, which made the update ten times slower.
/// TensorFlow runs with flush-to-zero for the same reason. At this floor an update is at most
/// `1e-3·1e-30/1e-7 = 1e-26`, which cannot change any weight larger than ~1e-19 in `f32`, and
/// `sqrt(1e-30) = 1e-15` vanishes when added to ε = 1e-7 in `f32`: the flush is invisible.
const MOMENT_FLOOR: f32 = 1e-30;

fn flush_tiny(x: f32) -> f32 {
    if x.abs() < MOMENT_FLOOR { 0.0 } else { x }
}

fn host_vec<B: BurnBackend, const D: usize>(tensor: Tensor<B, D>) -> Vec<f32> {
    let data = tensor.into_data().convert::<f32>();
    match data.into_vec::<f32>() {
        Ok(values) => values,
        Err(_) => unreachable!("converted to f32 just above"),
    }
}

// ---------------------------------------------------------------------------------------------
// Checkpoints: one file, `MAGIC`, version, then three length-prefixed sections (JSON metadata,
// model record, optimiser record; records in burn's named MessagePack at full precision), then
// the SHA-256 of everything before it.

const MAGIC: &[u8; 8] = b"FMLPCKPT";
const CHECKPOINT_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct CheckpointMeta {
    variant: Variant,
    config: TrainConfig,
    history: History,
}

struct Checkpoint {
    meta: CheckpointMeta,
    model: Vec<u8>,
    optimizer: Vec<u8>,
}

fn corrupt(path: &Path, reason: impl Into<String>) -> TrainError {
    TrainError::CheckpointCorrupt {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> TrainError + '_ {
    move |source| TrainError::CheckpointIo {
        path: path.to_owned(),
        source,
    }
}

fn write_checkpoint<O: Optimizer<Mlp<TrainBackend>, TrainBackend>>(
    path: &Path,
    variant: Variant,
    config: &TrainConfig,
    history: &History,
    model: &Mlp<TrainBackend>,
    optim: &O,
) -> Result<(), TrainError> {
    let recorder = NamedMpkBytesRecorder::<FullPrecisionSettings>::default();
    let encode = |what: &str, e: burn::record::RecorderError| TrainError::CheckpointIo {
        path: path.to_owned(),
        source: io::Error::other(format!("cannot encode the {what} record: {e}")),
    };
    let model_bytes = recorder
        .record(model.clone().into_record(), ())
        .map_err(|e| encode("model", e))?;
    let optim_bytes = recorder
        .record(optim.to_record(), ())
        .map_err(|e| encode("optimizer", e))?;
    let meta = CheckpointMeta {
        variant,
        config: config.clone(),
        history: history.clone(),
    };
    let meta = serde_json::to_vec(&meta).map_err(|e| TrainError::CheckpointIo {
        path: path.to_owned(),
        source: e.into(),
    })?;

    let mut bytes = Vec::with_capacity(64 + meta.len() + model_bytes.len() + optim_bytes.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&CHECKPOINT_VERSION.to_le_bytes());
    for section in [&meta, &model_bytes, &optim_bytes] {
        bytes.extend_from_slice(&(section.len() as u64).to_le_bytes());
        bytes.extend_from_slice(section);
    }
    let digest = Sha256::digest(&bytes);
    bytes.extend_from_slice(&digest);
    // A crash leaves either the previous checkpoint or this one, never a mix.
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    crate::report::write_atomic(path, &bytes).map_err(io_error(path))
}

fn read_checkpoint(path: &Path) -> Result<Checkpoint, TrainError> {
    let bytes = fs::read(path).map_err(io_error(path))?;
    let body_len = bytes
        .len()
        .checked_sub(32)
        .ok_or_else(|| corrupt(path, "file too short"))?;
    let (body, digest) = bytes.split_at(body_len);
    if !body.starts_with(MAGIC) {
        return Err(corrupt(path, "not a checkpoint (bad magic)"));
    }
    if Sha256::digest(body).as_slice() != digest {
        return Err(corrupt(path, "checksum mismatch (truncated or damaged)"));
    }
    let mut rest = &body[MAGIC.len()..];
    let version = take(&mut rest, 4).map(|b| u32::from_le_bytes(b.try_into().unwrap_or_default()));
    if version != Some(CHECKPOINT_VERSION) {
        return Err(corrupt(path, format!("unsupported version {version:?}")));
    }
    let mut sections = Vec::with_capacity(3);
    for _ in 0..3 {
        let len = take(&mut rest, 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
            .and_then(|len| usize::try_from(len).ok())
            .ok_or_else(|| corrupt(path, "truncated section header"))?;
        let section = take(&mut rest, len).ok_or_else(|| corrupt(path, "truncated section"))?;
        sections.push(section.to_vec());
    }
    let optimizer = sections.pop().unwrap_or_default();
    let model = sections.pop().unwrap_or_default();
    let meta = sections.pop().unwrap_or_default();
    let meta = serde_json::from_slice(&meta).map_err(|e| corrupt(path, e.to_string()))?;
    Ok(Checkpoint {
        meta,
        model,
        optimizer,
    })
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if rest.len() < n {
        return None;
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Some(head)
}

/// Every setting but `epochs` must be the checkpoint's (more epochs may be asked for).
fn check_matches(
    path: &Path,
    meta: &CheckpointMeta,
    variant: Variant,
    config: &TrainConfig,
) -> Result<(), TrainError> {
    let mut differences = Vec::new();
    if meta.variant != variant || meta.history.variant != variant.name() {
        differences.push(format!("variant {} vs {}", meta.variant, variant));
    }
    let as_map = |c: &TrainConfig| match serde_json::to_value(c) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let (theirs, ours) = (as_map(&meta.config), as_map(config));
    for (key, value) in &ours {
        if key != "epochs" && theirs.get(key) != Some(value) {
            let theirs = theirs
                .get(key)
                .map_or("missing".to_owned(), |v| v.to_string());
            differences.push(format!("{key} {theirs} vs {value}"));
        }
    }
    if differences.is_empty() {
        Ok(())
    } else {
        Err(TrainError::CheckpointMismatch {
            path: path.to_owned(),
            details: differences.join(", "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{INPUTS, Snapshot, logits};
    use flate2::read::GzDecoder;
    use std::fs::File;
    use std::io::Read;

    const FASHION_DIR: &str = "/usr/share/datasets/fashion-mnist";

    /// Images `start..start + n` of an IDX `.gz` pair (`train` or `t10k`), read with a small
    /// local parser so these tests do not depend on `data.rs`.
    fn fashion(kind: &str, start: usize, n: usize) -> Dataset {
        let read = |name: &str, header: usize, item: usize| {
            let path = Path::new(FASHION_DIR).join(format!("{kind}-{name}.gz"));
            let file = File::open(&path).unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (apt-get install dataset-fashion-mnist)",
                    path.display()
                )
            });
            let mut bytes = Vec::new();
            GzDecoder::new(file)
                .take((header + (start + n) * item) as u64)
                .read_to_end(&mut bytes)
                .unwrap();
            assert_eq!(
                bytes.len(),
                header + (start + n) * item,
                "{kind}-{name} too short"
            );
            bytes.split_off(header + start * item)
        };
        Dataset {
            images: read("images-idx3-ubyte", 16, INPUTS),
            labels: read("labels-idx1-ubyte", 8, 1),
        }
    }

    fn quiet() -> MultiProgress {
        MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden())
    }

    /// History without wall-clock seconds, for exact comparisons.
    fn figures(history: &History) -> Vec<[f64; 4]> {
        history
            .epochs
            .iter()
            .map(|e| [e.loss, e.accuracy, e.val_loss, e.val_accuracy])
            .collect()
    }

    fn snapshot(outcome: &TrainOutcome) -> Snapshot {
        outcome.model.snapshot()
    }

    #[test]
    fn same_seed_gives_the_same_first_epoch() {
        let (train, val) = (fashion("train", 0, 512), fashion("train", 512, 256));
        let config = TrainConfig {
            epochs: 1,
            seed: 42,
            ..TrainConfig::default()
        };
        let run = |config: &TrainConfig| {
            train_quiet(Variant::BnDropout, config, &train, &val, None, false)
        };
        let (a, b) = (run(&config), run(&config));
        assert_eq!(figures(&a.history), figures(&b.history));
        assert_eq!(snapshot(&a), snapshot(&b));
        let other = run(&TrainConfig { seed: 43, ..config });
        assert_ne!(figures(&a.history), figures(&other.history));
        // 64 Adam steps on 512 images already beat chance by far.
        assert!(a.history.epochs[0].val_accuracy > 0.4, "{:?}", a.history);
    }

    fn train_quiet(
        variant: Variant,
        config: &TrainConfig,
        train_set: &Dataset,
        val: &Dataset,
        dir: Option<&Path>,
        resume: bool,
    ) -> TrainOutcome {
        train(variant, config, train_set, val, dir, resume, &quiet()).unwrap()
    }

    #[test]
    fn concurrent_runs_in_threads_equal_a_lone_run() {
        let (train_set, val) = (fashion("train", 0, 128), fashion("t10k", 0, 64));
        let config = TrainConfig {
            epochs: 2,
            seed: 5,
            ..TrainConfig::default()
        };
        let run = |variant| train_quiet(variant, &config, &train_set, &val, None, false);
        let alone = run(Variant::BnDropout);
        let together: Vec<TrainOutcome> = std::thread::scope(|scope| {
            let handles: Vec<_> = [Variant::BnDropout, Variant::Bn, Variant::BnDropout]
                .map(|variant| scope.spawn(move || run(variant)))
                .into_iter()
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for outcome in [&together[0], &together[2]] {
            assert_eq!(figures(&outcome.history), figures(&alone.history));
            assert_eq!(snapshot(outcome), snapshot(&alone));
        }
    }

    #[test]
    fn resume_after_epoch_one_equals_a_straight_run() {
        let (train, val) = (fashion("train", 0, 200), fashion("t10k", 0, 100));
        let config = TrainConfig {
            epochs: 2,
            seed: 7,
            ..TrainConfig::default()
        };
        for variant in [Variant::BnDropout, Variant::Dropout] {
            let straight_dir = tempfile::tempdir().unwrap();
            let straight = train_quiet(
                variant,
                &config,
                &train,
                &val,
                Some(straight_dir.path()),
                false,
            );

            let dir = tempfile::tempdir().unwrap();
            let first = TrainConfig {
                epochs: 1,
                ..config.clone()
            };
            let half = train_quiet(variant, &first, &train, &val, Some(dir.path()), false);
            assert_eq!(half.history.epochs.len(), 1);
            let resumed = train_quiet(variant, &config, &train, &val, Some(dir.path()), true);

            assert_eq!(
                figures(&resumed.history),
                figures(&straight.history),
                "{variant}"
            );
            assert_eq!(snapshot(&resumed), snapshot(&straight), "{variant}");
            // (The record bytes differ: burn draws fresh parameter ids for every model.)
            let ckpt = |d: &Path| read_checkpoint(&d.join(format!("{variant}.ckpt"))).unwrap();
            let (a, b) = (ckpt(straight_dir.path()), ckpt(dir.path()));
            assert_eq!(figures(&a.meta.history), figures(&b.meta.history));
        }
    }

    #[test]
    fn resume_refuses_another_configuration_and_damaged_files() {
        let (train_set, val) = (fashion("train", 0, 64), fashion("t10k", 0, 32));
        let dir = tempfile::tempdir().unwrap();
        let config = TrainConfig {
            epochs: 1,
            seed: 1,
            ..TrainConfig::default()
        };
        train_quiet(
            Variant::Vanilla,
            &config,
            &train_set,
            &val,
            Some(dir.path()),
            false,
        );
        let run = |config: &TrainConfig| {
            train(
                Variant::Vanilla,
                config,
                &train_set,
                &val,
                Some(dir.path()),
                true,
                &quiet(),
            )
        };

        let other = TrainConfig {
            epochs: 2,
            seed: 2,
            ..config.clone()
        };
        match run(&other) {
            Err(TrainError::CheckpointMismatch { details, .. }) => {
                assert!(details.contains("seed 1 vs 2"), "{details}");
                assert!(!details.contains("epochs"), "{details}");
            }
            other => panic!("expected a mismatch, got {other:?}"),
        }

        let path = dir.path().join("vanilla.ckpt");
        let meta = read_checkpoint(&path).unwrap().meta;
        let err = check_matches(&path, &meta, Variant::Bn, &config).unwrap_err();
        assert!(err.to_string().contains("variant vanilla vs bn"), "{err}");

        let mut bytes = fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 1;
        fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            run(&config),
            Err(TrainError::CheckpointCorrupt { .. })
        ));
        fs::write(&path, &bytes[..100]).unwrap();
        assert!(matches!(
            run(&config),
            Err(TrainError::CheckpointCorrupt { .. })
        ));
    }

    #[test]
    fn resume_without_a_checkpoint_starts_from_scratch_and_finished_runs_return_at_once() {
        let (train_set, val) = (fashion("train", 0, 64), fashion("t10k", 0, 32));
        let dir = tempfile::tempdir().unwrap();
        let config = TrainConfig {
            epochs: 1,
            ..TrainConfig::default()
        };
        let fresh = train_quiet(
            Variant::Bn,
            &config,
            &train_set,
            &val,
            Some(dir.path()),
            true,
        );
        let again = train_quiet(
            Variant::Bn,
            &config,
            &train_set,
            &val,
            Some(dir.path()),
            true,
        );
        assert_eq!(fresh.history, again.history);
        assert_eq!(snapshot(&fresh), snapshot(&again));
        assert_eq!(again.params, 164_993);
    }

    #[test]
    fn nan_loss_is_an_error_naming_epoch_and_step() {
        let (train_set, val) = (fashion("train", 0, 64), fashion("t10k", 0, 32));
        let config = TrainConfig {
            learning_rate: f64::NAN,
            ..TrainConfig::default()
        };
        // Step 1 computes a finite loss, then NaN weights make step 2's loss NaN.
        match train(
            Variant::Vanilla,
            &config,
            &train_set,
            &val,
            None,
            false,
            &quiet(),
        ) {
            Err(TrainError::NonFiniteLoss {
                epoch: 1,
                step: 2,
                value,
            }) => assert!(value.is_nan()),
            other => panic!("expected NonFiniteLoss at 1/2, got {other:?}"),
        }
    }

    #[test]
    fn keras_adam_matches_a_hand_computation() {
        // Two steps on three weights, Keras 2.3's update computed in f64.
        const ADAM_RTOL: f64 = 1e-6; // f32 arithmetic on values of order 1
        let adam = KerasAdam::from_config(&TrainConfig::default());
        let device = Default::default();
        let p0 = [0.5f32, -1.0, 2.0];
        let grads = [[0.1f32, -0.2, 0.0], [0.3, 0.1, -1e-4]];
        let tensor = |v: &[f32]| Tensor::<Backend, 1>::from_floats(v, &device);
        let (mut p, mut state) = (tensor(&p0), None);
        for g in &grads {
            (p, state) = SimpleOptimizer::<Backend>::step(&adam, 1e-3, p, tensor(g), state);
        }
        let got = host_vec(p);

        let (b1, b2, eps, lr) = (0.9f64, 0.999f64, 1e-7f64, 1e-3f64);
        let (mut m, mut v) = ([0.0f64; 3], [0.0f64; 3]);
        let mut want = p0.map(f64::from);
        for (t, g) in grads.iter().enumerate() {
            let t = (t + 1) as i32;
            let lr_t = lr * (1.0 - b2.powi(t)).sqrt() / (1.0 - b1.powi(t));
            for i in 0..3 {
                let g = f64::from(g[i]);
                m[i] = b1 * m[i] + (1.0 - b1) * g;
                v[i] = b2 * v[i] + (1.0 - b2) * g * g;
                want[i] -= lr_t * m[i] / (v[i].sqrt() + eps);
            }
        }
        for (g, w) in got.iter().zip(want) {
            assert!(
                (f64::from(*g) - w).abs() <= ADAM_RTOL * w.abs(),
                "{g} vs {w}"
            );
        }
        assert_eq!(state.map(|s| s.time), Some(2));
    }

    #[test]
    fn evaluate_agrees_with_logits_in_f64() {
        const SCORE_ATOL: f64 = 1e-6; // f32 log-softmax summed in f64 over 1,500 images
        let data = fashion("t10k", 0, 1500);
        let mut rng = StdRng::seed_from_u64(3);
        let model: Mlp<Backend> = Mlp::new(
            Variant::Bn,
            &MlpConfig::default(),
            &mut rng,
            &Default::default(),
        );
        let score = evaluate(&model, &data);
        let all = logits(&model, &data.images, 512);
        let (mut loss, mut correct) = (0.0, 0);
        for (row, &label) in all.chunks(NUM_CLASSES).zip(&data.labels) {
            let row: Vec<f64> = row.iter().map(|&x| f64::from(x)).collect();
            let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = max + row.iter().map(|x| (x - max).exp()).sum::<f64>().ln();
            loss += lse - row[usize::from(label)];
            let best = (0..NUM_CLASSES).fold(0, |b, i| if row[i] > row[b] { i } else { b });
            correct += usize::from(best == usize::from(label));
        }
        assert!((score.loss - loss / 1500.0).abs() < SCORE_ATOL, "{score:?}");
        assert_eq!(score.accuracy, correct as f64 / 1500.0);
    }

    #[test]
    fn argmax_takes_the_first_maximum() {
        assert_eq!(argmax(&[0.0, 2.0, 2.0, 1.0]), 1);
        assert_eq!(argmax(&[-1.0]), 0);
    }

    #[test]
    fn derived_seeds_differ_by_stream_and_epoch() {
        let seeds = [
            derive_seed(0, Stream::Init, 0),
            derive_seed(0, Stream::Shuffle, 1),
            derive_seed(0, Stream::Shuffle, 2),
            derive_seed(0, Stream::Dropout, 1),
            derive_seed(1, Stream::Shuffle, 1),
        ];
        for (i, a) in seeds.iter().enumerate() {
            assert!(seeds[i + 1..].iter().all(|b| a != b));
        }
    }

    /// CPU seconds of the calling thread (Linux `/proc`; 10 ms resolution), so timings hold
    /// up while other processes share the machine.
    fn thread_cpu_seconds() -> f64 {
        let stat = fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
        let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split(' ').collect();
        // `fields[0]` is empty, then state (field 3); utime and stime are fields 14 and 15.
        let ticks = |i: usize| fields.get(i - 2).and_then(|f| f.parse::<f64>().ok());
        ticks(14)
            .zip(ticks(15))
            .map_or(f64::NAN, |(u, s)| (u + s) / 100.0)
    }

    /// The sanity run: every variant for one real epoch (50,000 images, validation on the last
    /// 10,000), printing Keras-style lines and ms/step. `FMLP_VARIANTS=vanilla,bn` narrows it,
    /// `FMLP_TRAIN_LIMIT=n` shortens it, `FMLP_KERAS2_BN=1` uses Keras 2.3's moving variance.
    /// Run with `cargo test --release -p trainer --lib sanity -- --ignored --nocapture`.
    #[test]
    #[ignore = "one real epoch per variant: minutes"]
    fn sanity_one_real_epoch() {
        let all = fashion("train", 0, 60_000);
        let split = 50_000 * INPUTS;
        let train_set = Dataset {
            images: all.images[..split].to_vec(),
            labels: all.labels[..50_000].to_vec(),
        };
        let val = Dataset {
            images: all.images[split..].to_vec(),
            labels: all.labels[50_000..].to_vec(),
        };
        let wanted = std::env::var("FMLP_VARIANTS").unwrap_or_default();
        let config = TrainConfig {
            epochs: 1,
            train_limit: std::env::var("FMLP_TRAIN_LIMIT")
                .ok()
                .and_then(|n| n.parse().ok()),
            bn_moving_variance: if std::env::var("FMLP_KERAS2_BN").is_ok() {
                MovingVariance::Keras2Corrected
            } else {
                MovingVariance::Biased
            },
            ..TrainConfig::default()
        };
        let steps = config.train_limit.unwrap_or(50_000).div_ceil(8) as f64;
        for variant in Variant::ALL {
            if !wanted.is_empty() && !wanted.split(',').any(|w| w == variant.name()) {
                continue;
            }
            let cpu = thread_cpu_seconds();
            let out = train_quiet(variant, &config, &train_set, &val, None, false);
            let cpu = thread_cpu_seconds() - cpu;
            let e = out.history.epochs[0];
            eprintln!(
                "{variant}: {:.3} ms/step wall, {:.3} ms/step CPU (validation included), \
                 {:.2} s/epoch, val_accuracy {:.4}",
                e.seconds * 1e3 / steps,
                cpu * 1e3 / steps,
                e.seconds,
                e.val_accuracy
            );
        }
    }
}
