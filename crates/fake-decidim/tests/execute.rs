//! Execution of realistic harvester queries over the bundled samples, on every version.

use serde_json::{json, Value};
use snodo_fake_decidim::{complexity, execute, execute_with, validate, Dataset, Version};

fn sample(name: &str) -> Dataset {
    Dataset::sample(name).expect("bundled sample")
}

fn data(v: &Value) -> &Value {
    assert!(v.get("errors").is_none(), "unexpected errors: {v:#}");
    &v["data"]
}

fn run(version: Version, d: &Dataset, query: &str, vars: Value) -> Value {
    if let Err(errs) = validate(version, query) {
        panic!("query does not validate on {version}: {errs:?}");
    }
    execute(version, d, query, &vars)
}

const SPACES_QUERY: &str = r#"
query Spaces($locale: String!) {
  participatoryProcesses {
    __typename id slug
    title { translation(locale: $locale) translations { locale text machineTranslated } }
    subtitle { translations { locale text } }
    shortDescription { translations { locale text } }
    description { translations { locale text } }
    startDate endDate publishedAt updatedAt heroImage
    steps { id title { translation(locale: "it") } startDate endDate active position }
    participatoryProcessGroup { id title { translation(locale: $locale) } }
    stats { name value }
    components {
      __typename id weight
      name { translation(locale: $locale) }
      ... on Proposals { proposals(first: 5) { pageInfo { hasNextPage endCursor } nodes { id } } }
    }
  }
  assemblies {
    id slug privateSpace isTransparent
    title { translations { locale text } }
    area { name { translation(locale: $locale) } }
    parent { id slug }
  }
}
"#;

#[test]
fn spaces_query_runs_on_every_version() {
    let d = sample("partecipa");
    for v in Version::ALL {
        let r = run(v, &d, SPACES_QUERY, json!({"locale": "it"}));
        let data = data(&r);
        let processes = data["participatoryProcesses"].as_array().expect("list");
        assert_eq!(processes.len(), 8, "{v}: the unpublished process is hidden");
        assert!(processes
            .iter()
            .all(|p| p["slug"] != "riforma-pa-bozza" && p["__typename"] == "ParticipatoryProcess"));
        let bp = &processes[0];
        assert_eq!(bp["title"]["translation"], "Bilancio partecipativo 2026");
        assert_eq!(bp["title"]["translations"][1]["locale"], "en");
        assert_eq!(bp["steps"].as_array().map(Vec::len), Some(4));
        let comps = bp["components"].as_array().expect("components");
        assert_eq!(comps.len(), 4, "{v}: the unpublished component is hidden");
        assert_eq!(comps[0]["__typename"], "Proposals");
        assert_eq!(
            comps[0]["proposals"]["nodes"].as_array().map(Vec::len),
            Some(5)
        );
        assert_eq!(comps[0]["proposals"]["pageInfo"]["hasNextPage"], true);
        assert!(
            comps[1].get("proposals").is_none(),
            "fragment only on Proposals"
        );
        // 0.28 turned image paths into URLs and step dates into DateTimes.
        let hero = bp["heroImage"].as_str().expect("hero");
        let step_start = bp["steps"][0]["startDate"].as_str().expect("date");
        if v >= Version::V0_28 {
            assert!(hero.starts_with("http://localhost/uploads/"), "{v} {hero}");
            assert_eq!(step_start, "2026-02-01T00:00:00+01:00");
        } else {
            assert!(hero.starts_with("/uploads/"), "{v} {hero}");
            assert_eq!(step_start, "2026-02-01");
        }
        let assemblies = data["assemblies"].as_array().expect("list");
        let slugs: Vec<&str> = assemblies
            .iter()
            .filter_map(|a| a["slug"].as_str())
            .collect();
        assert_eq!(
            slugs,
            ["hub-partecipazione", "open-government", "consulta-giovani"],
            "{v}"
        );
        assert_eq!(assemblies[2]["parent"]["slug"], "hub-partecipazione");
    }
}

#[test]
fn leak_private_returns_hidden_spaces() {
    let mut d = sample("partecipa");
    d.flags.leak_private = true;
    let q = "{ participatoryProcesses { slug publishedAt } assemblies { slug privateSpace isTransparent } }";
    let r = run(Version::V0_28, &d, q, json!({}));
    let data = data(&r);
    let leaked = data["participatoryProcesses"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["slug"] == "riforma-pa-bozza"))
        .expect("unpublished process leaks");
    assert!(leaked["publishedAt"].is_null());
    let private = data["assemblies"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["slug"] == "comitato-tecnico-riservato"))
        .expect("private assembly leaks");
    assert_eq!(private["privateSpace"], true);
    assert_eq!(private["isTransparent"], false);
}

