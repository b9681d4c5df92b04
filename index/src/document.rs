//! From a [`Record`] to an index document, and back to what a search hit shows.

use std::hash::Hasher;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use snodo_model::{Kind, LocalizedText, Record};
use tantivy::TantivyDocument;

use crate::analysed::Analyzers;
use crate::error::IndexError;
use crate::pairs::{PairWords, Pairs};
use crate::schema::{Fields, LangGroup};

/// What a hit needs to be displayed, stored as JSON with the document, so that search never
/// touches the store. Texts are kept in every locale; the hit picks one at query time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Display {
    pub id: String,
    pub kind: Kind,
    pub url: String,
    pub source: String,
    pub default_locale: String,
    pub title: LocalizedText,
    #[serde(default, skip_serializing_if = "LocalizedText::is_empty")]
    pub summary: LocalizedText,
    #[serde(default, skip_serializing_if = "LocalizedText::is_empty")]
    pub description: LocalizedText,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comune: Option<String>,
    #[serde(default, skip_serializing_if = "LocalizedText::is_empty")]
    pub scope_name: LocalizedText,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub themes: Vec<String>,
    /// Exact times, where the source gives them (meetings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<DateTime<FixedOffset>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<DateTime<FixedOffset>>,
    /// The space the record belongs to (a meeting's process), as a card names it.
    #[serde(default, skip_serializing_if = "LocalizedText::is_empty")]
    pub parent_title: LocalizedText,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_url: Option<String>,
    /// Ids of the same thing on other sources (the record is the canonical one of its group).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub same_as: Vec<String>,
}

/// Whether the record is the one result of its group of duplicates: no record it is the same as
/// has a smaller id. The others are not searchable, so search shows each thing once.
pub fn is_canonical(r: &Record) -> bool {
    let id = r.id.to_string();
    !r.same_as.iter().any(|other| *other < id)
}

/// A date as a day number for the fast fields.
pub fn day(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce())
}

/// Start day with the "already started" sentinel.
pub fn start_day(d: Option<NaiveDate>) -> i64 {
    d.map_or(i64::MIN, day)
}

/// End day with the "still running" sentinel.
pub fn end_day(d: Option<NaiveDate>) -> i64 {
    d.map_or(i64::MAX, day)
}

