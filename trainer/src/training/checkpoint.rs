//! Checkpoints: one file, `MAGIC`, version, then three length-prefixed sections (JSON metadata,
//! model record, optimiser record; records in burn's named MessagePack at full precision), then
//! the SHA-256 of everything before it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::Optimizer;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::TrainBackend;
use crate::atomic::write_atomic;
use crate::model::mlp::Mlp;
use crate::model::spec::MlpSpec;
use crate::training::config::{TrainConfig, TrainError};
use crate::training::history::History;

/// Where a run keeps its checkpoint, and whether it continues from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpointing {
    /// The directory of `NAME.ckpt`, written after every epoch.
    pub dir: PathBuf,
    /// Continue from `NAME.ckpt` if it exists (from scratch otherwise).
    pub resume: bool,
}

impl Checkpointing {
    /// The checkpoint file of the model `spec`.
    pub fn path(&self, spec: &MlpSpec) -> PathBuf {
        self.dir.join(format!("{}.ckpt", spec.name))
    }
}

/// Loads the checkpoint at `path` into `model` and `optim` after checking it belongs to this
/// run; returns them with the history so far.
///
/// # Errors
/// [`TrainError::CheckpointIo`], [`TrainError::CheckpointCorrupt`] or
/// [`TrainError::CheckpointMismatch`].
pub(crate) fn resume<O: Optimizer<Mlp<TrainBackend>, TrainBackend>>(
    path: &Path,
    spec: &MlpSpec,
    config: &TrainConfig,
    (model, optim): (Mlp<TrainBackend>, O),
) -> Result<(Mlp<TrainBackend>, O, History), TrainError> {
    let device = Default::default();
    let ckpt = read_checkpoint(path)?;
    check_matches(path, &ckpt.meta, spec, config)?;
    let recorder = NamedMpkBytesRecorder::<FullPrecisionSettings>::default();
    let model_record = recorder
        .load(ckpt.model, &device)
        .map_err(|e| corrupt(path, format!("model record: {e}")))?;
    let optim_record = recorder
        .load(ckpt.optimizer, &device)
        .map_err(|e| corrupt(path, format!("optimizer record: {e}")))?;
    Ok((
        model.load_record(model_record),
        optim.load_record(optim_record),
        ckpt.meta.history,
    ))
}

/// The first bytes of a checkpoint. Unlike the first trainers' `FMLPCKPT`, it does not begin
/// with a model file's `FMLP`, so no reader takes one for the other.
const MAGIC: &[u8; 8] = b"CKPTfmlp";
/// The magic of checkpoints written before `MAGIC`; read still, never written.
const OLD_MAGIC: &[u8; 8] = b"FMLPCKPT";

/// Whether `start` (a file's first bytes) is the beginning of a checkpoint, of this trainer or
/// of an older one.
pub fn is_checkpoint(start: &[u8]) -> bool {
    start.starts_with(MAGIC) || start.starts_with(OLD_MAGIC)
}
/// 2: the metadata holds the model spec (in the history) instead of a variant name.
const CHECKPOINT_VERSION: u32 = 2;

/// What a checkpoint records besides the two records.
#[derive(Serialize, Deserialize)]
pub(crate) struct CheckpointMeta {
    pub(crate) config: TrainConfig,
    /// The epochs so far, with the model's spec.
    pub(crate) history: History,
}

/// A checkpoint file's three sections.
pub(crate) struct Checkpoint {
    pub(crate) meta: CheckpointMeta,
    model: Vec<u8>,
    optimizer: Vec<u8>,
}

