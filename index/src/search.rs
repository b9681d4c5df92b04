//! Search requests and results: plain Rust types, and the search itself.

use std::collections::BTreeMap;
use std::ops::Bound;

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::Serialize;
use snodo_model::text::truncate_words;
use snodo_model::{Kind, Status, Territory};
use tantivy::collector::Count;
use tantivy::query::{
    AllQuery, BooleanQuery, ConstScoreQuery, Occur, Query, RangeQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{Searcher, TantivyDocument, Term};

use crate::collect::{Facets as FacetCollector, TopK};
use crate::document::{day, within_terms, Display, NATIONAL_TERM};
use crate::error::{engine, IndexError};
use crate::schema::Fields;
use crate::snippet::Snippets;

/// Longest page returned, whatever the request asks.
pub const MAX_LIMIT: usize = 1000;
/// Deepest offset served; beyond it the page is empty (the total is still exact).
pub const MAX_OFFSET: usize = 100_000;
/// Summary length when a record has no summary and its description stands in.
pub const SUMMARY_CHARS: usize = 300;
/// Longest snippet fragment, in characters (before escaping and marks).
pub const SNIPPET_CHARS: usize = 200;

/// A search: the user's text, filters, order and page.
#[derive(Clone, Debug, Default)]
pub struct SearchRequest {
    /// The user's query; `None` or blank matches everything.
    pub q: Option<String>,
    pub kind: Option<Kind>,
    /// Computed against the `today` passed to [`crate::Index::search`].
    pub status: Option<Status>,
    /// 2-digit ISTAT region code.
    pub region: Option<String>,
    /// Source id.
    pub source: Option<String>,
    /// A place, by its finest level given (comune, province, region, or national): the records
    /// of that place, or with [`Scope::All`] also those of the places containing it.
    pub place: Option<Territory>,
    pub scope: Scope,
    /// A way of taking part ([`snodo_model::METHODS`]).
    pub method: Option<String>,
    /// A national topic (a [`snodo_model::topics::THEMES`] code).
    pub topic: Option<String>,
    /// Only records whose period overlaps these days, both included (a missing start means
    /// "already started", a missing end "still running", as for the status).
    pub period: Option<(NaiveDate, NaiveDate)>,
    pub sort: Sort,
    /// Page size; 0 returns no items (total and facets only). Capped at [`MAX_LIMIT`].
    pub limit: usize,
    pub offset: usize,
    /// Preferred locale of the returned texts.
    pub lang: Option<String>,
    /// Also count matches by province and by comune ([`Facets::province`], [`Facets::comune`]):
    /// what a map needs, and only a map, so it is asked for.
    pub place_facets: bool,
}

/// How far a place search reaches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scope {
    /// The records of the place itself (a comune's, or a province's and its comuni's…); those
    /// of the places above it are counted apart, in [`SearchResults::above`].
    #[default]
    Local,
    /// The records of the place and of every place above it: its province, its region, Italy.
    All,
}

/// Matches of a local place search that concern a wider place containing it, by level.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Above {
    pub total: u64,
    /// Of the comune's province (as a whole).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub province: Option<u64>,
    /// Of its region (as a whole).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<u64>,
    /// National.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub national: Option<u64>,
}

/// Result order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sort {
    /// Best match first (BM25, multiplied by 1.15 for open records and 1.05 for upcoming ones),
    /// ties newest first. Without words: open records first, closing soonest; then upcoming ones,
    /// starting soonest; then closed ones, most recent first.
    #[default]
    Relevance,
    /// Most recently started or published first.
    Newest,
    /// Earliest end date first; records without an end date last.
    Closing,
}

/// One page of results with the total and the facets of all matches.
#[derive(Debug, Serialize)]
pub struct SearchResults {
    /// Number of all matches (not just this page).
    pub total: u64,
    pub items: Vec<SearchHit>,
    pub facets: Facets,
    /// With a place and [`Scope::Local`]: what else concerns that place from above.
    pub above: Option<Above>,
}

