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

use std::collections::HashSet;

use async_trait::async_trait;
use serde::Deserialize;
use snodo_connector::{
    Connector, ConnectorError, HarvestContext, HarvestOutput, Progress, SourceSpec,
};
use snodo_model::{Kind, Record, RecordId};
use snodo_sitekit::{
    build_record, fetch_page_or_stored, parse_range, parse_status, CachedPage, Item, Page,
    PageCache, Target,
};

/// Records so far, in full or by id.
fn taken(out: &HarvestOutput) -> usize {
    out.records.len() + out.unchanged.len()
}

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
        let body = readable_xml(body).map_err(|why| ConnectorError::Protocol {
            url: feed_url.to_owned(),
            message: format!("the feed is not well-formed XML ({why}); check the source's url"),
        })?;
        // feed-rs 3.0 can panic on hostile or merely unusual input (an author such as
        // "Redazione «redazione@comune.it»" slices inside the «, found by fuzzing): a panic
        // fails this feed, never the harvest.
        let parsed =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse(body.as_ref())))
                .map_err(|_| ConnectorError::Protocol {
                    url: feed_url.to_owned(),
                    message:
                        "the feed parser (feed-rs) failed on this document; the feed was skipped"
                            .into(),
                })?;
        let feed = parsed.map_err(|e| ConnectorError::Protocol {
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

/// What a cached feed page holds: the ids of the records made from it (the store has the
/// records) and the entries that failed.
#[derive(serde::Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Cached {
    ids: Vec<String>,
    failed: u64,
}

impl Cached {
    fn read(c: &CachedPage) -> Option<Cached> {
        serde_json::from_value(c.value.clone()).ok()
    }

    fn ids(c: &CachedPage) -> Option<Vec<RecordId>> {
        snodo_sitekit::cache::parse_ids(&Cached::read(c)?.ids)
    }
}

/// A declaration as quick-xml sees one: `<?xml` then whitespace or `?`.
fn declaration_at(text: &str, i: usize) -> bool {
    text[i..].starts_with("<?xml")
        && matches!(
            text.as_bytes().get(i + 5),
            Some(b' ' | b'\t' | b'\r' | b'\n' | b'?')
        )
}

/// The encoding an XML declaration names, as quick-xml reads it (WHATWG labels).
fn declared_encoding(decl: &str) -> Option<&'static encoding_rs::Encoding> {
    let rest = &decl[decl.find("encoding")? + "encoding".len()..];
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &rest[1..];
    encoding_rs::Encoding::for_label(&value.as_bytes()[..value.find(quote)?])
}

