//! One upstream item as a site connector extracted it (strings and dates, no markup rules yet),
//! and the single place that turns it into a valid, sanitised [`Record`].

use chrono::{DateTime, NaiveDate, Utc};
use snodo_connector::SourceSpec;
use snodo_model::{Kind, LocalizedText, Record, RecordId, Status};

/// Longest summary derived from a body, in characters.
pub const SUMMARY_CHARS: usize = 400;
/// Topics kept per record.
pub const MAX_TOPICS: usize = 20;

/// What a connector found about one item. Text fields may carry HTML: they are stripped (plain
/// fields) or sanitised (`body_html`) here, never trusted.
#[derive(Debug, Clone, Default)]
pub struct Item {
    /// Stable upstream id (GUID, API id); the URL when absent.
    pub upstream_id: Option<String>,
    /// The item's public page (absolute http(s) URL).
    pub url: String,
    pub title: String,
    pub subtitle: Option<String>,
    pub summary: Option<String>,
    pub body_html: Option<String>,
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    /// A status the page states ("conclusa"): only fills a missing end date of a closed item.
    pub status: Option<Status>,
    pub promoter: Option<String>,
    /// A place name as the page gives it ("Comune di Bari", "Regione Toscana").
    pub territory: Option<String>,
    pub topics: Vec<String>,
    pub image: Option<String>,
}

/// Where records go: the source, the kind they get, the locale their texts are in.
#[derive(Debug, Clone)]
pub struct Target {
    pub source: SourceSpec,
    pub kind: Kind,
    pub locale: String,
}

/// Builds and validates a record. Warnings (dropped inconsistent values) go to `warnings`; an item
/// that cannot make a valid record (no title, no http(s) URL) is an error naming it.
pub fn build_record(
    item: Item,
    target: &Target,
    warnings: &mut Vec<String>,
) -> Result<Record, String> {
    let url = item.url.trim().to_owned();
    let upstream = item
        .upstream_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(&url)
        .chars()
        .take(500)
        .collect::<String>();
    let locale = target.locale.as_str();
    let id = RecordId::new(&target.source.id, target.kind, upstream);
    let mut r = Record::new(id, url, locale, LocalizedText::single(locale, &item.title));
    if let Some(s) = &item.subtitle {
        r.subtitle.insert_plain(locale, s);
    }
    if let Some(b) = &item.body_html {
        r.description_html.insert_sanitized(locale, b);
        r.description = r.description_html.to_plain();
    }
    match &item.summary {
        Some(s) => r.summary.insert_plain(locale, s),
        None => {
            if let Some(d) = r.description.get(locale) {
                let short = snodo_model::text::truncate_words(d, SUMMARY_CHARS);
                r.summary.insert_plain(locale, &short);
            }
        }
    }
    r.start_date = item.start;
    r.end_date = item.end;
    if let (Some(s), Some(e)) = (r.start_date, r.end_date) {
        if e < s {
            warnings.push(format!(
                "{}: end date {e} is before start date {s}; the end date was dropped",
                r.url
            ));
            r.end_date = None;
        }
    }
    r.published_at = item.published;
    r.updated_at = item.updated;
    if item.status == Some(Status::Closed) && r.end_date.is_none() {
        // The page says it is over but gives no end: the latest date known is the best bound.
        let known = [
            r.start_date,
            item.updated.map(rome_date),
            item.published.map(rome_date),
        ];
        r.end_date = known.into_iter().flatten().max();
    }
    if let Some(p) = &item.promoter {
        r.promoter.insert_plain(locale, p);
    }
    r.territory = target.source.territory.clone();
    if let Some(name) = item.territory.as_deref().map(snodo_model::text::plain_text) {
        if !name.is_empty() {
            let within = target.source.territory.region.as_deref();
            if let Some(t) = snodo_model::territory::match_name(&name, within) {
                r.territory = t;
            }
            r.territory.scope_name.insert_plain(locale, &name);
        }
    }
    for t in &item.topics {
        let topic = LocalizedText::single(locale, t);
        if !topic.is_empty() && !r.topics.contains(&topic) && r.topics.len() < MAX_TOPICS {
            r.topics.push(topic);
        }
    }
    r.image_url = item
        .image
        .map(|i| i.trim().to_owned())
        .filter(|i| i.starts_with("https://") || i.starts_with("http://"));
    if r.title.is_empty() {
        return Err(format!("{}: the item has no title", r.url));
    }
    r.validate()?;
    Ok(r)
}

