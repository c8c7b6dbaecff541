//! Where a training run reports progress: a small trait, so the loop knows nothing of terminals
//! or of the worker protocol. [`Bars`] draws Keras-style indicatif bars; the JSON-lines sink of a
//! worker process lives with its protocol (`crate::job::worker`); `()` reports nothing.

use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// Receives a run's progress: per epoch a start, steps and an end, and finished lines.
pub trait Progress {
    /// Epoch `epoch` of `epochs` starts, over `images` training images.
    fn epoch_started(&self, epoch: usize, epochs: usize, images: u64);
    /// `seen` images of the epoch are trained; `text` holds the running loss and accuracy.
    fn advanced(&self, seen: u64, text: &str);
    /// The epoch's last step is done (or the epoch failed).
    fn epoch_finished(&self);
    /// A finished line for the terminal (epoch summaries, test scores).
    fn line(&self, line: &str);
}

/// Reports nothing.
impl Progress for () {
    fn epoch_started(&self, _: usize, _: usize, _: u64) {}
    fn advanced(&self, _: u64, _: &str) {}
    fn epoch_finished(&self) {}
    fn line(&self, _: &str) {}
}

/// The prefix of a model's bar and epoch line during `epoch`: `NAME       Epoch 3/25`.
pub fn epoch_prefix(name: &str, epoch: usize, epochs: usize) -> String {
    format!("{name:<10} Epoch {epoch}/{epochs}")
}

/// A Keras-style bar per epoch, `NAME Epoch e/E [=====>    ] pos/len - ETA - loss: …`, in a
/// shared `MultiProgress`, and finished lines printed above the bars (to stderr directly when
/// the `MultiProgress` is hidden).
#[derive(Debug)]
pub struct Bars<'a> {
    multi: &'a MultiProgress,
    name: String,
    bar: Mutex<Option<ProgressBar>>,
}

impl<'a> Bars<'a> {
    /// Bars for the model `name` in `multi`.
    pub fn new(multi: &'a MultiProgress, name: &str) -> Self {
        Self {
            multi,
            name: name.to_owned(),
            bar: Mutex::new(None),
        }
    }

    fn style() -> ProgressStyle {
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} - ETA {eta} - {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ")
    }

    fn with_bar(&self, f: impl FnOnce(&mut Option<ProgressBar>)) {
        f(&mut self.bar.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

impl Progress for Bars<'_> {
    fn epoch_started(&self, epoch: usize, epochs: usize, images: u64) {
        self.epoch_finished();
        let bar = self.multi.add(ProgressBar::new(images));
        bar.set_style(Self::style());
        bar.set_prefix(epoch_prefix(&self.name, epoch, epochs));
        self.with_bar(|slot| *slot = Some(bar));
    }

    fn advanced(&self, seen: u64, text: &str) {
        self.with_bar(|slot| {
            if let Some(bar) = slot {
                bar.set_position(seen);
                bar.set_message(text.to_owned());
            }
        });
    }

    fn epoch_finished(&self) {
        self.with_bar(|slot| {
            if let Some(bar) = slot.take() {
                bar.finish_and_clear();
                self.multi.remove(&bar);
            }
        });
    }

    fn line(&self, line: &str) {
        if self.multi.is_hidden() || self.multi.println(line).is_err() {
            eprintln!("{line}");
        }
    }
}

impl Drop for Bars<'_> {
    fn drop(&mut self) {
        self.epoch_finished();
    }
}
