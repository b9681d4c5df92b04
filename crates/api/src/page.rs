//! The public pages: search (`GET /`, `GET /en/`), "embed this search" (`GET /embed`,
//! `GET /en/embed`), the accessibility statement and the browser's 404 — data turned into view
//! models here, HTML written by the templates in `crates/api/templates/`.
//!
//! The pages work without JavaScript: a plain `GET` form, results rendered here, links for
//! paging and for the places of the map. When `/widget.js` loads, the `<snodo-search mode="page">`
//! element replaces the server-rendered form and results (they are its light-DOM children, which
//! its shadow root does not show) and searches as you type.
//!
//! Safety: the templates are compiled by askama, which escapes every value it prints, so no
//! harvested title, source name, query or error message can become markup. The only values
//! printed as they are implement `HtmlSafe`: [`Trusted`] (a `&'static str` this crate wrote,
//! i.e. the style sheets), [`Snippet`] (the index's highlighted text, re-checked so only `<mark>`
//! survives) and the sub-templates (a card, a date, a select, a chart), already escaped by their
//! own template. Links to platforms are kept only for `http(s)` URLs. No inline script (the CSP
//! says `script-src 'self'`); the style is an inline `<style>` (allowed by
//! `style-src 'self' 'unsafe-inline'`), also exported as [`PAGE_CSS`] for serving as a file.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use askama::Template;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use snodo_index::{SearchHit, SearchResults};
use snodo_model::territory::region_name;
use snodo_model::{Kind, Status};
use snodo_store::SourceStatus;

use crate::map;

/// The page's style sheet.
pub const PAGE_CSS: &str = include_str!("../assets/page.css");

/// Language of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    It,
    En,
}

impl Lang {
    /// ISO 639-1 code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::It => "it",
            Lang::En => "en",
        }
    }

    /// The search page in this language.
    pub fn home(self) -> &'static str {
        match self {
            Lang::It => "/",
            Lang::En => "/en/",
        }
    }

    /// The embed page in this language.
    pub fn embed(self) -> &'static str {
        match self {
            Lang::It => "/embed",
            Lang::En => "/en/embed",
        }
    }

    pub fn accessibility(self) -> &'static str {
        match self {
            Lang::It => "/accessibilita",
            Lang::En => "/en/accessibility",
        }
    }

    pub(crate) fn other(self) -> Lang {
        match self {
            Lang::It => Lang::En,
            Lang::En => Lang::It,
        }
    }

    /// For templates that hold a whole passage per language.
    pub(crate) fn is_it(self) -> bool {
        self == Lang::It
    }

    /// Picks the Italian or the English text.
    pub(crate) fn t(self, it: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::It => it,
            Lang::En => en,
        }
    }
}

/// Markup this crate wrote (a style sheet compiled in), printed as it is. Only a `&'static str`
/// makes one, so no harvested or user text can pass for it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Trusted(&'static str);

impl fmt::Display for Trusted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl askama::filters::HtmlSafe for Trusted {}

/// Sub-templates printed inside a page: their own template escaped their data already.
macro_rules! component {
    ($($t:ty),* $(,)?) => { $(impl askama::filters::HtmlSafe for $t {})* };
}
pub(crate) use component;

/// A page as a string. Rendering writes into a `String` through our own `Display`s, none of
/// which fails; should one ever, the browser gets a plain notice rather than half a page.
pub(crate) fn render(page: &impl Template) -> String {
    page.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "a page template failed to render");
        "<!doctype html><title>Snodo</title><p>Errore interno · Internal error</p>".to_owned()
    })
}

/// What the shared layout needs besides the language.
pub(crate) struct Head {
    pub title: String,
    pub description: &'static str,
    /// The same page in the other language.
    pub alternate: String,
    /// Loads widget.js, which the console and the statement (no script at all) do without.
    pub widget: bool,
    pub css: Trusted,
    pub extra_css: Option<Trusted>,
}

impl Head {
    pub(crate) fn new(
        title: impl Into<String>,
        description: &'static str,
        alternate: impl Into<String>,
        widget: bool,
    ) -> Head {
        Head {
            title: title.into(),
            description,
            alternate: alternate.into(),
            widget,
            css: Trusted(PAGE_CSS),
            extra_css: None,
        }
    }

    pub(crate) fn with_css(mut self, css: &'static str) -> Head {
        self.extra_css = Some(Trusted(css));
        self
    }
}

/// Escapes `& < > " '` for text that is itself HTML source shown to the reader (the embed
/// snippet), not for the page: the page's escaping is the templates'.
fn attr_text(s: &str) -> Cow<'_, str> {
    html_escape::encode_quoted_attribute(s)
}

/// The URL when it is `http(s)`, else nothing: a `javascript:` link never reaches a page.
pub(crate) fn safe_url(u: &str) -> Option<&str> {
    let t = u.trim();
    let scheme_ok = t.len() > 8
        && (t[..7].eq_ignore_ascii_case("http://") || t[..8].eq_ignore_ascii_case("https://"));
    let clean = !t.chars().any(|c| c.is_control() || c.is_whitespace());
    (scheme_ok && clean).then_some(t)
}

/// A well-formed language tag for a `lang` attribute, or nothing.
fn lang_attr(l: &str) -> Option<&str> {
    let mut parts = l.split('-');
    let first = parts.next()?;
    let ok = (2..=3).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_alphabetic())
        && parts
            .all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    ok.then_some(l)
}

/// The index's highlighted text: escaped text with `<mark>…</mark>`, re-checked by
/// [`Snippet::from_index`], the only way to make one.
pub(crate) struct Snippet(String);

impl Snippet {
    /// Keeps exactly `<mark>` and `</mark>`; any other `<`, `>` or `"` (which the index never
    /// sends) is escaped again, so no other tag can pass.
    fn from_index(s: &str) -> Snippet {
        Snippet(safe_snippet(s))
    }
}

impl fmt::Display for Snippet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl askama::filters::HtmlSafe for Snippet {}

fn safe_snippet(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    let mut rest = s;
    let mut open = false;
    while !rest.is_empty() {
        let next = rest
            .find("<mark>")
            .into_iter()
            .chain(rest.find("</mark>"))
            .min();
        let (text, tag) = match next {
            Some(i) => (&rest[..i], Some(&rest[i..])),
            None => (rest, None),
        };
        out.push_str(
            &text
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;"),
        );
        match tag {
            Some(t) if t.starts_with("<mark>") => {
                if !open {
                    out.push_str("<mark>");
                    open = true;
                }
                rest = &t[6..];
            }
            Some(t) => {
                if open {
                    out.push_str("</mark>");
                    open = false;
                }
                rest = &t[7..];
            }
            None => rest = "",
        }
    }
    if open {
        out.push_str("</mark>");
    }
    out
}

fn param<'a>(params: &'a [(String, String)], key: &str) -> &'a str {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim())
        .unwrap_or("")
}

/// `path?k=v&…` from the non-empty pairs, percent-encoded.
pub(crate) fn href(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if !v.is_empty() {
            ser.append_pair(k, v);
        }
    }
    let q = ser.finish();
    if q.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{q}")
    }
}

const MONTHS_IT: [&str; 12] = [
    "gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott", "nov", "dic",
];
const MONTHS_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn month(lang: Lang, m: u32) -> &'static str {
    let months = match lang {
        Lang::It => &MONTHS_IT,
        Lang::En => &MONTHS_EN,
    };
    months[(m.clamp(1, 12) - 1) as usize]
}

/// A date or an instant: words for people, the ISO form for machines.
#[derive(Template)]
#[template(path = "parts/time.html")]
pub(crate) struct Time {
    iso: String,
    text: String,
}

