//! The loop's tests on real data: reproducibility, threads, resume, refusals, Adam by hand.

use std::fs;
use std::path::Path;
use std::sync::OnceLock;

use burn::optim::SimpleOptimizer;
use burn::tensor::Tensor;
use indicatif::MultiProgress;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::Backend;
use crate::data::dataset::Dataset;
use crate::model::{INPUTS, Mlp, MovingVariance, Snapshot, logits};
use crate::training::adam::{KerasAdam, host_vec};
use crate::training::checkpoint::{Checkpointing, check_matches, read_checkpoint};
use crate::training::config::{TrainConfig, TrainError};
use crate::training::fit::{Stream, TrainOutcome, argmax, derive_seed, evaluate, train};
use crate::training::history::History;
use crate::training::progress::Bars;
use crate::variant::Variant;

const NUM_CLASSES: usize = 10;

/// Images `start..start + n` of the real `train` or `t10k` set, read once per test binary.
fn fashion(kind: &str, start: usize, n: usize) -> Dataset {
    static SETS: OnceLock<[Dataset; 2]> = OnceLock::new();
    let sets = SETS.get_or_init(|| {
        let dir = Path::new(idx::layout::DEBIAN_DIR);
        let read = |images: &str, labels: &str| Dataset {
            images: idx::read_images(&dir.join(images))
                .unwrap_or_else(|e| panic!("{e} (apt-get install dataset-fashion-mnist)")),
            labels: idx::read_labels(&dir.join(labels), NUM_CLASSES).expect("labels"),
        };
        [
            read(
                idx::layout::TRAIN_IMAGES_FILE,
                idx::layout::TRAIN_LABELS_FILE,
            ),
            read(idx::layout::TEST_IMAGES_FILE, idx::layout::TEST_LABELS_FILE),
        ]
    });
    let set = &sets[usize::from(kind == "t10k")];
    Dataset {
        images: set.images[start * INPUTS..(start + n) * INPUTS].to_vec(),
        labels: set.labels[start..start + n].to_vec(),
    }
}

fn quiet() -> MultiProgress {
    MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden())
}

/// History without wall-clock seconds, for exact comparisons.
fn figures(history: &History) -> Vec<[f64; 4]> {
    history
        .epochs
        .iter()
        .map(|e| [e.loss, e.accuracy, e.val_loss, e.val_accuracy])
        .collect()
}

fn snapshot(outcome: &TrainOutcome) -> Snapshot {
    outcome.model.snapshot()
}

#[test]
fn same_seed_gives_the_same_first_epoch() {
    let (train, val) = (fashion("train", 0, 512), fashion("train", 512, 256));
    let config = TrainConfig {
        epochs: 1,
        seed: 42,
        ..TrainConfig::default()
    };
    let run =
        |config: &TrainConfig| train_quiet(Variant::BnDropout, config, &train, &val, None, false);
    let (a, b) = (run(&config), run(&config));
    assert_eq!(figures(&a.history), figures(&b.history));
    assert_eq!(snapshot(&a), snapshot(&b));
    let other = run(&TrainConfig { seed: 43, ..config });
    assert_ne!(figures(&a.history), figures(&other.history));
    // 64 Adam steps on 512 images already beat chance by far.
    assert!(a.history.epochs[0].val_accuracy > 0.4, "{:?}", a.history);
}

fn checkpoints(dir: Option<&Path>, resume: bool) -> Option<Checkpointing> {
    dir.map(|dir| Checkpointing {
        dir: dir.to_path_buf(),
        resume,
    })
}

fn train_quiet(
    variant: Variant,
    config: &TrainConfig,
    train_set: &Dataset,
    val: &Dataset,
    dir: Option<&Path>,
    resume: bool,
) -> TrainOutcome {
    try_train(variant, config, (train_set, val), dir, resume).unwrap()
}

fn try_train(
    variant: Variant,
    config: &TrainConfig,
    sets: (&Dataset, &Dataset),
    dir: Option<&Path>,
    resume: bool,
) -> Result<TrainOutcome, TrainError> {
    let multi = quiet();
    let bars = Bars::new(&multi, variant.name());
    train(
        &variant.spec(),
        config,
        sets,
        checkpoints(dir, resume).as_ref(),
        &bars,
    )
}

