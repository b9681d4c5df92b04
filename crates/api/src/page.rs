//! The public search page (`GET /`, `GET /en/`) and the "embed this search" page (`GET /embed`,
//! `GET /en/embed`): pure functions from data to HTML strings.
//!
//! The pages work without JavaScript: a plain `GET` form, results rendered here, links for
//! paging and for the regions of the map. When `/widget.js` loads, the `<snodo-search mode="page">`
//! element replaces the server-rendered form and results (they are its light-DOM children, which
//! its shadow root does not show) and searches as you type.
//!
//! Safety: every string that did not come from this file goes through [`esc`] (harvested titles,
//! summaries, source names, the user's query, error messages); links to platforms are kept only
//! for `http(s)` URLs; the index's snippets are re-checked so only `<mark>` survives as markup.
//! No inline script (the CSP says `script-src 'self'`); the page's style is an inline `<style>`
//! from `assets/page.css` (allowed by `style-src 'self' 'unsafe-inline'`), also exported as
//! [`PAGE_CSS`] for serving as a file.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

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

    /// Picks the Italian or the English text.
    pub(crate) fn t(self, it: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::It => it,
            Lang::En => en,
        }
    }
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
    /// Open records by place, and the place the page is filtered by, for the map.
    pub map: &'a MapCounts,
    pub sources: &'a [SourceStatus],
    /// A user-facing error for a bad query, shown in the form.
    pub error: Option<&'a str>,
}

/// Escapes `& < > " '`: safe in element content and in quoted attribute values alike.
pub(crate) fn esc(s: &str) -> Cow<'_, str> {
    html_escape::encode_quoted_attribute(s)
}