fn date(lang: Lang, d: NaiveDate) -> Time {
    Time {
        iso: d.format("%Y-%m-%d").to_string(),
        text: format!("{} {} {}", d.day(), month(lang, d.month()), d.year()),
    }
}

/// An instant as people in Italy read it (Europe/Rome, summer time included); the machine
/// readable attribute stays in UTC.
pub(crate) fn datetime(lang: Lang, t: DateTime<Utc>) -> Time {
    let local = t.with_timezone(&chrono_tz::Europe::Rome);
    Time {
        iso: t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        text: format!(
            "{} {} {}, {}",
            local.day(),
            month(lang, local.month()),
            local.year(),
            local.format("%H:%M")
        ),
    }
}

fn kind_label(lang: Lang, k: Kind) -> &'static str {
    match k {
        Kind::Process => lang.t("Processo", "Process"),
        Kind::Assembly => lang.t("Assemblea", "Assembly"),
        Kind::Consultation => lang.t("Consultazione", "Consultation"),
        Kind::Conference => lang.t("Conferenza", "Conference"),
        Kind::Initiative => lang.t("Iniziativa", "Initiative"),
        Kind::Meeting => lang.t("Incontro", "Meeting"),
        Kind::Proposal => lang.t("Proposta", "Proposal"),
        Kind::Experience => lang.t("Esperienza", "Experience"),
    }
}

/// "3 incontri" / "1 meeting": a count of records of one kind, in words; an unknown kind as given.
pub(crate) fn kind_count(lang: Lang, kind: &str, n: u64) -> String {
    let Ok(k) = kind.parse::<Kind>() else {
        return format!("{n} {kind}");
    };
    let (it1, itn, en1, enn) = match k {
        Kind::Process => ("processo", "processi", "process", "processes"),
        Kind::Assembly => ("assemblea", "assemblee", "assembly", "assemblies"),
        Kind::Consultation => (
            "consultazione",
            "consultazioni",
            "consultation",
            "consultations",
        ),
        Kind::Conference => ("conferenza", "conferenze", "conference", "conferences"),
        Kind::Initiative => ("iniziativa", "iniziative", "initiative", "initiatives"),
        Kind::Meeting => ("incontro", "incontri", "meeting", "meetings"),
        Kind::Proposal => ("proposta", "proposte", "proposal", "proposals"),
        Kind::Experience => ("esperienza", "esperienze", "experience", "experiences"),
    };
    plural(lang, n, it1, itn, en1, enn)
}

fn status_label(lang: Lang, s: Status) -> &'static str {
    match s {
        Status::Open => lang.t("Aperto", "Open"),
        Status::Upcoming => lang.t("In arrivo", "Upcoming"),
        Status::Closed => lang.t("Concluso", "Closed"),
    }
}

fn method_label(lang: Lang, m: &str) -> &str {
    match m {
        "proposals" => lang.t("proposte", "proposals"),
        "meetings" => lang.t("incontri", "meetings"),
        "surveys" => lang.t("questionari", "surveys"),
        "budgets" => lang.t("bilancio partecipativo", "participatory budget"),
        "debates" => lang.t("dibattiti", "debates"),
        "consultation" => lang.t("consultazione", "consultation"),
        "accountability" => lang.t("monitoraggio", "accountability"),
        "blogs" => lang.t("notizie", "news"),
        "pages" => lang.t("pagine", "pages"),
        "sortitions" => lang.t("sorteggi", "sortitions"),
        other => other,
    }
}

/// Short names of the regions, for result cards.
fn region_short(code: &str) -> &'static str {
    match code {
        "02" => "Valle d'Aosta",
        "04" => "Trentino-Alto Adige",
        _ => region_name(code).unwrap_or(""),
    }
}

fn region_short_opt(code: &str) -> Option<&'static str> {
    Some(region_short(code)).filter(|n| !n.is_empty())
}

/// Shades of the map, lightest (no open process) to darkest: the `s0`…`s5` and `sw0`…`sw5`
/// classes of the style sheet.
const SHADES: usize = 6;

fn shade(count: u64, max: u64) -> usize {
    if count == 0 || max == 0 {
        0
    } else {
        // 1..=5 in proportion to the busiest place, which gets the darkest
        let top = SHADES as u64 - 1;
        (count.saturating_mul(top).div_ceil(max)).clamp(1, top) as usize
    }
}

pub(crate) fn plural(lang: Lang, n: u64, it1: &str, itn: &str, en1: &str, enn: &str) -> String {
    let word = match (lang, n == 1) {
        (Lang::It, true) => it1,
        (Lang::It, false) => itn,
        (Lang::En, true) => en1,
        (Lang::En, false) => enn,
    };
    format!("{n} {word}")
}

/// One `<option>`.
pub(crate) struct Choice {
    value: String,
    label: String,
    count: Option<u64>,
    selected: bool,
}

/// A labelled `<select>`.
#[derive(Template)]
#[template(path = "parts/select.html")]
pub(crate) struct Select {
    id: String,
    name: &'static str,
    label: &'static str,
    options: Vec<Choice>,
}

/// The options with the current value selected and, when known, the facet count; a current
/// value not among them is kept (selected), so the form says what the page shows.
fn select(
    lang: Lang,
    (id, name, label): (&str, &'static str, &'static str),
    values: Vec<(String, String)>,
    current: &str,
    counts: Option<&BTreeMap<String, u64>>,
    any: bool,
) -> Select {
    let mut options = Vec::with_capacity(values.len() + 2);
    if any {
        options.push(Choice {
            value: String::new(),
            label: lang.t("Qualsiasi", "Any").to_owned(),
            count: None,
            selected: false,
        });
    }
    let mut seen = current.is_empty();
    for (value, label) in values {
        let selected = value == current;
        seen |= selected;
        let count = counts.and_then(|c| {
            if current.is_empty() {
                Some(c.get(&value).copied().unwrap_or(0))
            } else if selected {
                c.get(&value).copied()
            } else {
                None
            }
        });
        options.push(Choice {
            value,
            label,
            count,
            selected,
        });
    }
    if !seen {
        options.push(Choice {
            value: current.to_owned(),
            label: current.to_owned(),
            count: None,
            selected: true,
        });
    }
    Select {
        id: id.to_owned(),
        name,
        label,
        options,
    }
}

/// The filters both the search form and the embed form offer.
#[derive(Clone, Copy)]
enum Filter {
    Kind,
    Status,
    Region,
    Topic,
    Method,
}

impl Filter {
    /// `<select id="{prefix}-{name}" name="{name}">`, with "any" first and the facet counts
    /// when given.
    fn select(
        self,
        lang: Lang,
        prefix: &str,
        current: &str,
        facets: Option<&snodo_index::Facets>,
    ) -> Select {
        let (name, label, values, counts) = match self {
            Filter::Kind => (
                "kind",
                lang.t("Tipo", "Type"),
                kind_values(lang),
                facets.map(|f| &f.kind),
            ),
            Filter::Status => (
                "status",
                lang.t("Stato", "Status"),
                status_values(lang),
                facets.map(|f| &f.status),
            ),
            Filter::Region => (
                "region",
                lang.t("Regione", "Region"),
                region_values(),
                facets.map(|f| &f.region),
            ),
            Filter::Topic => (
                "topic",
                lang.t("Tema", "Topic"),
                topic_values(lang),
                facets.map(|f| &f.topic),
            ),
            Filter::Method => (
                "method",
                lang.t("Come partecipare", "How to take part"),
                method_values(lang),
                facets.map(|f| &f.method),
            ),
        };
        select(
            lang,
            (&format!("{prefix}-{name}"), name, label),
            values,
            current,
            counts,
            true,
        )
    }
}

