//! Replays every fuzz target's checked-in corpus (`fuzz/corpus/<target>/`, minimised by
//! `cargo fuzz cmin`, and `fuzz/regressions/<target>/`: crash inputs kept after their fix)
//! through the same functions the fuzzers call.

use std::path::Path;

#[test]
fn every_target_replays_its_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut total = 0;
    for (name, run) in inlink_fuzzing::TARGETS {
        let mut inputs = 0;
        for dir in ["corpus", "regressions"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(name)) else {
                continue;
            };
            for e in entries {
                let path = e.unwrap().path();
                let bytes = std::fs::read(&path).unwrap();
                let result = std::panic::catch_unwind(|| run(&bytes));
                assert!(result.is_ok(), "{name}: {} panics", path.display());
                inputs += 1;
            }
        }
        assert!(inputs > 0, "{name}: no corpus under fuzz/corpus/{name}");
        total += inputs;
    }
    println!("{total} inputs replayed");
}

#[test]
fn every_target_has_a_fuzz_binary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    for (name, _) in inlink_fuzzing::TARGETS {
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "fuzz/Cargo.toml lacks {name}"
        );
        assert!(root.join(format!("fuzz_targets/{name}.rs")).exists());
    }
}
