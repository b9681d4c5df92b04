//! The JSON connector against fake WordPress, Plone and generic APIs on loopback.

use snodo_connector::{Connector, HarvestContext, HttpClient, HttpSettings, SourceSpec};
use snodo_json::{FieldMap, JsonConnector, JsonParams};
use snodo_model::{Record, RecordId, Territory};
use snodo_sitekit::fake::{store_of, FakePage, FakeSite};
use tokio_util::sync::CancellationToken;

fn spec(url: &str) -> SourceSpec {
    SourceSpec {
        id: "api".into(),
        name: "Api".into(),
        url: url.into(),
        territory: Territory::default(),
    }
}

fn ctx(spec: SourceSpec) -> HarvestContext {
    let http = HttpClient::new(HttpSettings {
        min_delay: std::time::Duration::ZERO,
        max_retries: 0,
        ..HttpSettings::default()
    })
    .unwrap();
    HarvestContext::new(spec, http.for_run("t"), CancellationToken::new())
}

fn ids_of(records: &[Record]) -> Vec<RecordId> {
    records.iter().map(|r| r.id.clone()).collect()
}

fn wp_post(id: u32, title: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "date": "2024-06-14T10:00:00",
        "modified": "2024-06-20T09:30:00",
        "link": format!("https://example.it/consultazioni/{id}/"),
        "title": {"rendered": title},
        "excerpt": {"rendered": "<p>Dal 14/06/2024 al 07/07/2024 <script>alert(1)</script></p>"},
        "content": {"rendered": "<p onmouseover=\"x()\">Testo</p><iframe src=\"https://evil\"></iframe>"},
        "author": 7,
        "_embedded": {
            "author": [{"name": "Mario Rossi"}],
            "wp:term": [[{"name": "Ambiente"}], [{"name": "clima"}]]
        }
    })
}

#[tokio::test]
async fn wordpress_pages_by_total_pages_header_with_conditional_get() {
    let site = FakeSite::start().await;
    let p1 = serde_json::json!([
        wp_post(1, "Prima &amp; <em>vera</em>"),
        wp_post(2, "Seconda")
    ]);
    let p2 = serde_json::json!([wp_post(3, "Terza")]);
    site.set(
        "/wp-json/wp/v2/posts?_embed=1&per_page=100&page=1",
        FakePage::json(p1.to_string())
            .with_header("X-WP-TotalPages", "2")
            .with_etag("\"a\""),
    );
    site.set(
        "/wp-json/wp/v2/posts?_embed=1&per_page=100&page=2",
        FakePage::json(p2.to_string())
            .with_header("X-WP-TotalPages", "2")
            .with_etag("\"b\""),
    );
    let s = spec(&site.url("/wp-json/wp/v2/posts?_embed=1"));
    let params = JsonParams {
        flavor: Some("wordpress".into()),
        fields: Some(FieldMap {
            dates: Some("excerpt.rendered".into()),
            ..FieldMap::default()
        }),
        ..JsonParams::default()
    };
    let c = JsonConnector::new(&s, params).unwrap();
    let out = c.harvest(&ctx(s.clone()), None).await.unwrap();
    assert_eq!(out.records.len(), 3, "{:?} {:?}", out.warnings, site.log());
    assert!(out.complete);
    assert!(site
        .hits("/wp-json/wp/v2/posts?_embed=1&per_page=100&page=3")
        .is_empty());
    let r = &out.records[0];
    assert_eq!(r.id.to_string(), "api:consultation:1");
    assert_eq!(r.url, "https://example.it/consultazioni/1/");
    assert_eq!(r.title.get("it"), Some("Prima & vera"));
    assert_eq!(r.start_date, "2024-06-14".parse().ok());
    assert_eq!(r.end_date, "2024-07-07".parse().ok());
    assert_eq!(
        r.published_at.map(|t| t.to_rfc3339()),
        Some("2024-06-14T08:00:00+00:00".into())
    );
    assert_eq!(r.topics.len(), 2);
    let json = serde_json::to_string(&out.records).unwrap();
    for bad in ["<script", "iframe", "onmouseover", "Rossi"] {
        assert!(!json.contains(bad), "{bad} leaked");
    }
    // the checkpoint keeps the pages' validators and their records' ids, not the records
    let checkpoint = out.checkpoint.clone().unwrap();
    assert!(checkpoint.contains("api:consultation:1"), "{checkpoint}");
    assert!(!checkpoint.contains("Prima"), "{checkpoint}");
    let api_log = |site: &FakeSite| -> Vec<u16> {
        site.log()
            .into_iter()
            .filter(|l| l.path != "/robots.txt")
            .map(|l| l.status)
            .collect()
    };

    // unchanged pages: their records are handed over by id, not read back or parsed again
    site.clear_log();
    let with_store = ctx(s.clone()).with_stored(store_of(&out.records));
    let again = c.harvest(&with_store, Some(&checkpoint)).await.unwrap();
    assert!(again.records.is_empty());
    assert_eq!(again.unchanged, ids_of(&out.records));
    assert!(again.complete);
    assert_eq!(api_log(&site), [304, 304]);
    // and the next checkpoint still knows both pages' records
    let next = again.checkpoint.unwrap();
    assert!(next.contains("api:consultation:3"), "{next}");

    // a record the store no longer has: its page is fetched again, the other stays by id
    site.clear_log();
    let missing_first = ctx(s.clone()).with_stored(store_of(&out.records[1..]));
    let again = c.harvest(&missing_first, Some(&checkpoint)).await.unwrap();
    assert_eq!(again.records, out.records[..2]);
    assert_eq!(again.unchanged, ids_of(&out.records[2..]));
    assert_eq!(api_log(&site), [304, 200, 304]);

    // no store at all (`snodo check`): every page fetched
    site.clear_log();
    let again = c.harvest(&ctx(s), Some(&checkpoint)).await.unwrap();
    assert_eq!(again.records, out.records);
    assert!(again.unchanged.is_empty());
    assert_eq!(api_log(&site), [304, 200, 304, 200]);
}