fn kind_values(lang: Lang) -> Vec<(String, String)> {
    Kind::ALL
        .iter()
        .map(|k| (k.as_str().to_owned(), kind_label(lang, *k).to_owned()))
        .collect()
}

fn status_values(lang: Lang) -> Vec<(String, String)> {
    [Status::Open, Status::Upcoming, Status::Closed]
        .iter()
        .map(|s| (s.as_str().to_owned(), status_label(lang, *s).to_owned()))
        .collect()
}

fn region_values() -> Vec<(String, String)> {
    (1..=20)
        .map(|i| {
            let code = format!("{i:02}");
            let name = region_short(&code).to_owned();
            (code, name)
        })
        .collect()
}

/// The national topics, labelled in the page's language.
fn topic_values(lang: Lang) -> Vec<(String, String)> {
    snodo_model::topics::THEMES
        .iter()
        .map(|t| (t.code.to_owned(), lang.t(t.it, t.en).to_owned()))
        .collect()
}

fn method_values(lang: Lang) -> Vec<(String, String)> {
    snodo_model::METHODS
        .iter()
        .map(|m| ((*m).to_owned(), method_label(lang, m).to_owned()))
        .collect()
}

/// The place field: a place resolved on the server comes back as its code.
fn place_value(params: &[(String, String)]) -> String {
    ["place", "comune", "province"]
        .into_iter()
        .map(|k| param(params, k))
        .find(|v| !v.is_empty())
        .unwrap_or("")
        .to_owned()
}

fn source_name<'a>(sources: &'a [SourceStatus], id: &'a str) -> &'a str {
    sources
        .iter()
        .find(|s| s.id == id)
        .map(|s| s.name.as_str())
        .unwrap_or(id)
}

/// Everything the search page shows.
pub struct HomeView<'a> {
    pub lang: Lang,
    /// The query-string parameters as given (q, kind, status, region, source, sort, offset…).
    pub params: &'a [(String, String)],
    /// Some when `q` or a filter was given.
    pub results: Option<&'a SearchResults>,
    /// Over all live records: open / upcoming / closed.
    pub status_counts: &'a BTreeMap<String, u64>,
    /// Open records by place, for the map.
    pub map: &'a MapCounts,
    /// The place the page is filtered by, if any: the map shows the comuni of its region.
    pub focus: Option<&'a snodo_model::Territory>,
    pub sources: &'a [SourceStatus],
    /// A user-facing error for a bad query, shown in the form.
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage<'a> {
    lang: Lang,
    head: Head,
    counts: Vec<StatusCount>,
    form: HomeForm,
    error: Option<&'a str>,
    results: Option<ResultsView<'a>>,
    map: MapView,
    sources: Vec<SourceLine<'a>>,
}

struct StatusCount {
    status: &'static str,
    count: u64,
    word: &'static str,
    href: String,
}

struct HomeForm {
    q: String,
    place: String,
    kind: Select,
    status: Select,
    region: Select,
    topic: Select,
    method: Select,
    source: Select,
    sort: Select,
}

fn home_form(v: &HomeView<'_>) -> HomeForm {
    let lang = v.lang;
    let p = |k| param(v.params, k);
    let facets = v.results.map(|r| &r.facets);
    let mut sources: Vec<(String, String)> = v
        .sources
        .iter()
        .filter(|s| s.configured || s.records > 0)
        .map(|s| (s.id.clone(), s.name.clone()))
        .collect();
    sources.sort_by_key(|a| a.1.to_lowercase());
    let sorts = [
        ("relevance", lang.t("Pertinenza", "Relevance")),
        ("newest", lang.t("Più recenti", "Newest")),
        ("closing", lang.t("In scadenza", "Closing soon")),
    ]
    .map(|(v, l)| (v.to_owned(), l.to_owned()))
    .to_vec();
    let sort = match p("sort") {
        "" => "relevance",
        s => s,
    };
    HomeForm {
        q: p("q").to_owned(),
        place: place_value(v.params),
        kind: Filter::Kind.select(lang, "f", p("kind"), facets),
        status: Filter::Status.select(lang, "f", p("status"), facets),
        region: Filter::Region.select(lang, "f", p("region"), facets),
        topic: Filter::Topic.select(lang, "f", p("topic"), facets),
        method: Filter::Method.select(lang, "f", p("method"), facets),
        source: select(
            lang,
            ("f-source", "source", lang.t("Piattaforma", "Platform")),
            sources,
            p("source"),
            facets.map(|f| &f.source),
            true,
        ),
        sort: select(
            lang,
            ("f-sort", "sort", lang.t("Ordina per", "Sort by")),
            sorts,
            sort,
            None,
            false,
        ),
    }
}

/// One search result.
#[derive(Template)]
#[template(path = "parts/card.html")]
struct Card<'a> {
    lang: Lang,
    /// The record's own language, for screen readers.
    text_lang: Option<&'a str>,
    kind: &'static str,
    source: &'a str,
    /// The same process on other platforms: the index shows the group once.
    also: String,
    url: Option<&'a str>,
    title: &'a str,
    status: &'static str,
    status_label: &'static str,
    dates: Option<Dates>,
    place: String,
    snippet: Option<Snippet>,
    summary: Option<String>,
    methods: Vec<&'a str>,
}

/// "until 31 Dec", "from 1 Jan to 3 Feb".
struct Dates {
    word: &'static str,
    at: Time,
    until: Option<Time>,
}

fn card<'a>(lang: Lang, hit: &'a SearchHit, sources: &'a [SourceStatus]) -> Card<'a> {
    let also: Vec<&str> = hit
        .same_as
        .iter()
        .filter_map(|id| id.split(':').next())
        .map(|src| source_name(sources, src))
        .collect();
    let dates = match (hit.status, hit.start_date, hit.end_date) {
        (Status::Upcoming, Some(s), e) => Some(Dates {
            word: lang.t("dal", "from"),
            at: date(lang, s),
            until: e.map(|e| date(lang, e)),
        }),
        (Status::Open, _, Some(e)) => Some(Dates {
            word: lang.t("fino al", "until"),
            at: date(lang, e),
            until: None,
        }),
        (Status::Closed, _, Some(e)) => Some(Dates {
            word: lang.t("chiuso il", "closed on"),
            at: date(lang, e),
            until: None,
        }),
        (_, Some(s), _) => Some(Dates {
            word: lang.t("dal", "from"),
            at: date(lang, s),
            until: None,
        }),
        _ => None,
    };
    // the comune is an ISTAT code; its name comes from the ISTAT table (a code not found there,
    // e.g. a comune merged since, is not shown)
    let comune = hit
        .comune
        .as_deref()
        .and_then(snodo_model::territory::comune)
        .map(|c| c.name);
    let region = hit.region.as_deref().and_then(region_short_opt);
    let place: Vec<&str> = comune.into_iter().chain(region).collect();
    let place = if place.is_empty() {
        hit.scope_name.clone().unwrap_or_default()
    } else {
        place.join(", ")
    };
    let snippet = hit
        .snippet
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(Snippet::from_index);
    let summary = (snippet.is_none() && !hit.summary.trim().is_empty())
        .then(|| snodo_model::text::truncate_words(&hit.summary, 280));
    Card {
        lang,
        text_lang: lang_attr(&hit.lang),
        kind: kind_label(lang, hit.kind),
        source: source_name(sources, &hit.source),
        also: also.join(", "),
        url: safe_url(&hit.url),
        title: if hit.title.trim().is_empty() {
            lang.t("Senza titolo", "Untitled")
        } else {
            &hit.title
        },
        status: hit.status.as_str(),
        status_label: status_label(lang, hit.status),
        dates,
        place,
        snippet,
        summary,
        methods: hit.methods.iter().map(|m| method_label(lang, m)).collect(),
    }
}

