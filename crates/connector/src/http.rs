//! The one HTTP client every connector uses, so politeness and limits are the same everywhere:
//! one request in flight per host by default, a minimum delay between requests, `Retry-After`
//! honoured (never a request before the time the server asked for), bounded retries with
//! exponential backoff and jitter for transient failures only, bounded response sizes, and errors
//! that name the URL and what was expected.
//!
//! For crawling connectors (feeds, JSON, HTML pages) [`HttpClient::fetch`] adds what a good crawler
//! does: `robots.txt` read once per host per run and obeyed, and conditional GET (`ETag`,
//! `Last-Modified`) so an unchanged page costs a 304. Every request also passes an outbound guard:
//! when the source's own URL is public, addresses on loopback, private, link-local or otherwise
//! non-public networks are refused (literal IPs before connecting, names at DNS resolution), so a
//! hostile feed cannot point the harvester at internal services.

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
    /// Let every source reach loopback and private addresses (tests and `snodo demo`, whose fake
    /// platforms listen on 127.0.0.1). A source whose own URL is private may always reach them.
    pub allow_private_addresses: bool,
    /// Obey `robots.txt` in [`HttpClient::fetch`] (default true).
    pub respect_robots: bool,
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
            allow_private_addresses: false,
            respect_robots: true,
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
    #[error("{url}: refused to connect to the non-public address {addr}; a public source may only reach public addresses (set allow_private_addresses for tests)")]
    PrivateAddress { url: String, addr: String },
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
    /// The same client with a resolver that drops non-public addresses (for public sources).
    public_client: reqwest::Client,
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
    /// True when this view may only reach public addresses (see [`HttpClient::guarded_for`]).
    public_only: bool,
    /// `robots.txt` rules per `scheme://host:port`, read once per run.
    robots: Arc<tokio::sync::Mutex<HashMap<String, Arc<Robots>>>>,
}

impl HttpClient {
    pub fn new(settings: HttpSettings) -> Result<HttpClient, HttpError> {
        // reqwest is built without a default crypto provider (ring is lighter than aws-lc);
        // installing twice is harmless, so the error is ignored.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let builder = || {
            reqwest::Client::builder()
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
        };
        let build_error = |e: reqwest::Error| HttpError::Other {
            url: String::new(),
            cause: format!("cannot build the HTTP client: {e}"),
        };
        let client = builder().build().map_err(build_error)?;
        let public_client = builder()
            .dns_resolver(Arc::new(PublicOnlyResolver))
            .build()
            .map_err(build_error)?;
        let budget = settings.retry_budget;
        Ok(HttpClient {
            shared: Arc::new(Shared {
                client,
                public_client,
                settings,
                hosts: Mutex::new(HashMap::new()),
            }),
            source: Arc::from("-"),
            retries_left: Arc::new(AtomicU32::new(budget)),
            requests: Arc::new(AtomicU64::new(0)),
            retries: Arc::new(AtomicU64::new(0)),
            public_only: false,
            robots: Arc::new(tokio::sync::Mutex::new(HashMap::new())),
        })
    }

    /// The same view (shared counters, budget and robots cache), restricted to public addresses
    /// when `source_url` is public and the settings do not allow private addresses. A source whose
    /// own URL is loopback, private or `localhost` keeps full access: its operator chose it.
    pub fn guarded_for(&self, source_url: &str) -> HttpClient {
        let source_is_public = url::Url::parse(source_url)
            .ok()
            .and_then(|u| u.host().map(|h| host_is_public(&h)))
            .unwrap_or(true);
        HttpClient {
            public_only: source_is_public && !self.shared.settings.allow_private_addresses,
            ..self.clone()
        }
    }

    /// True when this view refuses non-public addresses.
    pub fn is_public_only(&self) -> bool {
        self.public_only
    }

    /// A view for one run of one source: fresh counters and retry budget, shared host gates.
    pub fn for_run(&self, source: &str) -> HttpClient {
        HttpClient {
            shared: self.shared.clone(),
            source: Arc::from(source),
            retries_left: Arc::new(AtomicU32::new(self.shared.settings.retry_budget)),
            requests: Arc::new(AtomicU64::new(0)),
            retries: Arc::new(AtomicU64::new(0)),
            public_only: false,
            robots: Arc::new(tokio::sync::Mutex::new(HashMap::new())),
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
                metrics::counter!("snodo_harvest_retries_total", "source" => self.source.to_string()).increment(1);
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
        if self.public_only {
            if let Some(h) = parsed.host() {
                if !host_is_public(&h) {
                    return Err(HttpError::PrivateAddress {
                        url: url.to_owned(),
                        addr: h.to_string(),
                    });
                }
            }
        }
        let gate = self.gate(&host);
        let _permit = gate.permits.acquire().await.map_err(|_| HttpError::Other {
            url: url.to_owned(),
            cause: "client shut down".into(),
        })?;
        {
            let not_before = *gate.not_before.lock().await;
            tokio::time::sleep_until(not_before).await;
        }
        let client = if self.public_only {
            &self.shared.public_client
        } else {
            &self.shared.client
        };
        let mut req = client.request(method, parsed.clone());
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
        metrics::counter!("snodo_harvest_requests_total", "source" => self.source.to_string(), "status" => status_label)
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
        // Sized once when the server says how large: a 300 KB page of a JSON API grown by
        // doubling was copied and its fresh pages zeroed several times over.
        let announced = resp.content_length().unwrap_or(0).min(s.max_body_bytes);
        let mut body = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
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

/// Validators of a fetched page, sent back on the next run so an unchanged page costs a 304.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Validators {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

impl Validators {
    pub fn from_headers(headers: &HeaderMap) -> Validators {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.len() <= 512)
                .map(str::to_owned)
        };
        Validators {
            etag: get("etag"),
            last_modified: get("last-modified"),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.etag.is_none() && self.last_modified.is_none()
    }
}

/// What [`HttpClient::fetch`] got.
#[derive(Debug, Clone)]
pub enum Fetched {
    /// A fresh page, with the validators to send next time (empty when the server gave none).
    Page {
        response: HttpResponse,
        validators: Validators,
    },
    /// 304: the page did not change since the validators given.
    NotModified,
    /// `robots.txt` forbids the path: nothing was requested.
    Disallowed { robots_url: String },
}

/// The product token matched against `User-agent` lines of `robots.txt`.
pub const ROBOTS_AGENT: &str = "snodo";
/// RFC 9309 lets crawlers stop reading a `robots.txt` after 500 KiB.
const ROBOTS_MAX_BYTES: usize = 500 * 1024;

/// The `robots.txt` of one host, as it applies to Snodo. Matching is Google's reference
/// implementation of RFC 9309 (the `robotstxt` crate, a port with no dependencies): the groups
/// naming the agent, else `*`; the longest matching rule wins, `allow` on a tie; `*` and `$`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Robots {
    /// The file's text; `None` when there is none (everything allowed).
    body: Option<String>,
    agent: String,
    /// The file could not be read (5xx, unreachable): RFC 9309 says assume everything disallowed.
    unavailable: Option<String>,
}

