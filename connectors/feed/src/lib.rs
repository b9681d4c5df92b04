//! The feed connector: harvests RSS 2.0, RSS 1.0, Atom and JSON Feed documents (parsed by
//! `feed-rs`) and turns each entry into a record of a configured kind (default `consultation`).
//!
//! What it owns: reading feeds, mapping an entry to an [`Item`] (id = the entry's GUID/id, else its
//! link; URL = its link; title, summary, content, published/updated times, categories as topics,
//! a media thumbnail as image) and finding start/end dates written in the text ("dal 14/06/2024
//! al 07/07/2024"). Entries' authors are never read: no personal data.
//!
//! What it must not do: touch the store or the index; trust markup (every text goes through
//! [`snodo_sitekit::build_record`]); request a page `robots.txt` forbids; claim a complete listing
//! unless the operator said the feed lists everything (`complete_listing = true`) — a feed is
//! usually a window of the latest entries, and entries that scroll out of it are not gone.
//!
//! Conditional GET: each feed's `ETag` / `Last-Modified` and the records made from it are kept in
//! the checkpoint, so an unchanged feed costs a 304 and yields the same records.

use async_trait::async_trait;
use serde::Deserialize;
use snodo_connector::{
    Connector, ConnectorError, HarvestContext, HarvestOutput, Progress, SourceSpec,
};
use snodo_model::{Kind, Record};
use snodo_sitekit::{
    build_record, fetch_page, parse_range, parse_status, CachedPage, Item, Page, PageCache, Target,
};

const ACCEPT: &str = "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5";

/// Keys of a `kind = "feed"` source besides the common ones (`url` is the feed's URL).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedParams {
    /// The kind every entry becomes (default `consultation`).
    pub record_kind: Option<String>,
    /// The language of the feed's texts (default `it`).
    pub locale: Option<String>,
    /// More feed URLs harvested into the same source (for example one per category).
    pub feeds: Option<Vec<String>>,
    /// Keep only entries whose title, summary or categories contain one of these words
    /// (case and accents ignored). Default: keep all.
    pub include: Option<Vec<String>>,
    /// Look for start/end dates in the title and summary ("dal 14/06/2024 al 07/07/2024");
    /// default true.
    pub dates_from_text: Option<bool>,
    /// True when the feeds list every item (not only the latest): then entries missing from a
    /// successful run are marked gone. Default false.
    pub complete_listing: Option<bool>,
    /// At most this many entries per run (default 5000).
    pub max_items: Option<u32>,
}

/// One configured feed source.
#[derive(Debug, Clone)]
pub struct FeedConnector {
    feeds: Vec<String>,
    kind: Kind,
    locale: String,
    include: Vec<String>,
    dates_from_text: bool,
    complete_listing: bool,
    max_items: usize,
    fingerprint: String,
}

impl FeedConnector {
    /// Checks the URLs and params; the error names every bad key.
    pub fn new(spec: &SourceSpec, params: FeedParams) -> Result<Self, String> {
        let mut problems = Vec::new();
        let mut feeds = Vec::new();
        if let Some(u) = snodo_sitekit::parse_url(
            "url",
            &spec.url,
            "the feed's URL such as https://example.it/feed",
            &mut problems,
        ) {
            feeds.push(u.to_string());
        }
        for f in params.feeds.iter().flatten() {
            if let Some(u) = snodo_sitekit::parse_url("feeds", f, "feed URLs", &mut problems) {
                if !feeds.contains(&u.to_string()) {
                    feeds.push(u.to_string());
                }
            }
        }
        let kind = snodo_sitekit::parse_kind(
            params.record_kind.as_deref(),
            Kind::Consultation,
            &mut problems,
        );
        let locale = snodo_sitekit::parse_locale(params.locale.as_deref(), &mut problems);
        let max_items = snodo_sitekit::bounded(
            "max_items",
            params.max_items,
            snodo_sitekit::DEFAULT_MAX_ITEMS,
            100_000,
            &mut problems,
        );
        let include: Vec<String> = params
            .include
            .iter()
            .flatten()
            .map(|w| snodo_model::text::fold_for_matching(w))
            .collect();
        if include.iter().any(String::is_empty) {
            problems.push("include: words must not be empty".into());
        }
        if !problems.is_empty() {
            return Err(snodo_sitekit::params_error(&spec.id, "feed", &problems));
        }
        Ok(FeedConnector {
            fingerprint: snodo_sitekit::cache::fingerprint(&params),
            feeds,
            kind,
            locale,
            include,
            dates_from_text: params.dates_from_text.unwrap_or(true),
            complete_listing: params.complete_listing.unwrap_or(false),
            max_items: max_items as usize,
        })
    }