#[tokio::test]
async fn plone_search_follows_batching_next() {
    let site = FakeSite::start().await;
    let next = site.url("/@search?b_start=1");
    site.set("/@search", FakePage::json(serde_json::json!({
        "items": [{"@id": "https://comune.example.it/partecipa/bilancio", "UID": "u1", "title": "Bilancio",
                   "description": "Proposte", "start": "2025-03-01T00:00:00+01:00", "end": "2025-04-30T00:00:00+02:00",
                   "subjects": ["Bilancio"], "creators": ["admin"]}],
        "batching": {"next": next}
    }).to_string()));
    site.set("/@search?b_start=1", FakePage::json(serde_json::json!({
        "items": [{"@id": "https://comune.example.it/partecipa/piano", "UID": "u2", "title": "Piano"}],
        "batching": {}
    }).to_string()));
    let s = spec(&site.url("/@search"));
    let c = JsonConnector::new(
        &s,
        JsonParams {
            flavor: Some("plone".into()),
            ..JsonParams::default()
        },
    )
    .unwrap();
    let out = c.harvest(&ctx(s), None).await.unwrap();
    assert_eq!(out.records.len(), 2, "{:?}", out.warnings);
    assert_eq!(out.records[0].id.upstream_id, "u1");
    assert_eq!(out.records[0].start_date, "2025-03-01".parse().ok());
    assert_eq!(out.records[0].end_date, "2025-04-30".parse().ok());
    assert!(!serde_json::to_string(&out.records)
        .unwrap()
        .contains("admin"));
}

#[tokio::test]
async fn generic_mapping_by_pointer_and_errors_naming_the_url() {
    let site = FakeSite::start().await;
    site.set("/api", FakePage::json(serde_json::json!({"data": {"list": [
        {"key": "c-1", "meta": {"href": "/c/1", "name": "Consultazione uno", "periodo": "dal 1 al 30 settembre 2024", "stato": "conclusa"}},
        {"key": "c-2", "meta": {"name": "Senza link"}}
    ]}}).to_string()));
    let s = spec(&site.url("/api"));
    let params = JsonParams {
        items: Some("/data/list".into()),
        record_kind: Some("process".into()),
        fields: Some(FieldMap {
            id: Some("key".into()),
            url: Some("/meta/href".into()),
            title: Some("meta.name".into()),
            dates: Some("meta.periodo".into()),
            status: Some("meta.stato".into()),
            summary: Some(String::new()),
            body: Some(String::new()),
            ..FieldMap::default()
        }),
        ..JsonParams::default()
    };
    let c = JsonConnector::new(&s, params.clone()).unwrap();
    let out = c.harvest(&ctx(s.clone()), None).await.unwrap();
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.failed, 1);
    assert_eq!(out.records[0].id.to_string(), "api:process:c-1");
    assert_eq!(out.records[0].url, site.url("/c/1"));
    assert_eq!(out.records[0].end_date, "2024-09-30".parse().ok());
    site.set("/api", FakePage::json("{\"data\": {}}"));
    let e = c
        .harvest(&ctx(s.clone()), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&site.url("/api")) && e.contains("/data/list"),
        "{e}"
    );
    site.set("/api", FakePage::html("<html>Manutenzione</html>"));
    let e = c.harvest(&ctx(s), None).await.unwrap_err().to_string();
    assert!(e.contains("expected JSON"), "{e}");
}

#[test]
fn bad_params_are_named() {
    let e = JsonConnector::new(
        &spec("https://example.it/api"),
        JsonParams {
            flavor: Some("drupal".into()),
            ..JsonParams::default()
        },
    )
    .unwrap_err();
    assert!(
        e.contains("flavor") && e.contains("source `api` (json)"),
        "{e}"
    );
}
