//! The training loop: Keras's `fit(batch_size=8, epochs=25)` by hand, with per-epoch
//! validation, progress, atomic checkpoints and bit-identical resume.
//!
//! Every source of randomness is a [`StdRng`] derived from `(seed, purpose, epoch)`: the
//! initial weights, each epoch's shuffle and each epoch's dropout masks. Nothing depends on
//! burn's global backend RNG, so models may train concurrently in threads, and a run resumed
//! from the checkpoint of epoch `k` continues exactly as the uninterrupted run would.

use std::time::Instant;

use burn::module::AutodiffModule;
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::backend::Backend as BurnBackend;
use burn::tensor::{Tensor, TensorData, activation};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::data::dataset::Dataset;
use crate::model::mlp::Mlp;
use crate::model::spec::{INPUTS, MlpSpec};
use crate::model::tensor::pixels_tensor;
use crate::training::adam::KerasAdam;
use crate::training::checkpoint::{Checkpointing, resume, write_checkpoint};
use crate::training::config::{EVAL_BATCH, TrainConfig, TrainError};
use crate::training::history::{EpochRecord, History, TestScore};
use crate::training::progress::{Progress, epoch_prefix};
use crate::{Backend, TrainBackend};

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

/// Trains `spec` on `train`, validating on `val` after every epoch.
///
/// With `checkpoint`, the model, the optimiser state and the history are written to
/// `DIR/NAME.ckpt` after every epoch (atomically); with its `resume`, training continues from
/// that file if it exists (from scratch otherwise), bit-identical to an uninterrupted run.
/// Bars and one Keras-style line per epoch go to `progress`.
///
/// # Errors
/// [`TrainError::InvalidSetting`] for a setting out of range ([`TrainConfig::check`]);
/// [`TrainError::InvalidConfig`] for an invalid spec, an empty or malformed data set (a label
/// not below the spec's class count, not 784 bytes per image);
/// [`TrainError::CheckpointIo`], [`TrainError::CheckpointCorrupt`] and
/// [`TrainError::CheckpointMismatch`] (other spec, or any setting but `epochs` differs) for
/// checkpoints; [`TrainError::NonFiniteLoss`] as soon as a batch loss is NaN or infinite.
///
/// A little over 60 lines: it reads as Keras's `fit` does (check, resume, epochs, checkpoint,
/// history), and each part is a call.
pub fn train(
    spec: &MlpSpec,
    config: &TrainConfig,
    (train, val): (&Dataset, &Dataset),
    checkpoint: Option<&Checkpointing>,
    progress: &dyn Progress,
) -> Result<TrainOutcome, TrainError> {
    let n_train = check_inputs(spec, config, train, val)?;
    let device = Default::default();
    // Belt and braces: nothing below draws from the backend RNG.
    TrainBackend::seed(&device, config.seed);
    let mut init_rng = StdRng::seed_from_u64(derive_seed(config.seed, Stream::Init, 0));
    let mut model: Mlp<TrainBackend> = Mlp::new(spec, &mut init_rng, &device);
    let mut optim = KerasAdam::from_config(config).init();
    let mut history = History {
        spec: spec.clone(),
        epochs: Vec::new(),
    };
    let ckpt_path = checkpoint.map(|c| c.path(spec));
    if let Some(path) = ckpt_path.as_deref().filter(|p| p.exists())
        && checkpoint.is_some_and(|c| c.resume)
    {
        (model, optim, history) = resume(path, spec, config, (model, optim))?;
    }

    let data = TrainData {
        images: &train.images[..n_train * INPUTS],
        labels: &train.labels[..n_train],
        classes: spec.classes(),
    };
    for epoch in history.epochs.len() + 1..=config.epochs {
        let start = Instant::now();
        let (trained, loss, accuracy) =
            flushing_subnormals(|| run_epoch(model, &mut optim, &data, config, epoch, progress))?;
        model = trained;
        let score = evaluate(&model.valid(), val);
        let seconds = start.elapsed().as_secs_f64();
        history.epochs.push(EpochRecord {
            epoch,
            loss,
            accuracy,
            val_loss: score.loss,
            val_accuracy: score.accuracy,
            seconds,
        });
        progress.line(&format!(
            "{} - {seconds:.0}s {:.0}us/step - loss: {loss:.4} - accuracy: {accuracy:.4} - \
             val_loss: {:.4} - val_accuracy: {:.4}",
            epoch_prefix(&spec.name, epoch, config.epochs),
            // Keras 2.3 counts a "step" per sample in this line.
            seconds * 1e6 / n_train as f64,
            score.loss,
            score.accuracy,
        ));
        if let Some(path) = &ckpt_path {
            write_checkpoint(path, config, &history, &model, &optim)?;
        }
    }

    let model = model.valid();
    Ok(TrainOutcome {
        params: model.param_count(),
        model,
        history,
    })
}

