//! The HTML connector: a declarative scraper for consultation sites without a feed or API.
//! A list page (paginated by a "next" link or a page parameter, or replaced by a sitemap) yields
//! item links; each item page yields fields by CSS selector (title, summary, body, dates written
//! the Italian way, status words, promoter, territory, topics, image). Selectors live in config.
//!
//! What it owns: compiling and applying selectors (`"css"` for text, `"css@attr"` for an
//! attribute), list pagination with a page cap and a seen-set (no endless loops), sitemaps, and
//! per-field warnings: a configured selector that matches nothing is reported in the run's
//! warnings (with how many pages and one example URL), never a silent empty record.
//!
//! What it must not do: touch the store or the index; follow item links to other hosts; request
//! pages `robots.txt` forbids; keep markup (the body is sanitised, every other field is plain
//! text, see [`snodo_sitekit::build_record`]); read authors' names (there is no such field).
//!
//! Conditional GET: list and item pages are fetched with the validators of the last run, kept
//! with what was extracted in the checkpoint, so unchanged pages cost a 304.

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use scraper::{Html, Selector};
use serde::{Deserialize, Serialize};
use snodo_connector::{
    Connector, ConnectorError, HarvestContext, HarvestOutput, Progress, SourceSpec,
};
use snodo_model::{Kind, Record, RecordId};
use snodo_sitekit::{
    absolute_url, build_record, fetch_page, fetch_page_or_stored, parse_date, parse_instant,
    parse_range, parse_status, CachedPage, Item, Page, PageCache, Target,
};

const ACCEPT_HTML: &str = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5";
const ACCEPT_XML: &str = "application/xml, text/xml;q=0.9, */*;q=0.5";

/// How item links are found (`[sources.list]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Selector of the links to item pages (their `href`), e.g. `"article h2 a"`.
    pub item_link: Option<String>,
    /// Selector of the "next page" link, e.g. `"a[rel=next]"`.
    pub next_link: Option<String>,
    /// Query parameter numbering list pages (`"page"` gives `?page=2`, `?page=3`…).
    pub page_param: Option<String>,
    /// The number of the first page when `page_param` is used (default 1).
    pub page_start: Option<u32>,
    /// A sitemap (or sitemap index) listing the item pages, instead of a list page.
    pub sitemap: Option<String>,
    /// Keep only sitemap URLs containing this text (e.g. `"/consultazioni/"`).
    pub sitemap_filter: Option<String>,
    /// List pages read at most (default 50).
    pub max_pages: Option<u32>,
}

/// Selectors of an item page (`[sources.item]`). `"css"` takes the text, `"css@attr"` an attribute.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemParams {
    /// Default `"h1"`.
    pub title: Option<String>,
    pub subtitle: Option<String>,
    pub summary: Option<String>,
    /// Rich text (kept as sanitised HTML).
    pub body: Option<String>,
    /// A text holding the period ("14 giugno – 7 luglio 2024", "dal 14/06/2024 al 07/07/2024").
    pub dates: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub published: Option<String>,
    pub updated: Option<String>,
    /// A status word ("aperta", "in corso", "conclusa").
    pub status: Option<String>,
    pub promoter: Option<String>,
    /// A place name matched against ISTAT names ("Comune di Bari").
    pub territory: Option<String>,
    /// Every match is a topic.
    pub topics: Option<String>,
    pub image: Option<String>,
}

/// Keys of a `kind = "html"` source besides the common ones (`url` is the first list page).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HtmlParams {
    /// The kind every item becomes (default `consultation`).
    pub record_kind: Option<String>,
    /// The language of the pages (default `it`).
    pub locale: Option<String>,
    /// At most this many items per run (default 5000).
    pub max_items: Option<u32>,
    /// False when the list shows only some items (e.g. only open ones): then items missing from
    /// it are never marked gone. Default true.
    pub complete_listing: Option<bool>,
    pub list: Option<ListParams>,
    pub item: Option<ItemParams>,
}

