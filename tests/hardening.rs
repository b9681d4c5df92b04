//! End to end, through the real `snodo serve`: rate limiting with the ModI headers, trusted
//! proxies, HTTP caching (ETag / 304), open-data exports and the Atom feed with hostile upstream
//! content, and oversize or malformed requests that must get a 4xx problem+json, never a 5xx.

mod support;

use serde_json::Value;
use snodo_fake_decidim::{Dataset, FakeDecidim, Faults, Version};
use support::*;

fn header<'a>(a: &'a Answer, name: &str) -> &'a str {
    a.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header"))
}

fn num(a: &Answer, name: &str) -> u64 {
    header(a, name)
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a number"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_answers_429_with_modi_headers_and_ignores_untrusted_forwarding() {
    // One request a minute sustained, bursts of 3: the fourth quick request is over.
    let env = Env::with_server(
        "rate_limit_per_minute = 1\nrate_limit_burst = 3\ncors_allowed_origins = [\"*\"]",
        "",
    );
    let server = env.serve();
    let http = Http::new();
    let url = server.url("/api/v1/search");
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let a = http.get(&url).await;
        assert_eq!(a.status, 200, "{}", a.text);
        assert_eq!(num(&a, "x-ratelimit-limit"), 3);
        assert!(num(&a, "x-ratelimit-reset") >= 1);
        remaining.push(num(&a, "x-ratelimit-remaining"));
    }
    assert_eq!(remaining, vec![2, 1, 0]);

    let over = http.get(&url).await;
    assert_eq!(over.status, 429, "{}", over.text);
    assert!(over.content_type.starts_with("application/problem+json"));
    assert_eq!(over.json()["status"], 429);
    assert!(num(&over, "retry-after") >= 1);
    assert_eq!(num(&over, "x-ratelimit-remaining"), 0);
    assert_eq!(num(&over, "x-ratelimit-limit"), 3);

    // A widget on another site can read the refusal and when to retry.
    let cross = http
        .send(
            http.client()
                .get(&url)
                .header("origin", "https://comune.example.it"),
        )
        .await;
    assert_eq!(cross.status, 429);
    assert_eq!(header(&cross, "access-control-allow-origin"), "*");
    assert!(header(&cross, "access-control-expose-headers")
        .to_ascii_lowercase()
        .contains("retry-after"));

    // The limit follows the address, whatever the client claims about itself.
    let spoofed = http
        .send(
            http.client()
                .get(&url)
                .header("x-forwarded-for", "203.0.113.9"),
        )
        .await;
    assert_eq!(spoofed.status, 429);
    // Every API answer carries the headers, errors too; operations endpoints are not limited.
    let other = http.get(&server.url("/api/v1/sources")).await;
    assert_eq!(other.status, 429);
    let status = http.get(&server.url("/status")).await;
    assert_eq!(status.status, 200);
    assert!(status.headers.get("x-ratelimit-limit").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_feeds_and_metrics_are_rate_limited_too_but_status_is_not() {
    // Bursts of 2: each public route gets its two answers with the headers, then a 429; the
    // budget is per address and shared, so each route is tried from its own forwarded address
    // behind a trusted proxy.
    let env = Env::with_server(
        "rate_limit_per_minute = 1\nrate_limit_burst = 2\ntrusted_proxies = [\"127.0.0.1\", \"::1\"]",
        "",
    );
    let server = env.serve();
    let http = Http::new();
    let routes = [
        "/",
        "/en/",
        "/embed",
        "/en/embed",
        "/widget.js",
        "/metrics",
        "/feeds/open.atom",
        "/feeds/meetings.ics",
        "/api/v1/search",
        "/no-such-page",
    ];
    for (i, route) in routes.iter().enumerate() {
        let ip = format!("198.51.100.{}", i + 10);
        let get = || {
            http.client()
                .get(server.url(route))
                .header("x-forwarded-for", ip.as_str())
        };
        for left in [1, 0] {
            let a = http.send(get()).await;
            assert!(a.status < 400 || a.status == 404, "{route}: {}", a.status);
            assert_eq!(num(&a, "x-ratelimit-limit"), 2, "{route}");
            assert_eq!(num(&a, "x-ratelimit-remaining"), left, "{route}");
            assert!(num(&a, "x-ratelimit-reset") >= 1, "{route}");
        }
        let over = http.send(get()).await;
        assert_eq!(over.status, 429, "{route}");
        assert!(
            over.content_type.starts_with("application/problem+json"),
            "{route}"
        );
        assert!(num(&over, "retry-after") >= 1, "{route}");
        assert_eq!(num(&over, "x-ratelimit-remaining"), 0, "{route}");
    }
    // Health checks are never throttled, even from an address that is over its budget.
    for _ in 0..5 {
        let st = http
            .send(
                http.client()
                    .get(server.url("/status"))
                    .header("x-forwarded-for", "198.51.100.10"),
            )
            .await;
        assert_eq!(st.status, 200);
        assert!(st.headers.get("x-ratelimit-limit").is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_is_believed_from_a_trusted_proxy() {
    let env = Env::with_server(
        "rate_limit_per_minute = 1\nrate_limit_burst = 1\ntrusted_proxies = [\"127.0.0.1\", \"::1\"]",
        "",
    );
    let server = env.serve();
    let http = Http::new();
    let url = server.url("/api/v1/sources");
    let via = |ip: &'static str| http.client().get(&url).header("x-forwarded-for", ip);
    assert_eq!(http.send(via("198.51.100.1")).await.status, 200);
    assert_eq!(http.send(via("198.51.100.1")).await.status, 429);
    // Another client behind the same proxy has its own budget; a spoofed left part is ignored.
    assert_eq!(http.send(via("198.51.100.2")).await.status, 200);
    assert_eq!(
        http.send(via("198.51.100.2, 198.51.100.3")).await.status,
        200,
        "the right-most untrusted hop is the client"
    );
    assert_eq!(
        http.send(via("198.51.100.9, 198.51.100.3")).await.status,
        429
    );
}

async fn hostile_env(extra_server: &str) -> (FakeDecidim, Env) {
    let name = Dataset::sample_names()
        .iter()
        .find(|n| Dataset::sample(n).is_some_and(|d| d.flags.leak_private))
        .expect("a bundled hostile sample");
    let data = Dataset::sample(name).expect("hostile sample");
    let fake = FakeDecidim::start(Version::V0_27, data, Faults::default())
        .await
        .expect("fake platform");
    let env = Env::with_server(extra_server, &source_toml("hostile", &fake.url(), None));
    let out = env.run(&["harvest", "hostile"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    (fake, env)
}

fn assert_text_inert(what: &str, text: &str) {
    let l = text.to_ascii_lowercase();
    for bad in [
        "<script",
        "onerror",
        "onclick",
        "onload",
        "javascript:",
        "<iframe",
        "<img",
        "<svg",
    ] {
        assert!(!l.contains(bad), "active markup `{bad}` in the {what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etag_revalidation_gets_304_on_search_and_records() {
    let (_fake, env) = hostile_env("rate_limit_per_minute = 0").await;
    let server = env.serve();
    let http = Http::new();
    let url = server.url("/api/v1/search?limit=5");
    let first = http.get(&url).await;
    assert_eq!(first.status, 200);
    // weak: this client accepts gzip, and a compressed answer's validator is weak
    let tag = header(&first, "etag").to_owned();
    assert!(tag.starts_with("W/\"") && tag.ends_with('"'), "{tag}");
    let tag = tag.trim_start_matches("W/").to_owned();
    assert!(header(&first, "cache-control").contains("max-age="));

    for validator in [tag.clone(), format!("W/{tag}"), format!("\"nope\", {tag}")] {
        let again = http
            .send(http.client().get(&url).header("if-none-match", validator))
            .await;
        assert_eq!(again.status, 304);
        assert!(again.text.is_empty());
        assert_eq!(header(&again, "etag"), tag);
    }
    let stale = http
        .send(http.client().get(&url).header("if-none-match", "\"stale\""))
        .await;
    assert_eq!(stale.status, 200);
    // Another query is another answer with another tag.
    let other = http.get(&server.url("/api/v1/search?limit=6")).await;
    assert_ne!(header(&other, "etag"), tag);

    let id = first.json()["items"][0]["id"]
        .as_str()
        .expect("a record")
        .to_owned();
    let rec_url = server.url(&format!("/api/v1/records/{id}"));
    let rec = http.get(&rec_url).await;
    assert_eq!(rec.status, 200);
    let rtag = header(&rec, "etag").to_owned();
    let rec304 = http
        .send(http.client().get(&rec_url).header("if-none-match", &rtag))
        .await;
    assert_eq!(rec304.status, 304);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_and_feed_carry_every_record_with_attribution_and_no_active_markup() {
    let (_fake, env) = hostile_env("rate_limit_per_minute = 0").await;
    let server = env.serve();
    let http = Http::new();
    let total = http.get(&server.url("/api/v1/search?limit=1")).await.json()["total"]
        .as_u64()
        .expect("total");
    assert!(total > 0);

    let jsonl = http.get(&server.url("/api/v1/export.jsonl")).await;
    assert_eq!(jsonl.status, 200);
    assert!(jsonl.content_type.starts_with("application/jsonl"));
    // the source's licence is not configured: nothing claims one
    assert!(jsonl.headers.get("link").is_none());
    let lines: Vec<Value> = jsonl
        .text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len() as u64, total);
    for v in &lines {
        assert_inert(v);
        assert_eq!(v["licence"], "unknown");
        assert_eq!(v["licence_url"], "");
        assert_eq!(v["source"], "hostile");
        assert!(v["attribution"]
            .as_str()
            .is_some_and(|a| a.starts_with("hostile platform; licence not stated by the source")));
    }
    assert_text_inert("JSON Lines export", &jsonl.text);

    let csv = http.get(&server.url("/api/v1/export.csv?lang=en")).await;
    assert_eq!(csv.status, 200);
    assert!(csv.content_type.starts_with("text/csv"));
    assert_text_inert("CSV export", &csv.text);
    let body = csv.text.trim_start_matches('\u{feff}');
    assert!(body.starts_with("\"id\",\"source\","));
    // One row per record: count row starts (quoted ids at the start of a CRLF line).
    let rows = body.matches("\r\n\"hostile:").count() as u64;
    assert_eq!(rows, total);
    for row in body.split("\r\n").skip(1).filter(|r| !r.is_empty()) {
        // No cell starts with a formula character (each is quoted and prefixed when needed).
        for bad in ["\"=", "\"+", "\"@"] {
            assert!(!row.contains(&format!(",{bad}")), "formula cell in {row}");
        }
    }
    let bad = http
        .get(&server.url("/api/v1/export.csv?lang=italiano"))
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["parameter"], "lang");

    let atom = http.get(&server.url("/feeds/open.atom")).await;
    assert_eq!(atom.status, 200);
    assert!(atom.content_type.starts_with("application/atom+xml"));
    assert!(atom.text.starts_with("<?xml"));
    assert_text_inert("Atom feed", &atom.text);
    let open = http
        .get(&server.url("/api/v1/search?status=open&limit=100"))
        .await
        .json()["total"]
        .as_u64()
        .expect("total");
    assert_eq!(
        atom.text.matches("<entry>").count() as u64,
        open.min(50),
        "{}",
        atom.text
    );
    let tag = header(&atom, "etag").to_owned();
    let again = http
        .send(
            http.client()
                .get(server.url("/feeds/open.atom"))
                .header("if-none-match", tag),
        )
        .await;
    assert_eq!(again.status, 304);
    // Same filters as search; a closed-status feed is refused with the parameter named.
    let filtered = http
        .get(&server.url("/feeds/open.atom?region=01&q=zzzzqqq"))
        .await;
    assert_eq!(filtered.status, 200);
    assert_eq!(filtered.text.matches("<entry>").count(), 0);
    let closed = http
        .get(&server.url("/feeds/open.atom?status=closed"))
        .await;
    assert_eq!(closed.status, 400);
    assert_eq!(closed.json()["parameter"], "status");

    // The calendar of upcoming meetings: hostile titles, descriptions and venues are inert
    // text there too, and every meeting in it is one the platform should have shown.
    for lang in ["", "?lang=en"] {
        let ics = http
            .get(&server.url(&format!("/feeds/meetings.ics{lang}")))
            .await;
        assert_eq!(ics.status, 200, "{}", ics.text);
        assert_eq!(ics.content_type, "text/calendar; charset=utf-8");
        assert_text_inert("iCalendar feed", &ics.text);
        let unfolded = ics.text.replace("\r\n ", "");
        assert_text_inert("iCalendar feed, unfolded", &unfolded);
        assert!(unfolded.contains("UID:hostile:meeting:9004@"), "{unfolded}");
        for absent in ["9005@", "9006@", "non deve comparire"] {
            assert!(!unfolded.contains(absent), "{absent} in {unfolded}");
        }
        assert!(
            unfolded.contains("licence not stated by the source"),
            "{unfolded}"
        );
        assert!(!unfolded.contains("CC BY"), "{unfolded}");
    }
    // No export or feed claims CC BY (or any licence) for a source whose licence is unknown.
    for (what, text) in [
        ("JSONL", &jsonl.text),
        ("CSV", &csv.text),
        ("Atom", &atom.text),
    ] {
        assert!(!text.contains("CC BY"), "{what}: {text}");
        assert!(text.contains("licence not stated by the source"), "{what}");
    }
    let search = http.get(&server.url("/api/v1/search?limit=1")).await.json();
    assert_eq!(search["items"][0]["licence"], "unknown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_licence_and_attribution_reach_every_output() {
    let name = Dataset::sample_names()
        .iter()
        .find(|n| Dataset::sample(n).is_some_and(|d| !d.flags.leak_private))
        .expect("a bundled sample");
    let fake = FakeDecidim::start(
        Version::V0_27,
        Dataset::sample(name).unwrap(),
        Faults::default(),
    )
    .await
    .expect("fake platform");
    let source = format!(
        "{}\nlicence = \"CC-BY-SA-4.0\"\nattribution = \"Regione di prova – ufficio partecipazione\"\n",
        source_toml("lic", &fake.url(), None).trim_end()
    );
    let env = Env::with_server("rate_limit_per_minute = 0", &source);
    let out = env.run(&["harvest", "lic"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let server = env.serve();
    let http = Http::new();
    let want = "Regione di prova – ufficio partecipazione, CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/)";
    let search = http.get(&server.url("/api/v1/search?limit=5")).await.json();
    let first = &search["items"][0];
    assert_eq!(
        (first["licence"].as_str(), first["attribution"].as_str()),
        (Some("CC-BY-SA-4.0"), Some(want))
    );
    let id = first["id"].as_str().unwrap().to_owned();
    let record = http
        .get(&server.url(&format!("/api/v1/records/{id}")))
        .await
        .json();
    assert_eq!(record["licence"], "CC-BY-SA-4.0");
    let jsonl = http.get(&server.url("/api/v1/export.jsonl")).await.text;
    for line in jsonl.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            (v["licence"].as_str(), v["attribution"].as_str()),
            (Some("CC-BY-SA-4.0"), Some(want))
        );
    }
    let csv = http.get(&server.url("/api/v1/export.csv")).await.text;
    assert!(csv.contains(&format!(
        "\"CC-BY-SA-4.0\",\"https://creativecommons.org/licenses/by-sa/4.0/\",\"{want}\""
    )));
    let atom = http.get(&server.url("/feeds/open.atom")).await.text;
    if atom.contains("<entry>") {
        assert!(atom.contains(&format!("<rights>{want}</rights>")), "{atom}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_data_catalogue_gives_each_source_its_own_licence_and_claims_none_unknown() {
    let names: Vec<&str> = Dataset::sample_names()
        .iter()
        .copied()
        .filter(|n| Dataset::sample(n).is_some_and(|d| !d.flags.leak_private))
        .take(2)
        .collect();
    let mut fakes = Vec::new();
    for n in &names {
        fakes.push(
            FakeDecidim::start(
                Version::V0_27,
                Dataset::sample(n).unwrap(),
                Faults::default(),
            )
            .await
            .expect("fake platform"),
        );
    }
    let sources = format!(
        "{}\nlicence = \"CC-BY-SA-4.0\"\n\n{}\n[catalog]\npublisher_name = \"Regione di prova\"\npublisher_id = \"r_prova\"\ncontact_email = \"opendata@regione.prova.it\"\n",
        source_toml("lic", &fakes[0].url(), None).trim_end(),
        source_toml("nolic", &fakes[1].url(), None),
    );
    let base = "https://hub.example.it";
    let env = Env::with_server(
        &format!("rate_limit_per_minute = 0\npublic_url = \"{base}\""),
        &sources,
    );
    let out = env.run(&["harvest"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let server = env.serve();
    let http = Http::new();

    let ttl = http.get(&server.url("/catalog.ttl")).await;
    assert_eq!(ttl.status, 200);
    assert!(
        ttl.content_type.starts_with("text/turtle"),
        "{}",
        ttl.content_type
    );
    assert!(ttl
        .text
        .contains("@prefix dcatapit: <http://dati.gov.it/onto/dcatapit#>"));
    let json = http.get(&server.url("/catalog.jsonld")).await;
    assert_eq!(json.content_type, "application/ld+json");
    let graph = json.json()["@graph"].as_array().cloned().unwrap();
    let node = |id: &str| {
        graph
            .iter()
            .find(|n| n["@id"] == format!("{base}{id}"))
            .unwrap_or_else(|| panic!("no {id} in the catalogue"))
            .clone()
    };
    let first = |n: &Value, p: &str| {
        n[p][0]["@id"]
            .as_str()
            .or(n[p][0]["@value"].as_str())
            .map(str::to_owned)
    };
    const LICENSE: &str = "http://purl.org/dc/terms/license";
    const LICENCES: &str = "https://w3id.org/italia/controlled-vocabulary/licences/";
    let ds = node("/catalog/dataset/lic");
    assert_eq!(
        first(&ds, "http://purl.org/dc/terms/identifier").as_deref(),
        Some("r_prova:snodo-lic")
    );
    for f in ["csv", "jsonl", "atom", "ics"] {
        let lic = first(&node(&format!("/catalog/dataset/lic/{f}")), LICENSE);
        assert_eq!(lic, Some(format!("{LICENCES}A31_CCBYSA40")), "{f}");
        let unknown = first(&node(&format!("/catalog/dataset/nolic/{f}")), LICENSE);
        assert_eq!(unknown, Some(format!("{LICENCES}C11_Unknown")), "{f}");
    }
    let csv = node("/catalog/dataset/nolic/csv");
    assert_eq!(
        first(&csv, "http://www.w3.org/ns/dcat#accessURL").as_deref(),
        Some(format!("{base}/api/v1/export.csv?source=nolic").as_str())
    );
    // The distribution it names holds that source's records only.
    let export = http
        .get(&server.url("/api/v1/export.jsonl?source=nolic"))
        .await
        .text;
    assert!(!export.is_empty());
    for line in export.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            (v["source"].as_str(), v["licence"].as_str()),
            (Some("nolic"), Some("unknown"))
        );
    }
    let bad = http
        .get(&server.url("/api/v1/export.csv?source=Not%20An%20Id"))
        .await;
    assert_eq!(
        (bad.status, bad.json()["parameter"].as_str()),
        (400, Some("source"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_publisher_there_is_no_catalogue_and_the_answer_says_what_to_configure() {
    let env = Env::with_server("rate_limit_per_minute = 0", "");
    let server = env.serve();
    let a = Http::new().get(&server.url("/catalog.ttl")).await;
    assert_eq!(
        (a.status, a.content_type.as_str()),
        (404, "application/problem+json")
    );
    assert!(a.json()["detail"]
        .as_str()
        .unwrap()
        .contains("[catalog] publisher_name"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_and_malformed_requests_get_4xx_problems_never_5xx() {
    let env = Env::with_server("rate_limit_per_minute = 0", "");
    let server = env.serve();
    let http = Http::new();
    let problem = |a: &Answer, code: u16| {
        assert_eq!(a.status, code, "{}", a.text);
        assert!(
            a.content_type.starts_with("application/problem+json"),
            "{}",
            a.content_type
        );
        assert_eq!(a.json()["status"], code);
    };

    let huge = "a".repeat(20_000);
    problem(
        &http
            .get(&server.url(&format!("/api/v1/search?q={huge}")))
            .await,
        400,
    );
    problem(
        &http
            .get(&server.url(&format!("/api/v1/records/{huge}")))
            .await,
        414,
    );
    let long_q = http
        .get(&server.url(&format!("/api/v1/search?q={}", "a".repeat(600))))
        .await;
    problem(&long_q, 400);
    assert_eq!(long_q.json()["parameter"], "q");

    let big_body = http
        .send(
            http.client()
                .post(server.url("/api/v1/sources/x/harvest"))
                .body(vec![b'x'; 100_000]),
        )
        .await;
    problem(&big_body, 413);

    for path in [
        "/api/v1/search?q=%FF%FE",
        "/api/v1/search?q=%00",
        "/api/v1/search?q=(((((((((",
        "/api/v1/search?q=\"unclosed",
        "/api/v1/search?q=a:b:c&limit=1e9",
        "/api/v1/search?offset=-1",
        "/api/v1/search?lang=%3Cscript%3E",
        "/api/v1/search?kind=%3Cscript%3E",
        "/api/v1/search?region=%F0%9F%92%A9",
        "/api/v1/search?=&&==",
        "/api/v1/records/%3Cscript%3E",
        "/api/v1/records/a:b:c",
        "/api/v1/sources/%00/runs?limit=x",
        "/feeds/open.atom?limit=0",
        "/api/v1/export.jsonl?x=1",
    ] {
        let a = http.get(&server.url(path)).await;
        assert!(a.status < 500, "{path}: {} {}", a.status, a.text);
        if a.status >= 400 {
            assert!(
                a.content_type.starts_with("application/problem+json"),
                "{path}: {}",
                a.content_type
            );
        }
        assert_text_inert(path, &a.text);
    }
    let wrong_method = http
        .send(http.client().delete(server.url("/api/v1/search")))
        .await;
    problem(&wrong_method, 405);

    // Data answers are never rendered as documents.
    let csp = http.get(&server.url("/api/v1/sources")).await;
    assert!(header(&csp, "content-security-policy").contains("default-src 'none'"));
    assert_eq!(header(&csp, "x-content-type-options"), "nosniff");
}

/// Every mistake a client can make gets a problem+json answer over real HTTP: the status, the
/// content type, a `detail` that says what to change, and CORS headers so a widget on another
/// site can read it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_error_is_a_problem_that_says_what_to_change() {
    let env = Env::with_server(
        "rate_limit_per_minute = 1\nrate_limit_burst = 40\nmax_uri_bytes = 2000\nmax_body_bytes = 1000",
        "",
    );
    let server = env.serve();
    let http = Http::new();
    let origin = "https://www.comune.example.it";
    let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
        (
            "invalid UTF-8 in the path",
            http.client().get(server.url("/api/v1/records/%FF%FE")),
            400,
            "UTF-8",
        ),
        (
            "invalid UTF-8 in the query",
            http.client().get(server.url("/api/v1/search?q=caf%C3")),
            400,
            "UTF-8",
        ),
        (
            "invalid UTF-8 in a parameter name",
            http.client().get(server.url("/api/v1/search?%FF=1")),
            400,
            "UTF-8",
        ),
        (
            "a bad escape in the path",
            http.client().get(server.url("/api/v1/records/a%ZZb")),
            400,
            "%25",
        ),
        (
            "a bad escape in the query",
            http.client()
                .get(server.url("/api/v1/search?q=sconto%2050%")),
            400,
            "%25",
        ),
        (
            "no such route",
            http.client().get(server.url("/api/v2/search")),
            404,
            "openapi.json",
        ),
        (
            "a wrong method",
            http.client().delete(server.url("/api/v1/search")),
            405,
            "method",
        ),
        (
            "a body where none is read",
            http.client()
                .get(server.url("/api/v1/search"))
                .body("q=bari"),
            400,
            "query string",
        ),
        (
            "a too-long path",
            http.client()
                .get(server.url(&format!("/api/v1/records/{}", "a".repeat(3000)))),
            414,
            "at most 2000",
        ),
        (
            "a too-long body",
            http.client()
                .post(server.url("/api/v1/search"))
                .body(vec![b'x'; 5000]),
            413,
            "at most 1000",
        ),
        (
            "an unknown parameter",
            http.client().get(server.url("/api/v1/search?regione=16")),
            400,
            "known parameters",
        ),
    ];
    for (what, req, code, says) in cases {
        let a = http.send(req.header("origin", origin)).await;
        assert_eq!(a.status, code, "{what}: {}", a.text);
        assert!(
            a.content_type.starts_with("application/problem+json"),
            "{what}: {} {}",
            a.content_type,
            a.text
        );
        let p = a.json();
        assert_eq!(p["status"], code, "{what}");
        let detail = p["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(says), "{what}: {detail}");
        assert_eq!(
            a.headers
                .get("access-control-allow-origin")
                .map(|v| v.to_str().unwrap()),
            Some("*"),
            "{what}: readable by the widget's page"
        );
        if code == 405 {
            assert_eq!(header(&a, "allow"), "GET,HEAD", "{what}");
        }
    }
    // The 40-request burst is spent by now: a rate-limited answer is a problem too.
    let mut last = None;
    for _ in 0..45 {
        let a = http
            .send(
                http.client()
                    .get(server.url("/api/v1/sources"))
                    .header("origin", origin),
            )
            .await;
        if a.status == 429 {
            last = Some(a);
            break;
        }
    }
    let over = last.expect("the burst runs out");
    assert!(over.content_type.starts_with("application/problem+json"));
    assert!(num(&over, "retry-after") >= 1);
    assert_eq!(header(&over, "access-control-allow-origin"), "*");
}

/// The one-line embed works on any site with the shipped defaults; an operator's restriction
/// holds; the admin endpoint never answers another site.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_surface_answers_every_origin_unless_restricted_and_admin_none() {
    let env = Env::new("");
    let server = env.serve();
    let http = Http::new();
    let site = "https://www.comune.casalecchio.bo.it";
    for path in [
        "/api/v1/search?q=bilancio",
        "/api/v1/records/a:process:1",
        "/api/v1/sources",
        "/api/v1/openapi.json",
        "/feeds/open.atom",
        "/feeds/meetings.ics",
        "/widget.js",
        "/api/v1/export.jsonl",
    ] {
        let a = http
            .send(http.client().get(server.url(path)).header("origin", site))
            .await;
        assert!(a.status < 500, "{path}: {}", a.status);
        assert_eq!(header(&a, "access-control-allow-origin"), "*", "{path}");
        assert!(
            a.headers.get("access-control-allow-credentials").is_none(),
            "{path}"
        );
        let head = http
            .send(http.client().head(server.url(path)).header("origin", site))
            .await;
        assert_eq!(
            header(&head, "access-control-allow-origin"),
            "*",
            "HEAD {path}"
        );
    }
    let preflight = http
        .send(
            http.client()
                .request(reqwest::Method::OPTIONS, server.url("/api/v1/search?q=x"))
                .header("origin", site)
                .header("access-control-request-method", "GET")
                .header("access-control-request-headers", "if-none-match"),
        )
        .await;
    assert!(preflight.status < 300, "{}", preflight.status);
    assert_eq!(header(&preflight, "access-control-allow-origin"), "*");
    assert!(header(&preflight, "access-control-allow-methods").contains("GET"));

    // The admin endpoint: no CORS answer to a preflight or a request, whatever the origin.
    let admin = server.url("/api/v1/sources/x/harvest");
    let preflight = http
        .send(
            http.client()
                .request(reqwest::Method::OPTIONS, &admin)
                .header("origin", site)
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "authorization"),
        )
        .await;
    assert!(preflight
        .headers
        .get("access-control-allow-origin")
        .is_none());
    assert!(preflight
        .headers
        .get("access-control-allow-methods")
        .is_none());
    let post = http
        .send(
            http.client()
                .post(&admin)
                .header("origin", site)
                .bearer_auth("test-token"),
        )
        .await;
    assert_eq!(post.status, 404, "{}", post.text);
    assert!(post.headers.get("access-control-allow-origin").is_none());
    drop(server);

    // An operator restricts it: the listed origin reads, another does not, `Vary` says why.
    let env = Env::with_server("cors_allowed_origins = [\"https://open.gov.it\"]", "");
    let server = env.serve();
    for (origin, allowed) in [("https://open.gov.it", true), (site, false)] {
        for path in ["/api/v1/search?q=x", "/widget.js", "/api/v1/records/%FF"] {
            let a = http
                .send(http.client().get(server.url(path)).header("origin", origin))
                .await;
            let got = a
                .headers
                .get("access-control-allow-origin")
                .map(|v| v.to_str().unwrap().to_owned());
            assert_eq!(got, allowed.then(|| origin.to_owned()), "{origin} {path}");
            assert!(header(&a, "vary").contains("origin"), "{origin} {path}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_answers_are_compressed_for_clients_that_accept_it() {
    let env = Env::new("");
    let server = env.serve();
    let _http = Http::new(); // installs the TLS provider every client needs
                             // a client that does not decompress, to see the bytes on the wire
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    for path in [
        "/",
        "/en/embed",
        "/widget.js",
        "/api/v1/search?q=bilancio",
        "/api/v1/openapi.json",
        "/feeds/open.atom",
    ] {
        let plain = raw.get(server.url(path)).send().await.unwrap();
        assert_eq!(plain.status(), 200, "{path}");
        assert!(plain.headers().get("content-encoding").is_none(), "{path}");
        let plain_len = plain.bytes().await.unwrap().len();
        let gz = raw
            .get(server.url(path))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(gz.status(), 200, "{path}");
        assert_eq!(gz.headers()["content-encoding"], "gzip", "{path}");
        let vary: Vec<String> = gz
            .headers()
            .get_all("vary")
            .iter()
            .map(|v| v.to_str().unwrap().to_ascii_lowercase())
            .collect();
        assert!(
            vary.iter().any(|v| v.contains("accept-encoding")),
            "{path}: {vary:?}"
        );
        let etag = gz
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = gz.bytes().await.unwrap();
        assert_eq!(&body[..2], &[0x1f, 0x8b], "{path}: gzip magic");
        if plain_len > 4096 {
            assert!(
                body.len() * 2 < plain_len,
                "{path}: {} of {plain_len}",
                body.len()
            );
        }
        // a compressed answer's validator is weak, and still revalidates
        if let Some(tag) = etag {
            assert!(tag.starts_with("W/\""), "{path}: {tag}");
            let again = raw
                .get(server.url(path))
                .header("accept-encoding", "gzip")
                .header("if-none-match", &tag)
                .send()
                .await
                .unwrap();
            assert_eq!(again.status(), 304, "{path}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_s_typeface_is_served_by_snodo_itself_cached_and_not_recompressed() {
    let env = Env::new("");
    let server = env.serve();
    let _http = Http::new();
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let page = raw
        .get(server.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let fonts: Vec<&str> = page
        .split("url(")
        .skip(1)
        .filter_map(|s| s.split_once(')').map(|(u, _)| u))
        .filter(|u| u.ends_with(".woff2"))
        .collect();
    assert_eq!(fonts.len(), 6, "400, 600 and 700 in latin and latin-ext");
    for url in fonts {
        assert!(
            url.starts_with("/fonts/"),
            "served by snodo, never a font server: {url}"
        );
        let r = raw
            .get(server.url(url))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{url}");
        assert_eq!(r.headers()["content-type"], "font/woff2");
        assert!(
            r.headers().get("content-encoding").is_none(),
            "{url}: woff2 is compressed already"
        );
        assert!(r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable"));
        let body = r.bytes().await.unwrap();
        assert_eq!(&body[..4], b"wOF2", "{url}");
    }
    let missing = raw
        .get(server.url("/fonts/titillium-web-5.3.0/../../etc/passwd"))
        .send()
        .await
        .unwrap();
    assert!(missing.status().is_client_error());
    let missing = raw
        .get(server.url("/fonts/titillium-web-5.3.0/comic-sans.woff2"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_get_a_page_for_an_unknown_address_and_api_clients_a_problem() {
    let env = Env::new("");
    let server = env.serve();
    let http = Http::new();
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let page = |path: &'static str| {
        http.send(
            http.client()
                .get(server.url(path))
                .header("accept", browser),
        )
    };
    let it = page("/pagina-che-non-esiste").await;
    assert_eq!(it.status, 404);
    assert!(
        it.content_type.starts_with("text/html"),
        "{}",
        it.content_type
    );
    assert!(it.text.contains("<html lang=\"it\">"));
    assert!(it.text.contains("<h1>Pagina non trovata</h1>"));
    assert!(it.text.contains("href=\"/\""));
    let en = page("/en/no-such-page").await;
    assert_eq!(en.status, 404);
    assert!(en.text.contains("<html lang=\"en\">") && en.text.contains("<h1>Page not found</h1>"));
    // the API stays problem+json, whatever the client accepts, and so does a client without Accept
    for a in [
        page("/api/v1/nothing").await,
        http.get(&server.url("/pagina-che-non-esiste")).await,
    ] {
        assert_eq!(a.status, 404);
        assert!(
            a.content_type.starts_with("application/problem+json"),
            "{}",
            a.content_type
        );
    }
}
