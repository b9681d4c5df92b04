//! The JSON connector: paginated JSON APIs mapped to records by configured paths — WordPress
//! (`/wp-json/wp/v2/...`, pages counted by `X-WP-TotalPages`), Plone REST (`@search`, pages by
//! `batching.next`), or any JSON list with a mapping of its fields.
//!
//! What it owns: resolving field paths (a JSON pointer such as `/title/rendered`, or a dotted path
//! such as `title.rendered`, `_embedded.wp:term`, `items.0.id`), the presets per flavour, and
//! pagination with a page cap and a seen-set.
//!
//! What it must not do: touch the store or the index; trust markup (texts go through
//! [`snodo_sitekit::build_record`]); map authors (WordPress `author`, Plone `creators` are never
//! read: no personal data); follow `next` links to other hosts.
//!
//! Conditional GET: each page's validators and the ids of the records made from it live in the
//! checkpoint; an unchanged page hands its records over by id ([`HarvestOutput::unchanged`]).

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use snodo_connector::{
    Connector, ConnectorError, HarvestContext, HarvestOutput, Progress, SourceSpec,
};
use snodo_model::{Kind, Record, RecordId};
use snodo_sitekit::{
    build_record, fetch_page_or_stored, parse_date, parse_instant, parse_range, parse_status,
    CachedPage, Item, Page, PageCache, Target,
};

const ACCEPT: &str = "application/json";

/// Where each field is in an item: a JSON pointer (`/title/rendered`) or a dotted path
/// (`title.rendered`). Unset fields use the flavour's preset.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldMap {
    pub id: Option<String>,
    pub url: Option<String>,
    pub title: Option<String>,
    pub subtitle: Option<String>,
    pub summary: Option<String>,
    pub body: Option<String>,
    /// A text holding a period ("dal 14/06/2024 al 07/07/2024").
    pub dates: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub published: Option<String>,
    pub updated: Option<String>,
    pub status: Option<String>,
    pub promoter: Option<String>,
    pub territory: Option<String>,
    /// A string, a list of strings, or a list of objects with `name`/`title`/`label`.
    pub topics: Option<String>,
    pub image: Option<String>,
}

/// How pages follow each other. Unset keys use the flavour's preset.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaginationParams {
    /// Query parameter numbering pages (WordPress: `page`).
    pub page_param: Option<String>,
    /// Query parameter of the page size (WordPress: `per_page`).
    pub per_page_param: Option<String>,
    /// Page size asked for (WordPress: 100, its maximum).
    pub per_page: Option<u32>,
    /// Response header with the number of pages (WordPress: `X-WP-TotalPages`).
    pub total_pages_header: Option<String>,
    /// Path of the next page's URL in the body (Plone: `batching.next`).
    pub next: Option<String>,
    /// Pages read at most (default 50).
    pub max_pages: Option<u32>,
}

/// Keys of a `kind = "json"` source besides the common ones (`url` is the first page).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonParams {
    /// `wordpress`, `plone` or `generic` (default): presets for fields and pagination.
    pub flavor: Option<String>,
    /// Path of the item array in a page (default: the page itself when it is an array; Plone:
    /// `items`).
    pub items: Option<String>,
    pub record_kind: Option<String>,
    pub locale: Option<String>,
    pub max_items: Option<u32>,
    /// False when the API lists only some items. Default true.
    pub complete_listing: Option<bool>,
    pub fields: Option<FieldMap>,
    pub pagination: Option<PaginationParams>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Generic,
    WordPress,
    Plone,
}

/// One configured JSON source.
#[derive(Debug, Clone)]
pub struct JsonConnector {
    first: url::Url,
    items: Option<String>,
    fields: BTreeMap<&'static str, String>,
    page_param: Option<String>,
    per_page: Option<(String, u32)>,
    total_header: Option<String>,
    next: Option<String>,
    max_pages: u32,
    kind: Kind,
    locale: String,
    max_items: usize,
    complete_listing: bool,
    fingerprint: String,
}

/// What one page gave.
#[derive(Debug, Clone, Default)]
struct PageValue {
    records: Vec<Record>,
    /// A page the server says is unchanged: its records' ids, all still in the store.
    unchanged: Vec<RecordId>,
    failed: u64,
    total_pages: Option<u32>,
    next: Option<String>,
    items: usize,
}

