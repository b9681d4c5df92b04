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

fn detail(title: &str, dates: &str) -> String {
    format!(
        "<html><body><h1>{title}</h1><p class=\"abstract\">Sintesi {title}</p>\
         <div class=\"testo\"><p>Testo <img src=x onerror=alert(1)></p></div>\
         <p class=\"periodo\">{dates}</p><p class=\"stato\">In corso</p>\
         <p class=\"luogo\">Regione Toscana</p></body></html>"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn html_source_with_pagination_robots_and_a_broken_selector() {
    let site = FakeSite::start().await;
    site.set(
        "/robots.txt",
        FakePage::new("text/plain", "User-agent: *\nDisallow: /riservato/\n"),
    );
    site.set(
        "/consultazioni",
        FakePage::html(
            "<ul><li class=\"voce\"><a href=\"/c/ponte\">Ponte</a></li>\
             <li class=\"voce\"><a href=\"/riservato/bozza\">Bozza</a></li></ul>\
             <a class=\"next\" href=\"/consultazioni?pagina=2\">Avanti</a>",
        ),
    );
    site.set(
        "/consultazioni?pagina=2",
        FakePage::html("<ul><li class=\"voce\"><a href=\"/c/parco\">Parco</a></li></ul>"),
    );
    site.set(
        "/c/ponte",
        FakePage::html(detail("Ponte sull'Arno", "14 giugno – 7 luglio 2024")).with_etag("\"p1\""),
    );
    site.set(
        "/c/parco",
        FakePage::html(detail("Parco fluviale", "dal 14/06/2099 al 07/07/2099")),
    );
    let source = format!(
        r#"[[sources]]
id = "toscana-html"
name = "Toscana"
kind = "html"
url = "{}"
territory = "09"

[sources.list]
item_link = "li.voce a"
next_link = "a.next"

[sources.item]
title = "h1"
summary = ".abstract"
body = ".testo"
dates = ".periodo"
status = ".stato"
territory = ".luogo"
promoter = ".ente-che-non-esiste"
"#,
        site.url("/consultazioni")
    );
    let env = Env::new(&source);
    let out = env.run(&["harvest", "toscana-html"]);
    let summary = stdout(&out);
    assert!(
        out.status.success(),
        "harvest failed:\n{summary}\n{}",
        stderr(&out)
    );
    assert!(
        site.hits("/riservato/bozza").is_empty(),
        "robots.txt obeyed"
    );

    let server = env.serve();
    let http = Http::new();
    let all = http
        .get(&server.url("/api/v1/search?source=toscana-html"))
        .await
        .json();
    assert_eq!(all["total"], 2, "{all}");
    assert_inert(&all);
    let ponte = http.get(&server.url("/api/v1/search?q=ponte")).await.json();
    let item = &ponte["items"][0];
    assert_eq!(item["url"], site.url("/c/ponte"));
    assert_eq!(item["start_date"], "2024-06-14");
    assert_eq!(item["end_date"], "2024-07-07");
    assert_eq!(item["region"], "09");
    assert_eq!(item["status"], "closed");
    let upcoming = http
        .get(&server.url("/api/v1/search?status=upcoming"))
        .await
        .json();
    assert_eq!(upcoming["total"], 1, "{upcoming}");

    // The run report carries the broken selector and the robots.txt skip as warnings.
    let sources = http.get(&server.url("/api/v1/sources")).await;
    let text = sources.text.clone();
    assert!(
        text.contains("ente-che-non-esiste") && text.contains("robots.txt"),
        "warnings missing in /api/v1/sources: {text}"
    );
}

const WP_HOME: &str = r#"<!doctype html><html lang="it"><head><title>Consultazioni</title>
<link rel="alternate" type="application/rss+xml" title="Consultazioni &raquo; Feed" href="/consultazioni/feed/">
<link rel="https://api.w.org/" href="/wp-json/">
</head><body><h1>Consultazioni pubbliche</h1></body></html>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn check_of_a_source_that_yields_nothing_says_what_the_site_offers_and_what_to_configure() {
    // A WordPress site whose feed is not where the configuration guessed it.
    let site = FakeSite::start().await;
    site.set("/", FakePage::html(WP_HOME));
    site.set(
        "/consultazioni/feed/",
        FakePage::new("application/rss+xml", RSS),
    );
    site.set(
        "/wp-json/",
        FakePage::json(r#"{"name":"Consultazioni","namespaces":["oembed/1.0","wp/v2"]}"#),
    );
    let env = Env::new(&feed_source("guess", &site.url("/feed")));
    let out = env.run(&["check", "guess"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    assert!(
        text.contains("No records: what the site offers instead."),
        "{text}"
    );
    assert!(
        text.contains(&format!("{} → 404", site.url("/feed"))),
        "{text}"
    );
    assert!(
        text.contains(&format!("{} → 200 text/html", site.url("/"))),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "feed      {} (Consultazioni » Feed)",
            site.url("/consultazioni/feed/")
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("wordpress {}", site.url("/wp-json/"))),
        "{text}"
    );
    assert!(text.contains("/api → 404"), "{text}");
    // the suggested block, pasted into the configuration, yields the records
    let block = text
        .split("Suggested configuration (check it with `snodo check` again):\n\n")
        .nth(1)
        .expect("a suggestion")
        .to_owned();
    assert!(block.contains("kind = \"feed\""), "{block}");
    let fixed = Env::new(&format!("{block}territory = \"IT\"\n"));
    let out = fixed.run(&["check", "guess"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains(": 2 records"), "{}", stdout(&out));

    // A Decidim site configured as a feed: its GraphQL API comes first, in JSON too.
    let decidim = FakeSite::start().await;
    decidim.set(
        "/processes",
        FakePage::html("<html><body>Processi</body></html>"),
    );
    decidim.on_post("/api", |body| {
        if body.contains("decidim") && body.contains("version") {
            (200, r#"{"data":{"decidim":{"version":"0.27.5"}}}"#.into())
        } else {
            (200, r#"{"errors":[{"message":"unexpected"}]}"#.into())
        }
    });
    let env = Env::new(&feed_source("wrong-kind", &decidim.url("/processes")));
    let out = env.run(&["check", "wrong-kind", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["discovery"]["findings"][0]["kind"], "decidim", "{v:#}");
    assert_eq!(
        v["discovery"]["findings"][0]["note"],
        "Decidim GraphQL API at /api (0.27.5)"
    );
    let suggestion = v["suggestion"].as_str().unwrap();
    assert!(suggestion.contains("kind = \"decidim\""), "{suggestion}");
    assert!(
        suggestion.contains(&format!(
            "url = \"{}\"",
            decidim.url("").trim_end_matches('/')
        )),
        "{suggestion}"
    );
}
