//! The feed connector against a fake site on loopback: RSS, Atom, JSON Feed, conditional GET,
//! robots.txt, hostile markup.

use snodo_connector::{Connector, HarvestContext, HttpClient, HttpSettings, SourceSpec};
use snodo_feed::{FeedConnector, FeedParams};
use snodo_model::{Kind, Territory};
use snodo_sitekit::fake::{store_of, FakePage, FakeSite};
use tokio_util::sync::CancellationToken;

const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">
<channel><title>Consultazioni</title><link>https://example.it</link><description>x</description>
<item>
  <title>Consultazione sul &lt;b&gt;piano&lt;/b&gt; casa</title>
  <link>/consultazioni/piano-casa</link>
  <guid isPermaLink="false">pc-2024</guid>
  <description><![CDATA[<p>Aperta dal 14/06/2024 al 07/07/2024. <script>alert(1)</script><img src=x onerror=alert(1)></p>]]></description>
  <category>Casa</category>
  <author>mario.rossi@example.it (Mario Rossi)</author>
  <pubDate>Fri, 14 Jun 2024 10:00:00 +0200</pubDate>
  <enclosure url="https://example.it/img/pc.jpg" type="image/jpeg" length="100"/>
</item>
<item>
  <title>Seconda consultazione</title>
  <link>https://example.it/consultazioni/seconda</link>
  <description>Dal 1 al 30 settembre 2024</description>
  <category>Consultazione conclusa</category>
</item>
<item>
  <title>Senza link</title>
  <description>niente</description>
</item>
</channel></rss>"#;

const ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Open Gov</title><id>urn:og</id><updated>2024-06-01T00:00:00Z</updated>
  <entry>
    <title type="html">Piano d&apos;azione &lt;i&gt;OGP&lt;/i&gt;</title>
    <id>urn:uuid:1225c695</id>
    <link rel="alternate" href="https://open.example.it/piano"/>
    <updated>2024-06-02T08:00:00Z</updated>
    <author><name>Anna Bianchi</name></author>
    <summary>Consultazione fino al 7 luglio 2024</summary>
    <content type="html">&lt;p&gt;Testo &lt;a href="javascript:evil()"&gt;link&lt;/a&gt;&lt;/p&gt;</content>
  </entry>
</feed>"#;

const JSON_FEED: &str = r#"{
  "version": "https://jsonfeed.org/version/1.1",
  "title": "Partecipa",
  "items": [
    {"id": "42", "url": "https://example.it/p/42", "title": "Bilancio partecipativo",
     "content_html": "<p>Proposte entro il 31/10/2025</p>", "tags": ["Bilancio"],
     "date_published": "2025-09-01T09:00:00+02:00", "authors": [{"name": "Luca Verdi"}]}
  ]
}"#;

fn spec(id: &str, url: &str) -> SourceSpec {
    SourceSpec {
        id: id.into(),
        name: id.into(),
        url: url.into(),
        territory: Territory::default(),
    }
}

fn http() -> HttpClient {
    HttpClient::new(HttpSettings {
        min_delay: std::time::Duration::ZERO,
        max_retries: 0,
        ..HttpSettings::default()
    })
    .unwrap()
}

fn ctx(spec: SourceSpec) -> HarvestContext {
    HarvestContext::new(spec, http().for_run("t"), CancellationToken::new())
}

