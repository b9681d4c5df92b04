//! The record: one participatory space (or, later, a meeting or proposal) as Snodo stores and serves it.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::text::SafeHtml;

/// What kind of thing a record is. The string forms are part of the public API (`kind=` filter, ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Process,
    Assembly,
    Consultation,
    Conference,
    Initiative,
    Meeting,
    Proposal,
    Experience,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Process,
        Kind::Assembly,
        Kind::Consultation,
        Kind::Conference,
        Kind::Initiative,
        Kind::Meeting,
        Kind::Proposal,
        Kind::Experience,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Process => "process",
            Kind::Assembly => "assembly",
            Kind::Consultation => "consultation",
            Kind::Conference => "conference",
            Kind::Initiative => "initiative",
            Kind::Meeting => "meeting",
            Kind::Proposal => "proposal",
            Kind::Experience => "experience",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown kind `{0}`; expected one of: process, assembly, consultation, conference, initiative, meeting, proposal, experience")]
pub struct ParseKindError(pub String);

impl FromStr for Kind {
    type Err = ParseKindError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| ParseKindError(s.to_owned()))
    }
}

/// A record's identity: `(source id, kind, upstream id)`, rendered `"{source}:{kind}:{upstream_id}"`.
/// Never the upstream id alone: two platforms both have a process `12`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId {
    pub source: String,
    pub kind: Kind,
    pub upstream_id: String,
}

