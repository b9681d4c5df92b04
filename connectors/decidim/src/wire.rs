//! Decidim's answers as they come over the wire, read leniently: every field optional, lists with
//! nullable items, ids as strings or numbers. Nullability differs between versions (and the SDLs
//! are reconstructions), so nothing here trusts a `!`. One space that does not fit these shapes
//! fails alone; the listing goes on.

use serde::Deserialize;
use serde_json::Value;

/// `TranslatedField { translations { locale text } }`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
pub struct Translated {
    #[serde(default)]
    pub translations: Option<Vec<Option<LocalizedString>>>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
pub struct LocalizedString {
    #[serde(default)]
    pub locale: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
}

impl Translated {
    /// `(locale, text)` pairs with both present and the text not blank.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.translations
            .iter()
            .flatten()
            .flatten()
            .filter_map(|t| match (t.locale.as_deref(), t.text.as_deref()) {
                (Some(l), Some(x)) if !l.trim().is_empty() && !x.trim().is_empty() => Some((l, x)),
                _ => None,
            })
    }
}

/// Scope, area, category: `{ name { … } }`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Named {
    #[serde(default)]
    pub name: Option<Translated>,
}

/// Process group, parent assembly: `{ title { … } }`.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Titled {
    #[serde(default)]
    pub title: Option<Translated>,
}

/// A 0.30 taxonomy: its name and its parent's (the root names what kind of taxonomy it is).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Taxonomy {
    #[serde(default)]
    pub name: Option<Translated>,
    #[serde(default)]
    pub parent: Option<Named>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    #[serde(default)]
    pub title: Option<Translated>,
    /// `Date` up to 0.27, `DateTime` from 0.28: both arrive as strings.
    #[serde(default)]
    pub start_date: Option<String>,
    #[serde(default)]
    pub end_date: Option<String>,
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    pub position: Option<Value>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct ComponentRef {
    #[serde(default, rename = "__typename")]
    pub typename: Option<String>,
    #[serde(default)]
    pub id: Option<Value>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct Stat {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub value: Option<Value>,
}

/// A participatory process or an assembly, with every field any listing query may ask for.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Space {
    #[serde(default)]
    pub id: Option<Value>,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub title: Option<Translated>,
    #[serde(default)]
    pub subtitle: Option<Translated>,
    #[serde(default)]
    pub short_description: Option<Translated>,
    #[serde(default)]
    pub description: Option<Translated>,
    #[serde(default)]
    pub start_date: Option<String>,
    #[serde(default)]
    pub end_date: Option<String>,
    #[serde(default)]
    pub published_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub hero_image: Option<String>,
    #[serde(default)]
    pub scope: Option<Named>,
    #[serde(default)]
    pub area: Option<Named>,
    #[serde(default)]
    pub categories: Option<Vec<Option<Named>>>,
    #[serde(default)]
    pub taxonomies: Option<Vec<Option<Taxonomy>>>,
    #[serde(default)]
    pub participatory_process_group: Option<Titled>,
    #[serde(default)]
    pub parent: Option<Titled>,
    #[serde(default)]
    pub steps: Option<Vec<Option<Step>>>,
    #[serde(default)]
    pub components: Option<Vec<Option<ComponentRef>>>,
    #[serde(default)]
    pub stats: Option<Vec<Option<Stat>>>,
    #[serde(default)]
    pub private_space: Option<bool>,
    #[serde(default)]
    pub is_transparent: Option<bool>,
}

/// A meeting as the `Meetings` query asks for it. Nothing about people is asked, so nothing
/// about people can arrive here.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meeting {
    #[serde(default)]
    pub id: Option<Value>,
    #[serde(default)]
    pub title: Option<Translated>,
    #[serde(default)]
    pub description: Option<Translated>,
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default)]
    pub end_time: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub location: Option<Translated>,
    #[serde(default)]
    pub type_of_meeting: Option<String>,
    #[serde(default)]
    pub is_withdrawn: Option<bool>,
    #[serde(default)]
    pub private_meeting: Option<bool>,
    #[serde(default)]
    pub transparent: Option<bool>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// A GraphQL `ID` as text: graphql-ruby sends strings, some servers numbers.
pub fn id_string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A count from a statistic: a non-negative integer (floats with no fraction accepted).
pub fn count_value(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1e15)
                .map(|f| f as u64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_spaces_leniently() {
        let s: Space = serde_json::from_value(json!({
            "id": 12,
            "slug": "bilancio",
            "title": {"translations": [{"locale": "it", "text": "Bilancio"}, null, {"locale": "en", "text": ""}]},
            "components": [null, {"__typename": "Proposals", "id": "3"}],
            "stats": null,
            "unknownField": true
        }))
        .unwrap();
        assert_eq!(id_string(s.id.as_ref()).as_deref(), Some("12"));
        let title: Vec<_> = s.title.as_ref().unwrap().pairs().collect();
        assert_eq!(title, vec![("it", "Bilancio")]);
        assert_eq!(s.components.unwrap().len(), 2);
    }

    #[test]
    fn counts_from_statistics() {
        assert_eq!(count_value(Some(&json!(4))), Some(4));
        assert_eq!(count_value(Some(&json!(4.0))), Some(4));
        assert_eq!(count_value(Some(&json!(-1))), None);
        assert_eq!(count_value(Some(&json!("7"))), Some(7));
        assert_eq!(count_value(Some(&json!(null))), None);
    }
}