impl Robots {
    /// The rules of `text` for `agent` (a product token such as `snodo`). Unknown lines are
    /// ignored; a hostile file can only disallow.
    pub fn parse(text: &str, agent: &str) -> Robots {
        Robots {
            body: Some(text.to_owned()),
            agent: agent.to_owned(),
            unavailable: None,
        }
    }

    /// Rules saying nothing is allowed because the file could not be read.
    pub fn unavailable(why: String) -> Robots {
        Robots {
            body: None,
            agent: String::new(),
            unavailable: Some(why),
        }
    }

    /// Whether `path` (path and query, starting with `/`) may be fetched.
    pub fn allows(&self, path: &str) -> bool {
        if self.unavailable.is_some() {
            return false;
        }
        let Some(body) = &self.body else {
            return true;
        };
        // The matcher takes a URL and looks only at its path, parameters and query.
        robotstxt::DefaultMatcher::default().one_agent_allowed_by_robots(
            body,
            &self.agent,
            &format!("http://robots.invalid{path}"),
        )
    }
}

impl HttpClient {
    /// GETs a page as a polite crawler: obeys `robots.txt` (read once per host per run), sends
    /// `previous` validators as `If-None-Match` / `If-Modified-Since`, and asks for `accept`.
    pub async fn fetch(
        &self,
        url: &str,
        accept: &str,
        previous: Option<&Validators>,
    ) -> Result<Fetched, HttpError> {
        if self.shared.settings.respect_robots {
            if let Some(robots_url) = self.robots_forbid(url).await? {
                return Ok(Fetched::Disallowed { robots_url });
            }
        }
        let mut headers: Vec<(&str, &str)> = vec![("accept", accept)];
        if let Some(v) = previous {
            if let Some(e) = &v.etag {
                headers.push(("if-none-match", e));
            }
            if let Some(m) = &v.last_modified {
                headers.push(("if-modified-since", m));
            }
        }
        let response = self.get(url, &headers).await?;
        if response.status == 304 {
            if previous.is_some_and(|v| !v.is_empty()) {
                return Ok(Fetched::NotModified);
            }
            return Err(HttpError::Other {
                url: url.to_owned(),
                cause: "the server answered 304 Not Modified to an unconditional request".into(),
            });
        }
        let validators = Validators::from_headers(&response.headers);
        Ok(Fetched::Page {
            response,
            validators,
        })
    }

