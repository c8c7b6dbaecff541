//! A checked download of a list of files over plain HTTP: every file is checked against its
//! published size and SHA-256 before it is moved into place (through [`write_atomic_with`]), so a
//! tampered or broken transfer is an error, never a file.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

use crate::atomic::write_atomic_with;

/// A file to download: its name under the base URL, its size and its SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteFile {
    /// File name, both under the base URL and in the destination directory.
    pub name: &'static str,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the whole file.
    pub sha256: [u8; 32],
}

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DownloadError {
    /// A file or directory could not be written.
    #[error("cannot write {}", .path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// An HTTP request failed (no connection, an error status, a broken body).
    #[error("downloading {url} failed: {reason}")]
    Download {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A download has the wrong length.
    #[error("{url}: received {found} bytes, expected {expected}")]
    DownloadSize {
        /// The URL.
        url: String,
        /// The published size.
        expected: u64,
        /// What arrived (`expected + 1` means "more than expected").
        found: u64,
    },
    /// A download has the wrong SHA-256.
    #[error("{url}: SHA-256 is {found}, expected {expected}")]
    Checksum {
        /// The URL.
        url: String,
        /// The published digest, hex.
        expected: String,
        /// The digest of what arrived, hex.
        found: String,
    },
}

/// Downloads `files` from `base_url` into `dest_dir`, checking each one's size and SHA-256.
///
/// A file already in `dest_dir` with the right size and digest is kept and not fetched again.
/// Shows an `indicatif` progress bar per file on a terminal. Proxies are taken from the usual
/// environment variables (`http_proxy`, `ALL_PROXY`, `NO_PROXY`).
///
/// # Errors
/// [`DownloadError::Write`] if `dest_dir` or a file in it cannot be written,
/// [`DownloadError::Download`] for a failed request (no connection, an HTTP error status, a broken
/// body), [`DownloadError::DownloadSize`] and [`DownloadError::Checksum`] for a file that is not the
/// published one. Files already moved into place stay; the failing file leaves nothing behind.
pub fn download(
    dest_dir: &Path,
    base_url: &str,
    files: &[RemoteFile],
) -> Result<(), DownloadError> {
    let config = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .build();
    download_with(
        &ureq::Agent::new_with_config(config),
        dest_dir,
        base_url,
        files,
    )
}

/// [`download`] with a given HTTP agent (tests pass one that ignores proxy variables).
fn download_with(
    agent: &ureq::Agent,
    dest_dir: &Path,
    base_url: &str,
    files: &[RemoteFile],
) -> Result<(), DownloadError> {
    fs::create_dir_all(dest_dir).map_err(|source| DownloadError::Write {
        path: dest_dir.to_path_buf(),
        source,
    })?;
    for file in files {
        let dest = dest_dir.join(file.name);
        if is_verified(&dest, file) {
            continue;
        }
        let url = format!("{}/{}", base_url.trim_end_matches('/'), file.name);
        fetch(agent, &url, &dest, file)?;
    }
    Ok(())
}

/// True when `path` exists with the size and digest of `file`.
fn is_verified(path: &Path, file: &RemoteFile) -> bool {
    let Ok(mut f) = File::open(path) else {
        return false;
    };
    if f.metadata().map(|m| m.len()).ok() != Some(file.size) {
        return false;
    }
    let mut hasher = Sha256::new();
    std::io::copy(&mut f, &mut hasher).is_ok() && <[u8; 32]>::from(hasher.finalize()) == file.sha256
}

/// Streams `url` into a temporary sibling of `dest`, checks it, and renames it to `dest`.
fn fetch(
    agent: &ureq::Agent,
    url: &str,
    dest: &Path,
    file: &RemoteFile,
) -> Result<(), DownloadError> {
    let failed = |reason: String| DownloadError::Download {
        url: url.to_owned(),
        reason,
    };
    let response = agent.get(url).call().map_err(|e| failed(e.to_string()))?;
    // One byte past the expected size is enough to tell "too long" without reading it all.
    let mut body = response.into_body().into_reader().take(file.size + 1);
    // A failed check travels through the writer's io::Error; keep the typed one.
    let mut failure = None;
    let written = write_atomic_with(dest, |tmp| {
        let mut out = File::options().write(true).truncate(true).open(tmp)?;
        stream_checked(&mut body, &mut out, url, file).map_err(|e| {
            let io = io::Error::other(e.to_string());
            failure = Some(e);
            io
        })
    });
    match (written, failure) {
        (Ok(()), _) => Ok(()),
        (Err(_), Some(e)) => Err(e),
        (Err(source), None) => Err(DownloadError::Write {
            path: dest.to_path_buf(),
            source,
        }),
    }
}

/// Copies `body` to `out`, hashing it; checks the size and digest against `file`.
fn stream_checked(
    body: &mut impl Read,
    out: &mut File,
    url: &str,
    file: &RemoteFile,
) -> Result<(), DownloadError> {
    let bar = progress_bar(file);
    let mut hasher = Sha256::new();
    let mut received: u64 = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(DownloadError::Download {
                    url: url.to_owned(),
                    reason: e.to_string(),
                });
            }
        };
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| DownloadError::Download {
                url: url.to_owned(),
                reason: format!("writing the download: {e}"),
            })?;
        received += n as u64;
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    if received != file.size {
        return Err(DownloadError::DownloadSize {
            url: url.to_owned(),
            expected: file.size,
            found: received,
        });
    }
    let digest: [u8; 32] = hasher.finalize().into();
    if digest != file.sha256 {
        return Err(DownloadError::Checksum {
            url: url.to_owned(),
            expected: hex(&file.sha256),
            found: hex(&digest),
        });
    }
    Ok(())
}

fn progress_bar(file: &RemoteFile) -> ProgressBar {
    let style = ProgressStyle::with_template(
        "{msg:30} {bar:40} {bytes:>10}/{total_bytes:10} {bytes_per_sec:>12} {eta:>4}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::new(file.size)
        .with_style(style)
        .with_message(file.name)
}

/// Lower-case hex of a digest.
pub(crate) fn hex(bytes: &[u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses 64 hex digits at compile time.
///
/// # Panics
/// On anything but 64 hex digits; used only in constants, where that is a compile error.
pub(crate) const fn hex32(s: &str) -> [u8; 32] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => panic!("not a hex digit"),
        }
    }
    let b = s.as_bytes();
    assert!(b.len() == 64, "a SHA-256 is 64 hex digits");
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (nibble(b[2 * i]) << 4) | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

#[cfg(test)]
#[path = "download_tests.rs"]
mod tests;
