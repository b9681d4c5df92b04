//! The two listings: `participatoryProcesses` and `assemblies`, plain lists fetched in one request
//! each. Optional fields sit behind `@include(if: $withX)`: when one of them fails upstream and
//! takes the whole list down with it (a non-null field's error propagates up), the listing is
//! asked again without that field, and a warning says what was lost. When a variant does not
//! validate at all, the next one is tried, down to a minimal one every version accepts. Only when
//! all fail does the run fail.

use std::collections::{BTreeMap, BTreeSet};

use graphql_client::PathFragment;
use serde_json::{Map, Value};
use snodo_connector::ConnectorError;
use snodo_model::Kind;

use crate::client::{describe, one_line, Gql};
use crate::probe::Capabilities;
use crate::queries;

/// A listing query and its optional fields: `(response field, boolean variable)`.
struct Variant {
    name: &'static str,
    query: &'static str,
    switches: &'static [(&'static str, &'static str)],
}

const PROCESSES: Variant = Variant {
    name: "Processes",
    query: queries::PROCESSES,
    switches: &[
        ("heroImage", "withHeroImage"),
        ("scope", "withScope"),
        ("categories", "withCategories"),
        ("participatoryProcessGroup", "withGroup"),
        ("steps", "withSteps"),
        ("components", "withComponents"),
        ("stats", "withStats"),
    ],
};

const PROCESSES_TAXONOMIES: Variant = Variant {
    name: "ProcessesTaxonomies",
    query: queries::PROCESSES_TAXONOMIES,
    switches: &[
        ("heroImage", "withHeroImage"),
        ("taxonomies", "withTaxonomies"),
        ("categories", "withCategories"),
        ("participatoryProcessGroup", "withGroup"),
        ("steps", "withSteps"),
        ("components", "withComponents"),
        ("stats", "withStats"),
    ],
};

const PROCESSES_MINIMAL: Variant = Variant {
    name: "ProcessesMinimal",
    query: queries::PROCESSES_MINIMAL,
    switches: &[],
};

const ASSEMBLIES: Variant = Variant {
    name: "Assemblies",
    query: queries::ASSEMBLIES,
    switches: &[
        ("heroImage", "withHeroImage"),
        ("area", "withArea"),
        ("categories", "withCategories"),
        ("parent", "withParent"),
        ("components", "withComponents"),
        ("stats", "withStats"),
    ],
};

const ASSEMBLIES_TAXONOMIES: Variant = Variant {
    name: "AssembliesTaxonomies",
    query: queries::ASSEMBLIES_TAXONOMIES,
    switches: &[
        ("heroImage", "withHeroImage"),
        ("area", "withArea"),
        ("categories", "withCategories"),
        ("parent", "withParent"),
        ("components", "withComponents"),
        ("stats", "withStats"),
        ("taxonomies", "withTaxonomies"),
    ],
};

const ASSEMBLIES_MINIMAL: Variant = Variant {
    name: "AssembliesMinimal",
    query: queries::ASSEMBLIES_MINIMAL,
    switches: &[],
};

/// The response field of a kind's listing.
pub fn list_field(kind: Kind) -> &'static str {
    match kind {
        Kind::Assembly => "assemblies",
        _ => "participatoryProcesses",
    }
}

/// What a listing gave.
#[derive(Debug, Default)]
pub struct Listing {
    /// One JSON object per listed space.
    pub items: Vec<Value>,
    /// False when some items came back null: then the listing is not known to be whole.
    pub complete: bool,
}

fn variables(v: &Variant, off: &BTreeSet<&str>) -> Value {
    let mut m = Map::new();
    for (field, var) in v.switches {
        m.insert((*var).to_owned(), Value::Bool(!off.contains(field)));
    }
    Value::Object(m)
}

/// The optional field an error is about: `path` = `[list, index, field, …]`, or, without a
/// path, a field named in quotes in the message.
fn blamed_field(
    e: &graphql_client::Error,
    list: &str,
    switches: &'static [(&'static str, &'static str)],
) -> Option<&'static str> {
    if let Some(path) = &e.path {
        let keys: Vec<&str> = path
            .iter()
            .filter_map(|p| match p {
                PathFragment::Key(k) => Some(k.as_str()),
                PathFragment::Index(_) => None,
            })
            .collect();
        if let [first, second, ..] = keys.as_slice() {
            if *first == list {
                return switches.iter().map(|(f, _)| *f).find(|f| f == second);
            }
        }
        return None;
    }
    switches.iter().map(|(f, _)| *f).find(|f| {
        [format!("'{f}'"), format!("\"{f}\""), format!("`{f}`")]
            .iter()
            .any(|q| e.message.contains(q.as_str()))
    })
}

