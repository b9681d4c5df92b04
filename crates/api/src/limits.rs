//! Protection of the public surface: per-client rate limiting (GCRA, via `governor`) with the
//! ModI `X-RateLimit-*` headers, the client address behind trusted proxies, URI and body size
//! limits, handler timeouts and a last-resort panic guard. Every refusal is
//! `application/problem+json`.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::panic::AssertUnwindSafe;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use futures_util::FutureExt;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::error::problem_response;

pub const X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
pub const X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
pub const X_RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// Limits of the HTTP surface; built from `[server]` by the binary.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Sustained requests per minute per client address; 0 turns rate limiting off.
    pub rate_limit_per_minute: u32,
    /// Requests a client may make at once before the sustained rate applies.
    pub rate_limit_burst: u32,
    /// Peers whose `X-Forwarded-For` is believed (the reverse proxy).
    pub trusted_proxies: Vec<IpNet>,
    /// Longest time a handler may take before a 503.
    pub request_timeout: Duration,
    /// Longest accepted path, and longest accepted query string, in bytes each.
    pub max_uri_bytes: usize,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Client addresses remembered at most; idle ones are forgotten first.
    pub max_tracked_clients: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            rate_limit_per_minute: 300,
            rate_limit_burst: 60,
            trusted_proxies: Vec::new(),
            request_timeout: Duration::from_secs(10),
            max_uri_bytes: 16 * 1024,
            max_body_bytes: 16 * 1024,
            max_tracked_clients: 100_000,
        }
    }
}

/// An IP network in CIDR notation (`10.0.0.0/8`, `::1/128`); a bare address is a /32 or /128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl FromStr for IpNet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("`{s}` is not an IP address or network like 10.0.0.0/8"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => return Err(format!("`{s}`: the prefix length must be 0 to {max}")),
            },
        };
        Ok(IpNet { addr, prefix })
    }
}

impl IpNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) are the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The client's address: the peer, or, when the peer is a trusted proxy, the right-most address
/// of `X-Forwarded-For` that is not itself a trusted proxy. A header from anyone else is ignored,
/// so a client cannot choose its own rate-limit key.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .map_while(|h| h.parse::<IpAddr>().ok().map(canonical))
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        client = *hop;
        if !is_trusted(*hop) {
            break;
        }
    }
    client
}

/// The rate-limit key: the address, with IPv6 clients grouped by /64 (one subscriber's prefix),
/// so a client cannot dodge the limit by walking its own addresses.
fn limit_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        v4 => v4,
    }
}

type Keyed =
    RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock, StateInformationMiddleware>;

/// Per-client GCRA limiter with bounded memory.
pub struct ClientLimiter {
    limiter: RwLock<Keyed>,
    quota: Quota,
    burst: u32,
    per_token: Duration,
    max_keys: usize,
    started: Instant,
    last_sweep_secs: AtomicU64,
}

/// What a check decided, with the figures for the headers.
pub enum Decision {
    Allowed {
        limit: u32,
        remaining: u32,
        reset_secs: u64,
    },
    Limited {
        limit: u32,
        retry_after_secs: u64,
        reset_secs: u64,
    },
}

impl ClientLimiter {
    /// `None` when rate limiting is off (`per_minute == 0`).
    pub fn new(limits: &Limits) -> Option<ClientLimiter> {
        let per_minute = NonZeroU32::new(limits.rate_limit_per_minute)?;
        let burst = NonZeroU32::new(limits.rate_limit_burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_minute(per_minute).allow_burst(burst);
        Some(ClientLimiter {
            limiter: RwLock::new(fresh(quota)),
            quota,
            burst: burst.get(),
            per_token: quota.replenish_interval(),
            max_keys: limits.max_tracked_clients.max(1),
            started: Instant::now(),
            last_sweep_secs: AtomicU64::new(0),
        })
    }

    fn secs_to_refill(&self, used: u32) -> u64 {
        ceil_secs(self.per_token.saturating_mul(used))
    }

    pub fn check(&self, ip: IpAddr) -> Decision {
        self.sweep_if_due();
        let key = limit_key(ip);
        let limiter = self.limiter.read().unwrap_or_else(|p| p.into_inner());
        match limiter.check_key(&key) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                Decision::Allowed {
                    limit: self.burst,
                    remaining,
                    reset_secs: self.secs_to_refill(self.burst.saturating_sub(remaining)),
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(limiter.clock().now());
                Decision::Limited {
                    limit: self.burst,
                    retry_after_secs: ceil_secs(wait).max(1),
                    reset_secs: self.secs_to_refill(self.burst),
                }
            }
        }
    }