#[test]
fn organization_name_follows_the_version() {
    let d = sample("partecipa");
    let r = run(Version::V0_28, &d, "{ organization { name } }", json!({}));
    assert_eq!(data(&r)["organization"]["name"], "ParteciPa");
    let q = r#"{ organization { name { translation(locale: "it") } } }"#;
    let r = run(Version::V0_30Dev2024_10, &d, q, json!({}));
    assert_eq!(data(&r)["organization"]["name"]["translation"], "ParteciPa");
    // Asking 0.30 for a plain name fails whole, like a real server.
    let r = execute(
        Version::V0_30Dev2024_10,
        &d,
        "{ organization { name } }",
        &json!({}),
    );
    assert!(r.get("data").is_none());
    assert!(r["errors"][0]["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("Field must have selections")));
}

#[test]
fn decidim_version_disclosure() {
    let mut d = sample("partecipa");
    let q = "{ decidim { version applicationName } }";
    let r = run(Version::V0_27, &d, q, json!({}));
    assert_eq!(data(&r)["decidim"]["version"], "0.27.9");
    assert_eq!(data(&r)["decidim"]["applicationName"], "ParteciPa");
    d.flags.disclose_version = false;
    let r = run(Version::V0_30Dev2025_01, &d, q, json!({}));
    assert!(data(&r)["decidim"]["version"].is_null());
}

#[test]
fn invalid_query_gets_graphql_ruby_errors_without_data() {
    let d = sample("partecipa");
    let r = execute(
        Version::V0_28,
        &d,
        "{ participatoryProcesses { id titolo } }",
        &json!({}),
    );
    assert!(r.get("data").is_none());
    assert_eq!(
        r["errors"][0]["message"],
        "Field 'titolo' doesn't exist on type 'ParticipatoryProcess'"
    );
    assert_eq!(
        r["errors"][0]["locations"][0],
        json!({"line": 1, "column": 31})
    );
    assert_eq!(r["errors"][0]["extensions"]["code"], "undefinedField");
}

#[test]
fn metrics_removed_fails_the_whole_query() {
    let mut d = sample("partecipa");
    let q = "{ metrics(names: [\"users\"]) { name count } organization { stats { name value } } }";
    let r = run(Version::V0_28, &d, q, json!({}));
    assert_eq!(data(&r)["metrics"][0]["count"], 48213);
    d.flags.metrics_removed = true;
    let r = execute(Version::V0_28, &d, q, &json!({}));
    assert!(r.get("data").is_none(), "{r}");
    assert_eq!(
        r["errors"][0]["message"],
        "Field 'metrics' doesn't exist on type 'Query'"
    );
}

#[test]
fn taxonomies_and_scope_by_version() {
    let d = sample("partecipa");
    let q = r#"{ participatoryProcesses { slug taxonomies { id name { translation(locale: "it") } parent { name { translation(locale: "it") } } } } }"#;
    let r = run(Version::V0_30Dev2025_01, &d, q, json!({}));
    assert_eq!(
        data(&r)["participatoryProcesses"][0]["taxonomies"][0]["name"]["translation"],
        "Nazionale"
    );
    let q =
        r#"{ participatoryProcesses { slug scope { id name { translation(locale: "it") } } } }"#;
    let r = run(Version::V0_26, &d, q, json!({}));
    assert_eq!(
        data(&r)["participatoryProcesses"][0]["scope"]["name"]["translation"],
        "Nazionale"
    );
}

#[test]
fn single_space_lookups() {
    let d = sample("partecipa");
    let q = r#"query($slug: String) { participatoryProcess(slug: $slug) { id type title { translation(locale: "en") } } }"#;
    let r = run(
        Version::V0_27,
        &d,
        q,
        json!({"slug": "transizione-ecologica"}),
    );
    let p = &data(&r)["participatoryProcess"];
    assert_eq!(p["id"], "2");
    assert_eq!(p["type"], "Decidim::ParticipatoryProcess");
    assert_eq!(
        p["title"]["translation"],
        "National ecological transition plan"
    );
    let r = run(
        Version::V0_27,
        &d,
        "{ participatoryProcess(id: 9) { id } assembly(id: \"4\") { id } hub: assembly(id: 1) { slug } }",
        json!({}),
    );
    assert!(data(&r)["participatoryProcess"].is_null(), "unpublished");
    assert!(data(&r)["assembly"].is_null(), "private");
    assert_eq!(data(&r)["hub"]["slug"], "hub-partecipazione");
}

const PROPOSALS_PAGE: &str = r#"
query Page($id: ID!, $after: String) {
  component(id: $id) {
    __typename
    participatorySpace { id type }
    ... on Proposals {
      proposals(first: 5, after: $after) {
        pageInfo { hasNextPage endCursor }
        edges { cursor node { id title { translation(locale: "it") } publishedAt } }
      }
    }
  }
}
"#;

#[test]
fn pagination_walks_every_node_once() {
    let d = sample("partecipa");
    for v in Version::ALL {
        let mut after = Value::Null;
        let mut seen = Vec::new();
        for _ in 0..10 {
            let r = run(v, &d, PROPOSALS_PAGE, json!({"id": "11", "after": after}));
            let c = &data(&r)["component"];
            assert_eq!(c["__typename"], "Proposals");
            assert_eq!(
                c["participatorySpace"]["type"],
                "Decidim::ParticipatoryProcess"
            );
            let conn = &c["proposals"];
            for e in conn["edges"].as_array().expect("edges") {
                seen.push(e["node"]["id"].as_str().expect("id").to_owned());
            }
            if conn["pageInfo"]["hasNextPage"] != true {
                break;
            }
            after = conn["pageInfo"]["endCursor"].clone();
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            seen.len(),
            12,
            "{v}: 12 published proposals, the draft hidden"
        );
        assert_eq!(unique.len(), seen.len(), "{v}: no repeats");
    }
}

#[test]
fn page_size_is_capped_at_50() {
    let mut d = sample("partecipa");
    let p = d
        .process_mut("bilancio-partecipativo-2026")
        .expect("process");
    let many: Vec<Value> = (0..120)
        .map(|i| json!({"id": format!("{}", 5000 + i), "publishedAt": "2026-05-01T10:00:00+02:00"}))
        .collect();
    p["components"][0]["proposals"] = Value::Array(many);
    let q = "query($after: String) { component(id: 11) { ... on Proposals { proposals(first: 100, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } } } } }";
    let mut after = Value::Null;
    let mut pages = Vec::new();
    loop {
        let r = run(Version::V0_27, &d, q, json!({"after": after}));
        let conn = &data(&r)["component"]["proposals"];
        pages.push(conn["nodes"].as_array().map(Vec::len).unwrap_or(0));
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(pages, [50, 50, 20]);
}

#[test]
fn complexity_limit_on_0_26() {
    let d = sample("partecipa");
    let q = r#"{ component(id: 11) { ... on Proposals { proposals(first: 50) { nodes {
        id publishedAt state reference voteCount endorsementsCount
        title { translation(locale: "it") } } } } } }"#;
    assert!(validate(Version::V0_26, q).is_ok());
    let r = execute(Version::V0_26, &d, q, &json!({}));
    assert!(r.get("data").is_none());
    let msg = r["errors"][0]["message"].as_str().expect("message");
    assert!(
        msg.starts_with("Query has complexity of ")
            && msg.ends_with("which exceeds max complexity of 300"),
        "{msg}"
    );
    let n = complexity(Version::V0_26, q, &json!({})).expect("valid");
    assert!(n > 300, "{n}");
    assert!(msg.contains(&format!("of {n},")));
    // Same query on 0.27 (max 5000) runs.
    let r = run(Version::V0_27, &d, q, json!({}));
    assert!(data(&r)["component"]["proposals"]["nodes"].is_array());
    // Smaller pages fit on 0.26.
    let small = q.replace("first: 50", "first: 20");
    assert!(complexity(Version::V0_26, &small, &json!({})).expect("valid") <= 300);
    let r = run(Version::V0_26, &d, &small, json!({}));
    assert!(data(&r)["component"]["proposals"]["nodes"].is_array());
}

