//! End to end: the same process published on two platforms (a national one and a regional copy
//! with the same title and overlapping dates) → `snodo harvest` → one search result naming both
//! sources, and both records reachable.

mod support;

use serde_json::Value;
use snodo_fake_decidim::{Dataset, FakeDecidim, Faults, Version};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_process_on_two_platforms_is_one_result_with_both_sources() {
    let national = FakeDecidim::start(
        Version::V0_28,
        Dataset::sample("partecipa").expect("sample"),
        Faults::default(),
    )
    .await
    .expect("fake platform");

    // The region republishes one national process: same title, other id, overlapping dates.
    let mut copy = Dataset::sample("partecipa").expect("sample");
    let mut process = copy
        .process_mut("transizione-ecologica")
        .expect("the sample has this process")
        .clone();
    process["id"] = Value::from("77");
    process["slug"] = Value::from("transizione-ecologica-regione");
    process["startDate"] = Value::from("2025-01-01");
    process["endDate"] = Value::from("2025-12-31");
    copy.processes = vec![process];
    copy.assemblies.clear();
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
        .get(&server.url("/api/v1/search?source=regione"))
        .await
        .json();
    assert_eq!(by_source["total"], 0, "{by_source:#}");

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