/// One result, ready to display.
#[derive(Debug, Serialize)]
pub struct SearchHit {
    pub id: String,
    pub kind: Kind,
    pub title: String,
    /// Locale of `title` (and of `summary` and `snippet` when they exist in it).
    pub lang: String,
    pub summary: String,
    /// HTML: escaped text with matched words in `<mark>…</mark>`, and no other markup.
    pub snippet: Option<String>,
    pub url: String,
    pub source: String,
    pub status: Status,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub region: Option<String>,
    /// 3-digit UTS code of the province or metropolitan city.
    pub province: Option<String>,
    pub comune: Option<String>,
    pub scope_name: Option<String>,
    pub image_url: Option<String>,
    pub methods: Vec<String>,
    /// National topics (theme codes).
    pub themes: Vec<String>,
    /// Exact start and end, where the source gives them (meetings), with their UTC offset.
    pub start_time: Option<DateTime<FixedOffset>>,
    pub end_time: Option<DateTime<FixedOffset>>,
    /// The space the record belongs to (a meeting's process): its title, in the hit's locale
    /// when it has one, and its page.
    pub parent_title: Option<String>,
    pub parent_url: Option<String>,
    /// Ids of records on other sources describing the same thing (not searchable themselves),
    /// sorted; the source is the first part of each id.
    pub same_as: Vec<String>,
    /// Relevance score when the search had text.
    pub score: Option<f32>,
}

/// Value → count over all matches of the query and filters.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Facets {
    pub kind: BTreeMap<String, u64>,
    pub status: BTreeMap<String, u64>,
    /// Records without a region are not counted here.
    pub region: BTreeMap<String, u64>,
    pub source: BTreeMap<String, u64>,
    /// Ways of taking part; a record counts once for each it offers.
    pub method: BTreeMap<String, u64>,
    /// National topics (theme codes); a record counts once for each of its topics.
    pub topic: BTreeMap<String, u64>,
    /// With [`SearchRequest::place_facets`]: matches by province (UTS code), records of its
    /// comuni included; empty otherwise.
    pub province: BTreeMap<String, u64>,
    /// With [`SearchRequest::place_facets`]: matches by comune (ISTAT code).
    pub comune: BTreeMap<String, u64>,
}

/// A filter clause: must match, adds nothing to the score.
fn filter(q: Box<dyn Query>) -> (Occur, Box<dyn Query>) {
    (Occur::Must, Box::new(ConstScoreQuery::new(q, 0.0)))
}

fn term_filter(field: Field, value: &str) -> (Occur, Box<dyn Query>) {
    filter(Box::new(TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    )))
}

fn range(field: Field, lower: Bound<i64>, upper: Bound<i64>) -> Box<dyn Query> {
    let t = |v| Term::from_field_i64(field, v);
    let map = |b: Bound<i64>| match b {
        Bound::Included(v) => Bound::Included(t(v)),
        Bound::Excluded(v) => Bound::Excluded(t(v)),
        Bound::Unbounded => Bound::Unbounded,
    };
    Box::new(RangeQuery::new(map(lower), map(upper)))
}

/// The status filter, with the same semantics as [`Status::from_dates`] (inclusive days):
/// upcoming = start > today; closed = start ≤ today and end < today; open = start ≤ today ≤ end.
fn status_filters(f: &Fields, status: Status, today: NaiveDate) -> Vec<(Occur, Box<dyn Query>)> {
    use Bound::{Excluded, Included, Unbounded};
    let day_of_today = day(today);
    let started = || filter(range(f.start_day, Unbounded, Included(day_of_today)));
    match status {
        Status::Upcoming => vec![filter(range(
            f.start_day,
            Excluded(day_of_today),
            Unbounded,
        ))],
        Status::Closed => vec![
            started(),
            filter(range(f.end_day, Unbounded, Excluded(day_of_today))),
        ],
        Status::Open => period_filters(f, today, today),
    }
}

/// Records whose period overlaps `from..=to`: open on some day of it.
fn period_filters(f: &Fields, from: NaiveDate, to: NaiveDate) -> Vec<(Occur, Box<dyn Query>)> {
    use Bound::{Included, Unbounded};
    match crate::collect::PeriodFilter::new(from, to) {
        Some(period) => vec![filter(Box::new(period))],
        None => vec![
            filter(range(f.start_day, Unbounded, Included(day(to)))),
            filter(range(f.end_day, Included(day(from)), Unbounded)),
        ],
    }
}

