//! The main job: train the chosen models concurrently (in worker processes or threads), then
//! write the comparison plots and the summary tables.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use indicatif::MultiProgress;

use crate::data::{Dataset, FashionMnist};
use crate::job::error::RunError;
use crate::job::out_dir::{Claimed, claim};
use crate::job::single::{ModelRun, Settings, run_one};
use crate::job::worker::run_in_worker;
use crate::model::spec::MlpSpec;
use crate::plot::{Metric, plot_all_variants, plot_comparison};
use crate::report::{SummaryRow, write_summary};
use crate::training::{Bars, History, TestScore};

/// What to run and where to put it.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Models to train, in the order they are reported; the first is the baseline of the
    /// comparison plots.
    pub specs: Vec<MlpSpec>,
    /// What every model shares.
    pub settings: Settings,
    /// Models trained at the same time (each on one core).
    pub jobs: usize,
    /// The `trainer` executable: with it, each model trains in its own `trainer worker`
    /// process (see [`crate::job::worker`] for why); without it, in a thread of this process.
    pub worker: Option<PathBuf>,
}

/// Trains every model of `opts` on the data in `data_dir` (`jobs` at a time), then writes the
/// comparison plots and `summary.{md,csv}`. Returns the runs in the order of `opts.specs`.
/// Worker processes load the data themselves; only threads need it loaded here.
///
/// Before anything is loaded, every setting is checked ([`Settings::check`]) and `OUT` is
/// claimed for this run ([`claim`]: locked, a killed run's temporary files removed, an earlier
/// run's files set aside unless resuming); what was tidied is reported through `multi`.
///
/// # Errors
/// The first [`RunError`] of any model; finished models keep their files.
pub fn run(
    opts: &RunOptions,
    data_dir: &Path,
    multi: &MultiProgress,
) -> Result<Vec<ModelRun>, RunError> {
    let out = &opts.settings.out;
    opts.settings.check(&opts.specs)?;
    let claimed = claim(out, &opts.specs, opts.settings.resume)?;
    report_tidying(&claimed, multi);
    let runner = match &opts.worker {
        Some(exe) => Runner::Workers(exe),
        None => {
            let classes = opts.specs.iter().map(MlpSpec::classes).max().unwrap_or(0);
            let data = FashionMnist::load_dir(data_dir, classes)?;
            let (train_set, val_set) = data.split_validation();
            Runner::Threads(train_set, val_set, data.test)
        }
    };
    let order = schedule(&opts.specs);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<ModelRun, RunError>>>> =
        Mutex::new(opts.specs.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.clamp(1, opts.specs.len().max(1)) {
            scope.spawn(|| {
                while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let spec = &opts.specs[i];
                    let result = match &runner {
                        Runner::Workers(exe) => {
                            run_in_worker(exe, spec, &opts.settings, data_dir, multi)
                        }
                        Runner::Threads(train_set, val_set, test_set) => run_one(
                            spec,
                            &opts.settings,
                            (train_set, val_set, test_set),
                            &Bars::new(multi, &spec.name),
                        ),
                    };
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
                }
            });
        }
    });
    let runs = results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .flatten()
        .collect::<Result<Vec<_>, _>>()?;

    write_comparisons(&runs, out)?;
    let rows: Vec<SummaryRow> = runs.iter().map(|r| r.row.clone()).collect();
    write_summary(&rows, out)?;
    Ok(runs)
}

/// Says what [`claim`] removed and set aside.
fn report_tidying(claimed: &Claimed, multi: &MultiProgress) {
    let say = |line: String| {
        if multi.is_hidden() || multi.println(&line).is_err() {
            eprintln!("{line}");
        }
    };
    if !claimed.removed.is_empty() {
        let paths: Vec<String> = claimed
            .removed
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        say(format!(
            "removed {} temporary file(s) left by a trainer that was killed: {}",
            paths.len(),
            paths.join(", ")
        ));
    }
    if let Some((dir, n)) = &claimed.set_aside {
        say(format!(
            "this run does not --resume: the {n} files of the earlier run it would replace are \
             now in {}",
            dir.display()
        ));
    }
}

/// Where the models of [`run`] train.
enum Runner<'a> {
    /// In `trainer worker` processes started from this executable.
    Workers(&'a Path),
    /// In threads of this process, on this training, validation and test split.
    Threads(Dataset, Dataset, Dataset),
}

/// Indices into `specs`, longest training first (longest-processing-time scheduling): with two
/// cores and the notebook's order the slowest model would start second and run alone at the
/// end. The order changes no result, since every run draws from its own seeded streams.
fn schedule(specs: &[MlpSpec]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..specs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(specs[i].relative_cost()));
    order
}

/// The notebook's comparisons: the first model (vanilla, in the notebook's order) against each
/// other one, `FIRST_vs_OTHER_{accuracy,loss}.png`, and all models together,
/// `all_val_{accuracy,loss}.png`.
fn write_comparisons(runs: &[ModelRun], out: &Path) -> Result<(), RunError> {
    for metric in [Metric::Accuracy, Metric::Loss] {
        if let Some((base, others)) = runs.split_first() {
            for other in others {
                let name = format!(
                    "{}_vs_{}_{}.png",
                    base.history.spec.name,
                    other.history.spec.name,
                    metric.name()
                );
                plot_comparison(
                    (&base.history, &base.test),
                    (&other.history, &other.test),
                    metric,
                    &out.join(name),
                )?;
            }
        }
        let all: Vec<(&History, &TestScore)> = runs.iter().map(|r| (&r.history, &r.test)).collect();
        if all.len() > 1 {
            plot_all_variants(
                &all,
                metric,
                &out.join(format!("all_val_{}.png", metric.name())),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variant::Variant;

    #[test]
    fn schedule_starts_the_longest_models_and_keeps_every_one_once() {
        let specs: Vec<MlpSpec> = Variant::ALL.iter().map(|v| v.spec()).collect();
        let order = schedule(&specs);
        let names: Vec<&str> = order.iter().map(|&i| specs[i].name.as_str()).collect();
        assert_eq!(names, ["dropout", "bn_dropout", "bn", "vanilla"]);
        assert_eq!(schedule(&specs[2..3]), [0]);
        assert!(schedule(&[]).is_empty());
    }
}