/// What the checkpoint keeps of a page with its validators: the ids of its records, not copies
/// (the store has them; a copy of every record in the checkpoint doubled the store).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CachedValue {
    ids: Vec<String>,
    failed: u64,
    total_pages: Option<u32>,
    next: Option<String>,
    items: usize,
}

impl CachedValue {
    fn of(v: &PageValue) -> CachedValue {
        CachedValue {
            ids: v
                .records
                .iter()
                .map(|r| &r.id)
                .chain(&v.unchanged)
                .map(ToString::to_string)
                .collect(),
            failed: v.failed,
            total_pages: v.total_pages,
            next: v.next.clone(),
            items: v.items,
        }
    }

    /// The cached page's record ids.
    fn ids(c: &CachedPage) -> Option<Vec<RecordId>> {
        let cached: CachedValue = serde_json::from_value(c.value.clone()).ok()?;
        snodo_sitekit::cache::parse_ids(&cached.ids)
    }

    /// The page again, its records by id (all still stored: see [`fetch_page_or_stored`]).
    fn restore(c: &CachedPage, unchanged: Vec<RecordId>) -> Option<PageValue> {
        let cached: CachedValue = serde_json::from_value(c.value.clone()).ok()?;
        Some(PageValue {
            records: Vec::new(),
            unchanged,
            failed: cached.failed,
            total_pages: cached.total_pages,
            next: cached.next,
            items: cached.items,
        })
    }
}

/// Part of the checkpoint's fingerprint: checkpoints of another shape are dropped, not misread.
const CACHE_FORMAT: &str = "page ids";

fn presets(flavor: Flavor) -> Vec<(&'static str, &'static str)> {
    match flavor {
        Flavor::Generic => vec![
            ("id", "id"),
            ("url", "url"),
            ("title", "title"),
            ("summary", "summary"),
            ("body", "description"),
        ],
        Flavor::WordPress => vec![
            ("id", "id"),
            ("url", "link"),
            ("title", "title.rendered"),
            ("summary", "excerpt.rendered"),
            ("body", "content.rendered"),
            ("published", "date"),
            ("updated", "modified"),
            ("topics", "_embedded.wp:term"),
            ("image", "_embedded.wp:featuredmedia.0.source_url"),
        ],
        Flavor::Plone => vec![
            ("id", "UID"),
            ("url", "@id"),
            ("title", "title"),
            ("summary", "description"),
            ("body", "text.data"),
            ("published", "effective"),
            ("updated", "modified"),
            ("start_date", "start"),
            ("end_date", "end"),
            ("topics", "subjects"),
        ],
    }
}

/// Resolves a JSON pointer (`/a/0/b`) or a dotted path (`a.0.b`) in `v`.
pub fn resolve<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let path = path.trim();
    if path.is_empty() {
        return Some(v);
    }
    if path.starts_with('/') {
        return v.pointer(path);
    }
    let mut cur = v;
    for seg in path.split('.') {
        cur = match cur {
            Value::Object(m) => m.get(seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// A scalar as text (strings, numbers, booleans); objects with `rendered`/`data` give that.
fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Object(m) => ["rendered", "data", "name", "title", "label", "value"]
            .iter()
            .find_map(|k| m.get(*k).and_then(text_of)),
        _ => None,
    }
    .filter(|s| !s.trim().is_empty())
}

/// Every topic in a value: strings, or objects with a name, in nested arrays.
fn topics_of(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Array(a) => a.iter().take(200).for_each(|x| topics_of(x, out)),
        other => {
            if let Some(t) = text_of(other) {
                out.push(t);
            }
        }
    }
}

