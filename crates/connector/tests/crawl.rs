//! robots.txt, conditional GET and the outbound address guard, against a loopback server.

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use snodo_connector::http::{host_is_public, ip_is_public};
use snodo_connector::{Fetched, HttpClient, HttpError, HttpSettings, Robots, Validators};

async fn server(log: Arc<Mutex<Vec<String>>>) -> String {
    let app = axum::Router::new()
        .route(
            "/robots.txt",
            axum::routing::get(|| async {
                "User-agent: *\nDisallow: /\n\nUser-agent: Snodo\nDisallow: /private\nAllow: /private/ok\nDisallow: /*.pdf$\n"
            }),
        )
        .fallback(move |uri: axum::http::Uri, headers: HeaderMap| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(uri.to_string());
                if headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some("\"1\"") {
                    return StatusCode::NOT_MODIFIED.into_response();
                }
                ([("etag", "\"1\""), ("last-modified", "Fri, 14 Jun 2024 10:00:00 GMT")], "page")
                    .into_response()
            }
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn client(settings: HttpSettings) -> HttpClient {
    HttpClient::new(HttpSettings {
        min_delay: std::time::Duration::ZERO,
        max_retries: 0,
        ..settings
    })
    .unwrap()
    .for_run("t")
}

#[tokio::test]
async fn robots_rules_for_snodo_are_obeyed_and_read_once() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let base = server(log.clone()).await;
    let http = client(HttpSettings::default());
    let get = |p: &str| {
        let http = http.clone();
        let url = format!("{base}{p}");
        async move { http.fetch(&url, "text/html", None).await.unwrap() }
    };
    assert!(matches!(get("/public").await, Fetched::Page { .. }));
    assert!(matches!(
        get("/private/x").await,
        Fetched::Disallowed { .. }
    ));
    assert!(matches!(get("/private/ok/1").await, Fetched::Page { .. }));
    assert!(matches!(get("/doc.pdf").await, Fetched::Disallowed { .. }));
    assert!(matches!(get("/doc.pdf?x=1").await, Fetched::Page { .. }));
    assert_eq!(http.requests_sent(), 4, "robots.txt once, then three pages");
    assert_eq!(log.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn conditional_get_gives_not_modified() {
    let base = server(Arc::new(Mutex::new(Vec::new()))).await;
    let http = client(HttpSettings::default());
    let url = format!("{base}/page");
    let Fetched::Page { validators, .. } = http.fetch(&url, "text/html", None).await.unwrap()
    else {
        panic!("expected a page")
    };
    assert_eq!(validators.etag.as_deref(), Some("\"1\""));
    assert!(validators.last_modified.is_some());
    assert!(matches!(
        http.fetch(&url, "text/html", Some(&validators))
            .await
            .unwrap(),
        Fetched::NotModified
    ));
    let other = Validators {
        etag: Some("\"0\"".into()),
        last_modified: None,
    };
    assert!(matches!(
        http.fetch(&url, "text/html", Some(&other)).await.unwrap(),
        Fetched::Page { .. }
    ));
}

#[tokio::test]
async fn a_public_source_cannot_reach_loopback_unless_allowed() {
    let base = server(Arc::new(Mutex::new(Vec::new()))).await;
    let url = format!("{base}/page");
    let guarded =
        client(HttpSettings::default()).guarded_for("https://www.consultazione.gov.it/feed");
    assert!(guarded.is_public_only());
    let e = guarded.get(&url, &[]).await.unwrap_err();
    assert!(matches!(e, HttpError::PrivateAddress { .. }), "{e}");
    assert!(
        e.to_string().contains("127.0.0.1") && e.to_string().contains(&url),
        "{e}"
    );
    let e = guarded.get("http://localhost:9/x", &[]).await.unwrap_err();
    assert!(matches!(e, HttpError::PrivateAddress { .. }), "{e}");
    assert_eq!(guarded.requests_sent(), 0);
    // A source that is itself on loopback, or settings that allow it, may.
    let own = client(HttpSettings::default()).guarded_for(&base);
    assert!(own.get(&url, &[]).await.is_ok());
    let allowed = client(HttpSettings {
        allow_private_addresses: true,
        ..HttpSettings::default()
    })
    .guarded_for("https://www.consultazione.gov.it/feed");
    assert!(allowed.get(&url, &[]).await.is_ok());
}

#[test]
fn address_classes() {
    for ip in [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:10.0.0.1",
    ] {
        assert!(!ip_is_public(ip.parse().unwrap()), "{ip}");
    }
    for ip in ["151.101.1.1", "2a00:1450:4002::1"] {
        assert!(ip_is_public(ip.parse().unwrap()), "{ip}");
    }
    assert!(!host_is_public(&url::Host::Domain("intranet.local")));
    assert!(host_is_public(&url::Host::Domain("open.gov.it")));
}

#[test]
fn robots_parsing_edge_cases() {
    let r = Robots::parse("User-agent: *\nDisallow:\n", "snodo");
    assert!(r.allows("/anything"));
    let r = Robots::parse("garbage\n\u{0}\nDisallow: /x\n", "snodo");
    assert!(r.allows("/x"), "rules outside a group do not apply");
    let r = Robots::parse("User-agent: other\nDisallow: /\n", "snodo");
    assert!(r.allows("/"));
    let r = Robots::parse("User-agent: *\nDisallow: /a*b$\n", "snodo");
    assert!(!r.allows("/a/x/b") && r.allows("/a/x/bc"));
    // RFC 9309: the group naming the agent (case-insensitively) replaces `*`, and the groups
    // naming it are merged; the longest match wins, allow on a tie.
    let r = Robots::parse(
        "User-agent: *\nDisallow: /\n\nUser-agent: SNODO\nDisallow: /private\n\nUser-agent: snodo\nAllow: /private/open\n",
        "snodo",
    );
    assert!(r.allows("/processes"));
    assert!(!r.allows("/private/x"));
    assert!(r.allows("/private/open/1"));
    let r = Robots::parse("User-agent: *\nDisallow: /page\nAllow: /page\n", "snodo");
    assert!(r.allows("/page"), "allow wins a tie");
    // Percent-encoded and literal forms of the same path are the same path.
    let r = Robots::parse("User-agent: *\nDisallow: /partecipazione/%C3%A8\n", "snodo");
    assert!(!r.allows("/partecipazione/%C3%A8/1"));
    // The query is part of what is matched.
    let r = Robots::parse("User-agent: *\nDisallow: /*?locale=\n", "snodo");
    assert!(!r.allows("/processes?locale=en") && r.allows("/processes"));
    assert!(!Robots::unavailable("503".into()).allows("/"));
    assert!(Robots::default().allows("/"));
}
