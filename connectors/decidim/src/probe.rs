//! Finding out what an instance supports, with small static probes, before the listings.
//!
//! `decidim { version }` is a hint only (hidden from ~0.29 on). The organisation's name is a
//! `String` up to 0.28 and a `TranslatedField` after: the version picks which form to try first and
//! the other is tried when that one fails. `taxonomies` (0.30) is probed directly. The max
//! complexity (300 on 0.26, 5000 from 0.27) comes from the configuration, else the version, else
//! whether process types (0.27 on) exist.

use serde_json::{json, Value};
use snodo_connector::ConnectorError;
use snodo_model::LocalizedText;

use crate::client::Gql;
use crate::queries;
use crate::wire::Translated;

/// Decidim 0.26's max query complexity; later versions allow 5000.
pub const COMPLEXITY_0_26: u32 = 300;
pub const COMPLEXITY_0_27: u32 = 5000;

/// The organisation's name, in whichever form the instance gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrganizationName {
    Plain(String),
    Translated(Translated),
}

#[derive(Debug, Clone)]
pub struct Capabilities {
    /// As announced (`None` when hidden).
    pub version: Option<String>,
    pub organization_name: Option<OrganizationName>,
    /// Spaces have `taxonomies` (0.30) rather than `scope`.
    pub taxonomies: bool,
    /// The max query complexity to plan for.
    pub max_complexity: u32,
}

impl Capabilities {
    /// The organisation's name as localised plain text; a plain `String` is in `default_locale`.
    pub fn promoter(&self, default_locale: &str) -> LocalizedText {
        match &self.organization_name {
            Some(OrganizationName::Plain(s)) => LocalizedText::single(default_locale, s),
            Some(OrganizationName::Translated(t)) => {
                let mut out = LocalizedText::new();
                for (l, x) in t.pairs() {
                    out.insert_plain(l, x);
                }
                out
            }
            None => LocalizedText::new(),
        }
    }
}

/// `(major, minor)` of "0.28.6", "0.27.0.rc1", "v0.26.8"…
pub fn parse_version(v: &str) -> Option<(u32, u32)> {
    let v = v.trim().trim_start_matches(['v', 'V']);
    let mut parts = v.split('.');
    let major = parts.next()?.trim().parse().ok()?;
    let minor_part = parts.next()?;
    let digits: String = minor_part
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some((major, digits.parse().ok()?))
}

pub async fn probe(
    gql: &mut Gql<'_>,
    configured_complexity: Option<u32>,
    warnings: &mut Vec<String>,
) -> Result<Capabilities, ConnectorError> {
    let answer = gql
        .send(
            "ProbeVersion",
            queries::PROBE_VERSION,
            json!({}),
            "probe: version",
        )
        .await?;
    let version = answer
        .field("decidim")
        .and_then(|d| d.get("version"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    if answer.data.is_none() {
        warnings.push(format!(
            "probe: `decidim.version` failed ({}); probing field by field",
            answer.messages()
        ));
    }
    let parsed = version.as_deref().and_then(parse_version);

    // The form the version suggests first; a hidden version suggests ~0.29 or later.
    let translated_first = parsed.is_none_or(|v| v >= (0, 29));
    let mut organization_name = None;
    let mut failures = Vec::new();
    for translated in [translated_first, !translated_first] {
        let (name, query) = if translated {
            (
                "ProbeOrganizationNameTranslated",
                queries::PROBE_ORGANIZATION_NAME_TRANSLATED,
            )
        } else {
            ("ProbeOrganizationName", queries::PROBE_ORGANIZATION_NAME)
        };
        let answer = gql
            .send(name, query, json!({}), "probe: organization name")
            .await?;
        let value = answer
            .field("organization")
            .and_then(|o| o.get("name"))
            .filter(|n| !n.is_null());
        let found = match value {
            Some(Value::String(s)) if !translated && !s.trim().is_empty() => {
                Some(OrganizationName::Plain(s.clone()))
            }
            Some(v) if translated => serde_json::from_value::<Translated>(v.clone())
                .ok()
                .map(OrganizationName::Translated),
            _ => None,
        };
        if found.is_some() {
            organization_name = found;
            break;
        }
        if answer.data.is_none() {
            failures.push(answer.messages());
        } else if answer.field("organization").is_some() {
            // The form validated but the organisation has no name: no need for the other form.
            break;
        }
    }
    if organization_name.is_none() && !failures.is_empty() {
        warnings.push(format!(
            "probe: the organisation's name is unavailable ({}); records have no promoter",
            failures.join("; ")
        ));
    }

    let answer = gql
        .send(
            "ProbeTaxonomies",
            queries::PROBE_TAXONOMIES,
            json!({}),
            "probe: taxonomies",
        )
        .await?;
    // Validation errors come without data: then the field does not exist.
    let taxonomies = answer.data.is_some();

    let max_complexity = match (configured_complexity, parsed) {
        (Some(c), _) => c,
        (None, Some(v)) if v < (0, 27) => COMPLEXITY_0_26,
        (None, Some(_)) => COMPLEXITY_0_27,
        (None, None) => {
            let answer = gql
                .send(
                    "ProbeProcessTypes",
                    queries::PROBE_PROCESS_TYPES,
                    json!({}),
                    "probe: process types",
                )
                .await?;
            if answer.data.is_some() {
                COMPLEXITY_0_27
            } else {
                COMPLEXITY_0_26
            }
        }
    };
    tracing::debug!(
        endpoint = gql.endpoint(),
        version = version.as_deref().unwrap_or("hidden"),
        taxonomies,
        max_complexity,
        "decidim capabilities"
    );
    Ok(Capabilities {
        version,
        organization_name,
        taxonomies,
        max_complexity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("0.28.6"), Some((0, 28)));
        assert_eq!(parse_version("0.27.0.rc1"), Some((0, 27)));
        assert_eq!(parse_version("v0.26.8"), Some((0, 26)));
        assert_eq!(parse_version("0.30.0.dev"), Some((0, 30)));
        assert_eq!(parse_version("unknown"), None);
        assert_eq!(parse_version(""), None);
    }

    #[test]
    fn promoter_from_either_form() {
        let caps = |n| Capabilities {
            version: None,
            organization_name: Some(n),
            taxonomies: false,
            max_complexity: 300,
        };
        let p = caps(OrganizationName::Plain("ParteciPa".into())).promoter("it");
        assert_eq!(p.get("it"), Some("ParteciPa"));
        let t: Translated = serde_json::from_value(serde_json::json!({
            "translations": [{"locale": "it", "text": "Regione"}, {"locale": "en", "text": "Region"}]
        }))
        .unwrap();
        let p = caps(OrganizationName::Translated(t)).promoter("it");
        assert_eq!(p.get("en"), Some("Region"));
    }
}
