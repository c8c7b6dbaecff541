//! The non-image example: a dense model on sensor-like inputs, trained elsewhere, imported and
//! run by the firmware's [`Engine`] on the host and on QEMU. The fixture
//! (`tests/fixtures/import/torch_wine.*`, made by
//! `trainer/benches/reference/import_fixtures_torch.py`) is a PyTorch MLP, 13 → 8 ReLU → 3, on
//! scikit-learn's bundled wine data set (13 chemical measurements of 178 wines, 3 cultivars;
//! trained on the even rows), exported with the `dynamo` ONNX exporter, with the standardised
//! f32 inputs of all 178 rows and onnxruntime's logits for them.

use std::fs;
use std::time::Duration;

use firmware::softmax::argmax;
use firmware::{Engine, Outputs, Scratch};
use model_format::AlignedBytes;
use trainer::import::{ImportOptions, import_file};

use crate::common::max_abs_diff;
use crate::import::{LOGIT_ATOL, fixture, read_f32};
use crate::qemu::board::{self, MPS2_AN386, ScratchChoice};
use crate::qemu::{BOARD, check_prerequisites, data_dir, run_with_timeout, tail, workspace_root};

/// Inputs, outputs and rows of the fixture.
const IN: usize = 13;
/// See [`IN`].
const OUT: usize = 3;
/// See [`IN`].
const ROWS: usize = 178;
/// The widest layer side (the 13 inputs): the scratch is two buffers of 13 f32, 104 bytes.
const CAP: usize = 13;

/// The input contract's scale, given on import (`trainer import --input-scale 0.02`): f32
/// inputs are taken as they are within `±255 · scale = ±5.1`, and the standardised wine
/// measurements reach 4.79 in magnitude, so every row is inside the bound the file's
/// activation checks were made for.
const INPUT_SCALE: f32 = 0.02;

fn wine() -> AlignedBytes {
    let options = ImportOptions {
        name: Some("wine".into()),
        class_names: Some(vec!["class_0".into(), "class_1".into(), "class_2".into()]),
        input_scale: INPUT_SCALE,
        ..ImportOptions::default()
    };
    import_file(&fixture("torch_wine.onnx"), &options)
        .expect("the wine model imports")
        .file
}

fn rows() -> Vec<[f32; IN]> {
    let inputs = read_f32("torch_wine.in.f32");
    assert_eq!(inputs.len(), ROWS * IN);
    inputs
        .chunks_exact(IN)
        .map(|r| r.try_into().expect("13 values"))
        .collect()
}

#[test]
fn onnx_wine_vector_model_matches_onnxruntime_on_the_host_engine() {
    let file = wine();
    let engine = Engine::<IN, OUT, CAP>::new(&file).expect("the engine runs 13 → 3");
    assert_eq!(
        engine.outputs(),
        Outputs::Values,
        "the graph ends in Gemm: logits"
    );
    let reference = read_f32("torch_wine.out.f32");
    let mut scratch = Scratch::<CAP>::new();
    let (mut max_delta, mut disagreements) = (0.0f32, 0);
    for (row, expected) in rows().iter().zip(reference.chunks_exact(OUT)) {
        let ours = engine
            .run_f32(row, &mut scratch)
            .expect("inside the contract");
        max_delta = max_delta.max(max_abs_diff(expected, &ours));
        disagreements += usize::from(argmax(expected) != argmax(&ours));
    }
    eprintln!(
        "torch_wine.onnx: max |Δlogit| = {max_delta:.2e} (tolerance {LOGIT_ATOL:.1e}), \
         {disagreements} argmax disagreements on {ROWS} rows"
    );
    assert!(max_delta <= LOGIT_ATOL, "{max_delta} > {LOGIT_ATOL}");
    assert_eq!(disagreements, 0);
}