    /// Forgets clients whose state is back to full capacity once a minute; when more than
    /// `max_tracked_clients` are tracked all the same (a flood from many addresses), starts over
    /// with an empty table. Memory stays bounded whatever the number of addresses seen.
    fn sweep_if_due(&self) {
        let tracked = self.tracked();
        if tracked > self.max_keys {
            let mut l = self.limiter.write().unwrap_or_else(|p| p.into_inner());
            if l.len() > self.max_keys {
                tracing::warn!(
                    tracked,
                    "too many client addresses tracked by the rate limiter; starting over"
                );
                *l = fresh(self.quota);
            }
            return;
        }
        let now = self.started.elapsed().as_secs();
        let last = self.last_sweep_secs.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= 60
            && self
                .last_sweep_secs
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let l = self.limiter.read().unwrap_or_else(|p| p.into_inner());
            l.retain_recent();
            l.shrink_to_fit();
        }
    }

    /// Clients currently tracked.
    pub fn tracked(&self) -> usize {
        self.limiter.read().unwrap_or_else(|p| p.into_inner()).len()
    }
}

fn fresh(quota: Quota) -> Keyed {
    RateLimiter::dashmap(quota).with_middleware::<StateInformationMiddleware>()
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// Shared state of the protection middleware.
#[derive(Clone)]
pub struct Guard {
    pub limits: Arc<Limits>,
    pub limiter: Option<Arc<ClientLimiter>>,
}

impl Guard {
    pub fn new(limits: Limits) -> Guard {
        let limiter = ClientLimiter::new(&limits).map(Arc::new);
        Guard {
            limits: Arc::new(limits),
            limiter,
        }
    }
}

fn peer_ip(req: &Request) -> Option<IpAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

fn set_num(h: &mut HeaderMap, name: HeaderName, n: u64) {
    h.insert(name, HeaderValue::from(n));
}

/// Rate limiting for the public API: 429 with `Retry-After` when over the limit, and the
/// `X-RateLimit-*` headers on every answer.
pub async fn rate_limit(State(guard): State<Guard>, req: Request, next: Next) -> Response {
    let Some(limiter) = guard.limiter.as_ref() else {
        return next.run(req).await;
    };
    if req.method() == Method::OPTIONS {
        return next.run(req).await;
    }
    let Some(peer) = peer_ip(&req) else {
        // No peer address (an in-process test without connect info): nothing to key on.
        return next.run(req).await;
    };
    let ip = client_ip(peer, req.headers(), &guard.limits.trusted_proxies);
    match limiter.check(ip) {
        Decision::Allowed {
            limit,
            remaining,
            reset_secs,
        } => {
            let mut resp = next.run(req).await;
            let h = resp.headers_mut();
            set_num(h, X_RATELIMIT_LIMIT, limit.into());
            set_num(h, X_RATELIMIT_REMAINING, remaining.into());
            set_num(h, X_RATELIMIT_RESET, reset_secs);
            resp
        }
        Decision::Limited {
            limit,
            retry_after_secs,
            reset_secs,
        } => {
            metrics::counter!("snodo_http_rate_limited_total").increment(1);
            let mut resp = problem_response(
                StatusCode::TOO_MANY_REQUESTS,
                Some(format!(
                    "Too many requests from your address; retry in {retry_after_secs} s. The limit is {} requests per minute with bursts of {limit}.",
                    guard.limits.rate_limit_per_minute
                )),
                None,
            );
            let h = resp.headers_mut();
            set_num(h, header::RETRY_AFTER, retry_after_secs);
            set_num(h, X_RATELIMIT_LIMIT, limit.into());
            set_num(h, X_RATELIMIT_REMAINING, 0);
            set_num(h, X_RATELIMIT_RESET, reset_secs);
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
    }
}

/// The first malformed percent-escape of a path or query string, said so a client can fix it:
/// `%` must be followed by two hex digits (a literal `%` is `%25`).
fn bad_escape(s: &str, what: &str) -> Option<String> {
    let b = s.as_bytes();
    let i = b.iter().enumerate().position(|(i, &c)| {
        c == b'%'
            && !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    })?;
    let near: String = s[i..].chars().take(3).collect();
    Some(format!(
        "the {what} has a malformed percent-escape `{near}` at byte {i}; `%` must be followed by two hex digits (write a literal `%` as `%25`)"
    ))
}

/// Size limits, malformed escapes, bodies where none is read, the handler timeout and the
/// panic guard, for every route.
pub async fn protect(State(guard): State<Guard>, req: Request, next: Next) -> Response {
    let limits = &guard.limits;
    // A long path is 414; a long query string is a bad request (400), like any other invalid
    // parameter, naming no parameter since it is the whole string.
    let path_len = req.uri().path().len();
    let query_len = req.uri().query().map_or(0, str::len);
    if path_len > limits.max_uri_bytes {
        return problem_response(
            StatusCode::URI_TOO_LONG,
            Some(format!(
                "The path is {path_len} bytes long; at most {} are accepted.",
                limits.max_uri_bytes
            )),
            None,
        );
    }
    if query_len > limits.max_uri_bytes {
        return problem_response(
            StatusCode::BAD_REQUEST,
            Some(format!(
                "The query string is {query_len} bytes long; at most {} are accepted.",
                limits.max_uri_bytes
            )),
            None,
        );
    }
    if let Some(problem) = bad_escape(req.uri().path(), "path").or_else(|| {
        req.uri()
            .query()
            .and_then(|q| bad_escape(q, "query string"))
    }) {
        return problem_response(StatusCode::BAD_REQUEST, Some(problem), None);
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body_bytes as u64) {
        // The body is left unread, so the connection cannot carry another request.
        let mut r = problem_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            Some(format!(
                "The request body is too large; at most {} bytes are accepted.",
                limits.max_body_bytes
            )),
            None,
        );
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return r;
    }
    // No endpoint reads a body: one sent anyway is a client's mistake (parameters in the body
    // instead of the query string), said as such rather than silently ignored.
    let chunked = req.headers().contains_key(header::TRANSFER_ENCODING);
    if declared.is_some_and(|n| n > 0) || chunked {
        let mut r = problem_response(
            StatusCode::BAD_REQUEST,
            Some(format!(
                "{} {} takes no request body; send parameters in the query string and leave the body empty",
                req.method(),
                req.uri().path()
            )),
            None,
        );
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return r;
    }
    let timeout = limits.request_timeout;
    let run = AssertUnwindSafe(next.run(req)).catch_unwind();
    match tokio::time::timeout(timeout, run).await {
        Ok(Ok(resp)) => resp,
        Ok(Err(panic)) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(panic = %what, "a handler panicked");
            problem_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                Some("Something went wrong on our side; it has been logged.".into()),
                None,
            )
        }
        Err(_) => {
            metrics::counter!("snodo_http_timeouts_total").increment(1);
            tracing::warn!(
                timeout_secs = timeout.as_secs_f64(),
                "a request took too long"
            );
            let mut r = problem_response(
                StatusCode::SERVICE_UNAVAILABLE,
                Some(format!(
                    "The request took longer than {} s; try again or narrow the query.",
                    ceil_secs(timeout)
                )),
                None,
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            r
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(v: &[&str]) -> Vec<IpNet> {
        v.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_parse_and_match() {
        let n: IpNet = "10.0.0.0/8".parse().unwrap();
        assert!(n.contains(ip("10.1.2.3")));
        assert!(n.contains(ip("::ffff:10.1.2.3")));
        assert!(!n.contains(ip("11.0.0.1")));
        let one: IpNet = "127.0.0.1".parse().unwrap();
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let v6: IpNet = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        let all: IpNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "nope", "::/129", "1.2.3.4/x", ""] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = nets(&["127.0.0.1", "10.0.0.0/8"]);
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 1.2.3.4, 10.0.0.5"),
        );
        // From a trusted proxy: the right-most untrusted hop; a spoofed left part is ignored.
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &trusted), ip("1.2.3.4"));
        // From anyone else: the peer.
        assert_eq!(client_ip(ip("9.9.9.9"), &h, &trusted), ip("9.9.9.9"));
        // No header, or garbage: the peer.
        assert_eq!(
            client_ip(ip("127.0.0.1"), &HeaderMap::new(), &trusted),
            ip("127.0.0.1")
        );
        h.insert("x-forwarded-for", HeaderValue::from_static("garbage"));
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &trusted), ip("127.0.0.1"));
        // Nothing trusted: the header never counts.
        h.insert("x-forwarded-for", HeaderValue::from_static("1.2.3.4"));
        assert_eq!(client_ip(ip("127.0.0.1"), &h, &[]), ip("127.0.0.1"));
    }

    #[test]
    fn limiter_counts_down_then_refuses_per_client() {
        let limits = Limits {
            rate_limit_per_minute: 60,
            rate_limit_burst: 3,
            ..Limits::default()
        };
        let l = ClientLimiter::new(&limits).unwrap();
        let a = ip("192.0.2.1");
        let mut remaining = Vec::new();
        for _ in 0..3 {
            match l.check(a) {
                Decision::Allowed {
                    limit,
                    remaining: r,
                    ..
                } => {
                    assert_eq!(limit, 3);
                    remaining.push(r);
                }
                Decision::Limited { .. } => panic!("limited too early"),
            }
        }
        assert_eq!(remaining, vec![2, 1, 0]);
        match l.check(a) {
            Decision::Limited {
                retry_after_secs, ..
            } => assert!((1..=1).contains(&retry_after_secs)),
            Decision::Allowed { .. } => panic!("not limited"),
        }
        // Another client has its own budget; IPv6 neighbours in one /64 share one.
        assert!(matches!(l.check(ip("192.0.2.2")), Decision::Allowed { .. }));
        assert_eq!(
            limit_key(ip("2001:db8::1")),
            limit_key(ip("2001:db8::ffff"))
        );
        assert!(ClientLimiter::new(&Limits {
            rate_limit_per_minute: 0,
            ..Limits::default()
        })
        .is_none());
    }

    #[test]
    fn memory_is_bounded() {
        let limits = Limits {
            max_tracked_clients: 10,
            ..Limits::default()
        };
        let l = ClientLimiter::new(&limits).unwrap();
        for i in 0..50u32 {
            l.check(IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i)));
        }
        assert!(l.tracked() <= 11, "{} tracked", l.tracked());
    }
}