struct ResultsView<'a> {
    /// "45 risultati per «bilancio» (mostrati 21–22)".
    summary: String,
    above: Option<Above>,
    cards: Vec<Card<'a>>,
    prev: Option<String>,
    next: Option<String>,
}

/// Records of the wider places around the one searched.
struct Above {
    text: String,
    href: String,
}

fn quoted(lang: Lang, q: &str) -> String {
    match lang {
        Lang::It => format!("«{q}»"),
        Lang::En => format!("“{q}”"),
    }
}

fn results_view<'a>(v: &HomeView<'a>, r: &'a SearchResults) -> ResultsView<'a> {
    let lang = v.lang;
    let q = param(v.params, "q");
    let offset: u64 = param(v.params, "offset").parse().unwrap_or(0);
    let shown = r.items.len() as u64;
    let summary = if r.total == 0 {
        format!(
            "{}{}. {}",
            lang.t("Nessun risultato", "No results"),
            if q.is_empty() {
                String::new()
            } else {
                format!("{} {}", lang.t(" per", " for"), quoted(lang, q))
            },
            lang.t(
                "Prova con altre parole o togli qualche filtro.",
                "Try other words or remove some filters."
            )
        )
    } else {
        let mut s = plural(lang, r.total, "risultato", "risultati", "result", "results");
        if !q.is_empty() {
            s = format!("{s} {} {}", lang.t("per", "for"), quoted(lang, q));
        }
        if shown < r.total && shown > 0 {
            s = format!(
                "{s} ({} {}–{})",
                lang.t("mostrati", "showing"),
                offset + 1,
                offset + shown
            );
        }
        s
    };
    let above = r.above.as_ref().filter(|a| a.total > 0).map(|above| {
        let mut pairs: Vec<(&str, &str)> = v
            .params
            .iter()
            .filter(|(k, _)| k != "offset" && k != "scope")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.push(("scope", "all"));
        Above {
            text: plural(
                lang,
                above.total,
                "altro risultato riguarda anche questo territorio (provincia, regione o tutta Italia).",
                "altri risultati riguardano anche questo territorio (provincia, regione o tutta Italia).",
                "more result also concerns this place (its province, region or all of Italy).",
                "more results also concern this place (its province, region or all of Italy).",
            ),
            href: href(lang.home(), &pairs),
        }
    });
    let limit: u64 = param(v.params, "limit").parse().unwrap_or(20).clamp(1, 100);
    let keep: Vec<(&str, &str)> = [
        "q", "kind", "status", "region", "province", "comune", "place", "scope", "method", "topic",
        "open_on", "from", "to", "source", "sort", "limit",
    ]
    .iter()
    .map(|k| (*k, param(v.params, k)))
    .collect();
    let link = |off: u64| {
        let off = off.to_string();
        let mut pairs = keep.clone();
        if off != "0" {
            pairs.push(("offset", &off));
        }
        href(lang.home(), &pairs)
    };
    ResultsView {
        summary,
        above,
        cards: r.items.iter().map(|h| card(lang, h, v.sources)).collect(),
        prev: (offset > 0).then(|| link(offset.saturating_sub(limit))),
        next: (offset + shown < r.total && shown > 0).then(|| link(offset + shown)),
    }
}

fn status_counts(v: &HomeView<'_>) -> Vec<StatusCount> {
    let lang = v.lang;
    [
        ("open", "aperto", "aperti", "open", "open"),
        ("upcoming", "in arrivo", "in arrivo", "upcoming", "upcoming"),
        ("closed", "concluso", "conclusi", "closed", "closed"),
    ]
    .into_iter()
    .map(|(status, it1, itn, en1, enn)| {
        let count = v.status_counts.get(status).copied().unwrap_or(0);
        StatusCount {
            status,
            count,
            word: match (lang, count == 1) {
                (Lang::It, true) => it1,
                (Lang::It, false) => itn,
                (Lang::En, true) => en1,
                (Lang::En, false) => enn,
            },
            href: href(lang.home(), &[("status", status)]),
        }
    })
    .collect()
}

/// Open records by place, for the map.
#[derive(Debug, Default)]
pub struct MapCounts {
    /// By 2-digit ISTAT region code.
    pub region: BTreeMap<String, u64>,
    /// By province UTS code (records of its comuni included).
    pub province: BTreeMap<String, u64>,
    /// By comune ISTAT code.
    pub comune: BTreeMap<String, u64>,
    /// Those that concern the whole country.
    pub national: u64,
}

fn open_label(lang: Lang, name: &str, n: u64) -> String {
    format!(
        "{name}: {}",
        plural(
            lang,
            n,
            "processo aperto",
            "processi aperti",
            "open process",
            "open processes"
        )
    )
}

struct Link {
    href: String,
    label: String,
}

/// One place on the map: a link with an accessible name when it leads somewhere.
struct ShapeView {
    d: &'static str,
    class: String,
    link: Option<Link>,
}

struct MapTable {
    caption: String,
    place: &'static str,
    rows: Vec<MapRow>,
    note: Option<String>,
}

struct MapRow {
    href: String,
    name: String,
    count: u64,
}

struct MapView {
    heading: String,
    note: &'static str,
    /// What no shape can show: the national ones, and in a region those of the region as a whole.
    wide: Vec<Link>,
    width: u32,
    height: u32,
    shapes: Vec<ShapeView>,
    shades: usize,
    attribution: &'static str,
    tables: Vec<MapTable>,
}

