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

/// The two processes of the Decidim 0.20 platform below, as its real `ParticipatoryProcess` type
/// shapes them (Date as `YYYY-MM-DD`, DateTime with its offset, rich text as unescaped HTML).
const PROCESSES_0_20: &str = r#"[
  {"id": "7", "slug": "piazze-aperte",
   "title": {"translations": [{"locale": "it", "text": "Piazze aperte nei quartieri"},
                              {"locale": "en", "text": "Open squares in the neighbourhoods"}]},
   "subtitle": {"translations": [{"locale": "it", "text": "Nuovi spazi pedonali"}]},
   "shortDescription": {"translations": [{"locale": "it", "text": "<p>Proponi una piazza <b>per il tuo quartiere</b>.</p>"}]},
   "description": {"translations": [{"locale": "it", "text": "<p>Le piazze scelte diventano pedonali.</p><script>alert(1)</script><img src=x onerror=alert(2)>"}]},
   "startDate": "2099-03-01", "endDate": "2099-06-30",
   "publishedAt": "2021-02-20T09:30:00+01:00", "updatedAt": "2021-03-02T18:05:12+01:00"},
  {"id": "3", "slug": "regolamento-partecipazione",
   "title": {"translations": [{"locale": "it", "text": "Regolamento sulla partecipazione"}]},
   "subtitle": {"translations": []},
   "shortDescription": {"translations": [{"locale": "it", "text": "Osservazioni al testo del regolamento."}]},
   "description": {"translations": [{"locale": "it", "text": "<p>Il testo è stato approvato.</p>"}]},
   "startDate": "2020-01-15", "endDate": "2020-02-28",
   "publishedAt": "2020-01-10T12:00:00+01:00", "updatedAt": "2020-03-01T08:00:00+01:00"}
]"#;

