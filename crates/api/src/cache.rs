//! HTTP caching of JSON answers: a strong `ETag` from the body's SHA-256, `304 Not Modified` for a
//! matching `If-None-Match`, and `Cache-Control`.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// `"` + 32 hex digits + `"`: the first 128 bits of the body's SHA-256.
pub fn etag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// Whether `If-None-Match` (a list of tags or `*`) matches `etag`, compared weakly as RFC 9110
/// asks for GET.
pub fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    let bare = etag.trim_start_matches("W/");
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/") == bare)
}

/// A JSON answer with `ETag` and `Cache-Control: public, max-age=N`, or a bodiless 304 when the
/// client already has it.
pub fn json_cached<T: Serialize>(
    req_headers: &HeaderMap,
    value: &T,
    max_age_secs: u32,
) -> Result<Response, ApiError> {
    Ok(answer_response(
        req_headers,
        &answer_of(value)?,
        max_age_secs,
    ))
}

/// A search answer ready to send: the serialised body and its `ETag`.
pub struct Answer {
    pub body: axum::body::Bytes,
    pub etag: String,
}

/// A value computed at most once per key (an index version and a day) and `ttl`, for pages
/// that show what costly searches and store queries answer, the same for every visitor. At 1M
/// records the home page's counts took 27 ms in the store and more in the index on every view:
/// 43 views a second at most under 64 connections. One caller computes while the others wait
/// for its answer; an error is not kept.
pub struct Memo<K, T> {
    ttl: std::time::Duration,
    slot: tokio::sync::Mutex<Option<(K, std::time::Instant, std::sync::Arc<T>)>>,
}

impl<K: PartialEq, T> Memo<K, T> {
    pub fn new(ttl: std::time::Duration) -> Self {
        Memo {
            ttl,
            slot: tokio::sync::Mutex::new(None),
        }
    }

    /// The value kept for `key` if younger than the ttl, else `load`'s.
    pub async fn get<E, F, Fut>(&self, key: K, load: F) -> Result<std::sync::Arc<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some((k, at, value)) = slot.as_ref() {
            if *k == key && at.elapsed() < self.ttl {
                return Ok(value.clone());
            }
        }
        let value = std::sync::Arc::new(load().await?);
        *slot = Some((key, std::time::Instant::now(), value.clone()));
        Ok(value)
    }
}

/// Recent search answers, so that the same search asked again (the widget's first page, a
/// popular word, everybody typing the same prefix) costs a hash lookup instead of a search.
///
/// Answers are valid for one index version and one day (statuses depend on today); the first
/// lookup that sees another version or day empties the cache. Eviction is two-generation: new
/// answers go into `current`; when it holds half the capacity it becomes `previous` (the older
/// one is dropped), and a hit in `previous` moves the answer back to `current`. That keeps the
/// frequently asked answers with O(1) work and no per-entry bookkeeping.
pub struct AnswerCache {
    capacity: usize,
    inner: std::sync::Mutex<Generations>,
}

#[derive(Default)]
struct Generations {
    valid_for: Option<(u64, chrono::NaiveDate)>,
    current: std::collections::HashMap<String, std::sync::Arc<Answer>>,
    previous: std::collections::HashMap<String, std::sync::Arc<Answer>>,
}

impl Generations {
    fn check(&mut self, valid_for: (u64, chrono::NaiveDate)) {
        if self.valid_for != Some(valid_for) {
            self.current.clear();
            self.previous.clear();
            self.valid_for = Some(valid_for);
        }
    }
}

