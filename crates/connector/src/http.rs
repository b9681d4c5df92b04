//! The one HTTP client every connector uses, so politeness and limits are the same everywhere:
//! one request in flight per host by default, a minimum delay between requests, `Retry-After`
//! honoured (never a request before the time the server asked for), bounded retries with
//! exponential backoff and jitter for transient failures only, bounded response sizes, and errors
//! that name the URL and what was expected.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use futures_util::StreamExt;
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Limits and manners, from `[harvest]` in config.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub user_agent: String,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub max_body_bytes: u64,
    /// Attempts after the first, per request.
    pub max_retries: u32,
    /// Retries allowed in one run, across all its requests: a sick upstream fails fast.
    pub retry_budget: u32,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Minimum gap between two requests to the same host.
    pub min_delay: Duration,
    pub per_host_concurrency: usize,
    /// A `Retry-After` longer than this fails the request instead of stalling the run.
    pub max_retry_after: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            user_agent: format!(
                "Snodo/{} (+https://github.com/snodo/snodo)",
                env!("CARGO_PKG_VERSION")
            ),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_body_bytes: 32 * 1024 * 1024,
            max_retries: 3,
            retry_budget: 20,
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            min_delay: Duration::from_millis(250),
            per_host_concurrency: 1,
            max_retry_after: Duration::from_secs(300),
        }
    }
}

/// Why a request failed, with the URL and what was expected.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpError {
    #[error("{url}: cannot connect: {cause}; check the URL, DNS and that the site is reachable")]
    Connect { url: String, cause: String },
    #[error("{url}: no complete answer within {secs}s")]
    Timeout { url: String, secs: u64 },
    #[error("{url}: the server answered HTTP {status}{hint}")]
    Status {
        url: String,
        status: u16,
        hint: String,
        retry_after: Option<Duration>,
    },
    #[error("{url}: the server asked to wait {secs}s before retrying, more than the {max_secs}s allowed; try again later")]
    RetryAfterTooLong {
        url: String,
        secs: u64,
        max_secs: u64,
    },
    #[error("{url}: the response is larger than {limit} bytes; refusing to read more")]
    TooLarge { url: String, limit: u64 },
    #[error("{url}: expected JSON but got {content_type}: \"{excerpt}\"")]
    NotJson {
        url: String,
        content_type: String,
        excerpt: String,
    },
    #[error("{url}: malformed JSON ({cause}); the body may be truncated")]
    BadJson { url: String, cause: String },
    #[error("{url}: {cause}")]
    Other { url: String, cause: String },
}