impl JsonConnector {
    /// Checks params; the error names every bad key.
    pub fn new(spec: &SourceSpec, params: JsonParams) -> Result<Self, String> {
        let mut p = Vec::new();
        let first = snodo_sitekit::parse_url(
            "url",
            &spec.url,
            "the API's first page such as https://example.it/wp-json/wp/v2/posts",
            &mut p,
        );
        let flavor = match params.flavor.as_deref().map(str::trim) {
            None | Some("generic") => Flavor::Generic,
            Some("wordpress") => Flavor::WordPress,
            Some("plone") => Flavor::Plone,
            Some(other) => {
                p.push(format!(
                    "flavor: unknown flavor `{other}`; expected wordpress, plone or generic"
                ));
                Flavor::Generic
            }
        };
        let kind =
            snodo_sitekit::parse_kind(params.record_kind.as_deref(), Kind::Consultation, &mut p);
        let locale = snodo_sitekit::parse_locale(params.locale.as_deref(), &mut p);
        let max_items = snodo_sitekit::bounded(
            "max_items",
            params.max_items,
            snodo_sitekit::DEFAULT_MAX_ITEMS,
            100_000,
            &mut p,
        );
        let pg = params.pagination.clone().unwrap_or_default();
        let max_pages = snodo_sitekit::bounded(
            "pagination.max_pages",
            pg.max_pages,
            snodo_sitekit::DEFAULT_MAX_PAGES,
            10_000,
            &mut p,
        );
        let mut fields: BTreeMap<&'static str, String> = presets(flavor)
            .into_iter()
            .map(|(k, v)| (k, v.to_owned()))
            .collect();
        let f = params.fields.clone().unwrap_or_default();
        for (k, v) in [
            ("id", f.id),
            ("url", f.url),
            ("title", f.title),
            ("subtitle", f.subtitle),
            ("summary", f.summary),
            ("body", f.body),
            ("dates", f.dates),
            ("start_date", f.start_date),
            ("end_date", f.end_date),
            ("published", f.published),
            ("updated", f.updated),
            ("status", f.status),
            ("promoter", f.promoter),
            ("territory", f.territory),
            ("topics", f.topics),
            ("image", f.image),
        ] {
            if let Some(v) = v {
                if v.trim().is_empty() {
                    fields.remove(k);
                } else {
                    fields.insert(k, v);
                }
            }
        }
        let wp = flavor == Flavor::WordPress;
        let per_page = pg.per_page.or(wp.then_some(100));
        if let Some(n) = per_page {
            if !(1..=1000).contains(&n) {
                p.push(format!(
                    "pagination.per_page: must be between 1 and 1000, got {n}"
                ));
            }
        }
        let per_page_param = pg.per_page_param.or(wp.then(|| "per_page".to_owned()));
        let page_param = pg.page_param.or(wp.then(|| "page".to_owned()));
        let next = pg
            .next
            .or((flavor == Flavor::Plone).then(|| "batching.next".to_owned()));
        if page_param.is_some() && next.is_some() {
            p.push("pagination: set either page_param or next, not both".into());
        }
        match (first, p.is_empty()) {
            (Some(first), true) => Ok(JsonConnector {
                fingerprint: snodo_sitekit::cache::fingerprint(&(
                    CACHE_FORMAT,
                    &params,
                    &spec.territory,
                )),
                first,
                items: params
                    .items
                    .or((flavor == Flavor::Plone).then(|| "items".to_owned())),
                fields,
                page_param,
                per_page: per_page_param.zip(per_page),
                total_header: pg
                    .total_pages_header
                    .or(wp.then(|| "x-wp-totalpages".to_owned())),
                next,
                max_pages,
                kind,
                locale,
                max_items: max_items as usize,
                complete_listing: params.complete_listing.unwrap_or(true),
            }),
            _ => Err(snodo_sitekit::params_error(&spec.id, "json", &p)),
        }
    }

    fn page_url(&self, n: u32) -> String {
        let mut u = self.first.clone();
        let drop: Vec<&str> = [
            self.page_param.as_deref(),
            self.per_page.as_ref().map(|(k, _)| k.as_str()),
        ]
        .into_iter()
        .flatten()
        .collect();
        let kept: Vec<(String, String)> = u
            .query_pairs()
            .filter(|(k, _)| !drop.contains(&k.as_ref()))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() && self.per_page.is_none() && self.page_param.is_none() {
            u.set_query(None);
            return u.to_string();
        }
        {
            let mut q = u.query_pairs_mut();
            q.clear().extend_pairs(kept);
            if let Some((k, v)) = &self.per_page {
                q.append_pair(k, &v.to_string());
            }
            if let Some(k) = &self.page_param {
                q.append_pair(k, &n.to_string());
            }
        }
        u.to_string()
    }