impl RecordId {
    pub fn new(source: impl Into<String>, kind: Kind, upstream_id: impl Into<String>) -> Self {
        RecordId {
            source: source.into(),
            kind,
            upstream_id: upstream_id.into(),
        }
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.source, self.kind, self.upstream_id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseRecordIdError {
    #[error("a record id has the form `source:kind:upstream_id`")]
    Shape,
    #[error("the source part of a record id must match [a-z0-9-]+")]
    Source,
    #[error(transparent)]
    Kind(#[from] ParseKindError),
}

impl FromStr for RecordId {
    type Err = ParseRecordIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // The upstream id may itself contain ':' (feed GUIDs are often URLs), so split twice only.
        let mut parts = s.splitn(3, ':');
        let (Some(source), Some(kind), Some(upstream)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(ParseRecordIdError::Shape);
        };
        if !is_valid_source_id(source) {
            return Err(ParseRecordIdError::Source);
        }
        if upstream.is_empty() {
            return Err(ParseRecordIdError::Shape);
        }
        Ok(RecordId::new(source, kind.parse()?, upstream))
    }
}

impl Serialize for RecordId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RecordId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Source ids are `[a-z0-9-]+`: they appear in record ids, URLs and metric labels.
pub fn is_valid_source_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Plain text in every locale the source offers (`"it"`, `"en"`, `"de"`…), keyed by locale.
/// Invariant (kept by [`LocalizedText::insert_plain`]): values carry no markup and no empty strings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LocalizedText(pub BTreeMap<String, String>);

impl LocalizedText {
    pub fn new() -> Self {
        Self::default()
    }

    /// A text in one locale, already plain (tags stripped, entities decoded).
    pub fn single(locale: &str, text: &str) -> Self {
        let mut t = Self::new();
        t.insert_plain(locale, text);
        t
    }

    /// Inserts `text` after turning it into plain text; empty results are dropped.
    pub fn insert_plain(&mut self, locale: &str, text: &str) {
        let plain = crate::text::plain_text(text);
        if !plain.is_empty() {
            self.0.insert(normalize_locale(locale), plain);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The text in `lang`, else in `default`, else Italian, else any: with the locale it is in.
    pub fn pick(&self, lang: Option<&str>, default: &str) -> Option<(&str, &str)> {
        lang.into_iter()
            .chain([default, "it", "en"])
            .find_map(|l| self.0.get_key_value(l))
            .or_else(|| self.0.iter().next())
            .map(|(l, t)| (l.as_str(), t.as_str()))
    }

    pub fn get(&self, locale: &str) -> Option<&str> {
        self.0.get(locale).map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(l, t)| (l.as_str(), t.as_str()))
    }
}

/// Sanitised HTML in every locale the source offers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LocalizedHtml(pub BTreeMap<String, SafeHtml>);

impl LocalizedHtml {
    /// Sanitises `html` and keeps it when anything visible is left.
    pub fn insert_sanitized(&mut self, locale: &str, html: &str) {
        let safe = SafeHtml::sanitize(html);
        if !safe.as_str().trim().is_empty() {
            self.0.insert(normalize_locale(locale), safe);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The plain-text rendering of every locale, for indexing and summaries.
    pub fn to_plain(&self) -> LocalizedText {
        let mut out = LocalizedText::new();
        for (l, h) in &self.0 {
            out.insert_plain(l, h.as_str());
        }
        out
    }
}

/// Locales are ISO 639-1 codes, lower case; Decidim sometimes sends `pt-BR` or `IT`.
pub fn normalize_locale(locale: &str) -> String {
    let l = locale.trim().replace('_', "-");
    match l.split_once('-') {
        Some((lang, region)) => format!(
            "{}-{}",
            lang.to_ascii_lowercase(),
            region.to_ascii_uppercase()
        ),
        None => l.to_ascii_lowercase(),
    }
}

/// A phase of a process (Decidim's steps). Dates are days in Italian local time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phase {
    pub title: LocalizedText,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<NaiveDate>,
    #[serde(default)]
    pub active: bool,
}

/// Where a record applies. ISTAT codes where known, plus the source's own scope name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Territory {
    /// 2-digit ISTAT region code (`"16"` = Puglia).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// 3-digit ISTAT code of the province or metropolitan city (`codice_uts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
    /// 6-digit ISTAT comune code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comune: Option<String>,
    /// The scope as the source names it (Decidim scope or taxonomy), in its locales.
    #[serde(default, skip_serializing_if = "LocalizedText::is_empty")]
    pub scope_name: LocalizedText,
    /// True when the whole country is meant (national processes).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub national: bool,
}

/// Activity counts. `None` means "not known" (the source does not expose it), not zero.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposals: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meetings: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debates: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surveys: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budgets: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participants: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub followers: Option<u64>,
}

/// One normalised record. Holds no personal data: never authors' names, nicknames or avatars.
///
/// Harvest bookkeeping (first seen, last seen, content hash, gone) lives in the store, not here:
/// a connector produces this, and two harvests of unchanged upstream data produce equal values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub id: RecordId,
    /// The canonical public page on the source platform.
    pub url: String,
    /// The locale to fall back to when the asked one is missing.
    pub default_locale: String,
    pub title: LocalizedText,
    #[serde(default, skip_serializing_if = "LocalizedText::is_empty")]
    pub subtitle: LocalizedText,
    /// Plain-text summary, for result cards and indexing.
    #[serde(default, skip_serializing_if = "LocalizedText::is_empty")]
    pub summary: LocalizedText,
    /// Plain-text description, for indexing and snippets.
    #[serde(default, skip_serializing_if = "LocalizedText::is_empty")]
    pub description: LocalizedText,
    /// Sanitised rich-text description, safe to render.
    #[serde(default, skip_serializing_if = "LocalizedHtml::is_empty")]
    pub description_html: LocalizedHtml,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<Phase>,
    #[serde(default)]
    pub territory: Territory,
    /// The promoting organisation (the platform's organisation or the space's promoter).
    #[serde(default, skip_serializing_if = "LocalizedText::is_empty")]
    pub promoter: LocalizedText,
    /// A group the space belongs to (Decidim process group, parent assembly).
    #[serde(default, skip_serializing_if = "LocalizedText::is_empty")]
    pub group: LocalizedText,
    /// Topics: Decidim areas, categories, taxonomies, feed categories.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<LocalizedText>,
    /// How people take part: `proposals`, `meetings`, `surveys`, `budgets`, `debates`, `blogs`,
    /// `pages`, `accountability`, `sortitions`… (from component types), sorted and unique.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    /// National topics ([`crate::topics::THEMES`] codes), from `topics` (or the title) by the
    /// harvester's rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub themes: Vec<String>,
    #[serde(default)]
    pub activity: Activity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// Ids of records on other sources that describe the same thing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub same_as: Vec<String>,
    /// Exact start time, where the source gives one (meetings), in Italian local time with its
    /// offset. `start_date` still holds the day, so date filters and status work unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<DateTime<FixedOffset>>,
    /// Exact end time, where the source gives one (meetings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<DateTime<FixedOffset>>,
    /// Where and how a meeting takes place (meetings only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting: Option<MeetingDetails>,
    /// The space a record belongs to (a meeting's process or assembly), so a calendar entry or a
    /// card can say which one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentRef>,
}

/// How people attend a meeting, as Decidim's `typeOfMeeting` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeetingMode {
    InPerson,
    Online,
    Hybrid,
}

impl MeetingMode {
    /// Decidim's values (`in_person`, `online`, `hybrid`); anything else is unknown.
    pub fn from_decidim(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "in_person" | "in-person" | "inperson" => Some(MeetingMode::InPerson),
            "online" => Some(MeetingMode::Online),
            "hybrid" => Some(MeetingMode::Hybrid),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MeetingMode::InPerson => "in_person",
            MeetingMode::Online => "online",
            MeetingMode::Hybrid => "hybrid",
        }
    }
}

/// A meeting's public venue. A venue is not personal data; organisers and attendees are never
/// kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<MeetingMode>,
    /// The street address, plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The venue's name or description, plain text per locale.
    #[serde(default, skip_serializing_if = "LocalizedText::is_empty")]
    pub location: LocalizedText,
}