    /// Parses one feed document into records; entries that cannot make a record are counted.
    pub fn records_of(
        &self,
        feed_url: &str,
        body: &[u8],
        source: &SourceSpec,
        warnings: &mut Vec<String>,
    ) -> Result<(Vec<Record>, u64), ConnectorError> {
        let parser = feed_rs::parser::Builder::new()
            .base_uri(Some(feed_url))
            .id_generator(|_, _, _| String::new())
            .timestamp_parser(snodo_sitekit::parse_instant)
            .build();
        let feed = parser.parse(body).map_err(|e| ConnectorError::Protocol {
            url: feed_url.to_owned(),
            message: format!(
                "expected an RSS, Atom or JSON Feed document but could not parse it ({e}); check the source's url"
            ),
        })?;
        let target = Target {
            source: source.clone(),
            kind: self.kind,
            locale: self.locale.clone(),
        };
        let base = url::Url::parse(feed_url).ok();
        let mut records = Vec::new();
        let mut failed = 0;
        for entry in feed.entries {
            let item = self.item_of(entry, base.as_ref());
            if !self.included(&item) {
                continue;
            }
            if item.url.is_empty() {
                failed += 1;
                warnings.push(format!(
                    "{feed_url}: an entry (\"{}\") has no link; skipped",
                    snodo_model::text::truncate_words(
                        &snodo_model::text::plain_text(&item.title),
                        80
                    )
                ));
                continue;
            }
            match build_record(item, &target, warnings) {
                Ok(r) => records.push(r),
                Err(e) => {
                    failed += 1;
                    warnings.push(format!("{feed_url}: entry skipped: {e}"));
                }
            }
        }
        Ok((records, failed))
    }

    fn included(&self, item: &Item) -> bool {
        if self.include.is_empty() {
            return true;
        }
        let text = snodo_model::text::fold_for_matching(&format!(
            "{} {} {}",
            snodo_model::text::plain_text(&item.title),
            snodo_model::text::plain_text(item.summary.as_deref().unwrap_or("")),
            item.topics.join(" ")
        ));
        let padded = format!(" {text} ");
        self.include
            .iter()
            .any(|w| padded.contains(&format!(" {w}")))
    }

