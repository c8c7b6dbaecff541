//! The main job's output directory `OUT`, made safe to share with a second trainer, a killed
//! run and an earlier run:
//!
//! - **One trainer at a time**: [`claim`] takes an exclusive lock on `OUT/.trainer.lock`
//!   (`File::try_lock`, `flock` on Unix) for the whole run and writes who holds it (pid, host,
//!   start time, command); a second trainer is refused with that text. The kernel drops the
//!   lock when the holder dies, `kill -9` included, so a dead run never leaves a stale lock.
//! - **A killed run's temporary files** (`.NAME.tmp-…`, [`crate::atomic::is_leftover`]) in
//!   `OUT` and in the run's model directories are removed: with the lock held, no live
//!   trainer is writing them. Nothing else is ever removed.
//! - **An earlier run is set aside, never mixed in**: a run that does not `--resume` first
//!   moves every file of an earlier run that it would write (each model's files and
//!   checkpoint, the summaries and comparison plots) into `OUT/earlier-run-DATE/`, keeping
//!   their paths, and says so. Files with other names are left where they are.

use std::fs::{self, File};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::atomic::is_leftover;
use crate::job::error::RunError;
use crate::model::spec::MlpSpec;

/// The lock file's name in `OUT`.
pub const LOCK_FILE: &str = ".trainer.lock";

/// The names of the files a model's run writes in `OUT/NAME/` (its checkpoint is `NAME.ckpt`).
pub const MODEL_FILES: [&str; 7] = [
    "model.fmlp",
    "model-f16.fmlp",
    "model-int8.fmlp",
    "history.csv",
    "history.json",
    "accuracy.png",
    "loss.png",
];

/// `OUT`, held by this process until dropped; what was tidied when it was claimed.
#[derive(Debug)]
pub struct Claimed {
    /// Holds the lock while open.
    _lock: File,
    /// Temporary files of a killed run that were removed.
    pub removed: Vec<PathBuf>,
    /// Where an earlier run's files were moved, and how many.
    pub set_aside: Option<(PathBuf, usize)>,
}

/// Creates and locks `out` for a run of `specs`, removes a killed run's temporary files, and,
/// unless `resume`, sets an earlier run's files aside (see the module doc).
///
/// # Errors
/// [`RunError::Busy`] naming the trainer that holds `out`; [`RunError::Io`] if `out` cannot be
/// created, locked or tidied.
pub fn claim(out: &Path, specs: &[MlpSpec], resume: bool) -> Result<Claimed, RunError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RunError::Io { path, source }
    };
    fs::create_dir_all(out).map_err(io_err(out))?;
    let lock_path = out.join(LOCK_FILE);
    let mut lock = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(io_err(&lock_path))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = lock.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(RunError::Busy {
                out: out.to_path_buf(),
                holder: if holder.is_empty() {
                    "it has not yet written who it is".into()
                } else {
                    holder.to_owned()
                },
            });
        }
        Err(fs::TryLockError::Error(e)) => return Err(io_err(&lock_path)(e)),
    }
    lock.set_len(0)
        .and_then(|()| writeln!(lock, "{}", holder_text()))
        .and_then(|()| lock.sync_all())
        .map_err(io_err(&lock_path))?;

    let dirs: Vec<PathBuf> = std::iter::once(out.to_path_buf())
        .chain(specs.iter().map(|s| out.join(&s.name)))
        .collect();
    let removed = remove_leftovers(&dirs).map_err(io_err(out))?;
    let set_aside = if resume {
        None
    } else {
        set_aside(out, specs).map_err(io_err(out))?
    };
    Ok(Claimed {
        _lock: lock,
        removed,
        set_aside,
    })
}

/// `pid N on HOST, started DATE: COMMAND`.
fn holder_text() -> String {
    let host = fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "an unknown host".into());
    let command: Vec<String> = std::env::args().collect();
    format!(
        "pid {} on {host}, started {}: {}",
        std::process::id(),
        utc(SystemTime::now(), " ", ":"),
        command.join(" ")
    )
}

/// Removes the temporary files a killed run left in `dirs` (absent directories are skipped).
fn remove_leftovers(dirs: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for dir in dirs {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let leftover = entry.file_name().to_str().is_some_and(is_leftover);
            // Not followed: only a plain file of that name is the writer's own.
            if leftover && entry.file_type()?.is_file() {
                fs::remove_file(entry.path())?;
                removed.push(entry.path());
            }
        }
    }
    removed.sort();
    Ok(removed)
}

