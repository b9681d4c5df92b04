//! The data a fake server answers from, in Decidim's GraphQL shapes.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What a fake Decidim instance holds.
///
/// Every object is written with the field names of the SDL (`title: {translations: [{locale,
/// text, machineTranslated}]}`, `publishedAt`, `components: [{__typename: "Proposals", id,
/// proposals: [...]}]`…), so the executor only has to look fields up. Keys a query asks for and
/// the data lacks resolve to null.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    /// `organization { name stats }`. `name` may be a plain string or a TranslatedField object:
    /// it is converted to what each version's SDL expects.
    #[serde(default)]
    pub organization: Value,
    /// Every participatory process, visible or not.
    #[serde(default)]
    pub processes: Vec<Value>,
    /// Every assembly, visible or not.
    #[serde(default)]
    pub assemblies: Vec<Value>,
    /// What the root `metrics` field answers (`[{name count history}]`).
    #[serde(default)]
    pub metrics: Vec<Value>,
    /// Answers for other root fields, by name (e.g. `participatoryProcessGroups`).
    #[serde(default)]
    pub root: Map<String, Value>,
    /// Switches for how the instance behaves.
    #[serde(default)]
    pub flags: Flags,
}

/// How an instance behaves (beyond its data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Flags {
    /// Misbehave: also return private non-transparent assemblies, unpublished processes and
    /// unpublished components or items, as a misconfigured instance would.
    pub leak_private: bool,
    /// Whether `decidim { version }` answers the version (true) or null (false).
    pub disclose_version: bool,
    /// The root `metrics` field was removed (2025): a query asking for it fails whole.
    pub metrics_removed: bool,
    /// Introspection (`__schema`, `__type`) is off, as newer releases allow: asking fails whole.
    pub disable_introspection: bool,
    /// The organisation's default locale: used where a TranslatedField becomes a String.
    pub default_locale: String,
    /// What `decidim { version }` answers instead of the version's own release.
    pub version_string: Option<String>,
    /// What `decidim { applicationName }` answers (default "Decidim").
    pub application_name: Option<String>,
    /// Overrides the version's max complexity (300 on 0.26, 5000 from 0.27).
    pub max_complexity: Option<u64>,
    /// Overrides the max depth (15).
    pub max_depth: Option<u64>,
    /// Base URL for image paths on versions that answer full URLs (set by the server).
    pub base_url: Option<String>,
}

impl Default for Flags {
    fn default() -> Self {
        Flags {
            leak_private: false,
            disclose_version: true,
            metrics_removed: false,
            disable_introspection: false,
            default_locale: "it".to_owned(),
            version_string: None,
            application_name: None,
            max_complexity: None,
            max_depth: None,
            base_url: None,
        }
    }
}