    fn item_of(&self, entry: feed_rs::model::Entry, base: Option<&url::Url>) -> Item {
        let link = entry
            .links
            .iter()
            .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
            .or_else(|| entry.links.first())
            .map(|l| l.href.clone());
        let url = link
            .and_then(|href| match base {
                Some(b) => snodo_sitekit::absolute_url(b, &href).map(|u| u.to_string()),
                None => url::Url::parse(&href).ok().map(|u| u.to_string()),
            })
            .unwrap_or_default();
        let title = entry.title.map(|t| t.content).unwrap_or_default();
        let summary = entry.summary.map(|t| t.content);
        let body_html = entry.content.and_then(|c| c.body);
        let topics: Vec<String> = entry
            .categories
            .iter()
            .map(|c| c.label.clone().unwrap_or_else(|| c.term.clone()))
            .collect();
        let image = entry
            .media
            .iter()
            .flat_map(|m| m.thumbnails.iter().map(|t| t.image.uri.clone()))
            .chain(entry.media.iter().flat_map(|m| {
                m.content.iter().filter_map(|c| {
                    let is_image = c
                        .content_type
                        .as_ref()
                        .is_some_and(|t| t.to_string().starts_with("image/"));
                    c.url.as_ref().filter(|_| is_image).map(|u| u.to_string())
                })
            }))
            .next();
        let mut item = Item {
            upstream_id: Some(entry.id).filter(|s| !s.trim().is_empty()),
            url,
            title,
            summary,
            body_html,
            published: entry.published,
            updated: entry.updated,
            status: topics.iter().find_map(|t| parse_status(t)),
            topics,
            image,
            ..Item::default()
        };
        if self.dates_from_text {
            let plain = |s: &str| snodo_model::text::plain_text(s);
            for text in [
                Some(plain(&item.title)),
                item.summary.as_deref().map(plain),
                item.body_html
                    .as_deref()
                    .map(|b| snodo_model::text::truncate_words(&plain(b), 600)),
            ]
            .into_iter()
            .flatten()
            {
                let range = parse_range(&text);
                if !range.is_empty() {
                    item.start = range.start;
                    item.end = range.end;
                    break;
                }
            }
        }
        item
    }
}

/// What a cached feed page holds: the records made from it and the entries that failed.
#[derive(serde::Serialize, Deserialize, Default)]
struct Cached {
    records: Vec<Record>,
    failed: u64,
}

#[async_trait]
impl Connector for FeedConnector {
    fn kind(&self) -> &'static str {
        "feed"
    }

    async fn harvest(
        &self,
        ctx: &HarvestContext,
        checkpoint: Option<&str>,
    ) -> Result<HarvestOutput, ConnectorError> {
        let previous = PageCache::load(checkpoint, &self.fingerprint);
        let mut next = PageCache::new(&self.fingerprint);
        let mut out = HarvestOutput::default();
        let mut whole = true;
        for feed_url in &self.feeds {
            ctx.check_cancelled()?;
            let (records, failed, warnings) = match fetch_page(
                &ctx.http, &previous, feed_url, ACCEPT,
            )
            .await?
            {
                Page::Disallowed { robots_url } => {
                    whole = false;
                    out.warnings.push(format!(
                            "{feed_url}: skipped, {robots_url} forbids it; ask the site to allow it or remove the feed"
                        ));
                    continue;
                }
                Page::Unchanged(page) => {
                    let cached: Cached =
                        serde_json::from_value(page.value.clone()).unwrap_or_default();
                    next.put(feed_url, page.clone());
                    (cached.records, cached.failed, page.warnings)
                }
                Page::Fresh {
                    response,
                    validators,
                } => {
                    let mut warnings = Vec::new();
                    let (records, failed) =
                        self.records_of(feed_url, &response.body, &ctx.source, &mut warnings)?;
                    let value = serde_json::to_value(Cached {
                        records: records.clone(),
                        failed,
                    })
                    .unwrap_or_default();
                    next.put(
                        feed_url,
                        CachedPage {
                            validators,
                            value,
                            warnings: warnings.clone(),
                        },
                    );
                    (records, failed, warnings)
                }
            };
            ctx.report(Progress::Page {
                what: format!("feed {feed_url}"),
            });
            out.failed += failed;
            out.warnings.extend(warnings);
            for r in records {
                if out.records.iter().any(|o: &Record| o.id == r.id) {
                    continue;
                }
                if out.records.len() >= self.max_items || ctx.limit_reached(out.records.len()) {
                    whole = false;
                    break;
                }
                out.records.push(r);
            }
            if ctx.limit_reached(out.records.len()) {
                whole = false;
                break;
            }
        }
        ctx.report(Progress::Records {
            n: out.records.len() as u64,
        });
        out.complete = whole && self.complete_listing && ctx.item_limit().is_none();
        out.checkpoint = next.to_checkpoint();
        Ok(out)
    }
}