/// A compiled field selector.
#[derive(Debug, Clone)]
struct Field {
    name: &'static str,
    source: String,
    selector: Selector,
    attr: Option<String>,
    /// False for defaults (no warning when they match nothing).
    configured: bool,
}

impl Field {
    fn compile(
        name: &'static str,
        spec: Option<&String>,
        default: Option<&str>,
        problems: &mut Vec<String>,
        key: &str,
    ) -> Option<Field> {
        let (spec, configured) = match (spec, default) {
            (Some(s), _) => (s.as_str(), true),
            (None, Some(d)) => (d, false),
            (None, None) => return None,
        };
        let (css, attr) = match spec.rsplit_once('@') {
            Some((css, attr))
                if !attr.is_empty() && !attr.contains(|c: char| " ]='\"".contains(c)) =>
            {
                (css, Some(attr.trim().to_owned()))
            }
            _ => (spec, None),
        };
        match Selector::parse(css) {
            Ok(selector) => Some(Field {
                name,
                source: spec.to_owned(),
                selector,
                attr,
                configured,
            }),
            Err(e) => {
                problems.push(format!(
                    "{key}.{name}: `{spec}` is not a CSS selector ({e}); use `css` for text or `css@attribute`"
                ));
                None
            }
        }
    }

    /// Every match: its attribute, or its text.
    fn all(&self, doc: &Html) -> Vec<String> {
        doc.select(&self.selector)
            .take(100)
            .filter_map(|el| match &self.attr {
                Some(a) => el.value().attr(a).map(str::to_owned),
                None => Some(el.text().collect::<Vec<_>>().join(" ")),
            })
            .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|s| !s.is_empty())
            .collect()
    }

    fn first(&self, doc: &Html) -> Option<String> {
        self.all(doc).into_iter().next()
    }

    /// The inner HTML of the first match (for the body).
    fn first_html(&self, doc: &Html) -> Option<String> {
        if self.attr.is_some() {
            return self.first(doc);
        }
        doc.select(&self.selector)
            .next()
            .map(|el| el.inner_html())
            .filter(|h| !snodo_model::text::plain_text(h).is_empty())
    }
}

#[derive(Debug, Clone)]
struct Fields {
    title: Field,
    subtitle: Option<Field>,
    summary: Option<Field>,
    body: Option<Field>,
    dates: Option<Field>,
    start_date: Option<Field>,
    end_date: Option<Field>,
    published: Option<Field>,
    updated: Option<Field>,
    status: Option<Field>,
    promoter: Option<Field>,
    territory: Option<Field>,
    topics: Option<Field>,
    image: Option<Field>,
}

#[derive(Debug, Clone)]
enum Listing {
    Pages {
        item_link: Selector,
        next_link: Option<Selector>,
        page_param: Option<(String, u32)>,
    },
    Sitemap {
        url: String,
        filter: Option<String>,
    },
}

/// One configured HTML source.
#[derive(Debug, Clone)]
pub struct HtmlConnector {
    list_url: url::Url,
    listing: Listing,
    fields: Fields,
    kind: Kind,
    locale: String,
    max_items: usize,
    max_pages: u32,
    complete_listing: bool,
    fingerprint: String,
}

/// What one item page gave, cached with its validators: its record's id (the store has the
/// record), or why none came out.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemPage {
    id: Option<String>,
    /// Fields whose configured selector matched nothing.
    missing: Vec<String>,
    /// Why no record came out, if none did.
    error: Option<String>,
}

/// The record of an item page: made now, or still stored (an unchanged page's, by id).
enum Made {
    Record(Box<Record>),
    Stored(RecordId),
}

/// What one list page gave.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ListPage {
    links: Vec<String>,
    next: Option<String>,
}