#[tokio::test]
async fn rss_entries_become_sanitised_consultations_without_personal_data() {
    let site = FakeSite::start().await;
    site.set("/feed", FakePage::new("application/rss+xml", RSS));
    let s = spec("gov", &site.url("/feed"));
    let c = FeedConnector::new(&s, FeedParams::default()).unwrap();
    let out = c.harvest(&ctx(s), None).await.unwrap();
    assert_eq!(out.records.len(), 2, "{:?}", out.warnings);
    assert_eq!(out.failed, 1);
    assert!(
        out.warnings.iter().any(|w| w.contains("no link")),
        "{:?}",
        out.warnings
    );
    assert!(
        !out.complete,
        "a feed is a window unless configured otherwise"
    );
    let r = &out.records[0];
    assert_eq!(r.id.to_string(), "gov:consultation:pc-2024");
    assert_eq!(r.id.kind, Kind::Consultation);
    assert_eq!(r.url, site.url("/consultazioni/piano-casa"));
    assert_eq!(r.title.get("it"), Some("Consultazione sul piano casa"));
    assert_eq!(r.start_date, "2024-06-14".parse().ok());
    assert_eq!(r.end_date, "2024-07-07".parse().ok());
    assert_eq!(
        r.published_at.map(|t| t.to_rfc3339()),
        Some("2024-06-14T08:00:00+00:00".into())
    );
    assert_eq!(
        r.image_url.as_deref(),
        Some("https://example.it/img/pc.jpg")
    );
    assert_eq!(r.topics.len(), 1);
    let json = serde_json::to_string(&out.records).unwrap();
    for bad in ["<script", "onerror", "Mario", "Rossi", "mario.rossi"] {
        assert!(!json.contains(bad), "{bad} leaked: {json}");
    }
    let second = &out.records[1];
    assert_eq!(
        second.id.upstream_id,
        "https://example.it/consultazioni/seconda"
    );
    assert_eq!(second.start_date, "2024-09-01".parse().ok());
    assert_eq!(second.end_date, "2024-09-30".parse().ok());
    for r in &out.records {
        r.validate().unwrap();
    }
}

#[tokio::test]
async fn atom_and_json_feed_with_extra_feeds_and_a_configured_kind() {
    let site = FakeSite::start().await;
    site.set("/atom", FakePage::new("application/atom+xml", ATOM));
    site.set(
        "/feed.json",
        FakePage::new("application/feed+json", JSON_FEED),
    );
    let s = spec("og", &site.url("/atom"));
    let params = FeedParams {
        record_kind: Some("process".into()),
        feeds: Some(vec![site.url("/feed.json")]),
        complete_listing: Some(true),
        ..FeedParams::default()
    };
    let c = FeedConnector::new(&s, params).unwrap();
    let out = c.harvest(&ctx(s), None).await.unwrap();
    assert_eq!(out.records.len(), 2);
    assert!(out.complete);
    let a = &out.records[0];
    assert_eq!(a.id.to_string(), "og:process:urn:uuid:1225c695");
    assert_eq!(a.title.get("it"), Some("Piano d'azione OGP"));
    assert_eq!(a.end_date, "2024-07-07".parse().ok());
    assert_eq!(a.start_date, None);
    let html = a.description_html.0["it"].as_str();
    assert!(!html.contains("javascript"), "{html}");
    let j = &out.records[1];
    assert_eq!(j.id.upstream_id, "42");
    assert_eq!(j.end_date, "2025-10-31".parse().ok());
    let json = serde_json::to_string(&out.records).unwrap();
    assert!(!json.contains("Anna") && !json.contains("Luca"), "{json}");
}

#[tokio::test]
async fn unchanged_feed_costs_a_304_and_yields_the_same_records() {
    let site = FakeSite::start().await;
    site.set(
        "/feed",
        FakePage::new("application/rss+xml", RSS).with_etag("\"v1\""),
    );
    let s = spec("gov", &site.url("/feed"));
    let c = FeedConnector::new(&s, FeedParams::default()).unwrap();
    let first = c.harvest(&ctx(s.clone()), None).await.unwrap();
    let cp = first
        .checkpoint
        .clone()
        .expect("a checkpoint with the ETag");
    site.clear_log();
    let stored = ctx(s.clone()).with_stored(store_of(&first.records));
    let second = c.harvest(&stored, Some(&cp)).await.unwrap();
    let hits = site.hits("/feed");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].status, 304);
    assert_eq!(hits[0].if_none_match.as_deref(), Some("\"v1\""));
    // The records are handed over by id: the checkpoint holds ids, not copies.
    assert!(second.records.is_empty());
    let ids: Vec<_> = first.records.iter().map(|r| r.id.clone()).collect();
    assert_eq!(second.unchanged, ids);
    assert_eq!(second.failed, first.failed);
    assert!(!cp.contains("Piano"), "{cp}");
    // Without the records in the store (`snodo check`), the feed is read again.
    site.clear_log();
    let unstored = c.harvest(&ctx(s.clone()), Some(&cp)).await.unwrap();
    let statuses: Vec<u16> = site.hits("/feed").iter().map(|h| h.status).collect();
    assert_eq!(statuses, [304, 200]);
    assert_eq!(unstored.records, first.records);
    // A changed feed is read again.
    site.set(
        "/feed",
        FakePage::new("application/rss+xml", RSS.replace("Seconda", "Terza")).with_etag("\"v2\""),
    );
    let third = c
        .harvest(&ctx(s), second.checkpoint.as_deref())
        .await
        .unwrap();
    assert_eq!(
        third.records[1].title.get("it"),
        Some("Terza consultazione")
    );
}