/// The URL when it is `http(s)`, else nothing: a `javascript:` link never reaches a page.
fn safe_url(u: &str) -> Option<&str> {
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

/// The index's snippet is escaped text with `<mark>…</mark>`; keep exactly that. Any other `<`
/// or `>` (which the index never sends) is escaped again, so no other tag can pass.
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

fn date(lang: Lang, d: NaiveDate) -> String {
    format!(
        "<time datetime=\"{}\">{} {} {}</time>",
        d.format("%Y-%m-%d"),
        d.day(),
        month(lang, d.month()),
        d.year()
    )
}

/// An instant as people in Italy read it (Europe/Rome, summer time included); the machine
/// readable attribute stays in UTC.
pub(crate) fn datetime(lang: Lang, t: DateTime<Utc>) -> String {
    let local = t.with_timezone(&chrono_tz::Europe::Rome);
    format!(
        "<time datetime=\"{}\">{} {} {}, {}</time>",
        t.format("%Y-%m-%dT%H:%M:%SZ"),
        local.day(),
        month(lang, local.month()),
        local.year(),
        local.format("%H:%M")
    )
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
        return format!("{n} {}", esc(kind));
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

fn method_label(lang: Lang, m: &str) -> Cow<'_, str> {
    let l = match m {
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
        other => return esc(other),
    };
    Cow::Borrowed(l)
}

/// The national topics as select options, labelled in the page's language.
fn topic_values(lang: Lang) -> Vec<(String, String)> {
    snodo_model::topics::THEMES
        .iter()
        .map(|t| (t.code.to_owned(), lang.t(t.it, t.en).to_owned()))
        .collect()
}

/// Short names of the regions, for result cards.
fn region_short(code: &str) -> &'static str {
    match code {
        "02" => "Valle d'Aosta",
        "04" => "Trentino-Alto Adige",
        _ => region_name(code).unwrap_or(""),
    }
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

/// The document's head and the site header; `widget` loads widget.js, which the console (no
/// script at all) does without.
pub(crate) fn head(
    out: &mut String,
    lang: Lang,
    title: &str,
    description: &str,
    alternate: &str,
    widget: bool,
) {
    let _ = writeln!(
        out,
        "<!doctype html>\n<html lang=\"{code}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <link rel=\"icon\" href=\"data:,\">\n\
         <title>{title}</title>\n<meta name=\"description\" content=\"{description}\">\n\
         <link rel=\"alternate\" hreflang=\"{other}\" href=\"{alternate}\">\n\
         <style>{css}</style>\n{script}</head>\n<body>\n\
         <a class=\"skip\" href=\"#main\">{skip}</a>",
        code = lang.code(),
        title = esc(title),
        description = esc(description),
        other = lang.other().code(),
        alternate = esc(alternate),
        css = PAGE_CSS,
        script = if widget {
            "<script type=\"module\" src=\"/widget.js\"></script>\n"
        } else {
            ""
        },
        skip = lang.t("Vai al contenuto", "Skip to content"),
    );
    let other = lang.other();
    let _ = writeln!(
        out,
        "<header class=\"hd\">\n<div class=\"slim\"><div class=\"wrap\"><span>{slim}</span>\
         <a href=\"{alt}\" lang=\"{oc}\" hreflang=\"{oc}\">{olabel}</a></div></div>\n\
         <div class=\"center\"><div class=\"wrap\"><a class=\"brand\" href=\"{home}\">\
         <span class=\"logo\" aria-hidden=\"true\">S</span><span><span class=\"name\">Snodo</span>\
         <span class=\"tagline\">{tagline}</span></span></a></div></div>\n</header>",
        slim = lang.t(
            "Hub nazionale della partecipazione pubblica",
            "National hub of public participation"
        ),
        alt = esc(alternate),
        oc = other.code(),
        olabel = lang.t("English", "Italiano"),
        home = lang.home(),
        tagline = lang.t(
            "Tutti i processi partecipativi d'Italia, in un solo posto",
            "Every participatory process in Italy, in one place"
        ),
    );
}

pub(crate) fn foot(out: &mut String, lang: Lang) {
    let _ = writeln!(
        out,
        "<footer class=\"ft\"><div class=\"wrap\">\n<ul>\
         <li><a href=\"{embed}\">{embed_l}</a></li>\
         <li><a href=\"/api/v1/openapi.json\">{api_l}</a></li>\
         <li><a href=\"/api/v1/sources\">{src_l}</a></li>\
         <li><a href=\"{atom}\" type=\"application/atom+xml\">{atom_l}</a></li>\
         <li><a href=\"{ics}\" type=\"text/calendar\">{ics_l}</a></li>\
         <li><a href=\"/status\">{status_l}</a></li>\
         <li><a href=\"{a11y}\">{a11y_l}</a></li></ul>\n<p>{note}</p>\n</div></footer>\n</body>\n</html>",
        embed = lang.embed(),
        a11y = lang.accessibility(),
        a11y_l = lang.t("Dichiarazione di accessibilità", "Accessibility statement"),
        embed_l = lang.t("Incorpora questa ricerca nel tuo sito", "Embed this search in your site"),
        api_l = lang.t("API aperta (OpenAPI)", "Open API (OpenAPI)"),
        src_l = lang.t("Fonti in formato JSON", "Sources as JSON"),
        atom = lang.t("/feeds/open.atom", "/feeds/open.atom?lang=en"),
        atom_l = lang.t("Processi aperti (feed Atom)", "Open processes (Atom feed)"),
        ics = lang.t("/feeds/meetings.ics", "/feeds/meetings.ics?lang=en"),
        ics_l = lang.t(
            "Prossimi incontri (calendario iCalendar)",
            "Upcoming meetings (iCalendar)"
        ),
        status_l = lang.t("Stato del servizio", "Service status"),
        note = lang.t(
            "Snodo raccoglie i dati pubblicati dalle piattaforme di partecipazione: titoli e testi appartengono alle piattaforme di origine, a cui rimanda ogni risultato.",
            "Snodo collects what participation platforms publish: titles and texts belong to the platforms of origin, which every result links to."
        ),
    );
}

/// `<option>`s with the current value selected and, when known, the facet count.
fn options(
    out: &mut String,
    lang: Lang,
    values: &[(String, String)],
    current: &str,
    counts: Option<&BTreeMap<String, u64>>,
    any: bool,
) {
    if any {
        let _ = write!(
            out,
            "<option value=\"\">{}</option>",
            lang.t("Qualsiasi", "Any")
        );
    }
    let mut seen = current.is_empty();
    for (v, label) in values {
        let sel = v == current;
        seen |= sel;
        let n = counts.and_then(|c| {
            if current.is_empty() {
                Some(c.get(v).copied().unwrap_or(0))
            } else if sel {
                c.get(v).copied()
            } else {
                None
            }
        });
        let _ = write!(
            out,
            "<option value=\"{}\"{}>{}{}</option>",
            esc(v),
            if sel { " selected" } else { "" },
            esc(label),
            n.map(|n| format!(" ({n})")).unwrap_or_default()
        );
    }
    if !seen {
        let _ = write!(
            out,
            "<option value=\"{0}\" selected>{0}</option>",
            esc(current)
        );
    }
}

fn select(out: &mut String, id: &str, name: &str, label: &str, body: &str) {
    let _ = write!(
        out,
        "<div><label for=\"{id}\">{label}</label><select id=\"{id}\" name=\"{name}\">{body}</select></div>"
    );
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

fn source_name<'a>(sources: &'a [SourceStatus], id: &'a str) -> &'a str {
    sources
        .iter()
        .find(|s| s.id == id)
        .map(|s| s.name.as_str())
        .unwrap_or(id)
}

fn search_form(out: &mut String, v: &HomeView<'_>) {
    let lang = v.lang;
    let p = |k| param(v.params, k);
    let facets = v.results.map(|r| &r.facets);
    let label = lang.t(
        "Cerca tra i processi partecipativi in Italia",
        "Search participatory processes in Italy",
    );
    let _ = writeln!(
        out,
        "<form method=\"get\" action=\"{action}\" class=\"sf\" role=\"search\" aria-label=\"{label}\">\n\
         <label class=\"lbl\" for=\"q\">{label}</label>\n<div class=\"bar\">\
         <input type=\"search\" id=\"q\" name=\"q\" value=\"{q}\" placeholder=\"{ph}\" autocomplete=\"off\">\
         <button type=\"submit\" class=\"go\">{go}</button></div>",
        action = lang.home(),
        q = esc(p("q")),
        ph = lang.t(
            "Es. bilancio partecipativo, mobilità, Bari",
            "E.g. participatory budget, mobility, Bari"
        ),
        go = lang.t("Cerca", "Search"),
    );
    if let Some(err) = v.error {
        let _ = writeln!(
            out,
            "<p class=\"err\" role=\"alert\">{}: {}</p>",
            lang.t("La ricerca non è valida", "The search is not valid"),
            esc(err)
        );
    }
    let _ = write!(
        out,
        "<fieldset class=\"flt\"><legend class=\"vh\">{}</legend>",
        lang.t("Filtri", "Filters")
    );
    let mut body = String::new();
    let kinds: Vec<(String, String)> = Kind::ALL
        .iter()
        .map(|k| (k.as_str().to_owned(), kind_label(lang, *k).to_owned()))
        .collect();
    options(
        &mut body,
        lang,
        &kinds,
        p("kind"),
        facets.map(|f| &f.kind),
        true,
    );
    select(out, "f-kind", "kind", lang.t("Tipo", "Type"), &body);

    body.clear();
    let statuses: Vec<(String, String)> = [Status::Open, Status::Upcoming, Status::Closed]
        .iter()
        .map(|s| (s.as_str().to_owned(), status_label(lang, *s).to_owned()))
        .collect();
    options(
        &mut body,
        lang,
        &statuses,
        p("status"),
        facets.map(|f| &f.status),
        true,
    );
    select(out, "f-status", "status", lang.t("Stato", "Status"), &body);

    body.clear();
    options(
        &mut body,
        lang,
        &region_values(),
        p("region"),
        facets.map(|f| &f.region),
        true,
    );
    select(
        out,
        "f-region",
        "region",
        lang.t("Regione", "Region"),
        &body,
    );
    let _ = write!(
        out,
        "<div><label for=\"f-place\">{}</label><input id=\"f-place\" name=\"place\" value=\"{}\" maxlength=\"100\" placeholder=\"{}\"></div>",
        lang.t("Comune o provincia", "Comune or province"),
        // a place resolved on the server comes back as its code
        esc(["place", "comune", "province"]
            .into_iter()
            .map(p)
            .find(|v| !v.is_empty())
            .unwrap_or("")),
        lang.t("Es. Casalecchio di Reno", "E.g. Merano"),
    );

    body.clear();
    options(
        &mut body,
        lang,
        &topic_values(lang),
        p("topic"),
        facets.map(|f| &f.topic),
        true,
    );
    select(out, "f-topic", "topic", lang.t("Tema", "Topic"), &body);

    body.clear();
    let methods: Vec<(String, String)> = snodo_model::METHODS
        .iter()
        .map(|m| ((*m).to_owned(), method_label(lang, m).into_owned()))
        .collect();
    options(
        &mut body,
        lang,
        &methods,
        p("method"),
        facets.map(|f| &f.method),
        true,
    );
    select(
        out,
        "f-method",
        "method",
        lang.t("Come partecipare", "How to take part"),
        &body,
    );

    body.clear();
    let mut sources: Vec<(String, String)> = v
        .sources
        .iter()
        .filter(|s| s.configured || s.records > 0)
        .map(|s| (s.id.clone(), s.name.clone()))
        .collect();
    sources.sort_by_key(|a| a.1.to_lowercase());
    options(
        &mut body,
        lang,
        &sources,
        p("source"),
        facets.map(|f| &f.source),
        true,
    );
    select(
        out,
        "f-source",
        "source",
        lang.t("Piattaforma", "Platform"),
        &body,
    );

    body.clear();
    let sorts = [
        ("relevance", lang.t("Pertinenza", "Relevance")),
        ("newest", lang.t("Più recenti", "Newest")),
        ("closing", lang.t("In scadenza", "Closing soon")),
    ]
    .map(|(v, l)| (v.to_owned(), l.to_owned()));
    let sort = match p("sort") {
        "" => "relevance",
        s => s,
    };
    options(&mut body, lang, &sorts, sort, None, false);
    select(
        out,
        "f-sort",
        "sort",
        lang.t("Ordina per", "Sort by"),
        &body,
    );
    out.push_str("</fieldset>\n</form>\n");
}

fn card(out: &mut String, lang: Lang, hit: &SearchHit, sources: &[SourceStatus]) {
    let lang_a = lang_attr(&hit.lang)
        .map(|l| format!(" lang=\"{}\"", esc(l)))
        .unwrap_or_default();
    let title = if hit.title.trim().is_empty() {
        esc(lang.t("Senza titolo", "Untitled"))
    } else {
        esc(&hit.title)
    };
    // The same process on other platforms: the index shows the group once.
    let also: Vec<&str> = hit
        .same_as
        .iter()
        .filter_map(|id| id.split(':').next())
        .map(|src| source_name(sources, src))
        .collect();
    let also = if also.is_empty() {
        String::new()
    } else {
        format!(
            " · {} {}",
            lang.t("anche su", "also on"),
            esc(&also.join(", "))
        )
    };
    let _ = write!(
        out,
        "<li class=\"card\"><article>\n<p class=\"meta\">{} · {}{also}</p>\n<h3 class=\"ttl\">",
        kind_label(lang, hit.kind),
        esc(source_name(sources, &hit.source))
    );
    match safe_url(&hit.url) {
        Some(u) => {
            let _ = write!(
                out,
                "<a href=\"{}\" target=\"_blank\" rel=\"noopener\"><span{lang_a}>{title}</span><span class=\"vh\"> {}</span></a>",
                esc(u),
                lang.t("(si apre in una nuova finestra)", "(opens in a new window)")
            );
        }
        None => {
            let _ = write!(out, "<span{lang_a}>{title}</span>");
        }
    }
    out.push_str("</h3>\n<p class=\"info\">");
    let _ = write!(
        out,
        "<span class=\"badge b-{}\">{}</span> ",
        hit.status.as_str(),
        status_label(lang, hit.status)
    );
    let dates = match (hit.status, hit.start_date, hit.end_date) {
        (Status::Upcoming, Some(s), Some(e)) => Some(format!(
            "{} {} {} {}",
            lang.t("dal", "from"),
            date(lang, s),
            lang.t("al", "to"),
            date(lang, e)
        )),
        (Status::Upcoming, Some(s), None) => {
            Some(format!("{} {}", lang.t("dal", "from"), date(lang, s)))
        }
        (Status::Open, _, Some(e)) => {
            Some(format!("{} {}", lang.t("fino al", "until"), date(lang, e)))
        }
        (Status::Closed, _, Some(e)) => Some(format!(
            "{} {}",
            lang.t("chiuso il", "closed on"),
            date(lang, e)
        )),
        (_, Some(s), _) => Some(format!("{} {}", lang.t("dal", "from"), date(lang, s))),
        _ => None,
    };
    if let Some(d) = dates {
        let _ = write!(out, "<span>{d}</span> ");
    }
    // the comune is an ISTAT code; its name comes from the ISTAT table (a code not found there,
    // e.g. a comune merged since, is not shown)
    let comune = hit
        .comune
        .as_deref()
        .and_then(snodo_model::territory::comune)
        .map(|c| c.name);
    let region = hit.region.as_deref().and_then(region_short_opt);
    let where_: Vec<&str> = comune.into_iter().chain(region).collect();
    let where_ = if where_.is_empty() {
        hit.scope_name.clone().unwrap_or_default()
    } else {
        where_.join(", ")
    };
    if !where_.is_empty() {
        let _ = write!(
            out,
            "<span><span class=\"vh\">{} </span>{}</span>",
            lang.t("Dove:", "Where:"),
            esc(&where_)
        );
    }
    out.push_str("</p>\n");
    match hit.snippet.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => {
            let _ = writeln!(out, "<p class=\"txt\"{lang_a}>{}</p>", safe_snippet(s));
        }
        None if !hit.summary.trim().is_empty() => {
            let _ = writeln!(
                out,
                "<p class=\"txt\"{lang_a}>{}</p>",
                esc(&snodo_model::text::truncate_words(&hit.summary, 280))
            );
        }
        None => {}
    }
    if !hit.methods.is_empty() {
        let m: Vec<Cow<'_, str>> = hit.methods.iter().map(|m| method_label(lang, m)).collect();
        let _ = writeln!(out, "<p class=\"mth\">{}</p>", m.join(" · "));
    }
    out.push_str("</article></li>\n");
}

fn region_short_opt(code: &str) -> Option<&'static str> {
    Some(region_short(code)).filter(|n| !n.is_empty())
}