/// Checks the spec, the settings and both sets; returns the number of training images used.
fn check_inputs(
    spec: &MlpSpec,
    config: &TrainConfig,
    train: &Dataset,
    val: &Dataset,
) -> Result<usize, TrainError> {
    if spec.check().is_err() {
        return Err(TrainError::InvalidConfig("the model spec is invalid"));
    }
    config.check()?;
    let n_train = config
        .train_limit
        .map_or(train.len(), |n| n.min(train.len()));
    if n_train == 0 || val.is_empty() {
        return Err(TrainError::InvalidConfig(
            "training and validation sets must be non-empty",
        ));
    }
    for set in [train, val] {
        if set.images.len() != set.len() * INPUTS {
            return Err(TrainError::InvalidConfig(
                "image bytes are not 784 per label",
            ));
        }
        if set.labels.iter().any(|&l| usize::from(l) >= spec.classes()) {
            return Err(TrainError::InvalidConfig(
                "a label is not below the spec's number of classes",
            ));
        }
    }
    Ok(n_train)
}

/// Mean categorical cross-entropy and accuracy of `model` (eval mode) on `data`, computed
/// [`EVAL_BATCH`] images at a time; both are `NaN` for an empty set.
///
/// # Panics
/// If a label is not below the model's output width ([`train`] checks its data sets).
pub fn evaluate(model: &Mlp<Backend>, data: &Dataset) -> TestScore {
    let device = Default::default();
    let classes = model.outputs();
    let (mut loss, mut correct) = (0.0f64, 0usize);
    for (images, labels) in data
        .images
        .chunks(EVAL_BATCH * INPUTS)
        .zip(data.labels.chunks(EVAL_BATCH))
    {
        let logits = model.forward(pixels_tensor::<Backend>(images, &device));
        let log_probs = activation::log_softmax(logits, 1).into_data();
        let log_probs = log_probs.as_slice::<f32>().unwrap_or_default();
        for (row, &label) in log_probs.chunks(classes).zip(labels) {
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
    classes: usize,
}

impl TrainData<'_> {
    /// The batch of images `batch` as pixel and one-hot target tensors.
    fn batch_tensors<B: BurnBackend>(
        &self,
        batch: &[usize],
        device: &B::Device,
    ) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let (b, classes) = (batch.len(), self.classes);
        let mut pixels = Vec::with_capacity(b * INPUTS);
        let mut targets = vec![0.0f32; b * classes];
        for (row, &i) in batch.iter().enumerate() {
            let image = &self.images[i * INPUTS..(i + 1) * INPUTS];
            pixels.extend(image.iter().map(|&p| f32::from(p) / 255.0));
            targets[row * classes + usize::from(self.labels[i])] = 1.0;
        }
        let x = Tensor::from_data(TensorData::new(pixels, [b, INPUTS]), device);
        let targets = Tensor::from_data(TensorData::new(targets, [b, classes]), device);
        (x, targets)
    }
}

/// One pass over the shuffled training set; returns the model, mean loss and accuracy.
///
/// Kept in one piece (62 lines): it is the hot loop, 6,250 Adam steps an epoch, and its tensors
/// move by value from step to step.
fn run_epoch<O: Optimizer<Mlp<TrainBackend>, TrainBackend>>(
    mut model: Mlp<TrainBackend>,
    optim: &mut O,
    data: &TrainData<'_>,
    config: &TrainConfig,
    epoch: usize,
    progress: &dyn Progress,
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
    progress.epoch_started(epoch, config.epochs, n as u64);

    let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
    for (step, batch) in order.chunks(config.batch_size).enumerate() {
        let b = batch.len();
        let (x, targets) = data.batch_tensors::<TrainBackend>(batch, &device);
        let logits = model.forward_train(x, &mut dropout_rng);
        let log_probs = activation::log_softmax(logits.clone(), 1);
        let loss = (log_probs * targets).sum().mul_scalar(-1.0 / b as f64);

        // On burn-ndarray these reads are plain memory reads of 1 and b·classes floats.
        let value: f32 = loss.clone().into_scalar();
        if !value.is_finite() {
            progress.epoch_finished();
            return Err(TrainError::NonFiniteLoss {
                epoch,
                step: step + 1,
                value,
            });
        }
        let logits = logits.into_data();
        let logits = logits.as_slice::<f32>().unwrap_or_default();
        for (row, &i) in logits.chunks(data.classes).zip(batch) {
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
            progress.advanced(seen as u64, &text);
        }
    }
    progress.epoch_finished();
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

/// Index of the first maximum, like `argmax` in TensorFlow; NaN never wins, and a row with no
/// number above −∞ gives 0. For f32 logits (training) and f64 ones (the quantizer's forward).
pub fn argmax<T: PartialOrd + Copy>(row: &[T]) -> usize {
    let mut best: Option<(usize, T)> = None;
    for (i, &v) in row.iter().enumerate() {
        // `v > v` is never true; `partial_cmp` is `None` only for NaN.
        let is_number = v.partial_cmp(&v).is_some();
        if is_number && best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best.map_or(0, |(i, _)| i)
}

#[derive(Clone, Copy)]
pub(crate) enum Stream {
    Init = 1,
    Shuffle = 2,
    Dropout = 3,
}

/// An independent seed per `(seed, stream, epoch)`, mixed with SplitMix64's finaliser.
pub(crate) fn derive_seed(seed: u64, stream: Stream, epoch: usize) -> u64 {
    fn mix(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    mix(mix(mix(seed) ^ stream as u64) ^ epoch as u64)
}
