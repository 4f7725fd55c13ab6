//! API dialects: each turns a request (parameters, caller) into a response (status, headers,
//! body) by asking a [`inlink_store::LinkStore`]. They know nothing of HTTP frameworks; the
//! server crate adapts them.

pub mod json;
pub mod mediawiki;
pub mod native;
pub mod siyuan;

/// A dialect's answer, ready to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}