#[test]
fn depth_limit() {
    let d = sample("partecipa");
    // 16 levels: parent { parent { … } }
    let mut q = String::from("id");
    for _ in 0..15 {
        q = format!("parent {{ {q} }}");
    }
    let q = format!("{{ assemblies {{ {q} }} }}");
    let r = execute(Version::V0_28, &d, &q, &json!({}));
    assert_eq!(
        r["errors"][0]["message"],
        "Query has depth of 17, which exceeds max depth of 15"
    );
    assert!(validate(Version::V0_28, &q).is_err());
}

#[test]
fn field_error_keeps_the_rest_of_the_data() {
    let d = sample("partecipa");
    let q = "{ participatoryProcesses { slug stats { name value } } }";
    let r = execute_with(Version::V0_28, &d, q, &json!({}), None, Some("stats"));
    let processes = r["data"]["participatoryProcesses"]
        .as_array()
        .expect("data kept");
    assert_eq!(processes.len(), 8);
    assert!(processes[0]["stats"].is_null());
    assert_eq!(processes[0]["slug"], "bilancio-partecipativo-2026");
    let errors = r["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 8);
    assert_eq!(
        errors[0]["path"],
        json!(["participatoryProcesses", 0, "stats"])
    );
    assert_eq!(errors[0]["locations"][0]["line"], 1);
}

#[test]
fn fragments_aliases_and_directives() {
    let d = sample("partecipa");
    let q = r#"
      query Q($withSteps: Boolean!) {
        processes: participatoryProcesses { ...P }
      }
      fragment P on ParticipatoryProcess {
        key: slug
        it: title { translation(locale: "it") }
        en: title { translation(locale: "en") }
        steps @include(if: $withSteps) { id }
        components { ...C }
      }
      fragment C on ComponentInterface {
        __typename
        ... on Meetings { meetings { nodes { id typeOfMeeting startTime } } }
      }
    "#;
    let r = run(Version::V0_28, &d, q, json!({"withSteps": false}));
    let p = &data(&r)["processes"][0];
    assert_eq!(p["key"], "bilancio-partecipativo-2026");
    assert_eq!(p["en"]["translation"], "Participatory budget 2026");
    assert!(p.get("steps").is_none());
    let meetings = &p["components"][2]["meetings"]["nodes"];
    assert_eq!(meetings.as_array().map(Vec::len), Some(3));
    // Private non-transparent meetings are hidden.
    let r = run(
        Version::V0_28,
        &d,
        "{ assembly(id: 1) { components { ... on Meetings { meetings { nodes { id } } } } } }",
        json!({}),
    );
    assert_eq!(
        data(&r)["assembly"]["components"][0]["meetings"]["nodes"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

#[test]
fn variables_are_checked() {
    let d = sample("partecipa");
    let q = "query($id: ID!) { component(id: $id) { id } }";
    let r = execute(Version::V0_28, &d, q, &json!({}));
    assert!(r.get("data").is_none());
    assert_eq!(
        r["errors"][0]["message"],
        "Variable $id of type ID! was provided invalid value"
    );
    let r = execute(Version::V0_28, &d, q, &json!({"id": 11}));
    assert_eq!(data(&r)["component"]["id"], "11");
}

#[test]
fn no_query_and_operation_names() {
    let d = sample("partecipa");
    let r = execute(Version::V0_28, &d, "  ", &json!({}));
    assert_eq!(r["errors"][0]["message"], "No query string was present");
    let q = "query A { organization { stats { name } } } query B { decidim { version } }";
    let r = execute(Version::V0_28, &d, q, &json!({}));
    assert_eq!(r["errors"][0]["message"], "An operation name is required");
    let r = execute_with(Version::V0_28, &d, q, &json!({}), Some("B"), None);
    assert_eq!(data(&r)["decidim"]["version"], "0.28.4");
}

#[test]
fn introspection_works_unless_disabled() {
    let mut d = sample("partecipa");
    let q = r#"{ __type(name: "Organization") { fields { name type { kind name } } } decidim { version } }"#;
    let r = run(Version::V0_28, &d, q, json!({}));
    let fields: Vec<&str> = data(&r)["__type"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert_eq!(fields, ["name", "stats"]);
    assert_eq!(data(&r)["decidim"]["version"], "0.28.4");
    let r = run(
        Version::V0_30Dev2025_01,
        &d,
        "{ __schema { queryType { name } } }",
        json!({}),
    );
    assert_eq!(data(&r)["__schema"]["queryType"]["name"], "Query");
    d.flags.disable_introspection = true;
    let r = execute(Version::V0_28, &d, q, &json!({}));
    assert!(r.get("data").is_none());
    assert_eq!(
        r["errors"][0]["message"],
        "Field '__type' doesn't exist on type 'Query'"
    );
}

#[test]
fn single_items_by_id_on_components() {
    let d = sample("partecipa");
    let q = r#"{ component(id: 11) { ... on Proposals {
        one: proposal(id: 1001) { id title { translation(locale: "it") } }
        draft: proposal(id: 1999) { id }
    } } }"#;
    let r = run(Version::V0_28, &d, q, json!({}));
    let c = &data(&r)["component"];
    assert_eq!(
        c["one"]["title"]["translation"],
        "Più alberi nei cortili delle scuole"
    );
    assert!(c["draft"].is_null(), "unpublished proposals stay hidden");
}
