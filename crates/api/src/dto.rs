//! The JSON shapes of the API, kept apart from store and index types so that the public contract
//! only changes on purpose.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::Serialize;
use snodo_index::SearchResults;
use snodo_model::territory;
use snodo_model::Status;
use snodo_store::{RunRecord, SourceStatus, StoredRecord};
use utoipa::{IntoParams, ToSchema};

/// `/api/v1/search` parameters, for the OpenAPI description (parsing is in [`crate::params`]).
/// An empty value means the parameter is absent (HTML forms send empty fields), so every schema
/// also admits `""`. Unknown or repeated parameters are 400.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct SearchQueryDoc {
    /// Full-text query (Italian and English analysis, accents ignored; the last word also
    /// matches as a prefix, unless a space follows it: `casa ` is the finished word). `"…"` for
    /// phrases. At most 500 characters, no control characters.
    #[param(schema_with = schema::query_text)]
    q: Option<String>,
    /// process, assembly, consultation, conference, initiative, meeting, proposal, experience
    #[param(schema_with = schema::kind)]
    kind: Option<String>,
    /// upcoming, open or closed, computed from the dates against today in Italy
    #[param(schema_with = schema::status)]
    status: Option<String>,
    /// 2-digit ISTAT region code, 01–20
    #[param(schema_with = schema::region)]
    region: Option<String>,
    /// A province or metropolitan city: its 3-digit UTS code (`237`), historical code (`037`) or
    /// sigla (`BO`)
    #[param(schema_with = schema::province)]
    province: Option<String>,
    /// A comune: its 6-digit ISTAT code (`037011`)
    #[param(schema_with = schema::comune)]
    comune: Option<String>,
    /// A place by name in any official language (`Casalecchio di Reno`, `Meran`, `Provincia di
    /// Lecce`) or code; a name several comuni share answers 400 with the candidates
    #[param(schema_with = schema::place)]
    place: Option<String>,
    /// With a place: `local` (default) lists the place's own records and counts those of the
    /// places above it in `above`; `all` lists those too
    #[param(schema_with = schema::scope)]
    scope: Option<String>,
    /// A way of taking part: proposals, budgets, surveys, meetings, debates, consultation
    #[param(schema_with = schema::method)]
    method: Option<String>,
    /// A national topic, one of the 13 DCAT-AP data themes: AGRI, ECON, EDUC, ENER, ENVI, GOVE,
    /// HEAL, INTR, JUST, REGI, SOCI, TECH, TRAN
    #[param(schema_with = schema::topic)]
    topic: Option<String>,
    /// Records open on this day (YYYY-MM-DD): started on or before it, not ended before it
    #[param(schema_with = schema::date)]
    open_on: Option<String>,
    /// With `to`: records whose period overlaps these days (YYYY-MM-DD)
    #[param(schema_with = schema::date)]
    from: Option<String>,
    /// See `from`
    #[param(schema_with = schema::date)]
    to: Option<String>,
    /// A source id
    #[param(schema_with = schema::source)]
    source: Option<String>,
    /// relevance (default), newest, closing
    #[param(schema_with = schema::sort)]
    sort: Option<String>,
    /// 1–100, default 20
    #[param(schema_with = schema::limit)]
    limit: Option<u32>,
    /// 0–10000, default 0
    #[param(schema_with = schema::offset)]
    offset: Option<u32>,
    /// Preferred locale of returned texts (ISO 639-1), falling back to the record's default
    #[param(schema_with = schema::lang)]
    lang: Option<String>,
}