impl AnswerCache {
    /// Holds at most `capacity` answers; 0 caches nothing.
    pub fn new(capacity: usize) -> Self {
        AnswerCache {
            capacity,
            inner: std::sync::Mutex::new(Generations::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generations> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The answer to `key` computed for this index version and day, if any.
    pub fn get(
        &self,
        valid_for: (u64, chrono::NaiveDate),
        key: &str,
    ) -> Option<std::sync::Arc<Answer>> {
        if self.capacity == 0 {
            return None;
        }
        let mut g = self.lock();
        g.check(valid_for);
        if let Some(a) = g.current.get(key) {
            return Some(a.clone());
        }
        let a = g.previous.remove(key)?;
        self.insert(&mut g, key.to_owned(), a.clone());
        Some(a)
    }

    /// Remembers an answer computed for `valid_for` (read before searching: if the index
    /// changed meanwhile, the answer is dropped rather than kept under the new version).
    pub fn put(
        &self,
        valid_for: (u64, chrono::NaiveDate),
        key: String,
        answer: std::sync::Arc<Answer>,
    ) {
        if self.capacity == 0 {
            return;
        }
        let mut g = self.lock();
        if g.valid_for.is_some_and(|v| v != valid_for) {
            return;
        }
        g.valid_for = Some(valid_for);
        self.insert(&mut g, key, answer);
    }

    fn insert(&self, g: &mut Generations, key: String, answer: std::sync::Arc<Answer>) {
        if g.current.len() >= self.capacity.div_ceil(2) {
            g.previous = std::mem::take(&mut g.current);
        }
        g.current.insert(key, answer);
    }

    /// Answers held now.
    pub fn len(&self) -> usize {
        let g = self.lock();
        g.current.len() + g.previous.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A serialised JSON answer with its `ETag`.
pub fn answer_of<T: Serialize>(value: &T) -> Result<Answer, ApiError> {
    let body = serde_json::to_vec(value)
        .map_err(|e| ApiError::Internal(format!("serialising an answer: {e}")))?;
    let etag = etag_of(&body);
    Ok(Answer {
        body: body.into(),
        etag,
    })
}

/// [`json_cached`] for an answer already serialised.
pub fn answer_response(req_headers: &HeaderMap, answer: &Answer, max_age_secs: u32) -> Response {
    let mut resp = if none_match(req_headers, &answer.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            answer.body.clone(),
        )
            .into_response()
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&answer.etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={max_age_secs}")) {
        h.insert(header::CACHE_CONTROL, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_memo_answers_again_until_the_version_or_the_ttl_changes() {
        use std::sync::atomic::{AtomicU32, Ordering};
        let loads = AtomicU32::new(0);
        let load = || async { Ok::<_, ()>(loads.fetch_add(1, Ordering::SeqCst) + 1) };
        let memo = Memo::new(std::time::Duration::from_secs(60));
        assert_eq!(*memo.get(1, load).await.unwrap(), 1);
        assert_eq!(*memo.get(1, load).await.unwrap(), 1, "same version: kept");
        assert_eq!(
            *memo.get(2, load).await.unwrap(),
            2,
            "a new version: loaded again"
        );
        let failing = memo.get(3, || async { Err::<u32, _>("store down") }).await;
        assert_eq!(failing.unwrap_err(), "store down");
        assert_eq!(*memo.get(3, load).await.unwrap(), 3, "an error is not kept");
        let short = Memo::new(std::time::Duration::ZERO);
        assert_eq!(*short.get(1, load).await.unwrap(), 4);
        assert_eq!(
            *short.get(1, load).await.unwrap(),
            5,
            "past its ttl: loaded again"
        );
    }

    #[test]
    fn etags_match_weakly_and_in_lists() {
        let tag = etag_of(b"{}");
        assert_eq!(tag.len(), 34);
        let mut h = HeaderMap::new();
        assert!(!none_match(&h, &tag));
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&format!("\"x\", W/{tag}")).unwrap(),
        );
        assert!(none_match(&h, &tag));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(none_match(&h, &tag));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert!(!none_match(&h, &tag));
    }

    #[test]
    fn a_matching_tag_gets_304_without_body() {
        let v = serde_json::json!({"a": 1});
        let first = json_cached(&HeaderMap::new(), &v, 30).unwrap();
        assert_eq!(first.status(), StatusCode::OK);
        let tag = first.headers()[header::ETAG].clone();
        assert_eq!(first.headers()[header::CACHE_CONTROL], "public, max-age=30");
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, tag.clone());
        let again = json_cached(&h, &v, 30).unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.headers()[header::ETAG], tag);
    }
}

#[cfg(test)]
mod answer_cache_tests {
    use std::sync::Arc;

    use chrono::NaiveDate;

    use super::*;

    fn answer(s: &str) -> Arc<Answer> {
        Arc::new(answer_of(&s).unwrap())
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn answers_live_for_one_index_version_and_one_day() {
        let c = AnswerCache::new(8);
        let v = (1, day("2026-05-10"));
        c.put(v, "q=a".into(), answer("a"));
        assert_eq!(&c.get(v, "q=a").unwrap().body[..], b"\"a\"");
        assert!(c.get(v, "q=b").is_none());
        // The index changed: nothing old is served, and the cache is emptied.
        assert!(c.get((2, v.1), "q=a").is_none());
        assert!(c.is_empty());
        // An answer computed before the change is not kept under the new version.
        c.put(v, "q=a".into(), answer("stale"));
        assert!(c.get((2, v.1), "q=a").is_none());
        // A new day: statuses may differ.
        c.put((2, v.1), "q=a".into(), answer("a"));
        assert!(c.get((2, day("2026-05-11")), "q=a").is_none());
    }

    #[test]
    fn capacity_is_bounded_and_asked_answers_stay() {
        let c = AnswerCache::new(4);
        let v = (1, day("2026-05-10"));
        // One answer is asked all the time, among a stream of new ones.
        c.put(v, "hot".into(), answer("hot"));
        for i in 0..100 {
            c.put(v, format!("q={i}"), answer("x"));
            assert!(c.get(v, "hot").is_some(), "after {i}");
            assert!(c.len() <= 4, "{} answers", c.len());
        }
        assert!(c.get(v, "q=1").is_none(), "old answers are dropped");
        let off = AnswerCache::new(0);
        off.put(v, "q".into(), answer("x"));
        assert!(off.get(v, "q").is_none());
    }
}
