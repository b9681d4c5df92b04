//! Every bundled sample answers a harvester's queries on every version, with the expected shapes.

use serde_json::{json, Value};
use snodo_fake_decidim::{execute, validate, Dataset, Version};

/// A reference day for the open/upcoming/closed split of the samples (their dates are far
/// enough from it to stay true until the end of 2028).
const TODAY: &str = "2026-11-23";

fn spaces_query(v: Version) -> String {
    let territory = if v == Version::V0_30Dev2025_01 {
        r#"taxonomies { id name { translation(locale: "it") } }"#
    } else {
        r#"scope { id name { translation(locale: "it") } }"#
    };
    format!(
        r#"query Spaces {{
  participatoryProcesses {{
    id slug
    title {{ translations {{ locale text machineTranslated }} }}
    subtitle {{ translations {{ locale text }} }}
    description {{ translations {{ locale text }} }}
    startDate endDate publishedAt updatedAt heroImage
    {territory}
    steps {{ id active title {{ translation(locale: "it") }} startDate endDate }}
    stats {{ name value }}
    components {{
      __typename id
      name {{ translation(locale: "it") }}
      ... on Proposals {{ proposals(first: 20) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ id publishedAt title {{ translation(locale: "it") }} }} }} }}
      ... on Meetings {{ meetings(first: 20) {{ nodes {{ id startTime endTime typeOfMeeting }} }} }}
      ... on Debates {{ debates(first: 20) {{ nodes {{ id }} }} }}
      ... on Surveys {{ surveys(first: 20) {{ nodes {{ id }} }} }}
      ... on Budgets {{ budgets(first: 20) {{ nodes {{ id total_budget projects {{ id budget_amount }} }} }} }}
      ... on Blogs {{ posts(first: 20) {{ nodes {{ id }} }} }}
      ... on Pages {{ pages(first: 20) {{ nodes {{ id }} }} }}
      ... on Accountability {{ results(first: 20) {{ nodes {{ id progress }} }} }}
      ... on Sortitions {{ sortitions(first: 20) {{ nodes {{ id }} }} }}
    }}
  }}
  assemblies {{
    id slug privateSpace isTransparent publishedAt
    title {{ translations {{ locale text }} }}
    area {{ name {{ translation(locale: "it") }} }}
    components {{ __typename id }}
  }}
}}"#
    )
}

fn status(p: &Value) -> &'static str {
    let start = p["startDate"].as_str().map(|s| &s[..10]);
    let end = p["endDate"].as_str().map(|s| &s[..10]);
    match (start, end) {
        (Some(s), _) if s > TODAY => "upcoming",
        (_, Some(e)) if e < TODAY => "closed",
        _ => "open",
    }
}

#[test]
fn every_sample_answers_every_version() {
    for name in Dataset::sample_names() {
        let d = Dataset::sample(name).expect("sample");
        for v in Version::ALL {
            let q = spaces_query(v);
            assert_eq!(validate(v, &q), Ok(()), "{v}");
            let r = execute(v, &d, &q, &json!({}));
            assert!(r.get("errors").is_none(), "{name} on {v}: {r:#}");
            let processes = r["data"]["participatoryProcesses"]
                .as_array()
                .expect("list");
            assert!(!processes.is_empty(), "{name}");
            for p in processes {
                assert!(p["id"].is_string() && p["slug"].is_string(), "{name}: {p}");
                assert!(p["title"]["translations"].is_array(), "{name}");
                for c in p["components"].as_array().expect("components") {
                    assert!(c["__typename"].is_string() && c["__typename"] != "Component");
                }
            }
            let org = if v >= Version::V0_30Dev2024_10 {
                r#"{ organization { name { translation(locale: "it") } stats { name value } } }"#
            } else {
                "{ organization { name stats { name value } } }"
            };
            let r = execute(v, &d, org, &json!({}));
            assert!(r.get("errors").is_none(), "{name} on {v}: {r:#}");
        }
    }
}

fn processes(d: &Dataset) -> Vec<Value> {
    let r = execute(
        Version::V0_28,
        d,
        "{ participatoryProcesses { slug startDate endDate } }",
        &json!({}),
    );
    r["data"]["participatoryProcesses"]
        .as_array()
        .cloned()
        .expect("list")
}

#[test]
fn samples_have_open_upcoming_and_closed_processes() {
    let expected = [
        ("partecipa", (3, 2, 3)),
        ("emilia-romagna", (3, 1, 2)),
        ("puglia", (2, 1, 2)),
    ];
    for (name, (open, upcoming, closed)) in expected {
        let d = Dataset::sample(name).expect("sample");
        let ps = processes(&d);
        let count = |s: &str| ps.iter().filter(|p| status(p) == s).count();
        assert_eq!(
            (count("open"), count("upcoming"), count("closed")),
            (open, upcoming, closed),
            "{name}"
        );
        // Each has one unpublished process and one private assembly, shown only when leaking.
        let mut leaky = d.clone();
        leaky.flags.leak_private = true;
        assert_eq!(processes(&leaky).len(), ps.len() + 1, "{name}");
        let q = "{ assemblies { slug } }";
        let n = |d: &Dataset| {
            execute(Version::V0_28, d, q, &json!({}))["data"]["assemblies"]
                .as_array()
                .map(Vec::len)
        };
        assert_eq!(n(&leaky), n(&d).map(|x| x + 1), "{name}");
    }
}