#[test]
fn concurrent_runs_in_threads_equal_a_lone_run() {
    let (train_set, val) = (fashion("train", 0, 128), fashion("t10k", 0, 64));
    let config = TrainConfig {
        epochs: 2,
        seed: 5,
        ..TrainConfig::default()
    };
    let run = |variant| train_quiet(variant, &config, &train_set, &val, None, false);
    let alone = run(Variant::BnDropout);
    let together: Vec<TrainOutcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = [Variant::BnDropout, Variant::Bn, Variant::BnDropout]
            .map(|variant| scope.spawn(move || run(variant)))
            .into_iter()
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for outcome in [&together[0], &together[2]] {
        assert_eq!(figures(&outcome.history), figures(&alone.history));
        assert_eq!(snapshot(outcome), snapshot(&alone));
    }
}

#[test]
fn resume_after_epoch_one_equals_a_straight_run() {
    let (train, val) = (fashion("train", 0, 200), fashion("t10k", 0, 100));
    let config = TrainConfig {
        epochs: 2,
        seed: 7,
        ..TrainConfig::default()
    };
    for variant in [Variant::BnDropout, Variant::Dropout] {
        let straight_dir = tempfile::tempdir().unwrap();
        let straight = train_quiet(
            variant,
            &config,
            &train,
            &val,
            Some(straight_dir.path()),
            false,
        );

        let dir = tempfile::tempdir().unwrap();
        let first = TrainConfig {
            epochs: 1,
            ..config.clone()
        };
        let half = train_quiet(variant, &first, &train, &val, Some(dir.path()), false);
        assert_eq!(half.history.epochs.len(), 1);
        let resumed = train_quiet(variant, &config, &train, &val, Some(dir.path()), true);

        assert_eq!(
            figures(&resumed.history),
            figures(&straight.history),
            "{variant}"
        );
        assert_eq!(snapshot(&resumed), snapshot(&straight), "{variant}");
        // (The record bytes differ: burn draws fresh parameter ids for every model.)
        let ckpt = |d: &Path| read_checkpoint(&d.join(format!("{variant}.ckpt"))).unwrap();
        let (a, b) = (ckpt(straight_dir.path()), ckpt(dir.path()));
        assert_eq!(figures(&a.meta.history), figures(&b.meta.history));
    }
}

#[test]
fn resume_refuses_another_configuration_and_damaged_files() {
    let (train_set, val) = (fashion("train", 0, 64), fashion("t10k", 0, 32));
    let dir = tempfile::tempdir().unwrap();
    let config = TrainConfig {
        epochs: 1,
        seed: 1,
        ..TrainConfig::default()
    };
    train_quiet(
        Variant::Vanilla,
        &config,
        &train_set,
        &val,
        Some(dir.path()),
        false,
    );
    let run = |config: &TrainConfig| {
        try_train(
            Variant::Vanilla,
            config,
            (&train_set, &val),
            Some(dir.path()),
            true,
        )
    };

    let other = TrainConfig {
        epochs: 2,
        seed: 2,
        ..config.clone()
    };
    match run(&other) {
        Err(TrainError::CheckpointMismatch { details, .. }) => {
            assert!(details.contains("seed 1 vs 2"), "{details}");
            assert!(!details.contains("epochs"), "{details}");
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }

    let path = dir.path().join("vanilla.ckpt");
    let meta = read_checkpoint(&path).unwrap().meta;
    let err = check_matches(&path, &meta, &Variant::Bn.spec(), &config).unwrap_err();
    assert!(err.to_string().contains("model vanilla vs bn"), "{err}");
    let mut wider = Variant::Vanilla.spec();
    wider.hidden[0].width += 1;
    let err = check_matches(&path, &meta, &wider, &config).unwrap_err();
    assert!(
        err.to_string().contains("the spec of model vanilla"),
        "{err}"
    );

    let mut bytes = fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        run(&config),
        Err(TrainError::CheckpointCorrupt { .. })
    ));
    fs::write(&path, &bytes[..100]).unwrap();
    assert!(matches!(
        run(&config),
        Err(TrainError::CheckpointCorrupt { .. })
    ));
}

#[test]
fn resume_without_a_checkpoint_starts_from_scratch_and_finished_runs_return_at_once() {
    let (train_set, val) = (fashion("train", 0, 64), fashion("t10k", 0, 32));
    let dir = tempfile::tempdir().unwrap();
    let config = TrainConfig {
        epochs: 1,
        ..TrainConfig::default()
    };
    let fresh = train_quiet(
        Variant::Bn,
        &config,
        &train_set,
        &val,
        Some(dir.path()),
        true,
    );
    let again = train_quiet(
        Variant::Bn,
        &config,
        &train_set,
        &val,
        Some(dir.path()),
        true,
    );
    assert_eq!(fresh.history, again.history);
    assert_eq!(snapshot(&fresh), snapshot(&again));
    assert_eq!(again.params, 164_993);
}

