//! Accuracy of the device code, run on the host: [`Classifier::classify_u8`] over the
//! Fashion-MNIST test set, with the confusion matrix and the model's recorded provenance.
//!
//! ```text
//! cargo run --release -p firmware --example evaluate -- out/vanilla.fmlp [--data DIR]
//! ```
//!
//! Without `--data`, the test files are looked for in `$FASHION_MNIST_DIR` (and only there when
//! it is set), then `data/fashion-mnist`, then `/usr/share/datasets/fashion-mnist`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use firmware::{CLASSES, Classifier, INPUTS, Scratch};
use model_format::AlignedBytes;

use idx::layout::{DEBIAN_DIR, DOWNLOAD_DIR, TEST_FILE_NAMES, TEST_IMAGES_FILE, TEST_LABELS_FILE};
use idx::{find_dir, read_images, read_labels};

/// Where the test files are looked for without `--data` or `$FASHION_MNIST_DIR`.
const SEARCH_DIRS: [&str; 2] = [DOWNLOAD_DIR, DEBIAN_DIR];

/// Evaluates a .fmlp model with the firmware's own code on the Fashion-MNIST test set.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    /// The .fmlp model file.
    model: PathBuf,
    /// Directory holding t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let bytes = AlignedBytes::read(&args.model)
        .map_err(|e| format!("cannot read model {}: {e}", args.model.display()))?;
    let classifier =
        Classifier::<INPUTS>::new(&bytes).map_err(|e| format!("{}: {e}", args.model.display()))?;
    let defaults: Vec<PathBuf> = SEARCH_DIRS.iter().map(PathBuf::from).collect();
    let dir =
        find_dir(args.data.as_deref(), &defaults, &TEST_FILE_NAMES).map_err(|e| e.to_string())?;
    let images = read_images(&dir.join(TEST_IMAGES_FILE)).map_err(|e| e.to_string())?;
    let labels = read_labels(&dir.join(TEST_LABELS_FILE), CLASSES).map_err(|e| e.to_string())?;
    let count = labels.len();
    if images.len() != count * INPUTS {
        return Err(format!(
            "{TEST_IMAGES_FILE} holds {} images but {TEST_LABELS_FILE} holds {count} labels",
            images.len() / INPUTS,
        ));
    }

    let mut confusion = [[0usize; CLASSES]; CLASSES];
    let mut scratch = Scratch::<INPUTS>::new();
    for (pixels, &label) in images.as_chunks::<INPUTS>().0.iter().zip(&labels) {
        let class = classifier.classify_u8(pixels, &mut scratch).class;
        confusion[usize::from(label)][class] += 1;
    }
    let correct: usize = (0..CLASSES).map(|c| confusion[c][c]).sum();

    let model = classifier.model();
    let provenance = model.provenance();
    let shape: Vec<String> = std::iter::once(model.inputs().to_string())
        .chain(model.layers().iter().map(|l| l.outputs().to_string()))
        .collect();
    println!("model:      {} ({})", args.model.display(), model.variant());
    println!(
        "layers:     {} ({} parameters, {} bytes of f32)",
        shape.join("→"),
        model.param_count(),
        model.param_count() * 4
    );
    println!(
        "provenance: seed {}, {} epochs, test accuracy {:.4} recorded at export{}",
        provenance.seed,
        provenance.epochs,
        provenance.test_accuracy,
        if provenance.note.is_empty() {
            String::new()
        } else {
            format!(" ({})", provenance.note)
        }
    );
    println!("data:       {} ({count} test images)", dir.display());
    println!(
        "accuracy:   {:.4} ({correct} / {count}) with the device code (classify_u8)",
        correct as f64 / count.max(1) as f64
    );
    println!();
    print_confusion(&confusion, model.class_names());
    Ok(())
}

/// Rows are true classes, columns predicted classes.
fn print_confusion(confusion: &[[usize; CLASSES]; CLASSES], names: &[&str]) {
    let width = names.iter().map(|n| n.len()).max().unwrap_or(0).max(5);
    println!("confusion matrix (rows: true class, columns: predicted class)");
    print!("{:>w$}   ", "", w = width + 3);
    for c in 0..CLASSES {
        print!("{c:>6}");
    }
    println!();
    for (t, row) in confusion.iter().enumerate() {
        print!("{t:>2} {:>width$} | ", names.get(t).copied().unwrap_or("?"));
        for n in row {
            print!("{n:>6}");
        }
        let total: usize = row.iter().sum();
        println!("   recall {:.3}", row[t] as f64 / total.max(1) as f64);
    }
}