    fn get(&self, item: &Value, field: &str) -> Option<String> {
        self.fields
            .get(field)
            .and_then(|p| resolve(item, p))
            .and_then(text_of)
    }

    /// Maps one item; `missing` gets the configured fields absent from it.
    pub fn item_of(&self, v: &Value, base: &url::Url) -> Item {
        let url = self
            .get(v, "url")
            .and_then(|u| snodo_sitekit::absolute_url(base, &u))
            .map(|u| u.to_string())
            .unwrap_or_default();
        let mut item = Item {
            upstream_id: self.get(v, "id"),
            url,
            title: self.get(v, "title").unwrap_or_default(),
            subtitle: self.get(v, "subtitle"),
            summary: self.get(v, "summary"),
            body_html: self.get(v, "body"),
            published: self.get(v, "published").as_deref().and_then(parse_instant),
            updated: self.get(v, "updated").as_deref().and_then(parse_instant),
            status: self.get(v, "status").as_deref().and_then(parse_status),
            promoter: self.get(v, "promoter"),
            territory: self.get(v, "territory"),
            image: self.get(v, "image"),
            ..Item::default()
        };
        if let Some(d) = self.get(v, "dates") {
            let r = parse_range(&d);
            item.start = r.start;
            item.end = r.end;
        }
        if let Some(d) = self.get(v, "start_date").as_deref().and_then(parse_date) {
            item.start = Some(d);
        }
        if let Some(d) = self.get(v, "end_date").as_deref().and_then(parse_date) {
            item.end = Some(d);
        }
        if let Some(t) = self.fields.get("topics").and_then(|p| resolve(v, p)) {
            topics_of(t, &mut item.topics);
        }
        item
    }

    fn page_value(
        &self,
        page_url: &str,
        response: &snodo_connector::HttpResponse,
        target: &Target,
        warnings: &mut Vec<String>,
    ) -> Result<PageValue, ConnectorError> {
        let json = response.json()?;
        let list = match &self.items {
            Some(path) => resolve(&json, path),
            None => Some(&json),
        };
        let Some(Value::Array(list)) = list else {
            return Err(ConnectorError::Protocol {
                url: page_url.to_owned(),
                message: format!(
                    "expected a list of items at `{}` but found {}; check `items`",
                    self.items.as_deref().unwrap_or("the top level"),
                    list.map(kind_of).unwrap_or("nothing")
                ),
            });
        };
        let base = url::Url::parse(page_url).unwrap_or_else(|_| self.first.clone());
        let mut value = PageValue {
            items: list.len(),
            ..PageValue::default()
        };
        for v in list.iter().take(10_000) {
            let item = self.item_of(v, &base);
            match build_record(item, target, warnings) {
                Ok(r) => value.records.push(r),
                Err(e) => {
                    value.failed += 1;
                    warnings.push(format!("{page_url}: item skipped: {e}"));
                }
            }
        }
        value.total_pages = self.total_header.as_ref().and_then(|h| {
            response
                .headers
                .get(h.as_str())
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok())
        });
        value.next = self
            .next
            .as_ref()
            .and_then(|p| resolve(&json, p))
            .and_then(text_of)
            .and_then(|n| snodo_sitekit::absolute_url(&base, &n))
            .map(|u| u.to_string());
        Ok(value)
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[async_trait]
impl Connector for JsonConnector {
    fn kind(&self) -> &'static str {
        "json"
    }

