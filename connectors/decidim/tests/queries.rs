//! Every query this connector can send, checked against the SDL of every Decidim version it is
//! meant for (with the fake server's validator, which checks what graphql-ruby checks); probes
//! checked to really tell versions apart; no query asks for personal data, introspection or
//! `metrics`; each query's complexity stays well under the version's limit.

use std::collections::BTreeSet;
use std::str::FromStr;

use serde_json::{json, Map, Value};
use snodo_decidim::{meetings_page_size, query_targets, QUERIES, QUERY_TARGETS, VERSIONS};
use snodo_fake_decidim::{complexity, validate, Version};

fn version(label: &str) -> Version {
    Version::from_str(label).unwrap_or_else(|e| panic!("{e}"))
}

fn text(name: &str) -> &'static str {
    QUERIES.iter().find(|(n, _)| *n == name).unwrap().1
}

#[test]
fn the_connector_and_the_fake_know_the_same_versions() {
    let ours: Vec<&str> = VERSIONS.to_vec();
    let fake: Vec<&str> = Version::ALL.iter().map(|v| v.as_str()).collect();
    assert_eq!(ours, fake);
}

#[test]
fn every_query_validates_on_every_version_it_targets() {
    let mut checked = 0;
    for (name, text) in QUERIES {
        let targets = query_targets(name);
        assert!(!targets.is_empty(), "{name} has no target versions");
        for v in targets {
            if let Err(e) = validate(version(v), text) {
                panic!("{name} does not validate on Decidim {v}:\n{}", e.join("\n"));
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
        for v in *versions {
            assert!(
                validate(version(v), text(name)).is_err(),
                "{name} validates on {v}: it cannot tell versions apart"
            );
        }
    }
}

/// Names that carry personal data or must never be asked for.
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
    "versions",
    "session",
    "createdBy",
    "fullName",
    "__schema",
    "__type",
];

/// Every name in a document (comments removed): fields, arguments, types, variables.
fn tokens(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| {
            l.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn no_query_asks_for_personal_data_metrics_or_introspection() {
    for (name, text) in QUERIES {
        let names = tokens(text);
        for bad in FORBIDDEN {
            assert!(!names.contains(*bad), "{name} mentions `{bad}`");
        }
    }
}

/// Variables as the connector sends them: every optional field on, pages of 50, every batch
/// slot in use.
fn variables(text: &str, limit: u64) -> Value {
    let mut m = Map::new();
    let meetings = text.contains("query Meetings(");
    for t in tokens(text) {
        if t.starts_with("with") || t.starts_with("use") {
            m.insert(t, json!(true));
        } else if t == "first" && meetings {
            m.insert(t, json!(meetings_page_size(limit as u32, 50)));
        } else if t == "first" {
            m.insert(t, json!(50));
        } else if t.starts_with("id") {
            m.insert(t, json!("1"));
        }
    }
    Value::Object(m)
}

#[test]
fn complexity_stays_well_under_each_versions_limit() {
    for (name, text) in QUERIES {
        for v in query_targets(name) {
            let v = version(v);
            let limit = v.default_max_complexity();
            let c = complexity(v, text, &variables(text, limit)).unwrap();
            let sent_here = !(*name == "CountBatch" && v == Version::V0_26);
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

/// Names a meeting query could use to reach people: organisers, registrations, attendees,
/// comments and their authors.
const PEOPLE: &[&str] = &[
    "author",
    "organization",
    "organizer",
    "user",
    "registrations",
    "registrationForm",
    "attendees",
    "attendeeCount",
    "attendingOrganizations",
    "comments",
    "onlineMeetingUrl",
    "closingReport",
];

#[test]
fn the_meetings_query_asks_for_no_people_and_fits_each_version() {
    let text = text("Meetings");
    let names = tokens(text);
    for bad in PEOPLE {
        assert!(!names.contains(*bad), "Meetings mentions `{bad}`");
    }
    // What it needs to drop what must not be shown, on every version.
    for needed in [
        "isWithdrawn",
        "privateMeeting",
        "transparent",
        "startTime",
        "endTime",
    ] {
        assert!(names.contains(needed), "Meetings lacks `{needed}`");
    }
    for label in VERSIONS {
        let v = version(label);
        let limit = v.default_max_complexity();
        let first = meetings_page_size(limit as u32, 50);
        let c = complexity(v, text, &json!({"id": "1", "first": first})).unwrap();
        assert!(
            c * 2 <= limit,
            "{label}: first {first} costs {c} of {limit}"
        );
        // The page is as large as the budget allows: one more item would not fit.
        if first < 50 {
            let more = complexity(v, text, &json!({"id": "1", "first": first + 1})).unwrap();
            assert!(
                more * 2 > limit,
                "{label}: pages of {first} are needlessly small"
            );
        }
    }
}

/// Decidim 0.20 as Milano Partecipa runs it, from the real type definitions (see the header of
/// the transcription): the probes and the minimal process listing are valid there, so a harvest
/// of a 0.20 instance gets its processes through the listing's fallback, while the full listing
/// and the 0.26-on probes are refused, which is what sends the connector down to the fallback.
#[test]
fn decidim_0_20_as_milano_runs_it_accepts_the_probe_and_the_minimal_listing() {
    const FILE: &str = "decidim-0.20.0-partial.graphql";
    let sdl = include_str!("../schemas/transcribed/decidim-0.20.0-partial.graphql");
    for name in ["ProbeVersion", "ProbeOrganizationName", "ProcessesMinimal"] {
        if let Err(e) = snodo_fake_decidim::validate_sdl(sdl, FILE, text(name)) {
            panic!(
                "{name} does not validate on Decidim 0.20:\n{}",
                e.join("\n")
            );
        }
    }
    for name in [
        "Processes",
        "ProcessesTaxonomies",
        "ProbeOrganizationNameTranslated",
        "ProbeProcessTypes",
    ] {
        let e = snodo_fake_decidim::validate_sdl(sdl, FILE, text(name))
            .expect_err(&format!("{name} must not validate on Decidim 0.20"));
        assert!(e.iter().all(|l| !l.contains("not a valid schema")), "{e:?}");
    }
}
