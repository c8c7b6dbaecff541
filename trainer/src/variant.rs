//! The seed notebook's four models, as presets of [`MlpSpec`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::model::spec::{HiddenLayer, MlpSpec};

/// One of the notebook's four models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// 784 → 196 → 49 → 10.
    Vanilla,
    /// 784 → 392 → 98 → 24 → 10, `Dropout(0.5)` after each hidden ReLU.
    Dropout,
    /// 784 → 196 → 49 → 10, `BatchNormalization` after each hidden ReLU.
    Bn,
    /// As [`Variant::Bn`], with `Dropout(0.5)` between each ReLU and its `BatchNormalization`.
    BnDropout,
}

impl Variant {
    /// The four variants in the notebook's order.
    pub const ALL: [Variant; 4] = [
        Variant::Vanilla,
        Variant::Dropout,
        Variant::Bn,
        Variant::BnDropout,
    ];

    /// The name used on the command line and in file names.
    pub const fn name(self) -> &'static str {
        match self {
            Variant::Vanilla => "vanilla",
            Variant::Dropout => "dropout",
            Variant::Bn => "bn",
            Variant::BnDropout => "bn_dropout",
        }
    }

    /// The notebook's published test accuracy, as printed with three decimals.
    pub const fn notebook_test_accuracy(self) -> f64 {
        match self {
            Variant::Vanilla => 0.881,
            Variant::Dropout => 0.853,
            Variant::Bn => 0.867,
            Variant::BnDropout => 0.768,
        }
    }

    /// The variant as a spec: the notebook's layers, titles and test accuracy, Keras's
    /// defaults (dropout 0.5, BatchNorm momentum 0.99 and ε 1e-3) and Fashion-MNIST's classes.
    pub fn spec(self) -> MlpSpec {
        let layer = |width, dropout, batch_norm| HiddenLayer {
            width,
            dropout,
            batch_norm,
        };
        let (hidden, title, legend) = match self {
            Variant::Vanilla => (
                vec![layer(196, 0.0, false), layer(49, 0.0, false)],
                "\"vanilla\" model",
                None,
            ),
            Variant::Dropout => (
                vec![
                    layer(392, 0.5, false),
                    layer(98, 0.5, false),
                    layer(24, 0.5, false),
                ],
                "dropout model",
                None,
            ),
            Variant::Bn => (
                vec![layer(196, 0.0, true), layer(49, 0.0, true)],
                "batch normalization model",
                None,
            ),
            Variant::BnDropout => (
                vec![layer(196, 0.5, true), layer(49, 0.5, true)],
                "batch normalization with dropout model",
                Some("bn with dropout model"),
            ),
        };
        MlpSpec {
            title: Some(title.to_owned()),
            legend: legend.map(str::to_owned),
            reference_test_accuracy: Some(self.notebook_test_accuracy()),
            ..MlpSpec::new(self.name(), hidden)
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// A name that is not one of [`Variant::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown model variant `{0}`; expected one of: vanilla, dropout, bn, bn_dropout")]
pub struct UnknownVariant(pub String);

impl FromStr for Variant {
    type Err = UnknownVariant;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Variant::ALL
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| UnknownVariant(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_valid_ones() {
        for v in Variant::ALL {
            assert_eq!(v.name().parse::<Variant>(), Ok(v));
        }
        let err = "bn-dropout".parse::<Variant>().unwrap_err().to_string();
        for v in Variant::ALL {
            assert!(err.contains(v.name()), "{err}");
        }
    }

    #[test]
    fn presets_are_valid_specs_with_the_notebook_shapes() {
        let widths: Vec<Vec<usize>> = Variant::ALL.iter().map(|v| v.spec().widths()).collect();
        assert_eq!(
            widths,
            [
                vec![784, 196, 49, 10],
                vec![784, 392, 98, 24, 10],
                vec![784, 196, 49, 10],
                vec![784, 196, 49, 10],
            ]
        );
        for v in Variant::ALL {
            v.spec().check().unwrap();
            assert_eq!(v.spec().name, v.name());
        }
        assert_eq!(Variant::BnDropout.spec().legend(), "bn with dropout model");
        assert_eq!(Variant::Bn.spec().legend(), "batch normalization model");
    }

    #[test]
    fn presets_schedule_longest_first_as_measured() {
        let mut order = Variant::ALL.to_vec();
        order.sort_by_key(|v| std::cmp::Reverse(v.spec().relative_cost()));
        assert_eq!(
            order,
            [
                Variant::Dropout,
                Variant::BnDropout,
                Variant::Bn,
                Variant::Vanilla
            ]
        );
    }
}