/// Runs a search against the current searcher.
pub(crate) fn run(
    searcher: &Searcher,
    fields: &Fields,
    words: crate::query::Vocabulary<'_>,
    columns: &crate::collect::ColumnCache,
    parallel: bool,
    req: &SearchRequest,
    today: NaiveDate,
) -> Result<SearchResults, IndexError> {
    let today_day = day(today);
    let parsed = crate::query::parse(searcher, fields, words, req.q.as_deref())?;
    let has_text = parsed.is_some();
    let main: Box<dyn Query> = match &parsed {
        Some(p) => p.query.box_clone(),
        None => Box::new(AllQuery),
    };
    let mut clauses = vec![(Occur::Must, main)];
    // The clauses a text search answers from the segments' bitmaps instead (see `FacetFilter`).
    let mut from_bitmaps = Vec::new();
    if let Some(kind) = req.kind {
        from_bitmaps.push(clauses.len());
        clauses.push(term_filter(fields.kind, kind.as_str()));
    }
    if let Some(source) = &req.source {
        clauses.push(term_filter(fields.source, source));
    }
    let region_number = req.region.as_deref().and_then(crate::packed::istat_region);
    if let Some(region) = &req.region {
        if region_number.is_some() {
            from_bitmaps.push(clauses.len());
        }
        clauses.push(term_filter(fields.region, region));
    }
    let status_at = clauses.len();
    if let Some(status) = req.status {
        clauses.extend(status_filters(fields, status, today));
    }
    from_bitmaps.extend(status_at..clauses.len());
    if let Some(method) = &req.method {
        clauses.push(term_filter(fields.method, method));
    }
    if let Some(topic) = &req.topic {
        clauses.push(term_filter(fields.topic, topic));
    }
    if let Some((from, to)) = req.period {
        clauses.extend(period_filters(fields, from, to));
    }
    let mut above = None;
    if let Some(place) = &req.place {
        let local = local_term(place);
        let wider = above_terms(place);
        if req.scope == Scope::Local {
            let mut counts = Above::default();
            for (level, term) in &wider {
                let mut c: Vec<(Occur, Box<dyn Query>)> =
                    clauses.iter().map(|(o, q)| (*o, q.box_clone())).collect();
                c.push(term_filter(fields.place, term));
                let n = on_threads(searcher, None, &BooleanQuery::new(c), &Count, parallel)
                    .map_err(engine)? as u64;
                counts.total += n;
                match *level {
                    "province" => counts.province = Some(n),
                    "region" => counts.region = Some(n),
                    _ => counts.national = Some(n),
                }
            }
            above = Some(counts);
            clauses.push(term_filter(fields.place, &local));
        } else {
            let any: Vec<(Occur, Box<dyn Query>)> = std::iter::once(local)
                .chain(wider.into_iter().map(|(_, t)| t))
                .map(|t| {
                    let q: Box<dyn Query> = Box::new(TermQuery::new(
                        Term::from_field_text(fields.place, &t),
                        IndexRecordOption::Basic,
                    ));
                    (Occur::Should, q)
                })
                .collect();
            clauses.push(filter(Box::new(BooleanQuery::new(any))));
        }
    }
    // The filters alone but those answered from bitmaps (every clause but the text and
    // those): required, and scoring nothing.
    let other: Vec<(Occur, Box<dyn Query>)> = clauses
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(i, _)| !from_bitmaps.contains(i))
        .map(|(_, (occur, q))| (*occur, q.box_clone()))
        .collect();
    let filters = (!other.is_empty()).then(|| BooleanQuery::new(other));
    let query = BooleanQuery::new(clauses);

    let facets_collector = FacetCollector {
        today: today_day,
        places: req.place_facets,
        columns,
    };
    let limit = req.limit.min(MAX_LIMIT);
    let (top, counts) = if limit == 0 || req.offset > MAX_OFFSET {
        let counts =
            on_threads(searcher, None, &query, &facets_collector, parallel).map_err(engine)?;
        (Vec::new(), counts)
    } else {
        let top = TopK {
            sort: req.sort,
            limit,
            offset: req.offset,
            boost_today: has_text.then_some(today_day),
            timely_today: (!has_text).then_some(today_day),
            columns,
        };
        let stats = crate::collect::Stats::new(searcher);
        match parsed.as_ref().and_then(|p| p.union.as_ref()) {
            Some(union) if req.sort == Sort::Relevance => crate::collect::counted_then_ranked(
                searcher,
                &stats,
                &crate::collect::TextSearch {
                    filters: filters.as_ref().map(|f| f as &dyn Query),
                    facets: crate::collect::FacetFilter {
                        status: req.status,
                        kind: req.kind,
                        region: region_number,
                    },
                    ranking: union,
                },
                &top,
                &facets_collector,
                parallel,
            )
            .map_err(engine)?,
            _ => on_threads(
                searcher,
                Some(&stats),
                &query,
                &(top, facets_collector),
                parallel,
            )
            .map_err(engine)?,
        }
    };

    // `EN`, `en_GB` → the stored form of locale keys.
    let lang = req
        .lang
        .as_deref()
        .map(snodo_model::record::normalize_locale);
    let page = Page {
        searcher,
        fields,
        highlight: parsed
            .as_ref()
            .map(|p| p.highlight.as_deref().unwrap_or(p.query.as_ref())),
        lang: lang.as_deref(),
        today,
        sort: req.sort,
    };
    let items = page.render(&top, parallel)?;
    Ok(SearchResults {
        total: counts.total,
        items,
        facets: Facets {
            kind: counts.kind,
            status: counts.status,
            region: counts.region,
            source: counts.source,
            method: counts.method,
            topic: counts.topic,
            province: counts.province,
            comune: counts.comune,
        },
        above,
    })
}