impl HtmlConnector {
    /// Compiles the selectors and checks the params; the error names every bad key.
    pub fn new(spec: &SourceSpec, params: HtmlParams) -> Result<Self, String> {
        let mut p = Vec::new();
        let list_url = snodo_sitekit::parse_url(
            "url",
            &spec.url,
            "the first list page such as https://example.it/consultazioni",
            &mut p,
        );
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
        let list = params.list.clone().unwrap_or_default();
        let max_pages = snodo_sitekit::bounded(
            "list.max_pages",
            list.max_pages,
            snodo_sitekit::DEFAULT_MAX_PAGES,
            10_000,
            &mut p,
        );
        let css = |key: &str, s: &str, p: &mut Vec<String>| match Selector::parse(s) {
            Ok(sel) => Some(sel),
            Err(e) => {
                p.push(format!("{key}: `{s}` is not a CSS selector ({e})"));
                None
            }
        };
        let listing = match (&list.sitemap, &list.item_link) {
            (Some(sm), _) => {
                snodo_sitekit::parse_url("list.sitemap", sm, "the sitemap's URL", &mut p);
                Some(Listing::Sitemap {
                    url: sm.trim().to_owned(),
                    filter: list.sitemap_filter.clone(),
                })
            }
            (None, Some(link)) => {
                if list.next_link.is_some() && list.page_param.is_some() {
                    p.push("list: set either next_link or page_param, not both".into());
                }
                let item_link = css("list.item_link", link, &mut p);
                let next_link = list
                    .next_link
                    .as_deref()
                    .and_then(|s| css("list.next_link", s, &mut p));
                item_link.map(|item_link| Listing::Pages {
                    item_link,
                    next_link,
                    page_param: list
                        .page_param
                        .clone()
                        .map(|n| (n, list.page_start.unwrap_or(1))),
                })
            }
            (None, None) => {
                p.push(
                    "list: set item_link (a CSS selector of the links to item pages) or sitemap"
                        .into(),
                );
                None
            }
        };
        let it = params.item.clone().unwrap_or_default();
        let k = "item";
        let title = Field::compile("title", it.title.as_ref(), Some("h1"), &mut p, k);
        let f = |name, v: &Option<String>, p: &mut Vec<String>| {
            Field::compile(name, v.as_ref(), None, p, k)
        };
        let fields = title.map(|title| Fields {
            title,
            subtitle: f("subtitle", &it.subtitle, &mut p),
            summary: f("summary", &it.summary, &mut p),
            body: f("body", &it.body, &mut p),
            dates: f("dates", &it.dates, &mut p),
            start_date: f("start_date", &it.start_date, &mut p),
            end_date: f("end_date", &it.end_date, &mut p),
            published: f("published", &it.published, &mut p),
            updated: f("updated", &it.updated, &mut p),
            status: f("status", &it.status, &mut p),
            promoter: f("promoter", &it.promoter, &mut p),
            territory: f("territory", &it.territory, &mut p),
            topics: f("topics", &it.topics, &mut p),
            image: f("image", &it.image, &mut p),
        });
        match (list_url, listing, fields) {
            (Some(list_url), Some(listing), Some(fields)) if p.is_empty() => Ok(HtmlConnector {
                fingerprint: snodo_sitekit::cache::fingerprint(&params),
                list_url,
                listing,
                fields,
                kind,
                locale,
                max_items: max_items as usize,
                max_pages,
                complete_listing: params.complete_listing.unwrap_or(true),
            }),
            _ => Err(snodo_sitekit::params_error(&spec.id, "html", &p)),
        }
    }

