//! The HTTP server: routing, content types, faults, the request log.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use snodo_fake_decidim::{Dataset, FakeDecidim, Faults, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A minimal HTTP/1.1 client: one request per connection.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("JSON body")
    }
}

async fn http(server: &FakeDecidim, method: &str, path: &str, ctype: &str, body: &str) -> Reply {
    let mut stream = TcpStream::connect(server.addr()).await.expect("connect");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: partecipa.example\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let raw = String::from_utf8(raw).expect("utf-8");
    let (head, body) = raw.split_once("\r\n\r\n").expect("head");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect::<Vec<_>>();
    let body = if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v == "chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

async fn graphql(server: &FakeDecidim, query: &str, variables: Value) -> Reply {
    let body = json!({"query": query, "variables": variables}).to_string();
    http(server, "POST", "/api", "application/json", &body).await
}

async fn start(faults: Faults) -> FakeDecidim {
    FakeDecidim::start(
        Version::V0_28,
        Dataset::sample("partecipa").expect("sample"),
        faults,
    )
    .await
    .expect("server starts")
}

#[tokio::test]
async fn answers_graphql_over_http() {
    let server = start(Faults::default()).await;
    assert!(server.url().starts_with("http://127.0.0.1:"));
    assert_eq!(server.api_url(), format!("{}/api", server.url()));
    let r = graphql(
        &server,
        "{ participatoryProcesses { slug heroImage } }",
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json")));
    let v = r.json();
    let first = &v["data"]["participatoryProcesses"][0];
    assert_eq!(first["slug"], "bilancio-partecipativo-2026");
    // On 0.28 image URLs are absolute, on this server.
    let hero = first["heroImage"].as_str().expect("hero");
    assert!(hero.starts_with(&server.url()), "{hero}");

    // Variables as a JSON string are accepted, like graphql-ruby's Rails controller.
    let body = json!({"query": "query($s: String) { participatoryProcess(slug: $s) { id } }", "variables": "{\"s\": \"aree-interne\"}"}).to_string();
    let r = http(
        &server,
        "POST",
        "/api",
        "application/json; charset=utf-8",
        &body,
    )
    .await;
    assert_eq!(r.json()["data"]["participatoryProcess"]["id"], "5");

    let log = server.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].status, 200);
    assert!(log[0].query.contains("participatoryProcesses"));
    assert_eq!(log[1].variables, json!({"s": "aree-interne"}));
    assert!(log[0].at <= log[1].at);
}

#[tokio::test]
async fn refuses_other_content_types_and_bad_json() {
    let server = start(Faults::default()).await;
    let r = http(
        &server,
        "POST",
        "/api",
        "application/x-www-form-urlencoded",
        "query=%7B%7D",
    )
    .await;
    assert_eq!(r.status, 415);
    let r = http(&server, "POST", "/api", "application/json", "{not json").await;
    assert_eq!(r.status, 400);
    let r = graphql(&server, "{ nope }", json!({})).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["errors"][0]["message"],
        "Field 'nope' doesn't exist on type 'Query'"
    );
    let r = http(&server, "GET", "/api", "text/plain", "").await;
    assert_eq!(r.status, 404);
    let statuses: Vec<u16> = server.api_requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [415, 400, 200, 404]);
    assert_eq!(server.api_requests()[3].method, "GET");
}

#[tokio::test]
async fn html_pages_for_canonical_urls() {
    let server = start(Faults::default()).await;
    let r = http(&server, "GET", "/", "text/plain", "").await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Hub della Partecipazione"));
    let r = http(
        &server,
        "GET",
        "/processes/bilancio-partecipativo-2026",
        "text/plain",
        "",
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("<h1>Bilancio partecipativo 2026</h1>"));
    let r = http(
        &server,
        "GET",
        "/assemblies/hub-partecipazione",
        "text/plain",
        "",
    )
    .await;
    assert_eq!(r.status, 200);
    let r = http(
        &server,
        "GET",
        "/processes/bilancio-partecipativo-2026/f/11/proposals/1001",
        "text/plain",
        "",
    )
    .await;
    assert_eq!(r.status, 200);
    let r = http(
        &server,
        "GET",
        "/processes/riforma-pa-bozza",
        "text/plain",
        "",
    )
    .await;
    assert_eq!(r.status, 404, "unpublished");
    let r = http(
        &server,
        "GET",
        "/assemblies/comitato-tecnico-riservato",
        "text/plain",
        "",
    )
    .await;
    assert_eq!(r.status, 404, "private");
    assert_eq!(server.requests().len(), 6);
    assert!(server.api_requests().is_empty());
}

