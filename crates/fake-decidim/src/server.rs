//! The HTTP side: `POST /api`, a few HTML pages, fault injection and the request log.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::dataset::Dataset;
use crate::exec::execute_with;
use crate::version::Version;

/// Misbehaviour to inject, for tests of a harvester's robustness. Everything composes; request
/// numbers count `POST /api` requests from 1, since the server started or since the last
/// [`FakeDecidim::set_faults`]. In order of precedence:
/// 1. every response waits `delay_ms` first;
/// 2. requests `1..=rate_limit_first` get `429 Too Many Requests` with `Retry-After:
///    retry_after_secs` (Rack::Attack's plain-text "Retry later");
/// 3. request number `fail_nth` gets `500` with Rails' HTML error page;
/// 4. `html_instead_of_json` answers `200` with an HTML maintenance page;
/// 5. otherwise the query runs, with `field_error` (a field name like `"stats"`, or
///    `"ParticipatoryProcess.stats"`) resolving to an error entry with its `path` and null in
///    `data`; `truncate_json` then cuts the JSON body in half.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Faults {
    /// Answer 500 to this request number (1-based).
    pub fail_nth: Option<u64>,
    /// Answer 429 to the first K requests.
    pub rate_limit_first: u64,
    /// The `Retry-After` value (seconds) sent with 429.
    pub retry_after_secs: u64,
    /// Answer an HTML page with status 200 instead of JSON.
    pub html_instead_of_json: bool,
    /// Send only the first half of the JSON body.
    pub truncate_json: bool,
    /// Delay every response by this many milliseconds.
    pub delay_ms: u64,
    /// Make this field fail (see above).
    pub field_error: Option<String>,
}

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedRequest {
    /// When it arrived.
    pub at: Instant,
    /// HTTP method, e.g. `"POST"`.
    pub method: String,
    /// Request path, e.g. `"/api"`.
    pub path: String,
    /// The GraphQL query (empty for pages; the raw body when it was not JSON).
    pub query: String,
    /// The GraphQL variables (null when none).
    pub variables: Value,
    /// The GraphQL `operationName`, if any.
    pub operation_name: Option<String>,
    /// The HTTP status answered.
    pub status: u16,
}

struct Config {
    dataset: Arc<Dataset>,
    faults: Arc<Faults>,
}

struct Shared {
    version: Version,
    base_url: String,
    config: RwLock<Config>,
    log: Mutex<Vec<LoggedRequest>>,
    api_counter: AtomicU64,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Shared {
    fn config(&self) -> (Arc<Dataset>, Arc<Faults>) {
        let c = self.config.read().unwrap_or_else(|e| e.into_inner());
        (c.dataset.clone(), c.faults.clone())
    }

    fn record(&self, entry: LoggedRequest) {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(entry);
    }
}

/// Counts a request in flight while alive.
struct InFlight(Arc<Shared>);

impl InFlight {
    fn enter(shared: &Arc<Shared>) -> Self {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(shared.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A running fake Decidim instance on loopback. Dropping it (or [`FakeDecidim::shutdown`])
/// stops it.
pub struct FakeDecidim {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for FakeDecidim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeDecidim")
            .field("url", &self.shared.base_url)
            .field("version", &self.shared.version)
            .finish()
    }
}

impl FakeDecidim {
    /// Starts a server on `127.0.0.1` with a free port.
    pub async fn start(
        version: Version,
        dataset: Dataset,
        faults: Faults,
    ) -> std::io::Result<FakeDecidim> {
        Self::start_on(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            version,
            dataset,
            faults,
        )
        .await
    }

    /// Starts a server on a fixed address (for the demo).
    pub async fn start_on(
        addr: SocketAddr,
        version: Version,
        dataset: Dataset,
        faults: Faults,
    ) -> std::io::Result<FakeDecidim> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let shared = Arc::new(Shared {
            version,
            config: RwLock::new(Config {
                dataset: Arc::new(with_base_url(dataset, &base_url)),
                faults: Arc::new(faults),
            }),
            base_url,
            log: Mutex::new(Vec::new()),
            api_counter: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/api", post(api).fallback(not_found))
            .route("/", get(home))
            .route("/processes/{slug}", get(process_page))
            .route("/processes/{slug}/{*rest}", get(process_page_rest))
            .route("/assemblies/{slug}", get(assembly_page))
            .route("/assemblies/{slug}/{*rest}", get(assembly_page_rest))
            .fallback(not_found)
            .with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "fake Decidim server stopped with an error");
            }
        });
        tracing::debug!(%addr, %version, "fake Decidim started");
        Ok(FakeDecidim {
            addr,
            shared,
            stop: Some(stop),
        })
    }