/// What turning a page's hits into [`SearchHit`]s needs: each hit's stored document read and
/// parsed, and its snippet found.
struct Page<'a> {
    searcher: &'a Searcher,
    fields: &'a Fields,
    /// The query whose terms the snippets mark; `None` without text.
    highlight: Option<&'a dyn Query>,
    lang: Option<&'a str>,
    today: NaiveDate,
    sort: Sort,
}

/// A page split over threads has at least this many hits per thread: below it, handing the
/// work over costs about what it saves.
const HITS_PER_THREAD: usize = 4;

/// Pages whose hits were split over threads, for tests to see that the split happens.
#[cfg(test)]
pub(crate) static SPLIT_PAGES: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

impl Page<'_> {
    /// The hits of `top`, in order. When `parallel` (no other search running), they are split
    /// over the index's threads: reading and decompressing the stored documents and finding the
    /// snippets in their long texts took a quarter of the CPU of the citizen mix at 100k
    /// records, all on one thread while the other cores waited.
    fn render(
        &self,
        top: &[(crate::collect::SortKey, tantivy::DocAddress)],
        parallel: bool,
    ) -> Result<Vec<SearchHit>, IndexError> {
        let executor = self.searcher.index().search_executor();
        let threads = match executor {
            tantivy::Executor::ThreadPool(pool) if parallel => pool.current_num_threads(),
            _ => 1,
        };
        let parts = threads.min(top.len() / HITS_PER_THREAD).max(1);
        if parts == 1 {
            return self.hits(top);
        }
        let chunk = top.len().div_ceil(parts);
        #[cfg(test)]
        SPLIT_PAGES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let done = executor
            .map(|part| Ok(self.hits(part)), top.chunks(chunk))
            .map_err(engine)?;
        let mut items = Vec::with_capacity(top.len());
        for part in done {
            items.extend(part?);
        }
        Ok(items)
    }

    /// The hits of `top` on this thread, with snippets worked out here (each thread finds the
    /// query's terms in the texts of its own hits).
    fn hits(
        &self,
        top: &[(crate::collect::SortKey, tantivy::DocAddress)],
    ) -> Result<Vec<SearchHit>, IndexError> {
        let mut snippets = self
            .highlight
            .map(|q| Snippets::new(self.searcher, q, self.fields));
        let mut items = Vec::with_capacity(top.len());
        for (key, addr) in top {
            let doc: TantivyDocument = self.searcher.doc(*addr).map_err(engine)?;
            let d = crate::document::display_of(self.fields, &doc)?;
            let score = self.highlight.is_some().then_some(match self.sort {
                Sort::Relevance => key.primary as f32,
                Sort::Newest | Sort::Closing => key.secondary as f32,
            });
            items.push(hit(d, self.lang, self.today, score, snippets.as_mut())?);
        }
        Ok(items)
    }
}

