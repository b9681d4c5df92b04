//! The shared HTTP client against a misbehaving server on loopback: bodies too large, bodies that
//! stall, status codes that must or must not be retried, and Retry-After as a date.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use snodo_connector::{HttpClient, HttpError, HttpSettings};

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    addr
}

fn settings() -> HttpSettings {
    HttpSettings {
        min_delay: Duration::ZERO,
        backoff_min: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        request_timeout: Duration::from_secs(2),
        max_retries: 2,
        ..HttpSettings::default()
    }
}

#[tokio::test]
async fn a_huge_body_is_refused_without_reading_it_all() {
    let router = Router::new()
        .route("/declared", get(|| async { vec![b'x'; 3 * 1024 * 1024] }))
        .route(
            "/streamed",
            get(|| async {
                // No Content-Length: chunks until the client gives up.
                let chunks = futures_util::stream::iter(
                    (0..10_000).map(|_| Ok::<_, std::io::Error>(vec![b'y'; 64 * 1024])),
                );
                Body::from_stream(chunks)
            }),
        );
    let addr = serve(router).await;
    let client = HttpClient::new(HttpSettings {
        max_body_bytes: 1024 * 1024,
        ..settings()
    })
    .unwrap();
    for path in ["/declared", "/streamed"] {
        let err = client
            .get(&format!("http://{addr}{path}"), &[])
            .await
            .unwrap_err();
        assert!(matches!(err, HttpError::TooLarge { .. }), "{path}: {err}");
        assert!(
            err.to_string().contains("larger than 1048576 bytes"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn a_stalled_body_times_out() {
    let router = Router::new().route(
        "/slow",
        get(|| async {
            let stream = futures_util::stream::unfold(0u32, |n| async move {
                if n > 0 {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
                (n < 3).then(|| (Ok::<_, std::io::Error>(vec![b'{'; 10]), n + 1))
            });
            Body::from_stream(stream)
        }),
    );
    let addr = serve(router).await;
    let client = HttpClient::new(HttpSettings {
        max_retries: 0,
        ..settings()
    })
    .unwrap();
    let started = Instant::now();
    let err = client
        .get(&format!("http://{addr}/slow"), &[])
        .await
        .unwrap_err();
    assert!(matches!(err, HttpError::Timeout { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn client_errors_are_not_retried_but_server_errors_are() {
    let missing_hits = Arc::new(AtomicU64::new(0));
    let busy_hits = Arc::new(AtomicU64::new(0));
    let (m, b) = (missing_hits.clone(), busy_hits.clone());
    let router = Router::new()
        .route(
            "/missing",
            get(move || {
                m.fetch_add(1, Ordering::SeqCst);
                async { StatusCode::NOT_FOUND }
            }),
        )
        .route(
            "/busy",
            get(move || {
                b.fetch_add(1, Ordering::SeqCst);
                async { StatusCode::SERVICE_UNAVAILABLE }
            }),
        );
    let addr = serve(router).await;
    let client = HttpClient::new(settings()).unwrap().for_run("t");
    let err = client
        .get(&format!("http://{addr}/missing"), &[])
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(err.to_string().contains("check the source's URL"), "{err}");
    assert_eq!(
        missing_hits.load(Ordering::SeqCst),
        1,
        "404 must not be retried"
    );
    let err = client
        .get(&format!("http://{addr}/busy"), &[])
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(
        busy_hits.load(Ordering::SeqCst),
        3,
        "a 503 is tried 1 + max_retries times"
    );
    assert_eq!(client.requests_sent(), 4);
    assert_eq!(client.retries_made(), 2);
}

#[tokio::test]
async fn retry_after_as_an_http_date_delays_the_next_request() {
    let times = Arc::new(std::sync::Mutex::new(Vec::<Instant>::new()));
    let t = times.clone();
    let router = Router::new().route(
        "/limited",
        get(move || {
            let mut v = t.lock().unwrap();
            v.push(Instant::now());
            let first = v.len() == 1;
            async move {
                if first {
                    let when = httpdate::fmt_http_date(
                        std::time::SystemTime::now() + Duration::from_secs(2),
                    );
                    Response::builder()
                        .status(StatusCode::TOO_MANY_REQUESTS)
                        .header(header::RETRY_AFTER, when)
                        .body(Body::empty())
                        .unwrap()
                } else {
                    "{}".into_response()
                }
            }
        }),
    );
    let addr = serve(router).await;
    let client = HttpClient::new(settings()).unwrap();
    client
        .get(&format!("http://{addr}/limited"), &[])
        .await
        .unwrap();
    let v = times.lock().unwrap();
    assert_eq!(v.len(), 2);
    // HTTP dates have one-second resolution: at least ~1 s must pass.
    assert!(
        v[1].duration_since(v[0]) >= Duration::from_millis(900),
        "{:?}",
        v[1].duration_since(v[0])
    );
}

#[tokio::test]
async fn a_retry_after_beyond_the_limit_fails_instead_of_stalling() {
    let router = Router::new().route(
        "/later",
        get(|| async {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "86400")],
                "",
            )
        }),
    );
    let addr = serve(router).await;
    let client = HttpClient::new(settings()).unwrap();
    let err = client
        .get(&format!("http://{addr}/later"), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(err, HttpError::RetryAfterTooLong { secs: 86400, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn an_unresolvable_host_is_a_connect_error_naming_it() {
    let client = HttpClient::new(HttpSettings {
        max_retries: 0,
        ..settings()
    })
    .unwrap();
    let err = client
        .get("http://snodo-test.invalid/api", &[])
        .await
        .unwrap_err();
    assert!(matches!(err, HttpError::Connect { .. }), "{err}");
    assert!(err.to_string().contains("snodo-test.invalid"), "{err}");
}