fn results(out: &mut String, v: &HomeView<'_>, r: &SearchResults) {
    let lang = v.lang;
    let q = param(v.params, "q");
    let offset: u64 = param(v.params, "offset").parse().unwrap_or(0);
    let shown = r.items.len() as u64;
    out.push_str("<div class=\"res\">\n<p class=\"cnt\" role=\"status\">");
    if r.total == 0 {
        let _ = write!(
            out,
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
        );
    } else {
        out.push_str(&plural(
            lang,
            r.total,
            "risultato",
            "risultati",
            "result",
            "results",
        ));
        if !q.is_empty() {
            let _ = write!(out, " {} {}", lang.t("per", "for"), quoted(lang, q));
        }
        if shown < r.total && shown > 0 {
            let _ = write!(
                out,
                " ({} {}–{})",
                lang.t("mostrati", "showing"),
                offset + 1,
                offset + shown
            );
        }
    }
    out.push_str("</p>\n");
    // Near me is never empty where something wider is open: say so, and how to see it.
    if let Some(above) = r.above.as_ref().filter(|a| a.total > 0) {
        let mut pairs: Vec<(&str, &str)> = v
            .params
            .iter()
            .filter(|(k, _)| k != "offset" && k != "scope")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.push(("scope", "all"));
        let _ = writeln!(
            out,
            "<p class=\"above\">{} <a href=\"{}\">{}</a></p>",
            plural(
                lang,
                above.total,
                "altro risultato riguarda anche questo territorio (provincia, regione o tutta Italia).",
                "altri risultati riguardano anche questo territorio (provincia, regione o tutta Italia).",
                "more result also concerns this place (its province, region or all of Italy).",
                "more results also concern this place (its province, region or all of Italy).",
            ),
            esc(&href(lang.home(), &pairs)),
            lang.t("Mostra anche questi", "Show these too"),
        );
    }
    if !r.items.is_empty() {
        let _ = writeln!(
            out,
            "<ol class=\"list\" aria-label=\"{}\">",
            lang.t("Risultati della ricerca", "Search results")
        );
        for hit in &r.items {
            card(out, lang, hit, v.sources);
        }
        out.push_str("</ol>\n");
    }
    let limit: u64 = param(v.params, "limit").parse().unwrap_or(20).clamp(1, 100);
    let has_prev = offset > 0;
    let has_next = offset + shown < r.total && shown > 0;
    if has_prev || has_next {
        let _ = write!(
            out,
            "<nav class=\"pager\" aria-label=\"{}\">",
            lang.t("Pagine dei risultati", "Result pages")
        );
        let keep: Vec<(&str, &str)> = [
            "q", "kind", "status", "region", "province", "comune", "place", "scope", "method",
            "topic", "open_on", "from", "to", "source", "sort", "limit",
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
            esc(&href(lang.home(), &pairs)).into_owned()
        };
        if has_prev {
            let _ = write!(
                out,
                "<a rel=\"prev\" href=\"{}\">← {}</a>",
                link(offset.saturating_sub(limit)),
                lang.t("Precedenti", "Previous")
            );
        }
        if has_next {
            let _ = write!(
                out,
                "<a rel=\"next\" href=\"{}\">{} →</a>",
                link(offset + shown),
                lang.t("Successivi", "Next")
            );
        }
        out.push_str("</nav>\n");
    }
    out.push_str("</div>\n");
}