/// One row as `qemu-vector` printed it: the bits of its raw values and outputs, and the class.
#[derive(Debug, PartialEq)]
struct DeviceRow {
    raw: Vec<u32>,
    out: Vec<u32>,
    class: usize,
    ticks: u64,
}

fn parse(stdout: &str) -> Result<Vec<DeviceRow>, String> {
    let hex = |w: &str| u32::from_str_radix(w, 16).map_err(|e| format!("{w:?}: {e}"));
    let mut rows = Vec::new();
    for line in stdout.lines().filter(|l| l.starts_with("row ")) {
        let words: Vec<&str> = line.split_whitespace().collect();
        // row <i> raw <OUT> out <OUT> class <c> ticks <t>
        let want = 2 + 1 + OUT + 1 + OUT + 4;
        if words.len() != want || words[2] != "raw" || words[3 + OUT] != "out" {
            return Err(format!("unexpected line {line:?}"));
        }
        let raw = words[3..3 + OUT]
            .iter()
            .map(|w| hex(w))
            .collect::<Result<_, _>>()?;
        let out = words[4 + OUT..4 + 2 * OUT]
            .iter()
            .map(|w| hex(w))
            .collect::<Result<_, _>>()?;
        let number = |w: &str| w.parse::<u64>().map_err(|e| format!("{w:?}: {e}"));
        rows.push(DeviceRow {
            raw,
            out,
            class: number(words[want - 3])? as usize,
            ticks: number(words[want - 1])?,
        });
    }
    Ok(rows)
}

/// mps2-an386's SysTick clock: under `-icount shift=0` one tick is 40 instructions.
const AN386_HZ: u64 = 25_000_000;

#[test]
fn qemu_mps2_an386_onnx_wine_vector_model_bit_identical_to_host() {
    let machine = &MPS2_AN386;
    check_prerequisites(machine.target).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().expect("temp dir");
    let model = dir.path().join("wine.fmlp");
    let file = wine();
    fs::write(&model, &file[..]).expect("write the model");
    let inputs = fixture("torch_wine.in.f32");
    let workspace = workspace_root();
    let data = data_dir().unwrap_or_else(|e| panic!("{e}"));
    let elf = {
        let _board = BOARD.lock().unwrap_or_else(|p| p.into_inner());
        let elf = board::build_bin(
            "qemu-vector",
            &workspace,
            &workspace.join("target/qemu"),
            machine,
            &model,
            1,
            ScratchChoice::General,
            Some(&data),
            &[("FMLP_INPUTS", inputs.to_str().expect("UTF-8 path"))],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let (ok, stdout, stderr) = run_with_timeout(machine, &elf, Duration::from_secs(120))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(ok, "qemu-vector failed:\n{}{stderr}", tail(&stdout));
        stdout
    };
    let device = parse(&elf).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(device.len(), ROWS, "one line per row");

    let engine = Engine::<IN, OUT, CAP>::new(&file).expect("host engine");
    let mut scratch = Scratch::<CAP>::new();
    for (i, (row, d)) in rows().iter().zip(&device).enumerate() {
        let raw = engine
            .run_f32(row, &mut scratch)
            .expect("inside the contract");
        let out = engine
            .predict_f32(row, &mut scratch)
            .expect("inside the contract");
        assert_eq!(
            d.raw,
            raw.map(f32::to_bits),
            "row {i}: raw values differ from the host's"
        );
        assert_eq!(
            d.out,
            out.map(f32::to_bits),
            "row {i}: outputs differ from the host's"
        );
        assert_eq!(d.class, argmax(&raw), "row {i}: class");
    }
    // Each row's ticks cover one `run_f32` (13·8 + 8·3 MACs) and its outputs.
    let instructions =
        device.iter().map(|d| d.ticks).sum::<u64>() as f64 * 1e9 / AN386_HZ as f64 / ROWS as f64;
    eprintln!(
        "qemu-vector on {}: {ROWS} rows of the wine model bit-identical to the host, about \
         {instructions:.0} instructions per inference",
        machine.name
    );
}