    async fn harvest(
        &self,
        ctx: &HarvestContext,
        checkpoint: Option<&str>,
    ) -> Result<HarvestOutput, ConnectorError> {
        let previous = PageCache::load(checkpoint, &self.fingerprint);
        let mut next_cache = PageCache::new(&self.fingerprint);
        let mut out = HarvestOutput::default();
        let target = Target {
            source: ctx.source.clone(),
            kind: self.kind,
            locale: self.locale.clone(),
        };
        let mut whole = true;
        let mut seen: HashSet<String> = HashSet::new();
        // the records so far, to keep the first of an item listed twice
        let mut ids: HashSet<RecordId> = HashSet::new();
        let mut number = 1u32;
        let mut url = Some(self.page_url(1));
        let mut fetched = 0u32;
        // Items taken so far, handed over or not.
        let mut taken = 0usize;
        while let Some(current) = url.take() {
            ctx.check_cancelled()?;
            if !seen.insert(current.clone()) {
                break;
            }
            fetched += 1;
            if fetched > self.max_pages {
                whole = false;
                out.warnings.push(format!(
                    "{current}: more than {} pages; stopped (raise pagination.max_pages)",
                    self.max_pages
                ));
                break;
            }
            let answer =
                fetch_page_or_stored(ctx, &previous, &current, ACCEPT, CachedValue::ids).await;
            let value = match answer {
                // WordPress answers 400 past the last page when the total header was missing.
                Err(e) if fetched > 1 && matches!(e.status(), Some(400 | 404)) => break,
                Err(e) => return Err(e.into()),
                Ok((Page::Disallowed { robots_url }, _)) => {
                    whole = false;
                    out.warnings
                        .push(format!("{current}: skipped, {robots_url} forbids it"));
                    break;
                }
                Ok((Page::Unchanged(c), unchanged)) => {
                    let Some(v) = CachedValue::restore(&c, unchanged) else {
                        return Err(ConnectorError::Protocol {
                            url: current,
                            message: "answered 304 Not Modified to a request without validators"
                                .into(),
                        });
                    };
                    out.warnings.extend(c.warnings.iter().cloned());
                    next_cache.put(&current, c);
                    v
                }
                Ok((
                    Page::Fresh {
                        response,
                        validators,
                    },
                    _,
                )) => {
                    let mut w = Vec::new();
                    let v = self.page_value(&current, &response, &target, &mut w)?;
                    next_cache.put(
                        &current,
                        CachedPage {
                            validators,
                            value: serde_json::to_value(CachedValue::of(&v)).unwrap_or_default(),
                            warnings: w.clone(),
                        },
                    );
                    out.warnings.extend(w);
                    v
                }
            };
            ctx.report(Progress::Page {
                what: format!("page {current}"),
            });
            out.failed += value.failed;
            for r in value.records {
                if taken < self.max_items && ids.insert(r.id.clone()) {
                    out.records.push(r);
                    taken += 1;
                }
            }
            for id in value.unchanged {
                if taken < self.max_items && ids.insert(id.clone()) {
                    out.unchanged.push(id);
                    taken += 1;
                }
            }
            if taken >= self.max_items || ctx.limit_reached(taken) {
                whole = false;
                break;
            }
            ctx.hand_over(&mut out).await?;
            url = if let Some(n) = value.next {
                let same = url::Url::parse(&n).is_ok_and(|u| u.host_str() == self.first.host_str());
                same.then_some(n)
            } else if self.page_param.is_some() && value.items > 0 {
                match value.total_pages {
                    Some(total) if number >= total => None,
                    _ => {
                        number += 1;
                        Some(self.page_url(number))
                    }
                }
            } else {
                None
            };
        }
        ctx.report(Progress::Records { n: taken as u64 });
        out.complete = whole && self.complete_listing && ctx.item_limit().is_none();
        out.checkpoint = next_cache.to_checkpoint();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_as_pointers_or_dotted() {
        let v = serde_json::json!({"a": {"b": [{"c": "x"}]}, "wp:term": 1});
        assert_eq!(resolve(&v, "/a/b/0/c"), Some(&Value::from("x")));
        assert_eq!(resolve(&v, "a.b.0.c"), Some(&Value::from("x")));
        assert_eq!(resolve(&v, "wp:term"), Some(&Value::from(1)));
        assert_eq!(resolve(&v, "a.b.9.c"), None);
        assert_eq!(resolve(&v, "a.b.x"), None);
        let mut t = Vec::new();
        topics_of(
            &serde_json::json!([[{"name": "Casa"}], ["Clima", 3]]),
            &mut t,
        );
        assert_eq!(t, ["Casa", "Clima", "3"]);
    }
}
