//! The main job's worker processes: each model trains in a `trainer worker` child process,
//! which reports to the parent in one JSON message per stdout line ([`Message`]; [`JsonLines`]
//! is the child's [`Progress`]).
//!
//! Why processes, not threads: burn-autodiff 0.21 registers every operation of every graph
//! under one process-wide mutex, so two models training in threads of one process contend
//! for it. Measured here (2 vCPUs): vanilla took 3.3 s/epoch alone and ~5 s with a second
//! variant in another thread, but 2.9–3.2 s with a second variant in another process.

use std::cell::Cell;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use indicatif::MultiProgress;
use serde::{Deserialize, Serialize};

use crate::data::FashionMnist;
use crate::job::error::RunError;
use crate::job::single::{ModelRun, Settings, run_one};
use crate::model::spec::MlpSpec;
use crate::training::{Bars, Progress};

/// One line of a worker's stdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Message {
    /// Progress within an epoch (the parent draws it as the variant's bar).
    Step {
        /// Epoch being trained, 1-based.
        epoch: usize,
        /// Epochs in the run.
        epochs: usize,
        /// Images trained so far in this epoch.
        seen: u64,
        /// Images in the epoch.
        total: u64,
        /// Running loss and accuracy, as the bar shows them.
        text: String,
    },
    /// The epoch's last step is done.
    EpochDone,
    /// A finished line for the terminal (epoch summaries, test scores).
    Line(String),
    /// The finished run; the last message.
    Done(Box<ModelRun>),
}

impl Message {
    /// The message as one line of JSON (no newline).
    pub fn encode(&self) -> String {
        // Serialising these plain structs cannot fail (no maps with non-string keys).
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The message in `line`, or `None` if it is not one.
    pub fn decode(line: &str) -> Option<Self> {
        serde_json::from_str(line).ok()
    }

    /// Writes the message to stdout, for the parent.
    pub fn send(&self) {
        println!("{}", self.encode());
    }
}

/// The child's [`Progress`]: every report as a [`Message`] on stdout.
#[derive(Debug, Default)]
pub struct JsonLines {
    epoch: Cell<(usize, usize, u64)>,
}

impl Progress for JsonLines {
    fn epoch_started(&self, epoch: usize, epochs: usize, images: u64) {
        self.epoch.set((epoch, epochs, images));
    }

    fn advanced(&self, seen: u64, text: &str) {
        let (epoch, epochs, total) = self.epoch.get();
        Message::Step {
            epoch,
            epochs,
            seen,
            total,
            text: text.to_owned(),
        }
        .send();
    }

    fn epoch_finished(&self) {
        Message::EpochDone.send();
    }

    fn line(&self, line: &str) {
        Message::Line(line.to_owned()).send();
    }
}

/// The body of a `trainer worker` process: loads the data in `data_dir`, then trains,
/// evaluates, exports and plots `spec` into `OUT/NAME/`, reporting on stdout as [`Message`]s,
/// the last one [`Message::Done`].
///
/// # Errors
/// As [`run_one`], and [`RunError::Data`] when the data cannot be loaded.
pub fn worker_main(spec: &MlpSpec, settings: &Settings, data_dir: &Path) -> Result<(), RunError> {
    let data = FashionMnist::load_dir(data_dir, spec.classes())?;
    let (train_set, val_set) = data.split_validation();
    let run = run_one(
        spec,
        settings,
        (&train_set, &val_set, &data.test),
        &JsonLines::default(),
    )?;
    Message::Done(Box::new(run)).send();
    Ok(())
}

/// Runs `trainer worker` for `spec`, draws its progress in `multi` and returns its result.
pub(crate) fn run_in_worker(
    exe: &Path,
    spec: &MlpSpec,
    settings: &Settings,
    data_dir: &Path,
    multi: &MultiProgress,
) -> Result<ModelRun, RunError> {
    let failed = |reason: String| RunError::Worker {
        name: spec.name.clone(),
        reason,
    };
    let mut command = Command::new(exe);
    command
        .arg("worker")
        .arg("--spec")
        .arg(serde_json::to_string(spec).map_err(|e| failed(e.to_string()))?)
        .arg("--settings")
        .arg(serde_json::to_string(settings).map_err(|e| failed(e.to_string()))?)
        .arg("--data")
        .arg(data_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|e| failed(format!("cannot start {}: {e}", exe.display())))?;
    // Drained on its own thread, so that a chatty stderr cannot block the worker.
    let stderr = child.stderr.take().map(|mut pipe| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    });

    let done = relay(&mut child, &Bars::new(multi, &spec.name));
    let status = child
        .wait()
        .map_err(|e| failed(format!("waiting for the worker: {e}")))?;
    let stderr = stderr.and_then(|t| t.join().ok()).unwrap_or_default();
    match done {
        Some(run) if status.success() => Ok(run),
        _ => {
            // The worker's own report ("error: …") is the most useful part.
            let said = stderr.trim();
            let said = said.strip_prefix("error: ").unwrap_or(said);
            Err(failed(if said.is_empty() {
                format!("it exited ({status}) without a result")
            } else {
                format!("it exited ({status}): {said}")
            }))
        }
    }
}

/// Draws the worker's messages through `bars` until its stdout closes; returns its result.
fn relay(child: &mut Child, bars: &Bars<'_>) -> Option<ModelRun> {
    let stdout = child.stdout.take()?;
    let mut done = None;
    let mut epoch_shown = None;
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        match Message::decode(&line) {
            Some(Message::Step {
                epoch,
                epochs,
                seen,
                total,
                text,
            }) => {
                if epoch_shown != Some(epoch) {
                    epoch_shown = Some(epoch);
                    bars.epoch_started(epoch, epochs, total);
                }
                bars.advanced(seen, &text);
            }
            Some(Message::EpochDone) => {
                epoch_shown = None;
                bars.epoch_finished();
            }
            Some(Message::Line(text)) => bars.line(&text),
            Some(Message::Done(run)) => done = Some(*run),
            None => bars.line(&line),
        }
    }
    bars.epoch_finished();
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_other_lines_are_not_messages() {
        let step = Message::Step {
            epoch: 2,
            epochs: 25,
            seen: 4096,
            total: 50_000,
            text: "loss: 0.5 - accuracy: 0.8".into(),
        };
        for m in [step, Message::Line("vanilla: test accuracy 0.88".into())] {
            assert_eq!(Message::decode(&m.encode()), Some(m.clone()));
            assert!(!m.encode().contains('\n'));
        }
        assert_eq!(Message::decode("thread 'main' panicked at ..."), None);
        assert_eq!(Message::decode(""), None);
    }
}
