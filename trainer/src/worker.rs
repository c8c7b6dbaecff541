//! The main job's worker processes: each variant trains in a `trainer worker` child process,
//! which reports to the parent in one JSON message per stdout line.
//!
//! Why processes, not threads: burn-autodiff 0.21 registers every operation of every graph
//! under one process-wide mutex, so two variants training in threads of one process contend
//! for it. Measured here (2 vCPUs): vanilla took 3.3 s/epoch alone and ~5 s with a second
//! variant in another thread, but 2.9–3.2 s with a second variant in another process.

use serde::{Deserialize, Serialize};

use crate::run::VariantRun;

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
    /// A finished line for the terminal (epoch summaries, test scores).
    Line(String),
    /// The finished run; the last message.
    Done(Box<VariantRun>),
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