fn rome_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&chrono_tz::Europe::Rome).date_naive()
}

/// Resolves `href` against `base` and keeps it only when it is http(s).
pub fn absolute_url(base: &url::Url, href: &str) -> Option<url::Url> {
    let href = href.trim();
    if href.is_empty() || href.len() > 4096 {
        return None;
    }
    let mut u = base.join(href).ok()?;
    u.set_fragment(None);
    matches!(u.scheme(), "http" | "https").then_some(u)
}

#[cfg(test)]
mod tests {
    use super::*;
    use snodo_model::Territory;

    fn target() -> Target {
        Target {
            source: SourceSpec {
                id: "site".into(),
                name: "Site".into(),
                url: "https://example.it".into(),
                territory: Territory {
                    region: Some("09".into()),
                    ..Territory::default()
                },
            },
            kind: Kind::Consultation,
            locale: "it".into(),
        }
    }

    #[test]
    fn builds_sanitised_valid_records() {
        let mut w = Vec::new();
        let r = build_record(
            Item {
                url: "https://example.it/c/1".into(),
                title: "<b>Piano</b> <script>x()</script>casa".into(),
                body_html: Some(
                    "<p onclick=\"x()\">Testo <a href=\"javascript:x()\">qui</a></p>".into(),
                ),
                territory: Some("Comune di Firenze".into()),
                topics: vec!["Ambiente".into(), "Ambiente".into(), "<i></i>".into()],
                image: Some("javascript:alert(1)".into()),
                start: "2024-07-10".parse().ok(),
                end: "2024-07-01".parse().ok(),
                ..Item::default()
            },
            &target(),
            &mut w,
        )
        .unwrap();
        assert_eq!(r.id.to_string(), "site:consultation:https://example.it/c/1");
        assert_eq!(r.title.get("it"), Some("Piano casa"));
        assert_eq!(r.summary.get("it"), Some("Testo qui"));
        let html = r.description_html.0["it"].as_str().to_owned();
        assert!(
            !html.contains("onclick") && !html.contains("javascript"),
            "{html}"
        );
        assert_eq!(r.territory.comune.as_deref(), Some("048017"));
        assert_eq!(r.topics.len(), 1);
        assert_eq!(r.image_url, None);
        assert_eq!(r.end_date, None);
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn closed_without_end_takes_the_latest_known_date() {
        let mut w = Vec::new();
        let r = build_record(
            Item {
                url: "https://example.it/c/2".into(),
                title: "Vecchia".into(),
                start: "2023-01-10".parse().ok(),
                status: Some(Status::Closed),
                ..Item::default()
            },
            &target(),
            &mut w,
        )
        .unwrap();
        assert_eq!(r.end_date, "2023-01-10".parse().ok());
    }

    #[test]
    fn items_without_title_or_http_url_fail_with_their_url() {
        let mut w = Vec::new();
        let e = build_record(
            Item {
                url: "https://example.it/x".into(),
                title: "<p></p>".into(),
                ..Item::default()
            },
            &target(),
            &mut w,
        )
        .unwrap_err();
        assert!(e.contains("https://example.it/x"), "{e}");
        let e = build_record(
            Item {
                url: "ftp://x".into(),
                title: "T".into(),
                ..Item::default()
            },
            &target(),
            &mut w,
        )
        .unwrap_err();
        assert!(e.contains("not http"), "{e}");
    }
}