/// A choropleth from ISTAT boundaries: Italy by province, or, when the page is filtered by a
/// place, the comuni of its region.
fn map_view(lang: Lang, m: &MapCounts, focus: Option<&snodo_model::Territory>) -> MapView {
    let focus_region = focus.and_then(|t| t.region.as_deref());
    let zoom = focus_region.and_then(|r| Some((r, region_name(r)?, map::comuni(r)?)));
    let heading = match &zoom {
        Some((_, name, _)) => format!(
            "{} {name}",
            lang.t("Processi aperti nei comuni:", "Open processes by comune:")
        ),
        None => lang
            .t(
                "Processi aperti per provincia",
                "Open processes by province",
            )
            .to_owned(),
    };
    let note = match zoom {
        Some(_) => lang.t(
            "Più è scuro, più processi sono aperti. I comuni con processi aperti sono collegamenti: sceglili per vederli.",
            "The darker, the more processes are open. Comuni with open processes are links: choose one to see them.",
        ),
        None => lang.t(
            "Più è scuro, più processi sono aperti. Scegli una provincia per vederne i processi e i comuni.",
            "The darker, the more processes are open. Choose a province to see its processes and its comuni.",
        ),
    };
    let mut wide = Vec::new();
    if let Some((code, name, _)) = &zoom {
        wide.push(Link {
            href: href(lang.home(), &[("status", "open")]),
            label: lang
                .t(
                    "← Tutta Italia, per provincia",
                    "← All of Italy, by province",
                )
                .to_owned(),
        });
        wide.push(Link {
            href: href(lang.home(), &[("region", code), ("status", "open")]),
            label: open_label(
                lang,
                &format!("{} {name}", lang.t("Tutta la regione", "All of")),
                m.region.get(*code).copied().unwrap_or(0),
            ),
        });
    }
    wide.push(Link {
        href: href(lang.home(), &[("place", "IT"), ("status", "open")]),
        label: open_label(
            lang,
            lang.t("Nazionali, per tutta Italia", "National, for all of Italy"),
            m.national,
        ),
    });
    let (shapes, rows): (map::Shapes, Vec<(String, String, u64)>) = match &zoom {
        Some((code, _, shapes)) => {
            let rows = snodo_model::territory::comuni()
                .iter()
                .filter(|c| c.region == *code)
                .map(|c| {
                    (
                        c.code.to_owned(),
                        c.name.to_owned(),
                        m.comune.get(c.code).copied().unwrap_or(0),
                    )
                })
                .collect();
            (*shapes, rows)
        }
        None => {
            let rows = snodo_model::territory::provinces()
                .iter()
                .map(|p| {
                    (
                        p.code.to_owned(),
                        p.name.to_owned(),
                        m.province.get(p.code).copied().unwrap_or(0),
                    )
                })
                .collect();
            (map::provinces(), rows)
        }
    };
    let by_code: BTreeMap<&str, (&str, u64)> = rows
        .iter()
        .map(|(c, name, n)| (c.as_str(), (name.as_str(), *n)))
        .collect();
    let max = rows.iter().map(|r| r.2).max().unwrap_or(0);
    let focus_comune = focus.and_then(|t| t.comune.as_deref());
    let focus_province = focus.and_then(|t| t.province.as_deref());
    let shape_views = shapes
        .iter()
        .map(|(code, d)| {
            let (name, n) = by_code.get(code).copied().unwrap_or(("", 0));
            let mut class = format!("s{}", shade(n, max));
            let selected = zoom.is_some()
                && (focus_comune == Some(code)
                    || (focus_comune.is_none()
                        && focus_province.is_some()
                        && snodo_model::territory::comune(code).map(|c| c.province)
                            == focus_province));
            if selected {
                class.push_str(" sel");
            }
            let link = if zoom.is_some() {
                // a comune without open processes, or one the ISTAT list no longer has, leads
                // nowhere
                (n > 0 && !name.is_empty())
                    .then(|| href(lang.home(), &[("comune", code), ("status", "open")]))
            } else {
                Some(href(lang.home(), &[("province", code), ("status", "open")]))
            };
            ShapeView {
                d,
                class,
                link: link.map(|href| Link {
                    href,
                    label: open_label(lang, name, n),
                }),
            }
        })
        .collect();
    let row = |key: &str, code: &str, name: &str, count: u64| MapRow {
        href: href(lang.home(), &[(key, code), ("status", "open")]),
        name: name.to_owned(),
        count,
    };
    let tables = match &zoom {
        Some((_, name, _)) => {
            let mut open: Vec<&(String, String, u64)> = rows.iter().filter(|r| r.2 > 0).collect();
            open.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.1.cmp(&b.1)));
            let none = rows.iter().filter(|r| r.2 == 0).count();
            vec![MapTable {
                caption: format!(
                    "{} {name}",
                    lang.t("Comuni con processi aperti:", "Comuni with open processes:")
                ),
                place: lang.t("Comune", "Comune"),
                rows: open
                    .into_iter()
                    .map(|(code, name, n)| row("comune", code, name, *n))
                    .collect(),
                note: Some(match lang {
                    Lang::It => {
                        format!("Altri {none} comuni della regione non hanno processi aperti.")
                    }
                    Lang::En => format!("{none} other comuni of the region have no open process."),
                }),
            }]
        }
        None => {
            let regions = (1..=20)
                .map(|i| format!("{i:02}"))
                .map(|code| {
                    let n = m.region.get(&code).copied().unwrap_or(0);
                    row("region", &code, region_name(&code).unwrap_or(&code), n)
                })
                .collect();
            let mut sorted: Vec<&(String, String, u64)> = rows.iter().collect();
            sorted.sort_by(|a, b| a.1.cmp(&b.1));
            vec![
                MapTable {
                    caption: lang
                        .t("Processi aperti per regione", "Open processes by region")
                        .to_owned(),
                    place: lang.t("Regione", "Region"),
                    rows: regions,
                    note: None,
                },
                MapTable {
                    caption: lang
                        .t(
                            "Processi aperti per provincia",
                            "Open processes by province",
                        )
                        .to_owned(),
                    place: lang.t("Provincia", "Province"),
                    rows: sorted
                        .into_iter()
                        .map(|(code, name, n)| row("province", code, name, *n))
                        .collect(),
                    note: None,
                },
            ]
        }
    };
    MapView {
        heading,
        note,
        wide,
        width: shapes.width,
        height: shapes.height,
        shapes: shape_views,
        shades: SHADES,
        attribution: map::ATTRIBUTION,
        tables,
    }
}

/// A row of the sources table.
struct SourceLine<'a> {
    name: &'a str,
    url: Option<&'a str>,
    href: String,
    label: String,
    records: u64,
    last_success: Option<Time>,
}

fn source_lines<'a>(lang: Lang, sources: &'a [SourceStatus]) -> Vec<SourceLine<'a>> {
    sources
        .iter()
        .filter(|s| s.configured || s.records > 0)
        .map(|s| SourceLine {
            name: &s.name,
            url: safe_url(&s.url),
            href: href(lang.home(), &[("source", &s.id)]),
            label: format!(
                "{}: {}",
                s.name,
                plural(lang, s.records, "record", "record", "record", "records")
            ),
            records: s.records,
            last_success: s.last_success_at.map(|t| datetime(lang, t)),
        })
        .collect()
}

