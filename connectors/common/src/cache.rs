//! The conditional-GET page cache kept in a source's checkpoint: per URL, the validators the
//! server gave (`ETag`, `Last-Modified`) and what the connector derived from the page (the ids of
//! its records, links, warnings — never copies of records: the store has them). On the next run a
//! 304 reuses that value, so an unchanged page costs one cheap request and still yields its
//! records, by id (a complete listing must list them, or they would be swept); see
//! [`fetch_page_or_stored`].
//!
//! The checkpoint is written with the records in one transaction, so the cache never describes
//! records that were not stored. A cache made under other params (a fingerprint mismatch) or by
//! another version is ignored, so changed selectors take effect at once.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use snodo_connector::{Fetched, HarvestContext, HttpClient, HttpError, HttpResponse, Validators};
use snodo_model::RecordId;

/// 2: pages hold record ids, not records (a cache of version 1 is dropped: its pages are fetched
/// again once).
const VERSION: u32 = 2;

/// One cached page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CachedPage {
    #[serde(flatten)]
    pub validators: Validators,
    /// What the connector made of the page (its own shape).
    pub value: serde_json::Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Pages by URL, plus the fingerprint of the params they were derived under.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PageCache {
    #[serde(default)]
    v: u32,
    #[serde(default)]
    fingerprint: String,
    #[serde(default)]
    pages: BTreeMap<String, CachedPage>,
}

impl PageCache {
    pub fn new(fingerprint: &str) -> PageCache {
        PageCache {
            v: VERSION,
            fingerprint: fingerprint.to_owned(),
            pages: BTreeMap::new(),
        }
    }

    /// The cache in a checkpoint; empty when absent, unreadable, or made under other params.
    pub fn load(checkpoint: Option<&str>, fingerprint: &str) -> PageCache {
        checkpoint
            .and_then(|c| serde_json::from_str::<PageCache>(c).ok())
            .filter(|c| c.v == VERSION && c.fingerprint == fingerprint)
            .unwrap_or_else(|| PageCache::new(fingerprint))
    }

    pub fn get(&self, url: &str) -> Option<&CachedPage> {
        self.pages.get(url)
    }

    pub fn len(&self) -> usize {
        self.pages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// Remembers a page; pages without validators are not worth keeping.
    pub fn put(&mut self, url: &str, page: CachedPage) {
        if !page.validators.is_empty() {
            self.pages.insert(url.to_owned(), page);
        }
    }

    /// The checkpoint string (None when there is nothing to remember).
    pub fn to_checkpoint(&self) -> Option<String> {
        if self.pages.is_empty() {
            return None;
        }
        serde_json::to_string(self).ok()
    }
}

/// A fingerprint of a connector's params (their `Debug` form) and of this crate's version.
pub fn fingerprint(params: &impl std::fmt::Debug) -> String {
    let text = format!("{}:{params:?}", env!("CARGO_PKG_VERSION"));
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

/// A page fetched through the cache.
#[derive(Debug, Clone)]
pub enum Page {
    Fresh {
        response: HttpResponse,
        validators: Validators,
    },
    /// 304: the value cached last time is still right.
    Unchanged(CachedPage),
    /// `robots.txt` forbids it: nothing was requested.
    Disallowed { robots_url: String },
}

/// Fetches `url` politely, conditionally when `previous` has validators for it.
pub async fn fetch_page(
    http: &HttpClient,
    previous: &PageCache,
    url: &str,
    accept: &str,
) -> Result<Page, HttpError> {
    let cached = previous.get(url);
    match http
        .fetch(url, accept, cached.map(|c| &c.validators))
        .await?
    {
        Fetched::Page {
            response,
            validators,
        } => Ok(Page::Fresh {
            response,
            validators,
        }),
        Fetched::NotModified => Ok(Page::Unchanged(cached.cloned().unwrap_or_default())),
        Fetched::Disallowed { robots_url } => Ok(Page::Disallowed { robots_url }),
    }
}

/// Fetches `url` like [`fetch_page`], for a page whose cached value names records (`ids` reads
/// them from it). When the server says the page is unchanged, its records are handed over by id
/// (the second value) if the store still has every one of them; otherwise — or if the cached
/// value cannot be read — the page is fetched again as if never seen, so the connector makes
/// its records anew.
pub async fn fetch_page_or_stored(
    ctx: &HarvestContext,
    previous: &PageCache,
    url: &str,
    accept: &str,
    ids: impl Fn(&CachedPage) -> Option<Vec<RecordId>>,
) -> Result<(Page, Vec<RecordId>), HttpError> {
    let page = fetch_page(&ctx.http, previous, url, accept).await?;
    if let Page::Unchanged(c) = &page {
        if let Some(ids) = ids(c) {
            if ids.is_empty() || ctx.all_stored(&ids).await {
                return Ok((page, ids));
            }
        }
        let none = PageCache::new(&previous.fingerprint);
        return Ok((fetch_page(&ctx.http, &none, url, accept).await?, Vec::new()));
    }
    Ok((page, Vec::new()))
}

/// Record ids as a cached page keeps them; `None` if any is not one.
pub fn parse_ids<'a>(ids: impl IntoIterator<Item = &'a String>) -> Option<Vec<RecordId>> {
    ids.into_iter().map(|id| id.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_round_trip_and_invalidation() {
        let mut c = PageCache::new("abc");
        assert_eq!(c.to_checkpoint(), None);
        c.put(
            "https://x.it/feed",
            CachedPage {
                validators: Validators {
                    etag: Some("\"1\"".into()),
                    last_modified: None,
                },
                value: serde_json::json!([1, 2]),
                warnings: vec![],
            },
        );
        c.put("https://x.it/nope", CachedPage::default());
        let cp = c.to_checkpoint().unwrap();
        let back = PageCache::load(Some(&cp), "abc");
        assert_eq!(back.len(), 1);
        assert_eq!(
            back.get("https://x.it/feed").unwrap().value,
            serde_json::json!([1, 2])
        );
        assert!(PageCache::load(Some(&cp), "other").is_empty());
        assert!(PageCache::load(Some("not json"), "abc").is_empty());
        assert!(PageCache::load(Some("{\"v\":99}"), "abc").is_empty());
        assert_ne!(fingerprint(&("a", 1)), fingerprint(&("a", 2)));
    }
}
