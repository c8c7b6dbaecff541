//! Issue 13, the trainer's side: what the `trainer` binary does with a hostile input file, a
//! killed run, a second trainer and bad settings. One test per finding, named after it; each
//! runs the binary as a user would, on the real data, with a run of a few seconds at most.

use std::fs;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const TRAINER: &str = env!("CARGO_BIN_EXE_trainer");

/// Long enough for a quick run on a loaded 2-core machine; a hang is what it catches.
const TIMEOUT: Duration = Duration::from_secs(120);

fn trainer() -> Command {
    let mut c = Command::new(TRAINER);
    c.stdin(Stdio::null());
    c
}

/// `train` of one small vanilla run into `out`: 100 images, one epoch.
fn quick(out: &Path) -> Command {
    train(out, "1", "100")
}

/// `train` of vanilla into `out` for `epochs` epochs on the first `limit` images.
fn train(out: &Path, epochs: &str, limit: &str) -> Command {
    let mut c = trainer();
    c.args(["train", "--variants", "vanilla", "--epochs", epochs])
        .args(["--train-limit", limit, "--out"])
        .arg(out);
    c
}

/// Runs `command` in its own process group; kills the group if it outlives `limit`.
fn output_within(command: &mut Command, limit: Duration) -> Option<Output> {
    let child = spawn_group(command);
    let pid = child.id();
    let started = Instant::now();
    let waiter = std::thread::spawn(move || child.wait_with_output());
    while started.elapsed() < limit {
        if waiter.is_finished() {
            return waiter.join().ok().and_then(Result::ok);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    kill_group(pid);
    let _ = waiter.join();
    None
}

fn spawn_group(command: &mut Command) -> Child {
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("start the trainer")
}

/// SIGKILL to the trainer and its worker processes, as `kill -9` from a shell would.
fn kill_group(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .status();
}

/// [`kill_group`], and the trainer itself through std should `kill` be missing (its worker
/// then dies at its next report, on the closed pipe).
fn kill_all(mut child: Child) {
    kill_group(child.id());
    let _ = child.kill();
    let _ = child.wait();
}

/// The command's stderr after it failed within [`TIMEOUT`].
fn fails(command: &mut Command) -> String {
    let out = output_within(command, TIMEOUT).expect("the trainer hung");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "expected a failure, got: {stderr}");
    stderr
}

/// The command's stderr after it succeeded within [`TIMEOUT`].
fn succeeds(command: &mut Command) -> String {
    let out = output_within(command, TIMEOUT).expect("the trainer hung");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "expected success, got: {stderr}");
    stderr
}