/// Moves the files of an earlier run that this run would write into `out/earlier-run-DATE/`
/// (DATE: when the newest of them was written). Returns where, and how many, if any.
fn set_aside(out: &Path, specs: &[MlpSpec]) -> io::Result<Option<(PathBuf, usize)>> {
    let mut earlier: Vec<PathBuf> = Vec::new();
    for spec in specs {
        let ckpt = format!("{}.ckpt", spec.name);
        for name in MODEL_FILES.iter().copied().chain([ckpt.as_str()]) {
            earlier.push(Path::new(&spec.name).join(name));
        }
    }
    if let Ok(entries) = fs::read_dir(out) {
        for entry in entries {
            let name = entry?.file_name();
            if name.to_str().is_some_and(is_run_file) {
                earlier.push(PathBuf::from(name));
            }
        }
    }
    earlier.retain(|rel| fs::symlink_metadata(out.join(rel)).is_ok_and(|m| m.is_file()));
    let Some(newest) = earlier
        .iter()
        .filter_map(|rel| fs::metadata(out.join(rel)).and_then(|m| m.modified()).ok())
        .max()
    else {
        return Ok(None);
    };
    let dir = new_dir(out, &format!("earlier-run-{}", utc(newest, "T", "-")))?;
    for rel in &earlier {
        let to = dir.join(rel);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::rename(out.join(rel), to)?;
    }
    Ok(Some((dir, earlier.len())))
}

/// Files a run writes at the top of `OUT`: the summaries and the comparison plots.
fn is_run_file(name: &str) -> bool {
    let plot = name.ends_with("_accuracy.png") || name.ends_with("_loss.png");
    matches!(name, "summary.md" | "summary.csv")
        || (plot && (name.starts_with("all_val_") || name.contains("_vs_")))
}

/// Creates `out/base`, or `out/base-2`, `-3`, ... if taken.
fn new_dir(out: &Path, base: &str) -> io::Result<PathBuf> {
    let mut dir = out.join(base);
    let mut n = 1;
    loop {
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        n += 1;
        dir = out.join(format!("{base}-{n}"));
    }
}

/// `t` in UTC as `YYYY-MM-DD{sep}hh{colon}mm{colon}ssZ`.
fn utc(t: SystemTime, sep: &str, colon: &str) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}{sep}{:02}{colon}{:02}{colon}{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The proleptic Gregorian date of `days` since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, from his paper "chrono-Compatible Low-Level Date Algorithms").
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variant::Variant;

    #[test]
    fn dates_by_hand() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        // 2000-02-29: 30 years of 365 days, 7 leap days (72..96), 31 + 28 more days.
        assert_eq!(civil_from_days(30 * 365 + 7 + 59), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        let t = UNIX_EPOCH + std::time::Duration::from_secs(86_400 + 3_723);
        assert_eq!(utc(t, "T", "-"), "1970-01-02T01-02-03Z");
    }

    #[test]
    fn a_second_claim_is_refused_while_the_first_is_held() {
        let dir = tempfile::tempdir().unwrap();
        let specs = [Variant::Vanilla.spec()];
        let first = claim(dir.path(), &specs, false).unwrap();
        let err = claim(dir.path(), &specs, true).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, RunError::Busy { .. }), "{text}");
        assert!(
            text.contains(&format!("pid {} on ", std::process::id())),
            "{text}"
        );
        drop(first);
        claim(dir.path(), &specs, true).unwrap();
    }

    #[test]
    fn only_the_run_files_are_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        let specs = [Variant::Vanilla.spec()];
        fs::create_dir_all(out.join("vanilla")).unwrap();
        for f in ["vanilla/model.fmlp", "vanilla/vanilla.ckpt", "summary.md"] {
            fs::write(out.join(f), f).unwrap();
        }
        for f in ["vanilla_vs_bn_loss.png", "all_val_accuracy.png"] {
            fs::write(out.join(f), f).unwrap();
        }
        for f in ["notes.md", "vanilla/notes.txt", "photo_loss.png"] {
            fs::write(out.join(f), "mine").unwrap();
        }
        let claimed = claim(out, &specs, false).unwrap();
        let (aside, n) = claimed.set_aside.clone().unwrap();
        assert_eq!(n, 5);
        assert!(aside.starts_with(out));
        assert_eq!(
            fs::read_to_string(aside.join("vanilla/vanilla.ckpt")).unwrap(),
            "vanilla/vanilla.ckpt"
        );
        assert!(aside.join("vanilla_vs_bn_loss.png").exists());
        for f in ["notes.md", "vanilla/notes.txt", "photo_loss.png"] {
            assert_eq!(fs::read_to_string(out.join(f)).unwrap(), "mine");
        }
        assert!(!out.join("vanilla/model.fmlp").exists());
        drop(claimed);
        // Nothing more of an earlier run: nothing to set aside; with --resume, never.
        assert_eq!(claim(out, &specs, false).unwrap().set_aside, None);
        fs::write(out.join("vanilla/model.fmlp"), "x").unwrap();
        assert_eq!(claim(out, &specs, true).unwrap().set_aside, None);
    }
}
