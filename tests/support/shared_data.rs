//! The corpora of `../shared/data`, for the test crates that read them (each includes this
//! file with `#[path]`: one rule for what missing data means).

/// A corpus from `../shared/data`. Missing data fails under CI and is skipped elsewhere.
pub fn data(rel: &str) -> Option<std::path::PathBuf> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel);
    if p.exists() {
        return Some(p);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("test data {} is missing (CI=true)", p.display());
    }
    eprintln!("skipping: test data {} is not there", p.display());
    None
}
