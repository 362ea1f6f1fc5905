//! A response cache in front of [`crate::answer`]: answers that the backgroundRate dice took
//! no part in (rate 100, `force`, no rule, a shutoff…) are the same for every client sending
//! the same URL, so they are kept per catalog generation and served without evaluating again.
//! Answers that rolled the dice are never cached: each client must get its own roll.

use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use crate::answer::Answer;
use crate::rules::Dice;

/// Bytes of cached bodies kept at most (oldest and least used go first).
const CAPACITY_BYTES: u64 = 64 * 1024 * 1024;

/// What an `/update` answer depends on besides the catalog: the URL, and from the User-Agent
/// only whether it names PPC (the headerArchitecture).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    generation: u64,
    ppc: bool,
    path_and_query: Box<str>,
}

impl CacheKey {
    pub fn new(generation: u64, path: &str, query: Option<&str>, user_agent: Option<&str>) -> Self {
        let path_and_query = match query {
            Some(q) => format!("{path}?{q}"),
            None => path.to_string(),
        };
        CacheKey {
            generation,
            ppc: user_agent.is_some_and(|ua| ua.contains("PPC")),
            path_and_query: path_and_query.into(),
        }
    }
}

/// A finished response: cheap to clone (the body is shared).
#[derive(Clone, Debug)]
pub struct CachedResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl From<Answer> for CachedResponse {
    fn from(a: Answer) -> Self {
        let mut headers = HeaderMap::with_capacity(a.headers.len());
        for (name, value) in a.headers {
            // Names are fixed strings; values are rule ids and fixed strings. Skip anything
            // that would not be valid rather than fail the request.
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                headers.insert(n, v);
            }
        }
        CachedResponse {
            status: StatusCode::from_u16(a.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            headers,
            body: Bytes::from(a.body),
        }
    }
}

pub type ResponseCache = moka::sync::Cache<CacheKey, CachedResponse>;

pub fn new_cache() -> ResponseCache {
    moka::sync::Cache::builder()
        .max_capacity(CAPACITY_BYTES)
        .weigher(|k: &CacheKey, v: &CachedResponse| {
            u32::try_from(k.path_and_query.len() + v.body.len() + 256).unwrap_or(u32::MAX)
        })
        .build()
}

/// A dice that remembers whether it was rolled.
pub struct WatchedDice<'a> {
    inner: &'a dyn Dice,
    rolled: AtomicBool,
}

impl<'a> WatchedDice<'a> {
    pub fn new(inner: &'a dyn Dice) -> Self {
        WatchedDice {
            inner,
            rolled: AtomicBool::new(false),
        }
    }

    pub fn rolled(&self) -> bool {
        self.rolled.load(Ordering::Relaxed)
    }
}

impl Dice for WatchedDice<'_> {
    fn roll(&self) -> u8 {
        self.rolled.store(true, Ordering::Relaxed);
        self.inner.roll()
    }
}