/// A reference to the record of the space something belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentRef {
    pub id: RecordId,
    #[serde(default, skip_serializing_if = "LocalizedText::is_empty")]
    pub title: LocalizedText,
    pub url: String,
}

/// The ways of taking part a citizen can filter by (`method=`), from component types and kinds.
pub const METHODS: [&str; 6] = [
    "proposals",
    "budgets",
    "surveys",
    "meetings",
    "debates",
    "consultation",
];

impl Record {
    /// How a citizen takes part here, among [`METHODS`]: the components it has, and what its
    /// kind is (a consultation is one; a meeting is attended).
    pub fn participation_methods(&self) -> Vec<&'static str> {
        METHODS
            .iter()
            .copied()
            .filter(|m| {
                self.methods.iter().any(|x| x == m)
                    || (*m == "consultation" && self.id.kind == Kind::Consultation)
                    || (*m == "meetings" && self.id.kind == Kind::Meeting)
            })
            .collect()
    }

    /// A record with only its identity, URL and title; connectors fill in the rest.
    pub fn new(
        id: RecordId,
        url: impl Into<String>,
        default_locale: &str,
        title: LocalizedText,
    ) -> Self {
        Record {
            id,
            url: url.into(),
            default_locale: normalize_locale(default_locale),
            title,
            subtitle: LocalizedText::new(),
            summary: LocalizedText::new(),
            description: LocalizedText::new(),
            description_html: LocalizedHtml::default(),
            start_date: None,
            end_date: None,
            published_at: None,
            updated_at: None,
            phases: Vec::new(),
            territory: Territory::default(),
            promoter: LocalizedText::new(),
            group: LocalizedText::new(),
            topics: Vec::new(),
            methods: Vec::new(),
            themes: Vec::new(),
            activity: Activity::default(),
            image_url: None,
            same_as: Vec::new(),
            start_time: None,
            end_time: None,
            meeting: None,
            parent: None,
        }
    }

    /// The currently active phase, if the source marks one.
    pub fn active_phase(&self) -> Option<&Phase> {
        self.phases.iter().find(|p| p.active)
    }

    /// Hex SHA-256 of the canonical JSON form. Equal records hash equal (maps are ordered), so the
    /// store can skip rewriting and re-indexing records that did not change upstream.
    pub fn content_hash(&self) -> String {
        let json = serde_json::to_vec(self).expect("a Record always serialises to JSON");
        Self::hash_of_json(&json)
    }

    /// [`Record::content_hash`] of a record already serialised with `serde_json` (the store
    /// serialises each record once, for its row and its hash).
    pub fn hash_of_json(json: &[u8]) -> String {
        hex::encode(Sha256::digest(json))
    }

    /// Every locale any text of the record is available in.
    pub fn locales(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .title
            .0
            .keys()
            .chain(self.summary.0.keys())
            .chain(self.description.0.keys())
            .cloned()
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Checks the invariants a connector must keep; the harvester rejects records that fail.
    pub fn validate(&self) -> Result<(), String> {
        if !is_valid_source_id(&self.id.source) {
            return Err(format!("record {}: invalid source id", self.id));
        }
        if self.id.upstream_id.trim().is_empty() {
            return Err(format!("record {}: empty upstream id", self.id));
        }
        if self.title.is_empty() {
            return Err(format!("record {}: no title in any locale", self.id));
        }
        if !(self.url.starts_with("https://") || self.url.starts_with("http://")) {
            return Err(format!(
                "record {}: url `{}` is not http(s)",
                self.id, self.url
            ));
        }
        if let (Some(s), Some(e)) = (self.start_date, self.end_date) {
            if e < s {
                return Err(format!(
                    "record {}: end date {e} before start date {s}",
                    self.id
                ));
            }
        }
        if let (Some(s), Some(e)) = (self.start_time, self.end_time) {
            if e < s {
                return Err(format!(
                    "record {}: end time {e} before start time {s}",
                    self.id
                ));
            }
        }
        if let Some(p) = &self.parent {
            if !(p.url.starts_with("https://") || p.url.starts_with("http://")) {
                return Err(format!(
                    "record {}: parent url `{}` is not http(s)",
                    self.id, p.url
                ));
            }
        }
        if let Some(r) = &self.territory.region {
            if crate::territory::region_name(r).is_none() {
                return Err(format!(
                    "record {}: unknown ISTAT region code `{r}`",
                    self.id
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_id_round_trips_and_keeps_colons_in_upstream_id() {
        let id: RecordId = "feed-gov:consultation:https://x.it/a".parse().unwrap();
        assert_eq!(id.source, "feed-gov");
        assert_eq!(id.kind, Kind::Consultation);
        assert_eq!(id.upstream_id, "https://x.it/a");
        assert_eq!(id.to_string(), "feed-gov:consultation:https://x.it/a");
    }

    #[test]
    fn record_id_rejects_bad_shapes() {
        assert_eq!("abc".parse::<RecordId>(), Err(ParseRecordIdError::Shape));
        assert_eq!(
            "Abc:process:1".parse::<RecordId>(),
            Err(ParseRecordIdError::Source)
        );
        assert!(matches!(
            "a:thing:1".parse::<RecordId>(),
            Err(ParseRecordIdError::Kind(_))
        ));
        assert_eq!(
            "a:process:".parse::<RecordId>(),
            Err(ParseRecordIdError::Shape)
        );
    }

    #[test]
    fn pick_falls_back_to_default_then_italian_then_any() {
        let mut t = LocalizedText::new();
        t.insert_plain("en", "Budget");
        t.insert_plain("it", "Bilancio");
        assert_eq!(t.pick(Some("en"), "it"), Some(("en", "Budget")));
        assert_eq!(t.pick(Some("fr"), "it"), Some(("it", "Bilancio")));
        assert_eq!(t.pick(None, "de"), Some(("it", "Bilancio")));
        let only_ca = LocalizedText::single("ca", "Pressupost");
        assert_eq!(only_ca.pick(Some("it"), "it"), Some(("ca", "Pressupost")));
    }

    #[test]
    fn localized_text_strips_markup_and_drops_empty() {
        let mut t = LocalizedText::new();
        t.insert_plain("IT", "<b>Ciao</b> <script>alert(1)</script>mondo");
        t.insert_plain("en", "<p> </p>");
        assert_eq!(t.get("it"), Some("Ciao mondo"));
        assert_eq!(t.get("en"), None);
    }

    #[test]
    fn content_hash_is_stable_and_sensitive() {
        let r = Record::new(
            RecordId::new("p", Kind::Process, "1"),
            "https://x.it/processes/a",
            "it",
            LocalizedText::single("it", "A"),
        );
        let mut r2 = r.clone();
        assert_eq!(r.content_hash(), r2.content_hash());
        r2.title.insert_plain("en", "B");
        assert_ne!(r.content_hash(), r2.content_hash());
    }

    #[test]
    fn validate_catches_broken_records() {
        let mut r = Record::new(
            RecordId::new("p", Kind::Process, "1"),
            "javascript:alert(1)",
            "it",
            LocalizedText::single("it", "A"),
        );
        assert!(r.validate().unwrap_err().contains("not http"));
        r.url = "https://x.it".into();
        r.territory.region = Some("99".into());
        assert!(r.validate().unwrap_err().contains("region"));
        r.territory.region = Some("16".into());
        assert!(r.validate().is_ok());
    }

    #[test]
    fn meeting_fields_are_additive_and_checked() {
        let r = Record::new(
            RecordId::new("p", Kind::Process, "1"),
            "https://x.it/processes/a",
            "it",
            LocalizedText::single("it", "A"),
        );
        // Records without the new fields serialise (and so hash) exactly as before.
        let json = serde_json::to_string(&r).unwrap();
        for key in ["start_time", "end_time", "meeting", "parent"] {
            assert!(!json.contains(key), "{json}");
        }
        let mut m = r.clone();
        m.id = RecordId::new("p", Kind::Meeting, "9");
        m.start_time = DateTime::parse_from_rfc3339("2029-01-15T10:00:00+01:00").ok();
        m.end_time = DateTime::parse_from_rfc3339("2029-01-15T09:00:00+01:00").ok();
        assert!(m.validate().unwrap_err().contains("end time"));
        m.end_time = DateTime::parse_from_rfc3339("2029-01-15T13:00:00+01:00").ok();
        m.meeting = Some(MeetingDetails {
            mode: MeetingMode::from_decidim("in_person"),
            address: Some("Via Roma 1".into()),
            location: LocalizedText::single("it", "Sala"),
        });
        m.parent = Some(ParentRef {
            id: r.id.clone(),
            title: r.title.clone(),
            url: r.url.clone(),
        });
        m.validate().unwrap();
        let back: Record = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["start_time"], "2029-01-15T10:00:00+01:00");
        assert_eq!(v["meeting"]["mode"], "in_person");
        assert_eq!(v["parent"]["id"], "p:process:1");
        assert_eq!(
            MeetingMode::from_decidim("HYBRID"),
            Some(MeetingMode::Hybrid)
        );
        assert_eq!(MeetingMode::from_decidim("elsewhere"), None);
    }

    #[test]
    fn locale_normalisation() {
        assert_eq!(normalize_locale("IT"), "it");
        assert_eq!(normalize_locale("pt_br"), "pt-BR");
    }
}
