use thiserror::Error;

/// Why a string is not a valid title. The variants follow MediaWiki's
/// `title-invalid-*` messages so that callers can explain the rejection.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TitleError {
    #[error("empty title")]
    Empty,
    #[error("title contains the replacement character U+FFFD")]
    Utf8,
    #[error("title contains an illegal character or sequence: {0:?}")]
    Characters(String),
    #[error("relative path segments (. or ..) are not allowed in titles")]
    Relative,
    #[error("titles may not contain ~~~")]
    Magic,
    #[error("title is longer than {max} bytes")]
    TooLong { max: usize },
    #[error("a talk page title may not start with another namespace or interwiki prefix")]
    TalkNamespace,
    #[error("a title may not start with a colon")]
    LeadingColon,
    #[error("a namespace prefix alone is not a title")]
    EmptyInNamespace,
}

/// The error type of this crate for everything but title parsing.
#[derive(Debug, Error)]
pub enum ModelError {
    #[error("siteinfo is not valid: {0}")]
    SiteInfo(String),
    #[error("siteinfo JSON: {0}")]
    Json(#[from] serde_json::Error),
}