    /// Extracts an item from a page. Returns the item and the configured fields that matched
    /// nothing (or whose text could not be read as what the field needs).
    pub fn extract(&self, page_url: &url::Url, html: &str) -> (Item, Vec<String>) {
        let doc = Html::parse_document(html);
        let f = &self.fields;
        let mut missing = Vec::new();
        let mut get = |field: &Option<Field>| -> Option<String> {
            let field = field.as_ref()?;
            let v = field.first(&doc);
            if v.is_none() && field.configured {
                missing.push(format!("{} (`{}`)", field.name, field.source));
            }
            v
        };
        let subtitle = get(&f.subtitle);
        let summary = get(&f.summary);
        let dates = get(&f.dates);
        let start = get(&f.start_date);
        let end = get(&f.end_date);
        let published = get(&f.published);
        let updated = get(&f.updated);
        let status = get(&f.status);
        let promoter = get(&f.promoter);
        let territory = get(&f.territory);
        let image = get(&f.image);
        let body = f.body.as_ref().and_then(|b| {
            let v = b.first_html(&doc);
            if v.is_none() {
                missing.push(format!("body (`{}`)", b.source));
            }
            v
        });
        let topics = match &f.topics {
            Some(t) => {
                let v = t.all(&doc);
                if v.is_empty() {
                    missing.push(format!("topics (`{}`)", t.source));
                }
                v
            }
            None => Vec::new(),
        };
        let title = f.title.first(&doc).unwrap_or_default();
        if title.is_empty() && f.title.configured {
            missing.push(format!("title (`{}`)", f.title.source));
        }
        let mut item = Item {
            url: page_url.to_string(),
            title,
            subtitle,
            summary,
            body_html: body,
            promoter,
            territory,
            topics,
            image: image
                .and_then(|i| absolute_url(page_url, &i))
                .map(|u| u.to_string()),
            ..Item::default()
        };
        if let Some(d) = &dates {
            let r = parse_range(d);
            if r.is_empty() {
                missing.push(format!(
                    "dates (`{}` gave \"{}\", not a date)",
                    source(&f.dates),
                    short(d)
                ));
            }
            item.start = r.start;
            item.end = r.end;
        }
        let mut date_field = |v: &Option<String>, field: &Option<Field>| {
            let v = v.as_deref()?;
            let d = parse_date(v);
            if d.is_none() {
                missing.push(format!(
                    "{} (`{}` gave \"{}\", not a date)",
                    field.as_ref().map(|f| f.name).unwrap_or(""),
                    source(field),
                    short(v)
                ));
            }
            d
        };
        if let Some(d) = date_field(&start, &f.start_date) {
            item.start = Some(d);
        }
        if let Some(d) = date_field(&end, &f.end_date) {
            item.end = Some(d);
        }
        item.published = published.as_deref().and_then(parse_instant);
        item.updated = updated.as_deref().and_then(parse_instant);
        item.status = status.as_deref().and_then(parse_status);
        (item, missing)
    }

    /// Links to item pages on a list page, and the next page's URL.
    fn list_page(&self, page_url: &url::Url, html: &str) -> ListPage {
        let doc = Html::parse_document(html);
        let Listing::Pages {
            item_link,
            next_link,
            ..
        } = &self.listing
        else {
            return ListPage::default();
        };
        let mut links = Vec::new();
        let a_href = Selector::parse("a[href]").ok();
        for el in doc.select(item_link).take(1000) {
            let href = el
                .value()
                .attr("href")
                .or_else(|| {
                    let a = a_href.as_ref()?;
                    el.select(a).next().and_then(|a| a.value().attr("href"))
                })
                .and_then(|h| absolute_url(page_url, h));
            if let Some(u) = href {
                let s = u.to_string();
                if !links.contains(&s) {
                    links.push(s);
                }
            }
        }
        let next = next_link.as_ref().and_then(|sel| {
            doc.select(sel)
                .filter_map(|el| el.value().attr("href"))
                .find_map(|h| absolute_url(page_url, h))
                .map(|u| u.to_string())
        });
        ListPage { links, next }
    }

    fn same_host(&self, u: &str) -> bool {
        url::Url::parse(u).is_ok_and(|u| {
            u.host_str() == self.list_url.host_str()
                && u.port_or_known_default() == self.list_url.port_or_known_default()
        })
    }

