//! End to end for the site connectors: a fake consultation site on loopback (an RSS feed, an HTML
//! list with detail pages) → `snodo harvest` → `snodo serve` → the HTTP API.

mod support;

use snodo_sitekit::fake::{FakePage, FakeSite};
use support::*;

const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Consultazioni</title><link>/</link><description>x</description>
<item>
  <title>Consultazione pubblica sul clima</title>
  <link>/consultazioni/clima</link>
  <guid>clima-2024</guid>
  <description><![CDATA[<p>Dal 14/06/2024 al 07/07/2024. <script>alert(1)</script></p>]]></description>
  <author>mario.rossi@example.it (Mario Rossi)</author>
</item>
<item>
  <title>Consultazione sulla mobilità ciclabile</title>
  <link>/consultazioni/bici</link>
  <description>Aperta fino al 31 dicembre 2099</description>
</item>
</channel></rss>"#;

fn feed_source(id: &str, url: &str) -> String {
    format!("[[sources]]\nid = \"{id}\"\nname = \"{id} site\"\nkind = \"feed\"\nurl = \"{url}\"\nterritory = \"IT\"\n\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn feed_source_is_harvested_and_served() {
    let site = FakeSite::start().await;
    site.set(
        "/feed",
        FakePage::new("application/rss+xml", RSS).with_etag("\"v1\""),
    );
    let env = Env::new(&feed_source("gov-feed", &site.url("/feed")));

    let out = env.run(&["harvest"]);
    let summary = stdout(&out);
    assert!(
        out.status.success(),
        "harvest failed:\n{summary}\n{}",
        stderr(&out)
    );
    assert!(
        summary.lines().any(|l| l.starts_with("gov-feed")),
        "{summary}"
    );

    // A second run costs a 304 and changes nothing.
    site.clear_log();
    let out = env.run(&["harvest", "gov-feed"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let feed_hits = site.hits("/feed");
    assert_eq!(feed_hits.len(), 1, "{:?}", site.log());
    assert_eq!(feed_hits[0].status, 304);

    let server = env.serve();
    let http = Http::new();
    let found = http.get(&server.url("/api/v1/search?q=clima")).await.json();
    assert_eq!(found["total"], 1, "{found}");
    let item = &found["items"][0];
    assert_eq!(item["kind"], "consultation");
    assert_eq!(item["source"], "gov-feed");
    assert_eq!(item["url"], site.url("/consultazioni/clima"));
    assert_eq!(item["start_date"], "2024-06-14");
    assert_eq!(item["end_date"], "2024-07-07");
    assert_eq!(item["status"], "closed");
    let id = item["id"].as_str().expect("id").to_owned();
    assert_eq!(id, "gov-feed:consultation:clima-2024");
    let record = http
        .get(&server.url(&format!("/api/v1/records/{}", id.replace(':', "%3A"))))
        .await;
    assert_eq!(record.status, 200, "{}", record.text);
    let record = record.json();
    assert_inert(&record);
    assert!(!record.to_string().contains("Rossi"), "{record}");
    let open = http
        .get(&server.url("/api/v1/search?source=gov-feed&status=open"))
        .await
        .json();
    assert_eq!(open["total"], 1, "{open}");
    assert_eq!(open["items"][0]["url"], site.url("/consultazioni/bici"));
}
