//! Every figure drawn from synthetic histories; legends and ticks worked by hand.

use std::path::Path;

use plotters::prelude::{BLACK, Color, SeriesLabelPosition};

use crate::plot::error::PlotError;
use crate::plot::figure::{Metric, plot_accuracy, plot_all_variants, plot_comparison, plot_loss};
use crate::plot::render::{FIGURE_SIZE, LEGEND_OFFSET, place_legend, tick_decimals};
use crate::plot::series::{Line, Series, level};
use crate::training::history::{EpochRecord, History, TestScore};
use crate::variant::Variant;

/// A plausible run: accuracy ramps from `start` towards `end` with a time constant of three
/// epochs, val sits `gap` below train with a deterministic wiggle, val loss creeps up late
/// (overfitting) when `gap` is positive.
fn synthetic(variant: &str, epochs: usize, start: f64, end: f64, gap: f64) -> History {
    let epochs = (1..=epochs)
        .map(|epoch| {
            let t = epoch as f64 - 1.0;
            let accuracy = end - (end - start) * (-t / 3.0).exp();
            let wiggle = 0.006 * (2.1 * t + 10.0 * start).sin();
            EpochRecord {
                epoch,
                loss: 2.5 * (1.0 - accuracy),
                accuracy,
                val_loss: 2.5 * (1.0 - accuracy + gap) + 0.3 * gap.max(0.0) * t * t / 25.0
                    - 5.0 * wiggle,
                val_accuracy: accuracy - gap + wiggle,
                seconds: 4.0,
            }
        })
        .collect();
    History {
        spec: variant.parse::<Variant>().map_or_else(
            |_| crate::model::MlpSpec::new(variant, Vec::new()),
            Variant::spec,
        ),
        epochs,
    }
}

fn runs() -> Vec<(History, TestScore)> {
    vec![
        (
            synthetic("vanilla", 25, 0.82, 0.935, 0.045),
            TestScore {
                loss: 0.47,
                accuracy: 0.881,
            },
        ),
        (
            synthetic("dropout", 25, 0.60, 0.81, -0.05),
            TestScore {
                loss: 0.43,
                accuracy: 0.853,
            },
        ),
        (
            synthetic("bn", 25, 0.78, 0.875, -0.002),
            TestScore {
                loss: 0.37,
                accuracy: 0.867,
            },
        ),
        (
            synthetic("bn_dropout", 25, 0.49, 0.645, -0.125),
            TestScore {
                loss: 0.646,
                accuracy: 0.768,
            },
        ),
    ]
}

/// Asserts `path` is the only file in its directory and a PNG of [`FIGURE_SIZE`].
fn assert_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "first chunk");
    let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    assert_eq!((be(16), be(20)), FIGURE_SIZE);
    let dir = path.parent().unwrap();
    assert_eq!(
        std::fs::read_dir(dir).unwrap().count(),
        1,
        "no temporary file left"
    );
}

type Draw<'a> = &'a dyn Fn(&Path) -> Result<(), PlotError>;

#[test]
fn every_figure_is_a_png_of_the_expected_size() {
    let runs = runs();
    let (h, t) = (&runs[0].0, &runs[0].1);
    let all: Vec<_> = runs.iter().map(|(h, t)| (h, t)).collect();
    let draws: [(&str, Draw<'_>); 5] = [
        ("accuracy", &|p| plot_accuracy(h, t, p)),
        ("loss", &|p| plot_loss(h, t, p)),
        ("vs_bn", &|p| {
            plot_comparison(all[0], all[2], Metric::Accuracy, p)
        }),
        ("vs_bn_loss", &|p| {
            plot_comparison(all[0], all[2], Metric::Loss, p)
        }),
        ("all", &|p| plot_all_variants(&all, Metric::Accuracy, p)),
    ];
    for (name, draw) in draws {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("figs").join(format!("{name}.png"));
        draw(&path).unwrap();
        assert_png(&path);
        // A second draw replaces the file in place.
        draw(&path).unwrap();
        assert_png(&path);
    }
}

#[test]
fn empty_inputs_are_errors_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.png");
    let test = TestScore {
        loss: 0.4,
        accuracy: 0.9,
    };
    let empty = History {
        spec: Variant::Bn.spec(),
        epochs: vec![],
    };
    let err = plot_accuracy(&empty, &test, &path).unwrap_err();
    assert!(
        matches!(&err, PlotError::EmptyHistory { name, .. } if name == "bn"),
        "{err}"
    );
    assert!(err.to_string().contains("a.png"), "{err}");
    let full = synthetic("vanilla", 3, 0.8, 0.9, 0.01);
    let err = plot_comparison((&full, &test), (&empty, &test), Metric::Loss, &path);
    assert!(matches!(err, Err(PlotError::EmptyHistory { .. })));
    let err = plot_all_variants(&[], Metric::Accuracy, &path);
    assert!(matches!(err, Err(PlotError::NoRuns { .. })));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn one_epoch_and_gaps_are_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let test = TestScore {
        loss: f64::NAN,
        accuracy: 0.9,
    };
    let one = synthetic("vanilla", 1, 0.8, 0.9, 0.01);
    plot_accuracy(&one, &test, &dir.path().join("one.png")).unwrap();
    plot_loss(&one, &test, &dir.path().join("one_loss.png")).unwrap();

    let mut gappy = synthetic("dropout", 6, 0.6, 0.8, -0.05);
    gappy.epochs[2].val_accuracy = f64::NAN;
    gappy.epochs[4].accuracy = f64::INFINITY;
    gappy.epochs[5].val_accuracy = f64::NEG_INFINITY;
    plot_accuracy(&gappy, &test, &dir.path().join("gappy.png")).unwrap();
}

