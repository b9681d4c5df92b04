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

use crate::client::{describe, one_line, Answer, Gql};
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

/// What one answer to a listing variant means.
#[derive(Debug)]
enum Decision {
    /// The list is there (maybe with some fields nulled, explained in `warnings`).
    Listed {
        listing: Listing,
        warnings: Vec<String>,
    },
    /// The list is missing because of these optional fields: ask again without them.
    Retry(Vec<(&'static str, String)>),
    /// The platform has no such list at all (the module is not installed): nothing to list.
    Absent(String),
    /// This variant cannot work here; why.
    Failed(String),
}

fn judge(answer: &Answer, list: &str, label: &str, v: &Variant, off: &BTreeSet<&str>) -> Decision {
    if let Some(items) = answer.field(list).and_then(Value::as_array) {
        let mut warnings = Vec::new();
        if !answer.errors.is_empty() {
            warnings.extend(field_warnings(label, list, items.len(), &answer.errors));
        }
        let nulls = items.iter().filter(|x| !x.is_object()).count();
        if nulls > 0 {
            warnings.push(format!(
                "{label}: {nulls} of {} listed items came back empty; the listing is partial, so nothing is marked gone",
                items.len()
            ));
        }
        return Decision::Listed {
            listing: Listing {
                items: items.iter().filter(|x| x.is_object()).cloned().collect(),
                complete: nulls == 0,
            },
            warnings,
        };
    }
    // The list itself is missing. With `data` present it was an execution error (a non-null
    // field's error propagates up to the list): blame the optional fields named by the errors.
    // Without `data` the document was refused whole (validation): switching fields off with
    // @include would not help, the next variant might.
    let mut blamed: Vec<(&'static str, String)> = Vec::new();
    if answer.data.is_some() {
        for e in &answer.errors {
            if let Some(f) = blamed_field(e, list, v.switches) {
                if !off.contains(f) && !blamed.iter().any(|(b, _)| *b == f) {
                    blamed.push((f, describe(e)));
                }
            }
        }
    }
    if !blamed.is_empty() {
        return Decision::Retry(blamed);
    }
    // graphql-ruby: "Field 'assemblies' doesn't exist on type 'Query'": the module is missing.
    let missing = format!("'{list}' doesn't exist on type 'Query'");
    if answer.data.is_none() && answer.errors.iter().any(|e| e.message.contains(&missing)) {
        return Decision::Absent(answer.messages());
    }
    Decision::Failed(if answer.errors.is_empty() {
        format!("`{list}` came back null")
    } else {
        answer.messages()
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
            match judge(&answer, list, label, v, &off) {
                Decision::Listed {
                    listing,
                    warnings: w,
                } => {
                    warnings.extend(w);
                    if i > 0 {
                        warnings.push(format!(
                            "{label}: listed with the fallback query {} after: {}; some details are missing",
                            v.name,
                            failures.join(" | ")
                        ));
                    }
                    return Ok(listing);
                }
                Decision::Retry(fields) => {
                    for (f, msg) in fields {
                        warnings.push(format!(
                            "{label}: field `{f}` failed upstream ({msg}); listed again without it, so no record has it"
                        ));
                        off.insert(f);
                    }
                }
                Decision::Absent(why) => {
                    warnings.push(format!(
                        "{label}: the platform has no {label} ({why}); nothing to list"
                    ));
                    return Ok(Listing {
                        items: Vec::new(),
                        complete: true,
                    });
                }
                Decision::Failed(why) => {
                    failures.push(format!("{}: {why}", v.name));
                    break;
                }
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

    fn answer(v: serde_json::Value) -> Answer {
        let r: graphql_client::Response<Value> = serde_json::from_value(v).unwrap();
        Answer {
            data: r.data.filter(|d| !d.is_null()),
            errors: r.errors.unwrap_or_default(),
        }
    }

    #[test]
    fn a_propagated_field_error_asks_again_without_the_field() {
        // graphql-ruby nulls the whole list when a non-null field (`categories: [Category]!`)
        // fails in one item.
        let a = answer(serde_json::json!({
            "data": {"participatoryProcesses": null},
            "errors": [{"message": "boom", "path": ["participatoryProcesses", 2, "categories"]}]
        }));
        let off = BTreeSet::new();
        match judge(&a, "participatoryProcesses", "processes", &PROCESSES, &off) {
            Decision::Retry(fields) => {
                assert_eq!(fields.len(), 1);
                assert_eq!(fields[0].0, "categories");
                assert!(fields[0].1.contains("boom"));
            }
            d => panic!("{d:?}"),
        }
        // Already switched off: nothing more to try with this variant.
        let off = BTreeSet::from(["categories"]);
        assert!(matches!(
            judge(&a, "participatoryProcesses", "processes", &PROCESSES, &off),
            Decision::Failed(_)
        ));
        let vars = variables(&PROCESSES, &off);
        assert_eq!(vars["withCategories"], serde_json::json!(false));
        assert_eq!(vars["withStats"], serde_json::json!(true));
    }

    #[test]
    fn validation_failures_and_core_field_errors_move_to_the_next_variant() {
        let refused = answer(serde_json::json!({
            "errors": [{"message": "Field 'taxonomies' doesn't exist on type 'ParticipatoryProcess'",
                        "path": ["query ProcessesTaxonomies", "participatoryProcesses", "taxonomies"]}]
        }));
        let off = BTreeSet::new();
        assert!(matches!(
            judge(&refused, "participatoryProcesses", "processes", &PROCESSES_TAXONOMIES, &off),
            Decision::Failed(m) if m.contains("taxonomies")
        ));
        let core = answer(serde_json::json!({
            "data": {"participatoryProcesses": null},
            "errors": [{"message": "boom", "path": ["participatoryProcesses", 0, "publishedAt"]}]
        }));
        assert!(matches!(
            judge(
                &core,
                "participatoryProcesses",
                "processes",
                &PROCESSES,
                &off
            ),
            Decision::Failed(_)
        ));
    }

    #[test]
    fn a_missing_module_is_an_empty_listing() {
        let a = answer(serde_json::json!({
            "errors": [{"message": "Field 'assemblies' doesn't exist on type 'Query'",
                        "locations": [{"line": 2, "column": 3}]}]
        }));
        assert!(matches!(
            judge(
                &a,
                "assemblies",
                "assemblies",
                &ASSEMBLIES,
                &BTreeSet::new()
            ),
            Decision::Absent(_)
        ));
    }

    #[test]
    fn partial_lists_are_not_complete() {
        let a = answer(serde_json::json!({
            "data": {"assemblies": [{"id": "1"}, null, {"id": "3"}]},
            "errors": [{"message": "boom", "path": ["assemblies", 1]}]
        }));
        match judge(
            &a,
            "assemblies",
            "assemblies",
            &ASSEMBLIES,
            &BTreeSet::new(),
        ) {
            Decision::Listed { listing, warnings } => {
                assert_eq!(listing.items.len(), 2);
                assert!(!listing.complete);
                assert!(
                    warnings.iter().any(|w| w.contains("partial")),
                    "{warnings:?}"
                );
            }
            d => panic!("{d:?}"),
        }
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