    /// Base URL, e.g. `http://127.0.0.1:PORT` (the API is this plus `/api`).
    pub fn url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The GraphQL endpoint, `url() + "/api"`.
    pub fn api_url(&self) -> String {
        format!("{}/api", self.shared.base_url)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Decidim version this server imitates.
    pub fn version(&self) -> Version {
        self.shared.version
    }

    /// Every request so far (API and pages), in order of arrival.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        let mut log = self
            .shared
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        log.sort_by_key(|r| r.at);
        log
    }

    /// Only the `POST /api` requests, in order of arrival.
    pub fn api_requests(&self) -> Vec<LoggedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == "/api")
            .collect()
    }

    /// Forgets the request log and the in-flight maximum.
    pub fn clear_requests(&self) {
        self.shared
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.shared.max_in_flight.store(
            self.shared.in_flight.load(Ordering::SeqCst),
            Ordering::SeqCst,
        );
    }

    /// The most requests that were ever being answered at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    /// Replaces the data (e.g. between two harvests, to test changes and deletions).
    pub fn set_dataset(&self, d: Dataset) {
        let d = Arc::new(with_base_url(d, &self.shared.base_url));
        self.shared
            .config
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .dataset = d;
    }

    /// Replaces the faults; request numbers for them start again from 1.
    pub fn set_faults(&self, f: Faults) {
        let mut c = self
            .shared
            .config
            .write()
            .unwrap_or_else(|e| e.into_inner());
        c.faults = Arc::new(f);
        self.shared.api_counter.store(0, Ordering::SeqCst);
    }

    /// Stops accepting connections; requests in flight finish. Dropping does the same.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for FakeDecidim {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn with_base_url(mut d: Dataset, base_url: &str) -> Dataset {
    if d.flags.base_url.is_none() {
        d.flags.base_url = Some(base_url.to_owned());
    }
    d
}

const JSON: &str = "application/json; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";

fn respond(status: StatusCode, content_type: &str, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, content_type.to_owned())],
        body,
    )
        .into_response()
}

/// What a request body said, or the response for a body Rails would refuse.
struct GraphqlRequest {
    query: String,
    variables: Value,
    operation_name: Option<String>,
}

/// Why a body was refused, as Rails would.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    UnsupportedMediaType,
    BadRequest,
}

impl Refusal {
    fn response(self) -> Response {
        match self {
            Refusal::UnsupportedMediaType => respond(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "text/plain; charset=utf-8",
                "Unsupported Media Type: send the GraphQL request as application/json\n".to_owned(),
            ),
            Refusal::BadRequest => respond(
                StatusCode::BAD_REQUEST,
                HTML,
                page("Bad Request", "<h1>400 Bad Request</h1>"),
            ),
        }
    }
}

fn parse_request(headers: &HeaderMap, body: &Bytes) -> Result<GraphqlRequest, Refusal> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/json") {
        return Err(Refusal::UnsupportedMediaType);
    }
    let bad_request = || Refusal::BadRequest;
    let value: Value = serde_json::from_slice(body).map_err(|_| bad_request())?;
    let Value::Object(m) = value else {
        return Err(bad_request());
    };
    let query = m
        .get("query")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    // graphql-ruby's Rails controllers also accept variables as a JSON-encoded string.
    let variables = match m.get("variables") {
        Some(Value::String(s)) if s.trim().is_empty() => Value::Null,
        Some(Value::String(s)) => serde_json::from_str(s).map_err(|_| bad_request())?,
        Some(v) => v.clone(),
        None => Value::Null,
    };
    let operation_name = m
        .get("operationName")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(GraphqlRequest {
        query,
        variables,
        operation_name,
    })
}

