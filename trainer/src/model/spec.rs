//! The typed model spec: everything that tells one MLP from another, as a TOML file or a preset.
//!
//! Every hidden layer is `Dense(width) → activation → [Dropout(rate)] → [BatchNormalization]`,
//! the output layer `Dense(classes)` whose softmax is left to the loss. BatchNorm always sits after
//! the activation (and after dropout), as in the seed notebook, so that it folds **forward**
//! into the next Dense layer at export (see [`crate::fold`]); a BatchNorm before the activation
//! could not be folded past the ReLU.
//!
//! ```toml
//! name = "mlp_128_64"
//! hidden = [
//!     { width = 128, dropout = 0.2, batch_norm = true },
//!     { width = 64, dropout = 0.2 },
//! ]
//! ```

use std::path::{Path, PathBuf};

use idx::layout::{CLASS_NAMES, IMAGE_PIXELS};
use serde::{Deserialize, Serialize};

/// Inputs of the first layer: the 28 × 28 pixels of an image of the Fashion-MNIST layout.
pub const INPUTS: usize = IMAGE_PIXELS;

/// One MLP: its name, its layers, its classes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpSpec {
    /// Names the run's directory, its files and its model file: letters, digits, `_` and `-`.
    pub name: String,
    /// Plot title (default: "NAME model").
    #[serde(default)]
    pub title: Option<String>,
    /// Prefix of the model's legend entries in plots (default: the title).
    #[serde(default)]
    pub legend: Option<String>,
    /// Class names in label order; their count is the output width (default: Fashion-MNIST's).
    #[serde(default = "fashion_class_names")]
    pub class_names: Vec<String>,
    /// The activation of every hidden layer.
    #[serde(default)]
    pub activation: HiddenActivation,
    /// Hidden layers, input to output.
    pub hidden: Vec<HiddenLayer>,
    /// Settings of every BatchNorm layer.
    #[serde(default)]
    pub batch_norm: BatchNormSpec,
    /// A published test accuracy to compare with (the notebook's, for the presets).
    #[serde(default)]
    pub reference_test_accuracy: Option<f64>,
}

/// One hidden layer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HiddenLayer {
    /// Units.
    pub width: usize,
    /// Fraction of units zeroed while training (inverted dropout); 0 for none.
    #[serde(default)]
    pub dropout: f64,
    /// True when a BatchNormalization follows the activation (and dropout).
    #[serde(default)]
    pub batch_norm: bool,
}

/// The activation of the hidden layers (the model file and firmware run ReLU).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HiddenActivation {
    /// `max(0, x)`.
    #[default]
    Relu,
}

/// Which batch variance feeds BatchNorm's moving variance.
///
/// Both conventions normalise the batch itself with the biased variance; they differ only in
/// the statistic averaged into `moving_variance`, which is what eval mode (and the exported,
/// folded model) uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MovingVariance {
    /// The biased batch variance, as tf.keras ≥ 2.4 and burn's own `BatchNorm` do.
    Biased,
    /// The biased variance times `n / (n - (1 + ε))`, as standalone Keras 2.2–2.3.1 computes it
    /// (`variance *= sample_size / (sample_size - (1.0 + self.epsilon))` in its BatchNormalization
    /// layer), the version that printed "Using TensorFlow backend." in the notebook. The default,
    /// to reproduce the notebook.
    #[default]
    Keras2Corrected,
}

/// BatchNorm settings, Keras's defaults as the notebook uses them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchNormSpec {
    /// Keras convention: `moving = momentum·moving + (1-momentum)·batch` (0.99).
    pub momentum: f64,
    /// Added to the variance before the square root (1e-3).
    pub epsilon: f64,
    /// The variance averaged into the moving variance.
    pub moving_variance: MovingVariance,
}

impl Default for BatchNormSpec {
    fn default() -> Self {
        Self {
            momentum: 0.99,
            epsilon: 1e-3,
            moving_variance: MovingVariance::Keras2Corrected,
        }
    }
}

fn fashion_class_names() -> Vec<String> {
    CLASS_NAMES.iter().map(|&n| n.to_owned()).collect()
}

/// Why a spec cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The file could not be read.
    #[error("cannot read {}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file is not a spec in TOML.
    #[error("{}: not a model spec", .path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// The parser's error (with line and column).
        source: Box<toml::de::Error>,
    },
    /// A field has a value no model can have.
    #[error("model spec `{name}`: {problem}")]
    Invalid {
        /// The spec's name.
        name: String,
        /// What is wrong.
        problem: String,
    },
}