fn quoted(lang: Lang, q: &str) -> String {
    match lang {
        Lang::It => format!("«{}»", esc(q)),
        Lang::En => format!("“{}”", esc(q)),
    }
}

fn counts(out: &mut String, v: &HomeView<'_>) {
    let lang = v.lang;
    let _ = write!(
        out,
        "<ul class=\"counts\" aria-label=\"{}\">",
        lang.t("Processi per stato", "Processes by status")
    );
    for (status, it1, itn, en1, enn) in [
        ("open", "aperto", "aperti", "open", "open"),
        ("upcoming", "in arrivo", "in arrivo", "upcoming", "upcoming"),
        ("closed", "concluso", "conclusi", "closed", "closed"),
    ] {
        let n = v.status_counts.get(status).copied().unwrap_or(0);
        let word = match (lang, n == 1) {
            (Lang::It, true) => it1,
            (Lang::It, false) => itn,
            (Lang::En, true) => en1,
            (Lang::En, false) => enn,
        };
        let _ = write!(
            out,
            "<li class=\"c-{status}\"><a href=\"{}\"><strong>{n}</strong> <span>{word}</span></a></li>",
            esc(&href(lang.home(), &[("status", status)]))
        );
    }
    out.push_str("</ul>\n");
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
    /// The place the page is filtered by, if any: the map shows the comuni of its region.
    pub focus: Option<snodo_model::Territory>,
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

/// One shape: a link with an accessible name when it leads somewhere, else an inert path.
fn shape(out: &mut String, d: &str, class: &str, link: Option<(&str, &str)>) {
    match link {
        Some((href, label)) => {
            let _ = writeln!(
                out,
                "<a href=\"{}\" aria-label=\"{label}\"><title>{label}</title><path class=\"{class}\" d=\"{d}\"/></a>",
                esc(href),
                label = esc(label),
            );
        }
        None => {
            let _ = writeln!(out, "<path class=\"{class}\" d=\"{d}\"/>");
        }
    }
}

/// A choropleth from ISTAT boundaries: Italy by province, or, when the page is filtered by a
/// place, the comuni of its region. Every shaded place is a link that filters the page; the same
/// numbers follow as tables, for those who do not use the picture.
fn map(out: &mut String, v: &HomeView<'_>) {
    let lang = v.lang;
    let m = v.map;
    let focus_region = m.focus.as_ref().and_then(|t| t.region.as_deref());
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
    let _ = writeln!(
        out,
        "<section class=\"map\" aria-labelledby=\"map-h\">\n<h2 id=\"map-h\">{}</h2>\n<p id=\"map-note\" class=\"note\">{note}</p>",
        esc(&heading)
    );
    // what no shape can show: the national ones, and in a region those of the region as a whole
    let _ = write!(out, "<ul class=\"wide\">");
    if let Some((code, name, _)) = &zoom {
        let _ = write!(
            out,
            "<li><a href=\"{}\">{}</a></li>",
            esc(&href(lang.home(), &[("status", "open")])),
            lang.t(
                "← Tutta Italia, per provincia",
                "← All of Italy, by province"
            ),
        );
        let n = m.region.get(*code).copied().unwrap_or(0);
        let _ = write!(
            out,
            "<li><a href=\"{}\">{}</a></li>",
            esc(&href(lang.home(), &[("region", code), ("status", "open")])),
            esc(&open_label(
                lang,
                &format!("{} {name}", lang.t("Tutta la regione", "All of")),
                n
            )),
        );
    }
    let _ = writeln!(
        out,
        "<li><a href=\"{}\">{}</a></li></ul>",
        esc(&href(lang.home(), &[("place", "IT"), ("status", "open")])),
        esc(&open_label(
            lang,
            lang.t("Nazionali, per tutta Italia", "National, for all of Italy"),
            m.national
        )),
    );
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
    let _ = writeln!(
        out,
        "<svg class=\"geo\" viewBox=\"0 0 {} {}\" role=\"group\" aria-labelledby=\"map-h\" aria-describedby=\"map-note\">",
        shapes.width, shapes.height
    );
    let focus_comune = m.focus.as_ref().and_then(|t| t.comune.as_deref());
    let focus_province = m.focus.as_ref().and_then(|t| t.province.as_deref());
    for (code, d) in shapes.iter() {
        let (name, n) = by_code.get(code).copied().unwrap_or(("", 0));
        let mut class = format!("s{}", shade(n, max));
        let selected = if zoom.is_some() {
            focus_comune == Some(code)
                || (focus_comune.is_none()
                    && focus_province.is_some()
                    && snodo_model::territory::comune(code).map(|c| c.province) == focus_province)
        } else {
            false
        };
        if selected {
            class.push_str(" sel");
        }
        let label = open_label(lang, name, n);
        let link = if zoom.is_some() {
            // a comune without open processes, or one the ISTAT list no longer has, leads nowhere
            (n > 0 && !name.is_empty())
                .then(|| href(lang.home(), &[("comune", code), ("status", "open")]))
        } else {
            Some(href(lang.home(), &[("province", code), ("status", "open")]))
        };
        shape(out, d, &class, link.as_deref().map(|h| (h, label.as_str())));
    }
    out.push_str("</svg>\n");
    // legend
    let _ = write!(
        out,
        "<p class=\"legend\"><span class=\"lg-l\">{}</span>",
        lang.t("Meno", "Fewer")
    );
    for i in 0..SHADES {
        let _ = write!(out, "<span class=\"sw sw{i}\" aria-hidden=\"true\"></span>");
    }
    let _ = writeln!(
        out,
        "<span class=\"lg-r\">{}</span></p>\n<p class=\"note\">{} {}</p>",
        lang.t("Più processi aperti", "More open processes"),
        lang.t("Confini:", "Boundaries:"),
        map::ATTRIBUTION,
    );
    // the same data as tables
    let _ = writeln!(
        out,
        "<details class=\"tbl\"><summary>{}</summary>",
        lang.t("I dati della mappa in tabella", "The map's data as a table"),
    );
    let table_head = |out: &mut String, caption: &str, place: &str| {
        let _ = writeln!(
            out,
            "<table><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\" class=\"num\">{}</th></tr></thead><tbody>",
            esc(caption),
            place,
            lang.t("Processi aperti", "Open processes"),
        );
    };
    match &zoom {
        Some((_, name, _)) => {
            table_head(
                out,
                &format!(
                    "{} {name}",
                    lang.t("Comuni con processi aperti:", "Comuni with open processes:")
                ),
                lang.t("Comune", "Comune"),
            );
            let mut open: Vec<&(String, String, u64)> = rows.iter().filter(|r| r.2 > 0).collect();
            open.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.1.cmp(&b.1)));
            for (code, name, n) in open {
                let _ = writeln!(
                    out,
                    "<tr><th scope=\"row\"><a href=\"{}\">{}</a></th><td class=\"num\">{n}</td></tr>",
                    esc(&href(lang.home(), &[("comune", code), ("status", "open")])),
                    esc(name)
                );
            }
            let none = rows.iter().filter(|r| r.2 == 0).count();
            let _ = writeln!(
                out,
                "</tbody></table>\n<p class=\"note\">{}</p>",
                match lang {
                    Lang::It =>
                        format!("Altri {none} comuni della regione non hanno processi aperti."),
                    Lang::En => format!("{none} other comuni of the region have no open process."),
                }
            );
        }
        None => {
            table_head(
                out,
                lang.t("Processi aperti per regione", "Open processes by region"),
                lang.t("Regione", "Region"),
            );
            for code in (1..=20).map(|i| format!("{i:02}")) {
                let n = m.region.get(&code).copied().unwrap_or(0);
                let _ = writeln!(
                    out,
                    "<tr><th scope=\"row\"><a href=\"{}\">{}</a></th><td class=\"num\">{n}</td></tr>",
                    esc(&href(lang.home(), &[("region", &code), ("status", "open")])),
                    esc(region_name(&code).unwrap_or(&code))
                );
            }
            out.push_str("</tbody></table>\n");
            table_head(
                out,
                lang.t(
                    "Processi aperti per provincia",
                    "Open processes by province",
                ),
                lang.t("Provincia", "Province"),
            );
            let mut sorted: Vec<&(String, String, u64)> = rows.iter().collect();
            sorted.sort_by(|a, b| a.1.cmp(&b.1));
            for (code, name, n) in sorted {
                let _ = writeln!(
                    out,
                    "<tr><th scope=\"row\"><a href=\"{}\">{}</a></th><td class=\"num\">{n}</td></tr>",
                    esc(&href(lang.home(), &[("province", code), ("status", "open")])),
                    esc(name)
                );
            }
            out.push_str("</tbody></table>\n");
        }
    }
    out.push_str("</details>\n</section>\n");
}

