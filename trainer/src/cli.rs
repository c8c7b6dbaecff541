//! The command line: one `clap` type per subcommand, the arguments `train` and `bench` share
//! defined once. Each subcommand's logic lives in its own library module (`job`, `bench`,
//! `inspect`); a new subcommand is a variant of [`Command`] and a module.

use std::path::PathBuf;

use clap::builder::RangedU64ValueParser;
use clap::{Args, Parser, Subcommand};
use trainer::model::{MlpSpec, SpecError};
use trainer::variant::Variant;

/// Trains MLPs on Fashion-MNIST with burn — the Keras notebook's four variants (vanilla,
/// dropout, bn, bn_dropout) or any model described in a TOML spec — folds BatchNorm into the
/// Dense weights and exports `.fmlp` files for the firmware.
///
/// With no subcommand, runs `train` with the notebook's settings (all four variants,
/// 25 epochs, batch 8, Adam 1e-3).
#[derive(Debug, Parser)]
#[command(version, about, long_about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub train: TrainArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train, evaluate, plot and export (the default).
    Train(TrainArgs),
    /// Time training: median seconds per epoch of each variant, one at a time on one thread;
    /// with --python, PyTorch is timed beside it in the same run.
    Bench(BenchArgs),
    /// Quantize an f32 model file to f16 or int8; prints the size and test accuracy before
    /// and after.
    ///
    /// f16 rounds each weight to the nearest IEEE binary16 (ties to even); biases and the
    /// device's arithmetic stay f32. int8 follows TFLite's int8 scheme for FULLY_CONNECTED:
    /// symmetric int8 weights with one scale per output row, asymmetric int8 activations,
    /// int32 biases and a fixed-point requantization per row, so the device computes in
    /// integers only. Calibration runs the f32 model on the first 10,000 training images (never
    /// the validation or test images), layer by layer on the int8 outputs of the layers before:
    /// each layer's int32 biases are corrected by the mean error its int8 weights add on those
    /// images, each hidden layer's int8 range reaches the 99.9th percentile of its outputs, and
    /// the logits' range is the one (among quantiles of each image's top two logits) that keeps
    /// the f32 model's class on most of those images. Before that, cross-layer equalization
    /// rescales each hidden unit between two ReLU layers so a folded BatchNorm's per-input
    /// scales do not coarsen whole rows. BatchNorm is already folded into the f32 file. The
    /// accuracies are those of the files on the 10,000 test images, by a plain host forward
    /// pass of each; for int8 it also counts the test images whose f32 top-two margin is below
    /// one int8 logit step.
    Quantize(QuantizeArgs),
    /// Import a dense network trained elsewhere (ONNX or TFLite) as a model file, printing
    /// what each node or operator became.
    ///
    /// ONNX (an f32 file): Gemm, MatMul + Add, Relu, BatchNormalization before or after the
    /// activation (folded into the neighbouring dense layer; ε read from the node), Dropout,
    /// Identity, Flatten, Reshape to one row, and Softmax last. TFLite: FULLY_CONNECTED with
    /// fused NONE or RELU, RESHAPE, SOFTMAX last, QUANTIZE first and DEQUANTIZE last; a float32
    /// file gives an f32 model, an int8 file an int8 model with the file's own integers. In one
    /// chain from the graph's input to its output; anything else (another operator, a branch,
    /// a weight that is not a constant, a dynamic shape) is refused with the node or operator,
    /// its op and the reason, and nothing is written. Run `trainer quantize` on an f32 result
    /// for f16 or int8.
    Import(ImportArgs),
    /// Print a model file's layers, parameters, size, device RAM and provenance.
    Inspect {
        /// The `.fmlp` file.
        file: PathBuf,
    },
    /// Internal: train one model for `train`, reporting to it on stdout.
    #[command(hide = true)]
    Worker(WorkerArgs),
}

/// Arguments of `quantize`.
#[derive(Debug, Args)]
pub struct QuantizeArgs {
    /// The f32 `.fmlp` file to quantize (as `train` exports it).
    pub input: PathBuf,
    /// The storage to quantize to.
    #[arg(long, value_enum)]
    pub to: trainer::quantize::Target,
    /// Where to write the quantized model (atomically; nothing is written on an error).
    #[arg(long)]
    pub out: PathBuf,
    /// Directory with the four IDX .gz files (training images for calibration, test images
    /// for the accuracies). Default: as for `train`.
    #[arg(long)]
    pub data: Option<PathBuf>,
}

/// Arguments of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The source model: an `.onnx` file (PyTorch's exporters, dynamo or legacy) or a
    /// `.tflite` file (float32, or int8 with int8 input: the first layer's input quantization
    /// must be `--input-scale` with zero point -128).
    pub input: PathBuf,
    /// Where to write the `.fmlp` model (atomically; nothing is written on an error).
    #[arg(long)]
    pub out: PathBuf,
    /// The model's name in the file (default: the input file's stem).
    #[arg(long)]
    pub name: Option<String>,
    /// Class names in output order, comma-separated (default: Fashion-MNIST's for a 784 → 10
    /// network, else 0, 1, ...).
    #[arg(long, value_delimiter = ',')]
    pub classes: Option<Vec<String>>,
    /// The device feeds `u8 × SCALE` to the first layer: the scale the network was trained
    /// with (1/255 for pixels scaled to [0, 1]).
    #[arg(long, default_value_t = 1.0 / 255.0)]
    pub input_scale: f32,
    /// Refuse a model with a layer wider than N: the activation capacity (`CAP`) of the
    /// device's `firmware::Engine` (default: no limit; `inspect` shows what a model needs).
    #[arg(long, value_name = "N")]
    pub capacity: Option<usize>,
}

