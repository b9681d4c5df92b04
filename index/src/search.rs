//! Search requests and results: plain Rust types, and the search itself.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::Serialize;
use snodo_model::text::truncate_words;
use snodo_model::{Kind, Status, Territory};
use tantivy::collector::Count;
use tantivy::query::{
    AllQuery, BooleanQuery, ConstScoreQuery, Occur, Query, RangeQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{Searcher, TantivyDocument, Term};

use crate::collect::{Facets as FacetCollector, TopK};
use crate::document::{day, within_terms, Display, NATIONAL_TERM};
use crate::error::{engine, IndexError};
use crate::schema::{Fields, LangGroup};

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
fn status_filters(f: &Fields, status: Status, today: i64) -> Vec<(Occur, Box<dyn Query>)> {
    use Bound::{Excluded, Included, Unbounded};
    let started = || filter(range(f.start_day, Unbounded, Included(today)));
    match status {
        Status::Upcoming => vec![filter(range(f.start_day, Excluded(today), Unbounded))],
        Status::Closed => vec![
            started(),
            filter(range(f.end_day, Unbounded, Excluded(today))),
        ],
        Status::Open => vec![
            started(),
            filter(range(f.end_day, Included(today), Unbounded)),
        ],
    }
}

/// Which text a snippet comes from.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum SnippetSource {
    Description,
    Summary,
}

/// Snippet generators, created on first use for each (text, language group).
struct Snippets<'a> {
    searcher: &'a Searcher,
    query: &'a dyn Query,
    fields: &'a Fields,
    /// Per text and language: the generator, and the query's terms as they start a folded word.
    generators: BTreeMap<(SnippetSource, LangGroup), (SnippetGenerator, Needles)>,
    /// Distinct highlighted words that make a window's fragment good enough to stop scanning:
    /// the query's words, up to three.
    enough: usize,
    /// Lower case and ASCII folding, exactly as the fields' analyzers do, without tokenising or
    /// stemming: what makes the check for the query's terms cheap.
    folder: Folder,
}

/// Folds texts as the fields' analyzers do (lower case, then ASCII folding), one pass per text:
/// ASCII is folded inline, and each other character through tantivy's own filters once per
/// search, so the result is the analyzers' to the byte.
struct Folder {
    analyzer: tantivy::tokenizer::TextAnalyzer,
    non_ascii: HashMap<char, String>,
}

/// A folded text, and where its bytes come from in the original text.
struct Folded {
    text: String,
    /// Where the folded text stops following the original byte for byte: at each non-ASCII
    /// character (whose folded form maps to its start) and right after it. Sorted by the first
    /// element; ASCII text (most of it) needs no entry.
    jumps: Vec<Jump>,
}

#[derive(Clone, Copy)]
struct Jump {
    /// Offset in the folded text.
    folded: u32,
    /// Offset in the original text.
    original: u32,
    /// The folded bytes from here on come from one character (at `original`); else they follow
    /// the original one for one.
    within_char: bool,
}

impl Folded {
    /// The offset in the original text of the character the folded byte `at` comes from.
    fn origin(&self, at: usize) -> usize {
        let at = u32::try_from(at).unwrap_or(u32::MAX);
        let i = self.jumps.partition_point(|j| j.folded <= at);
        match i.checked_sub(1).map(|i| self.jumps[i]) {
            None => at as usize,
            Some(j) if j.within_char => j.original as usize,
            Some(j) => (j.original + (at - j.folded)) as usize,
        }
    }
}

impl Folder {
    fn new() -> Folder {
        Folder {
            analyzer: folder(),
            non_ascii: HashMap::new(),
        }
    }