    /// Collects item URLs from the list pages (or the sitemap). Returns them and whether the
    /// whole listing was read.
    async fn item_urls(
        &self,
        ctx: &HarvestContext,
        previous: &PageCache,
        next_cache: &mut PageCache,
        warnings: &mut Vec<String>,
    ) -> Result<(Vec<String>, bool), ConnectorError> {
        let mut urls: Vec<String> = Vec::new();
        // `urls` as a set: a sitemap lists up to 50,000 (a scan of the list per link was
        // quadratic).
        let mut listed: HashSet<String> = HashSet::new();
        let mut seen_pages: HashSet<String> = HashSet::new();
        let mut whole = true;
        let mut offsite = 0usize;
        match &self.listing {
            Listing::Sitemap { url, filter } => {
                let mut queue = vec![url.clone()];
                let mut pages = 0;
                while let Some(sm) = queue.pop() {
                    ctx.check_cancelled()?;
                    if !seen_pages.insert(sm.clone()) {
                        continue;
                    }
                    pages += 1;
                    if pages > self.max_pages {
                        whole = false;
                        warnings.push(format!(
                            "{sm}: more than {} sitemaps; stopped (raise list.max_pages)",
                            self.max_pages
                        ));
                        break;
                    }
                    let locs: Vec<String> = match fetch_page(&ctx.http, previous, &sm, ACCEPT_XML)
                        .await?
                    {
                        Page::Disallowed { robots_url } => {
                            whole = false;
                            warnings.push(format!("{sm}: skipped, {robots_url} forbids it"));
                            continue;
                        }
                        Page::Unchanged(c) => {
                            let v = serde_json::from_value(c.value.clone()).unwrap_or_default();
                            next_cache.put(&sm, c);
                            v
                        }
                        Page::Fresh {
                            response,
                            validators,
                        } => {
                            let locs = sitemap_locs(&String::from_utf8_lossy(&response.body));
                            if locs.is_empty() {
                                return Err(ConnectorError::Protocol {
                                    url: sm.clone(),
                                    message: "expected a sitemap (<urlset> or <sitemapindex> with <loc> entries) but found none; check list.sitemap".into(),
                                });
                            }
                            next_cache.put(
                                &sm,
                                CachedPage {
                                    validators,
                                    value: serde_json::to_value(&locs).unwrap_or_default(),
                                    warnings: vec![],
                                },
                            );
                            locs
                        }
                    };
                    ctx.report(Progress::Page {
                        what: format!("sitemap {sm}"),
                    });
                    for loc in locs {
                        let Some(u) = absolute_url(&self.list_url, &loc).map(|u| u.to_string())
                        else {
                            continue;
                        };
                        if u.ends_with(".xml") || u.ends_with(".xml.gz") {
                            if u.ends_with(".xml") && self.same_host(&u) {
                                queue.push(u);
                            }
                        } else if filter.as_ref().is_none_or(|f| u.contains(f.as_str())) {
                            if !self.same_host(&u) {
                                offsite += 1;
                            } else if listed.insert(u.clone()) {
                                urls.push(u);
                            }
                        }
                    }
                }
            }
            Listing::Pages { page_param, .. } => {
                let mut number = page_param.as_ref().map(|(_, s)| *s).unwrap_or(1);
                let numbered = |name: &str, n: u32| {
                    let mut u = self.list_url.clone();
                    let kept: Vec<(String, String)> = u
                        .query_pairs()
                        .filter(|(k, _)| k != name)
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect();
                    u.query_pairs_mut()
                        .clear()
                        .extend_pairs(kept)
                        .append_pair(name, &n.to_string());
                    u.to_string()
                };
                let mut page_url = Some(match page_param {
                    Some((name, _)) => numbered(name, number),
                    None => self.list_url.to_string(),
                });
                let mut pages = 0;
                while let Some(current) = page_url.take() {
                    ctx.check_cancelled()?;
                    if !seen_pages.insert(current.clone()) {
                        break;
                    }
                    pages += 1;
                    if pages > self.max_pages {
                        whole = false;
                        warnings.push(format!(
                            "{current}: more than {} list pages; stopped (raise list.max_pages)",
                            self.max_pages
                        ));
                        break;
                    }
                    let fetched = fetch_page(&ctx.http, previous, &current, ACCEPT_HTML).await;
                    let list = match fetched {
                        // Past the last page, numbered lists often answer 404.
                        Err(e) if pages > 1 && page_param.is_some() && e.status() == Some(404) => {
                            break
                        }
                        Err(e) => return Err(e.into()),
                        Ok(Page::Disallowed { robots_url }) => {
                            whole = false;
                            warnings.push(format!("{current}: skipped, {robots_url} forbids it"));
                            break;
                        }
                        Ok(Page::Unchanged(c)) => {
                            let v: ListPage =
                                serde_json::from_value(c.value.clone()).unwrap_or_default();
                            next_cache.put(&current, c);
                            v
                        }
                        Ok(Page::Fresh {
                            response,
                            validators,
                        }) => {
                            let base =
                                url::Url::parse(&current).unwrap_or_else(|_| self.list_url.clone());
                            let v = self.list_page(&base, &String::from_utf8_lossy(&response.body));
                            next_cache.put(
                                &current,
                                CachedPage {
                                    validators,
                                    value: serde_json::to_value(&v).unwrap_or_default(),
                                    warnings: vec![],
                                },
                            );
                            v
                        }
                    };
                    ctx.report(Progress::Page {
                        what: format!("list {current}"),
                    });
                    if pages == 1 && list.links.is_empty() {
                        return Err(ConnectorError::Protocol {
                            url: current,
                            message: "list.item_link matched no link on the first list page; check the selector against the page".into(),
                        });
                    }
                    let before = urls.len();
                    for l in list.links {
                        if !self.same_host(&l) {
                            offsite += 1;
                        } else if listed.insert(l.clone()) {
                            urls.push(l);
                        }
                    }
                    if ctx.limit_reached(urls.len()) {
                        whole = false;
                        break;
                    }
                    page_url = match page_param {
                        Some((name, _)) => {
                            if urls.len() == before {
                                None
                            } else {
                                number += 1;
                                Some(numbered(name, number))
                            }
                        }
                        None => list.next.filter(|n| self.same_host(n)),
                    };
                }
            }
        }
        if offsite > 0 {
            warnings.push(format!(
                "{}: {offsite} item links lead to other hosts and were not followed",
                self.list_url
            ));
        }
        Ok((urls, whole))
    }
}