/// The feed as feed-rs can read it without panicking. quick-xml (under feed-rs) switches
/// decoders when it meets an XML declaration naming an encoding other than the one it guessed,
/// and panics when that declaration ends after the first 64 bytes it read: after leading blank
/// lines, in a long declaration, or in a second declaration further on. So an XML feed is
/// decoded here (byte-order mark, else the declaration's encoding, else UTF-8) and handed over as
/// UTF-8 that starts with `<?xml version="1.0"?>`; a later declaration naming an encoding other
/// than UTF-8 is refused (a declaration anywhere but the start is not well-formed XML). A JSON
/// Feed (a `{` before any `<`, as feed-rs decides) passes unchanged.
fn readable_xml(body: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, String> {
    use encoding_rs::{UTF_16BE, UTF_16LE, UTF_8};
    let (guessed, bom) = match encoding_rs::Encoding::for_bom(body) {
        Some((e, n)) => (Some(e), n),
        None if body.starts_with(&[0x3c, 0, 0x3f, 0]) => (Some(UTF_16LE), 0),
        None if body.starts_with(&[0, 0x3c, 0, 0x3f]) => (Some(UTF_16BE), 0),
        None => (None, 0),
    };
    if guessed.is_none() {
        let head = &body[..body.len().min(8192)];
        if head.iter().find(|b| matches!(b, b'<' | b'{')) != Some(&b'<') {
            return Ok(std::borrow::Cow::Borrowed(body));
        }
    }
    let body = &body[bom..];
    let first_declaration = || {
        // The declaration is ASCII in every ASCII-compatible encoding.
        let head = &body[..body.len().min(1024)];
        let ascii = head
            .iter()
            .position(|b| !b.is_ascii())
            .unwrap_or(head.len());
        let text = std::str::from_utf8(&head[..ascii]).unwrap_or("");
        let start = text.len() - text.trim_start().len();
        let end = text[start..].find("?>")? + start;
        declaration_at(text, start).then(|| declared_encoding(&text[start..end]))?
    };
    let encoding = guessed.or_else(first_declaration).unwrap_or(UTF_8);
    // Malformed bytes become U+FFFD rather than failing the whole feed.
    let (text, _malformed) = encoding.decode_without_bom_handling(body);
    let mut rest = text.trim_start();
    if declaration_at(rest, 0) {
        rest = rest.find("?>").map_or("", |end| &rest[end + 2..]);
    }
    let mut from = 0;
    while let Some(i) = rest[from..].find("<?xml").map(|i| i + from) {
        if declaration_at(rest, i) {
            let decl = &rest[i..rest[i..].find("?>").map_or(rest.len(), |e| i + e)];
            if declared_encoding(decl).is_some_and(|e| e != UTF_8) {
                return Err(format!(
                    "a second XML declaration, at character {i}, names another encoding"
                ));
            }
        }
        from = i + 5;
    }
    let mut out = String::with_capacity(rest.len() + 21);
    out.push_str("<?xml version=\"1.0\"?>");
    out.push_str(rest);
    Ok(std::borrow::Cow::Owned(out.into_bytes()))
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
        let mut ids: HashSet<RecordId> = HashSet::new();
        let mut whole = true;
        for feed_url in &self.feeds {
            ctx.check_cancelled()?;
            let (page, unchanged) =
                fetch_page_or_stored(ctx, &previous, feed_url, ACCEPT, Cached::ids).await?;
            let (records, failed, warnings) = match page {
                Page::Disallowed { robots_url } => {
                    whole = false;
                    out.warnings.push(format!(
                            "{feed_url}: skipped, {robots_url} forbids it; ask the site to allow it or remove the feed"
                        ));
                    continue;
                }
                Page::Unchanged(page) => {
                    let failed = Cached::read(&page).map_or(0, |c| c.failed);
                    next.put(feed_url, page.clone());
                    for id in unchanged {
                        if taken(&out) >= self.max_items || ctx.limit_reached(taken(&out)) {
                            whole = false;
                            break;
                        }
                        if ids.insert(id.clone()) {
                            out.unchanged.push(id);
                        }
                    }
                    (Vec::new(), failed, page.warnings)
                }
                Page::Fresh {
                    response,
                    validators,
                } => {
                    let mut warnings = Vec::new();
                    let (records, failed) =
                        self.records_of(feed_url, &response.body, &ctx.source, &mut warnings)?;
                    let value = serde_json::to_value(Cached {
                        ids: records.iter().map(|r| r.id.to_string()).collect(),
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
                if ids.contains(&r.id) {
                    continue;
                }
                if taken(&out) >= self.max_items || ctx.limit_reached(taken(&out)) {
                    whole = false;
                    break;
                }
                ids.insert(r.id.clone());
                out.records.push(r);
            }
            if ctx.limit_reached(taken(&out)) {
                whole = false;
                break;
            }
        }
        ctx.report(Progress::Records {
            n: taken(&out) as u64,
        });
        out.complete = whole && self.complete_listing && ctx.item_limit().is_none();
        out.checkpoint = next.to_checkpoint();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(body: &[u8]) -> Result<Vec<Record>, ConnectorError> {
        let spec = SourceSpec {
            id: "comune".into(),
            name: "Comune".into(),
            url: "https://www.comune.example.it/feed".into(),
            territory: Default::default(),
        };
        let c = FeedConnector::new(&spec, FeedParams::default()).unwrap();
        c.records_of(&spec.url, body, &spec, &mut Vec::new())
            .map(|(r, _)| r)
    }

    const ITEM: &str =
        "<item><title>Città</title><link>https://www.comune.example.it/a</link></item>";

    #[test]
    fn a_declared_encoding_is_read_after_blank_lines() {
        // quick-xml panicked here: the declaration ends after the first 64 bytes it reads.
        let doc = format!(
            "\n\n{}<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss version=\"2.0\"><channel><title>C</title>{ITEM}</channel></rss>",
            " ".repeat(60)
        );
        let (latin1, _, _) = encoding_rs::WINDOWS_1252.encode(&doc);
        let r = records(&latin1).unwrap();
        assert_eq!(r[0].title.get("it"), Some("Città"));
    }

    #[test]
    fn a_second_declaration_naming_an_encoding_is_refused() {
        // Found by fuzzing (fuzz/fuzz_targets/feed.rs): a panic in quick-xml, now an error.
        let doc = format!(
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<rss version=\"2.0\"><channel><title>Comune</title><link>https://www.comune.example.it/</link><?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>{ITEM}</channel></rss>"
        );
        let e = records(doc.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("second XML declaration"), "{e}");
        // One naming UTF-8 (say, inside CDATA) is harmless and kept.
        let doc = format!(
            "<rss version=\"2.0\"><channel><title>C</title><description><![CDATA[<?xml version=\"1.0\" encoding=\"UTF-8\"?>]]></description>{ITEM}</channel></rss>"
        );
        assert_eq!(records(doc.as_bytes()).unwrap().len(), 1);
    }

    #[test]
    fn a_panic_in_feed_rs_fails_the_feed_not_the_harvest() {
        // Found by fuzzing: feed-rs 3.0 slices an author's name inside a multi-byte character.
        let doc = "<rss version=\"2.0\"><channel><title>C</title><item><title>T</title>\
            <link>https://www.comune.example.it/a</link>\
            <author>Redazione del Comune «redazione@comune.it» x</author></item></channel></rss>";
        let e = records(doc.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("feed parser"), "{e}");
    }

    #[test]
    fn utf16_and_json_feeds_are_read() {
        let doc = format!("<?xml version=\"1.0\" encoding=\"UTF-16\"?><rss version=\"2.0\"><channel><title>C</title>{ITEM}</channel></rss>");
        let mut utf16 = vec![0xff, 0xfe];
        utf16.extend(doc.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(records(&utf16).unwrap()[0].title.get("it"), Some("Città"));
        let json = r#"{"version": "https://jsonfeed.org/version/1.1", "title": "C",
            "items": [{"id": "1", "url": "https://www.comune.example.it/a", "title": "Città"}]}"#;
        assert_eq!(records(json.as_bytes()).unwrap().len(), 1);
    }
}