/// `/feeds/open.atom` parameters: the search's, with `status` only `open`, `sort` by default
/// `newest` and `limit` by default 50.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct FeedQueryDoc {
    /// Full-text query, as in search
    #[param(schema_with = schema::query_text)]
    q: Option<String>,
    /// process, assembly, consultation, conference, initiative, meeting, proposal, experience
    #[param(schema_with = schema::kind)]
    kind: Option<String>,
    /// The feed lists open records only: `open` or nothing
    #[param(schema_with = schema::open_only)]
    status: Option<String>,
    /// 2-digit ISTAT region code, 01–20
    #[param(schema_with = schema::region)]
    region: Option<String>,
    /// A province or metropolitan city: its 3-digit UTS code (`237`), historical code (`037`) or
    /// sigla (`BO`)
    #[param(schema_with = schema::province)]
    province: Option<String>,
    /// A comune: its 6-digit ISTAT code (`037011`)
    #[param(schema_with = schema::comune)]
    comune: Option<String>,
    /// A place by name in any official language (`Casalecchio di Reno`, `Meran`, `Provincia di
    /// Lecce`) or code; a name several comuni share answers 400 with the candidates
    #[param(schema_with = schema::place)]
    place: Option<String>,
    /// With a place: `local` (default) lists the place's own records and counts those of the
    /// places above it in `above`; `all` lists those too
    #[param(schema_with = schema::scope)]
    scope: Option<String>,
    /// A way of taking part: proposals, budgets, surveys, meetings, debates, consultation
    #[param(schema_with = schema::method)]
    method: Option<String>,
    /// A national topic, one of the 13 DCAT-AP data themes: AGRI, ECON, EDUC, ENER, ENVI, GOVE,
    /// HEAL, INTR, JUST, REGI, SOCI, TECH, TRAN
    #[param(schema_with = schema::topic)]
    topic: Option<String>,
    /// Records open on this day (YYYY-MM-DD): started on or before it, not ended before it
    #[param(schema_with = schema::date)]
    open_on: Option<String>,
    /// With `to`: records whose period overlaps these days (YYYY-MM-DD)
    #[param(schema_with = schema::date)]
    from: Option<String>,
    /// See `from`
    #[param(schema_with = schema::date)]
    to: Option<String>,
    /// A source id
    #[param(schema_with = schema::source)]
    source: Option<String>,
    /// newest (default), relevance, closing
    #[param(schema_with = schema::sort)]
    sort: Option<String>,
    /// 1–100, default 50
    #[param(schema_with = schema::limit)]
    limit: Option<u32>,
    /// 0–10000, default 0
    #[param(schema_with = schema::offset)]
    offset: Option<u32>,
    /// Preferred locale of the texts (ISO 639-1)
    #[param(schema_with = schema::lang)]
    lang: Option<String>,
}

/// Query parameters of `/feeds/meetings.ics` (documentation only; parsed by hand).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct MeetingsFeedQueryDoc {
    /// Full-text query, as in search
    #[param(schema_with = schema::query_text)]
    q: Option<String>,
    /// The feed lists meetings only: `meeting` or nothing
    #[param(schema_with = schema::meeting_only)]
    kind: Option<String>,
    /// 2-digit ISTAT region code, 01–20
    #[param(schema_with = schema::region)]
    region: Option<String>,
    /// A province: 3-digit UTS code, historical code or sigla
    #[param(schema_with = schema::province)]
    province: Option<String>,
    /// A comune: 6-digit ISTAT code
    #[param(schema_with = schema::comune)]
    comune: Option<String>,
    /// A place by name in any official language, or code
    #[param(schema_with = schema::place)]
    place: Option<String>,
    /// With a place: `local` (default) or `all` (with the places above it)
    #[param(schema_with = schema::scope)]
    scope: Option<String>,
    /// A national topic (DCAT-AP data theme code)
    #[param(schema_with = schema::topic)]
    topic: Option<String>,
    /// A source id
    #[param(schema_with = schema::source)]
    source: Option<String>,
    /// 1–100 events, default 100
    #[param(schema_with = schema::limit)]
    limit: Option<u32>,
    /// Preferred locale of the texts (ISO 639-1); `en` also puts the feed's own words in English
    #[param(schema_with = schema::lang)]
    lang: Option<String>,
}

/// `limit` and `offset` of `/api/v1/sources/{id}/runs`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PageQueryDoc {
    /// 1–100, default 20
    #[param(schema_with = schema::limit)]
    limit: Option<u32>,
    /// 0–1000000, default 0
    #[param(schema_with = schema::runs_offset)]
    offset: Option<u32>,
}

/// `lang` and `source` (`/api/v1/export.csv`).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct LangQueryDoc {
    /// Preferred locale of the texts (ISO 639-1), falling back to each record's default
    #[param(schema_with = schema::lang)]
    lang: Option<String>,
    /// Only the records of this source (its id, `[a-z0-9-]+`; empty means every source); an
    /// unknown id exports nothing
    #[param(schema_with = schema::source)]
    source: Option<String>,
}

/// `source` alone (`/api/v1/export.jsonl`).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct SourceQueryDoc {
    /// Only the records of this source (its id, `[a-z0-9-]+`; empty means every source); an
    /// unknown id exports nothing
    #[param(schema_with = schema::source)]
    source: Option<String>,
}