async fn api(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let _in_flight = InFlight::enter(&shared);
    let at = Instant::now();
    let (dataset, faults) = shared.config();
    let n = shared.api_counter.fetch_add(1, Ordering::SeqCst) + 1;
    let parsed = parse_request(&headers, &body);
    if faults.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.delay_ms)).await;
    }
    let response = if n <= faults.rate_limit_first {
        (
            StatusCode::TOO_MANY_REQUESTS,
            [
                (header::CONTENT_TYPE, "text/plain".to_owned()),
                (header::RETRY_AFTER, faults.retry_after_secs.to_string()),
            ],
            "Retry later\n",
        )
            .into_response()
    } else if faults.fail_nth == Some(n) {
        respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            HTML,
            page(
                "We're sorry, but something went wrong (500)",
                "<h1>We're sorry, but something went wrong.</h1>",
            ),
        )
    } else {
        match &parsed {
            Err(refusal) => refusal.response(),
            Ok(_) if faults.html_instead_of_json => respond(
                StatusCode::OK,
                HTML,
                page(
                    "Manutenzione",
                    "<h1>Sito in manutenzione</h1><p>Torna a trovarci tra poco.</p>",
                ),
            ),
            Ok(req) => {
                let result = execute_with(
                    shared.version,
                    &dataset,
                    &req.query,
                    &req.variables,
                    req.operation_name.as_deref(),
                    faults.field_error.as_deref(),
                );
                let mut text = result.to_string();
                if faults.truncate_json {
                    let mut cut = text.len() / 2;
                    while !text.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    text.truncate(cut);
                }
                respond(StatusCode::OK, JSON, text)
            }
        }
    };
    let (query, variables, operation_name) = match parsed {
        Ok(r) => (r.query, r.variables, r.operation_name),
        Err(_) => (
            String::from_utf8_lossy(&body).into_owned(),
            Value::Null,
            None,
        ),
    };
    shared.record(LoggedRequest {
        at,
        method: "POST".to_owned(),
        path: "/api".to_owned(),
        query,
        variables,
        operation_name,
        status: response.status().as_u16(),
    });
    response
}

/// Runs a page handler with the in-flight count, the delay and the log.
async fn serve_page(
    shared: &Arc<Shared>,
    path: String,
    make: impl FnOnce(&Dataset) -> (StatusCode, String),
) -> Response {
    let _in_flight = InFlight::enter(shared);
    let at = Instant::now();
    let (dataset, faults) = shared.config();
    if faults.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.delay_ms)).await;
    }
    let (status, body) = make(&dataset);
    shared.record(LoggedRequest {
        at,
        method: "GET".to_owned(),
        path,
        query: String::new(),
        variables: Value::Null,
        operation_name: None,
        status: status.as_u16(),
    });
    respond(status, HTML, body)
}

async fn home(State(shared): State<Arc<Shared>>) -> Response {
    let version = shared.version;
    serve_page(&shared, "/".to_owned(), |d| {
        let org = text(&d.organization["name"], &d.flags.default_locale);
        let list = |items: Vec<&Value>, prefix: &str| -> String {
            items
                .iter()
                .map(|s| {
                    format!(
                        "<li><a href=\"/{prefix}/{}\">{}</a></li>",
                        escape(s["slug"].as_str().unwrap_or("")),
                        escape(&text(&s["title"], &d.flags.default_locale))
                    )
                })
                .collect()
        };
        let body = format!(
            "<h1>{}</h1><p>Decidim {} (fake, for tests and demos)</p><h2>Processi</h2><ul>{}</ul><h2>Assemblee</h2><ul>{}</ul>",
            escape(&org),
            version,
            list(d.visible_processes().collect(), "processes"),
            list(d.visible_assemblies().collect(), "assemblies"),
        );
        (StatusCode::OK, page(&org, &body))
    })
    .await
}

