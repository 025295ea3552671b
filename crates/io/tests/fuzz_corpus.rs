//! Replays the fuzzers' corpora and every crash they found (`fuzz/corpus/TARGET/*`,
//! `fuzz/artifacts/TARGET/*`) through the same entry points the fuzz targets call, so that an
//! input that once broke xisuan is checked on every test run, without the fuzzer.

use std::path::PathBuf;
use xisuan_io::fuzz::{run, TARGETS};

#[test]
fn every_corpus_input_and_past_crash_runs_clean() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut total = 0;
    for target in TARGETS {
        let mut files = Vec::new();
        for dir in ["corpus", "artifacts"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else { continue };
            for e in entries.flatten() {
                files.push(e.path());
            }
        }
        files.sort();
        assert!(!files.is_empty() || *target == "none", "no corpus for fuzz target {target}");
        for f in &files {
            // A fuzzer running beside the test may remove an input it has just superseded.
            let Ok(data) = std::fs::read(f) else { continue };
            let outcome = std::panic::catch_unwind(|| run(target, &data));
            assert!(outcome.is_ok(), "fuzz target {target} fails on {}", f.display());
        }
        total += files.len();
    }
    assert!(total > 0);
    eprintln!("replayed {total} fuzz inputs over {} targets", TARGETS.len());
}