#[cfg(test)]
mod router_tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    #[tokio::test]
    async fn long_paths_are_414_and_long_queries_400() {
        let guard = Guard::new(Limits::default());
        let app = axum::Router::new()
            .fallback(|| async { "ok" })
            .layer(axum::middleware::from_fn_with_state(guard, protect));
        let long = "a".repeat(20_000);
        for (uri, code) in [
            (format!("/x/{long}"), 414),
            (format!("/x?q={long}"), 400),
            ("/x?q=a".to_owned(), 200),
        ] {
            let r = app
                .clone()
                .oneshot(Request::builder().uri(&uri).body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), code, "{}", &uri[..20.min(uri.len())]);
        }
    }

    #[test]
    fn malformed_escapes_are_found_and_shown() {
        assert_eq!(bad_escape("/api/v1/records/a%3Ab", "path"), None);
        assert_eq!(bad_escape("q=100%25", "query string"), None);
        for (s, near) in [
            ("q=50%", "`%`"),
            ("q=%Z1", "`%Z1`"),
            ("/x/%4", "`%4`"),
            ("q=%%41", "`%%4`"),
        ] {
            let e = bad_escape(s, "query string").unwrap();
            assert!(e.contains(near), "{s}: {e}");
        }
        // Not cut inside a character.
        assert!(bad_escape("q=%è", "query string").unwrap().contains("`%è`"));
    }

    #[tokio::test]
    async fn a_body_where_none_is_read_is_refused() {
        let guard = Guard::new(Limits::default());
        let app = axum::Router::new()
            .fallback(|| async { "ok" })
            .layer(axum::middleware::from_fn_with_state(guard, protect));
        for (len, code) in [(Some("0"), 200), (None, 200), (Some("5"), 400)] {
            let mut b = Request::builder().uri("/api/v1/search");
            if let Some(len) = len {
                b = b.header(header::CONTENT_LENGTH, len);
            }
            let body = if len == Some("5") { "q=abc" } else { "" };
            let r = app
                .clone()
                .oneshot(b.body(Body::from(body)).unwrap())
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), code, "{len:?}");
        }
        let chunked = Request::builder()
            .uri("/x")
            .header(header::TRANSFER_ENCODING, "chunked")
            .body(Body::from("q"))
            .unwrap();
        assert_eq!(app.oneshot(chunked).await.unwrap().status().as_u16(), 400);
    }
}

/// The guard's timeout over a real connection: a slow handler answers 503 problem+json with
/// `Retry-After`, not a hung or reset connection.
#[cfg(test)]
mod timeout_over_http {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_slow_request_gets_a_503_problem_that_says_to_retry() {
        let guard = Guard::new(Limits {
            request_timeout: Duration::from_millis(200),
            ..Limits::default()
        });
        let app = axum::Router::new()
            .route(
                "/slow",
                axum::routing::get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            )
            .layer(axum::middleware::from_fn_with_state(guard, protect));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        tokio::time::timeout(Duration::from_secs(4), conn.read_to_string(&mut answer))
            .await
            .expect("answered before the handler finished")
            .unwrap();
        let lower = answer.to_ascii_lowercase();
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(
            lower.contains("content-type: application/problem+json"),
            "{answer}"
        );
        assert!(lower.contains("retry-after: 5"), "{answer}");
        assert!(
            answer.contains("took longer than 1 s; try again or narrow the query"),
            "{answer}"
        );
    }
}