/// Parameter schemas that say exactly what [`crate::params`] accepts.
pub mod schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
    use utoipa::openapi::RefOr;

    fn text() -> ObjectBuilder {
        ObjectBuilder::new().schema_type(Type::String)
    }

    fn one_of_words(words: &[&str]) -> RefOr<Schema> {
        let mut all = vec![""];
        all.extend_from_slice(words);
        text().enum_values(Some(all)).into()
    }

    fn number_or_empty(min: f64, max: f64) -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(min))
                    .maximum(Some(max)),
            )
            .item(text().max_length(Some(0)))
            .into()
    }

    /// Any text without control characters, with balanced `"…"` phrases (typographic quotes
    /// count as `"`) and balanced parentheses outside phrases (described to three levels).
    pub fn query_text() -> RefOr<Schema> {
        const CTRL: &str = "\\u0000-\\u0008\\u000E-\\u001F\\u007F-\\u0084\\u0086-\\u009F";
        const QUOTES: &str = "\"\\u201C\\u201D\\u201E\\u201F\\u00AB\\u00BB";
        let plain = format!("[^(){QUOTES}{CTRL}]");
        let phrase = format!("[{QUOTES}][^{QUOTES}{CTRL}]*[{QUOTES}]");
        let mut group = format!("(?:{plain}|{phrase})");
        for _ in 0..3 {
            group = format!("(?:{plain}|{phrase}|\\((?:{group})*\\))");
        }
        text()
            .max_length(Some(crate::params::MAX_QUERY_CHARS))
            .pattern(Some(format!("^{group}*$")))
            .into()
    }

    pub fn kind() -> RefOr<Schema> {
        one_of_words(&[
            "process",
            "assembly",
            "consultation",
            "conference",
            "initiative",
            "meeting",
            "proposal",
            "experience",
        ])
    }

    pub fn status() -> RefOr<Schema> {
        one_of_words(&["upcoming", "open", "closed"])
    }

    pub fn meeting_only() -> RefOr<Schema> {
        one_of_words(&["meeting"])
    }

    pub fn open_only() -> RefOr<Schema> {
        one_of_words(&["open"])
    }

    pub fn sort() -> RefOr<Schema> {
        one_of_words(&["relevance", "newest", "closing"])
    }

    /// The ISTAT comuni of the 2020 table: a closed list, so a code that fits is a comune.
    pub fn comune() -> RefOr<Schema> {
        let mut codes = vec![""];
        codes.extend(snodo_model::territory::comuni().iter().map(|c| c.code));
        text().enum_values(Some(codes)).into()
    }

    /// Every province's UTS code, historical code and sigla.
    pub fn province() -> RefOr<Schema> {
        let mut all: Vec<&str> = vec![""];
        for p in snodo_model::territory::provinces() {
            for v in [p.code, p.historical, p.sigla] {
                if !all.contains(&v) {
                    all.push(v);
                }
            }
        }
        text().enum_values(Some(all)).into()
    }

    /// A name or a code, at most 100 characters.
    pub fn place() -> RefOr<Schema> {
        text().max_length(Some(100)).into()
    }

    pub fn topic() -> RefOr<Schema> {
        let codes: Vec<&str> = snodo_model::topics::THEMES.iter().map(|t| t.code).collect();
        one_of_words(&codes)
    }

    pub fn scope() -> RefOr<Schema> {
        one_of_words(&["local", "all"])
    }

    pub fn method() -> RefOr<Schema> {
        one_of_words(&snodo_model::METHODS)
    }

    /// A calendar date (`2027-03-01`), or empty for none.
    pub fn date() -> RefOr<Schema> {
        use utoipa::openapi::schema::{KnownFormat, SchemaFormat};
        OneOfBuilder::new()
            .item(text().format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))))
            .item(text().max_length(Some(0)))
            .into()
    }

    pub fn region() -> RefOr<Schema> {
        text().pattern(Some("^(0[1-9]|1[0-9]|20)?$")).into()
    }

    pub fn source() -> RefOr<Schema> {
        text()
            .max_length(Some(64))
            .pattern(Some("^[a-z0-9-]*$"))
            .into()
    }

    pub fn lang() -> RefOr<Schema> {
        text().pattern(Some("^([A-Za-z]{2})?$")).into()
    }

    pub fn limit() -> RefOr<Schema> {
        number_or_empty(1.0, crate::params::MAX_LIMIT as f64)
    }

    pub fn offset() -> RefOr<Schema> {
        number_or_empty(0.0, crate::params::MAX_OFFSET as f64)
    }

    pub fn runs_offset() -> RefOr<Schema> {
        number_or_empty(0.0, 1_000_000.0)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    /// All matches, not only this page.
    pub total: u64,
    pub limit: usize,
    pub offset: usize,
    pub items: Vec<SearchItem>,
    pub facets: FacetsResponse,
    /// With a place (`comune`, `province`, `region` or `place`) and `scope=local`: how many
    /// matches concern the places containing it — its province, its region, Italy — and are
    /// left out of `items` (ask again with `scope=all` to list them too). Null otherwise.
    pub above: Option<AboveResponse>,
    /// The place searched (`comune`, `province`, `region` or `place`), as Snodo understood it:
    /// `place=Meran` is the comune 021051. Null without a place.
    pub place: Option<PlaceResponse>,
}

