//! The one atomic file writer of the crate: every file the trainer writes (model files, histories,
//! summaries, figures, checkpoints, downloads) goes through it, so nothing leaves a half-written
//! file under its final name. The bytes go to a hidden, unique sibling, which is fsynced and
//! renamed over the target.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Replaces `path` with `bytes` atomically: readers see the old file or the whole new one, never
/// a part. The parent directory must exist.
///
/// # Errors
/// Any I/O error from writing, syncing or renaming; the temporary file is removed on failure.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |tmp| File::create_new(tmp)?.write_all(bytes))
}

/// Like [`write_atomic`] for writers that want a path rather than bytes (an image encoder, say).
///
/// `write` must create and fill the file at the path it is given: a hidden, unique sibling of
/// `path` with the same extension, so writers that pick a format by extension still work. That
/// file is then fsynced and renamed over `path`, and on Unix the directory is fsynced.
///
/// # Errors
/// The error of `write`, or of syncing or renaming; the temporary file is removed on failure.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&Path) -> io::Result<()>,
) -> io::Result<()> {
    let tmp = temp_sibling(path)?;
    let result = write(&tmp)
        .and_then(|()| OpenOptions::new().write(true).open(&tmp)?.sync_all())
        .and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        // Best effort: the write may have failed before creating the file.
        let _ = fs::remove_file(&tmp);
    }
    result?;
    #[cfg(unix)]
    {
        // Makes the rename itself durable. The new file is already in place, so a failure here
        // is not reported as a failed write.
        if let Ok(dir) = File::open(parent_dir(path)) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// `dir/.name.tmp-<pid>-<n>.ext` for `dir/name.ext`, unique within and across processes.
fn temp_sibling(path: &Path) -> io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let stem = path.file_stem().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a file path", path.display()),
        )
    })?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut name = OsString::from(".");
    name.push(stem);
    name.push(format!(".tmp-{}-{n}", std::process::id()));
    if let Some(ext) = path.extension() {
        name.push(".");
        name.push(ext);
    }
    Ok(parent_dir(path).join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_replaces_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn failed_write_keeps_old_file_and_removes_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.png");
        write_atomic(&path, b"old").unwrap();
        let err = write_atomic_with(&path, |tmp| {
            assert_eq!(tmp.parent(), Some(dir.path()));
            assert_eq!(tmp.extension().unwrap(), "png");
            fs::write(tmp, b"half")?;
            Err(io::Error::other("encoder failed"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "encoder failed");
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn write_atomic_rejects_bad_targets() {
        let dir = tempfile::tempdir().unwrap();
        assert!(write_atomic(&dir.path().join("missing/a.txt"), b"x").is_err());
        assert_eq!(
            write_atomic(Path::new("/"), b"x").unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
