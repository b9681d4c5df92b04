//! From Decidim's shapes to Snodo's [`Record`]: visibility rules, safe text in every locale,
//! dates in Italian local time, territory from scopes or taxonomies, methods from component types,
//! activity from statistics. Pure functions, no I/O: everything here is unit-tested from JSON.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Europe::Rome;
use snodo_model::record::normalize_locale;
use snodo_model::territory::match_name;
use snodo_model::text::{fold_for_matching, truncate_words};
use snodo_model::{
    Activity, Kind, LocalizedHtml, LocalizedText, Phase, Record, RecordId, Territory,
};
use url::Url;

use crate::wire::{id_string, Meeting, Space, Stat, Translated};

/// What a summary falls back to when a space has no short description: the description's start.
const SUMMARY_FALLBACK_CHARS: usize = 300;

/// Parses Decidim's `DateTime` (ISO 8601 with offset), and the forms older instances and Ruby's
/// `Time#to_s` produce; a time without offset is taken as Italian local time.
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S %z",
        "%Y-%m-%dT%H:%M:%S%z",
        "%Y-%m-%d %H:%M:%S%z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(s, fmt) {
            return Rome
                .from_local_datetime(&naive)
                .earliest()
                .map(|t| t.with_timezone(&Utc));
        }
    }
    let day = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Rome.from_local_datetime(&day.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// A day from a `Date` ("2024-01-31") or a `DateTime` ("2024-01-31T23:30:00Z"), the latter taken
/// in Europe/Rome (so that instant is 1 February).
pub fn parse_day(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(d);
    }
    parse_datetime(s).map(|t| t.with_timezone(&Rome).date_naive())
}

/// Whether a listed space may be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    Public,
    /// A private assembly that is not transparent: never stored.
    Private,
    /// No publication time, or one in the future: never stored.
    Unpublished,
}

/// Decides visibility. Anonymous API callers should only ever see public, published spaces; a
/// misconfigured instance may still send others, and those must not be stored. An assembly that
/// does not say whether it is private counts as private (when in doubt, leave it out).
pub fn visibility(kind: Kind, space: &Space, now: DateTime<Utc>) -> Result<Visibility, String> {
    if kind == Kind::Assembly
        && space.private_space != Some(false)
        && space.is_transparent != Some(true)
    {
        return Ok(Visibility::Private);
    }
    match space.published_at.as_deref().map(str::trim) {
        None | Some("") => Ok(Visibility::Unpublished),
        Some(raw) => match parse_datetime(raw) {
            Some(t) if t <= now => Ok(Visibility::Public),
            Some(_) => Ok(Visibility::Unpublished),
            None => Err(format!(
                "publishedAt `{}` is not a date",
                truncate_words(raw, 40)
            )),
        },
    }
}

/// What every record of one source shares.
pub struct SourceContext<'a> {
    pub source_id: &'a str,
    /// The platform's base URL, without a trailing slash.
    pub base: &'a str,
    pub territory: &'a Territory,
    pub promoter: &'a LocalizedText,
    /// Locales to keep (normalised), or every locale the source returns.
    pub locales: Option<&'a [String]>,
    /// The locale records fall back to, chosen over the whole source (see [`source_locale`]).
    pub default_locale: &'a str,
    /// Root taxonomies (folded names) that hold places, learnt over the whole source (see
    /// [`territorial_roots`]).
    pub territorial_roots: &'a BTreeSet<String>,
}

impl SourceContext<'_> {
    fn keeps(&self, locale: &str) -> bool {
        self.locales
            .is_none_or(|ls| ls.iter().any(|l| *l == normalize_locale(locale)))
    }

    fn plain(&self, t: Option<&Translated>) -> LocalizedText {
        let mut out = LocalizedText::new();
        for (l, x) in t.into_iter().flat_map(Translated::pairs) {
            if self.keeps(l) {
                out.insert_plain(l, x);
            }
        }
        out
    }

    fn html(&self, t: Option<&Translated>) -> LocalizedHtml {
        let mut out = LocalizedHtml::default();
        for (l, x) in t.into_iter().flat_map(Translated::pairs) {
            if self.keeps(l) {
                out.insert_sanitized(l, x);
            }
        }
        out
    }
}

/// The source's default locale: Italian when any title has it, else the most frequent one.
pub fn source_locale<'a>(titles: impl IntoIterator<Item = &'a Translated>) -> String {
    let mut freq: BTreeMap<String, usize> = BTreeMap::new();
    for t in titles {
        let locales: BTreeSet<String> = t.pairs().map(|(l, _)| normalize_locale(l)).collect();
        for l in locales {
            *freq.entry(l).or_default() += 1;
        }
    }
    if freq.contains_key("it") || freq.is_empty() {
        return "it".to_owned();
    }
    // Most frequent; ties go to the alphabetically first (BTreeMap order, `max_by` keeps the last).
    freq.iter()
        .rev()
        .max_by_key(|(_, n)| **n)
        .map(|(l, _)| l.clone())
        .unwrap_or_else(|| "it".to_owned())
}

