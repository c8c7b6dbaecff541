//! `trainer`: Fashion-MNIST MLPs (the notebook's four, or a spec's), trained, compared and
//! exported. Thin: parses the command line and hands each subcommand to its library module.

mod cli;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use idx::layout::{TEST_IMAGES, TRAIN_IMAGES};
use indicatif::MultiProgress;
use model_format::Model;
use trainer::data::{FashionMnist, VALIDATION_IMAGES, locate};
use trainer::inspect::{describe, read_model};
use trainer::job::{RunOptions, Settings, run, worker_main};
use trainer::report::print_summary;
use trainer::training::TrainConfig;

use crate::cli::{BenchArgs, Cli, Command, ImportArgs, QuantizeArgs, TrainArgs, WorkerArgs};

// glibc malloc made burn's many small per-step allocations 2-3.5x slower here (EMBEDDED.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        Some(Command::Quantize(args)) => quantize(args),
        Some(Command::Import(args)) => import(args),
        Some(Command::Train(args)) => train(args),
        Some(Command::Bench(args)) => bench(args),
        Some(Command::Worker(args)) => worker(args),
        None => train(cli.train),
    }
}

fn train(args: TrainArgs) -> anyhow::Result<()> {
    let specs = args.specs()?;
    let config = TrainConfig {
        epochs: args.epochs,
        batch_size: args.common.batch_size,
        learning_rate: args.learning_rate,
        seed: args.seed,
        train_limit: args.train_limit,
        ..TrainConfig::default()
    };
    let settings = Settings {
        config,
        out: args.out,
        resume: args.resume,
    };
    // Every setting before the data is looked for (and perhaps downloaded).
    settings.check(&specs)?;
    // Only the directory: each worker process loads (and checks) the files itself.
    let data_dir = locate(args.common.data.as_deref())?;
    let in_training = TRAIN_IMAGES - VALIDATION_IMAGES;
    eprintln!(
        "data in {}: {TRAIN_IMAGES} training images ({} used for training, {VALIDATION_IMAGES} \
         for validation), {TEST_IMAGES} test images",
        data_dir.display(),
        args.train_limit.map_or(in_training, |n| n.min(in_training)),
    );
    let opts = RunOptions {
        specs,
        settings,
        jobs: args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from)),
        // One process per model; in a thread of this one only if the path is unknown.
        worker: std::env::current_exe().ok(),
    };
    let started = std::time::Instant::now();
    let runs = run(&opts, &data_dir, &MultiProgress::new())?;
    let rows: Vec<_> = runs.into_iter().map(|r| r.row).collect();
    print_summary(&rows);
    eprintln!(
        "wall time {:.1} s; results in {}",
        started.elapsed().as_secs_f64(),
        opts.settings.out.display()
    );
    Ok(())
}

fn import(args: ImportArgs) -> anyhow::Result<()> {
    let options = trainer::import::ImportOptions {
        name: args.name,
        class_names: args.classes,
        input_scale: args.input_scale,
        capacity: args.capacity,
    };
    let imported = trainer::import::import_to(&args.input, &options, &args.out)?;
    eprintln!("{}: {}", args.input.display(), imported.producer);
    for line in &imported.mapping {
        eprintln!("  {line}");
    }
    let model = Model::from_bytes(&imported.file).context("re-reading the imported model")?;
    eprintln!("wrote {}", args.out.display());
    print!("{}", describe(&model, imported.file.len()));
    Ok(())
}

fn quantize(args: QuantizeArgs) -> anyhow::Result<()> {
    use trainer::quantize::{f32_layers, quantize_to_files};
    // Every check that needs no data first: a missing, corrupt or quantized file fails at once.
    let file = read_model(&args.input)?;
    let model = Model::from_bytes(&file).context("re-reading the checked model")?;
    f32_layers(&model).with_context(|| format!("{}", args.input.display()))?;
    let data = FashionMnist::load(args.data.as_deref(), model.classes())?;
    let (train_set, _validation) = data.split_validation();
    let cmp = quantize_to_files(
        &args.input,
        &file,
        &[args.to],
        |_| args.out.clone(),
        &train_set,
        &data.test,
    )?;
    print!("{}", cmp.markdown());
    Ok(())
}

fn worker(args: WorkerArgs) -> anyhow::Result<()> {
    let spec = serde_json::from_str(&args.spec).context("--spec is not a model spec")?;
    let settings: Settings = serde_json::from_str(&args.settings)
        .context("--settings is not a training configuration")?;
    worker_main(&spec, &settings, &args.data)?;
    Ok(())
}

fn bench(args: BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.python.is_none() || args.common.batch_size == 8,
        "--python: the PyTorch reference trains at batch 8 only, as the notebook does"
    );
    let data = FashionMnist::load(args.common.data.as_deref(), 10)?;
    let config = TrainConfig {
        epochs: args.epochs,
        batch_size: args.common.batch_size,
        ..TrainConfig::default()
    };
    let reference = args.python.map(|python| trainer::bench::TorchReference {
        python,
        script: trainer::bench::PYTORCH_SCRIPT.into(),
    });
    eprintln!(
        "timing {} epochs of each variant on 50,000 images, batch {}, one variant at a time{}...",
        args.epochs,
        args.common.batch_size,
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