impl HttpError {
    /// Worth retrying: connection problems, timeouts, 5xx, 429.
    pub fn is_transient(&self) -> bool {
        match self {
            HttpError::Connect { .. } | HttpError::Timeout { .. } => true,
            HttpError::Status { status, .. } => *status == 429 || *status >= 500,
            HttpError::BadJson { .. } => false,
            _ => false,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A fully read response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub url: String,
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn content_type(&self) -> String {
        self.headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("no content type")
            .to_owned()
    }

    /// Parses the body as JSON; an HTML page or garbage gets an error quoting its start.
    pub fn json(&self) -> Result<serde_json::Value, HttpError> {
        let ct = self.content_type();
        let trimmed = self
            .body
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .map(|i| self.body[i]);
        if !ct.contains("json") && trimmed != Some(b'{') && trimmed != Some(b'[') {
            return Err(HttpError::NotJson {
                url: self.url.clone(),
                content_type: ct,
                excerpt: excerpt(&self.body),
            });
        }
        serde_json::from_slice(&self.body).map_err(|e| HttpError::BadJson {
            url: self.url.clone(),
            cause: e.to_string(),
        })
    }
}

/// Start of a body as one line of plain text, for error messages.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(2000)]);
    snodo_model::text::truncate_words(&snodo_model::text::plain_text(&text), 120)
}

struct HostGate {
    permits: Semaphore,
    /// No request to this host before this instant (min delay, Retry-After).
    not_before: tokio::sync::Mutex<Instant>,
}

struct Shared {
    client: reqwest::Client,
    settings: HttpSettings,
    hosts: Mutex<HashMap<String, Arc<HostGate>>>,
}

/// Cheap to clone. [`HttpClient::for_run`] gives a view with its own counters and retry budget
/// that still shares the per-host gates, so two sources on one host stay polite together.
#[derive(Clone)]
pub struct HttpClient {
    shared: Arc<Shared>,
    source: Arc<str>,
    retries_left: Arc<AtomicU32>,
    requests: Arc<AtomicU64>,
    retries: Arc<AtomicU64>,
}

impl HttpClient {
    pub fn new(settings: HttpSettings) -> Result<HttpClient, HttpError> {
        // reqwest is built without a default crypto provider (ring is lighter than aws-lc);
        // installing twice is harmless, so the error is ignored.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent(settings.user_agent.clone())
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                let first_host = attempt
                    .previous()
                    .first()
                    .and_then(|u| u.host_str())
                    .map(str::to_owned);
                if attempt.previous().len() >= 5 {
                    attempt.error("more than 5 redirects")
                } else if attempt.url().host_str().map(str::to_owned) != first_host {
                    let to = attempt.url().to_string();
                    attempt.error(format!("redirect to another host refused: {to}"))
                } else {
                    attempt.follow()
                }
            }))
            .build()
            .map_err(|e| HttpError::Other {
                url: String::new(),
                cause: format!("cannot build the HTTP client: {e}"),
            })?;
        let budget = settings.retry_budget;
        Ok(HttpClient {
            shared: Arc::new(Shared {
                client,
                settings,
                hosts: Mutex::new(HashMap::new()),
            }),
            source: Arc::from("-"),
            retries_left: Arc::new(AtomicU32::new(budget)),
            requests: Arc::new(AtomicU64::new(0)),
            retries: Arc::new(AtomicU64::new(0)),
        })
    }

    /// A view for one run of one source: fresh counters and retry budget, shared host gates.
    pub fn for_run(&self, source: &str) -> HttpClient {
        HttpClient {
            shared: self.shared.clone(),
            source: Arc::from(source),
            retries_left: Arc::new(AtomicU32::new(self.shared.settings.retry_budget)),
            requests: Arc::new(AtomicU64::new(0)),
            retries: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn settings(&self) -> &HttpSettings {
        &self.shared.settings
    }

    /// Requests sent by this view (every attempt counts).
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn retries_made(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// POSTs a JSON body and parses a JSON answer.
    pub async fn post_json(
        &self,
        url: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, HttpError> {
        let bytes = serde_json::to_vec(body).map_err(|e| HttpError::Other {
            url: url.to_owned(),
            cause: format!("cannot encode the request: {e}"),
        })?;
        let resp = self.send(Method::POST, url, Some(bytes), &[]).await?;
        resp.json()
    }

    /// GETs a URL, with optional extra headers (conditional GET, Accept).
    pub async fn get(
        &self,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<HttpResponse, HttpError> {
        self.send(Method::GET, url, None, headers).await
    }

    /// Sends with retries. 2xx and 304 are returned; every other status is an error.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Result<HttpResponse, HttpError> {
        let s = &self.shared.settings;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(s.backoff_min)
            .with_max_delay(s.backoff_max)
            .with_max_times(s.max_retries as usize)
            .with_jitter();
        let attempt = || self.attempt(method.clone(), url, body.clone(), headers);
        attempt
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(|e: &HttpError| {
                e.is_transient()
                    && self
                        .retries_left
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                        .is_ok()
            })
            .notify(|e: &HttpError, wait: Duration| {
                self.retries.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("snodo_http_retries_total", "source" => self.source.to_string()).increment(1);
                tracing::warn!(source = %self.source, error = %e, wait_ms = wait.as_millis() as u64, "retrying");
            })
            .await
    }

    fn gate(&self, host: &str) -> Arc<HostGate> {
        let mut hosts = self.shared.hosts.lock().unwrap_or_else(|p| p.into_inner());
        hosts
            .entry(host.to_owned())
            .or_insert_with(|| {
                Arc::new(HostGate {
                    permits: Semaphore::new(self.shared.settings.per_host_concurrency.max(1)),
                    not_before: tokio::sync::Mutex::new(Instant::now()),
                })
            })
            .clone()
    }

    async fn attempt(
        &self,
        method: Method,
        url: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Result<HttpResponse, HttpError> {
        let s = &self.shared.settings;
        let parsed = url::Url::parse(url).map_err(|e| HttpError::Other {
            url: url.to_owned(),
            cause: format!("invalid URL: {e}"),
        })?;
        let host = format!(
            "{}:{}",
            parsed.host_str().unwrap_or(""),
            parsed.port_or_known_default().unwrap_or(0)
        );
        let gate = self.gate(&host);
        let _permit = gate.permits.acquire().await.map_err(|_| HttpError::Other {
            url: url.to_owned(),
            cause: "client shut down".into(),
        })?;
        {
            let not_before = *gate.not_before.lock().await;
            tokio::time::sleep_until(not_before).await;
        }
        let mut req = self.shared.client.request(method, parsed.clone());
        if let Some(b) = body {
            req = req
                .header(CONTENT_TYPE, "application/json")
                .header(ACCEPT, "application/json")
                .body(b);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let result = self.read(req, url).await;
        // The next request to this host waits at least the minimum delay after this one ended,
        // and longer when the server asked for it.
        let mut next = Instant::now() + s.min_delay;
        if let Err(HttpError::Status {
            retry_after: Some(wait),
            ..
        }) = &result
        {
            next = next.max(Instant::now() + *wait);
        }
        {
            let mut nb = gate.not_before.lock().await;
            *nb = (*nb).max(next);
        }
        let status_label = match &result {
            Ok(r) => r.status.to_string(),
            Err(e) => e
                .status()
                .map(|s| s.to_string())
                .unwrap_or_else(|| "error".into()),
        };
        metrics::counter!("snodo_http_requests_total", "source" => self.source.to_string(), "status" => status_label)
            .increment(1);
        if let Err(HttpError::Status {
            retry_after: Some(wait),
            url,
            ..
        }) = &result
        {
            if *wait > s.max_retry_after {
                return Err(HttpError::RetryAfterTooLong {
                    url: url.clone(),
                    secs: wait.as_secs(),
                    max_secs: s.max_retry_after.as_secs(),
                });
            }
        }
        result
    }

    async fn read(
        &self,
        req: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<HttpResponse, HttpError> {
        let s = &self.shared.settings;
        let resp = req
            .send()
            .await
            .map_err(|e| classify(url, &e, s.request_timeout))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        if !(status.is_success() || status == StatusCode::NOT_MODIFIED) {
            return Err(HttpError::Status {
                url: url.to_owned(),
                status: status.as_u16(),
                hint: status_hint(status).to_owned(),
                retry_after: retry_after(&headers, status),
            });
        }
        if let Some(len) = resp.content_length() {
            if len > s.max_body_bytes {
                return Err(HttpError::TooLarge {
                    url: url.to_owned(),
                    limit: s.max_body_bytes,
                });
            }
        }
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| classify(url, &e, s.request_timeout))?;
            if body.len() as u64 + chunk.len() as u64 > s.max_body_bytes {
                return Err(HttpError::TooLarge {
                    url: url.to_owned(),
                    limit: s.max_body_bytes,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse {
            url: url.to_owned(),
            status: status.as_u16(),
            headers,
            body,
        })
    }
}

fn status_hint(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 | 403 => "; the platform refuses anonymous access: check that its API is public",
        404 => "; check the source's URL",
        429 => "; the platform is rate limiting us",
        500..=599 => "; the platform has a server error",
        _ => "",
    }
}

/// `Retry-After` (seconds or HTTP date), or `X-RateLimit-Reset` when the remaining quota is 0.
fn retry_after(headers: &HeaderMap, status: StatusCode) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(v) = header(RETRY_AFTER.as_str()) {
        if let Ok(secs) = v.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        if let Ok(at) = httpdate::parse_http_date(v) {
            return Some(
                at.duration_since(std::time::SystemTime::now())
                    .unwrap_or_default(),
            );
        }
    }
    if header("x-ratelimit-remaining") == Some("0") {
        if let Some(reset) = header("x-ratelimit-reset").and_then(|v| v.parse::<u64>().ok()) {
            // Either seconds to wait or an epoch timestamp; large values are timestamps.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let wait = if reset > 1_000_000_000 {
                reset.saturating_sub(now)
            } else {
                reset
            };
            return Some(Duration::from_secs(wait));
        }
    }
    if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
        return None;
    }
    None
}

fn classify(url: &str, e: &reqwest::Error, timeout: Duration) -> HttpError {
    if e.is_timeout() {
        return HttpError::Timeout {
            url: url.to_owned(),
            secs: timeout.as_secs(),
        };
    }
    let mut cause = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        cause.push_str(": ");
        cause.push_str(&s.to_string());
        src = s.source();
    }
    if e.is_connect() || e.is_request() {
        HttpError::Connect {
            url: url.to_owned(),
            cause,
        }
    } else if e.is_body() || e.is_decode() {
        HttpError::Other {
            url: url.to_owned(),
            cause: format!("the body could not be read completely: {cause}"),
        }
    } else {
        HttpError::Other {
            url: url.to_owned(),
            cause,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn retry_after_parses_seconds_dates_and_rate_limit_headers() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(
            retry_after(&h, StatusCode::TOO_MANY_REQUESTS),
            Some(Duration::from_secs(7))
        );
        let future = std::time::SystemTime::now() + Duration::from_secs(120);
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_str(&httpdate::fmt_http_date(future)).unwrap(),
        );
        let d = retry_after(&h, StatusCode::SERVICE_UNAVAILABLE).unwrap();
        assert!(d > Duration::from_secs(100) && d <= Duration::from_secs(120));
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert("x-ratelimit-reset", HeaderValue::from_static("5"));
        assert_eq!(
            retry_after(&h, StatusCode::TOO_MANY_REQUESTS),
            Some(Duration::from_secs(5))
        );
    }

    #[test]
    fn transient_errors_are_the_retryable_ones() {
        let st = |status| HttpError::Status {
            url: "u".into(),
            status,
            hint: String::new(),
            retry_after: None,
        };
        assert!(st(500).is_transient());
        assert!(st(503).is_transient());
        assert!(st(429).is_transient());
        assert!(!st(404).is_transient());
        assert!(!st(403).is_transient());
        assert!(HttpError::Timeout {
            url: "u".into(),
            secs: 1
        }
        .is_transient());
    }

    #[test]
    fn json_errors_quote_what_came_instead() {
        let r = HttpResponse {
            url: "http://x/api".into(),
            status: 200,
            headers: {
                let mut h = HeaderMap::new();
                h.insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
                h
            },
            body: b"<html><body><h1>Maintenance</h1> back soon</body></html>".to_vec(),
        };
        let e = r.json().unwrap_err().to_string();
        assert!(e.contains("expected JSON but got text/html"), "{e}");
        assert!(e.contains("Maintenance back soon"), "{e}");
        let r = HttpResponse {
            body: b"{\"data\": {\"a\"".to_vec(),
            ..r
        };
        assert!(r.json().unwrap_err().to_string().contains("malformed JSON"));
    }
}