/// Decidim slugs are `[a-zA-Z][a-zA-Z0-9-]+`; anything else would make an unsafe or wrong URL.
fn is_safe_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_safe_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An image URL made absolute against the platform (0.26/0.27 send `/uploads/…`, 0.28 on a full
/// URL); only http(s) survives.
pub fn absolute_image(base: &str, raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let base = Url::parse(&format!("{base}/")).ok()?;
    let url = base.join(raw).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.to_string())
}

/// Participation methods from component `__typename`s: `Proposals` → `proposals`, …; sorted,
/// unique. The generic `Component` type (an unknown module) says nothing and is left out.
pub fn methods(space: &Space) -> Vec<String> {
    let set: BTreeSet<String> = space
        .components
        .iter()
        .flatten()
        .flatten()
        .filter_map(|c| c.typename.as_deref())
        .map(str::trim)
        .filter(|t| {
            !t.is_empty()
                && *t != "Component"
                && t.len() <= 40
                && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
        .map(str::to_ascii_lowercase)
        .collect();
    set.into_iter().collect()
}

/// Activity from Decidim's `stats` (names registered by each component module). The same name
/// can come once per module (`followers_count`, `comments_count`): values are added up.
pub fn activity_from_stats(stats: &[Option<Stat>]) -> Activity {
    let mut a = Activity::default();
    for s in stats.iter().flatten() {
        let (Some(name), Some(v)) = (
            s.name.as_deref(),
            crate::wire::count_value(s.value.as_ref()),
        ) else {
            continue;
        };
        let slot = match name.trim() {
            "proposals_count" => &mut a.proposals,
            "meetings_count" => &mut a.meetings,
            "debates_count" => &mut a.debates,
            "surveys_count" => &mut a.surveys,
            "budgets_count" => &mut a.budgets,
            "comments_count" => &mut a.comments,
            "participants_count" => &mut a.participants,
            "followers_count" => &mut a.followers,
            _ => continue,
        };
        *slot = Some(slot.unwrap_or(0).saturating_add(v));
    }
    a
}

/// Territory: the source's default, replaced by what a scope or territorial taxonomy names when
/// that matches an ISTAT name (homonym comuni resolved within the source's region). The scope's
/// own name is always kept. Returns the taxonomies that were not territorial, as topics.
fn territory(src: &SourceContext, space: &Space) -> (Territory, Vec<LocalizedText>) {
    let mut t = src.territory.clone();
    let mut topics = Vec::new();
    let within = src.territory.region.as_deref();
    let matches = |name: &LocalizedText| -> Option<Territory> {
        let mut texts: Vec<&str> = Vec::new();
        texts.extend(name.get(src.default_locale));
        texts.extend(name.get("it"));
        texts.extend(name.iter().map(|(_, x)| x));
        texts.into_iter().find_map(|x| match_name(x, within))
    };
    let mut scope_name = LocalizedText::new();
    let mut matched: Option<Territory> = None;
    if let Some(scope) = &space.scope {
        scope_name = src.plain(scope.name.as_ref());
        matched = matches(&scope_name);
    }
    for tax in space.taxonomies.iter().flatten().flatten() {
        let name = src.plain(tax.name.as_ref());
        if name.is_empty() {
            continue;
        }
        let parent = tax
            .parent
            .as_ref()
            .map(|p| src.plain(p.name.as_ref()))
            .unwrap_or_default();
        let found = matches(&name);
        let territorial = found.is_some()
            || looks_territorial(&parent)
            || parent
                .iter()
                .any(|(_, x)| src.territorial_roots.contains(&fold_for_matching(x)));
        if territorial && scope_name.is_empty() {
            scope_name = name;
            matched = found;
        } else if !territorial {
            topics.push(name);
        }
    }
    if let Some(m) = matched {
        t = m;
    }
    t.scope_name = scope_name;
    (t, topics)
}

/// Whether a root taxonomy's name says it holds places (Decidim 0.30 migrates scopes into one).
fn looks_territorial(root: &LocalizedText) -> bool {
    root.iter().any(|(_, x)| {
        let f = fold_for_matching(x);
        [
            "scope",
            "ambit",
            "territor",
            "quartier",
            "zon",
            "comun",
            "circoscrizion",
            "municipi",
            "enti local",
        ]
        .iter()
        .any(|w| f.contains(w))
    })
}

/// Root taxonomies under which some taxonomy of the source names an ISTAT place: their other
/// children ("Unione dei comuni della Bassa Romagna" beside "Comune di Bologna") are places too.
pub fn territorial_roots<'a>(
    spaces: impl IntoIterator<Item = &'a Space>,
    within: Option<&str>,
) -> BTreeSet<String> {
    let mut roots = BTreeSet::new();
    for space in spaces {
        for tax in space.taxonomies.iter().flatten().flatten() {
            let Some(parent) = tax.parent.as_ref().and_then(|p| p.name.as_ref()) else {
                continue;
            };
            let is_place = tax
                .name
                .iter()
                .flat_map(Translated::pairs)
                .any(|(_, x)| match_name(x, within).is_some());
            if is_place {
                roots.extend(parent.pairs().map(|(_, x)| fold_for_matching(x)));
            }
        }
    }
    roots
}

/// Builds the record of one visible space. `activity` already holds statistics and counts.
/// Problems that only lose a detail are pushed to `warnings`; an `Err` skips the space.
pub fn build_record(
    src: &SourceContext,
    kind: Kind,
    space: &Space,
    activity: Activity,
    warnings: &mut Vec<String>,
) -> Result<Record, String> {
    let id = id_string(space.id.as_ref()).ok_or("no id")?;
    if !is_safe_id(&id) {
        return Err(format!(
            "id `{}` is not a Decidim id",
            truncate_words(&id, 40)
        ));
    }
    let label = format!("{kind} {id}");
    let slug = space.slug.as_deref().map(str::trim).unwrap_or_default();
    if !is_safe_slug(slug) {
        return Err(format!(
            "{label}: slug `{}` cannot make a public URL",
            truncate_words(slug, 40)
        ));
    }
    let path = match kind {
        Kind::Assembly => "assemblies",
        _ => "processes",
    };
    let mut title = src.plain(space.title.as_ref());
    if title.is_empty() && src.locales.is_some() {
        // Better a title in another locale than losing the space to the locale filter.
        let all = SourceContext {
            locales: None,
            ..*src
        };
        title = all.plain(space.title.as_ref());
    }
    let default_locale = if title.get(src.default_locale).is_some() {
        src.default_locale.to_owned()
    } else {
        title
            .iter()
            .next()
            .map(|(l, _)| l.to_owned())
            .unwrap_or_else(|| src.default_locale.to_owned())
    };
    let mut r = Record::new(
        RecordId::new(src.source_id, kind, id.clone()),
        format!("{}/{path}/{slug}", src.base),
        &default_locale,
        title,
    );
    r.subtitle = src.plain(space.subtitle.as_ref());
    r.description_html = src.html(space.description.as_ref());
    r.description = src.plain(space.description.as_ref());
    r.summary = src.plain(space.short_description.as_ref());
    if r.summary.is_empty() {
        for (l, x) in r.description.iter() {
            let short = truncate_words(x, SUMMARY_FALLBACK_CHARS);
            r.summary.insert_plain(l, &short);
        }
    }
    r.start_date = space.start_date.as_deref().and_then(parse_day);
    r.end_date = space.end_date.as_deref().and_then(parse_day);
    if let (Some(s), Some(e)) = (r.start_date, r.end_date) {
        if e < s {
            warnings.push(format!(
                "{label}: end date {e} is before start date {s}; the end date was dropped"
            ));
            r.end_date = None;
        }
    }
    r.published_at = space.published_at.as_deref().and_then(parse_datetime);
    r.updated_at = space.updated_at.as_deref().and_then(parse_datetime);

    let mut steps: Vec<(i64, Phase)> = space
        .steps
        .iter()
        .flatten()
        .flatten()
        .enumerate()
        .map(|(i, s)| {
            let position = s
                .position
                .as_ref()
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(i64::MAX / 2 + i as i64);
            let phase = Phase {
                title: src.plain(s.title.as_ref()),
                start_date: s.start_date.as_deref().and_then(parse_day),
                end_date: s.end_date.as_deref().and_then(parse_day),
                active: s.active == Some(true),
            };
            (position, phase)
        })
        .collect();
    steps.sort_by_key(|(p, _)| *p);
    r.phases = steps.into_iter().map(|(_, p)| p).collect();

    let (territory, mut topics) = territory(src, space);
    r.territory = territory;
    r.promoter = src.promoter.clone();
    r.group = match kind {
        Kind::Assembly => src.plain(space.parent.as_ref().and_then(|p| p.title.as_ref())),
        _ => src.plain(
            space
                .participatory_process_group
                .as_ref()
                .and_then(|g| g.title.as_ref()),
        ),
    };
    let mut all_topics: Vec<LocalizedText> = Vec::new();
    all_topics.extend(space.area.as_ref().map(|a| src.plain(a.name.as_ref())));
    all_topics.extend(
        space
            .categories
            .iter()
            .flatten()
            .flatten()
            .map(|c| src.plain(c.name.as_ref())),
    );
    all_topics.append(&mut topics);
    for t in all_topics {
        if !t.is_empty() && !r.topics.contains(&t) {
            r.topics.push(t);
        }
    }
    r.methods = methods(space);
    r.activity = activity;
    r.image_url = space
        .hero_image
        .as_deref()
        .and_then(|raw| absolute_image(src.base, raw));
    r.validate()?;
    Ok(r)
}

/// Longest street address kept (characters); longer ones are cut at a word.
const ADDRESS_CHARS: usize = 300;

/// Whether a listed meeting may be stored, as far as the schema tells: withdrawn meetings and
/// private meetings that are not transparent never are (an instance that does not say whether
/// a meeting is private is trusted to list public ones only, as Decidim does anonymously).
pub fn meeting_is_public(m: &Meeting) -> Result<(), &'static str> {
    if m.is_withdrawn == Some(true) {
        return Err("withdrawn");
    }
    if m.private_meeting == Some(true) && m.transparent != Some(true) {
        return Err("private");
    }
    Ok(())
}

