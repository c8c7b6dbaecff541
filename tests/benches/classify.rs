//! Host latency of the firmware's own inference code, one image at a time on one thread, for
//! each storage, beside onnxruntime on the same models.
//!
//! ```text
//! cargo bench -p tests --bench classify
//! RUSTFLAGS="-C target-cpu=native" CARGO_TARGET_DIR=target/native cargo bench -p tests --bench classify
//! ```
//!
//! The second line lets the compiler use AVX2/AVX-512 (the default x86-64 target has SSE2 only);
//! its own target directory keeps the shared one from rebuilding everything. `target-cpu=native`
//! also enables FMA, which Rust never uses for `a * b + c` unless asked, so the bits do not
//! change.
//!
//! It lives in `tests` because it needs both sides: the firmware's engine, and the trainer's
//! quantizer to make the f16 and int8 files (`firmware` and `trainer` never depend on each
//! other, not even for benchmarks, and a second int8 quantizer written for the bench could
//! drift from the one users run).
//!
//! Benchmarks: `classify_u8` (pixels to probabilities, softmax included) for the vanilla and
//! dropout shapes in f32, f16 and int8, and the first layer's [`firmware::dense::dense`] alone.
//! The f32 models come from `shapes` (seeded, untrained weights; see there why timing does not
//! depend on trained values), the f16 and int8 ones from `trainer::quantize::quantize`, int8
//! calibrated as `trainer quantize` does, on the first
//! [`CALIBRATION_IMAGES`] real Fashion-MNIST training images. After criterion's report, a table
//! of **medians** (criterion's median of the per-sample means).
//!
//! With `FMLP_BENCH_PYTHON` naming a Python interpreter that has onnxruntime (see
//! `trainer/benches/reference/README.md`), the two f32 models are then written next to
//! criterion's results and timed in onnxruntime by `trainer/benches/reference/onnxruntime_infer.py`,
//! as an f32 graph and as onnxruntime's own static int8 quantization of it (`quantize_static`,
//! calibrated on the same training images). The table gives the ratios measured in this run
//! against onnxruntime's net time (per call from Python minus the cost of a call that does no
//! work), the fair one for a Rust loop: f32 and f16 against its f32 graph, int8 against its
//! faster int8 graph. Without it, the table quotes issue #5's f32 onnxruntime figures from
//! another host.
//!
//! On a shared virtual machine the medians can move by 2× between runs minutes apart (measured
//! here on 2 KVM vCPUs: 14.5 to 29.5 µs for the same build), so compare builds in runs taken
//! back to back.

#[path = "../../firmware/benches/shapes/mod.rs"]
mod shapes;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;
use std::{env, fs};

use criterion::{BenchmarkId, Criterion, Throughput};
use firmware::{Classifier, INPUTS, Scratch, dense};
use model_format::{AlignedBytes, Model};
use shapes::{DROPOUT, Shape, VANILLA};
use trainer::data::FashionMnist;
use trainer::quantize::{CALIBRATION_IMAGES, Target, quantize};

/// Seed of the benchmark models' weights.
const MODEL_SEED: u64 = 0x5EED_F00D;
/// Seed of the benchmark images.
const IMAGE_SEED: u64 = 0x1_4A6E;
/// Images the `classify_u8` benchmarks cycle through, one per iteration.
const IMAGES: usize = 64;
/// The storages timed, in the table's order.
const STORAGES: [&str; 3] = ["f32", "f16", "int8"];

/// onnxruntime f32, one image at a time, one thread, softmax included, as issue #5 quotes it
/// for another host (µs); shown only when onnxruntime is not timed in the run.
const ISSUE_ONNXRUNTIME_US: [(&str, f64); 2] = [("vanilla-shaped", 11.1), ("dropout-shaped", 20.0)];

/// Names the Python interpreter that times onnxruntime beside us.
const PYTHON_VAR: &str = "FMLP_BENCH_PYTHON";

/// onnxruntime's medians for one model, from `onnxruntime_infer.py`'s `RESULT` line (µs).
#[derive(Debug, Clone)]
struct OrtTiming {
    /// f32 graph, per call from Python (IOBinding).
    call: f64,
    /// `call` minus the cost of a call that does no work.
    net: f64,
    /// The faster of onnxruntime's int8 graphs, net.
    int8_net: f64,
    /// Which int8 graph form that was (`QDQ` or `QOp`).
    int8_format: String,
}

