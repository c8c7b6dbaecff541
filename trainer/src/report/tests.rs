//! Golden tables typed by hand, and history files written and read back.

use std::fs;

use crate::report::error::ReportError;
use crate::report::history::{HISTORY_CSV, HISTORY_JSON, read_history, write_history};
use crate::report::summary::{
    Quantized, SUMMARY_CSV, SUMMARY_CSV_HEADER, SUMMARY_MD, SummaryRow, summary_csv,
    summary_markdown, thousands, write_summary,
};
use crate::training::history::{EpochRecord, History, TestScore};
use crate::variant::Variant;

fn row(name: &str, notebook: Option<f64>) -> SummaryRow {
    SummaryRow {
        name: name.to_owned(),
        params_trained: 0,
        params_exported: 0,
        seconds_per_epoch: 0.0,
        best_val_accuracy: 0.0,
        final_val_accuracy: 0.0,
        test_loss: 0.0,
        test_accuracy: 0.0,
        notebook_test_accuracy: notebook,
        model_bytes: 0,
        quantized: Quantized::default(),
    }
}

/// Hand-made rows: one ordinary, one with BatchNorm parameters folded away, one variant the
/// notebook does not have.
fn rows() -> Vec<SummaryRow> {
    vec![
        SummaryRow {
            params_trained: 164_013,
            params_exported: 164_013,
            seconds_per_epoch: 4.2567,
            best_val_accuracy: 0.8906,
            final_val_accuracy: 0.885,
            test_loss: 0.41264,
            test_accuracy: 0.8823,
            model_bytes: 656_180,
            quantized: Quantized {
                f16_bytes: Some(328_780),
                f16_test_accuracy: Some(0.8821),
                int8_bytes: Some(168_840),
                int8_test_accuracy: Some(0.8809),
                int8_agreement: Some(0.9931),
            },
            ..row("vanilla", Some(0.881))
        },
        SummaryRow {
            params_trained: 165_293,
            params_exported: 164_013,
            seconds_per_epoch: 12.5,
            best_val_accuracy: 0.782,
            final_val_accuracy: 0.7717,
            test_loss: 0.646,
            test_accuracy: 0.7601,
            model_bytes: 656_180,
            ..row("bn_dropout", Some(0.768))
        },
        SummaryRow {
            params_trained: 999,
            params_exported: 1_000,
            seconds_per_epoch: 0.5,
            best_val_accuracy: 0.5,
            final_val_accuracy: 0.25,
            test_loss: 1.0,
            test_accuracy: 0.125,
            model_bytes: 1_234_567,
            ..row("tiny,v2", None)
        },
    ]
}

// Typed by hand from the rows above: widths are the longer of header and widest cell.
const GOLDEN_MD: &str = "\
| variant    | params trained | params exported | s/epoch (median) | best val acc | final val acc | test loss | test acc | notebook test acc | Δ vs notebook | model bytes | f16 bytes | f16 test acc | int8 bytes | int8 test acc | int8 = f32 class |
|:-----------|---------------:|----------------:|-----------------:|-------------:|--------------:|----------:|---------:|------------------:|--------------:|------------:|----------:|-------------:|-----------:|--------------:|-----------------:|
| vanilla    |        164,013 |         164,013 |             4.26 |       0.8906 |        0.8850 |    0.4126 |   0.8823 |             0.881 |        +0.001 |     656,180 |   328,780 |       0.8821 |    168,840 |        0.8809 |          99.31 % |
| bn_dropout |        165,293 |         164,013 |            12.50 |       0.7820 |        0.7717 |    0.6460 |   0.7601 |             0.768 |        -0.008 |     656,180 |       n/a |          n/a |        n/a |           n/a |              n/a |
| tiny,v2    |            999 |           1,000 |             0.50 |       0.5000 |        0.2500 |    1.0000 |   0.1250 |               n/a |           n/a |   1,234,567 |       n/a |          n/a |        n/a |           n/a |              n/a |
";