/// A Decidim 0.20 platform as Milano Partecipa runs it: every query is validated against the
/// schema transcribed from its real type definitions, and refused with graphql-ruby's errors when
/// it asks for anything 0.20 lacks. The probe and the minimal process listing are answered.
fn decidim_0_20(site: &FakeSite) {
    const SDL: &str =
        include_str!("../connectors/decidim/schemas/transcribed/decidim-0.20.0-partial.graphql");
    site.on_post("/api", |body| {
        let req: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        let query = req["query"].as_str().unwrap_or("");
        if let Err(errors) = snodo_fake_decidim::validate_sdl(SDL, "0.20", query) {
            let errors: Vec<serde_json::Value> = errors
                .iter()
                .map(|m| serde_json::json!({ "message": m }))
                .collect();
            return (200, serde_json::json!({ "errors": errors }).to_string());
        }
        let data = match req["operationName"].as_str().unwrap_or("") {
            "ProbeVersion" => r#"{"decidim": {"version": "0.20.0"}}"#.to_owned(),
            "ProbeOrganizationName" => r#"{"organization": {"name": "Comune di Prova"}}"#.into(),
            "ProcessesMinimal" => format!(r#"{{"participatoryProcesses": {PROCESSES_0_20}}}"#),
            other => panic!("a query valid on 0.20 that the test does not answer: {other}"),
        };
        (200, format!(r#"{{"data": {data}}}"#))
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_decidim_0_20_platform_yields_its_processes_through_the_minimal_listing() {
    let site = FakeSite::start().await;
    decidim_0_20(&site);
    let url = site.url("").trim_end_matches('/').to_owned();
    let env = Env::new(&source_toml("comune-020", &url, Some("015146")));

    let out = env.run(&["check", "comune-020", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&out), stderr(&out)));
    assert_eq!(
        report["records"].as_array().map(Vec::len),
        Some(2),
        "{report:#}"
    );

    let out = env.run(&["harvest"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let server = env.serve();
    let http = Http::new();
    let v = http
        .get(&server.url("/api/v1/search?source=comune-020&limit=10"))
        .await
        .json();
    assert_eq!(v["total"], 2, "{v:#}");
    assert_inert(&v);
    let items = v["items"].as_array().unwrap();
    let open = items
        .iter()
        .find(|i| i["url"] == format!("{url}/processes/piazze-aperte"))
        .unwrap_or_else(|| panic!("no record links to the process page: {v:#}"));
    assert_eq!(open["kind"], "process");
    assert_eq!(open["title"], "Piazze aperte nei quartieri", "{open:#}");
    assert_eq!(open["start_date"], "2099-03-01", "{open:#}");
    assert_eq!(open["end_date"], "2099-06-30", "{open:#}");
    assert_eq!(open["comune_name"], "Milano", "{open:#}");
    assert_eq!(open["status"], "upcoming", "{open:#}");
    // both locales kept, no markup anywhere, the script's text never shown
    let record = http
        .get(&server.url(&format!("/api/v1/records/{}", open["id"].as_str().unwrap())))
        .await;
    assert_eq!(record.status, 200, "{}", record.text);
    assert!(
        record.text.contains("Open squares in the neighbourhoods"),
        "{}",
        record.text
    );
    let r = record.json();
    assert_eq!(
        r["description"]["it"], "Le piazze scelte diventano pedonali.",
        "{r:#}"
    );
    assert_eq!(
        r["description_html"]["it"],
        "<p>Le piazze scelte diventano pedonali.</p>"
    );
    assert!(
        !record.text.contains("alert(") && !record.text.contains("<script"),
        "{r:#}"
    );
    // 0.20's DateTime carries its offset: kept as the same instant
    assert_eq!(r["published_at"], "2021-02-20T08:30:00Z", "{r:#}");
    assert_eq!(r["promoter"]["it"], "Comune di Prova", "{r:#}");
    // the run is partial, not failed, and says what 0.20 lacks
    let sources = http.get(&server.url("/api/v1/sources")).await.json();
    let s = sources
        .as_array()
        .and_then(|a| a.iter().find(|s| s["id"] == "comune-020"))
        .cloned()
        .unwrap_or_else(|| panic!("{sources:#}"));
    assert_eq!(s["health"], "degraded", "{s:#}");
    assert_eq!(s["last_run"]["outcome"], "partial", "{s:#}");
    let warnings = s["last_run"]["warnings"].to_string();
    assert!(
        warnings.contains("fallback query ProcessesMinimal")
            && warnings.contains("Field 'categories' doesn't exist on type 'ParticipatoryProcess'"),
        "{s:#}"
    );
}

fn json_item(id: u32, title: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "url": format!("/consultazioni/{id}"),
        "title": title,
        "description": format!("<p>Testo della consultazione {id}</p>"),
    })
}

fn run_counts(env: &Env, source: &str) -> serde_json::Value {
    let out = env.run(&["harvest", source, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let runs: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("harvest --json");
    runs[0]["counts"].clone()
}

/// The status of every API request the site answered.
fn api_statuses(site: &FakeSite) -> Vec<u16> {
    site.log()
        .into_iter()
        .filter(|l| l.path.starts_with("/api/"))
        .map(|l| l.status)
        .collect()
}

/// Unchanged pages cost a 304 each and their records are handed over by id, not copied in the
/// checkpoint nor read back; a page that changes is read again; new topic rules reach the
/// records of unchanged pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn json_source_revalidates_its_pages_and_keeps_no_copies_in_its_checkpoint() {
    let site = FakeSite::start().await;
    let page = |n: u32, items: Vec<serde_json::Value>, etag: &str| {
        site.set(
            &format!("/api/consultazioni?page={n}"),
            FakePage::json(serde_json::Value::Array(items).to_string())
                .with_header("X-Total-Pages", "2")
                .with_etag(etag),
        );
    };
    page(
        1,
        vec![
            json_item(1, "Piano del verde urbano"),
            json_item(2, "Mercato coperto"),
        ],
        "\"p1\"",
    );
    page(2, vec![json_item(3, "Biblioteca di quartiere")], "\"p2\"");
    let source = format!(
        "[[sources]]\nid = \"api\"\nname = \"Api\"\nkind = \"json\"\nurl = \"{}\"\nterritory = \"09\"\n\
         [sources.pagination]\npage_param = \"page\"\ntotal_pages_header = \"x-total-pages\"\n",
        site.url("/api/consultazioni")
    );
    let env = Env::new(&source);
    assert_eq!(run_counts(&env, "api")["added"], 3);

    site.clear_log();
    let again = run_counts(&env, "api");
    assert_eq!(
        (again["unchanged"].as_u64(), again["gone"].as_u64()),
        (Some(3), Some(0)),
        "{again}"
    );
    assert_eq!(api_statuses(&site), [304, 304]);

    // the second page changes: it is read again, the first still costs a 304
    page(
        2,
        vec![json_item(3, "Biblioteca di quartiere rinnovata")],
        "\"p2b\"",
    );
    site.clear_log();
    let third = run_counts(&env, "api");
    assert_eq!(
        (third["changed"].as_u64(), third["unchanged"].as_u64()),
        (Some(1), Some(2)),
        "{third}"
    );

    // an operator's topic rule: the record of the unchanged first page is classified again
    env.write_config(&format!(
        "{source}[sources.topics]\n\"mercato coperto\" = \"AGRI\"\n"
    ));
    site.clear_log();
    let fourth = run_counts(&env, "api");
    assert_eq!(
        (fourth["changed"].as_u64(), fourth["unchanged"].as_u64()),
        (Some(1), Some(2)),
        "{fourth}"
    );
    assert_eq!(api_statuses(&site), [304, 304]);
    // and only once
    let fifth = run_counts(&env, "api");
    assert_eq!(fifth["unchanged"].as_u64(), Some(3), "{fifth}");

    let server = env.serve();
    let http = Http::new();
    let found = http
        .get(&server.url("/api/v1/search?q=rinnovata"))
        .await
        .json();
    assert_eq!(found["total"], 1, "{found}");
    let all = http
        .get(&server.url("/api/v1/search?source=api"))
        .await
        .json();
    assert_eq!(all["total"], 3, "{all}");
    let market = http
        .get(&server.url("/api/v1/records/api:consultation:2"))
        .await
        .json();
    assert!(
        market["themes"]
            .as_array()
            .unwrap()
            .contains(&"AGRI".into()),
        "{market}"
    );
    // seen by the last run's sweep though its row was not written
    let first = http
        .get(&server.url("/api/v1/records/api:consultation:1"))
        .await
        .json();
    assert!(
        first["last_seen"].as_str() > first["last_changed"].as_str(),
        "{first}"
    );
}

/// A source larger than what a run holds in memory is stored as it is fetched: the sweep of a
/// complete listing still spares every record of the run, and a run that fails half-way keeps
/// what it stored (what the source publishes) but marks nothing gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_large_json_source_is_stored_as_it_is_fetched() {
    const PAGES: u32 = 13;
    let site = FakeSite::start().await;
    let page = |n: u32, items: u32, title_of: &dyn Fn(u32) -> String| {
        let first = (n - 1) * 100 + 1;
        let items: Vec<serde_json::Value> = (first..first + items)
            .map(|i| json_item(i, &title_of(i)))
            .collect();
        site.set(
            &format!("/api/consultazioni?page={n}"),
            FakePage::json(serde_json::Value::Array(items).to_string())
                .with_header("X-Total-Pages", &PAGES.to_string()),
        );
    };
    let plain = |i: u32| format!("Consultazione numero {i}");
    for n in 1..=PAGES {
        page(n, 100, &plain);
    }
    let source = format!(
        "[[sources]]\nid = \"big\"\nname = \"Big\"\nkind = \"json\"\nurl = \"{}\"\nterritory = \"09\"\n\
         [sources.pagination]\npage_param = \"page\"\ntotal_pages_header = \"x-total-pages\"\n",
        site.url("/api/consultazioni")
    );
    let env = Env::new(&source);
    assert_eq!(run_counts(&env, "big")["added"], 1300);

    // the last page loses 50 items: gone, while the 1,000 records stored before the run's last
    // batch are spared
    page(PAGES, 50, &plain);
    let second = run_counts(&env, "big");
    assert_eq!(
        (
            second["unchanged"].as_u64(),
            second["gone"].as_u64(),
            second["seen"].as_u64()
        ),
        (Some(1250), Some(50), Some(1250)),
        "{second}"
    );

    // a record on the first page changes, then page 12 is broken: the run fails, the change
    // fetched before it stays, nothing is marked gone
    page(1, 100, &|i| {
        if i == 5 {
            "Consultazione sul verde rinnovata".into()
        } else {
            plain(i)
        }
    });
    site.set("/api/consultazioni?page=12", FakePage::json("{ not json"));
    let out = env.run(&["harvest", "big", "--json"]);
    assert!(!out.status.success(), "{}", stdout(&out));
    let runs: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("harvest --json");
    assert_eq!(runs[0]["outcome"], "failed", "{runs}");
    assert_eq!(runs[0]["counts"]["changed"], 1, "{runs}");
    assert_eq!(runs[0]["counts"]["gone"], 0, "{runs}");
    let error = runs[0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("page=12"), "{error}");
    assert!(error.contains("stored so far stay"), "{error}");

    let server = env.serve();
    let http = Http::new();
    let all = http
        .get(&server.url("/api/v1/search?source=big&limit=1"))
        .await
        .json();
    assert_eq!(all["total"], 1250, "{all}");
    let found = http
        .get(&server.url("/api/v1/search?q=rinnovata"))
        .await
        .json();
    assert_eq!(found["total"], 1, "{found}");
}