fn sources_table(out: &mut String, v: &HomeView<'_>) {
    let lang = v.lang;
    let _ = writeln!(
        out,
        "<section class=\"srcs\" aria-labelledby=\"src-h\">\n<h2 id=\"src-h\">{}</h2>",
        lang.t("Le fonti", "The sources")
    );
    let list: Vec<&SourceStatus> = v
        .sources
        .iter()
        .filter(|s| s.configured || s.records > 0)
        .collect();
    if list.is_empty() {
        let _ = writeln!(
            out,
            "<p>{}</p>\n</section>",
            lang.t("Nessuna fonte configurata.", "No source is configured.")
        );
        return;
    }
    let _ = writeln!(
        out,
        "<table><caption class=\"vh\">{}</caption><thead><tr><th scope=\"col\">{}</th>\
         <th scope=\"col\" class=\"num\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        lang.t(
            "Piattaforme raccolte, con il numero di record e l'ultima raccolta riuscita",
            "Harvested platforms, with their record count and last successful harvest"
        ),
        lang.t("Piattaforma", "Platform"),
        lang.t("Record", "Records"),
        lang.t("Ultima raccolta riuscita", "Last successful harvest"),
    );
    for s in list {
        let name = match safe_url(&s.url) {
            Some(u) => format!("<a href=\"{}\">{}</a>", esc(u), esc(&s.name)),
            None => esc(&s.name).into_owned(),
        };
        let when = match s.last_success_at {
            Some(t) => datetime(lang, t),
            None => lang.t("mai", "never").to_owned(),
        };
        let _ = writeln!(
            out,
            "<tr><th scope=\"row\">{name}</th><td class=\"num\"><a href=\"{}\" aria-label=\"{}\">{}</a></td><td>{when}</td></tr>",
            esc(&href(lang.home(), &[("source", &s.id)])),
            esc(&format!(
                "{}: {}",
                s.name,
                plural(lang, s.records, "record", "record", "record", "records")
            )),
            s.records
        );
    }
    out.push_str("</tbody></table>\n</section>\n");
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
    let mut out = String::with_capacity(32 * 1024);
    let alternate = {
        let keep: Vec<(&str, &str)> = v
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        href(lang.other().home(), &keep)
    };
    head(
        &mut out,
        lang,
        &title,
        lang.t(
            "Cerca tra i processi partecipativi, le consultazioni e le assemblee pubbliche di tutta Italia.",
            "Search participatory processes, consultations and public assemblies from all over Italy.",
        ),
        &alternate,
        true,
    );
    let _ = writeln!(
        out,
        "<main id=\"main\" class=\"wrap\">\n<div class=\"hero\"><h1>{}</h1>\n<p class=\"lead\">{}</p>",
        lang.t(
            "Cerca la partecipazione in Italia",
            "Search public participation in Italy"
        ),
        lang.t(
            "Processi partecipativi, consultazioni e assemblee delle piattaforme pubbliche italiane, aggiornati ogni giorno.",
            "Participatory processes, consultations and assemblies from Italy's public platforms, updated every day."
        )
    );
    counts(&mut out, v);
    out.push_str("</div>\n");
    // The map beside the results on wide screens: near the top, whatever the list's length.
    let _ = writeln!(
        out,
        "<div class=\"lay\">\n<section class=\"search\" aria-labelledby=\"search-h\">\n<h2 id=\"search-h\" class=\"vh\">{}</h2>\n\
         <snodo-search mode=\"page\" lang=\"{}\" heading-level=\"3\">",
        lang.t("Ricerca", "Search"),
        lang.code()
    );
    search_form(&mut out, v);
    if let Some(r) = v.results {
        results(&mut out, v, r);
    }
    out.push_str("</snodo-search>\n</section>\n<div class=\"side\">\n");
    map(&mut out, v);
    out.push_str("</div>\n</div>\n");
    sources_table(&mut out, v);
    out.push_str("</main>\n");
    foot(&mut out, lang);
    out
}