    /// The robots.txt URL when it forbids `url`, None when allowed.
    async fn robots_forbid(&self, url: &str) -> Result<Option<String>, HttpError> {
        let parsed = url::Url::parse(url).map_err(|e| HttpError::Other {
            url: url.to_owned(),
            cause: format!("invalid URL: {e}"),
        })?;
        let origin = parsed.origin().ascii_serialization();
        let robots_url = format!("{origin}/robots.txt");
        if parsed.path() == "/robots.txt" {
            return Ok(None);
        }
        let mut cache = self.robots.lock().await;
        let rules = match cache.get(&origin) {
            Some(r) => r.clone(),
            None => {
                let rules = Arc::new(
                    match self.get(&robots_url, &[("accept", "text/plain")]).await {
                        Ok(r) if r.status == 200 => {
                            let body = &r.body[..r.body.len().min(ROBOTS_MAX_BYTES)];
                            Robots::parse(&String::from_utf8_lossy(body), ROBOTS_AGENT)
                        }
                        Ok(_) => Robots::default(),
                        Err(HttpError::Status { status, .. })
                            if (400..500).contains(&status) && status != 429 =>
                        {
                            Robots::default()
                        }
                        Err(e @ HttpError::PrivateAddress { .. }) => return Err(e),
                        Err(e) => Robots::unavailable(e.to_string()),
                    },
                );
                cache.insert(origin, rules.clone());
                rules
            }
        };
        drop(cache);
        if let Some(why) = &rules.unavailable {
            return Err(HttpError::Other {
                url: url.to_owned(),
                cause: format!("robots.txt could not be read ({why}); RFC 9309 says not to crawl the host until it can"),
            });
        }
        let mut path = parsed.path().to_owned();
        if let Some(q) = parsed.query() {
            path.push('?');
            path.push_str(q);
        }
        Ok((!rules.allows(&path)).then_some(robots_url))
    }
}

/// Marks resolver errors for non-public addresses, so [`classify`] can name them.
const NON_PUBLIC_MARK: &str = "snodo-non-public-address";

/// Resolves names like the system does, then keeps public addresses only (defeats DNS names
/// pointing at internal services, including rebinding between check and connect).
struct PublicOnlyResolver;

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let all: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<std::net::SocketAddr> = all
                .iter()
                .copied()
                .filter(|a| ip_is_public(a.ip()))
                .collect();
            if public.is_empty() {
                if let Some(a) = all.first() {
                    let msg = format!("{NON_PUBLIC_MARK} {host} = {};", a.ip());
                    return Err(msg.into());
                }
            }
            let addrs: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// A URL host that may be reached from a public source: not `localhost`, not a private IP.
pub fn host_is_public(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            !(d == "localhost"
                || d.ends_with(".localhost")
                || d.ends_with(".local")
                || d.ends_with(".internal"))
        }
        url::Host::Ipv4(ip) => ip_is_public(std::net::IpAddr::V4(*ip)),
        url::Host::Ipv6(ip) => ip_is_public(std::net::IpAddr::V6(*ip)),
    }
}

/// Whether an address is on the public internet (not loopback, private, link-local, CGNAT,
/// documentation, multicast, unspecified or reserved).
pub fn ip_is_public(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240)
        }
        std::net::IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return ip_is_public(std::net::IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xffc0) == 0xfec0
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x64 && s[1] == 0xff9b))
        }
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
    if cause.contains(NON_PUBLIC_MARK) {
        return HttpError::PrivateAddress {
            url: url.to_owned(),
            addr: cause
                .split(NON_PUBLIC_MARK)
                .nth(1)
                .and_then(|r| r.split(';').next())
                .map(|a| a.trim().to_owned())
                .unwrap_or_else(|| "a non-public address".into()),
        };
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

/// Describes this module's metrics (`# HELP` lines); call once after installing a recorder.
pub fn describe_metrics() {
    metrics::describe_counter!(
        "snodo_harvest_requests_total",
        "Requests sent to harvested platforms, by source and answer status (or `error`)"
    );
    metrics::describe_counter!(
        "snodo_harvest_retries_total",
        "Requests to harvested platforms that were retried after a transient failure, by source"
    );
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