fn wait_for(path: &Path) {
    let started = Instant::now();
    while !path.exists() {
        assert!(
            started.elapsed() < TIMEOUT,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn mkfifo(path: &Path) {
    assert!(
        Command::new("mkfifo").arg(path).status().unwrap().success(),
        "mkfifo"
    );
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn finding_4_inspect_and_quantize_refuse_a_fifo_and_a_device_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("model.fmlp");
    mkfifo(&fifo);
    let limit = Duration::from_secs(20);
    let out = dir.path().join("q.fmlp");
    let commands: [(&str, Vec<PathBuf>); 3] = [
        ("inspect", vec![fifo.clone()]),
        ("inspect", vec!["/dev/zero".into()]),
        ("quantize", vec![fifo.clone()]),
    ];
    for (sub, files) in commands {
        let mut c = trainer();
        c.arg(sub).args(&files);
        if sub == "quantize" {
            c.args(["--to", "f16", "--out"]).arg(&out);
        }
        let output = output_within(&mut c, limit)
            .unwrap_or_else(|| panic!("`trainer {sub} {files:?}` did not return in {limit:?}"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{stderr}");
        assert!(
            stderr.contains("not a regular file"),
            "{sub} {files:?}: {stderr}"
        );
    }
    assert!(!out.exists());
}

#[test]
fn finding_4_inspect_checks_the_preamble_before_reading_the_file() {
    let dir = tempfile::tempdir().unwrap();
    // A sparse 256 MiB file whose preamble claims exactly its length: well-formed as far as
    // the preamble goes, but longer than any model file may be.
    let len: u32 = 256 << 20;
    let big = dir.path().join("big.fmlp");
    let mut preamble = b"FMLP".to_vec();
    preamble.extend_from_slice(&1u16.to_le_bytes());
    preamble.extend_from_slice(&64u16.to_le_bytes());
    preamble.extend_from_slice(&len.to_le_bytes());
    fs::write(&big, &preamble).unwrap();
    fs::File::options()
        .write(true)
        .open(&big)
        .unwrap()
        .set_len(u64::from(len))
        .unwrap();
    let stderr = fails(trainer().arg("inspect").arg(&big));
    assert!(stderr.contains("64 MiB"), "{stderr}");
    assert!(stderr.contains("big.fmlp"), "{stderr}");
}

#[test]
fn finding_6_temp_files_left_by_a_killed_run_are_removed_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let model_dir = out.join("vanilla");
    fs::create_dir_all(&model_dir).unwrap();
    // What a run killed during an export leaves: the old scheme's names and the new one's.
    let leftovers = [".model.tmp-4242-0.fmlp", ".history.tmp-Xq3vB7pLm2.csv"];
    for name in leftovers {
        fs::write(model_dir.join(name), b"partial").unwrap();
    }
    // Files the trainer did not create stay, whatever their names.
    let foreign = [".notes.tmp", "notes.txt", ".model.fmlp.swp"];
    for name in foreign {
        fs::write(model_dir.join(name), b"mine").unwrap();
    }
    let stderr = succeeds(&mut quick(&out));
    for name in leftovers {
        assert!(!model_dir.join(name).exists(), "{name} is still there");
        assert!(stderr.contains(name), "{stderr}");
    }
    for name in foreign {
        assert_eq!(fs::read(model_dir.join(name)).unwrap(), b"mine", "{name}");
    }
    let left: Vec<String> = names(&model_dir)
        .into_iter()
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn finding_7_a_bad_learning_rate_fails_at_the_command_line_before_any_data() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    for rate in ["NaN", "inf", "-inf", "0", "-0.001"] {
        let stderr = fails(
            quick(&out)
                .arg("--data")
                .arg("/nonexistent")
                .arg(format!("--learning-rate={rate}")),
        );
        assert!(stderr.contains("--learning-rate"), "{rate}: {stderr}");
        assert!(stderr.contains("finite"), "{rate}: {stderr}");
        assert!(!stderr.contains("--settings"), "{rate}: {stderr}");
        assert!(!stderr.contains("/nonexistent"), "{rate}: {stderr}");
    }
    assert!(!out.exists());
}

#[test]
fn finding_7_a_note_that_cannot_fit_the_model_file_fails_before_any_data() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // Finite and positive, but printed in full it makes the provenance note 400 bytes long.
    let stderr = fails(quick(&out).arg("--learning-rate=1e-320"));
    assert!(stderr.contains("255"), "{stderr}");
    assert!(stderr.contains("--learning-rate"), "{stderr}");
    assert!(
        !stderr.contains("data in"),
        "the data was located: {stderr}"
    );
    assert!(!out.exists());

    let stderr = fails(&mut train(&out, "1", "0"));
    assert!(stderr.contains("--train-limit"), "{stderr}");
    assert!(!out.exists());
}

#[test]
fn finding_8_a_second_trainer_on_one_out_is_refused_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut first = train(&out, "100000", "8");
    let first = spawn_group(&mut first);
    let pid = first.id();
    wait_for(&out.join("vanilla/vanilla.ckpt"));
    let second = output_within(&mut quick(&out), TIMEOUT);
    let resumed = output_within(quick(&out).arg("--resume"), TIMEOUT);
    kill_all(first);
    for output in [second, resumed] {
        let output = output.expect("the second trainer hung");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{stderr}");
        assert!(stderr.contains(&format!("pid {pid}")), "{stderr}");
        assert!(stderr.contains("started"), "{stderr}");
        assert!(stderr.contains(&out.display().to_string()), "{stderr}");
    }
}

#[test]
fn finding_8_duplicate_variants_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let stderr = fails(
        trainer()
            .args(["train", "--variants", "vanilla,bn,vanilla", "--out"])
            .arg(&out),
    );
    assert!(stderr.contains("vanilla"), "{stderr}");
    assert!(!out.exists());
}

#[test]
fn finding_9_a_new_run_sets_the_earlier_one_aside_and_never_mixes_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    succeeds(quick(&out).args(["--seed", "1"]));
    let first_model = fs::read(out.join("vanilla/model.fmlp")).unwrap();

    // A new run over it, without --resume, killed after its first checkpoint.
    let mut second = train(&out, "100000", "8");
    second.args(["--seed", "2"]);
    let second = spawn_group(&mut second);
    let ckpt = out.join("vanilla/vanilla.ckpt");
    let first_ckpt = fs::read(&ckpt).unwrap();
    let started = Instant::now();
    // Renamed into place whole, so a read sees one run's checkpoint or the other's.
    while fs::read(&ckpt).map_or(true, |b| b == first_ckpt) {
        assert!(started.elapsed() < TIMEOUT, "no checkpoint of the new run");
        std::thread::sleep(Duration::from_millis(50));
    }
    kill_all(second);

    // No file of the first run is left beside the second run's checkpoint...
    let in_dir: Vec<String> = names(&out.join("vanilla"))
        .into_iter()
        .filter(|n| !n.contains(".tmp-"))
        .collect();
    assert_eq!(in_dir, ["vanilla.ckpt"], "{in_dir:?}");
    assert!(!out.join("summary.md").exists());
    // ...and the first run is intact where the trainer said it put it.
    let aside: Vec<String> = names(&out)
        .into_iter()
        .filter(|n| n.starts_with("earlier-run-"))
        .collect();
    assert_eq!(aside.len(), 1, "{:?}", names(&out));
    let aside = out.join(&aside[0]);
    assert_eq!(
        fs::read(aside.join("vanilla/model.fmlp")).unwrap(),
        first_model
    );
    assert!(aside.join("summary.md").exists());

    // The killed run resumes without a complaint about the first one.
    succeeds(train(&out, "1", "8").args(["--seed", "2", "--resume"]));
}

#[test]
fn finding_10_inspect_says_a_checkpoint_is_not_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    succeeds(&mut quick(&out));
    let ckpt = out.join("vanilla/vanilla.ckpt");
    let bytes = fs::read(&ckpt).unwrap();
    assert_ne!(&bytes[..4], b"FMLP", "the checkpoint begins like a model");
    let stderr = fails(trainer().arg("inspect").arg(&ckpt));
    assert!(
        stderr.contains("training checkpoint, not a model"),
        "{stderr}"
    );

    // A checkpoint of an older trainer (magic `FMLPCKPT`) is named as one too.
    let old = dir.path().join("old.ckpt");
    let mut old_bytes = b"FMLPCKPT".to_vec();
    old_bytes.extend_from_slice(&bytes[8..]);
    fs::write(&old, &old_bytes).unwrap();
    let stderr = fails(trainer().arg("inspect").arg(&old));
    assert!(
        stderr.contains("training checkpoint, not a model"),
        "{stderr}"
    );
}