/// A dataset that is not valid JSON of the expected shape.
#[derive(Debug, thiserror::Error)]
#[error("fake Decidim dataset: {0}")]
pub struct DatasetError(#[from] serde_json::Error);

const SAMPLES: [(&str, &str); 4] = [
    ("partecipa", include_str!("../data/partecipa.json")),
    (
        "emilia-romagna",
        include_str!("../data/emilia-romagna.json"),
    ),
    ("puglia", include_str!("../data/puglia.json")),
    ("hostile", include_str!("../data/hostile.json")),
];
const SAMPLE_NAMES: [&str; 4] = ["partecipa", "emilia-romagna", "puglia", "hostile"];

impl Dataset {
    /// Parses a dataset from JSON.
    pub fn from_json(s: &str) -> Result<Self, DatasetError> {
        Ok(serde_json::from_str(s)?)
    }

    /// A bundled sample by name (see [`Dataset::sample_names`]).
    ///
    /// - `partecipa`: a national platform like ParteciPa (it + en);
    /// - `emilia-romagna`: local bodies like PartecipAzioni (it);
    /// - `puglia`: a regional platform like Puglia Partecipa (it);
    /// - `hostile`: markup and script payloads, odd locales, empty strings, null dates, and
    ///   `leak_private: true` so that a private assembly and an unpublished process come out.
    pub fn sample(name: &str) -> Option<Self> {
        SAMPLES.iter().find(|(n, _)| *n == name).map(|(_, json)| {
            Dataset::from_json(json).expect("bundled sample datasets parse (checked by tests)")
        })
    }

    /// Names of the bundled samples.
    pub fn sample_names() -> &'static [&'static str] {
        &SAMPLE_NAMES
    }

    /// The process with this slug, for editing between harvests.
    pub fn process_mut(&mut self, slug: &str) -> Option<&mut Value> {
        self.processes
            .iter_mut()
            .find(|p| p.get("slug").and_then(Value::as_str) == Some(slug))
    }

    /// The assembly with this slug, for editing between harvests.
    pub fn assembly_mut(&mut self, slug: &str) -> Option<&mut Value> {
        self.assemblies
            .iter_mut()
            .find(|p| p.get("slug").and_then(Value::as_str) == Some(slug))
    }

    /// Removes the process or assembly with this slug; whether one was there.
    pub fn remove_space(&mut self, slug: &str) -> bool {
        let has_slug = |v: &Value| v.get("slug").and_then(Value::as_str) == Some(slug);
        let before = self.processes.len() + self.assemblies.len();
        self.processes.retain(|p| !has_slug(p));
        self.assemblies.retain(|a| !has_slug(a));
        before != self.processes.len() + self.assemblies.len()
    }

    /// Processes an anonymous visitor sees: published and not private (all of them when
    /// [`Flags::leak_private`]).
    pub fn visible_processes(&self) -> impl Iterator<Item = &Value> {
        self.processes
            .iter()
            .filter(move |p| self.flags.leak_private || process_is_public(p))
    }

    /// Assemblies an anonymous visitor sees: published, and public or transparent (all of them
    /// when [`Flags::leak_private`]).
    pub fn visible_assemblies(&self) -> impl Iterator<Item = &Value> {
        self.assemblies
            .iter()
            .filter(move |a| self.flags.leak_private || assembly_is_public(a))
    }
}

fn is_published(v: &Value) -> bool {
    v.get("publishedAt").is_some_and(|p| !p.is_null())
}

fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// Published and not private.
pub(crate) fn process_is_public(p: &Value) -> bool {
    is_published(p) && !flag(p, "privateSpace")
}

/// Published, and public or transparent.
pub(crate) fn assembly_is_public(a: &Value) -> bool {
    is_published(a) && (!flag(a, "privateSpace") || flag(a, "isTransparent"))
}

/// A component or an item of a connection that Decidim would not show anonymously: explicitly
/// unpublished (`"publishedAt": null`), hidden by moderation, or a private non-transparent
/// meeting.
pub(crate) fn item_is_hidden(v: &Value) -> bool {
    v.get("publishedAt").is_some_and(Value::is_null)
        || flag(v, "hidden")
        || (flag(v, "privateMeeting") && !flag(v, "transparent"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_parses() {
        for name in Dataset::sample_names() {
            let d = Dataset::sample(name).unwrap_or_else(|| panic!("sample {name}"));
            assert!(!d.processes.is_empty(), "{name}");
        }
        assert!(Dataset::sample("nope").is_none());
    }

    #[test]
    fn samples_round_trip_through_json() {
        for name in Dataset::sample_names() {
            let d = Dataset::sample(name).expect("sample");
            let text = serde_json::to_string(&d).expect("serialise");
            assert_eq!(Dataset::from_json(&text).expect("parse"), d, "{name}");
        }
        let empty = Dataset::from_json("{}").expect("all fields have defaults");
        assert!(empty.flags.disclose_version && !empty.flags.leak_private);
        assert_eq!(empty.flags.default_locale, "it");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = Dataset::from_json(r#"{"procesess": []}"#).unwrap_err();
        assert!(err.to_string().contains("procesess"), "{err}");
    }

    #[test]
    fn remove_space_by_slug() {
        let mut d = Dataset::sample("partecipa").unwrap();
        let n = d.processes.len();
        assert!(d.remove_space("bilancio-partecipativo-2026"));
        assert_eq!(d.processes.len(), n - 1);
        assert!(!d.remove_space("bilancio-partecipativo-2026"));
    }
}
