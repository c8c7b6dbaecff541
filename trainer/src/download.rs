//! Downloading the official Fashion-MNIST files.
//!
//! Plain HTTP, as the notebook used: every file is checked against its published size and
//! SHA-256 before it is moved into place, so a tampered or broken transfer is an error, never a
//! file. A file is written to a temporary name in the destination directory, synced, and renamed,
//! so its final name never holds a partial file.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

use crate::data::{
    DataError, TEST_IMAGES_FILE, TEST_LABELS_FILE, TRAIN_IMAGES_FILE, TRAIN_LABELS_FILE,
};

/// Zalando's mirror, the one the notebook's Keras downloaded from.
pub const OFFICIAL_BASE_URL: &str = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/";

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

/// The official `.gz` files with their sizes and SHA-256 digests, as published in
/// tensorflow_datasets' `url_checksums/fashion_mnist.txt`.
///
/// Debian's `dataset-fashion-mnist` recompressed the files (other sizes, other digests, same
/// content), so these apply to downloads only.
pub const OFFICIAL_FILES: [RemoteFile; 4] = [
    RemoteFile {
        name: TRAIN_IMAGES_FILE,
        size: 26_421_880,
        sha256: hex32("3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
    },
    RemoteFile {
        name: TRAIN_LABELS_FILE,
        size: 29_515,
        sha256: hex32("a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
    },
    RemoteFile {
        name: TEST_IMAGES_FILE,
        size: 4_422_102,
        sha256: hex32("346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
    },
    RemoteFile {
        name: TEST_LABELS_FILE,
        size: 5_148,
        sha256: hex32("67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
    },
];

/// Downloads `files` from `base_url` into `dest_dir`, checking each one's size and SHA-256.
///
/// A file already in `dest_dir` with the right size and digest is kept and not fetched again.
/// Shows an `indicatif` progress bar per file on a terminal. Proxies are taken from the usual
/// environment variables (`http_proxy`, `ALL_PROXY`, `NO_PROXY`).
///
/// # Errors
/// [`DataError::Write`] if `dest_dir` or a file in it cannot be written,
/// [`DataError::Download`] for a failed request (no connection, an HTTP error status, a broken
/// body), [`DataError::DownloadSize`] and [`DataError::Checksum`] for a file that is not the
/// published one. Files already moved into place stay; the failing file leaves nothing behind.
pub fn download(dest_dir: &Path, base_url: &str, files: &[RemoteFile]) -> Result<(), DataError> {
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
) -> Result<(), DataError> {
    fs::create_dir_all(dest_dir).map_err(|source| DataError::Write {
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

/// Streams `url` into a temporary file next to `dest`, checks it, and renames it to `dest`.
fn fetch(agent: &ureq::Agent, url: &str, dest: &Path, file: &RemoteFile) -> Result<(), DataError> {
    let failed = |reason: String| DataError::Download {
        url: url.to_owned(),
        reason,
    };
    let response = agent.get(url).call().map_err(|e| failed(e.to_string()))?;
    // One byte past the expected size is enough to tell "too long" without reading it all.
    let mut body = response.into_body().into_reader().take(file.size + 1);

    let mut partial = PartialFile::create(dest)?;
    let bar = progress_bar(file);
    let mut hasher = Sha256::new();
    let mut received: u64 = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(failed(e.to_string())),
        };
        let chunk = &buf[..n];
        hasher.update(chunk);
        partial.write_all(chunk)?;
        received += n as u64;
        bar.inc(n as u64);
    }
    bar.finish_and_clear();

    if received != file.size {
        return Err(DataError::DownloadSize {
            url: url.to_owned(),
            expected: file.size,
            found: received,
        });
    }
    let digest: [u8; 32] = hasher.finalize().into();
    if digest != file.sha256 {
        return Err(DataError::Checksum {
            url: url.to_owned(),
            expected: hex(&file.sha256),
            found: hex(&digest),
        });
    }
    partial.persist(dest)
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

/// A temporary file in the destination directory, deleted on drop unless persisted.
#[derive(Debug)]
struct PartialFile {
    path: PathBuf,
    file: File,
    persisted: bool,
}

impl PartialFile {
    /// Creates `.NAME.PID.N.part` next to `dest`, with a fresh `N` (never an existing file).
    fn create(dest: &Path) -> Result<Self, DataError> {
        let dir = dest.parent().unwrap_or(Path::new("."));
        let name = dest.file_name().unwrap_or_default().to_string_lossy();
        let pid = std::process::id();
        let mut attempt = 0u32;
        loop {
            let path = dir.join(format!(".{name}.{pid}.{attempt}.part"));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => {
                    return Ok(Self {
                        path,
                        file,
                        persisted: false,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 1000 => {
                    attempt += 1;
                }
                Err(source) => return Err(DataError::Write { path, source }),
            }
        }
    }

    fn write_all(&mut self, chunk: &[u8]) -> Result<(), DataError> {
        self.file
            .write_all(chunk)
            .map_err(|source| DataError::Write {
                path: self.path.clone(),
                source,
            })
    }

    /// Syncs the data, renames the file to `dest`, and syncs the directory (best effort: some
    /// file systems cannot sync a directory, and the file is complete either way).
    fn persist(mut self, dest: &Path) -> Result<(), DataError> {
        let write_error = |path: &Path, source| DataError::Write {
            path: path.to_path_buf(),
            source,
        };
        self.file
            .sync_all()
            .map_err(|e| write_error(&self.path, e))?;
        fs::rename(&self.path, dest).map_err(|e| write_error(dest, e))?;
        self.persisted = true;
        #[cfg(unix)]
        if let Some(dir) = dest.parent()
            && let Ok(d) = File::open(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            })
        {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if !self.persisted {
            // Nothing useful to do if removal fails: the name is never one a loader reads.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Lower-case hex of a digest.
fn hex(bytes: &[u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses 64 hex digits at compile time.
///
/// # Panics
/// On anything but 64 hex digits; used only in constants, where that is a compile error.
const fn hex32(s: &str) -> [u8; 32] {
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

/// A tiny HTTP/1.1 server on 127.0.0.1 for the download tests: one thread, fixed replies,
/// stops on drop or after 30 s, whichever comes first.
#[cfg(test)]
pub(crate) mod test_server {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::thread::JoinHandle;
    use std::time::{Duration, Instant};

    /// What the server answers for one path.
    #[derive(Debug, Clone)]
    pub(crate) enum Reply {
        /// 200 with this body.
        Ok(Vec<u8>),
        /// 200 announcing `claimed` bytes, sending `body`, then closing the connection.
        Truncated { body: Vec<u8>, claimed: usize },
    }

    #[derive(Debug)]
    pub(crate) struct TestServer {
        /// `http://127.0.0.1:PORT/`.
        pub(crate) base_url: String,
        requests: Arc<AtomicUsize>,
        stop: Arc<AtomicBool>,
        thread: Option<JoinHandle<()>>,
    }

    impl TestServer {
        /// Serves `routes` (path without the leading `/`, reply); any other path is a 404.
        pub(crate) fn start(routes: Vec<(&'static str, Reply)>) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
            let port = listener.local_addr().expect("local addr").port();
            listener.set_nonblocking(true).expect("nonblocking");
            let requests = Arc::new(AtomicUsize::new(0));
            let stop = Arc::new(AtomicBool::new(false));
            let (count, halt) = (Arc::clone(&requests), Arc::clone(&stop));
            let thread = std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(30);
                while !halt.load(Ordering::SeqCst) && Instant::now() < deadline {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            count.fetch_add(1, Ordering::SeqCst);
                            serve(stream, &routes);
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
            });
            Self {
                base_url: format!("http://127.0.0.1:{port}/"),
                requests,
                stop,
                thread: Some(thread),
            }
        }

        /// Connections served so far.
        pub(crate) fn requests(&self) -> usize {
            self.requests.load(Ordering::SeqCst)
        }
    }

    impl Drop for TestServer {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::SeqCst);
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
    }

    fn serve(mut stream: TcpStream, routes: &[(&'static str, Reply)]) {
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        let request = String::from_utf8_lossy(&request);
        let path = request.split_whitespace().nth(1).unwrap_or("/");
        let route = routes.iter().find(|(name, _)| path == format!("/{name}"));
        let (status, body, claimed) = match route {
            Some((_, Reply::Ok(body))) => ("200 OK", body.as_slice(), body.len()),
            Some((_, Reply::Truncated { body, claimed })) => ("200 OK", body.as_slice(), *claimed),
            None => ("404 Not Found", &b"not found"[..], 9),
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\n\
             Content-Length: {claimed}\r\nConnection: close\r\n\r\n"
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body);
        let _ = stream.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::test_server::{Reply, TestServer};
    use super::*;
    use crate::data::fixtures::gz_set;
    use crate::data::{read_images, read_labels};

    /// An agent that never uses a proxy, so no test request can leave 127.0.0.1.
    fn local_agent() -> ureq::Agent {
        let config = ureq::Agent::config_builder()
            .proxy(None)
            .timeout_global(Some(Duration::from_secs(20)))
            .build();
        ureq::Agent::new_with_config(config)
    }

    fn sha256(bytes: &[u8]) -> [u8; 32] {
        Sha256::digest(bytes).into()
    }

    /// Small fixture files, their table, and a server that serves them.
    fn fixture_table() -> (Vec<(&'static str, Vec<u8>)>, Vec<RemoteFile>) {
        let files = gz_set(3, 2);
        let table = files
            .iter()
            .map(|(name, bytes)| RemoteFile {
                name,
                size: bytes.len() as u64,
                sha256: sha256(bytes),
            })
            .collect();
        (files, table)
    }

    fn serve_all(files: &[(&'static str, Vec<u8>)]) -> TestServer {
        TestServer::start(
            files
                .iter()
                .map(|(name, bytes)| (*name, Reply::Ok(bytes.clone())))
                .collect(),
        )
    }

    /// File names in `dir`, sorted: shows both what landed and that no temporary file is left.
    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// The published table, digit for digit (tensorflow_datasets, url_checksums/fashion_mnist.txt).
    #[test]
    fn official_table() {
        let expected = [
            (
                "train-images-idx3-ubyte.gz",
                26_421_880,
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            ),
            (
                "train-labels-idx1-ubyte.gz",
                29_515,
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            ),
            (
                "t10k-images-idx3-ubyte.gz",
                4_422_102,
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            ),
            (
                "t10k-labels-idx1-ubyte.gz",
                5_148,
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            ),
        ];
        for (file, (name, size, digest)) in OFFICIAL_FILES.iter().zip(expected) {
            assert_eq!(
                (file.name, file.size, hex(&file.sha256).as_str()),
                (name, size, digest)
            );
        }
        assert_eq!(OFFICIAL_FILES.map(|f| f.name), crate::data::FILE_NAMES);
    }

    /// FIPS 180-2, appendix B.1: SHA-256("abc").
    #[test]
    fn digest_and_hex_golden() {
        const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(hex(&sha256(b"abc")), ABC);
        assert_eq!(hex32(ABC), sha256(b"abc"));
        assert_eq!(hex32(&ABC.to_uppercase()), sha256(b"abc"));
    }

    #[test]
    fn downloads_and_verifies() {
        let (files, table) = fixture_table();
        let server = serve_all(&files);
        let dest = tempfile::tempdir().expect("tempdir");
        let dir = dest.path().join("fashion-mnist");

        download_with(&local_agent(), &dir, &server.base_url, &table).expect("download");
        assert_eq!(server.requests(), 4);
        let mut names: Vec<&str> = table.iter().map(|f| f.name).collect();
        names.sort_unstable();
        assert_eq!(listing(&dir), names);
        for (name, bytes) in &files {
            assert_eq!(&fs::read(dir.join(name)).expect("landed"), bytes);
        }
        assert_eq!(
            read_images(&dir.join(TRAIN_IMAGES_FILE))
                .expect("valid")
                .len(),
            3 * 784
        );
        assert_eq!(
            read_labels(&dir.join(TEST_LABELS_FILE)).expect("valid"),
            [0, 1]
        );

        // A second run finds every file verified and asks the server for nothing.
        download_with(&local_agent(), &dir, &server.base_url, &table).expect("no-op");
        assert_eq!(server.requests(), 4);
    }

    #[test]
    fn base_url_without_trailing_slash() {
        let (files, table) = fixture_table();
        let server = serve_all(&files);
        let dest = tempfile::tempdir().expect("tempdir");
        let base = server.base_url.trim_end_matches('/');
        download_with(&local_agent(), dest.path(), base, &table[..1]).expect("download");
        assert_eq!(listing(dest.path()), [table[0].name]);
    }

    #[test]
    fn wrong_checksum_leaves_no_file() {
        let (files, mut table) = fixture_table();
        table[1].sha256[0] ^= 0xff;
        let server = serve_all(&files);
        let dest = tempfile::tempdir().expect("tempdir");

        let err = download_with(&local_agent(), dest.path(), &server.base_url, &table)
            .expect_err("digest differs");
        let DataError::Checksum {
            url,
            expected,
            found,
        } = &err
        else {
            panic!("{err:?}");
        };
        assert!(url.ends_with(TRAIN_LABELS_FILE));
        assert_eq!(*found, hex(&sha256(&files[1].1)));
        assert_ne!(expected, found);
        // The first file was good and stays; the bad one is nowhere, not even as a temp file.
        assert_eq!(listing(dest.path()), [TRAIN_IMAGES_FILE]);
    }

    #[test]
    fn wrong_size_leaves_no_file() {
        let (files, mut table) = fixture_table();
        table[0].size -= 1;
        let server = serve_all(&files);
        let dest = tempfile::tempdir().expect("tempdir");
        let err = download_with(&local_agent(), dest.path(), &server.base_url, &table)
            .expect_err("one byte too many");
        assert!(
            matches!(err, DataError::DownloadSize { found, expected, .. } if found == expected + 1)
        );
        assert!(listing(dest.path()).is_empty());
    }

    #[test]
    fn not_found_is_an_error() {
        let (_, table) = fixture_table();
        let server = TestServer::start(Vec::new());
        let dest = tempfile::tempdir().expect("tempdir");
        let err =
            download_with(&local_agent(), dest.path(), &server.base_url, &table).expect_err("404");
        let DataError::Download { reason, .. } = &err else {
            panic!("{err:?}");
        };
        assert!(reason.contains("404"), "{reason}");
        assert!(listing(dest.path()).is_empty());
    }

    #[test]
    fn truncated_body_is_an_error() {
        let (files, table) = fixture_table();
        let full = &files[0].1;
        let server = TestServer::start(vec![(
            files[0].0,
            Reply::Truncated {
                body: full[..full.len() / 2].to_vec(),
                claimed: full.len(),
            },
        )]);
        let dest = tempfile::tempdir().expect("tempdir");
        let err = download_with(&local_agent(), dest.path(), &server.base_url, &table[..1])
            .expect_err("connection closed early");
        assert!(
            matches!(
                err,
                DataError::Download { .. } | DataError::DownloadSize { .. }
            ),
            "{err:?}"
        );
        assert!(listing(dest.path()).is_empty());
    }

    #[test]
    fn corrupt_existing_file_is_replaced() {
        let (files, table) = fixture_table();
        let server = serve_all(&files);
        let dest = tempfile::tempdir().expect("tempdir");
        let path = dest.path().join(table[0].name);
        fs::write(&path, b"half a download from some other tool").expect("write");

        download_with(&local_agent(), dest.path(), &server.base_url, &table[..1]).expect("ok");
        assert_eq!(fs::read(&path).expect("read"), files[0].1);
        assert_eq!(server.requests(), 1);
    }

    #[test]
    fn unreachable_server_is_an_error() {
        // Bind, learn the port, close: nothing listens there any more.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("bind")
            .port();
        let (_, table) = fixture_table();
        let dest = tempfile::tempdir().expect("tempdir");
        let base = format!("http://127.0.0.1:{port}/");
        let err = download_with(&local_agent(), dest.path(), &base, &table)
            .expect_err("connection refused");
        assert!(matches!(err, DataError::Download { .. }), "{err:?}");
        assert!(listing(dest.path()).is_empty());
    }
}