const GOLDEN_CSV: &str = "\
variant,params_trained,params_exported,seconds_per_epoch,best_val_accuracy,final_val_accuracy,test_loss,test_accuracy,notebook_test_accuracy,model_bytes,f16_bytes,f16_test_accuracy,int8_bytes,int8_test_accuracy,int8_agreement
vanilla,164013,164013,4.2567,0.8906,0.885,0.41264,0.8823,0.881,656180,328780,0.8821,168840,0.8809,0.9931
bn_dropout,165293,164013,12.5,0.782,0.7717,0.646,0.7601,0.768,656180,,,,,
\"tiny,v2\",999,1000,0.5,0.5,0.25,1,0.125,,1234567,,,,,
";

#[test]
fn summary_markdown_matches_golden() {
    assert_eq!(summary_markdown(&rows()), GOLDEN_MD);
}

#[test]
fn summary_csv_matches_golden() {
    assert_eq!(summary_csv(&rows()), GOLDEN_CSV);
}

#[test]
fn empty_summary_is_just_the_header() {
    assert_eq!(summary_markdown(&[]).lines().count(), 2);
    assert_eq!(summary_csv(&[]), format!("{SUMMARY_CSV_HEADER}\n"));
}

#[test]
fn thousands_separators() {
    for (n, s) in [
        (0, "0"),
        (999, "999"),
        (1_000, "1,000"),
        (164_013, "164,013"),
    ] {
        assert_eq!(thousands(n), s);
    }
    assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
}

fn history() -> History {
    // Epochs 1-3 of the notebook's vanilla run, with made-up seconds.
    let rec = |epoch, loss, accuracy, val_loss, val_accuracy, seconds| EpochRecord {
        epoch,
        loss,
        accuracy,
        val_loss,
        val_accuracy,
        seconds,
    };
    History {
        spec: Variant::Vanilla.spec(),
        epochs: vec![
            rec(1, 0.3341, 0.8766, 0.3904, 0.8631, 19.0),
            rec(2, 0.3157, 0.8837, 0.3603, 0.8742, 18.5),
            rec(3, 0.2959, 0.8904, 0.35, 0.8781, 30.25),
        ],
    }
}

#[test]
fn summary_row_from_run() {
    let test = TestScore {
        loss: 0.4,
        accuracy: 0.88,
    };
    let r = SummaryRow::from_run(&history(), &test, 10, 9, 100).unwrap();
    assert_eq!(r.seconds_per_epoch, 19.0);
    assert_eq!(r.best_val_accuracy, 0.8781);
    assert_eq!(r.final_val_accuracy, 0.8781);
    assert_eq!(r.notebook_test_accuracy, Some(0.881));
    assert_eq!((r.test_loss, r.test_accuracy), (0.4, 0.88));

    let empty = History {
        spec: Variant::Bn.spec(),
        epochs: vec![],
    };
    let err = SummaryRow::from_run(&empty, &test, 0, 0, 0).unwrap_err();
    assert!(matches!(err, ReportError::EmptyHistory { .. }), "{err}");
}

#[test]
fn history_round_trips_through_json_and_csv_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs/vanilla");
    write_history(&history(), &out).unwrap();
    assert_eq!(read_history(&out).unwrap(), history());

    let csv = fs::read_to_string(out.join(HISTORY_CSV)).unwrap();
    let expected = "epoch,loss,accuracy,val_loss,val_accuracy,seconds\n\
                    1,0.3341,0.8766,0.3904,0.8631,19\n\
                    2,0.3157,0.8837,0.3603,0.8742,18.5\n\
                    3,0.2959,0.8904,0.35,0.8781,30.25\n";
    assert_eq!(csv, expected);
    let mut names: Vec<_> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, [HISTORY_CSV, HISTORY_JSON]);
}

#[test]
fn write_summary_writes_both_files() {
    let dir = tempfile::tempdir().unwrap();
    write_summary(&rows(), dir.path()).unwrap();
    assert_eq!(
        fs::read_to_string(dir.path().join(SUMMARY_MD)).unwrap(),
        GOLDEN_MD
    );
    assert_eq!(
        fs::read_to_string(dir.path().join(SUMMARY_CSV)).unwrap(),
        GOLDEN_CSV
    );
}

#[test]
fn read_history_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = read_history(dir.path()).unwrap_err();
    assert!(err.to_string().contains(HISTORY_JSON), "{err}");
    fs::write(dir.path().join(HISTORY_JSON), b"{").unwrap();
    let err = read_history(dir.path()).unwrap_err();
    assert!(matches!(err, ReportError::Json { .. }), "{err}");
}