/// FNV-1a of the id: stable across processes and versions (unlike `DefaultHasher`).
pub fn id_hash(id: &str) -> u64 {
    struct Fnv(u64);
    impl Hasher for Fnv {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for b in bytes {
                self.0 ^= u64::from(*b);
                self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    h.write(id.as_bytes());
    h.finish()
}

/// The `place` term of the records that concern the whole country.
pub(crate) const NATIONAL_TERM: &str = "at:it";

/// The places a territory lies within, finest first, with their level, as `place` terms:
/// `c:{comune}`, `p:{province}`, `r:{region}`.
pub(crate) fn within_terms(t: &snodo_model::Territory) -> Vec<(&'static str, String)> {
    [
        ("comune", "c", &t.comune),
        ("province", "p", &t.province),
        ("region", "r", &t.region),
    ]
    .into_iter()
    .filter_map(|(level, prefix, code)| code.as_ref().map(|c| (level, format!("{prefix}:{c}"))))
    .collect()
}

/// The `place` terms of a territory (see [`Fields::place`]): every place it lies within, and
/// `at:` its finest one (or [`NATIONAL_TERM`]).
pub fn place_terms(t: &snodo_model::Territory) -> Vec<String> {
    let mut terms: Vec<String> = within_terms(t).into_iter().map(|(_, term)| term).collect();
    if let Some(finest) = terms.first() {
        terms.push(format!("at:{finest}"));
    } else if t.national {
        terms.push(NATIONAL_TERM.to_owned());
    }
    terms
}

/// The texts of a record that go to its body field (the title too, which also has its own).
pub(crate) fn body_texts(r: &Record) -> impl Iterator<Item = &LocalizedText> {
    [&r.title, &r.subtitle, &r.summary, &r.description].into_iter()
}

/// The names around a record given in a language: promoter, group, scope, topics.
pub(crate) fn name_texts(r: &Record) -> impl Iterator<Item = &LocalizedText> {
    [&r.promoter, &r.group, &r.territory.scope_name]
        .into_iter()
        .chain(&r.topics)
}

/// The display data stored with an index document.
pub(crate) fn display_of(f: &Fields, doc: &TantivyDocument) -> Result<Display, IndexError> {
    use tantivy::schema::document::Value;
    let json = doc
        .get_first(f.display)
        .and_then(|v| v.as_str())
        .ok_or_else(|| IndexError::Corrupt {
            message: "a document has no display data".into(),
        })?;
    serde_json::from_str(json).map_err(|e| IndexError::Corrupt {
        message: e.to_string(),
    })
}

/// The texts of about `n` of the index's live documents, spread evenly over it (a generation's
/// first records are often a few sources'): title, summary, description and scope, as stored
/// for display.
pub(crate) fn sample_texts(
    searcher: &tantivy::Searcher,
    f: &Fields,
    n: usize,
) -> Result<Vec<[LocalizedText; 4]>, IndexError> {
    let step = (searcher.num_docs() / n.max(1) as u64).max(1) as usize;
    let mut out = Vec::with_capacity(n);
    for (ord, reader) in searcher.segment_readers().iter().enumerate() {
        let alive = reader.alive_bitset();
        for doc in (0..reader.max_doc()).step_by(step) {
            if alive.is_some_and(|a| a.is_deleted(doc)) {
                continue;
            }
            let stored: TantivyDocument = searcher
                .doc(tantivy::DocAddress::new(ord as u32, doc))
                .map_err(crate::error::engine)?;
            let d = display_of(f, &stored)?;
            out.push([d.title, d.summary, d.description, d.scope_name]);
        }
    }
    Ok(out)
}

/// Builds the index document of a record, its texts analysed by `analyzers` (see
/// [`crate::analysed`]); with the generation's common words, its pair terms.
pub(crate) fn to_document(
    f: &Fields,
    r: &Record,
    analyzers: &mut Analyzers,
    pairs: Option<&PairWords>,
) -> Result<TantivyDocument, serde_json::Error> {
    let id = r.id.to_string();
    let mut doc = TantivyDocument::default();
    doc.add_text(f.id, &id);
    doc.add_text(f.kind, r.id.kind.as_str());
    doc.add_text(f.source, &r.id.source);
    if let Some(region) = &r.territory.region {
        doc.add_text(f.region, region);
    }
    if let Some(p) = &r.territory.province {
        doc.add_text(f.province, p);
    }
    if let Some(c) = &r.territory.comune {
        doc.add_text(f.comune, c);
    }
    for term in place_terms(&r.territory) {
        doc.add_text(f.place, term);
    }
    let methods = r.participation_methods();
    for m in &methods {
        doc.add_text(f.method, m);
    }
    let mut themes = 0u64;
    for t in &r.themes {
        if let Some(i) = snodo_model::topics::THEMES.iter().position(|x| x.code == t) {
            doc.add_text(f.topic, t);
            themes |= 1 << i;
        }
    }
    doc.add_u64(f.themes, themes);
    doc.add_i64(f.start_day, start_day(r.start_date));
    doc.add_i64(f.end_day, end_day(r.end_date));
    let published = r.published_at.map(|t| day(t.date_naive()));
    let newest = r.start_date.map(day).into_iter().chain(published).max();
    doc.add_i64(f.newest_day, newest.unwrap_or(i64::MIN));
    doc.add_u64(
        f.facets,
        crate::packed::pack(
            r.id.kind,
            r.territory.region.as_deref(),
            r.start_date,
            r.end_date,
            &methods,
        ),
    );
    doc.add_u64(f.tie, id_hash(&id));

    // Each text is analysed once, for its fields and its pairs alike. The title goes to the
    // title's field, and first to the body with the rest.
    let (mut title_pairs, mut body_pairs) = (Pairs::default(), Pairs::default());
    for (i, t) in body_texts(r).enumerate() {
        for (locale, s) in t.iter() {
            let g = LangGroup::of_locale(locale);
            let encoded = analyzers.encode(g, s);
            if let Some(words) = pairs {
                if i == 0 {
                    words.add(&mut title_pairs, &encoded);
                }
                words.add(&mut body_pairs, &encoded);
            }
            if i == 0 {
                doc.add_text(f.title.get(g), &encoded);
            }
            doc.add_text(f.body.get(g), encoded);
        }
    }
    // Names given in a language go to that language's field.
    for t in name_texts(r) {
        for (locale, s) in t.iter() {
            let g = LangGroup::of_locale(locale);
            let encoded = analyzers.encode(g, s);
            if let Some(words) = pairs {
                words.add(&mut body_pairs, &encoded);
            }
            doc.add_text(f.extra.get(g), encoded);
        }
    }
    // The pairs are pre-tokenized: their positions are their first words'.
    if pairs.is_some() {
        doc.add_pre_tokenized_text(f.pairs_title, title_pairs.into_field());
        doc.add_pre_tokenized_text(f.pairs_body, body_pairs.into_field());
    }

    // Names without a language (places, method codes) go to every language's field, so that
    // each analysis finds them.
    let mut everywhere: Vec<&str> = Vec::new();
    if let Some(name) = r
        .territory
        .region
        .as_deref()
        .and_then(snodo_model::territory::region_name)
    {
        everywhere.push(name);
    }
    if let Some(p) = r
        .territory
        .province
        .as_deref()
        .and_then(snodo_model::territory::province)
    {
        everywhere.push(p.name);
    }
    if let Some(c) = r
        .territory
        .comune
        .as_deref()
        .and_then(snodo_model::territory::comune)
    {
        everywhere.push(c.official);
    }
    everywhere.extend(r.methods.iter().map(String::as_str));
    for e in &everywhere {
        for g in LangGroup::ALL {
            doc.add_text(f.extra.get(g), analyzers.encode(g, e));
        }
    }
    let extra: Vec<&str> = name_texts(r)
        .flat_map(|t| t.iter().map(|(_, s)| s))
        .chain(everywhere.iter().copied())
        .collect();

    // The words of titles, summaries and names, for completing the word being typed (see
    // `Fields::words`).
    for t in [&r.title, &r.subtitle, &r.summary] {
        for (_, s) in t.iter() {
            doc.add_text(f.words, analyzers.encode(LangGroup::Other, s));
        }
    }
    for e in &extra {
        doc.add_text(f.words, analyzers.encode(LangGroup::Other, e));
    }

    let display = Display {
        id,
        kind: r.id.kind,
        url: r.url.clone(),
        source: r.id.source.clone(),
        default_locale: r.default_locale.clone(),
        title: r.title.clone(),
        summary: r.summary.clone(),
        description: r.description.clone(),
        start_date: r.start_date,
        end_date: r.end_date,
        region: r.territory.region.clone(),
        province: r.territory.province.clone(),
        comune: r.territory.comune.clone(),
        scope_name: r.territory.scope_name.clone(),
        image_url: r.image_url.clone(),
        methods: r.methods.clone(),
        themes: r.themes.clone(),
        same_as: r.same_as.clone(),
        start_time: r.start_time,
        end_time: r.end_time,
        parent_title: r
            .parent
            .as_ref()
            .map(|p| p.title.clone())
            .unwrap_or_default(),
        parent_url: r.parent.as_ref().map(|p| p.url.clone()),
    };
    doc.add_text(f.display, serde_json::to_string(&display)?);
    Ok(doc)
}