fn corrupt(path: &Path, reason: impl Into<String>) -> TrainError {
    TrainError::CheckpointCorrupt {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> TrainError + '_ {
    move |source| TrainError::CheckpointIo {
        path: path.to_owned(),
        source,
    }
}

/// Writes the model, the optimiser state and the history (atomically: a crash leaves the previous
/// checkpoint or this one, never a mix).
pub(crate) fn write_checkpoint<O: Optimizer<Mlp<TrainBackend>, TrainBackend>>(
    path: &Path,
    config: &TrainConfig,
    history: &History,
    model: &Mlp<TrainBackend>,
    optim: &O,
) -> Result<(), TrainError> {
    let recorder = NamedMpkBytesRecorder::<FullPrecisionSettings>::default();
    let encode = |what: &str, e: burn::record::RecorderError| TrainError::CheckpointIo {
        path: path.to_owned(),
        source: io::Error::other(format!("cannot encode the {what} record: {e}")),
    };
    let model_bytes = recorder
        .record(model.clone().into_record(), ())
        .map_err(|e| encode("model", e))?;
    let optim_bytes = recorder
        .record(optim.to_record(), ())
        .map_err(|e| encode("optimizer", e))?;
    let meta = CheckpointMeta {
        config: config.clone(),
        history: history.clone(),
    };
    let meta = serde_json::to_vec(&meta).map_err(|e| TrainError::CheckpointIo {
        path: path.to_owned(),
        source: e.into(),
    })?;

    let mut bytes = Vec::with_capacity(64 + meta.len() + model_bytes.len() + optim_bytes.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&CHECKPOINT_VERSION.to_le_bytes());
    for section in [&meta, &model_bytes, &optim_bytes] {
        bytes.extend_from_slice(&(section.len() as u64).to_le_bytes());
        bytes.extend_from_slice(section);
    }
    let digest = Sha256::digest(&bytes);
    bytes.extend_from_slice(&digest);
    // A crash leaves either the previous checkpoint or this one, never a mix.
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    write_atomic(path, &bytes).map_err(io_error(path))
}

/// Reads and checks a checkpoint file (magic, version, SHA-256, section lengths).
pub(crate) fn read_checkpoint(path: &Path) -> Result<Checkpoint, TrainError> {
    let bytes = fs::read(path).map_err(io_error(path))?;
    let body_len = bytes
        .len()
        .checked_sub(32)
        .ok_or_else(|| corrupt(path, "file too short"))?;
    let (body, digest) = bytes.split_at(body_len);
    if !is_checkpoint(body) {
        let what = if body.starts_with(&model_format::MAGIC) {
            "a model file, not a checkpoint"
        } else {
            "not a checkpoint (bad magic)"
        };
        return Err(corrupt(path, what));
    }
    if Sha256::digest(body).as_slice() != digest {
        return Err(corrupt(path, "checksum mismatch (truncated or damaged)"));
    }
    let mut rest = &body[MAGIC.len()..];
    let version = take(&mut rest, 4).map(|b| u32::from_le_bytes(b.try_into().unwrap_or_default()));
    if version != Some(CHECKPOINT_VERSION) {
        return Err(corrupt(path, format!("unsupported version {version:?}")));
    }
    let mut sections = Vec::with_capacity(3);
    for _ in 0..3 {
        let len = take(&mut rest, 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
            .and_then(|len| usize::try_from(len).ok())
            .ok_or_else(|| corrupt(path, "truncated section header"))?;
        let section = take(&mut rest, len).ok_or_else(|| corrupt(path, "truncated section"))?;
        sections.push(section.to_vec());
    }
    let optimizer = sections.pop().unwrap_or_default();
    let model = sections.pop().unwrap_or_default();
    let meta = sections.pop().unwrap_or_default();
    let meta = serde_json::from_slice(&meta).map_err(|e| corrupt(path, e.to_string()))?;
    Ok(Checkpoint {
        meta,
        model,
        optimizer,
    })
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if rest.len() < n {
        return None;
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Some(head)
}

/// The spec and every setting but `epochs` must be the checkpoint's (more epochs may be asked
/// for).
pub(crate) fn check_matches(
    path: &Path,
    meta: &CheckpointMeta,
    spec: &MlpSpec,
    config: &TrainConfig,
) -> Result<(), TrainError> {
    let mut differences = Vec::new();
    let theirs = &meta.history.spec;
    if theirs.name != spec.name {
        differences.push(format!("model {} vs {}", theirs.name, spec.name));
    } else if theirs != spec {
        differences.push(format!("the spec of model {}", spec.name));
    }
    let as_map = |c: &TrainConfig| match serde_json::to_value(c) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let (theirs, ours) = (as_map(&meta.config), as_map(config));
    for (key, value) in &ours {
        if key != "epochs" && theirs.get(key) != Some(value) {
            let theirs = theirs
                .get(key)
                .map_or("missing".to_owned(), |v| v.to_string());
            differences.push(format!("{key} {theirs} vs {value}"));
        }
    }
    if differences.is_empty() {
        Ok(())
    } else {
        Err(TrainError::CheckpointMismatch {
            path: path.to_owned(),
            details: differences.join(", "),
        })
    }
}