/// Runs a collector over the segments: split over the index's threads when `parallel`, else on
/// the calling thread alone. Splitting a search only pays when the cores are otherwise idle;
/// under load it adds hand-offs and contention to every search for no gain in throughput.
fn on_threads<C: tantivy::collector::Collector>(
    searcher: &Searcher,
    stats: Option<&crate::collect::Stats<'_>>,
    query: &dyn Query,
    collector: &C,
    parallel: bool,
) -> tantivy::Result<C::Fruit> {
    use tantivy::query::EnableScoring;
    let scoring = match (collector.requires_scoring(), stats) {
        (false, _) => EnableScoring::disabled_from_searcher(searcher),
        (true, Some(stats)) => stats.scoring(),
        (true, None) => EnableScoring::enabled_from_searcher(searcher),
    };
    let single;
    let executor = if parallel {
        searcher.index().search_executor()
    } else {
        single = tantivy::Executor::single_thread();
        &single
    };
    searcher.search_with_executor(query, collector, executor, scoring)
}

/// The `place` term of the records of a place itself (see `Fields::place`).
fn local_term(t: &Territory) -> String {
    within_terms(t)
        .into_iter()
        .next()
        .map_or_else(|| NATIONAL_TERM.to_owned(), |(_, term)| term)
}

/// The `place` terms of the records of the places above a place, by level: a comune's
/// province, its region, Italy.
fn above_terms(t: &Territory) -> Vec<(&'static str, String)> {
    let within = within_terms(t);
    let mut out: Vec<(&'static str, String)> = within
        .iter()
        .skip(1)
        .map(|(level, term)| (*level, format!("at:{term}")))
        .collect();
    if !within.is_empty() {
        out.push(("national", NATIONAL_TERM.to_owned()));
    }
    out
}

fn hit(
    d: Display,
    lang: Option<&str>,
    today: NaiveDate,
    score: Option<f32>,
    snippets: Option<&mut Snippets<'_>>,
) -> Result<SearchHit, IndexError> {
    let (title_lang, title) = d
        .title
        .pick(lang, &d.default_locale)
        .map(|(l, t)| (l.to_owned(), t.to_owned()))
        .unwrap_or_else(|| (d.default_locale.clone(), String::new()));
    // Summary and snippet follow the title's locale, so that a card never mixes languages when
    // the texts exist in it.
    let summary = match d.summary.pick(Some(&title_lang), &d.default_locale) {
        Some((_, s)) => s.to_owned(),
        None => d
            .description
            .pick(Some(&title_lang), &d.default_locale)
            .map(|(_, s)| truncate_words(s, SUMMARY_CHARS))
            .unwrap_or_default(),
    };
    let snippet = match snippets {
        Some(sn) => {
            if let Some(text) = d.description.get(&title_lang) {
                sn.snippet(&title_lang, text)?
            } else if let Some(text) = d.summary.get(&title_lang) {
                sn.snippet(&title_lang, text)?
            } else {
                None
            }
        }
        None => None,
    };
    let scope_name = d
        .scope_name
        .pick(Some(&title_lang), &d.default_locale)
        .map(|(_, s)| s.to_owned());
    let parent_title = d
        .parent_title
        .pick(Some(&title_lang), &d.default_locale)
        .map(|(_, s)| s.to_owned());
    Ok(SearchHit {
        status: Status::from_dates(d.start_date, d.end_date, today),
        id: d.id,
        kind: d.kind,
        title,
        lang: title_lang,
        summary,
        snippet,
        url: d.url,
        source: d.source,
        start_date: d.start_date,
        end_date: d.end_date,
        region: d.region,
        province: d.province,
        comune: d.comune,
        scope_name,
        image_url: d.image_url,
        methods: d.methods,
        themes: d.themes,
        same_as: d.same_as,
        start_time: d.start_time,
        end_time: d.end_time,
        parent_title,
        parent_url: d.parent_url,
        score,
    })
}