/// One shape's model file in each of [`STORAGES`].
fn models(shape: Shape, calibration: &[u8]) -> [AlignedBytes; 3] {
    let f32_bytes = shape.model(MODEL_SEED);
    let model = Model::from_bytes(&f32_bytes).expect("benchmark model");
    let f16 = quantize(&model, Target::F16, &[]).expect("f16 quantization");
    let int8 = quantize(&model, Target::Int8, calibration).expect("int8 quantization");
    [f32_bytes, f16, int8]
}

fn classify(c: &mut Criterion, shape: Shape, storage: &str, bytes: &[u8]) {
    let classifier = Classifier::<INPUTS>::new(bytes).expect("benchmark model");
    let images = shapes::images(IMAGES, IMAGE_SEED);
    let mut scratch = Scratch::<INPUTS>::new();
    let mut group = c.benchmark_group("classify_u8");
    group.throughput(Throughput::Elements(shape.macs()));
    group.bench_function(BenchmarkId::new(storage, shape.name), |b| {
        let mut next = images.iter().cycle();
        b.iter(|| {
            let pixels = next.next().expect("cycle never ends");
            black_box(classifier.classify_u8(black_box(pixels), &mut scratch))
        });
    });
    group.finish();
}

fn dense_alone(c: &mut Criterion, shape: Shape) {
    let bytes = shape.model(MODEL_SEED);
    let classifier = Classifier::<INPUTS>::new(&bytes).expect("benchmark model");
    let layer = classifier.model().layers()[0];
    let input: Vec<f32> = shapes::images(1, IMAGE_SEED)[0]
        .iter()
        .map(|&p| f32::from(p) / 255.0)
        .collect();
    let (weights, bias) = layer.params().f32().expect("the benchmark shapes are f32");
    let mut output = vec![0.0f32; layer.outputs()];
    let mut group = c.benchmark_group("dense");
    group.throughput(Throughput::Elements(
        (layer.inputs() * layer.outputs()) as u64,
    ));
    let id = format!("{}x{}", layer.inputs(), layer.outputs());
    group.bench_function(BenchmarkId::from_parameter(id), |b| {
        b.iter(|| {
            dense::dense(weights, bias, black_box(&input), black_box(&mut output));
        });
    });
    group.finish();
}

fn main() {
    let started = SystemTime::now();
    let dir = criterion_dir();
    let data = FashionMnist::load(None, 10).unwrap_or_else(|e| {
        panic!("int8 calibration needs the real Fashion-MNIST training images: {e}")
    });
    let calibration = &data.train.images[..CALIBRATION_IMAGES * INPUTS];
    let mut c = Criterion::default()
        .output_directory(&dir)
        .configure_from_args();
    for shape in [VANILLA, DROPOUT] {
        for (storage, bytes) in STORAGES.iter().zip(models(shape, calibration)) {
            classify(&mut c, shape, storage, &bytes);
        }
    }
    for shape in [VANILLA, DROPOUT] {
        dense_alone(&mut c, shape);
    }
    c.final_summary();
    let ort = env::var_os(PYTHON_VAR).map(|python| {
        [VANILLA, DROPOUT].map(|shape| (shape.name, time_onnxruntime(&python, &dir, shape)))
    });
    print_medians(&dir, started, ort.as_ref().map(|o| o.as_slice()));
}