    /// Lower case and ASCII folding as the analysers do; runs of ASCII (most of a text) are
    /// copied and lower-cased in bulk.
    fn fold(&mut self, text: &str) -> Folded {
        let mut out = String::with_capacity(text.len());
        let mut jumps = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let ascii = rest
                .bytes()
                .position(|b| !b.is_ascii())
                .unwrap_or(rest.len());
            let from = out.len();
            out.push_str(&rest[..ascii]);
            out[from..].make_ascii_lowercase();
            rest = &rest[ascii..];
            let Some(c) = rest.chars().next() else { break };
            let at = text.len() - rest.len();
            let analyzer = &mut self.analyzer;
            let f = self.non_ascii.entry(c).or_insert_with(|| {
                let mut buf = [0u8; 4];
                let mut stream = analyzer.token_stream(c.encode_utf8(&mut buf));
                let mut folded = String::new();
                while let Some(t) = stream.next() {
                    folded.push_str(&t.text);
                }
                folded
            });
            let offset = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
            jumps.push(Jump {
                folded: offset(out.len()),
                original: offset(at),
                within_char: true,
            });
            out.push_str(f);
            rest = &rest[c.len_utf8()..];
            jumps.push(Jump {
                folded: offset(out.len()),
                original: offset(at + c.len_utf8()),
                within_char: false,
            });
        }
        Folded { text: out, jumps }
    }
}

/// The query's terms as they start a folded word, found all at once.
struct Needles(Option<aho_corasick::AhoCorasick>);

impl Needles {
    fn new(needles: &[String]) -> Needles {
        // The NFA: it is built for one search and runs over some twenty texts, and the DFA the
        // default picks for a few needles took longer to build than the searches it sped up.
        // Beyond the automaton's size limits: no snippets, not an error.
        Needles(
            aho_corasick::AhoCorasick::builder()
                .kind(Some(aho_corasick::AhoCorasickKind::NoncontiguousNFA))
                .build(needles)
                .ok(),
        )
    }

    fn count(&self) -> usize {
        self.0.as_ref().map_or(0, |f| f.patterns_len())
    }
}

/// Where a text mentions the query's terms: (offset in the text, which needle), in text order,
/// in one pass however many terms a query expands to.
fn mentions(folded: &Folded, needles: &Needles) -> Vec<(usize, usize)> {
    let Some(finder) = &needles.0 else {
        return Vec::new();
    };
    let mut at: Vec<(usize, usize)> = finder
        .find_overlapping_iter(folded.text.as_str())
        .map(|m| (folded.origin(m.start()), m.pattern().as_usize()))
        .collect();
    // reported by where they end; `densest` reads them by where they start
    at.sort_unstable();
    at
}

/// The offset where the densest stretch of mentions begins: the most different needles within
/// one fragment's length, the earliest of equals.
fn densest(at: &[(usize, usize)], needles: usize) -> usize {
    let mut counts = vec![0u32; needles];
    let (mut distinct, mut best, mut best_at, mut lo) = (0, 0, at[0].0, 0);
    for &(offset, k) in at {
        counts[k] += 1;
        if counts[k] == 1 {
            distinct += 1;
        }
        while offset - at[lo].0 > SNIPPET_CHARS {
            let j = at[lo].1;
            counts[j] -= 1;
            if counts[j] == 0 {
                distinct -= 1;
            }
            lo += 1;
        }
        if distinct > best {
            (best, best_at) = (distinct, at[lo].0);
        }
    }
    best_at
}