fn source(f: &Option<Field>) -> &str {
    f.as_ref().map(|f| f.source.as_str()).unwrap_or("")
}

fn short(s: &str) -> String {
    snodo_model::text::truncate_words(s, 60)
}

/// `<loc>` values of a sitemap or sitemap index (entities decoded).
pub fn sitemap_locs(xml: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find("<loc>") {
        rest = &rest[i + 5..];
        let Some(j) = rest.find("</loc>") else { break };
        let raw = rest[..j].trim();
        let raw = raw
            .strip_prefix("<![CDATA[")
            .and_then(|r| r.strip_suffix("]]>"))
            .unwrap_or(raw);
        let v = raw
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'");
        out.push(v.trim().to_owned());
        rest = &rest[j..];
        if out.len() >= 50_000 {
            break;
        }
    }
    out
}

/// Field problems of a run, grouped per field: "summary (`.abstract`) on 3 of 10 pages, e.g. URL".
#[derive(Default)]
struct Misses(BTreeMap<String, (usize, String)>);

impl Misses {
    fn add(&mut self, page: &str, fields: &[String]) {
        for f in fields {
            let e = self.0.entry(f.clone()).or_insert((0, page.to_owned()));
            e.0 += 1;
        }
    }

    fn warnings(self, pages: usize) -> Vec<String> {
        self.0
            .into_iter()
            .map(|(field, (n, example))| {
                format!("field {field} matched nothing usable on {n} of {pages} item pages, e.g. {example}; check the selector")
            })
            .collect()
    }
}