/// An instant as Italian local time with its offset, as records keep meeting times.
fn rome_time(raw: Option<&str>) -> Option<DateTime<chrono::FixedOffset>> {
    raw.and_then(parse_datetime)
        .map(|t| t.with_timezone(&Rome).fixed_offset())
}

/// Builds the record of one public meeting of the space whose record is `parent`, read from
/// Meetings component `component`. The meeting inherits the space's territory and promoter and
/// points back to it; its URL is Decidim's public route
/// `{space url}/f/{component}/meetings/{id}`. `Ok(None)` for a meeting that must not be stored.
pub fn build_meeting(
    src: &SourceContext,
    parent: &Record,
    component: &str,
    m: &Meeting,
    warnings: &mut Vec<String>,
) -> Result<Option<Record>, String> {
    if meeting_is_public(m).is_err() {
        return Ok(None);
    }
    let id = id_string(m.id.as_ref()).ok_or("a meeting has no id")?;
    if !is_safe_id(&id) || !is_safe_id(component) {
        return Err(format!(
            "meeting `{}` of component `{}` has no Decidim id",
            truncate_words(&id, 40),
            truncate_words(component, 40)
        ));
    }
    let label = format!("meeting {id}");
    let mut title = src.plain(m.title.as_ref());
    if title.is_empty() && src.locales.is_some() {
        let all = SourceContext {
            locales: None,
            ..*src
        };
        title = all.plain(m.title.as_ref());
    }
    let default_locale = if title.get(&parent.default_locale).is_some() {
        parent.default_locale.clone()
    } else {
        title
            .iter()
            .next()
            .map(|(l, _)| l.to_owned())
            .unwrap_or_else(|| parent.default_locale.clone())
    };
    let mut r = Record::new(
        RecordId::new(src.source_id, Kind::Meeting, id.clone()),
        format!("{}/f/{component}/meetings/{id}", parent.url),
        &default_locale,
        title,
    );
    r.description_html = src.html(m.description.as_ref());
    r.description = src.plain(m.description.as_ref());
    for (l, x) in r.description.iter() {
        let short = truncate_words(x, SUMMARY_FALLBACK_CHARS);
        r.summary.insert_plain(l, &short);
    }
    r.start_time = rome_time(m.start_time.as_deref());
    r.end_time = rome_time(m.end_time.as_deref());
    if let (Some(s), Some(e)) = (r.start_time, r.end_time) {
        if e < s {
            warnings.push(format!(
                "{label}: end time {e} is before start time {s}; the end time was dropped"
            ));
            r.end_time = None;
        }
    }
    if r.start_time.is_none()
        && m.start_time
            .as_deref()
            .is_some_and(|t| !t.trim().is_empty())
    {
        warnings.push(format!("{label}: start time is not a date; left out"));
    }
    r.start_date = r.start_time.map(|t| t.date_naive());
    r.end_date = r.end_time.map(|t| t.date_naive());
    r.updated_at = m.updated_at.as_deref().and_then(parse_datetime);
    let address = m
        .address
        .as_deref()
        .map(snodo_model::text::plain_text)
        .map(|a| truncate_words(&a, ADDRESS_CHARS))
        .filter(|a| !a.is_empty());
    r.meeting = Some(snodo_model::MeetingDetails {
        mode: m
            .type_of_meeting
            .as_deref()
            .and_then(snodo_model::MeetingMode::from_decidim),
        address,
        location: src.plain(m.location.as_ref()),
    });
    r.parent = Some(snodo_model::ParentRef {
        id: parent.id.clone(),
        title: parent.title.clone(),
        url: parent.url.clone(),
    });
    r.territory = meeting_place(parent, r.meeting.as_ref());
    r.promoter = parent.promoter.clone();
    r.validate()?;
    Ok(Some(r))
}