#[test]
fn nan_loss_is_an_error_naming_epoch_and_step() {
    let (train_set, val) = (fashion("train", 0, 64), fashion("t10k", 0, 32));
    // A NaN rate is refused before training (finding 7 of issue 13); a finite but absurd one
    // is not: Adam moves every weight by about the rate, so step 1 computes a finite loss and
    // the weights it leaves (about 1e30) overflow step 2's logits.
    let config = |learning_rate| TrainConfig {
        learning_rate,
        ..TrainConfig::default()
    };
    let nan = try_train(
        Variant::Vanilla,
        &config(f64::NAN),
        (&train_set, &val),
        None,
        false,
    );
    assert!(
        matches!(
            nan,
            Err(TrainError::InvalidSetting {
                setting: "learning rate",
                ..
            })
        ),
        "{nan:?}"
    );
    match try_train(
        Variant::Vanilla,
        &config(1e30),
        (&train_set, &val),
        None,
        false,
    ) {
        Err(TrainError::NonFiniteLoss {
            epoch: 1,
            step: 2,
            value,
        }) => assert!(!value.is_finite()),
        other => panic!("expected NonFiniteLoss at 1/2, got {other:?}"),
    }
}

#[test]
fn keras_adam_matches_a_hand_computation() {
    // Two steps on three weights, Keras 2.3's update computed in f64.
    const ADAM_RTOL: f64 = 1e-6; // f32 arithmetic on values of order 1
    let adam = KerasAdam::from_config(&TrainConfig::default());
    let device = Default::default();
    let p0 = [0.5f32, -1.0, 2.0];
    let grads = [[0.1f32, -0.2, 0.0], [0.3, 0.1, -1e-4]];
    let tensor = |v: &[f32]| Tensor::<Backend, 1>::from_floats(v, &device);
    let (mut p, mut state) = (tensor(&p0), None);
    for g in &grads {
        (p, state) = SimpleOptimizer::<Backend>::step(&adam, 1e-3, p, tensor(g), state);
    }
    let got = host_vec(p);

    let (b1, b2, eps, lr) = (0.9f64, 0.999f64, 1e-7f64, 1e-3f64);
    let (mut m, mut v) = ([0.0f64; 3], [0.0f64; 3]);
    let mut want = p0.map(f64::from);
    for (t, g) in grads.iter().enumerate() {
        let t = (t + 1) as i32;
        let lr_t = lr * (1.0 - b2.powi(t)).sqrt() / (1.0 - b1.powi(t));
        for i in 0..3 {
            let g = f64::from(g[i]);
            m[i] = b1 * m[i] + (1.0 - b1) * g;
            v[i] = b2 * v[i] + (1.0 - b2) * g * g;
            want[i] -= lr_t * m[i] / (v[i].sqrt() + eps);
        }
    }
    for (g, w) in got.iter().zip(want) {
        assert!(
            (f64::from(*g) - w).abs() <= ADAM_RTOL * w.abs(),
            "{g} vs {w}"
        );
    }
    assert_eq!(state.map(|s| s.time), Some(2));
}

#[test]
fn evaluate_agrees_with_logits_in_f64() {
    const SCORE_ATOL: f64 = 1e-6; // f32 log-softmax summed in f64 over 1,500 images
    let data = fashion("t10k", 0, 1500);
    let mut rng = StdRng::seed_from_u64(3);
    let model: Mlp<Backend> = Mlp::new(&Variant::Bn.spec(), &mut rng, &Default::default());
    let score = evaluate(&model, &data);
    let all = logits(&model, &data.images, 512);
    let (mut loss, mut correct) = (0.0, 0);
    for (row, &label) in all.chunks(NUM_CLASSES).zip(&data.labels) {
        let row: Vec<f64> = row.iter().map(|&x| f64::from(x)).collect();
        let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = max + row.iter().map(|x| (x - max).exp()).sum::<f64>().ln();
        loss += lse - row[usize::from(label)];
        let best = (0..NUM_CLASSES).fold(0, |b, i| if row[i] > row[b] { i } else { b });
        correct += usize::from(best == usize::from(label));
    }
    assert!((score.loss - loss / 1500.0).abs() < SCORE_ATOL, "{score:?}");
    assert_eq!(score.accuracy, correct as f64 / 1500.0);
}