#[async_trait]
impl Connector for HtmlConnector {
    fn kind(&self) -> &'static str {
        "html"
    }

    async fn harvest(
        &self,
        ctx: &HarvestContext,
        checkpoint: Option<&str>,
    ) -> Result<HarvestOutput, ConnectorError> {
        let previous = PageCache::load(checkpoint, &self.fingerprint);
        let mut next = PageCache::new(&self.fingerprint);
        let mut out = HarvestOutput::default();
        let (urls, mut whole) = self
            .item_urls(ctx, &previous, &mut next, &mut out.warnings)
            .await?;
        let target = Target {
            source: ctx.source.clone(),
            kind: self.kind,
            locale: self.locale.clone(),
        };
        let mut misses = Misses::default();
        let mut pages = 0usize;
        // Items taken so far, handed over or not.
        let mut taken = 0usize;
        for u in urls {
            ctx.check_cancelled()?;
            if taken >= self.max_items || ctx.limit_reached(taken) {
                whole = false;
                break;
            }
            let fetched =
                fetch_page_or_stored(ctx, &previous, &u, ACCEPT_HTML, |c: &CachedPage| {
                    let page: ItemPage = serde_json::from_value(c.value.clone()).ok()?;
                    snodo_sitekit::cache::parse_ids(&page.id)
                })
                .await;
            let (page, record) = match fetched {
                Ok((Page::Disallowed { robots_url }, _)) => {
                    whole = false;
                    out.warnings
                        .push(format!("{u}: skipped, {robots_url} forbids it"));
                    continue;
                }
                Ok((Page::Unchanged(c), unchanged)) => {
                    let v: ItemPage = serde_json::from_value(c.value.clone()).unwrap_or_default();
                    next.put(&u, c);
                    (v, unchanged.into_iter().next().map(Made::Stored))
                }
                Ok((
                    Page::Fresh {
                        response,
                        validators,
                    },
                    _,
                )) => {
                    let page_url = url::Url::parse(&u).unwrap_or_else(|_| self.list_url.clone());
                    let (item, missing) =
                        self.extract(&page_url, &String::from_utf8_lossy(&response.body));
                    let mut w = Vec::new();
                    let (v, record) = match build_record(item, &target, &mut w) {
                        Ok(r) => (
                            ItemPage {
                                id: Some(r.id.to_string()),
                                missing,
                                error: None,
                            },
                            Some(Made::Record(Box::new(r))),
                        ),
                        Err(e) => (
                            ItemPage {
                                id: None,
                                missing,
                                error: Some(e),
                            },
                            None,
                        ),
                    };
                    next.put(
                        &u,
                        CachedPage {
                            validators,
                            value: serde_json::to_value(&v).unwrap_or_default(),
                            warnings: w.clone(),
                        },
                    );
                    out.warnings.extend(w);
                    (v, record)
                }
                Err(e) if !e.is_transient() || e.status().is_some() => {
                    // One broken item page does not fail the run; it makes it partial.
                    out.failed += 1;
                    out.warnings.push(format!("item page skipped: {e}"));
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            pages += 1;
            misses.add(&u, &page.missing);
            match record {
                Some(Made::Record(r)) => {
                    out.records.push(*r);
                    taken += 1;
                    ctx.hand_over(&mut out).await?;
                }
                Some(Made::Stored(id)) => {
                    out.unchanged.push(id);
                    taken += 1;
                }
                None => {
                    out.failed += 1;
                    out.warnings
                        .push(format!("item skipped: {}", page.error.unwrap_or_default()));
                }
            }
            ctx.report(Progress::Page {
                what: format!("item {u}"),
            });
        }
        out.warnings.extend(misses.warnings(pages));
        ctx.report(Progress::Records { n: taken as u64 });
        out.complete = whole && self.complete_listing && ctx.item_limit().is_none();
        out.checkpoint = next.to_checkpoint();
        Ok(out)
    }
}
