//! The download against a local test server: good files land, bad ones leave nothing.

/// A tiny HTTP/1.1 server on 127.0.0.1 for the download tests: one thread, fixed replies,
/// stops on drop or after 30 s, whichever comes first.
mod test_server {
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

mod checks {
    use super::test_server::{Reply, TestServer};
    use crate::data::download::*;
    use crate::data::locate::OFFICIAL_FILES;
    use idx::fixtures::gz_set;
    use idx::layout::{FILE_NAMES, TEST_LABELS_FILE, TRAIN_IMAGES_FILE, TRAIN_LABELS_FILE};
    use idx::{read_images, read_labels};

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
        assert_eq!(OFFICIAL_FILES.map(|f| f.name), FILE_NAMES);
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
            read_labels(&dir.join(TEST_LABELS_FILE), 10).expect("valid"),
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
        let DownloadError::Checksum {
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
            matches!(err, DownloadError::DownloadSize { found, expected, .. } if found == expected + 1)
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
        let DownloadError::Download { reason, .. } = &err else {
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
                DownloadError::Download { .. } | DownloadError::DownloadSize { .. }
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
        assert!(matches!(err, DownloadError::Download { .. }), "{err:?}");
        assert!(listing(dest.path()).is_empty());
    }
}
