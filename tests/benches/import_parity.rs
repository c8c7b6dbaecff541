//! Import parity on the full test set: every ONNX (and, once supported, TFLite) model in a
//! directory is imported and run by the firmware on all 10,000 Fashion-MNIST test images, and
//! compared with the framework's outputs recorded beside it (`<stem>.out.f32`, with the
//! manifest saying whether they are probabilities) under the same named tolerances as the
//! fixture tests (`tests/import_parity.rs`). The directory comes from the reference script:
//!
//! ```text
//! /work/venv-torch/bin/python trainer/benches/reference/import_fixtures_torch.py --full /tmp/fmlp-import-full
//! cargo bench -p tests --bench import_parity -- /tmp/fmlp-import-full
//! ```
//!
//! Exit status 1 if any model does not match.

use std::path::{Path, PathBuf};
use std::{env, fs, process};

use idx::layout::{DEBIAN_DIR, DOWNLOAD_DIR, TEST_FILE_NAMES, TEST_IMAGES_FILE};
use idx::{find_dir, read_images};
use trainer::import::{ImportOptions, import_file};

#[path = "../import_parity.rs"]
mod import_parity;
use import_parity::{Reference, compare_float, f32_values};

const PIXELS: usize = 784;

fn main() {
    // `cargo bench` passes `--bench`; the first other argument is the directory.
    let dir = env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/fmlp-import-full"));
    if let Err(e) = run(&dir) {
        eprintln!("error: {e}");
        process::exit(1);
    }
}

fn run(dir: &Path) -> Result<(), String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let data = find_dir(
        None,
        &[workspace.join(DOWNLOAD_DIR), PathBuf::from(DEBIAN_DIR)],
        &TEST_FILE_NAMES,
    )
    .map_err(|e| e.to_string())?;
    let images = read_images(&data.join(TEST_IMAGES_FILE)).map_err(|e| e.to_string())?;
    let manifest = manifest_models(dir)?;
    if manifest.is_empty() {
        return Err(format!(
            "{} holds no manifest-*.json with models; make it with the reference script's --full",
            dir.display()
        ));
    }
    let mut failed = 0;
    println!(
        "{:<36} {:>7} {:>12} {:>10} {:>14}",
        "model", "images", "max |Δ|", "tolerance", "argmax differs"
    );
    for (name, softmax) in manifest {
        let model = dir.join(&name);
        let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s);
        let outputs = dir.join(format!("{stem}.out.f32"));
        let imported = import_file(&model, &ImportOptions::default())
            .map_err(|e| format!("{}: {e:#}", model.display()))?;
        let reference =
            f32_values(&fs::read(&outputs).map_err(|e| format!("{}: {e}", outputs.display()))?);
        let kind = if softmax {
            Reference::Probabilities
        } else {
            Reference::Logits
        };
        let c = compare_float(
            &imported.file,
            images.chunks_exact(PIXELS),
            &reference,
            kind,
        );
        println!(
            "{name:<36} {:>7} {:>12.2e} {:>10.1e} {:>14}{}",
            c.images,
            c.max_delta,
            c.tolerance,
            c.disagreements,
            if c.passes() { "" } else { "   FAILS" }
        );
        failed += usize::from(!c.passes());
    }
    if failed > 0 {
        return Err(format!("{failed} model(s) do not match their framework"));
    }
    Ok(())
}

/// `(file name, outputs are probabilities)` of every model in the directory's manifests.
fn manifest_models(dir: &Path) -> Result<Vec<(String, bool)>, String> {
    let mut models = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut manifests: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("manifest-") && n.ends_with(".json"))
        })
        .collect();
    manifests.sort();
    for path in manifests {
        let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let Some(entries) = json["models"].as_object() else {
            continue;
        };
        for (name, entry) in entries {
            if dir.join(name).is_file() {
                models.push((name.clone(), entry["softmax"].as_bool().unwrap_or(false)));
            }
        }
    }
    Ok(models)
}