/// The analyzer chain up to the stemmer, over the whole text as one token.
fn folder() -> tantivy::tokenizer::TextAnalyzer {
    use tantivy::tokenizer::{AsciiFoldingFilter, LowerCaser, RawTokenizer, TextAnalyzer};
    TextAnalyzer::builder(RawTokenizer::default())
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// The part of a stem that the folded word it came from surely begins with: stemmers may change
/// a word's last letter (English `happy` → `happi`), never what comes before it.
fn needle(stem: &str) -> String {
    let n = stem.chars().count();
    if n >= 4 {
        stem.chars().take(n - 1).collect()
    } else {
        stem.to_owned()
    }
}

/// Bytes of a text analysed at a time for its snippet. A snippet re-tokenises what it reads with
/// the field's analyzer, which on long descriptions was the largest single cost of a search
/// (29 % of the CPU on the realistic corpus): reading windows in order and stopping at the first
/// fragment that shows the query's words costs a fraction of reading the whole body.
const SNIPPET_WINDOW: usize = 1024;
/// Windows overlap by this much, so that a fragment across a boundary is found whole.
const SNIPPET_OVERLAP: usize = 2 * SNIPPET_CHARS;

/// The first char boundary at or after `i` that follows whitespace (or the end of the text).
fn window_end(text: &str, i: usize) -> usize {
    if i >= text.len() {
        return text.len();
    }
    let mut i = i;
    while !text.is_char_boundary(i) {
        i += 1;
    }
    match text[i..].find(char::is_whitespace) {
        Some(at) => i + at,
        None => text.len(),
    }
}

/// The best fragment of `text[start..end]`, if it shows any of the query's terms: (how many
/// different words it highlights, `start`, the snippet).
fn snippet_in(
    g: &SnippetGenerator,
    text: &str,
    start: usize,
    end: usize,
) -> Option<(usize, usize, tantivy::snippet::Snippet)> {
    let s = g.snippet(&text[start..end]);
    (!s.is_empty()).then(|| (distinct_highlights(&s), start, s))
}

/// Where a window that must include `at` starts: after the last whitespace between `from` and
/// `at`, so that it does not begin mid-word, or at `from` (on a char boundary) when there is none.
fn window_start(text: &str, from: usize, at: usize) -> usize {
    let mut from = from.min(at);
    while !text.is_char_boundary(from) {
        from -= 1;
    }
    match text
        .get(from..at)
        .and_then(|t| t.rfind(char::is_whitespace))
    {
        Some(i) => from + i,
        None => from,
    }
}

/// How many different words a snippet highlights (its quality, for choosing among windows).
fn distinct_highlights(s: &tantivy::snippet::Snippet) -> usize {
    let mut seen: Vec<String> = Vec::new();
    for r in s.highlighted() {
        if let Some(w) = s.fragment().get(r.clone()) {
            let w = w.to_lowercase();
            if !seen.contains(&w) {
                seen.push(w);
            }
        }
    }
    seen.len()
}

impl Snippets<'_> {
    fn snippet(
        &mut self,
        which: SnippetSource,
        locale: &str,
        text: &str,
    ) -> Result<Option<String>, IndexError> {
        let group = LangGroup::of_locale(locale);
        let key = (which, group);
        if !self.generators.contains_key(&key) {
            // The query's terms in the body field (where description and summary are
            // indexed), highlighted in whichever of the two texts the hit shows; scored as
            // tantivy's own `SnippetGenerator::create` does.
            let field = self.fields.body.get(group);
            let mut terms: BTreeMap<String, f32> = BTreeMap::new();
            let mut failed = None;
            self.query.query_terms(&mut |term, _| {
                if term.field() != field || failed.is_some() {
                    return;
                }
                let value = term.value();
                let Some(text) = value.as_str() else {
                    return;
                };
                match self.searcher.doc_freq(term) {
                    Ok(0) => {}
                    Ok(df) => {
                        terms.insert(text.to_owned(), 1.0 / (1.0 + df as f32));
                    }
                    Err(e) => failed = Some(e),
                }
            });
            if let Some(e) = failed {
                return Err(engine(e));
            }
            let needles: Arc<[String]> = terms.keys().map(|t| needle(t)).collect();
            let tokenizer = crate::schema::snippet_analyzer(group, needles.clone());
            let needles = Needles::new(&needles);
            let g = SnippetGenerator::new(terms, tokenizer, field, SNIPPET_CHARS);
            self.generators.insert(key, (g, needles));
        }
        let Some((g, needles)) = self.generators.get(&key) else {
            return Ok(None);
        };
        let found = mentions(&self.folder.fold(text), needles);
        // Most hits matched in their title or names only: their text is not analysed at all.
        if found.is_empty() {
            return Ok(None);
        }
        let mentioned =
            |from: usize, to: usize| found.iter().any(|(at, _)| (from..to).contains(at));
        let best = if text.len() <= SNIPPET_WINDOW {
            snippet_in(g, text, 0, text.len())
        } else {
            // Where the query's words come closest together: no other stretch shows more of
            // them, so one fragment's worth of text around it is all that is analysed.
            let dense = densest(&found, needles.count());
            let start = window_start(text, dense.saturating_sub(SNIPPET_CHARS / 2), dense);
            let end = window_end(text, dense + SNIPPET_CHARS + SNIPPET_CHARS / 2);
            snippet_in(g, text, start, end).or_else(|| {
                // A mention may be another word sharing a needle's letters (`comu` in
                // `comunicare`): when that left nothing to show, the windows in order.
                let mut best: Option<(usize, usize, tantivy::snippet::Snippet)> = None;
                let mut start = 0;
                loop {
                    let end = window_end(text, start + SNIPPET_WINDOW);
                    if mentioned(start, end) {
                        if let Some(found) = snippet_in(g, text, start, end) {
                            let good = found.0 >= self.enough;
                            if best.as_ref().is_none_or(|(q, _, _)| found.0 > *q) {
                                best = Some(found);
                            }
                            if good {
                                break;
                            }
                        }
                    }
                    if end >= text.len() {
                        break;
                    }
                    let next = window_end(text, end.saturating_sub(SNIPPET_OVERLAP));
                    start = if next > start { next } else { end };
                }
                best
            })
        };
        let Some((_, offset, s)) = best else {
            return Ok(None);
        };
        let range = s.fragment_range();
        Ok(Some(render_snippet(
            text,
            s.fragment(),
            range.start + offset..range.end + offset,
            s.highlighted(),
        )))
    }
}

