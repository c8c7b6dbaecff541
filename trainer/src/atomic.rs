//! The one atomic file writer of the crate: every file the trainer writes (model files, histories,
//! summaries, figures, checkpoints, downloads) goes through it, so nothing leaves a half-written
//! file under its final name. The bytes go to a hidden sibling with an unpredictable name
//! (`.NAME.tmp-RANDOM.EXT`, created exclusively by the `tempfile` crate), which is fsynced and
//! renamed over the target. On an error the writer removes that file, which it created, and
//! nothing else. A run killed mid-write leaves it behind; [`is_leftover`] recognises such names,
//! so the main job can remove them once it holds its output directory's lock.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::Path;

/// What the temporary names hold between the stem and the random part.
const TEMP_MARK: &str = ".tmp-";

/// Replaces `path` with `bytes` atomically: readers see the old file or the whole new one, never
/// a part. The parent directory must exist.
///
/// # Errors
/// Any I/O error from writing, syncing or renaming; the temporary file is removed on failure.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |tmp| {
        let mut file = OpenOptions::new().write(true).truncate(true).open(tmp)?;
        file.write_all(bytes)
    })
}

/// Like [`write_atomic`] for writers that want a path rather than bytes (an image encoder, say).
///
/// `write` must fill the file at the path it is given: an empty, hidden sibling of `path`
/// with an unpredictable name and the same extension (so writers that pick a format by
/// extension still work), created for this call. That file is then fsynced and renamed over
/// `path`, and on Unix the directory is fsynced.
///
/// # Errors
/// The error of `write`, or of creating, syncing or renaming; the temporary file is removed
/// on failure.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&Path) -> io::Result<()>,
) -> io::Result<()> {
    let tmp = temp_sibling(path)?;
    // On an error `tmp` is dropped, which removes the file it created.
    write(tmp.path())?;
    OpenOptions::new()
        .write(true)
        .open(tmp.path())?
        .sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
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

/// Whether `name` is one the writer gives its temporary files (`.NAME.tmp-…`), of this
/// version or an older one (`.NAME.tmp-PID-N.EXT`): what a run killed mid-write leaves.
pub fn is_leftover(name: &str) -> bool {
    name.strip_prefix('.')
        .and_then(|rest| rest.split_once(TEMP_MARK))
        .is_some_and(|(stem, tail)| {
            let random = tail.split('.').next().unwrap_or("");
            let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            let old = random
                .split_once('-')
                .is_some_and(|(p, n)| digits(p) && digits(n));
            let new = random.len() >= 6 && random.bytes().all(|b| b.is_ascii_alphanumeric());
            !stem.is_empty() && (old || new)
        })
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A new, empty `dir/.name.tmp-RANDOM.ext` for `dir/name.ext`, created exclusively with the
/// permissions a plain `File::create` would give (the umask applies).
fn temp_sibling(path: &Path) -> io::Result<tempfile::NamedTempFile> {
    let stem = path.file_stem().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a file path", path.display()),
        )
    })?;
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(stem);
    prefix.push(TEMP_MARK);
    let mut suffix = std::ffi::OsString::new();
    if let Some(ext) = path.extension() {
        suffix.push(".");
        suffix.push(ext);
    }
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(&suffix).rand_bytes(10);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(parent_dir(path))
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::PathBuf;

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
    fn finding_6_temp_names_are_unpredictable_and_files_of_others_are_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        // Every name a pid-and-counter scheme would pick next in this process, taken already
        // (by a run before a container restart that reused the pid, say).
        let taken: Vec<PathBuf> = (0..4096)
            .map(|n| {
                dir.path()
                    .join(format!(".a.tmp-{}-{n}.txt", std::process::id()))
            })
            .collect();
        for p in &taken {
            fs::write(p, b"theirs").unwrap();
        }
        write_atomic(&path, b"ours").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"ours");
        for p in &taken {
            assert_eq!(fs::read(p).unwrap(), b"theirs", "{}", p.display());
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), taken.len() + 1);
    }

    #[test]
    fn leftover_names_are_the_writers_own() {
        for name in [
            ".model.tmp-4242-0.fmlp",
            ".history.tmp-Xq3vB7pLm2.csv",
            ".vanilla.tmp-a1B2c3D4e5.ckpt",
            ".summary.tmp-0123456789",
            ".loss.tmp-1-0.png",
        ] {
            assert!(is_leftover(name), "{name}");
        }
        for name in [
            "model.tmp-Xq3vB7pLm2.fmlp",
            ".notes.tmp",
            ".model.fmlp.swp",
            "..tmp-Xq3vB7pLm2.csv",
            ".a.tmp-x.y",
            ".a.tmp-Xq3v B7pLm2.csv",
        ] {
            assert!(!is_leftover(name), "{name}");
        }
        let dir = tempfile::tempdir().unwrap();
        let tmp = temp_sibling(&dir.path().join("model.fmlp")).unwrap();
        let name = tmp.path().file_name().unwrap().to_str().unwrap();
        assert!(is_leftover(name), "{name}");
    }

    #[cfg(unix)]
    #[test]
    fn files_get_the_permissions_of_a_plain_create() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let (ours, plain) = (dir.path().join("a.bin"), dir.path().join("b.bin"));
        write_atomic(&ours, b"x").unwrap();
        File::create(&plain).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode();
        assert_eq!(mode(&ours), mode(&plain));
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