impl MlpSpec {
    /// A spec with these hidden layers, ReLU, Fashion-MNIST's classes and Keras's BatchNorm.
    pub fn new(name: &str, hidden: Vec<HiddenLayer>) -> Self {
        Self {
            name: name.to_owned(),
            title: None,
            legend: None,
            class_names: fashion_class_names(),
            activation: HiddenActivation::Relu,
            hidden,
            batch_norm: BatchNormSpec::default(),
            reference_test_accuracy: None,
        }
    }

    /// Reads and checks a TOML spec file.
    ///
    /// # Errors
    /// [`SpecError::Read`], [`SpecError::Toml`] (unknown fields included), or the errors of
    /// [`MlpSpec::check`].
    pub fn read(path: &Path) -> Result<Self, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let spec: Self = toml::from_str(&text).map_err(|e| SpecError::Toml {
            path: path.to_path_buf(),
            source: Box::new(e),
        })?;
        spec.check()?;
        Ok(spec)
    }

    /// Checks what serde cannot: a usable name, positive widths, dropout in `[0, 1)`, at least
    /// two distinct classes, BatchNorm momentum in `[0, 1]` and a positive epsilon.
    ///
    /// # Errors
    /// [`SpecError::Invalid`] saying which field is wrong.
    pub fn check(&self) -> Result<(), SpecError> {
        let fail = |problem: String| {
            Err(SpecError::Invalid {
                name: self.name.clone(),
                problem,
            })
        };
        let name_ok = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if self.name.is_empty() || !self.name.chars().all(name_ok) {
            return fail("`name` must be letters, digits, `_` or `-` (it names files)".into());
        }
        if let Some(i) = self.hidden.iter().position(|l| l.width == 0) {
            return fail(format!("hidden layer {i} has width 0"));
        }
        if let Some(i) = self
            .hidden
            .iter()
            .position(|l| !(0.0..1.0).contains(&l.dropout))
        {
            return fail(format!("hidden layer {i}: dropout must be in [0, 1)"));
        }
        let mut names = self.class_names.clone();
        names.sort();
        names.dedup();
        if names.len() < 2 || names.len() != self.class_names.len() || self.classes() > 256 {
            return fail("`class_names` must be 2 to 256 distinct names".into());
        }
        let bn = &self.batch_norm;
        let bn_ok =
            (0.0..=1.0).contains(&bn.momentum) && bn.epsilon > 0.0 && bn.epsilon.is_finite();
        if !bn_ok {
            return fail("batch_norm: momentum must be in [0, 1] and epsilon positive".into());
        }
        Ok(())
    }

    /// Number of classes: the output width.
    pub fn classes(&self) -> usize {
        self.class_names.len()
    }

    /// Layer widths from the 784 inputs to the classes.
    pub fn widths(&self) -> Vec<usize> {
        let mut widths = vec![INPUTS];
        widths.extend(self.hidden.iter().map(|l| l.width));
        widths.push(self.classes());
        widths
    }

    /// True when any hidden layer has a BatchNorm.
    pub fn has_batch_norm(&self) -> bool {
        self.hidden.iter().any(|l| l.batch_norm)
    }

    /// The plot title.
    pub fn title(&self) -> String {
        self.title
            .clone()
            .unwrap_or_else(|| format!("{} model", self.name))
    }

    /// The prefix of the model's legend entries.
    pub fn legend(&self) -> String {
        self.legend.clone().unwrap_or_else(|| self.title())
    }

    /// A rough relative cost of one training epoch, for scheduling only: multiply-adds, with
    /// BatchNorm and dropout layers costing extra per unit, as `trainer bench` measured them
    /// (the presets come out dropout > bn_dropout > bn > vanilla, as measured).
    pub fn relative_cost(&self) -> u64 {
        let widths = self.widths();
        let macs: usize = widths.windows(2).map(|w| w[0] * w[1]).sum();
        let extra: f64 = self
            .hidden
            .iter()
            .map(|l| {
                f64::from(u8::from(l.batch_norm)) * 0.25
                    + f64::from(u8::from(l.dropout > 0.0)) * 0.3
            })
            .sum();
        (macs as f64 * (1.0 + extra)) as u64
    }
}