/// A place resolved to one ISTAT entity.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlaceResponse {
    /// `comune`, `province`, `region` or `national`
    pub level: String,
    /// At that level: a 6-digit comune code, a 3-digit UTS province code, a 2-digit region code,
    /// or `IT`.
    pub code: String,
    /// Its name as ISTAT writes it, every official language included (`Merano/Meran`).
    pub name: String,
    /// The province's sigla (`BO`), for a comune or a province.
    pub sigla: Option<String>,
    /// The 3-digit UTS code of the comune's province.
    pub province: Option<String>,
    /// The 2-digit code of its region.
    pub region: Option<String>,
}

impl PlaceResponse {
    pub fn of(t: &snodo_model::Territory) -> Option<PlaceResponse> {
        let sigla = |code: &str| territory::province(code).map(|p| p.sigla.to_owned());
        if let Some(c) = t.comune.as_deref().and_then(territory::comune) {
            return Some(PlaceResponse {
                level: "comune".into(),
                code: c.code.into(),
                name: c.official.into(),
                sigla: sigla(c.province),
                province: Some(c.province.into()),
                region: Some(c.region.into()),
            });
        }
        if let Some(p) = t.province.as_deref().and_then(territory::province) {
            return Some(PlaceResponse {
                level: "province".into(),
                code: p.code.into(),
                name: p.name.into(),
                sigla: Some(p.sigla.into()),
                province: None,
                region: Some(p.region.into()),
            });
        }
        if let Some(code) = t.region.as_deref() {
            return Some(PlaceResponse {
                level: "region".into(),
                code: code.into(),
                name: territory::region_name(code)?.into(),
                sigla: None,
                province: None,
                region: None,
            });
        }
        t.national.then(|| PlaceResponse {
            level: "national".into(),
            code: "IT".into(),
            name: "Italia".into(),
            sigla: None,
            province: None,
            region: None,
        })
    }
}

/// A national topic: its DCAT-AP code and labels.
#[derive(Debug, Serialize, ToSchema)]
pub struct TopicItem {
    /// AGRI, ECON, EDUC, ENER, ENVI, GOVE, HEAL, INTR, JUST, REGI, SOCI, TECH or TRAN
    pub code: String,
    pub it: String,
    pub en: String,
}

impl TopicItem {
    fn of(code: &str) -> Option<TopicItem> {
        snodo_model::topics::theme(code).map(|t| TopicItem {
            code: t.code.to_owned(),
            it: t.it.to_owned(),
            en: t.en.to_owned(),
        })
    }
}

