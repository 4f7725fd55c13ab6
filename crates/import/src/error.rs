use thiserror::Error;

/// Why an import stopped. Bad records do not stop an import: they are counted and
/// reported in the [`crate::Summary`].
#[derive(Debug, Error)]
pub enum ImportError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] inlink_store::StoreError),
    #[error("{path}: not a format inlink can import ({why})")]
    UnknownFormat { path: String, why: String },
    #[error("{path} at byte {position}: {message}")]
    Malformed {
        path: String,
        position: u64,
        message: String,
    },
    #[error("temporary storage: {0}")]
    Temp(String),
    #[error(transparent)]
    Model(#[from] inlink_model::ModelError),
    /// A note change names a path or carries content the folder refuses.
    #[error("{path}: {why}")]
    BadNote { path: String, why: String },
    #[error("{path}: no such note")]
    NoNote { path: String },
    #[error("{path}: a note is there already")]
    NoteExists { path: String },
    /// Change `op` of a batch was refused; nothing of the batch was written.
    #[error("change {op}: {source}")]
    InBatch { op: usize, source: Box<ImportError> },
}

impl ImportError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        ImportError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