#[test]
fn samples_scopes_match_their_platforms() {
    let q = r#"{ participatoryProcesses { scope { name { translation(locale: "it") } } } }"#;
    let scopes = |name: &str| -> Vec<String> {
        let d = Dataset::sample(name).expect("sample");
        execute(Version::V0_27, &d, q, &json!({}))["data"]["participatoryProcesses"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|p| {
                p["scope"]["name"]["translation"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect()
    };
    assert!(scopes("partecipa").iter().all(|s| s == "Nazionale"));
    let er = scopes("emilia-romagna");
    for s in [
        "Comune di Bologna",
        "Forlì",
        "Reggio nell'Emilia",
        "Unione dei comuni della Bassa Romagna",
    ] {
        assert!(er.iter().any(|x| x == s), "{s} in {er:?}");
    }
    let pu = scopes("puglia");
    for s in ["Bari", "Lecce", "Regione Puglia"] {
        assert!(pu.iter().any(|x| x == s), "{s} in {pu:?}");
    }
}

#[test]
fn regional_samples_are_italian_only_and_partecipa_bilingual() {
    let q = "{ participatoryProcesses { title { locales } } }";
    for (name, want) in [
        ("emilia-romagna", vec!["it"]),
        ("puglia", vec!["it"]),
        ("partecipa", vec!["it", "en"]),
    ] {
        let d = Dataset::sample(name).expect("sample");
        let r = execute(Version::V0_28, &d, q, &json!({}));
        let first = &r["data"]["participatoryProcesses"][0]["title"]["locales"];
        assert_eq!(first, &json!(want), "{name}");
    }
}

#[test]
fn proposals_carry_author_data_for_privacy_tests() {
    let d = Dataset::sample("partecipa").expect("sample");
    let q = "{ component(id: 11) { ... on Proposals { proposals(first: 1) { nodes { author { name nickname } } } } } }";
    let r = execute(Version::V0_28, &d, q, &json!({}));
    let author = &r["data"]["component"]["proposals"]["nodes"][0]["author"];
    assert_eq!(author["name"], "Giulia Rossi");
    assert_eq!(author["nickname"], "giulia_rossi");
}

#[test]
fn hostile_sample_misbehaves() {
    let d = Dataset::sample("hostile").expect("sample");
    assert!(d.flags.leak_private);
    let q = r#"{
      participatoryProcesses { slug publishedAt title { translation(locale: "it") translations { locale text } } description { translation(locale: "it") } startDate endDate }
      assemblies { slug privateSpace isTransparent title { translation(locale: "it") } }
    }"#;
    let r = execute(Version::V0_28, &d, q, &json!({}));
    assert!(r.get("errors").is_none(), "{r:#}");
    let ps = r["data"]["participatoryProcesses"]
        .as_array()
        .expect("list");
    let by_slug = |s: &str| ps.iter().find(|p| p["slug"] == s).expect(s);
    assert!(by_slug("processo-con-script")["title"]["translation"]
        .as_str()
        .is_some_and(|t| t.contains("<script>")));
    let desc = by_slug("processo-con-script")["description"]["translation"]
        .as_str()
        .expect("description");
    for bad in ["<iframe", "onerror=", "javascript:", "<svg onload"] {
        assert!(desc.contains(bad), "{bad}");
    }
    let german = by_slug("solo-tedesco");
    assert!(german["title"]["translation"].is_null());
    assert_eq!(german["title"]["translations"][0]["locale"], "de");
    let empty = by_slug("testi-vuoti");
    assert_eq!(empty["title"]["translation"], "");
    assert!(empty["startDate"].is_null() && empty["endDate"].is_null());
    assert!(by_slug("testo-lunghissimo")["description"]["translation"]
        .as_str()
        .is_some_and(|t| t.len() > 40_000));
    assert!(by_slug("processo-non-pubblicato")["publishedAt"].is_null());
    let assemblies = r["data"]["assemblies"].as_array().expect("list");
    let riservata = assemblies
        .iter()
        .find(|a| a["slug"] == "assemblea-riservata")
        .expect("leaked");
    assert_eq!(riservata["title"]["translation"], "Assemblea riservata");
    assert_eq!(riservata["privateSpace"], true);
    assert_eq!(riservata["isTransparent"], false);

    // Well behaved, the same instance hides them.
    let mut tame = d.clone();
    tame.flags.leak_private = false;
    let r = execute(Version::V0_28, &tame, q, &json!({}));
    let slugs: Vec<&str> = r["data"]["participatoryProcesses"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|p| p["slug"].as_str())
        .collect();
    assert!(!slugs.contains(&"processo-non-pubblicato") && !slugs.contains(&"processo-privato"));
    assert_eq!(r["data"]["assemblies"].as_array().map(Vec::len), Some(1));
}