/// Matches of the places above a searched place, by level.
#[derive(Debug, Serialize, ToSchema)]
pub struct AboveResponse {
    pub total: u64,
    /// Of the comune's province as a whole (only when a comune was searched).
    pub province: Option<u64>,
    /// Of the region as a whole (a comune or province was searched).
    pub region: Option<u64>,
    /// National.
    pub national: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchItem {
    /// `source:kind:upstream_id`
    pub id: String,
    pub kind: String,
    pub title: String,
    /// Locale of `title`, `summary` and `snippet`.
    pub lang: String,
    pub summary: String,
    /// Escaped text with matched words in `<mark>` elements; no other markup.
    pub snippet: Option<String>,
    /// The canonical public page on the source platform.
    pub url: String,
    pub source: String,
    pub source_name: Option<String>,
    /// The licence of the source's texts as the operator configured it: an SPDX id, or `unknown`
    /// (then reuse the texts only as the source allows).
    pub licence: String,
    /// How to credit the source, with its licence.
    pub attribution: String,
    /// upcoming, open or closed (computed today).
    pub status: String,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    /// Exact start, where the source gives one (meetings): RFC 3339 in Italian local time.
    pub start_time: Option<DateTime<FixedOffset>>,
    /// Exact end, where the source gives one (meetings).
    pub end_time: Option<DateTime<FixedOffset>>,
    /// The process or assembly the item belongs to (a meeting's), and its page on the source.
    pub parent_title: Option<String>,
    pub parent_url: Option<String>,
    /// 2-digit ISTAT region code.
    pub region: Option<String>,
    pub region_name: Option<String>,
    /// 3-digit UTS code of the province or metropolitan city.
    pub province: Option<String>,
    pub province_name: Option<String>,
    /// 6-digit ISTAT comune code.
    pub comune: Option<String>,
    pub comune_name: Option<String>,
    /// The territory as the source names it.
    pub scope_name: Option<String>,
    pub image_url: Option<String>,
    /// How people take part: proposals, meetings, surveys, budgets, debates…
    pub methods: Vec<String>,
    /// National topics (the 13 DCAT-AP data themes), with their labels.
    pub topics: Vec<TopicItem>,
    /// The same thing published on other sources (likely duplicates, shown once as this item);
    /// each is a record at `/api/v1/records/{id}`.
    pub also_on: Vec<AlsoOn>,
}

/// A record on another source that describes the same thing as a search item.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlsoOn {
    /// `source:kind:upstream_id`
    pub id: String,
    /// The other record's source id.
    pub source: String,
    pub source_name: Option<String>,
}

/// Counts over all matches, per value.
#[derive(Debug, Serialize, ToSchema)]
pub struct FacetsResponse {
    pub kind: BTreeMap<String, u64>,
    pub status: BTreeMap<String, u64>,
    pub region: BTreeMap<String, u64>,
    pub source: BTreeMap<String, u64>,
    /// Ways of taking part (proposals, budgets, surveys, meetings, debates, consultation); a
    /// record counts once for each it offers.
    pub method: BTreeMap<String, u64>,
    /// National topics by code; a record counts once for each of its topics.
    pub topic: BTreeMap<String, u64>,
}

impl SearchResponse {
    pub fn from_results(
        r: SearchResults,
        limit: usize,
        offset: usize,
        source_name: impl Fn(&str) -> Option<String>,
        credit: impl Fn(&str) -> crate::credit::SourceCredit,
    ) -> Self {
        let items = r
            .items
            .into_iter()
            .map(|h| SearchItem {
                source_name: source_name(&h.source),
                licence: credit(&h.source).licence_id().to_owned(),
                attribution: credit(&h.source).attribution(),
                also_on: h
                    .same_as
                    .into_iter()
                    .map(|id| {
                        let source = id.split(':').next().unwrap_or_default().to_owned();
                        AlsoOn {
                            source_name: source_name(&source),
                            source,
                            id,
                        }
                    })
                    .collect(),
                region_name: h
                    .region
                    .as_deref()
                    .and_then(territory::region_name)
                    .map(str::to_owned),
                comune_name: h
                    .comune
                    .as_deref()
                    .and_then(territory::comune)
                    .map(|c| c.name.to_owned()),
                province_name: h
                    .province
                    .as_deref()
                    .and_then(territory::province)
                    .map(|p| p.name.to_owned()),
                province: h.province,
                topics: h.themes.iter().filter_map(|c| TopicItem::of(c)).collect(),
                id: h.id,
                kind: h.kind.as_str().to_owned(),
                title: h.title,
                lang: h.lang,
                summary: h.summary,
                snippet: h.snippet,
                url: h.url,
                source: h.source,
                status: h.status.as_str().to_owned(),
                start_date: h.start_date,
                end_date: h.end_date,
                start_time: h.start_time,
                end_time: h.end_time,
                parent_title: h.parent_title,
                parent_url: h.parent_url,
                region: h.region,
                comune: h.comune,
                scope_name: h.scope_name,
                image_url: h.image_url,
                methods: h.methods,
            })
            .collect();
        SearchResponse {
            total: r.total,
            limit,
            offset,
            items,
            facets: FacetsResponse {
                kind: r.facets.kind,
                status: r.facets.status,
                region: r.facets.region,
                source: r.facets.source,
                method: r.facets.method,
                topic: r.facets.topic,
            },
            above: r.above.map(|a| AboveResponse {
                total: a.total,
                province: a.province,
                region: a.region,
                national: a.national,
            }),
            place: None,
        }
    }
}