/// The national search page.
pub fn render_home(v: &HomeView<'_>) -> String {
    let lang = v.lang;
    let q = param(v.params, "q");
    let mut title = String::new();
    if !q.is_empty() {
        title.push_str(q);
        title.push_str(" – ");
    }
    title.push_str(lang.t(
        "Snodo · Cerca la partecipazione in Italia",
        "Snodo · Search public participation in Italy",
    ));
    let alternate = {
        let keep: Vec<(&str, &str)> = v
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        href(lang.other().home(), &keep)
    };
    render(&HomePage {
        lang,
        head: Head::new(
            title,
            lang.t(
                "Cerca tra i processi partecipativi, le consultazioni e le assemblee pubbliche di tutta Italia.",
                "Search participatory processes, consultations and public assemblies from all over Italy.",
            ),
            alternate,
            true,
        ),
        counts: status_counts(v),
        form: home_form(v),
        error: v.error,
        results: v.results.map(|r| results_view(v, r)),
        map: map_view(lang, v.map, v.focus),
        sources: source_lines(lang, v.sources),
    })
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFoundPage {
    lang: Lang,
    head: Head,
}

/// The page a browser gets for an unknown address: what happened and the ways on.
pub fn render_not_found(lang: Lang) -> String {
    render(&NotFoundPage {
        lang,
        head: Head::new(
            lang.t("Pagina non trovata · Snodo", "Page not found · Snodo"),
            lang.t("Questa pagina non esiste.", "This page does not exist."),
            lang.other().home(),
            true,
        ),
    })
}

/// What an operator publishes about the accessibility of its Snodo (`[server]` settings).
#[derive(Debug, Clone, Default)]
pub struct Accessibility {
    /// The statement the operator published through AgID's form (Legge 4/2004 requires one
    /// per site of a public administration).
    pub statement_url: Option<String>,
    /// Where to report a barrier: an e-mail address or a web address.
    pub contact: Option<String>,
}

/// Where to report a barrier, as configured.
enum Contact<'a> {
    Mail(&'a str),
    Web(&'a str),
    /// Neither an address nor an `http(s)` link: shown as text, never as a link.
    Text(&'a str),
    None,
}

#[derive(Template)]
#[template(path = "accessibility.html")]
struct AccessibilityPage<'a> {
    lang: Lang,
    head: Head,
    statement_url: Option<&'a str>,
    contact: Contact<'a>,
}

/// The accessibility page: the standard the software is built to, how that is checked, what is
/// known not to meet it, and how to report a barrier; the operator's official statement when
/// configured.
pub fn render_accessibility(lang: Lang, a11y: &Accessibility) -> String {
    let contact = match a11y.contact.as_deref().map(str::trim) {
        Some(c) if c.contains('@') && !c.contains("://") && !c.contains(char::is_whitespace) => {
            Contact::Mail(c)
        }
        Some(c) => safe_url(c).map_or(Contact::Text(c), Contact::Web),
        None => Contact::None,
    };
    render(&AccessibilityPage {
        lang,
        head: Head::new(
            lang.t(
                "Dichiarazione di accessibilità · Snodo",
                "Accessibility statement · Snodo",
            ),
            lang.t(
                "L'accessibilità di Snodo: lo standard, le verifiche, i limiti noti e come segnalare un problema.",
                "Snodo's accessibility: the standard, the checks, known limits and how to report a problem.",
            ),
            lang.other().accessibility(),
            false,
        ),
        statement_url: a11y.statement_url.as_deref().and_then(safe_url),
        contact,
    })
}

/// An attribute of the previewed widget; `value` none for a boolean one.
struct Attr {
    name: &'static str,
    value: Option<String>,
}

struct EmbedForm {
    lang: Select,
    region: Select,
    place: String,
    kind: Select,
    topic: Select,
    method: Select,
    status: Select,
    source: String,
    limit: Option<u32>,
    placeholder: String,
    compact: bool,
}

#[derive(Template)]
#[template(path = "embed.html")]
struct EmbedPage<'a> {
    lang: Lang,
    head: Head,
    form: EmbedForm,
    base: &'a str,
    script_url: String,
    integrity: &'a str,
    /// The two lines to copy, as text.
    snippet: String,
    widget_lang: &'a str,
    /// The preview's attributes besides `lang`.
    attrs: Vec<Attr>,
}

/// The "embed this search" page. `base_url` is the hub's public URL (`https://…`, no trailing
/// slash needed); when empty, the page's script fills in the origin it was loaded from.
pub fn render_embed(lang: Lang, base_url: &str) -> String {
    render_embed_with(lang, base_url, &[])
}

/// The embed page with its form prefilled from the query string (`lang`, `region`, `kind`,
/// `status`, `source`, `limit`, `placeholder`, `compact`), so the snippet is right without
/// JavaScript too.
pub fn render_embed_with(lang: Lang, base_url: &str, params: &[(String, String)]) -> String {
    let p = |k| param(params, k);
    let base = base_url.trim().trim_end_matches('/');
    // Pinned by content with an integrity hash: the page embedding us runs exactly the script
    // its editor saw here, whatever happens to the hub's address later.
    let script = crate::widget::current();
    let widget_lang = match p("lang") {
        "" => lang.code(),
        l => l,
    };
    let limit = p("limit")
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=100).contains(n));
    let mut attrs: Vec<Attr> = [
        "region", "province", "comune", "place", "scope", "kind", "status", "topic", "method",
        "source",
    ]
    .into_iter()
    .filter(|k| !p(k).is_empty())
    .map(|k| Attr {
        name: k,
        value: Some(p(k).to_owned()),
    })
    .collect();
    if let Some(n) = limit {
        attrs.push(Attr {
            name: "limit",
            value: Some(n.to_string()),
        });
    }
    if !p("placeholder").is_empty() {
        attrs.push(Attr {
            name: "placeholder",
            value: Some(p("placeholder").to_owned()),
        });
    }
    if !p("compact").is_empty() {
        attrs.push(Attr {
            name: "compact",
            value: None,
        });
    }
    // the snippet, as rendered without JavaScript: HTML source shown as text
    let mut tag = String::from("<snodo-search");
    if widget_lang != "it" {
        tag.push_str(&format!(" lang=\"{}\"", attr_text(widget_lang)));
    }
    for a in &attrs {
        match &a.value {
            Some(v) => tag.push_str(&format!(" {}=\"{}\"", a.name, attr_text(v))),
            None => tag.push_str(&format!(" {}", a.name)),
        }
    }
    let snippet = format!(
        "<script type=\"module\" src=\"{}\" integrity=\"{}\"></script>\n{tag}></snodo-search>",
        script.url(base),
        script.integrity
    );
    let form = EmbedForm {
        lang: select(
            lang,
            ("e-lang", "lang", lang.t("Lingua", "Language")),
            vec![
                ("it".into(), "Italiano".into()),
                ("en".into(), "English".into()),
            ],
            widget_lang,
            None,
            false,
        ),
        region: Filter::Region.select(lang, "e", p("region"), None),
        place: place_value(params),
        kind: Filter::Kind.select(lang, "e", p("kind"), None),
        topic: Filter::Topic.select(lang, "e", p("topic"), None),
        method: Filter::Method.select(lang, "e", p("method"), None),
        status: Filter::Status.select(lang, "e", p("status"), None),
        source: p("source").to_owned(),
        limit,
        placeholder: p("placeholder").to_owned(),
        compact: !p("compact").is_empty(),
    };
    render(&EmbedPage {
        lang,
        head: Head::new(
            lang.t("Incorpora la ricerca · Snodo", "Embed the search · Snodo"),
            lang.t(
                "Aggiungi a qualsiasi sito la ricerca dei processi partecipativi italiani con due righe di codice.",
                "Add the search of Italy's participatory processes to any site with two lines of code.",
            ),
            lang.other().embed(),
            true,
        ),
        form,
        base,
        script_url: script.url(base),
        integrity: &script.integrity,
        snippet,
        widget_lang,
        attrs,
    })
}