#[test]
fn argmax_takes_the_first_maximum() {
    assert_eq!(argmax(&[0.0f32, 2.0, 2.0, 1.0]), 1);
    assert_eq!(argmax(&[-1.0f32]), 0);
    assert_eq!(argmax(&[0.5f64, 3.0, 3.0]), 1);
    // NaN never wins; nothing above −∞ gives 0 (as the f32-only version it replaced did).
    assert_eq!(argmax(&[f32::NAN, 1.0, 0.5]), 1);
    assert_eq!(argmax(&[f64::NEG_INFINITY, f64::NEG_INFINITY]), 0);
    assert_eq!(argmax::<f32>(&[]), 0);
}

#[test]
fn derived_seeds_differ_by_stream_and_epoch() {
    let seeds = [
        derive_seed(0, Stream::Init, 0),
        derive_seed(0, Stream::Shuffle, 1),
        derive_seed(0, Stream::Shuffle, 2),
        derive_seed(0, Stream::Dropout, 1),
        derive_seed(1, Stream::Shuffle, 1),
    ];
    for (i, a) in seeds.iter().enumerate() {
        assert!(seeds[i + 1..].iter().all(|b| a != b));
    }
}

/// CPU seconds of the calling thread (Linux `/proc`; 10 ms resolution), so timings hold
/// up while other processes share the machine.
fn thread_cpu_seconds() -> f64 {
    let stat = fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split(' ').collect();
    // `fields[0]` is empty, then state (field 3); utime and stime are fields 14 and 15.
    let ticks = |i: usize| fields.get(i - 2).and_then(|f| f.parse::<f64>().ok());
    ticks(14)
        .zip(ticks(15))
        .map_or(f64::NAN, |(u, s)| (u + s) / 100.0)
}

/// The sanity run: every variant for one real epoch (50,000 images, validation on the last
/// 10,000), printing Keras-style lines and ms/step. `FMLP_VARIANTS=vanilla,bn` narrows it,
/// `FMLP_TRAIN_LIMIT=n` shortens it, `FMLP_KERAS2_BN=1` uses Keras 2.3's moving variance.
/// Run with `cargo test --release -p trainer --lib sanity -- --ignored --nocapture`.
#[test]
#[ignore = "one real epoch per variant: minutes"]
fn sanity_one_real_epoch() {
    let all = fashion("train", 0, 60_000);
    let split = 50_000 * INPUTS;
    let train_set = Dataset {
        images: all.images[..split].to_vec(),
        labels: all.labels[..50_000].to_vec(),
    };
    let val = Dataset {
        images: all.images[split..].to_vec(),
        labels: all.labels[50_000..].to_vec(),
    };
    let wanted = std::env::var("FMLP_VARIANTS").unwrap_or_default();
    let config = TrainConfig {
        epochs: 1,
        train_limit: std::env::var("FMLP_TRAIN_LIMIT")
            .ok()
            .and_then(|n| n.parse().ok()),
        ..TrainConfig::default()
    };
    let moving_variance = if std::env::var("FMLP_KERAS2_BN").is_ok() {
        MovingVariance::Keras2Corrected
    } else {
        MovingVariance::Biased
    };
    let steps = config.train_limit.unwrap_or(50_000).div_ceil(8) as f64;
    for variant in Variant::ALL {
        if !wanted.is_empty() && !wanted.split(',').any(|w| w == variant.name()) {
            continue;
        }
        let cpu = thread_cpu_seconds();
        let mut spec = variant.spec();
        spec.batch_norm.moving_variance = moving_variance;
        let multi = quiet();
        let bars = Bars::new(&multi, variant.name());
        let out = train(&spec, &config, (&train_set, &val), None, &bars).unwrap();
        let cpu = thread_cpu_seconds() - cpu;
        let e = out.history.epochs[0];
        eprintln!(
            "{variant}: {:.3} ms/step wall, {:.3} ms/step CPU (validation included), \
             {:.2} s/epoch, val_accuracy {:.4}",
            e.seconds * 1e3 / steps,
            cpu * 1e3 / steps,
            e.seconds,
            e.val_accuracy
        );
    }
}
