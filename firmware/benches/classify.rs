//! Host latency of the firmware's own inference code, one image at a time on one thread.
//!
//! ```text
//! cargo bench -p firmware --bench classify
//! RUSTFLAGS="-C target-cpu=native" CARGO_TARGET_DIR=target/native cargo bench -p firmware --bench classify
//! ```
//!
//! The second line lets the compiler use AVX2/AVX-512 (the default x86-64 target has SSE2 only);
//! its own target directory keeps the shared one from rebuilding everything. `target-cpu=native`
//! also enables FMA, which Rust never uses for `a * b + c` unless asked, so the bits do not
//! change.
//!
//! Benchmarks: `classify_u8` (pixels to probabilities, softmax included) for the vanilla and
//! dropout shapes, and the first layer's [`firmware::dense::dense`] alone. Models come from
//! `shapes` (seeded, untrained weights; see there why timing does not depend on trained values).
//! After criterion's report, a table of **medians** (criterion's median of the per-sample
//! means).
//!
//! With `FMLP_BENCH_PYTHON` naming a Python interpreter that has onnxruntime (see
//! `trainer/benches/reference/README.md`), the same two models are then written next to criterion's
//! results and timed in onnxruntime by `trainer/benches/reference/onnxruntime_infer.py`, and the table
//! gives the ratios measured in this run: against onnxruntime's time per call from Python, and
//! against its net time (that minus the cost of a call that does no work), the fair one for a
//! Rust loop. Without it, the table quotes issue #5's onnxruntime figures from another host.
//!
//! On a shared virtual machine the medians can move by 2× between runs minutes apart (measured
//! here on 2 KVM vCPUs: 14.5 to 29.5 µs for the same build), so compare builds in runs taken
//! back to back.

mod shapes;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;
use std::{env, fs};

use criterion::{BenchmarkId, Criterion, Throughput};
use firmware::{Classifier, INPUTS, Scratch, dense};
use shapes::{DROPOUT, Shape, VANILLA};

/// Seed of the benchmark models' weights.
const MODEL_SEED: u64 = 0x5EED_F00D;
/// Seed of the benchmark images.
const IMAGE_SEED: u64 = 0x1_4A6E;
/// Images the `classify_u8` benchmarks cycle through, one per iteration.
const IMAGES: usize = 64;

/// onnxruntime, one image at a time, one thread, softmax included, as issue #5 quotes it for
/// another host (µs); shown only when onnxruntime is not timed in the run.
const ISSUE_ONNXRUNTIME_US: [(&str, f64); 2] = [("vanilla-shaped", 11.1), ("dropout-shaped", 20.0)];

/// Names the Python interpreter that times onnxruntime beside us.
const PYTHON_VAR: &str = "FMLP_BENCH_PYTHON";

/// onnxruntime's medians for one model, from `onnxruntime_infer.py`'s `RESULT` line (µs).
#[derive(Debug, Clone, Copy)]
struct OrtTiming {
    /// Per call from Python (IOBinding).
    call: f64,
    /// `call` minus the cost of a call that does no work.
    net: f64,
}

fn classify(c: &mut Criterion, shape: Shape) {
    let bytes = shape.model(MODEL_SEED);
    let classifier = Classifier::<INPUTS>::new(&bytes).expect("benchmark model");
    let images = shapes::images(IMAGES, IMAGE_SEED);
    let mut scratch = Scratch::<INPUTS>::new();
    let mut group = c.benchmark_group("classify_u8");
    group.throughput(Throughput::Elements(shape.macs()));
    group.bench_function(BenchmarkId::from_parameter(shape.name), |b| {
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
    let mut c = Criterion::default()
        .output_directory(&dir)
        .configure_from_args();
    for shape in [VANILLA, DROPOUT] {
        classify(&mut c, shape);
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

/// Times `shape`'s benchmark model in onnxruntime with the reference script.
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
        "timing {} in onnxruntime ({})...",
        shape.name,
        script.display()
    );
    let out = Command::new(python)
        .arg(&script)
        .arg(&model)
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
    let field = |key: &str| {
        stdout
            .lines()
            .filter_map(|l| l.strip_prefix("RESULT "))
            .flat_map(str::split_whitespace)
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no {key} in the output of {}:\n{stdout}", script.display()))
    };
    OrtTiming {
        call: field("ort_median_us"),
        net: field("ort_net_us"),
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
/// onnxruntime's figures for the whole-model rows.
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
    let mut rows = Vec::new();
    for (group, id) in [
        ("classify_u8", VANILLA.name),
        ("classify_u8", DROPOUT.name),
        ("dense", "784x196"),
        ("dense", "784x392"),
    ] {
        let file = dir.join(group).join(id).join("new/estimates.json");
        let fresh = fs::metadata(&file)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= started);
        let median_ns = fs::read(&file)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|e| e["median"]["point_estimate"].as_f64());
        if let (true, Some(ns)) = (fresh, median_ns) {
            rows.push((group, id, ns / 1000.0));
        }
    }
    if rows.is_empty() {
        return;
    }
    println!("\nmedians (widest SIMD compiled in: {simd}; one image, one thread)");
    for (group, id, us) in rows {
        let whole = group == "classify_u8";
        let measured = ort.and_then(|o| o.iter().find(|(name, _)| *name == id));
        let quoted = ISSUE_ONNXRUNTIME_US.iter().find(|(name, _)| *name == id);
        match (whole, measured, quoted) {
            (true, Some((_, t)), _) => println!(
                "  {group}/{id:<16} {us:>8.2} µs   onnxruntime in this run: {:>6.2} µs per call \
                 from Python (ratio {:.2}), {:>6.2} µs net (ratio {:.2})",
                t.call,
                us / t.call,
                t.net,
                us / t.net
            ),
            (true, None, Some((_, quoted))) => println!(
                "  {group}/{id:<16} {us:>8.2} µs   issue #5's onnxruntime (other host) \
                 {quoted:>5.1} µs   ratio {:.2}   (set {PYTHON_VAR} to time it here)",
                us / quoted
            ),
            _ => println!("  {group}/{id:<16} {us:>8.2} µs"),
        }
    }
}