component!(Time, Select, Card<'_>);

#[cfg(test)]
mod tests {
    use super::*;
    use snodo_index::Facets;

    const EVIL: &str = "<script>alert('x')</script><img src=x onerror=alert(1)>\"'&";

    fn hit(title: &str) -> SearchHit {
        SearchHit {
            id: "demo:process:1".into(),
            kind: Kind::Process,
            title: title.into(),
            lang: "it".into(),
            summary: format!("Sommario {EVIL}"),
            snippet: Some(
                "testo &lt;b&gt; <mark>bilancio</mark> <img src=x onerror=alert(2)>".into(),
            ),
            url: "https://example.org/processes/1".into(),
            source: "demo".into(),
            status: Status::Open,
            start_date: NaiveDate::from_ymd_opt(2026, 1, 10),
            end_date: NaiveDate::from_ymd_opt(2026, 12, 31),
            region: Some("16".into()),
            province: None,
            themes: vec![],
            comune: Some("072006".into()),
            scope_name: Some(EVIL.into()),
            image_url: None,
            methods: vec!["proposals".into(), EVIL.into()],
            same_as: Vec::new(),
            start_time: None,
            end_time: None,
            parent_title: None,
            parent_url: None,
            score: Some(1.0),
        }
    }

    fn source(name: &str) -> SourceStatus {
        SourceStatus {
            id: "demo".into(),
            name: name.into(),
            kind: "decidim".into(),
            url: "javascript:alert(1)".into(),
            configured: true,
            records: 3,
            last_run: None,
            last_success_at: Some(
                DateTime::parse_from_rfc3339("2026-11-22T09:15:00Z")
                    .unwrap()
                    .with_timezone(&Utc),
            ),
            next_run_at: None,
        }
    }

    fn results(items: Vec<SearchHit>) -> SearchResults {
        let mut facets = Facets::default();
        facets.region.insert("16".into(), items.len() as u64);
        facets.status.insert("open".into(), items.len() as u64);
        SearchResults {
            total: 45,
            items,
            facets,
            above: None,
        }
    }

    struct Fixture {
        params: Vec<(String, String)>,
        results: SearchResults,
        status: BTreeMap<String, u64>,
        map: MapCounts,
        focus: Option<snodo_model::Territory>,
        sources: Vec<SourceStatus>,
    }

    fn fixture(q: &str) -> Fixture {
        Fixture {
            params: vec![
                ("q".into(), q.into()),
                ("region".into(), "16".into()),
                ("offset".into(), "20".into()),
            ],
            results: results(vec![hit(EVIL), hit("Bilancio partecipativo")]),
            status: [
                ("open".to_string(), 7u64),
                ("upcoming".into(), 2),
                ("closed".into(), 1),
            ]
            .into(),
            map: MapCounts {
                region: [("16".to_string(), 5u64), ("03".into(), 1)].into(),
                province: [("272".to_string(), 4u64), ("215".into(), 1)].into(),
                comune: [("072006".to_string(), 3u64), ("072004".into(), 1)].into(),
                national: 14,
            },
            focus: None,
            sources: vec![source(EVIL)],
        }
    }

    fn home(f: &Fixture, lang: Lang, with_results: bool, error: Option<&str>) -> String {
        render_home(&HomeView {
            lang,
            params: &f.params,
            results: with_results.then_some(&f.results),
            status_counts: &f.status,
            map: &f.map,
            focus: f.focus.as_ref(),
            sources: &f.sources,
            error,
        })
    }

    /// Tags this file writes; anything else would be markup that came from data.
    const OUR_TAGS: &[&str] = &[
        "!doctype",
        "html",
        "head",
        "meta",
        "title",
        "link",
        "style",
        "script",
        "body",
        "a",
        "header",
        "div",
        "span",
        "main",
        "h1",
        "h2",
        "h3",
        "p",
        "ul",
        "li",
        "strong",
        "section",
        "snodo-search",
        "form",
        "label",
        "input",
        "button",
        "fieldset",
        "legend",
        "select",
        "option",
        "ol",
        "article",
        "time",
        "mark",
        "nav",
        "svg",
        "path",
        "details",
        "summary",
        "table",
        "caption",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "footer",
        "pre",
        "code",
    ];

    /// No harvested or user string reaches the page as markup: every tag is one of ours, no tag
    /// has an event-handler attribute, no link is `javascript:`, and there is one script, ours.
    fn assert_inert(html: &str) {
        let lower = html.to_lowercase();
        assert_eq!(
            lower.matches("<script").count(),
            1,
            "only the page's own script tag"
        );
        assert!(lower.contains("<script type=\"module\" src=\"/widget.js\"></script>"));
        let body = &lower[lower.find("</style>").expect("style")..];
        for (i, _) in body.match_indices('<') {
            let tag = &body[i + 1..];
            let end = tag.find('>').expect("unclosed tag");
            let tag = tag[..end].trim_start_matches('/');
            let name = tag
                .split(|c: char| c.is_whitespace() || c == '/')
                .next()
                .unwrap_or("");
            assert!(OUR_TAGS.contains(&name), "unexpected tag <{name}> in {tag}");
            // attribute names, skipping the double-quoted values (a raw `"` never occurs inside)
            let mut rest = tag[name.len()..].trim_start();
            while !rest.is_empty() && rest != "/" {
                let n = rest
                    .find(|c: char| c == '=' || c.is_whitespace())
                    .unwrap_or(rest.len());
                assert!(
                    !rest[..n].starts_with("on"),
                    "event handler attribute in <{tag}>"
                );
                rest = &rest[n..];
                if let Some(v) = rest.strip_prefix("=\"") {
                    rest = &v[v.find('"').expect("unterminated attribute value") + 1..];
                }
                rest = rest.trim_start();
            }
        }
        assert!(
            !lower.contains("href=\"javascript:"),
            "no javascript: links"
        );
    }

    #[test]
    fn home_escapes_every_harvested_and_user_string() {
        let f = fixture(EVIL);
        for lang in [Lang::It, Lang::En] {
            let html = home(&f, lang, true, Some(EVIL));
            assert_inert(&html);
            assert!(html.contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62;&#60;img src=x onerror=alert(1)&#62;"));
        }
    }

    #[test]
    fn snippets_keep_only_mark() {
        assert_eq!(
            safe_snippet("a &lt;b&gt; <mark>c</mark> <img src=x onerror=y> <mark>d"),
            "a &lt;b&gt; <mark>c</mark> &lt;img src=x onerror=y&gt; <mark>d</mark>"
        );
        assert_eq!(
            safe_snippet("</mark>x<mark><mark>y</mark>"),
            "x<mark>y</mark>"
        );
        let html = home(&fixture("bilancio"), Lang::It, true, None);
        assert!(html
            .contains("testo &lt;b&gt; <mark>bilancio</mark> &lt;img src=x onerror=alert(2)&gt;"));
    }

    #[test]
    fn home_without_results_has_form_counts_map_and_sources() {
        let f = fixture("");
        let html = home(&f, Lang::It, false, None);
        assert!(html.starts_with("<!doctype html>\n<html lang=\"it\">"));
        assert!(html.contains("<form method=\"get\" action=\"/\""));
        assert!(html.contains("<snodo-search mode=\"page\" lang=\"it\""));
        assert!(!html.contains("class=\"card\""));
        assert!(html.contains("<strong>7</strong> <span>aperti</span>"));
        assert!(html.contains("<strong>2</strong> <span>in arrivo</span>"));
        assert!(html.contains("<strong>1</strong> <span>concluso</span>"));
        // the map: 107 linked provinces, each with an accessible name, shaded by its count
        assert_eq!(html.matches("<path ").count(), 107);
        // (each in the map and in the table)
        assert_eq!(html.matches("<a href=\"/?province=").count(), 2 * 107);
        assert!(html.contains(
            "<a href=\"/?province=272&#38;status=open\" aria-label=\"Bari: 4 processi aperti\"><title>Bari: 4 processi aperti</title><path class=\"s5\" d=\"M"
        ));
        assert!(html.contains("aria-label=\"Milano: 1 processo aperto\"><title>Milano: 1 processo aperto</title><path class=\"s2\""));
        assert!(html.contains("aria-label=\"Isernia: 0 processi aperti\"><title>Isernia: 0 processi aperti</title><path class=\"s0\""));
        // what no province shows: the national ones
        assert!(html.contains("<a href=\"/?place=IT&#38;status=open\">Nazionali, per tutta Italia: 14 processi aperti</a>"));
        assert!(html.contains("Confini: ISTAT, Openpolis (CC BY 4.0)"));
        // and the tables: by region and by province
        assert_eq!(
            html.matches("<tr><th scope=\"row\"><a href=\"/?region=")
                .count(),
            20
        );
        assert_eq!(
            html.matches("<tr><th scope=\"row\"><a href=\"/?province=")
                .count(),
            107
        );
        // the sources, with their last successful harvest; a non-http URL is not linked
        assert!(html.contains("<time datetime=\"2026-11-22T09:15:00Z\">22 nov 2026, 10:15</time>"));
        assert_inert(&html);
    }

    #[test]
    fn results_are_rendered_with_cards_and_paging() {
        let f = fixture("bilancio");
        let html = home(&f, Lang::It, true, None);
        assert_eq!(html.matches("<li class=\"card\">").count(), 2);
        assert!(html.contains("45 risultati per «bilancio» (mostrati 21–22)"));
        assert!(html.contains("<a href=\"https://example.org/processes/1\" target=\"_blank\" rel=\"noopener\"><span lang=\"it\">Bilancio partecipativo</span>"));
        assert!(html.contains("<span class=\"badge b-open\">Aperto</span> <span>fino al <time datetime=\"2026-12-31\">31 dic 2026</time></span>"));
        assert!(html.contains("Bari, Puglia"));
        assert!(html.contains("<p class=\"mth\">proposte · &#60;script&#62;"));
        assert!(html.contains("rel=\"prev\" href=\"/?q=bilancio&#38;region=16\""));
        assert!(html.contains("rel=\"next\" href=\"/?q=bilancio&#38;region=16&#38;offset=22\""));
        assert!(html.contains("<option value=\"16\" selected>Puglia (2)</option>"));
        let en = home(&f, Lang::En, true, None);
        assert!(en.contains("45 results for “bilancio” (showing 21–22)"));
        assert!(en.contains("<span class=\"badge b-open\">Open</span> <span>until <time datetime=\"2026-12-31\">31 Dec 2026</time></span>"));
        assert!(en.contains("<html lang=\"en\">"));
        assert!(en.contains("action=\"/en/\""));
    }

    #[test]
    fn no_results_and_errors_are_said() {
        let mut f = fixture("zzz");
        f.results = SearchResults {
            total: 0,
            items: vec![],
            facets: Facets::default(),
            above: None,
        };
        let html = home(&f, Lang::It, true, Some("`status`: unknown status"));
        assert!(html.contains("Nessun risultato per «zzz». Prova con altre parole"));
        assert!(html.contains(
            "<p class=\"err\" role=\"alert\">La ricerca non è valida: `status`: unknown status</p>"
        ));
    }

    /// Escaping is the templates' default; a value printed raw would have to say so with a
    /// filter, and none may: markup that is meant to pass is a `HtmlSafe` type instead.
    #[test]
    fn no_template_turns_escaping_off() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut files = vec![dir];
        let mut checked = 0;
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            if path.extension().is_none_or(|e| e != "html") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap().replace(' ', "");
            for raw in ["|safe", "|escape(\"none\")", "|e(\"none\")", "{%autoescape"] {
                assert!(!text.contains(raw), "{} uses {raw}", path.display());
            }
            checked += 1;
        }
        assert!(checked >= 12, "{checked} templates");
    }

    #[test]
    fn unsafe_urls_are_not_linked() {
        let mut h = hit("x");
        h.url = "javascript:alert(1)".into();
        let out = render(&card(Lang::It, &h, &[]));
        assert!(out.contains("<span lang=\"it\">x</span>"));
        assert!(!out.contains("<a "));
        assert!(safe_url(" https://a.it/x ").is_some());
        assert!(safe_url("HTTPS://a.it").is_some());
        assert!(safe_url("https://a.it/x y").is_none());
        assert!(safe_url("data:text/html,x").is_none());
        assert_eq!(lang_attr("en"), Some("en"));
        assert_eq!(lang_attr("pt-BR"), Some("pt-BR"));
        assert_eq!(lang_attr("\" onx=1"), None);
    }

    #[test]
    fn shades_grow_with_counts() {
        assert_eq!(shade(0, 10), 0);
        assert_eq!(shade(1, 10), 1);
        assert_eq!(shade(10, 10), 5);
        assert_eq!(shade(1, 1), 5);
        assert_eq!(shade(4, 4), 5);
        assert!(shade(6, 10) > shade(3, 10));
    }

    #[test]
    fn a_page_filtered_by_a_place_maps_the_comuni_of_its_region() {
        let mut f = fixture("");
        f.focus = Some(snodo_model::territory::from_code("072006").unwrap());
        let html = home(&f, Lang::En, false, None);
        assert!(html.contains("Open processes by comune: Puglia"));
        let shapes = crate::map::comuni("16").unwrap().iter().count();
        assert!(shapes > 250, "{shapes}");
        assert_eq!(html.matches("<path ").count(), shapes);
        // only comuni with open processes lead somewhere; the one asked for is marked
        assert_eq!(html.matches("<a href=\"/en/?comune=").count(), 2 + 2);
        assert!(html.contains("<a href=\"/en/?comune=072006&#38;status=open\" aria-label=\"Bari: 3 open processes\"><title>Bari: 3 open processes</title><path class=\"s5 sel\""));
        assert!(html.contains("<a href=\"/en/?status=open\">← All of Italy, by province</a>"));
        assert!(html.contains(
            "<a href=\"/en/?region=16&#38;status=open\">All of Puglia: 5 open processes</a>"
        ));
        assert!(html.contains(&format!(
            "{} other comuni of the region have no open process.",
            257 - 2
        )));
        assert_inert(&html);
    }

    #[test]
    fn embed_page_builds_the_snippet() {
        let html = render_embed(Lang::It, "https://snodo.example.it/");
        assert!(html.contains("id=\"snodo-embed-form\""));
        assert!(html.contains("data-base=\"https://snodo.example.it\""));
        let script = crate::widget::current();
        assert!(html.contains(&format!(
            "&#60;script type=&#34;module&#34; src=&#34;https://snodo.example.it/widget/{}&#34; integrity=&#34;{}&#34;&#62;&#60;/script&#62;\n&#60;snodo-search&#62;&#60;/snodo-search&#62;",
            script.file, script.integrity
        )));
        assert!(html.contains("src=\"https://snodo.example.it/widget.js\" senza integrity"));
        let params = vec![
            ("region".to_string(), "16".to_string()),
            ("status".into(), "open".into()),
            ("lang".into(), "en".into()),
            ("placeholder".into(), EVIL.into()),
            ("compact".into(), "1".into()),
        ];
        let html = render_embed_with(Lang::En, "https://h.it", &params);
        assert!(html.contains("&#60;snodo-search lang=&#34;en&#34; region=&#34;16&#34; status=&#34;open&#34; placeholder="));
        assert!(html.contains("<snodo-search id=\"snodo-embed-preview\" lang=\"en\" region=\"16\" status=\"open\" placeholder=\""));
        assert_inert(&html);
    }

    /// Writes sample pages for the widget's browser tests against the mock server
    /// (`SNODO_PAGE_SAMPLES=DIR cargo test -p snodo-api page::tests::write_samples`).
    #[test]
    fn write_samples() {
        let Ok(dir) = std::env::var("SNODO_PAGE_SAMPLES") else {
            return;
        };
        let dir = std::path::Path::new(&dir);
        std::fs::create_dir_all(dir).unwrap();
        let f = Fixture {
            params: vec![],
            ..fixture("")
        };
        std::fs::write(dir.join("home-it.html"), home(&f, Lang::It, false, None)).unwrap();
        std::fs::write(dir.join("home-en.html"), home(&f, Lang::En, false, None)).unwrap();
        std::fs::write(dir.join("embed-it.html"), render_embed(Lang::It, "")).unwrap();
        std::fs::write(dir.join("embed-en.html"), render_embed(Lang::En, "")).unwrap();
    }

    #[test]
    fn the_accessibility_page_links_the_official_statement_and_escapes_what_it_is_given() {
        let html = render_accessibility(
            Lang::It,
            &Accessibility {
                statement_url: Some("https://form.agid.gov.it/view/abc?x=1&y=\"2\"".into()),
                contact: Some("accessibilita@comune.example.it".into()),
            },
        );
        assert!(html.contains("href=\"https://form.agid.gov.it/view/abc?x=1&#38;y=&#34;2&#34;\""));
        assert!(html.contains("href=\"mailto:accessibilita@comune.example.it\""));
        assert!(html.contains("WCAG 2.1"));
        assert!(!html.contains("<script"), "the statement needs no script");
        let en = render_accessibility(Lang::En, &Accessibility::default());
        assert!(en.contains("has not yet linked its official statement"));
        assert!(en.contains("the contacts given by whoever runs the site"));
        assert!(en.contains("hreflang=\"it\" href=\"/accessibilita\""));
    }
}