/// Where a meeting is: the comune its address (or its venue's name) gives, when that lies within
/// its space's territory, else the space's territory.
fn meeting_place(parent: &Record, details: Option<&snodo_model::MeetingDetails>) -> Territory {
    let within = &parent.territory;
    details
        .into_iter()
        .flat_map(|d| {
            d.address
                .as_deref()
                .into_iter()
                .chain(d.location.iter().map(|(_, x)| x))
        })
        .find_map(|text| snodo_model::territory::match_address(text, within))
        .filter(|t| t.comune.is_some() && t.comune != within.comune)
        .unwrap_or_else(|| within.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn space(v: serde_json::Value) -> Space {
        serde_json::from_value(v).unwrap()
    }

    fn tr(pairs: &[(&str, &str)]) -> serde_json::Value {
        json!({"translations": pairs.iter().map(|(l, t)| json!({"locale": l, "text": t})).collect::<Vec<_>>()})
    }

    static NO_ROOTS: BTreeSet<String> = BTreeSet::new();

    fn ctx<'a>(territory: &'a Territory, promoter: &'a LocalizedText) -> SourceContext<'a> {
        SourceContext {
            territorial_roots: &NO_ROOTS,
            source_id: "er",
            base: "https://partecipazioni.emr.it",
            territory,
            promoter,
            locales: None,
            default_locale: "it",
        }
    }

    #[test]
    fn dates_and_datetimes_become_days_in_rome() {
        let d = |s| parse_day(s).map(|d| d.to_string());
        assert_eq!(d("2024-01-31").as_deref(), Some("2024-01-31"));
        assert_eq!(
            d("2024-01-31T00:00:00+01:00").as_deref(),
            Some("2024-01-31")
        );
        // 23:30 UTC is already the next day in Rome.
        assert_eq!(d("2024-01-31T23:30:00Z").as_deref(), Some("2024-02-01"));
        assert_eq!(d("2024-07-31T10:00:00Z").as_deref(), Some("2024-07-31"));
        assert_eq!(
            d("2024-01-31 10:00:00 +0100").as_deref(),
            Some("2024-01-31")
        );
        assert_eq!(d("2024-01-31T10:00:00").as_deref(), Some("2024-01-31"));
        assert_eq!(d("domani"), None);
        assert_eq!(
            parse_datetime("2024-03-01T12:00:00+01:00").map(|t| t.to_rfc3339()),
            Some("2024-03-01T11:00:00+00:00".to_owned())
        );
    }

    #[test]
    fn private_and_unpublished_spaces_are_not_public() {
        let now = parse_datetime("2025-01-01T00:00:00Z").unwrap();
        let public = json!({"publishedAt": "2024-01-01T00:00:00Z", "privateSpace": false});
        let v = |kind, j| visibility(kind, &space(j), now).unwrap();
        assert_eq!(v(Kind::Assembly, public.clone()), Visibility::Public);
        assert_eq!(
            v(
                Kind::Process,
                json!({"publishedAt": "2024-01-01T00:00:00Z"})
            ),
            Visibility::Public
        );
        assert_eq!(
            v(
                Kind::Assembly,
                json!({"publishedAt": "2024-01-01T00:00:00Z", "privateSpace": true, "isTransparent": false})
            ),
            Visibility::Private
        );
        assert_eq!(
            v(
                Kind::Assembly,
                json!({"publishedAt": "2024-01-01T00:00:00Z", "privateSpace": true, "isTransparent": true})
            ),
            Visibility::Public
        );
        // Not saying counts as private.
        assert_eq!(
            v(
                Kind::Assembly,
                json!({"publishedAt": "2024-01-01T00:00:00Z"})
            ),
            Visibility::Private
        );
        assert_eq!(
            v(Kind::Process, json!({"publishedAt": null})),
            Visibility::Unpublished
        );
        assert_eq!(v(Kind::Process, json!({})), Visibility::Unpublished);
        assert_eq!(
            v(
                Kind::Process,
                json!({"publishedAt": "2030-01-01T00:00:00Z"})
            ),
            Visibility::Unpublished
        );
        assert!(visibility(Kind::Process, &space(json!({"publishedAt": "ieri"})), now).is_err());
    }

    #[test]
    fn a_process_becomes_a_safe_complete_record() {
        let territory = snodo_model::territory::from_code("08").unwrap();
        let promoter = LocalizedText::single("it", "Regione Emilia-Romagna");
        let src = ctx(&territory, &promoter);
        let s = space(json!({
            "id": "7",
            "slug": "bilancio-bologna",
            "title": tr(&[("it", "Bilancio <b>partecipativo</b>"), ("en", "Participatory budget"), ("ca", "")]),
            "subtitle": tr(&[("it", "<script>alert(1)</script>Edizione 2024")]),
            "shortDescription": null,
            "description": tr(&[("it", "<p onclick=\"x()\">Decidi <a href=\"javascript:alert(1)\">tu</a></p><iframe src=\"https://evil\"></iframe>")]),
            "startDate": "2024-02-01",
            "endDate": "2024-12-31",
            "publishedAt": "2024-01-15T09:00:00+01:00",
            "updatedAt": "2024-03-01T09:00:00Z",
            "heroImage": "/uploads/decidim/hero.jpg",
            "scope": {"name": tr(&[("it", "Comune di Bologna")])},
            "categories": [{"name": tr(&[("it", "Ambiente")])}, null, {"name": tr(&[("it", "Ambiente")])}],
            "participatoryProcessGroup": {"title": tr(&[("it", "Bilanci partecipativi")])},
            "steps": [
                {"title": tr(&[("it", "Voto")]), "startDate": "2024-06-01T00:00:00+02:00", "endDate": "2024-06-30T23:59:00+02:00", "active": false, "position": 1},
                {"title": tr(&[("it", "Proposte")]), "startDate": "2024-02-01", "endDate": "2024-05-31", "active": true, "position": 0}
            ],
            "components": [
                {"__typename": "Proposals", "id": "1"}, {"__typename": "Meetings", "id": "2"},
                {"__typename": "Proposals", "id": "3"}, {"__typename": "Component", "id": "4"}, null,
                {"__typename": "Pages", "id": "5"}
            ],
            "stats": [{"name": "proposals_count", "value": 12}, {"name": "followers_count", "value": 2}, {"name": "followers_count", "value": 3}, null]
        }));
        let mut warnings = Vec::new();
        let activity = activity_from_stats(s.stats.as_deref().unwrap());
        let r = build_record(&src, Kind::Process, &s, activity, &mut warnings).unwrap();
        assert_eq!(r.id.to_string(), "er:process:7");
        assert_eq!(
            r.url,
            "https://partecipazioni.emr.it/processes/bilancio-bologna"
        );
        assert_eq!(r.default_locale, "it");
        assert_eq!(r.title.get("it"), Some("Bilancio partecipativo"));
        assert_eq!(r.title.get("en"), Some("Participatory budget"));
        assert_eq!(r.title.get("ca"), None);
        assert_eq!(r.subtitle.get("it"), Some("Edizione 2024"));
        let html = r.description_html.0["it"].as_str();
        assert!(html.contains("Decidi"), "{html}");
        for bad in ["onclick", "javascript:", "<iframe", "<script"] {
            assert!(!html.contains(bad), "{bad} in {html}");
        }
        assert_eq!(r.description.get("it"), Some("Decidi tu"));
        assert_eq!(
            r.summary.get("it"),
            Some("Decidi tu"),
            "falls back to the description"
        );
        assert_eq!(
            r.start_date.map(|d| d.to_string()).as_deref(),
            Some("2024-02-01")
        );
        assert_eq!(r.phases.len(), 2);
        assert_eq!(r.phases[0].title.get("it"), Some("Proposte"));
        assert!(r.phases[0].active);
        assert_eq!(
            r.phases[1].end_date.map(|d| d.to_string()).as_deref(),
            Some("2024-06-30")
        );
        assert_eq!(
            r.active_phase().and_then(|p| p.title.get("it")),
            Some("Proposte")
        );
        assert_eq!(r.territory.comune.as_deref(), Some("037006"));
        assert_eq!(r.territory.region.as_deref(), Some("08"));
        assert_eq!(r.territory.scope_name.get("it"), Some("Comune di Bologna"));
        assert_eq!(r.promoter.get("it"), Some("Regione Emilia-Romagna"));
        assert_eq!(r.group.get("it"), Some("Bilanci partecipativi"));
        assert_eq!(r.topics, vec![LocalizedText::single("it", "Ambiente")]);
        assert_eq!(r.methods, vec!["meetings", "pages", "proposals"]);
        assert_eq!(r.activity.proposals, Some(12));
        assert_eq!(r.activity.followers, Some(5));
        assert_eq!(r.activity.meetings, None);
        assert_eq!(
            r.image_url.as_deref(),
            Some("https://partecipazioni.emr.it/uploads/decidim/hero.jpg")
        );
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn unmatched_scopes_keep_the_source_territory_and_their_name() {
        let territory = snodo_model::territory::from_code("037006").unwrap();
        let promoter = LocalizedText::new();
        let src = ctx(&territory, &promoter);
        let s = space(
            json!({"id": "1", "slug": "navile", "title": tr(&[("it", "Navile")]),
            "scope": {"name": tr(&[("it", "Quartiere Navile")])}}),
        );
        let r = build_record(&src, Kind::Process, &s, Activity::default(), &mut vec![]).unwrap();
        assert_eq!(r.territory.comune.as_deref(), Some("037006"));
        assert_eq!(r.territory.scope_name.get("it"), Some("Quartiere Navile"));
    }

    #[test]
    fn taxonomies_give_territory_and_topics() {
        let territory = snodo_model::territory::from_code("16").unwrap();
        let promoter = LocalizedText::new();
        let src = ctx(&territory, &promoter);
        let s = space(json!({"id": "1", "slug": "p", "title": tr(&[("it", "P")]),
        "taxonomies": [
            {"name": tr(&[("it", "Mobilità")]), "parent": {"name": tr(&[("it", "Temi")])}},
            {"name": tr(&[("it", "Bari")]), "parent": {"name": tr(&[("it", "Ambiti territoriali")])}},
            null
        ]}));
        let r = build_record(&src, Kind::Process, &s, Activity::default(), &mut vec![]).unwrap();
        assert_eq!(r.territory.comune.as_deref(), Some("072006"));
        assert_eq!(r.territory.scope_name.get("it"), Some("Bari"));
        assert_eq!(r.topics, vec![LocalizedText::single("it", "Mobilità")]);

        // A root learnt from sibling taxonomies that matched makes an unknown name a place.
        let union = space(json!({"id": "2", "slug": "u", "title": tr(&[("it", "U")]),
            "taxonomies": [{"name": tr(&[("it", "Unione dei comuni")]), "parent": {"name": tr(&[("it", "Enti")])}}]}));
        let bari = space(json!({"id": "3", "slug": "b", "title": tr(&[("it", "B")]),
            "taxonomies": [{"name": tr(&[("it", "Bari")]), "parent": {"name": tr(&[("it", "Enti")])}}]}));
        let roots = territorial_roots([&union, &bari], Some("16"));
        assert!(roots.contains("enti"));
        let src = SourceContext {
            territorial_roots: &roots,
            ..ctx(&territory, &promoter)
        };
        let r = build_record(
            &src,
            Kind::Process,
            &union,
            Activity::default(),
            &mut vec![],
        )
        .unwrap();
        assert_eq!(r.territory.scope_name.get("it"), Some("Unione dei comuni"));
        assert_eq!(r.territory.region.as_deref(), Some("16"));
        assert!(r.topics.is_empty());
    }

    fn parent_process(src: &SourceContext) -> Record {
        let s = space(json!({"id": "7", "slug": "bilancio-bologna",
            "title": tr(&[("it", "Bilancio"), ("en", "Budget")]),
            "scope": {"name": tr(&[("it", "Comune di Bologna")])}}));
        build_record(src, Kind::Process, &s, Activity::default(), &mut vec![]).unwrap()
    }

    fn meeting(v: serde_json::Value) -> Meeting {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_meeting_becomes_a_safe_record_of_its_space() {
        let territory = snodo_model::territory::from_code("08").unwrap();
        let promoter = LocalizedText::single("it", "Regione Emilia-Romagna");
        let src = ctx(&territory, &promoter);
        let parent = parent_process(&src);
        let m = meeting(json!({
            "id": "131",
            "title": tr(&[("it", "Assemblea <script>alert(1)</script>pubblica"), ("en", "Public meeting")]),
            "description": tr(&[("it", "<p onclick=\"x()\">Vieni <a href=\"javascript:alert(1)\">qui</a></p>")]),
            // Winter and summer offsets; the instant is kept, shown in Italian time.
            "startTime": "2029-01-15T09:00:00Z",
            "endTime": "2029-07-15T13:00:00+02:00",
            "address": "Via <b>Roma</b> 1, Bologna",
            "location": tr(&[("it", "Sala <img src=x onerror=alert(1)>Borsa")]),
            "typeOfMeeting": "hybrid",
            "isWithdrawn": false, "privateMeeting": false, "transparent": true,
            "updatedAt": "2026-01-01T10:00:00Z",
            "author": {"name": "Giulia Rossi"}
        }));
        let mut w = vec![];
        let r = build_meeting(&src, &parent, "13", &m, &mut w)
            .unwrap()
            .unwrap();
        assert_eq!(r.id.to_string(), "er:meeting:131");
        assert_eq!(
            r.url,
            "https://partecipazioni.emr.it/processes/bilancio-bologna/f/13/meetings/131"
        );
        assert_eq!(r.title.get("it"), Some("Assemblea pubblica"));
        assert_eq!(r.title.get("en"), Some("Public meeting"));
        assert_eq!(r.description.get("it"), Some("Vieni qui"));
        let html = r.description_html.0["it"].as_str();
        assert!(
            !html.contains("onclick") && !html.contains("javascript:"),
            "{html}"
        );
        assert_eq!(
            r.start_time.unwrap().to_rfc3339(),
            "2029-01-15T10:00:00+01:00"
        );
        assert_eq!(
            r.end_time.unwrap().to_rfc3339(),
            "2029-07-15T13:00:00+02:00"
        );
        assert_eq!(r.start_date.unwrap().to_string(), "2029-01-15");
        assert_eq!(r.end_date.unwrap().to_string(), "2029-07-15");
        let d = r.meeting.as_ref().unwrap();
        assert_eq!(d.mode, Some(snodo_model::MeetingMode::Hybrid));
        assert_eq!(d.address.as_deref(), Some("Via Roma 1, Bologna"));
        assert_eq!(d.location.get("it"), Some("Sala Borsa"));
        let p = r.parent.as_ref().unwrap();
        assert_eq!(p.id.to_string(), "er:process:7");
        assert_eq!(p.title.get("it"), Some("Bilancio"));
        assert_eq!(r.territory.comune.as_deref(), Some("037006"), "inherited");
        assert_eq!(r.territory, parent.territory);
        assert_eq!(r.promoter, promoter);
        assert!(!serde_json::to_string(&r).unwrap().contains("Giulia"));
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn a_meeting_address_places_it_in_its_comune_within_the_space() {
        let territory = snodo_model::territory::from_code("08").unwrap();
        let promoter = LocalizedText::single("it", "Regione Emilia-Romagna");
        let src = ctx(&territory, &promoter);
        let mut parent = parent_process(&src);
        parent.territory = territory.clone();
        let place = |address: &str, location: &str| {
            let m = meeting(json!({
                "id": "7", "title": tr(&[("it", "Assemblea")]),
                "startTime": "2029-01-15T09:00:00Z",
                "address": address, "location": tr(&[("it", location)]),
            }));
            build_meeting(&src, &parent, "13", &m, &mut vec![])
                .unwrap()
                .unwrap()
                .territory
        };
        let t = place("Via Porrettana 360, 40033 Casalecchio di Reno (BO)", "");
        assert_eq!(
            (
                t.comune.as_deref(),
                t.province.as_deref(),
                t.region.as_deref()
            ),
            (Some("037011"), Some("237"), Some("08"))
        );
        // the venue's name when the address says nothing
        let t = place("", "Sala consiliare del Comune di Forlì");
        assert_eq!(t.comune, None, "not a whole part: {t:?}");
        let t = place("", "Comune di Forlì");
        assert_eq!(t.comune.as_deref(), Some("040012"));
        // an address elsewhere, or none, leaves the space's territory
        assert_eq!(place("Via Sparano 1, 70121 Bari", ""), territory);
        assert_eq!(place("Via Roma 1", ""), territory);
    }

    #[test]
    fn withdrawn_private_and_broken_meetings_are_not_stored() {
        let territory = Territory::default();
        let promoter = LocalizedText::new();
        let src = ctx(&territory, &promoter);
        let parent = parent_process(&src);
        let base = json!({"id": "1", "title": tr(&[("it", "Incontro")]),
            "startTime": "2029-03-01T18:00:00+01:00", "endTime": "2029-03-01T20:00:00+01:00",
            "isWithdrawn": false, "privateMeeting": false, "transparent": false});
        let with = |k: &str, v: serde_json::Value| {
            let mut j = base.clone();
            j[k] = v;
            meeting(j)
        };
        let b = |m: &Meeting| build_meeting(&src, &parent, "13", m, &mut vec![]);
        assert!(b(&meeting(base.clone())).unwrap().is_some(), "public");
        assert!(b(&with("isWithdrawn", json!(true))).unwrap().is_none());
        assert!(b(&with("privateMeeting", json!(true))).unwrap().is_none());
        let mut transparent = with("privateMeeting", json!(true));
        transparent.transparent = Some(true);
        assert!(
            b(&transparent).unwrap().is_some(),
            "private but transparent"
        );
        assert!(b(&with("id", json!("../x"))).unwrap_err().contains("id"));
        assert!(b(&with("title", tr(&[("it", "<p></p>")]))).is_err());
        assert!(
            build_meeting(&src, &parent, "1/../2", &meeting(base.clone()), &mut vec![]).is_err()
        );
        // An end before the start is dropped with a warning; the meeting stays.
        let mut w = vec![];
        let swapped = with("endTime", json!("2029-03-01T17:00:00+01:00"));
        let r = build_meeting(&src, &parent, "13", &swapped, &mut w)
            .unwrap()
            .unwrap();
        assert_eq!(r.end_time, None);
        assert_eq!(r.end_date, None);
        assert_eq!(w.len(), 1);
        // Old instances' "Time#to_s" form, and no times at all.
        let ruby = with("startTime", json!("2029-03-01 18:00:00 +0100"));
        let r = b(&ruby).unwrap().unwrap();
        assert_eq!(
            r.start_time.unwrap().to_rfc3339(),
            "2029-03-01T18:00:00+01:00"
        );
        let mut untimed = meeting(base.clone());
        untimed.start_time = None;
        untimed.end_time = None;
        let r = b(&untimed).unwrap().unwrap();
        assert_eq!((r.start_date, r.end_date), (None, None));
    }

    #[test]
    fn images_are_absolute_http_only() {
        let b = "https://x.it";
        assert_eq!(
            absolute_image(b, "/uploads/a.png").as_deref(),
            Some("https://x.it/uploads/a.png")
        );
        assert_eq!(
            absolute_image(b, "https://cdn.x.it/a.png").as_deref(),
            Some("https://cdn.x.it/a.png")
        );
        assert_eq!(absolute_image(b, "javascript:alert(1)"), None);
        assert_eq!(absolute_image(b, "data:image/png;base64,AAAA"), None);
        assert_eq!(absolute_image(b, "  "), None);
        assert_eq!(
            absolute_image("https://x.it/sub", "uploads/a.png").as_deref(),
            Some("https://x.it/sub/uploads/a.png")
        );
    }

    #[test]
    fn bad_ids_and_slugs_skip_the_space() {
        let territory = Territory::default();
        let promoter = LocalizedText::new();
        let src = ctx(&territory, &promoter);
        let bad_slug =
            space(json!({"id": "1", "slug": "../../admin", "title": tr(&[("it", "X")])}));
        assert!(build_record(
            &src,
            Kind::Process,
            &bad_slug,
            Activity::default(),
            &mut vec![]
        )
        .unwrap_err()
        .contains("slug"));
        let no_title = space(json!({"id": "1", "slug": "x", "title": tr(&[("it", "<p></p>")])}));
        assert!(build_record(
            &src,
            Kind::Process,
            &no_title,
            Activity::default(),
            &mut vec![]
        )
        .unwrap_err()
        .contains("no title"));
        let swapped = space(json!({"id": "1", "slug": "x", "title": tr(&[("it", "X")]),
            "startDate": "2024-05-01", "endDate": "2024-01-01"}));
        let mut w = vec![];
        let r = build_record(&src, Kind::Process, &swapped, Activity::default(), &mut w).unwrap();
        assert_eq!(r.end_date, None);
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn locales_filter_and_default_locale() {
        let titles: Vec<Translated> = [
            json!({"translations": [{"locale": "ca", "text": "A"}, {"locale": "es", "text": "A"}]}),
            json!({"translations": [{"locale": "ca", "text": "B"}]}),
        ]
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
        assert_eq!(source_locale(&titles), "ca");
        let with_it: Translated =
            serde_json::from_value(json!({"translations": [{"locale": "it", "text": "C"}]}))
                .unwrap();
        assert_eq!(source_locale(titles.iter().chain([&with_it])), "it");

        let territory = Territory::default();
        let promoter = LocalizedText::new();
        let only = vec!["en".to_owned()];
        let src = SourceContext {
            locales: Some(&only),
            ..ctx(&territory, &promoter)
        };
        let s = space(
            json!({"id": "1", "slug": "x", "title": tr(&[("it", "Uno"), ("en", "One")]),
            "description": tr(&[("it", "Solo italiano")])}),
        );
        let r = build_record(&src, Kind::Process, &s, Activity::default(), &mut vec![]).unwrap();
        assert_eq!(r.title.get("it"), None);
        assert_eq!(r.title.get("en"), Some("One"));
        assert_eq!(r.default_locale, "en");
        assert!(r.description.is_empty());
    }
}