#[tokio::test]
async fn rate_limit_then_500_then_ok() {
    let server = start(Faults {
        rate_limit_first: 2,
        retry_after_secs: 7,
        fail_nth: Some(3),
        ..Faults::default()
    })
    .await;
    let q = "{ decidim { version } }";
    let r = graphql(&server, q, json!({})).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("7"));
    assert_eq!(graphql(&server, q, json!({})).await.status, 429);
    let r = graphql(&server, q, json!({})).await;
    assert_eq!(r.status, 500);
    assert!(r.body.contains("something went wrong"));
    let r = graphql(&server, q, json!({})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["data"]["decidim"]["version"], "0.28.4");
    let statuses: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 429, 500, 200]);

    // New faults count again from 1.
    server.set_faults(Faults {
        fail_nth: Some(1),
        ..Faults::default()
    });
    assert_eq!(graphql(&server, q, json!({})).await.status, 500);
    assert_eq!(graphql(&server, q, json!({})).await.status, 200);
}

#[tokio::test]
async fn html_and_truncated_bodies() {
    let server = start(Faults {
        html_instead_of_json: true,
        ..Faults::default()
    })
    .await;
    let q = "{ participatoryProcesses { slug } }";
    let r = graphql(&server, q, json!({})).await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/html")));
    assert!(serde_json::from_str::<Value>(&r.body).is_err());

    server.set_faults(Faults {
        truncate_json: true,
        ..Faults::default()
    });
    let r = graphql(&server, q, json!({})).await;
    assert_eq!(r.status, 200);
    assert!(r.body.starts_with("{\"data\""));
    assert!(serde_json::from_str::<Value>(&r.body).is_err());
}

#[tokio::test]
async fn field_error_over_http() {
    let server = start(Faults {
        field_error: Some("ParticipatoryProcess.stats".into()),
        ..Faults::default()
    })
    .await;
    let r = graphql(
        &server,
        "{ participatoryProcesses { slug stats { name value } } }",
        json!({}),
    )
    .await;
    let v = r.json();
    assert_eq!(
        v["data"]["participatoryProcesses"][0]["slug"],
        "bilancio-partecipativo-2026"
    );
    assert!(v["data"]["participatoryProcesses"][0]["stats"].is_null());
    assert_eq!(
        v["errors"][0]["path"],
        json!(["participatoryProcesses", 0, "stats"])
    );
}

#[tokio::test]
async fn delay_and_max_in_flight() {
    let server = start(Faults {
        delay_ms: 150,
        ..Faults::default()
    })
    .await;
    let q = "{ decidim { version } }";
    let t0 = Instant::now();
    graphql(&server, q, json!({})).await;
    graphql(&server, q, json!({})).await;
    assert!(t0.elapsed() >= Duration::from_millis(300));
    assert_eq!(server.max_in_flight(), 1, "sequential requests");

    let (a, b, c) = tokio::join!(
        graphql(&server, q, json!({})),
        graphql(&server, q, json!({})),
        graphql(&server, q, json!({}))
    );
    assert_eq!((a.status, b.status, c.status), (200, 200, 200));
    assert_eq!(server.max_in_flight(), 3, "concurrent requests are seen");
    assert_eq!(server.requests().len(), 5);
    server.clear_requests();
    assert!(server.requests().is_empty());
    assert_eq!(server.max_in_flight(), 0);
}

#[tokio::test]
async fn set_dataset_changes_answers_and_shutdown_stops() {
    let server = start(Faults::default()).await;
    let q = "{ participatoryProcesses { slug } }";
    let count = |v: &Value| v["data"]["participatoryProcesses"].as_array().map(Vec::len);
    assert_eq!(count(&graphql(&server, q, json!({})).await.json()), Some(8));
    let mut d = Dataset::sample("partecipa").expect("sample");
    assert!(d.remove_space("aree-interne"));
    server.set_dataset(d);
    assert_eq!(count(&graphql(&server, q, json!({})).await.json()), Some(7));
    let addr = server.addr();
    server.shutdown();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn start_on_a_fixed_address() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("probe");
    let addr = probe.local_addr().expect("addr");
    drop(probe);
    let server = FakeDecidim::start_on(
        addr,
        Version::V0_26,
        Dataset::sample("partecipa").expect("sample"),
        Faults::default(),
    )
    .await
    .expect("bind");
    assert_eq!(server.url(), format!("http://{addr}"));
    assert_eq!(server.version(), Version::V0_26);
}

#[tokio::test]
async fn hostile_pages_are_escaped() {
    let server = FakeDecidim::start(
        Version::V0_27,
        Dataset::sample("hostile").expect("sample"),
        Faults::default(),
    )
    .await
    .expect("server");
    let r = http(&server, "GET", "/", "text/plain", "").await;
    assert_eq!(r.status, 200);
    assert!(!r.body.contains("<script>") && !r.body.contains("<iframe"));
    assert!(r.body.contains("&lt;script&gt;"));
    let r = http(
        &server,
        "GET",
        "/processes/processo-con-script",
        "text/plain",
        "",
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(!r.body.contains("<script>"));
}
