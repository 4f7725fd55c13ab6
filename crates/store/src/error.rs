use thiserror::Error;

/// Everything a store can fail with. `Corrupted` and `IncompatibleFormat` tell the operator
/// what to do; the others are passing I/O or usage problems.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("the index at {path} is corrupted ({detail}); rebuild it with `inlink import`")]
    Corrupted { path: String, detail: String },
    #[error("the index at {path} has format version {found}, this inlink reads version {expected}; rebuild it with `inlink import`")]
    IncompatibleFormat {
        path: String,
        found: String,
        expected: u32,
    },
    #[error("the index at {path} is in use by another process")]
    Locked { path: String },
    #[error("I/O error on the index: {0}")]
    Io(#[from] std::io::Error),
    #[error("storage engine error: {0}")]
    Engine(String),
    #[error("invalid operation: {0}")]
    Invalid(String),
}
