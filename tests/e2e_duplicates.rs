//! End to end: the same process published on two platforms (a national one and a regional copy
//! with the same title that links the national page) → `snodo harvest` → one search result naming
//! both sources, and both records reachable; two bodies that only share a name stay two results.

mod support;

use serde_json::Value;
use snodo_fake_decidim::{Dataset, FakeDecidim, Faults, Version};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_process_on_two_platforms_is_one_result_with_both_sources() {
    // A national body with a name that regions use for their own bodies too.
    let body_title = serde_json::json!({"translations": [
        {"locale": "it", "text": "Comunità di pratiche per la partecipazione", "machineTranslated": false}
    ]});
    let mut national_data = Dataset::sample("partecipa").expect("sample");
    national_data
        .assembly_mut("hub-partecipazione")
        .expect("the sample has this assembly")["title"] = body_title.clone();
    let national = FakeDecidim::start(Version::V0_28, national_data, Faults::default())
        .await
        .expect("fake platform");

    // The region republishes one national process: same title, other id and dates, and a link to
    // the national page (a regional and a national record of one name are two without it).
    let mut copy = Dataset::sample("partecipa").expect("sample");
    let mut process = copy
        .process_mut("transizione-ecologica")
        .expect("the sample has this process")
        .clone();
    process["id"] = Value::from("77");
    process["slug"] = Value::from("transizione-ecologica-regione");
    process["startDate"] = Value::from("2025-01-01");
    process["endDate"] = Value::from("2025-12-31");
    process["description"] = serde_json::json!({"translations": [{
        "locale": "it",
        "text": format!(
            "<p>Partecipa anche <a href=\"{}/processes/transizione-ecologica\">sul portale nazionale</a>.</p>",
            national.url()
        ),
        "machineTranslated": false
    }]});
    copy.processes = vec![process];
    // The region's own body of the same name: undated, regional, not linked.
    let mut body = copy
        .assembly_mut("hub-partecipazione")
        .expect("the sample has this assembly")
        .clone();
    body["id"] = Value::from("88");
    body["slug"] = Value::from("comunita-pratiche-er");
    body["title"] = body_title;
    copy.assemblies = vec![body];
    let regional = FakeDecidim::start(Version::V0_26, copy, Faults::default())
        .await
        .expect("fake platform");

    let env = Env::new(&format!(
        "{}{}",
        source_toml("partecipa", &national.url(), Some("IT")),
        source_toml("regione", &regional.url(), Some("08")),
    ));
    let out = env.run(&["harvest"]);
    assert!(
        out.status.success(),
        "harvest failed:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );

    let server = env.serve();
    let http = Http::new();
    let res = http
        .get(&server.url(
            "/api/v1/search?q=Piano%20nazionale%20per%20la%20transizione%20ecologica&limit=100",
        ))
        .await;
    assert_eq!(res.status, 200);
    let body = res.json();
    let items = body["items"].as_array().expect("items");
    let matching: Vec<&Value> = items
        .iter()
        .filter(|i| i["title"] == "Piano nazionale per la transizione ecologica")
        .collect();
    assert_eq!(matching.len(), 1, "one result for both platforms: {body:#}");
    let item = matching[0];
    assert_eq!(item["source"], "partecipa");
    let also_on = item["also_on"].as_array().expect("also_on");
    assert_eq!(also_on.len(), 1, "{item:#}");
    assert_eq!(also_on[0]["source"], "regione");
    assert_eq!(also_on[0]["source_name"], "regione platform");
    let other_id = also_on[0]["id"].as_str().expect("id").to_owned();
    assert!(other_id.starts_with("regione:process:"), "{other_id}");
    // The regional copy is not a second result, not even when filtering by its source.
    let by_source = http
        .get(&server.url("/api/v1/search?source=regione&kind=process"))
        .await
        .json();
    assert_eq!(by_source["total"], 0, "{by_source:#}");

    // Two bodies that only share a name are two results, neither hidden behind the other.
    let bodies = http
        .get(&server.url("/api/v1/search?q=%22Comunit%C3%A0%20di%20pratiche%22&kind=assembly"))
        .await
        .json();
    let mut sources: Vec<&str> = bodies["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            assert!(i["also_on"].as_array().is_none_or(Vec::is_empty), "{i:#}");
            i["source"].as_str().expect("source")
        })
        .collect();
    sources.sort_unstable();
    assert_eq!(sources, ["partecipa", "regione"], "{bodies:#}");

    // Both records are reachable and name each other.
    let id = item["id"].as_str().expect("id").to_owned();
    for (this, other) in [(&id, &other_id), (&other_id, &id)] {
        let r = http
            .get(&server.url(&format!("/api/v1/records/{this}")))
            .await;
        assert_eq!(r.status, 200, "{this}");
        let r = r.json();
        let same_as: Vec<&str> = r["record"]["same_as"]
            .as_array()
            .or(r["same_as"].as_array())
            .expect("same_as")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(same_as, [other.as_str()], "{r:#}");
    }

    // The OpenAPI description documents the new field.
    // The public page says where else the process is published.
    let page = http
        .get(&server.url("/?q=Piano%20nazionale%20per%20la%20transizione%20ecologica"))
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("anche su regione platform"),
        "{}",
        page.text
    );
    let api = http.get(&server.url("/api/v1/openapi.json")).await.json();
    assert!(
        api["components"]["schemas"]["SearchItem"]["properties"]["also_on"].is_object(),
        "also_on is documented"
    );
    assert!(api["components"]["schemas"]["AlsoOn"].is_object());
    server.terminate();
}
