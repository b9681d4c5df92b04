//! The CONSUL connector against a fake `/graphql` following CONSUL's published types
//! (graphql-ruby connections, camel-cased fields, its "doesn't exist" error wording).

use serde_json::{json, Value};
use snodo_connector::{Connector, HarvestContext, HttpClient, HttpSettings, SourceSpec};
use snodo_consul::{ConsulConnector, ConsulParams};
use snodo_model::{Kind, Territory};
use snodo_sitekit::fake::FakeSite;
use tokio_util::sync::CancellationToken;

fn ctx(spec: SourceSpec) -> HarvestContext {
    let http = HttpClient::new(HttpSettings {
        min_delay: std::time::Duration::ZERO,
        max_retries: 0,
        ..HttpSettings::default()
    })
    .unwrap();
    HarvestContext::new(spec, http.for_run("t"), CancellationToken::new())
}

fn connection(nodes: Vec<Value>, next: Option<&str>) -> Value {
    json!({
        "pageInfo": {"hasNextPage": next.is_some(), "endCursor": next},
        "edges": nodes.into_iter().map(|n| json!({"node": n})).collect::<Vec<_>>()
    })
}

fn proposal(id: u32, title: &str) -> Value {
    json!({
        "id": id.to_string(), "title": title,
        "summary": "<p>Resumen <script>alert(1)</script></p>",
        "description": "<p onclick=\"x()\">Descripción</p>",
        "publicCreatedAt": "2024-03-01 10:00:00 +0100",
        "retiredAt": if id == 2 { json!("2024-05-01T00:00:00Z") } else { Value::Null },
        "commentsCount": 4, "cachedVotesUp": 120,
        "geozone": {"name": "Centro"},
        "tags": {"edges": [{"node": {"name": "Movilidad"}}]}
    })
}

/// Answers like CONSUL's API: budgets, proposals (two pages), debates; no `polls` root field.
fn consul(body: &str) -> (u16, String) {
    let req: Value = serde_json::from_str(body).unwrap_or_default();
    let q = req["query"].as_str().unwrap_or_default();
    let after = req["variables"]["after"].as_str();
    let data = if q.contains("polls(") {
        return (200, json!({"errors": [{"message": "Field 'polls' doesn't exist on type 'Query'", "locations": [{"line": 1, "column": 47}]}]}).to_string());
    } else if q.contains("budgets(") {
        json!({"budgets": connection(vec![json!({"id": "7", "name": "Presupuestos participativos 2024", "phase": "balloting"})], None)})
    } else if q.contains("proposals(") {
        match after {
            None => {
                json!({"proposals": connection(vec![proposal(1, "Más árboles"), proposal(2, "Carril bici")], Some("Mg"))})
            }
            Some("Mg") => json!({"proposals": connection(vec![proposal(3, "Fuentes")], None)}),
            _ => json!({"proposals": connection(vec![], None)}),
        }
    } else if q.contains("debates(") {
        json!({"debates": connection(vec![json!({"id": "11", "title": "¿Peatonalizar el centro?", "description": "Debate", "publicCreatedAt": "2024-01-01 09:00:00 +0100", "commentsCount": 30, "tags": {"edges": []}})], None)})
    } else {
        return (
            200,
            json!({"errors": [{"message": "unexpected query"}]}).to_string(),
        );
    };
    (200, json!({"data": data}).to_string())
}

fn spec(url: &str) -> SourceSpec {
    SourceSpec {
        id: "decide".into(),
        name: "Decide".into(),
        url: url.into(),
        territory: Territory::default(),
    }
}

#[tokio::test]
async fn budgets_proposals_and_debates_with_pagination_and_no_polls() {
    let site = FakeSite::start().await;
    site.on_post("/graphql", consul);
    let s = spec(&site.base);
    let c = ConsulConnector::new(&s, ConsulParams::default()).unwrap();
    let out = c.harvest(&ctx(s), None).await.unwrap();
    assert_eq!(out.records.len(), 5, "{:?}", out.warnings);
    assert!(out.complete);
    assert!(
        out.warnings.iter().any(|w| w.contains("polls skipped")),
        "{:?}",
        out.warnings
    );
    let budget = &out.records[0];
    assert_eq!(budget.id.to_string(), "decide:process:budgets/7");
    assert_eq!(budget.url, format!("{}/budgets/7", site.base));
    assert_eq!(budget.methods, ["budgets"]);
    assert_eq!(budget.phases[0].title.get("en"), Some("balloting"));
    let p1 = &out.records[1];
    assert_eq!(p1.id.kind, Kind::Proposal);
    assert_eq!(p1.title.get("es"), Some("Más árboles"));
    assert_eq!(p1.activity.comments, Some(4));
    assert_eq!(p1.territory.scope_name.get("es"), Some("Centro"));
    assert_eq!(
        p1.published_at.map(|t| t.to_rfc3339()),
        Some("2024-03-01T09:00:00+00:00".into())
    );
    assert_eq!(
        out.records[2].end_date,
        "2024-05-01".parse().ok(),
        "a retired proposal is over"
    );
    assert_eq!(out.records[4].methods, ["debates"]);
    let json = serde_json::to_string(&out.records).unwrap();
    assert!(
        !json.contains("<script") && !json.contains("onclick"),
        "{json}"
    );
    let queries: Vec<String> = site.log().iter().map(|l| l.body.clone()).collect();
    assert_eq!(queries.len(), 5, "budgets, polls, proposals ×2, debates");
    for q in &queries {
        for personal in [
            "publicAuthor",
            "users",
            "votesFor",
            "comments {",
            "authorId",
        ] {
            assert!(!q.contains(personal), "{personal} asked in {q}");
        }
    }
}

#[tokio::test]
async fn api_errors_and_non_graphql_answers_name_the_endpoint() {
    let site = FakeSite::start().await;
    site.on_post("/graphql", |_| {
        (
            200,
            json!({"errors": [{"message": "Field 'budgets' doesn't exist on type 'Query'"}]})
                .to_string(),
        )
    });
    let s = spec(&site.base);
    let c = ConsulConnector::new(
        &s,
        ConsulParams {
            collections: Some(vec!["budgets".into()]),
            ..ConsulParams::default()
        },
    )
    .unwrap();
    let e = c
        .harvest(&ctx(s.clone()), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("/graphql") && e.contains("budgets"), "{e}");
    site.on_post("/graphql", |_| (200, "{\"data\": {}}".into()));
    let e = c.harvest(&ctx(s), None).await.unwrap_err().to_string();
    assert!(e.contains("data.budgets.edges"), "{e}");
}

#[tokio::test]
async fn a_repeated_cursor_stops_with_a_partial_listing() {
    let site = FakeSite::start().await;
    site.on_post("/graphql", |_| (200, json!({"data": {"debates": connection(vec![json!({"id": "1", "title": "D"})], Some("same"))}}).to_string()));
    let s = spec(&site.base);
    let c = ConsulConnector::new(
        &s,
        ConsulParams {
            collections: Some(vec!["debates".into()]),
            ..ConsulParams::default()
        },
    )
    .unwrap();
    let out = c.harvest(&ctx(s), None).await.unwrap();
    assert_eq!(out.records.len(), 1);
    assert!(!out.complete);
    assert!(out.warnings.iter().any(|w| w.contains("repeated a cursor")));
}

#[test]
fn bad_params_are_named() {
    let e = ConsulConnector::new(
        &spec("https://decide.example.es"),
        ConsulParams {
            collections: Some(vec!["users".into()]),
            ..ConsulParams::default()
        },
    )
    .unwrap_err();
    assert!(e.contains("collections") && e.contains("users"), "{e}");
}