/// One record in every locale, with its harvest history.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordResponse {
    /// Every field of the record: id, url, title/subtitle/summary/description (per locale),
    /// description_html (sanitised), dates, phases, territory, promoter, topics, methods, activity…
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub record: serde_json::Value,
    pub kind: String,
    pub source: String,
    pub source_name: Option<String>,
    /// The licence of the source's texts: an SPDX id, or `unknown`.
    pub licence: String,
    /// How to credit the source, with its licence.
    pub attribution: String,
    pub status: String,
    pub region_name: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub last_changed: DateTime<Utc>,
    /// Set when the source stopped listing the record; it then leaves search results.
    pub gone_at: Option<DateTime<Utc>>,
}

impl RecordResponse {
    pub fn new(
        s: StoredRecord,
        source_name: Option<String>,
        credit: &crate::credit::SourceCredit,
        today: NaiveDate,
    ) -> Self {
        let r = &s.record;
        RecordResponse {
            kind: r.id.kind.as_str().to_owned(),
            source: r.id.source.clone(),
            source_name,
            licence: credit.licence_id().to_owned(),
            attribution: credit.attribution(),
            status: Status::from_dates(r.start_date, r.end_date, today)
                .as_str()
                .to_owned(),
            region_name: r
                .territory
                .region
                .as_deref()
                .and_then(territory::region_name)
                .map(str::to_owned),
            record: serde_json::to_value(r).unwrap_or_default(),
            first_seen: s.first_seen,
            last_seen: s.last_seen,
            last_changed: s.last_changed,
            gone_at: s.gone_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunResponse {
    pub id: i64,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// running, success, partial, failed or abandoned
    pub outcome: String,
    pub seen: u64,
    pub added: u64,
    pub changed: u64,
    pub unchanged: u64,
    pub failed: u64,
    pub gone: u64,
    pub error: Option<String>,
    pub warnings: Vec<String>,
    pub requests: u64,
    pub duration_ms: Option<u64>,
}

impl From<RunRecord> for RunResponse {
    fn from(r: RunRecord) -> Self {
        RunResponse {
            id: r.id,
            started_at: r.started_at,
            finished_at: r.finished_at,
            outcome: r.outcome.as_str().to_owned(),
            seen: r.counts.seen,
            added: r.counts.added,
            changed: r.counts.changed,
            unchanged: r.counts.unchanged,
            failed: r.counts.failed,
            gone: r.counts.gone,
            error: r.error,
            warnings: r.warnings,
            requests: r.requests,
            duration_ms: r.duration_ms,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunsResponse {
    pub total: u64,
    pub limit: usize,
    pub offset: usize,
    pub items: Vec<RunResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SourceResponse {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub url: String,
    /// Still in the configuration (sources removed from it keep their records and history).
    pub configured: bool,
    pub enabled: bool,
    pub schedule: Option<String>,
    /// Live (not gone) records.
    pub records: u64,
    pub running: bool,
    pub last_run: Option<RunResponse>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub next_run_at: Option<DateTime<Utc>>,
    /// ok (last run succeeded), failing (last run failed), never (no run yet), running
    pub health: String,
}

impl SourceResponse {
    pub fn new(s: SourceStatus, meta: Option<&crate::SourceMeta>, running: bool) -> Self {
        let health = if running {
            "running"
        } else {
            match s.last_run.as_ref().map(|r| r.outcome) {
                None => "never",
                Some(snodo_store::Outcome::Success) => "ok",
                Some(snodo_store::Outcome::Partial) => "degraded",
                Some(snodo_store::Outcome::Running) => "running",
                Some(_) => "failing",
            }
        };
        SourceResponse {
            name: meta.map(|m| m.name.clone()).unwrap_or(s.name),
            enabled: meta.is_some_and(|m| m.enabled),
            schedule: meta.map(|m| m.schedule.clone()),
            id: s.id,
            kind: s.kind,
            url: s.url,
            configured: s.configured,
            records: s.records,
            running,
            last_run: s.last_run.map(RunResponse::from),
            last_success_at: s.last_success_at,
            next_run_at: s.next_run_at,
            health: health.to_owned(),
        }
    }
}
