//! Every query this connector can send, checked against the SDL of every Decidim version it is
//! meant for; probes checked to really tell versions apart; no query asks for personal data,
//! introspection or `metrics`; and each query's complexity, computed the way graphql-ruby does,
//! stays well under the version's limit.

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use apollo_compiler::executable::{Selection, SelectionSet};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use snodo_decidim::{query_targets, QUERIES, QUERY_TARGETS, VERSIONS};

fn schema(version: &str) -> &'static Valid<Schema> {
    static SCHEMAS: OnceLock<HashMap<String, Valid<Schema>>> = OnceLock::new();
    let all = SCHEMAS.get_or_init(|| {
        VERSIONS
            .iter()
            .map(|v| {
                let path = format!("{}/schemas/decidim-{v}.graphql", env!("CARGO_MANIFEST_DIR"));
                let sdl = std::fs::read_to_string(&path).unwrap();
                // The SDLs are reconstructions: parse leniently, keep what parsed.
                let schema = match Schema::parse(sdl, &path) {
                    Ok(s) => s,
                    Err(e) => e.partial,
                };
                (v.to_string(), Valid::assume_valid(schema))
            })
            .collect()
    });
    &all[version]
}

/// Validates an executable document fully against one version's schema.
fn validate(version: &str, query: &str) -> Result<Valid<ExecutableDocument>, String> {
    ExecutableDocument::parse_and_validate(schema(version), query, "query.graphql")
        .map_err(|e| e.errors.to_string())
}

#[test]
fn every_query_validates_on_every_version_it_targets() {
    let mut checked = 0;
    for (name, text) in QUERIES {
        let targets = query_targets(name);
        assert!(!targets.is_empty(), "{name} has no target versions");
        for v in targets {
            if let Err(e) = validate(v, text) {
                panic!("{name} does not validate on Decidim {v}:\n{e}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 60, "only {checked} checks");
}

#[test]
fn query_names_match_operations_and_files() {
    let names: BTreeSet<&str> = QUERIES.iter().map(|(n, _)| *n).collect();
    let targeted: BTreeSet<&str> = QUERY_TARGETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, targeted);
    for (name, text) in QUERIES {
        assert!(
            text.contains(&format!("query {name}(")) || text.contains(&format!("query {name} {{")),
            "{name} is not the operation name of its text"
        );
    }
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/queries"))
        .unwrap()
        .count();
    assert_eq!(files, QUERIES.len(), "a .graphql file is not in QUERIES");
}

#[test]
fn probes_fail_where_the_capability_is_missing() {
    let expect_fail: &[(&str, &[&str])] = &[
        (
            "ProbeOrganizationName",
            &["0.30dev-2024-10", "0.30dev-2025-01"],
        ),
        ("ProbeOrganizationNameTranslated", &["0.26", "0.27", "0.28"]),
        (
            "ProbeTaxonomies",
            &["0.26", "0.27", "0.28", "0.30dev-2024-10"],
        ),
        ("ProbeProcessTypes", &["0.26"]),
        ("Processes", &["0.30dev-2025-01"]),
        (
            "ProcessesTaxonomies",
            &["0.26", "0.27", "0.28", "0.30dev-2024-10"],
        ),
        (
            "AssembliesTaxonomies",
            &["0.26", "0.27", "0.28", "0.30dev-2024-10"],
        ),
    ];
    for (name, versions) in expect_fail {
        let text = QUERIES.iter().find(|(n, _)| n == name).unwrap().1;
        for v in *versions {
            assert!(
                validate(v, text).is_err(),
                "{name} validates on {v}: it cannot tell versions apart"
            );
        }
    }
}

/// Field names that carry personal data or that must never be asked for.
const FORBIDDEN: &[&str] = &[
    "metrics",
    "author",
    "authors",
    "user",
    "users",
    "members",
    "nickname",
    "avatarUrl",
    "profilePath",
    "comments",
    "endorsements",
    "session",
    "createdBy",
    "fullName",
    "__schema",
    "__type",
];

fn field_names(doc: &ExecutableDocument, set: &SelectionSet, out: &mut BTreeSet<String>) {
    for sel in &set.selections {
        match sel {
            Selection::Field(f) => {
                out.insert(f.name.to_string());
                field_names(doc, &f.selection_set, out);
            }
            Selection::InlineFragment(i) => field_names(doc, &i.selection_set, out),
            Selection::FragmentSpread(s) => {
                field_names(doc, &doc.fragments[&s.fragment_name].selection_set, out)
            }
        }
    }
}

#[test]
fn no_query_asks_for_personal_data_metrics_or_introspection() {
    for (name, text) in QUERIES {
        let doc = validate(query_targets(name)[0], text).unwrap();
        let mut names = BTreeSet::new();
        for op in doc.operations.iter() {
            field_names(&doc, &op.selection_set, &mut names);
        }
        for bad in FORBIDDEN {
            assert!(!names.contains(*bad), "{name} asks for `{bad}`");
        }
    }
}

/// graphql-ruby's complexity: 1 per field plus its children; a connection costs
/// `1 + first * items + pageInfo + nodes/edges`. Inline fragments are added up (the pessimistic
/// reading; graphql-ruby itself takes the most complex branch).
fn complexity(set: &SelectionSet, first: i64) -> i64 {
    let mut total = 0;
    for sel in &set.selections {
        total += match sel {
            Selection::Field(f) => {
                let children = complexity(&f.selection_set, first);
                if f.definition.ty.inner_named_type().ends_with("Connection") {
                    let mut metadata = 0;
                    let mut nodes_edges = 0;
                    for s in &f.selection_set.selections {
                        if let Selection::Field(c) = s {
                            match c.name.as_str() {
                                "pageInfo" => {
                                    metadata += 1 + c.selection_set.selections.len() as i64
                                }
                                "nodes" | "edges" => nodes_edges += 1,
                                _ => {}
                            }
                        }
                    }
                    let items = children - metadata - nodes_edges;
                    1 + first * items + metadata + nodes_edges
                } else {
                    1 + children
                }
            }
            Selection::InlineFragment(i) => complexity(&i.selection_set, first),
            Selection::FragmentSpread(_) => unreachable!("no named fragments are used"),
        };
    }
    total
}

#[test]
fn complexity_stays_well_under_each_versions_limit() {
    // `first` is always 50 at most (Decidim's cap); 0.26 allows 300, later versions 5000.
    for (name, text) in QUERIES {
        for v in query_targets(name) {
            let doc = validate(v, text).unwrap();
            let op = doc.operations.iter().next().unwrap();
            let c = complexity(&op.selection_set, 50);
            let limit = if *v == "0.26" { 300 } else { 5000 };
            eprintln!("complexity {name} on {v}: {c}");
            let sent_here = !(*name == "CountBatch" && *v == "0.26");
            if sent_here {
                assert!(
                    c * 2 <= limit,
                    "{name} on {v}: complexity {c} vs limit {limit}"
                );
            }
            if name.starts_with("Count") && *name != "CountBatch" {
                assert!(c <= 60, "{name}: {c}");
            }
        }
    }
}