/// Escapes the fragment and wraps the highlighted ranges in `<mark>`; an ellipsis marks text cut
/// on either side. Built here rather than with tantivy's `to_html`, so that exactly this markup
/// and nothing else can appear.
fn render_snippet(
    text: &str,
    fragment: &str,
    range: std::ops::Range<usize>,
    highlighted: &[std::ops::Range<usize>],
) -> String {
    let mut ranges: Vec<std::ops::Range<usize>> = highlighted.to_vec();
    ranges.sort_by_key(|r| (r.start, r.end));
    let mut out = String::new();
    if range.start > 0 {
        out.push('…');
    }
    let mut pos = 0;
    for r in ranges {
        if r.start < pos || r.end > fragment.len() || r.is_empty() {
            continue; // overlapping, out of bounds or empty: leave unmarked
        }
        let (Some(before), Some(word)) = (fragment.get(pos..r.start), fragment.get(r.clone()))
        else {
            continue;
        };
        out.push_str(&html_escape::encode_text(before));
        out.push_str("<mark>");
        out.push_str(&html_escape::encode_text(word));
        out.push_str("</mark>");
        pos = r.end;
    }
    out.push_str(&html_escape::encode_text(
        fragment.get(pos..).unwrap_or_default(),
    ));
    if range.end < text.trim_end().len() {
        out.push('…');
    }
    out
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
    if let Some(kind) = req.kind {
        clauses.push(term_filter(fields.kind, kind.as_str()));
    }
    if let Some(source) = &req.source {
        clauses.push(term_filter(fields.source, source));
    }
    if let Some(region) = &req.region {
        clauses.push(term_filter(fields.region, region));
    }
    let status_at = clauses.len();
    if let Some(status) = req.status {
        clauses.extend(status_filters(fields, status, today_day));
    }
    let status_clauses = status_at..clauses.len();
    if let Some(method) = &req.method {
        clauses.push(term_filter(fields.method, method));
    }
    if let Some(topic) = &req.topic {
        clauses.push(term_filter(fields.topic, topic));
    }
    if let Some((from, to)) = req.period {
        use Bound::{Included, Unbounded};
        clauses.push(filter(range(
            fields.start_day,
            Unbounded,
            Included(day(to)),
        )));
        clauses.push(filter(range(
            fields.end_day,
            Included(day(from)),
            Unbounded,
        )));
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
    // The filters alone but the status (every clause but the text and the status's): required,
    // and scoring nothing.
    let other: Vec<(Occur, Box<dyn Query>)> = clauses
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(i, _)| !status_clauses.contains(i))
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
                    status: req.status,
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

    let mut snippets = parsed.as_ref().map(|p| Snippets {
        searcher,
        query: p.highlight.as_deref().unwrap_or(p.query.as_ref()),
        fields,
        generators: BTreeMap::new(),
        folder: Folder::new(),
        enough: req
            .q
            .as_deref()
            .map_or(1, |q| q.split_whitespace().count())
            .clamp(1, 3),
    });
    // `EN`, `en_GB` → the stored form of locale keys.
    let lang = req
        .lang
        .as_deref()
        .map(snodo_model::record::normalize_locale);
    let mut items = Vec::with_capacity(top.len());
    for (key, addr) in top {
        let doc: TantivyDocument = searcher.doc(addr).map_err(engine)?;
        let json = doc
            .get_first(fields.display)
            .and_then(|v| v.as_str())
            .ok_or_else(|| IndexError::Corrupt {
                message: "a document has no display data".into(),
            })?;
        let d: Display = serde_json::from_str(json).map_err(|e| IndexError::Corrupt {
            message: e.to_string(),
        })?;
        let score = has_text.then_some(match req.sort {
            Sort::Relevance => key.primary as f32,
            Sort::Newest | Sort::Closing => key.secondary as f32,
        });
        items.push(hit(d, lang.as_deref(), today, score, snippets.as_mut())?);
    }
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
                sn.snippet(SnippetSource::Description, &title_lang, text)?
            } else if let Some(text) = d.summary.get(&title_lang) {
                sn.snippet(SnippetSource::Summary, &title_lang, text)?
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_rendering_escapes_and_marks() {
        let text = "a <b> bilancio & c";
        let start = text.find("bilancio").unwrap();
        // The empty range is ignored.
        let marks = [start..start + 8, text.len()..text.len()];
        let html = render_snippet(text, text, 0..text.len(), &marks);
        assert_eq!(html, "a &lt;b&gt; <mark>bilancio</mark> &amp; c");
        let html = render_snippet(text, &text[2..], 2..text.len(), &[]);
        assert_eq!(html, "…&lt;b&gt; bilancio &amp; c");
    }

    /// One pass folds exactly as the analyzer chain does over the whole text, and every folded
    /// byte points back to the character it came from.
    #[test]
    fn folding_matches_the_analyzers_and_maps_back() {
        let text = "Città di ÉVORA: l'Ærø, Straße, İzmir, ŒUVRE — “naïve” café ½ ﬁne Ω";
        let mut expected = String::new();
        let mut analyzer = folder();
        let mut stream = analyzer.token_stream(text);
        while let Some(t) = stream.next() {
            expected.push_str(&t.text);
        }
        let mut f = Folder::new();
        let folded = f.fold(text);
        assert_eq!(folded.text, expected);
        let at = folded.text.find("strasse").unwrap();
        assert_eq!(&text[folded.origin(at)..][..4], "Stra");
        let at = folded.text.find("naive").unwrap();
        assert_eq!(&text[folded.origin(at)..][..2], "na");
        // Every folded byte maps to the start of the character it comes from.
        let starts: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        let mut previous = 0;
        for at in 0..folded.text.len() {
            let o = folded.origin(at);
            assert!(starts.contains(&o) && o >= previous, "byte {at} -> {o}");
            previous = o;
        }
        // `ß` folds to two bytes, both from it.
        let at = folded.text.find("ss").unwrap();
        assert_eq!(folded.origin(at), folded.origin(at + 1));
        assert_eq!(&text[folded.origin(at)..][..2], "ß");
        assert_eq!(f.fold("").text, "");
        assert_eq!(f.fold("ABC").jumps.len(), 0);
    }

    #[test]
    fn the_densest_stretch_has_the_most_different_words() {
        let needles = [
            "bilanc".to_owned(),
            "partecip".to_owned(),
            "scuol".to_owned(),
        ];
        let mut text = "bilancio ".repeat(60);
        let far = text.len();
        text.push_str("una scuola e la partecipazione al bilancio della città");
        let mut f = Folder::new();
        let found = mentions(&f.fold(&text), &Needles::new(&needles));
        assert_eq!(found.len(), 63);
        let dense = densest(&found, needles.len());
        assert!(
            dense >= far - SNIPPET_CHARS && dense <= far + 4,
            "{dense} vs {far}"
        );
        // a window starts after whitespace, never mid-word, and includes the offset asked for
        let start = window_start(&text, dense.saturating_sub(SNIPPET_CHARS), dense);
        assert!(start <= dense && text[start..].starts_with(' '));
        assert_eq!(window_start("parola", 3, 5), 3);
        assert_eq!(window_start("così è", 4, 6), 5);
        assert_eq!(
            window_start("così", 4, 5),
            3,
            "the char boundary before `from`"
        );
    }
}