/// The page a browser gets for an unknown address: what happened and the ways on.
pub fn render_not_found(lang: Lang) -> String {
    let mut out = String::with_capacity(8 * 1024);
    head(
        &mut out,
        lang,
        lang.t("Pagina non trovata · Snodo", "Page not found · Snodo"),
        lang.t("Questa pagina non esiste.", "This page does not exist."),
        lang.other().home(),
        true,
    );
    let _ = writeln!(
        out,
        "<main id=\"main\" class=\"wrap\">\n<h1>{}</h1>\n<p class=\"lead\">{}</p>\n\
         <ul><li><a href=\"{home}\">{}</a></li><li><a href=\"{embed}\">{}</a></li>\
         <li><a href=\"/api/v1/openapi.json\">{}</a></li></ul>\n</main>",
        lang.t("Pagina non trovata", "Page not found"),
        lang.t(
            "L'indirizzo non corrisponde a nessuna pagina di Snodo: forse è stato scritto male, o la pagina è stata spostata.",
            "The address matches no page of Snodo: it may be mistyped, or the page has moved.",
        ),
        lang.t(
            "Cerca tra i processi partecipativi",
            "Search participatory processes"
        ),
        lang.t("Incorpora la ricerca nel tuo sito", "Embed the search in your site"),
        lang.t("L'API aperta", "The open API"),
        home = lang.home(),
        embed = lang.embed(),
    );
    foot(&mut out, lang);
    out
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

/// The accessibility page: the standard the software is built to, how that is checked, what is
/// known not to meet it, and how to report a barrier; the operator's official statement when
/// configured.
pub fn render_accessibility(lang: Lang, a11y: &Accessibility) -> String {
    let mut out = String::with_capacity(12 * 1024);
    head(
        &mut out,
        lang,
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
    );
    let official = match &a11y.statement_url {
        Some(url) => format!(
            "<p>{} <a href=\"{}\">{}</a>.</p>",
            lang.t(
                "La dichiarazione ufficiale di questo sito, compilata con il modulo di AgID, è pubblicata qui:",
                "This site's official statement, filled in with AgID's form, is published here:",
            ),
            esc(url),
            lang.t("dichiarazione di accessibilità (AgID)", "accessibility statement (AgID)"),
        ),
        None => format!(
            "<p>{}</p>",
            lang.t(
                "Chi gestisce questo sito non ha ancora indicato la propria dichiarazione ufficiale, compilata con il modulo di AgID.",
                "Whoever runs this site has not yet linked its official statement, filled in with AgID's form.",
            )
        ),
    };
    let contact = match a11y.contact.as_deref() {
        Some(c) if c.contains('@') && !c.contains("://") => {
            format!("<a href=\"mailto:{}\">{}</a>", esc(c), esc(c))
        }
        Some(c) => format!("<a href=\"{}\">{}</a>", esc(c), esc(c)),
        None => lang
            .t(
                "i contatti indicati da chi gestisce il sito",
                "the contacts given by whoever runs the site",
            )
            .to_owned(),
    };
    let _ = writeln!(
        out,
        "<main id=\"main\" class=\"wrap prose\">\n<h1>{h1}</h1>\n<p class=\"lead\">{lead}</p>\n{official}\n\
         <h2>{std_h}</h2>\n<p>{std}</p>\n\
         <h2>{how_h}</h2>\n<ul><li>{how1}</li><li>{how2}</li><li>{how3}</li><li>{how4}</li></ul>\n\
         <h2>{lim_h}</h2>\n<ul><li>{lim1}</li><li>{lim2}</li><li>{lim3}</li></ul>\n\
         <h2>{fb_h}</h2>\n<p>{fb} {contact}. {fb2}</p>\n</main>",
        h1 = lang.t("Dichiarazione di accessibilità", "Accessibility statement"),
        lead = lang.t(
            "Snodo vuole che chiunque possa trovare i processi partecipativi a cui prendere parte, con qualunque dispositivo e tecnologia assistiva.",
            "Snodo wants everyone to find the participatory processes they can take part in, with any device and assistive technology.",
        ),
        std_h = lang.t("Lo standard", "The standard"),
        std = lang.t(
            "Le pagine, il widget e la console sono progettati per le Linee guida sull'accessibilità degli strumenti informatici di AgID (Legge 9 gennaio 2004, n. 4), che rimandano alla norma EN 301 549 e alle WCAG 2.1 livello AA.",
            "The pages, the widget and the console are built to AgID's guidelines on the accessibility of IT tools (Italian Law 4 of 9 January 2004), which refer to EN 301 549 and WCAG 2.1 level AA.",
        ),
        how_h = lang.t("Come lo verifichiamo", "How we check"),
        how1 = lang.t(
            "A ogni modifica, un browser vero (Chromium) apre ogni pagina in italiano e in inglese e la controlla con axe-core: nessuna violazione è ammessa.",
            "On every change, a real browser (Chromium) opens every page in Italian and English and checks it with axe-core: no violation is allowed.",
        ),
        how2 = lang.t(
            "Le stesse prove usano solo la tastiera: cercare, filtrare, sfogliare i risultati, usare la mappa e, nella console, avviare una raccolta.",
            "The same tests use the keyboard only: searching, filtering, paging through results, using the map and, in the console, starting a harvest.",
        ),
        how3 = lang.t(
            "Le pagine funzionano anche senza JavaScript; la mappa ha sempre un'alternativa in tabella.",
            "The pages work without JavaScript too; the map always has a table as its text alternative.",
        ),
        how4 = lang.t(
            "Le verifiche automatiche non trovano tutti i problemi: non è stata ancora fatta una valutazione manuale completa da esperti esterni.",
            "Automated checks do not find every problem: a full manual evaluation by outside experts has not been made yet.",
        ),
        lim_h = lang.t("Limiti noti", "Known limits"),
        lim1 = lang.t(
            "Titoli e descrizioni vengono dalle piattaforme di origine così come le pubblicano: testi lunghi, sigle non sciolte o lingue non dichiarate restano come sono. Ogni risultato rimanda alla pagina originale.",
            "Titles and descriptions come from the platforms of origin as they publish them: long texts, unexplained acronyms or undeclared languages stay as they are. Every result links to the original page.",
        ),
        lim2 = lang.t(
            "Documenti allegati (per esempio PDF) stanno sulle piattaforme di origine e non sono verificati da Snodo.",
            "Attached documents (PDFs, say) live on the platforms of origin and are not checked by Snodo.",
        ),
        lim3 = lang.t(
            "Sui siti che incorporano il widget, l'accessibilità della pagina intorno dipende da chi la gestisce.",
            "On sites that embed the widget, the accessibility of the surrounding page is up to whoever runs it.",
        ),
        fb_h = lang.t("Segnalare un problema", "Reporting a problem"),
        fb = lang.t(
            "Se qualcosa non è accessibile, scrivi a",
            "If something is not accessible, write to",
        ),
        fb2 = lang.t(
            "Se la risposta non arriva entro 30 giorni o non è soddisfacente, puoi rivolgerti al Difensore civico per il digitale presso AgID.",
            "If no answer comes within 30 days, or it does not satisfy you, you can turn to the Digital Ombudsman at AgID.",
        ),
    );
    foot(&mut out, lang);
    out
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
    let mut out = String::with_capacity(16 * 1024);
    head(
        &mut out,
        lang,
        lang.t(
            "Incorpora la ricerca · Snodo",
            "Embed the search · Snodo",
        ),
        lang.t(
            "Aggiungi a qualsiasi sito la ricerca dei processi partecipativi italiani con due righe di codice.",
            "Add the search of Italy's participatory processes to any site with two lines of code.",
        ),
        lang.other().embed(),
        true,
    );
    let _ = writeln!(
        out,
        "<main id=\"main\" class=\"wrap\">\n<h1>{}</h1>\n<p class=\"lead\">{}</p>",
        lang.t("Incorpora questa ricerca", "Embed this search"),
        lang.t(
            "Il sito del tuo comune, della tua regione o della tua associazione può offrire la ricerca di tutti i processi partecipativi d'Italia, anche solo quelli del tuo territorio: scegli i filtri e copia le due righe di codice nella pagina.",
            "Your town's, region's or association's site can offer the search of every participatory process in Italy, or only those of your area: choose the filters and copy the two lines of code into the page."
        )
    );
    // the form
    let _ = write!(
        out,
        "<div class=\"cols\">\n<section aria-labelledby=\"opt-h\">\n<h2 id=\"opt-h\">{}</h2>\n\
         <form id=\"snodo-embed-form\" class=\"sf embed\" method=\"get\" action=\"{}\" data-base=\"{}\" data-src=\"{}\" data-integrity=\"{}\">\n<div class=\"flt\">",
        lang.t("1. Scegli cosa cercare", "1. Choose what to search"),
        lang.embed(),
        esc(base),
        esc(&script.url(base)),
        esc(&script.integrity),
    );
    let mut body = String::new();
    let wlang = match p("lang") {
        "" => lang.code(),
        l => l,
    };
    options(
        &mut body,
        lang,
        &[
            ("it".into(), "Italiano".into()),
            ("en".into(), "English".into()),
        ],
        wlang,
        None,
        false,
    );
    select(
        &mut out,
        "e-lang",
        "lang",
        lang.t("Lingua", "Language"),
        &body,
    );
    body.clear();
    options(&mut body, lang, &region_values(), p("region"), None, true);
    select(
        &mut out,
        "e-region",
        "region",
        lang.t("Regione", "Region"),
        &body,
    );
    let _ = writeln!(
        out,
        "<div><label for=\"e-place\">{}</label><input id=\"e-place\" name=\"place\" value=\"{}\" maxlength=\"100\" aria-describedby=\"e-place-h\"><p id=\"e-place-h\" class=\"hint\" aria-live=\"polite\">{}</p></div>",
        lang.t("Comune o provincia", "Comune or province"),
        // a place resolved on the server comes back as its code
        esc(["place", "comune", "province"]
            .into_iter()
            .map(p)
            .find(|v| !v.is_empty())
            .unwrap_or("")),
        lang.t(
            "Nome o codice ISTAT, es. Casalecchio di Reno, 037011, BO; vuoto per tutta Italia.",
            "Name or ISTAT code, e.g. Casalecchio di Reno, 037011, BO; empty for all of Italy."
        ),
    );
    body.clear();
    let kinds: Vec<(String, String)> = Kind::ALL
        .iter()
        .map(|k| (k.as_str().to_owned(), kind_label(lang, *k).to_owned()))
        .collect();
    options(&mut body, lang, &kinds, p("kind"), None, true);
    select(&mut out, "e-kind", "kind", lang.t("Tipo", "Type"), &body);
    body.clear();
    options(&mut body, lang, &topic_values(lang), p("topic"), None, true);
    select(&mut out, "e-topic", "topic", lang.t("Tema", "Topic"), &body);
    body.clear();
    let methods: Vec<(String, String)> = snodo_model::METHODS
        .iter()
        .map(|m| ((*m).to_owned(), method_label(lang, m).into_owned()))
        .collect();
    options(&mut body, lang, &methods, p("method"), None, true);
    select(
        &mut out,
        "e-method",
        "method",
        lang.t("Come partecipare", "How to take part"),
        &body,
    );
    body.clear();
    let statuses: Vec<(String, String)> = [Status::Open, Status::Upcoming, Status::Closed]
        .iter()
        .map(|s| (s.as_str().to_owned(), status_label(lang, *s).to_owned()))
        .collect();
    options(&mut body, lang, &statuses, p("status"), None, true);
    select(
        &mut out,
        "e-status",
        "status",
        lang.t("Stato", "Status"),
        &body,
    );
    let limit = p("limit")
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=100).contains(n));
    let _ = writeln!(
        out,
        "<div><label for=\"e-source\">{}</label><input id=\"e-source\" name=\"source\" value=\"{}\" pattern=\"[a-z0-9\\-]+\" aria-describedby=\"e-source-h\"><p id=\"e-source-h\" class=\"hint\">{}</p></div>\
         <div><label for=\"e-limit\">{}</label><input id=\"e-limit\" name=\"limit\" type=\"number\" min=\"1\" max=\"100\" value=\"{}\"></div>\
         <div><label for=\"e-ph\">{}</label><input id=\"e-ph\" name=\"placeholder\" value=\"{}\" maxlength=\"80\"></div>\
         <div class=\"check\"><input id=\"e-compact\" name=\"compact\" type=\"checkbox\" value=\"1\"{}><label for=\"e-compact\">{}</label></div>\
         </div>\n<p><button type=\"submit\" class=\"sec\">{}</button></p>\n</form>\n</section>",
        lang.t("Piattaforma (identificativo)", "Platform (id)"),
        esc(p("source")),
        lang.t("Es. partecipa; vuoto per tutte.", "E.g. partecipa; empty for all."),
        lang.t("Risultati per pagina", "Results per page"),
        limit.map(|n| n.to_string()).unwrap_or_default(),
        lang.t("Testo di esempio nel campo", "Placeholder text"),
        esc(p("placeholder")),
        if p("compact").is_empty() { "" } else { " checked" },
        lang.t("Versione compatta (senza filtri)", "Compact version (no filters)"),
        lang.t("Aggiorna il codice", "Update the code"),
    );
    // the snippet, as rendered without JavaScript
    let mut attrs = String::new();
    if wlang != "it" {
        let _ = write!(attrs, " lang=\"{}\"", esc(wlang));
    }
    for k in [
        "region", "province", "comune", "place", "scope", "kind", "status", "topic", "method",
        "source",
    ] {
        if !p(k).is_empty() {
            let _ = write!(attrs, " {k}=\"{}\"", esc(p(k)));
        }
    }
    if let Some(n) = limit {
        let _ = write!(attrs, " limit=\"{n}\"");
    }
    if !p("placeholder").is_empty() {
        let _ = write!(attrs, " placeholder=\"{}\"", esc(p("placeholder")));
    }
    if !p("compact").is_empty() {
        attrs.push_str(" compact");
    }
    let snippet = format!(
        "<script type=\"module\" src=\"{}\" integrity=\"{}\"></script>\n<snodo-search{attrs}></snodo-search>",
        script.url(base),
        script.integrity
    );
    let _ = writeln!(
        out,
        "<section aria-labelledby=\"code-h\">\n<h2 id=\"code-h\">{}</h2>\n<p>{}</p>\n\
         <pre class=\"code\"><code id=\"snodo-embed-code\">{}</code></pre>\n\
         <p><button type=\"button\" id=\"snodo-embed-copy\" class=\"go\" hidden>{}</button> \
         <span id=\"snodo-embed-copied\" role=\"status\" data-msg=\"{}\"></span></p>\n\
         <p class=\"hint\">{}</p>\n<p class=\"hint\">{}</p>\n</section>\n</div>",
        lang.t("2. Copia il codice nella tua pagina", "2. Copy the code into your page"),
        lang.t(
            "Incolla queste due righe dove vuoi che compaia la ricerca. Nessun'altra installazione è necessaria.",
            "Paste these two lines where the search should appear. Nothing else needs installing."
        ),
        esc(&snippet),
        lang.t("Copia il codice", "Copy the code"),
        lang.t("Codice copiato negli appunti.", "Code copied to the clipboard."),
        lang.t(
            "Colori e caratteri si adattano al tuo sito con le proprietà CSS --snodo-primary, --snodo-font, --snodo-text, --snodo-bg, --snodo-radius e --snodo-focus, impostate sull'elemento snodo-search.",
            "Colours and fonts follow your site through the CSS properties --snodo-primary, --snodo-font, --snodo-text, --snodo-bg, --snodo-radius and --snodo-focus, set on the snodo-search element."
        ),
        esc(&format!(
            "{} src=\"{base}/widget.js\" {}",
            lang.t(
                "Il codice fissa questa versione del widget con il suo hash (integrity): il browser la esegue solo se è identica a quella che vedi qui, e resta disponibile anche dopo gli aggiornamenti di Snodo. Per ricevere gli aggiornamenti senza cambiare il codice, usa invece",
                "The code pins this version of the widget by its hash (integrity): the browser runs it only if it is exactly the one you see here, and it stays available after Snodo is upgraded. To get upgrades without changing the code, use"
            ),
            lang.t("senza integrity.", "without integrity instead.")
        )),
    );
    // live preview (the widget itself; shown once the script has loaded)
    let _ = writeln!(
        out,
        "<section class=\"preview\" aria-labelledby=\"prev-h\">\n<h2 id=\"prev-h\">{}</h2>\n\
         <div class=\"frame\"><snodo-search id=\"snodo-embed-preview\" lang=\"{}\"{}></snodo-search></div>\n</section>\n</main>",
        lang.t("Anteprima", "Preview"),
        esc(wlang),
        attrs.replace(&format!(" lang=\"{}\"", esc(wlang)), ""),
    );
    foot(&mut out, lang);
    out
}

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
                focus: None,
            },
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
            assert!(html.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"));
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
            "<a href=\"/?province=272&amp;status=open\" aria-label=\"Bari: 4 processi aperti\"><title>Bari: 4 processi aperti</title><path class=\"s5\" d=\"M"
        ));
        assert!(html.contains("aria-label=\"Milano: 1 processo aperto\"><title>Milano: 1 processo aperto</title><path class=\"s2\""));
        assert!(html.contains("aria-label=\"Isernia: 0 processi aperti\"><title>Isernia: 0 processi aperti</title><path class=\"s0\""));
        // what no province shows: the national ones
        assert!(html.contains("<a href=\"/?place=IT&amp;status=open\">Nazionali, per tutta Italia: 14 processi aperti</a>"));
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
        assert!(html.contains("<p class=\"mth\">proposte · &lt;script&gt;"));
        assert!(html.contains("rel=\"prev\" href=\"/?q=bilancio&amp;region=16\""));
        assert!(html.contains("rel=\"next\" href=\"/?q=bilancio&amp;region=16&amp;offset=22\""));
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

    #[test]
    fn unsafe_urls_are_not_linked() {
        let mut h = hit("x");
        h.url = "javascript:alert(1)".into();
        let mut out = String::new();
        card(&mut out, Lang::It, &h, &[]);
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
        f.map.focus = Some(snodo_model::territory::from_code("072006").unwrap());
        let html = home(&f, Lang::En, false, None);
        assert!(html.contains("Open processes by comune: Puglia"));
        let shapes = crate::map::comuni("16").unwrap().iter().count();
        assert!(shapes > 250, "{shapes}");
        assert_eq!(html.matches("<path ").count(), shapes);
        // only comuni with open processes lead somewhere; the one asked for is marked
        assert_eq!(html.matches("<a href=\"/en/?comune=").count(), 2 + 2);
        assert!(html.contains("<a href=\"/en/?comune=072006&amp;status=open\" aria-label=\"Bari: 3 open processes\"><title>Bari: 3 open processes</title><path class=\"s5 sel\""));
        assert!(html.contains("<a href=\"/en/?status=open\">← All of Italy, by province</a>"));
        assert!(html.contains(
            "<a href=\"/en/?region=16&amp;status=open\">All of Puglia: 5 open processes</a>"
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
            "&lt;script type=&quot;module&quot; src=&quot;https://snodo.example.it/widget/{}&quot; integrity=&quot;{}&quot;&gt;&lt;/script&gt;\n&lt;snodo-search&gt;&lt;/snodo-search&gt;",
            script.file, script.integrity
        )));
        assert!(html.contains("src=&quot;https://snodo.example.it/widget.js&quot; senza integrity"));
        let params = vec![
            ("region".to_string(), "16".to_string()),
            ("status".into(), "open".into()),
            ("lang".into(), "en".into()),
            ("placeholder".into(), EVIL.into()),
            ("compact".into(), "1".into()),
        ];
        let html = render_embed_with(Lang::En, "https://h.it", &params);
        assert!(html.contains("&lt;snodo-search lang=&quot;en&quot; region=&quot;16&quot; status=&quot;open&quot; placeholder="));
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
        assert!(html.contains("href=\"https://form.agid.gov.it/view/abc?x=1&amp;y=&quot;2&quot;\""));
        assert!(html.contains("href=\"mailto:accessibilita@comune.example.it\""));
        assert!(html.contains("WCAG 2.1"));
        assert!(!html.contains("<script"), "the statement needs no script");
        let en = render_accessibility(Lang::En, &Accessibility::default());
        assert!(en.contains("has not yet linked its official statement"));
        assert!(en.contains("the contacts given by whoever runs the site"));
        assert!(en.contains("hreflang=\"it\" href=\"/accessibilita\""));
    }
}