#[tokio::test]
async fn robots_txt_forbidding_the_feed_skips_it_with_a_warning() {
    let site = FakeSite::start().await;
    site.set(
        "/robots.txt",
        FakePage::new("text/plain", "User-agent: *\nDisallow: /private/\n"),
    );
    site.set("/private/feed", FakePage::new("application/rss+xml", RSS));
    site.set(
        "/feed.json",
        FakePage::new("application/feed+json", JSON_FEED),
    );
    let s = spec("gov", &site.url("/private/feed"));
    let params = FeedParams {
        feeds: Some(vec![site.url("/feed.json")]),
        complete_listing: Some(true),
        ..FeedParams::default()
    };
    let c = FeedConnector::new(&s, params).unwrap();
    let out = c.harvest(&ctx(s), None).await.unwrap();
    assert!(site.hits("/private/feed").is_empty());
    assert_eq!(
        site.hits("/robots.txt").len(),
        1,
        "robots.txt is read once per host per run"
    );
    assert_eq!(out.records.len(), 1);
    assert!(!out.complete);
    assert!(
        out.warnings.iter().any(|w| w.contains("robots.txt")),
        "{:?}",
        out.warnings
    );
}

#[tokio::test]
async fn garbage_and_html_fail_with_the_url_and_what_was_expected() {
    let site = FakeSite::start().await;
    site.set(
        "/feed",
        FakePage::html("<html><body>Manutenzione</body></html>"),
    );
    let s = spec("gov", &site.url("/feed"));
    let c = FeedConnector::new(&s, FeedParams::default()).unwrap();
    let e = c
        .harvest(&ctx(s.clone()), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&site.url("/feed")) && e.contains("RSS, Atom or JSON Feed"),
        "{e}"
    );
    site.remove("/feed");
    let e = c.harvest(&ctx(s), None).await.unwrap_err().to_string();
    assert!(e.contains("404"), "{e}");
}

#[tokio::test]
async fn include_filter_and_dry_run_limit() {
    let site = FakeSite::start().await;
    site.set("/feed", FakePage::new("application/rss+xml", RSS));
    let s = spec("gov", &site.url("/feed"));
    let c = FeedConnector::new(
        &s,
        FeedParams {
            include: Some(vec!["seconda".into()]),
            ..FeedParams::default()
        },
    )
    .unwrap();
    let out = c.harvest(&ctx(s.clone()), None).await.unwrap();
    assert_eq!(out.records.len(), 1);
    let c = FeedConnector::new(
        &s,
        FeedParams {
            complete_listing: Some(true),
            ..FeedParams::default()
        },
    )
    .unwrap();
    let out = c.harvest(&ctx(s).with_item_limit(1), None).await.unwrap();
    assert_eq!(out.records.len(), 1);
    assert!(!out.complete);
}

#[test]
fn bad_params_are_named() {
    let s = spec("gov", "ftp://x");
    let e = FeedConnector::new(
        &s,
        FeedParams {
            record_kind: Some("thing".into()),
            locale: Some("!!".into()),
            max_items: Some(0),
            ..FeedParams::default()
        },
    )
    .unwrap_err();
    for key in [
        "url:",
        "record_kind:",
        "locale:",
        "max_items:",
        "source `gov` (feed)",
    ] {
        assert!(e.contains(key), "{key} missing in {e}");
    }
}
