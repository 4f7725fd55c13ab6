//! MediaWiki answers kept for requests that come again. An answer of `api.php` depends on
//! its parameters, on whether the caller may use high limits, and on the index: the same
//! query string against the same store generation ([`LinkStore::generation`]) gets the same
//! bytes. Bots and tools ask for the same popular pages over and over (MediaWiki sits
//! behind Varnish for this), and a kept answer costs what `/healthz` costs.
//!
//! An answer is kept only when the generation did not move while it was made: a batch
//! applied meanwhile may or may not be in it. A batch bumps the generation after its
//! commit, so an answer kept under a generation never predates it. Kept answers are
//! bounded in bytes and dropped oldest first, all of them once the generation moves.
//!
//! [`LinkStore::generation`]: inlink_store::LinkStore::generation

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Answers larger than this share of the budget are not kept (one would push out many).
const LARGEST_SHARE: usize = 16;

/// (high limits, raw query string).
type Key = (bool, Box<str>);

/// A kept answer.
#[derive(Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The module it answered, for the metrics.
    pub module: &'static str,
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        (self.status, self.headers, self.body).into_response()
    }
}

#[derive(Default)]
struct Kept {
    generation: u64,
    bytes: usize,
    answers: HashMap<Key, Answer>,
    /// Keys in the order they were kept.
    order: VecDeque<Key>,
}

pub struct AnswerCache {
    budget: usize,
    kept: Mutex<Kept>,
}

impl AnswerCache {
    /// A cache of at most `budget` bytes of answers (0: none kept).
    pub fn new(budget: usize) -> Self {
        AnswerCache {
            budget,
            kept: Mutex::new(Kept::default()),
        }
    }

    /// The answer kept for this request at this generation.
    pub fn get(&self, generation: u64, high_limits: bool, query: &str) -> Option<Answer> {
        if self.budget == 0 {
            return None;
        }
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.generation != generation {
            return None;
        }
        // A borrowed key would need a second map type; the query is short.
        kept.answers.get(&(high_limits, query.into())).cloned()
    }

    /// Keeps an answer made between generations `before` and `after` (read before and after
    /// making it): only if they are the same.
    pub fn put(&self, before: u64, after: u64, high_limits: bool, query: &str, answer: &Answer) {
        let size = answer.body.len() + query.len();
        if self.budget == 0 || before != after || size > self.budget / LARGEST_SHARE {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.generation != after {
            *kept = Kept {
                generation: after,
                ..Kept::default()
            };
        }
        let key: Key = (high_limits, query.into());
        if kept.answers.contains_key(&key) {
            return;
        }
        while kept.bytes + size > self.budget {
            let Some(old) = kept.order.pop_front() else {
                break;
            };
            if let Some(a) = kept.answers.remove(&old) {
                kept.bytes -= a.body.len() + old.1.len();
            }
        }
        kept.bytes += size;
        kept.order.push_back(key.clone());
        kept.answers.insert(key, answer.clone());
    }

    /// Answers kept now, and their bytes.
    pub fn len(&self) -> (usize, usize) {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        (kept.answers.len(), kept.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &str) -> Answer {
        Answer {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::from(body.to_string()),
            module: "backlinks",
        }
    }

    #[test]
    fn kept_for_its_generation_and_caller_only() {
        let c = AnswerCache::new(1 << 20);
        c.put(3, 3, false, "a=1", &answer("one"));
        assert_eq!(c.get(3, false, "a=1").unwrap().body, "one");
        assert!(c.get(3, true, "a=1").is_none());
        assert!(c.get(3, false, "a=2").is_none());
        assert!(c.get(4, false, "a=1").is_none());
        // Made while a batch landed: not kept.
        c.put(4, 5, false, "a=1", &answer("two"));
        assert!(c.get(5, false, "a=1").is_none());
        // A new generation drops the old answers.
        c.put(5, 5, false, "b=1", &answer("three"));
        assert_eq!(c.len().0, 1);
        assert!(c.get(3, false, "a=1").is_none());
    }

    #[test]
    fn bounded_in_bytes_oldest_out_first() {
        let c = AnswerCache::new(1600);
        let body = "x".repeat(90);
        for i in 0..40 {
            c.put(1, 1, false, &format!("q={i:02}"), &answer(&body));
            assert!(c.len().1 <= 1600);
        }
        assert!(c.get(1, false, "q=00").is_none());
        assert!(c.get(1, false, "q=39").is_some());
        // Too large a share of the budget: never kept.
        c.put(1, 1, false, "big", &answer(&"y".repeat(200)));
        assert!(c.get(1, false, "big").is_none());
        // No budget, nothing kept.
        let none = AnswerCache::new(0);
        none.put(1, 1, false, "q", &answer("z"));
        assert!(none.get(1, false, "q").is_none());
    }
}
