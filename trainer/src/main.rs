//! `trainer`: the notebook's four Fashion-MNIST MLPs, trained, compared and exported.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use indicatif::MultiProgress;
use model_format::Model;
use trainer::data::FashionMnist;
use trainer::inspect::{describe, read_model};
use trainer::model::Variant;
use trainer::report::print_summary;
use trainer::run::{RunOptions, run};
use trainer::training::TrainConfig;

// glibc malloc made burn's many small per-step allocations 2-3.5x slower here (EMBEDDED.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Trains the Keras notebook's four Fashion-MNIST MLPs (vanilla, dropout, bn, bn_dropout)
/// with burn, folds BatchNorm into the Dense weights and exports `.fmlp` files for the firmware.
///
/// With no subcommand, runs `train` with the notebook's settings (all four variants,
/// 25 epochs, batch 8, Adam 1e-3).
#[derive(Debug, Parser)]
#[command(version, about, long_about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    train: TrainArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train, evaluate, plot and export (the default).
    Train(TrainArgs),
    /// Time training: median seconds per epoch of each variant, one at a time on one thread;
    /// with --python, PyTorch is timed beside it in the same run.
    Bench(BenchArgs),
    /// Print a model file's layers, parameters, size, device RAM and provenance.
    Inspect {
        /// The `.fmlp` file.
        file: PathBuf,
    },
    /// Internal: train one variant for `train`, reporting to it on stdout.
    #[command(hide = true)]
    Worker(WorkerArgs),
}

#[derive(Debug, Args)]
struct WorkerArgs {
    /// The variant.
    #[arg(long)]
    variant: Variant,
    /// The training configuration, as JSON.
    #[arg(long)]
    config: String,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Directory with the four IDX .gz files.
    #[arg(long)]
    data: PathBuf,
    /// Continue from the variant's checkpoint.
    #[arg(long)]
    resume: bool,
}

#[derive(Debug, Args)]
struct TrainArgs {
    /// Variants to train, comma-separated: vanilla, dropout, bn, bn_dropout.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "vanilla,dropout,bn,bn_dropout"
    )]
    variants: Vec<Variant>,
    /// Epochs per variant.
    #[arg(long, default_value_t = 25)]
    epochs: usize,
    /// Images per Adam step.
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    learning_rate: f64,
    /// Seed of every random draw (init, shuffling, dropout); same seed, same history.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Directory with the four IDX .gz files. Default: $FASHION_MNIST_DIR,
    /// ./data/fashion-mnist, /usr/share/datasets/fashion-mnist, else download.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Output directory: OUT/<variant>/{model.fmlp,history.csv,history.json,*.png}, OUT/summary.{md,csv}.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// Train on only the first N of the 50,000 training images (quick runs).
    #[arg(long)]
    train_limit: Option<usize>,
    /// Continue each variant from its last end-of-epoch checkpoint in OUT/<variant>/.
    #[arg(long)]
    resume: bool,
    /// Variants trained at once (default: the number of CPU cores).
    #[arg(long)]
    jobs: Option<usize>,
}

#[derive(Debug, Args)]
struct BenchArgs {
    /// Variants to time, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "vanilla,dropout,bn,bn_dropout"
    )]
    variants: Vec<Variant>,
    /// Epochs per variant (the median is reported).
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Images per Adam step.
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    /// Directory with the four IDX .gz files (default: as for `train`).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Also time PyTorch (fused and default Adam) on each variant right after ours, with this
    /// Python interpreter, which must be able to `import torch`. Runs
    /// trainer/benches/reference/pytorch_train.py; see trainer/benches/reference/README.md.
    #[arg(long, value_name = "PYTHON")]
    python: Option<PathBuf>,
}

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Inspect { file }) => {
            let bytes = read_model(&file)?;
            let model = Model::from_bytes(&bytes).context("re-reading the checked model")?;
            print!("{}", describe(&model, bytes.len()));
            Ok(())
        }
        Some(Command::Train(args)) => train(args),
        Some(Command::Bench(args)) => bench(args),
        Some(Command::Worker(args)) => worker(args),
        None => train(cli.train),
    }
}

fn train(args: TrainArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        !args.variants.is_empty(),
        "--variants: name at least one variant"
    );
    anyhow::ensure!(args.epochs > 0, "--epochs must be at least 1");
    anyhow::ensure!(args.batch_size > 0, "--batch-size must be at least 1");
    let config = TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        learning_rate: args.learning_rate,
        seed: args.seed,
        train_limit: args.train_limit,
        ..TrainConfig::default()
    };
    let data = FashionMnist::load(args.data.as_deref())?;
    eprintln!(
        "Fashion-MNIST from {}: {} training images ({} used for training, {} for validation), {} test images",
        data.source.display(),
        data.train.len(),
        args.train_limit
            .map_or(data.train.len() - trainer::data::VALIDATION_IMAGES, |n| n
                .min(data.train.len() - trainer::data::VALIDATION_IMAGES)),
        trainer::data::VALIDATION_IMAGES,
        data.test.len()
    );
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let opts = RunOptions {
        variants: args.variants,
        config,
        out: args.out,
        resume: args.resume,
        jobs,
        // One process per variant; in a thread of this one only if the path is unknown.
        worker: std::env::current_exe().ok(),
    };
    let started = std::time::Instant::now();
    let runs = run(&opts, &data, &MultiProgress::new())?;
    let rows: Vec<_> = runs.into_iter().map(|r| r.row).collect();
    print_summary(&rows);
    eprintln!(
        "wall time {:.1} s; results in {}",
        started.elapsed().as_secs_f64(),
        opts.out.display()
    );
    Ok(())
}

fn worker(args: WorkerArgs) -> anyhow::Result<()> {
    let config: TrainConfig =
        serde_json::from_str(&args.config).context("--config is not a training configuration")?;
    let data = FashionMnist::load(Some(&args.data))?;
    let opts = RunOptions {
        variants: vec![args.variant],
        config,
        out: args.out,
        resume: args.resume,
        jobs: 1,
        worker: None,
    };
    trainer::run::run_worker(args.variant, &opts, &data)?;
    Ok(())
}

fn bench(args: BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.epochs > 0, "--epochs must be at least 1");
    anyhow::ensure!(args.batch_size > 0, "--batch-size must be at least 1");
    anyhow::ensure!(
        args.python.is_none() || args.batch_size == 8,
        "--python: the PyTorch reference trains at batch 8 only, as the notebook does"
    );
    let data = FashionMnist::load(args.data.as_deref())?;
    let config = TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        ..TrainConfig::default()
    };
    let reference = args.python.map(|python| trainer::bench::TorchReference {
        python,
        script: trainer::bench::PYTORCH_SCRIPT.into(),
    });
    eprintln!(
        "timing {} epochs of each variant on 50,000 images, batch {}, one variant at a time{}...",
        args.epochs,
        args.batch_size,
        if reference.is_some() {
            ", each followed by PyTorch (fused, then default Adam)"
        } else {
            ""
        }
    );
    let rows = trainer::bench::bench_training(&args.variants, &config, &data, reference.as_ref())?;
    print!("{}", trainer::bench::bench_markdown(&rows));
    Ok(())
}