pub async fn fetch(
    gql: &mut Gql<'_>,
    kind: Kind,
    caps: &Capabilities,
    warnings: &mut Vec<String>,
) -> Result<Listing, ConnectorError> {
    let list = list_field(kind);
    let label = match kind {
        Kind::Assembly => "assemblies",
        _ => "processes",
    };
    let variants: &[&Variant] = match (kind, caps.taxonomies) {
        (Kind::Assembly, true) => &[&ASSEMBLIES_TAXONOMIES, &ASSEMBLIES, &ASSEMBLIES_MINIMAL],
        (Kind::Assembly, false) => &[&ASSEMBLIES, &ASSEMBLIES_MINIMAL],
        (_, true) => &[&PROCESSES_TAXONOMIES, &PROCESSES, &PROCESSES_MINIMAL],
        (_, false) => &[&PROCESSES, &PROCESSES_MINIMAL],
    };
    let mut failures = Vec::new();
    for (i, v) in variants.iter().enumerate() {
        let mut off: BTreeSet<&str> = BTreeSet::new();
        loop {
            let answer = gql.send(v.name, v.query, variables(v, &off), label).await?;
            if let Some(items) = answer.field(list).and_then(Value::as_array) {
                if !answer.errors.is_empty() {
                    warnings.extend(field_warnings(label, list, items.len(), &answer.errors));
                }
                if i > 0 {
                    warnings.push(format!(
                        "{label}: listed with the fallback query {} after: {}; some details are missing",
                        v.name,
                        failures.join(" | ")
                    ));
                }
                let nulls = items.iter().filter(|x| !x.is_object()).count();
                if nulls > 0 {
                    warnings.push(format!(
                        "{label}: {nulls} of {} listed items came back empty; the listing is partial, so nothing is marked gone",
                        items.len()
                    ));
                }
                return Ok(Listing {
                    items: items.iter().filter(|x| x.is_object()).cloned().collect(),
                    complete: nulls == 0,
                });
            }
            // The list itself is missing. With `data` present it was an execution error: find the
            // optional fields to blame, switch them off and ask again.
            let blamed: BTreeSet<&'static str> = if answer.data.is_some() {
                answer
                    .errors
                    .iter()
                    .filter_map(|e| blamed_field(e, list, v.switches))
                    .filter(|f| !off.contains(f))
                    .collect()
            } else {
                BTreeSet::new()
            };
            if blamed.is_empty() {
                let why = if answer.errors.is_empty() {
                    format!("`{list}` came back null")
                } else {
                    answer.messages()
                };
                failures.push(format!("{}: {why}", v.name));
                break;
            }
            for f in blamed {
                let msg = answer
                    .errors
                    .iter()
                    .find(|e| blamed_field(e, list, v.switches) == Some(f))
                    .map(describe)
                    .unwrap_or_default();
                warnings.push(format!(
                    "{label}: field `{f}` failed upstream ({msg}); listed again without it, so no record has it"
                ));
                off.insert(f);
            }
        }
    }
    Err(gql.protocol(format!(
        "the {label} listing failed: {}",
        one_line(&failures.join(" | "))
    )))
}

/// One warning per failing field when the listing came back with some fields nulled.
fn field_warnings(
    label: &str,
    list: &str,
    total: usize,
    errors: &[graphql_client::Error],
) -> Vec<String> {
    let mut by_field: BTreeMap<String, (BTreeSet<i32>, String)> = BTreeMap::new();
    let mut other = Vec::new();
    for e in errors {
        let path = e.path.as_deref().unwrap_or_default();
        match path {
            [PathFragment::Key(l), PathFragment::Index(i), PathFragment::Key(f), ..]
                if l == list =>
            {
                let entry = by_field
                    .entry(f.clone())
                    .or_insert_with(|| (BTreeSet::new(), one_line(&e.message)));
                entry.0.insert(*i);
            }
            _ => other.push(describe(e)),
        }
    }
    let mut out: Vec<String> = by_field
        .into_iter()
        .map(|(f, (items, msg))| {
            format!(
                "{label}: field `{f}` unavailable for {} of {total} ({msg}); those records lack it",
                items.len()
            )
        })
        .collect();
    if !other.is_empty() {
        other.truncate(3);
        out.push(format!("{label}: upstream errors: {}", other.join("; ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(message: &str, path: Option<Vec<PathFragment>>) -> graphql_client::Error {
        graphql_client::Error {
            message: message.into(),
            locations: None,
            path,
            extensions: None,
        }
    }

    #[test]
    fn errors_are_blamed_on_optional_fields() {
        use PathFragment::{Index, Key};
        let e = err(
            "boom",
            Some(vec![
                Key("participatoryProcesses".into()),
                Index(3),
                Key("stats".into()),
                Index(0),
            ]),
        );
        assert_eq!(
            blamed_field(&e, "participatoryProcesses", PROCESSES.switches),
            Some("stats")
        );
        let e = err(
            "boom",
            Some(vec![
                Key("participatoryProcesses".into()),
                Index(3),
                Key("title".into()),
            ]),
        );
        assert_eq!(
            blamed_field(&e, "participatoryProcesses", PROCESSES.switches),
            None
        );
        let e = err("Internal error resolving 'heroImage'", None);
        assert_eq!(
            blamed_field(&e, "assemblies", ASSEMBLIES.switches),
            Some("heroImage")
        );
    }

    #[test]
    fn field_warnings_group_by_field() {
        use PathFragment::{Index, Key};
        let errors = vec![
            err(
                "x",
                Some(vec![
                    Key("assemblies".into()),
                    Index(0),
                    Key("stats".into()),
                ]),
            ),
            err(
                "x",
                Some(vec![
                    Key("assemblies".into()),
                    Index(2),
                    Key("stats".into()),
                ]),
            ),
            err("y", None),
        ];
        let w = field_warnings("assemblies", "assemblies", 5, &errors);
        assert_eq!(w.len(), 2);
        assert!(w[0].contains("`stats` unavailable for 2 of 5"), "{w:?}");
    }

    #[test]
    fn every_switch_variable_is_declared_by_its_query() {
        for v in [
            &PROCESSES,
            &PROCESSES_TAXONOMIES,
            &PROCESSES_MINIMAL,
            &ASSEMBLIES,
            &ASSEMBLIES_TAXONOMIES,
            &ASSEMBLIES_MINIMAL,
        ] {
            for (field, var) in v.switches {
                assert!(
                    v.query.contains(&format!("${var}: Boolean!")),
                    "{} {var}",
                    v.name
                );
                assert!(
                    v.query.contains(&format!("{field} @include(if: ${var})")),
                    "{} {field}",
                    v.name
                );
            }
            assert_eq!(
                v.query.matches("@include(if:").count(),
                v.switches.len(),
                "{}",
                v.name
            );
        }
    }
}