/// The model, its settings and the data directory of one `trainer worker`, as `train` passes
/// them.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The model spec, as JSON.
    #[arg(long)]
    pub spec: String,
    /// The shared settings (training configuration, output directory, resume), as JSON.
    #[arg(long)]
    pub settings: String,
    /// Directory with the four IDX .gz files.
    #[arg(long)]
    pub data: PathBuf,
}

/// Arguments of `train` and `bench`: the data and the batch size.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Directory with the four IDX .gz files of the Fashion-MNIST layout (Fashion-MNIST,
    /// MNIST, KMNIST, ...). Default: $FASHION_MNIST_DIR, ./data/fashion-mnist,
    /// /usr/share/datasets/fashion-mnist, else download Fashion-MNIST.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Images per Adam step.
    #[arg(long, default_value_t = 8, value_parser = positive())]
    pub batch_size: usize,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Presets to train, comma-separated: vanilla, dropout, bn, bn_dropout. Default: all four,
    /// unless --spec is given.
    #[arg(long, value_delimiter = ',')]
    pub variants: Option<Vec<Variant>>,
    /// A model spec (TOML) to train, after the presets; repeat for more. The first model
    /// trained is the baseline of the comparison plots. See trainer/specs/ for an example.
    #[arg(long, value_name = "FILE.toml")]
    pub spec: Vec<PathBuf>,
    /// Epochs per model.
    #[arg(long, default_value_t = 25, value_parser = positive())]
    pub epochs: usize,
    #[command(flatten)]
    pub common: CommonArgs,
    /// Adam learning rate: a finite number above 0 (the model files' note prints it in full,
    /// so it must also leave that note within 255 bytes: at least about 1e-150).
    #[arg(long, default_value_t = 1e-3, value_parser = finite_positive)]
    pub learning_rate: f64,
    /// Seed of every random draw (init, shuffling, dropout); same seed, same history.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output directory: OUT/<model>/{model.fmlp,history.csv,history.json,*.png}, OUT/summary.{md,csv}.
    /// One trainer at a time: a second one on the same OUT is refused, naming the first.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Train on only the first N of the 50,000 training images (quick runs).
    #[arg(long, value_parser = positive())]
    pub train_limit: Option<usize>,
    /// Continue each model from its last end-of-epoch checkpoint in OUT/<model>/. Without it,
    /// the files of an earlier run in OUT that this run would write are first moved into
    /// OUT/earlier-run-DATE/.
    #[arg(long)]
    pub resume: bool,
    /// Models trained at once (default: the number of CPU cores).
    #[arg(long, value_parser = positive())]
    pub jobs: Option<usize>,
}

impl TrainArgs {
    /// The presets named by --variants (all four when neither --variants nor --spec is given),
    /// then the --spec files.
    ///
    /// # Errors
    /// A spec file that cannot be read or is not a valid spec, or two models of one name.
    pub fn specs(&self) -> anyhow::Result<Vec<MlpSpec>> {
        let presets = match (&self.variants, self.spec.is_empty()) {
            (Some(v), _) => v.clone(),
            (None, true) => Variant::ALL.to_vec(),
            (None, false) => Vec::new(),
        };
        let mut specs: Vec<MlpSpec> = presets.into_iter().map(Variant::spec).collect();
        for path in &self.spec {
            specs.push(MlpSpec::read(path).map_err(|e: SpecError| anyhow::Error::new(e))?);
        }
        anyhow::ensure!(!specs.is_empty(), "--variants: name at least one variant");
        for (i, spec) in specs.iter().enumerate() {
            anyhow::ensure!(
                specs[..i].iter().all(|s| s.name != spec.name),
                "two models are named `{}`: they would write the same directory",
                spec.name
            );
        }
        Ok(specs)
    }
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Variants to time, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "vanilla,dropout,bn,bn_dropout"
    )]
    pub variants: Vec<Variant>,
    /// Epochs per variant (the median is reported).
    #[arg(long, default_value_t = 3, value_parser = positive())]
    pub epochs: usize,
    #[command(flatten)]
    pub common: CommonArgs,
    /// Also time PyTorch (fused and default Adam) on each variant right after ours, with this
    /// Python interpreter, which must be able to `import torch`. Runs
    /// trainer/benches/reference/pytorch_train.py; see trainer/benches/reference/README.md.
    #[arg(long, value_name = "PYTHON")]
    pub python: Option<PathBuf>,
}

/// A count of at least 1.
fn positive() -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::new().range(1..)
}

/// A floating-point number that is finite and above 0.
fn finite_positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        Ok(_) => Err("must be a finite number above 0".into()),
        Err(e) => Err(format!("{e}; expected a finite number above 0")),
    }
}