/// Times `shape`'s f32 benchmark model, and onnxruntime's int8 quantization of it, in
/// onnxruntime with the reference script.
///
/// # Panics
/// If the script cannot run or prints no result: the run was asked to compare, so a missing
/// comparison is a failure of the benchmark, reported with the reason.
fn time_onnxruntime(python: &std::ffi::OsStr, dir: &Path, shape: Shape) -> OrtTiming {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../trainer/benches/reference/onnxruntime_infer.py");
    fs::create_dir_all(dir).expect("criterion's directory");
    let model = dir.join(format!("{}.fmlp", shape.name));
    fs::write(&model, &*shape.model(MODEL_SEED)).expect("writing the benchmark model");
    eprintln!(
        "timing {} in onnxruntime, f32 and int8 ({})...",
        shape.name,
        script.display()
    );
    let out = Command::new(python)
        .arg(&script)
        .arg(&model)
        .args(["--calibration", &CALIBRATION_IMAGES.to_string()])
        .output()
        .unwrap_or_else(|e| panic!("{PYTHON_VAR}={}: {e}", python.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{} failed ({}):\n{stdout}{}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // The script's own report (both int8 forms, the call floor, top-1 as a sanity check) goes
    // to the log; the table below uses its RESULT line.
    eprint!("{stdout}");
    let field = |key: &str| {
        stdout
            .lines()
            .filter_map(|l| l.strip_prefix("RESULT "))
            .flat_map(str::split_whitespace)
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {key} in the output of {}:\n{stdout}", script.display()))
    };
    let number = |key: &str| {
        field(key)
            .parse::<f64>()
            .unwrap_or_else(|e| panic!("{key} in the output of {}: {e}", script.display()))
    };
    OrtTiming {
        call: number("ort_median_us"),
        net: number("ort_net_us"),
        int8_net: number("ort_int8_net_us"),
        int8_format: field("ort_int8_format").to_owned(),
    }
}

/// Where criterion writes its results, chosen as criterion does by default: `$CRITERION_HOME`,
/// else `$CARGO_TARGET_DIR/criterion`, else `criterion` in the target directory that
/// `cargo metadata` reports, else `target/criterion`. Passed to criterion explicitly, so the
/// summary reads what criterion wrote.
fn criterion_dir() -> PathBuf {
    if let Some(home) = env::var_os("CRITERION_HOME") {
        return home.into();
    }
    if let Some(target) = env::var_os("CARGO_TARGET_DIR") {
        return Path::new(&target).join("criterion");
    }
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .ok()
        .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok())
        .and_then(|m| m["target_directory"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| "target".into())
        .join("criterion")
}

/// Prints the median of each benchmark this run measured (criterion's `estimates.json`), with
/// onnxruntime's figures for the whole-model rows: f32 and f16 against its f32 graph, int8
/// against its faster int8 graph.
fn print_medians(dir: &Path, started: SystemTime, ort: Option<&[(&str, OrtTiming)]>) {
    let simd = [
        ("avx512f", cfg!(target_feature = "avx512f")),
        ("avx2", cfg!(target_feature = "avx2")),
        ("sse2", cfg!(target_feature = "sse2")),
        ("neon", cfg!(target_feature = "neon")),
    ]
    .iter()
    .find(|(_, on)| *on)
    .map_or("none", |(name, _)| name);
    let median_us = |id: &str| {
        let file = dir.join(id).join("new/estimates.json");
        let fresh = fs::metadata(&file)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= started);
        let ns = fs::read(&file)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|e| e["median"]["point_estimate"].as_f64());
        ns.filter(|_| fresh).map(|ns| ns / 1000.0)
    };
    println!("\nmedians, µs (widest SIMD compiled in: {simd}; one image, one thread)");
    for shape in [VANILLA, DROPOUT] {
        let measured = ort.and_then(|o| o.iter().find(|(name, _)| *name == shape.name));
        for storage in STORAGES {
            let id = format!("classify_u8/{storage}/{}", shape.name);
            let Some(us) = median_us(&id) else { continue };
            let quoted = ISSUE_ONNXRUNTIME_US
                .iter()
                .find(|(name, _)| *name == shape.name);
            match (measured, quoted) {
                (Some((_, t)), _) if storage == "int8" => println!(
                    "  {id:<30} {us:>8.2}   onnxruntime int8 ({}) in this run: {:>6.2} net \
                     (ratio {:.2})",
                    t.int8_format,
                    t.int8_net,
                    us / t.int8_net
                ),
                (Some((_, t)), _) => println!(
                    "  {id:<30} {us:>8.2}   onnxruntime f32 in this run: {:>6.2} per call from \
                     Python (ratio {:.2}), {:>6.2} net (ratio {:.2})",
                    t.call,
                    us / t.call,
                    t.net,
                    us / t.net
                ),
                (None, Some((_, quoted))) if storage == "f32" => println!(
                    "  {id:<30} {us:>8.2}   issue #5's onnxruntime f32 (other host) \
                     {quoted:>5.1}   ratio {:.2}   (set {PYTHON_VAR} to time it here)",
                    us / quoted
                ),
                _ => println!("  {id:<30} {us:>8.2}"),
            }
        }
    }
    for id in ["dense/784x196", "dense/784x392"] {
        if let Some(us) = median_us(id) {
            println!("  {id:<30} {us:>8.2}");
        }
    }
}