#[test]
fn all_non_finite_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nan.png");
    let mut h = synthetic("vanilla", 3, 0.8, 0.9, 0.01);
    for r in &mut h.epochs {
        (r.loss, r.val_loss) = (f64::NAN, f64::INFINITY);
    }
    // The test loss alone is not a plot.
    let err = plot_loss(
        &h,
        &TestScore {
            loss: 0.5,
            accuracy: 0.9,
        },
        &path,
    );
    assert!(matches!(err, Err(PlotError::NoFiniteData { .. })));
    assert!(!path.exists());
}

#[test]
fn tick_decimals_follow_the_tick_step() {
    // At most 10 ticks, steps of 1, 2 or 5 times a power of ten.
    assert_eq!(tick_decimals(0.78, 0.94), 2); // step 0.02
    assert_eq!(tick_decimals(0.25, 1.05), 1); // step 0.1
    assert_eq!(tick_decimals(0.0, 30.0), 0); // step 5
    assert_eq!(tick_decimals(0.881, 0.8815), 4); // step 0.0001: 0.00005 makes 11 ticks
    assert_eq!(tick_decimals(0.5, 0.5), 2); // a single tick
}

#[test]
fn legend_avoids_data_or_makes_room() {
    let line = |y0: f64, y1: f64| Series {
        label: String::new(),
        color: BLACK.to_rgba(),
        line: Line::PerEpoch(vec![(1, y0), (10, y1)]),
    };
    let (legend, plot) = ((200, 100), (800, 500));
    // Rising from the bottom left to the top right: the lower right corner is free.
    let rising = line(0.0, 1.0);
    let (pos, lo, hi) = place_legend(&[&rising], 11, (0.0, 1.0), legend, plot);
    assert_eq!((pos, lo, hi), (SeriesLabelPosition::LowerRight, 0.0, 1.0));
    // Levels along the top and bottom edges: every corner is covered alike, so the first
    // choice wins and the range grows upwards until the legend (1/5 of the height, plus
    // air) sits above the data.
    let top = level(String::new(), BLACK.to_rgba(), 1.0);
    let bottom = level(String::new(), BLACK.to_rgba(), 0.0);
    let (pos, lo, hi) = place_legend(&[&top, &bottom], 11, (0.0, 1.0), legend, plot);
    assert_eq!(pos, SeriesLabelPosition::UpperRight);
    assert_eq!(lo, 0.0);
    let fh = f64::from(100 + LEGEND_OFFSET + 4) / 500.0;
    assert!((hi - 1.0 / (1.0 - fh)).abs() < 1e-12, "{hi}");
}

/// Writes every kind of figure for the synthetic runs to `$TMPDIR/plots` for a look by eye:
/// `cargo test --release -p trainer --lib plot::tests::example_figures -- --ignored`.
#[test]
#[ignore = "writes example figures outside the test's temporary directory"]
fn example_figures() {
    let out = std::env::temp_dir().join("plots");
    let runs = runs();
    let all: Vec<_> = runs.iter().map(|(h, t)| (h, t)).collect();
    for (h, t) in &all {
        plot_accuracy(h, t, &out.join(format!("{}_accuracy.png", h.spec.name))).unwrap();
        plot_loss(h, t, &out.join(format!("{}_loss.png", h.spec.name))).unwrap();
    }
    for other in &all[1..] {
        for metric in [Metric::Accuracy, Metric::Loss] {
            let name = format!("vanilla_vs_{}_{}.png", other.0.spec.name, metric.name());
            plot_comparison(all[0], *other, metric, &out.join(name)).unwrap();
        }
    }
    plot_all_variants(&all, Metric::Accuracy, &out.join("all_val_accuracy.png")).unwrap();
    plot_all_variants(&all, Metric::Loss, &out.join("all_val_loss.png")).unwrap();
    let one = synthetic("vanilla", 1, 0.8, 0.9, 0.01);
    plot_accuracy(&one, all[0].1, &out.join("one_epoch.png")).unwrap();
    let mut gappy = runs[1].0.clone();
    gappy.epochs[3].val_accuracy = f64::NAN;
    gappy.epochs[5].val_accuracy = f64::NAN;
    gappy.epochs[10].accuracy = f64::INFINITY;
    plot_accuracy(&gappy, all[1].1, &out.join("gaps.png")).unwrap();
}
