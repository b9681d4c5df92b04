//! What Snodo's site connectors (`feed`, `html`, `json`, `consul`) share, so each only supplies
//! "fetch and read my format": Italian date parsing ([`dates`]), status words ([`status`]), the
//! one builder from extracted fields to a valid sanitised record ([`item`]), the conditional-GET
//! page cache kept in the checkpoint ([`cache`]), and the checks of params every kind has.
//!
//! It must not do I/O of its own beyond [`cache::fetch_page`] through the shared
//! [`snodo_connector::HttpClient`] (which keeps politeness, robots.txt and the address guard), and
//! never touches the store or the index.

pub mod cache;
pub mod dates;
pub mod item;
pub mod status;

use snodo_model::record::normalize_locale;
use snodo_model::Kind;

pub use cache::{fetch_page, fetch_page_or_stored, CachedPage, Page, PageCache};
pub use dates::{parse_date, parse_instant, parse_range, parse_timestamp, DateRange};
pub use item::{absolute_url, build_record, Item, Target};
pub use status::parse_status;

/// Default cap on pages read per listing (a guard against endless pagination).
pub const DEFAULT_MAX_PAGES: u32 = 50;
/// Default cap on items per run.
pub const DEFAULT_MAX_ITEMS: u32 = 5000;

/// Parses `record_kind` (default `default`), naming the key when wrong.
pub fn parse_kind(value: Option<&str>, default: Kind, problems: &mut Vec<String>) -> Kind {
    match value {
        None => default,
        Some(s) => match s.trim().parse::<Kind>() {
            Ok(k) => k,
            Err(e) => {
                problems.push(format!("record_kind: {e}"));
                default
            }
        },
    }
}

/// Parses `locale` (default `it`): the language the source's texts are in.
pub fn parse_locale(value: Option<&str>, problems: &mut Vec<String>) -> String {
    let l = value.unwrap_or("it").trim();
    let ok = (2..=10).contains(&l.len())
        && l.bytes()
            .all(|b| b.is_ascii_alphabetic() || b == b'-' || b == b'_');
    if !ok {
        problems.push(format!(
            "locale: `{l}` is not a locale code such as \"it\" or \"en\""
        ));
    }
    normalize_locale(l)
}

/// Checks a bounded number param, naming the key.
pub fn bounded(
    key: &str,
    value: Option<u32>,
    default: u32,
    max: u32,
    problems: &mut Vec<String>,
) -> u32 {
    let v = value.unwrap_or(default);
    if !(1..=max).contains(&v) {
        problems.push(format!("{key}: must be between 1 and {max}, got {v}"));
    }
    v
}

/// Parses an http(s) URL from config, naming the key and what is expected.
pub fn parse_url(
    key: &str,
    value: &str,
    expected: &str,
    problems: &mut Vec<String>,
) -> Option<url::Url> {
    match url::Url::parse(value.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Some(u),
        Ok(_) | Err(_) => {
            problems.push(format!(
                "{key}: `{value}` is not an http(s) URL; expected {expected}"
            ));
            None
        }
    }
}

/// The error of a source whose params failed, every problem at once.
pub fn params_error(source: &str, kind: &str, problems: &[String]) -> String {
    format!("source `{source}` ({kind}): {}", problems.join("; "))
}

#[cfg(feature = "fake")]
pub mod fake;
