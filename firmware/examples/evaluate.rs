//! Accuracy of the device code, run on the host: [`Classifier::classify_u8`] over the
//! Fashion-MNIST test set, with the confusion matrix and the model's recorded provenance.
//!
//! ```text
//! cargo run --release -p firmware --example evaluate -- out/vanilla.fmlp [--data DIR]
//! ```
//!
//! Without `--data`, the test files are looked for in `$FASHION_MNIST_DIR` (and only there when
//! it is set), then `data/fashion-mnist`, then `/usr/share/datasets/fashion-mnist`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use firmware::{CLASSES, Classifier, INPUTS, Scratch};
use flate2::read::GzDecoder;
use model_format::AlignedBytes;

const IMAGES_FILE: &str = "t10k-images-idx3-ubyte.gz";
const LABELS_FILE: &str = "t10k-labels-idx1-ubyte.gz";
const DIR_VAR: &str = "FASHION_MNIST_DIR";
const SEARCH_DIRS: [&str; 2] = ["data/fashion-mnist", "/usr/share/datasets/fashion-mnist"];
/// Refuse to decompress more than this (the t10k images are 7.8 MB).
const MAX_DECOMPRESSED: u64 = 64 << 20;

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
    let dir = data_dir(args.data.as_deref())?;
    let images = read_idx(&dir.join(IMAGES_FILE), 0x0803, &[28, 28])?;
    let labels = read_idx(&dir.join(LABELS_FILE), 0x0801, &[])?;
    let count = labels.len();
    if images.len() != count * INPUTS {
        return Err(format!(
            "{} holds {} images but {} holds {count} labels",
            IMAGES_FILE,
            images.len() / INPUTS,
            LABELS_FILE
        ));
    }
    if let Some(i) = labels.iter().position(|&l| usize::from(l) >= CLASSES) {
        return Err(format!(
            "label {i} is {}, not a class below {CLASSES}",
            labels[i]
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

/// The directory to read: `--data`, or the first default that holds both files.
fn data_dir(explicit: Option<&Path>) -> Result<PathBuf, String> {
    let has_files = |d: &Path| d.join(IMAGES_FILE).is_file() && d.join(LABELS_FILE).is_file();
    let named = explicit
        .map(|d| (d.to_path_buf(), "--data"))
        .or_else(|| std::env::var_os(DIR_VAR).map(|d| (PathBuf::from(d), DIR_VAR)));
    if let Some((dir, source)) = named {
        return if has_files(&dir) {
            Ok(dir)
        } else {
            Err(format!(
                "{source} {} does not hold {IMAGES_FILE} and {LABELS_FILE}",
                dir.display()
            ))
        };
    }
    SEARCH_DIRS
        .iter()
        .map(PathBuf::from)
        .find(|d| has_files(d))
        .ok_or_else(|| {
            format!(
                "no Fashion-MNIST test set in {}: pass --data DIR, set {DIR_VAR}, or \
                 `apt-get install dataset-fashion-mnist`",
                SEARCH_DIRS.join(", ")
            )
        })
}

/// Reads a gzipped IDX file: big-endian magic, item count, then `dims`; returns the data bytes
/// after checking their length.
fn read_idx(path: &Path, magic: u32, dims: &[u32]) -> Result<Vec<u8>, String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    GzDecoder::new(file)
        .take(MAX_DECOMPRESSED)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: not a readable gzip file: {e}", path.display()))?;
    let bad = |what: String| {
        format!(
            "{}: not an IDX file of the expected kind: {what}",
            path.display()
        )
    };
    let header_len = 8 + 4 * dims.len();
    if bytes.len() < header_len {
        return Err(bad(format!(
            "{} bytes, shorter than the header",
            bytes.len()
        )));
    }
    let word = |i: usize| {
        u32::from_be_bytes([
            bytes[4 * i],
            bytes[4 * i + 1],
            bytes[4 * i + 2],
            bytes[4 * i + 3],
        ])
    };
    if word(0) != magic {
        return Err(bad(format!(
            "magic {:#010x}, expected {magic:#010x}",
            word(0)
        )));
    }
    for (i, &d) in dims.iter().enumerate() {
        if word(2 + i) != d {
            return Err(bad(format!(
                "dimension {} is {}, expected {d}",
                i + 1,
                word(2 + i)
            )));
        }
    }
    let item = dims.iter().product::<u32>() as u64;
    let expected = u64::from(word(1)) * item;
    let found = (bytes.len() - header_len) as u64;
    if found != expected {
        return Err(bad(format!(
            "{found} data bytes for {} items, expected {expected}",
            word(1)
        )));
    }
    bytes.drain(..header_len);
    Ok(bytes)
}