fn space_page(d: &Dataset, space: Option<&Value>) -> (StatusCode, String) {
    match space {
        Some(s) => {
            let locale = &d.flags.default_locale;
            let title = text(&s["title"], locale);
            let body = format!(
                "<h1>{}</h1><p>{}</p>",
                escape(&title),
                escape(&text(&s["subtitle"], locale))
            );
            (StatusCode::OK, page(&title, &body))
        }
        None => (
            StatusCode::NOT_FOUND,
            page(
                "Not found",
                "<h1>The page you were looking for doesn't exist.</h1>",
            ),
        ),
    }
}

fn find_by_slug<'a>(mut spaces: impl Iterator<Item = &'a Value>, slug: &str) -> Option<&'a Value> {
    spaces.find(|s| s["slug"].as_str() == Some(slug))
}

async fn process_page(State(shared): State<Arc<Shared>>, Path(slug): Path<String>) -> Response {
    let path = format!("/processes/{slug}");
    serve_page(&shared, path, |d| {
        space_page(d, find_by_slug(d.visible_processes(), &slug))
    })
    .await
}

async fn process_page_rest(
    State(shared): State<Arc<Shared>>,
    Path((slug, rest)): Path<(String, String)>,
) -> Response {
    let path = format!("/processes/{slug}/{rest}");
    serve_page(&shared, path, |d| {
        space_page(d, find_by_slug(d.visible_processes(), &slug))
    })
    .await
}

async fn assembly_page(State(shared): State<Arc<Shared>>, Path(slug): Path<String>) -> Response {
    let path = format!("/assemblies/{slug}");
    serve_page(&shared, path, |d| {
        space_page(d, find_by_slug(d.visible_assemblies(), &slug))
    })
    .await
}

async fn assembly_page_rest(
    State(shared): State<Arc<Shared>>,
    Path((slug, rest)): Path<(String, String)>,
) -> Response {
    let path = format!("/assemblies/{slug}/{rest}");
    serve_page(&shared, path, |d| {
        space_page(d, find_by_slug(d.visible_assemblies(), &slug))
    })
    .await
}

async fn not_found(State(shared): State<Arc<Shared>>, method: Method, uri: Uri) -> Response {
    let _in_flight = InFlight::enter(&shared);
    shared.record(LoggedRequest {
        at: Instant::now(),
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: String::new(),
        variables: Value::Null,
        operation_name: None,
        status: 404,
    });
    respond(
        StatusCode::NOT_FOUND,
        HTML,
        page(
            "Not found",
            "<h1>The page you were looking for doesn't exist.</h1>",
        ),
    )
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"it\"><head><meta charset=\"utf-8\"><title>{}</title></head><body>{body}</body></html>",
        escape(title)
    )
}

/// A plain string or a TranslatedField object, as text in `locale` (else the first text).
fn text(v: &Value, locale: &str) -> String {
    if let Some(s) = v.as_str() {
        return s.to_owned();
    }
    let list = v["translations"].as_array();
    let pick = |want: Option<&str>| {
        list.into_iter()
            .flatten()
            .find(|t| want.is_none_or(|l| t["locale"] == l) && t["text"].is_string())
            .and_then(|t| t["text"].as_str())
            .map(str::to_owned)
    };
    pick(Some(locale))
        .or_else(|| pick(None))
        .unwrap_or_default()
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn handles_can_be_shared_across_tasks() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<FakeDecidim>();
        send_sync::<Faults>();
        send_sync::<LoggedRequest>();
    }

    #[test]
    fn pages_escape_markup() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
        let title = json!({"translations": [{"locale": "de", "text": "Nur Deutsch"}]});
        assert_eq!(text(&title, "it"), "Nur Deutsch");
        assert_eq!(text(&json!("piano"), "it"), "piano");
        assert_eq!(text(&Value::Null, "it"), "");
    }
}
