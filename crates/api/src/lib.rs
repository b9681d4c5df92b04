//! Snodo's HTTP surface (axum): the JSON search API, records, sources and their runs, OpenAPI,
//! `/status`, `/metrics`, the widget's script and the public search page.
//!
//! It talks to the store and the index only through their public types, runs their blocking work
//! off the async threads, and maps every error to `application/problem+json` in one place
//! ([`error`]). It does not harvest: the admin trigger goes through the [`HarvestTrigger`] trait
//! that the binary implements.

pub mod cache;
pub mod catalog;
pub mod console;
pub mod credit;
pub mod dto;
pub mod error;
pub mod export;
pub mod ics;
pub mod limits;
pub mod map;
pub mod page;
pub mod params;
pub mod search_pool;
pub mod widget;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate as _};

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use snodo_index::{Index, SearchRequest, SearchResults};
use snodo_model::{today_in_italy, RecordId};
use snodo_store::Store;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::OpenApi;

use crate::dto::*;
use crate::error::{problem_response, ApiError, ApiPath, PROBLEM_JSON};
use crate::params::{search_request, Params, SEARCH_PARAMS};

pub use crate::cache::AnswerCache;
pub use crate::limits::{IpNet, Limits};

/// Starts a harvest in the background; implemented by the binary, which owns the harvester.
pub trait HarvestTrigger: Send + Sync {
    fn trigger(&self, source: &str) -> Result<(), TriggerError>;
}

#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("unknown source `{0}`")]
    UnknownSource(String),
    #[error("source `{0}` is already being harvested")]
    AlreadyRunning(String),
    #[error("source `{0}` is disabled in the configuration")]
    Disabled(String),
    #[error("this process does not harvest now (it is an API replica, or another process holds the harvester leadership of the shared store); send the request to the harvester leader, the process whose /metrics show snodo_harvest_leader 1")]
    NotLeader,
}

/// Per-source facts from the configuration that the store does not hold.
#[derive(Debug, Clone)]
pub struct SourceMeta {
    pub id: String,
    pub name: String,
    pub url: String,
    pub schedule: String,
    pub enabled: bool,
    /// The licence of the platform's texts; `None` when unknown.
    pub licence: Option<&'static snodo_model::licence::Licence>,
    /// How the platform asks to be credited; the name when `None`.
    pub attribution: Option<String>,
    /// The time between two scheduled harvests (for the catalogue's update frequency).
    pub update_every: Option<chrono::Duration>,
}

/// Renders the Prometheus text exposition.
pub type MetricsRenderer = Arc<dyn Fn() -> String + Send + Sync>;
/// Tells whether a source is being harvested right now.
pub type RunningCheck = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Everything handlers need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub index: Arc<Index>,
    pub sources: Arc<Vec<SourceMeta>>,
    pub trigger: Option<Arc<dyn HarvestTrigger>>,
    pub admin_token: Option<String>,
    pub render_metrics: Option<MetricsRenderer>,
    pub running: Option<RunningCheck>,
    pub public_url: Option<String>,
    /// An operator's restriction of the origins that may read the public API from a browser;
    /// `None` lets every origin read it (see [`cors_layer`]).
    pub cors_allowed_origins: Option<Vec<String>>,
    /// Serve the console's table read-only at `/status/sources`.
    pub public_status_page: bool,
    /// The operator's accessibility statement and contact, for `/accessibilita`.
    pub accessibility: page::Accessibility,
    /// Rate limits, size limits, timeouts and trusted proxies (`[server]`).
    pub limits: Limits,
    /// Recent search answers (`[server] search_cache_entries`).
    pub answers: Arc<cache::AnswerCache>,
    /// The home page's counts, map and sources, kept per index version and day.
    pub home_overview: Arc<cache::Memo<(u64, chrono::NaiveDate), HomeOverview>>,
    /// Who publishes the DCAT-AP_IT catalogue (`[catalog]`); none is served without it.
    pub catalog: Option<catalog::Publisher>,
    /// The threads searches run on. A search is CPU-bound: more of them at once than twice the
    /// cores only adds threads, memory and tail latency, so the rest wait their turn, first come
    /// first served (the request timeout still applies while they wait).
    pub searches: Arc<search_pool::SearchPool>,
}

/// How many searches may run at once: twice the cores the process may use.
pub fn default_search_concurrency() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()) * 2
}

impl AppState {
    pub fn new(store: Arc<Store>, index: Arc<Index>) -> Self {
        AppState {
            store,
            index,
            sources: Arc::new(Vec::new()),
            trigger: None,
            admin_token: None,
            render_metrics: None,
            running: None,
            public_url: None,
            cors_allowed_origins: None,
            public_status_page: false,
            accessibility: page::Accessibility::default(),
            limits: Limits::default(),
            answers: Arc::new(cache::AnswerCache::new(DEFAULT_SEARCH_CACHE_ENTRIES)),
            home_overview: Arc::new(cache::Memo::new(HOME_OVERVIEW_TTL)),
            catalog: None,
            searches: Arc::new(search_pool::SearchPool::new(default_search_concurrency())),
        }
    }

    /// The credit and licence of a configured source (an unknown one otherwise).
    pub fn source_credit(&self, id: &str) -> credit::SourceCredit {
        match self.sources.iter().find(|s| s.id == id) {
            Some(s) => credit::SourceCredit {
                name: s.name.clone(),
                url: s.url.clone(),
                licence: s.licence,
                credit: s.attribution.clone().unwrap_or_else(|| s.name.clone()),
            },
            None => credit::SourceCredit::unknown(id),
        }
    }

    pub fn source_name(&self, id: &str) -> Option<String> {
        self.sources
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.name.clone())
    }
}

/// The whole application.
///
/// Every route gets the size limits, the handler timeout, the panic guard and the security
/// headers; everything but `/status` is also rate limited per client address. Every answer but
/// the admin endpoint's is readable cross-origin (errors and 429s included), so the widget works
/// on any site and can tell "too many searches" from "unreachable".
pub fn router(state: AppState) -> Router {
    let cors = cors_layer(state.cors_allowed_origins.as_deref());
    let guard = limits::Guard::new(state.limits.clone());
    let csp = content_security_policy(state.public_url.as_deref());
    let api = Router::new()
        .route("/api/v1/search", get(search))
        .route("/api/v1/records/{*id}", get(record))
        .route("/api/v1/sources", get(sources))
        .route("/api/v1/sources/{id}/runs", get(runs))
        .route("/api/v1/sources/{id}/harvest", post(trigger_harvest))
        .route("/api/v1/export.csv", get(export_csv))
        .route("/api/v1/export.jsonl", get(export_jsonl))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/feeds/open.atom", get(feed_open))
        .route("/feeds/meetings.ics", get(feed_meetings))
        .layer(middleware::from_fn_with_state(
            guard.clone(),
            limits::rate_limit,
        ));
    // Pages, the widget's script, metrics and unknown paths share each client's budget with the
    // API: a page load is a handful of requests, a scraper or a scanner is throttled.
    let pages = Router::new()
        .route("/metrics", get(metrics_text))
        .route("/widget.js", get(widget_js))
        .route("/widget/{file}", get(widget_pinned))
        .route("/catalog.ttl", get(catalog_ttl))
        .route("/catalog.jsonld", get(catalog_jsonld))
        .route("/fonts/titillium-web-5.3.0/{file}", get(font))
        .route("/", get(home_it))
        .route("/en/", get(home_en))
        .route(
            "/en",
            get(|| async { axum::response::Redirect::permanent("/en/") }),
        )
        .route("/embed", get(embed_it))
        .route("/en/embed", get(embed_en))
        .route("/accessibilita", get(accessibility_it))
        .route("/en/accessibility", get(accessibility_en))
        .route("/admin", get(console_it))
        .route("/en/admin", get(console_en))
        .route("/admin/sources/{id}", get(console_source_it))
        .route("/en/admin/sources/{id}", get(console_source_en))
        .route("/admin/sources/{id}/harvest", post(console_harvest))
        .route("/status/sources", get(status_sources))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            guard.clone(),
            limits::rate_limit,
        ));
    Router::new()
        .merge(api)
        .merge(pages)
        // Not rate limited: load balancers and health checks poll it from few addresses, and a
        // throttled health check would take a healthy instance out of service. It is cheap
        // (one SQLite read and an empty search) and still under the size limits and timeout.
        .route("/status", get(status))
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(middleware::from_fn(tag_route))
        .layer(axum::extract::DefaultBodyLimit::max(
            state.limits.max_body_bytes,
        ))
        .layer(middleware::from_fn_with_state(guard, limits::protect))
        .layer(middleware::from_fn(error::problems_only))
        // Outside the guard, so its 413, 414 and 503 are readable cross-origin too.
        .layer(cors)
        .layer(middleware::from_fn(same_origin_admin))
        .layer(middleware::from_fn_with_state(csp, common_headers))
        // gzip for every text answer a client accepts it for (pages, JSON, feeds, exports as
        // they stream, widget.js); validators of compressed answers become weak
        .layer(
            // woff2 is compressed already
            tower_http::compression::CompressionLayer::new()
                .compress_when(DefaultPredicate::new().and(NotForContentType::const_new("font/"))),
        )
        .layer(middleware::from_fn(weak_etag_when_encoded))
        .layer(middleware::from_fn(count_requests))
        .with_state(state)
}

/// A compressed answer's bytes are not the identity answer's, so its `ETag` may only be weak
/// (RFC 9110 §8.8.1); `If-None-Match` compares weakly, so revalidation works either way.
async fn weak_etag_when_encoded(req: axum::extract::Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    if resp.headers().contains_key(header::CONTENT_ENCODING) {
        let weak = resp
            .headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .filter(|t| !t.starts_with("W/"))
            .and_then(|t| HeaderValue::from_str(&format!("W/{t}")).ok());
        if let Some(w) = weak {
            resp.headers_mut().insert(header::ETAG, w);
        }
    }
    resp
}

/// Whether a path belongs to the operators: never readable from another site's pages.
fn is_admin_path(path: &str) -> bool {
    path.starts_with("/admin")
        || path.starts_with("/en/admin")
        || (path.starts_with("/api/v1/sources/")
            && path.trim_end_matches('/').ends_with("/harvest"))
}

/// Takes the CORS headers off the admin endpoint's answers, preflights included, so a browser on
/// another site can neither call it with the token nor read what it says.
async fn same_origin_admin(req: axum::extract::Request, next: Next) -> Response {
    let admin = is_admin_path(req.uri().path());
    let mut resp = next.run(req).await;
    if admin {
        let h = resp.headers_mut();
        let cors: Vec<_> = h
            .keys()
            .filter(|k| k.as_str().starts_with("access-control-"))
            .cloned()
            .collect();
        for k in cors {
            h.remove(k);
        }
    }
    resp
}

/// The HTML pages' policy. Styles: the page's inline `<style>` needs `'unsafe-inline'`; the
/// widget's Shadow DOM uses a constructed stylesheet, which CSP does not block. Scripts: only our
/// own file. Connections: this origin, and the public URL when the embed page points there.
fn content_security_policy(public_url: Option<&str>) -> HeaderValue {
    let extra = public_url
        .and_then(|u| url::Url::parse(u).ok())
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
        .map(|o| format!(" {o}"))
        .unwrap_or_default();
    let policy = format!(
        "default-src 'self'; script-src 'self'{extra}; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; connect-src 'self'{extra}; object-src 'none'; base-uri 'none'; frame-ancestors 'self'; form-action 'self'"
    );
    HeaderValue::from_str(&policy).unwrap_or_else(|_| {
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'self'; form-action 'self'",
        )
    })
}

async fn method_not_allowed() -> Response {
    problem_response(
        StatusCode::METHOD_NOT_ALLOWED,
        Some("This method is not allowed here; see /api/v1/openapi.json".into()),
        None,
    )
}

/// The public surface is read-only, answers without credentials and holds nothing private, so
/// every origin may read it unless the operator restricts it (`[server] cors_allowed_origins`).
fn cors_layer(origins: Option<&[String]>) -> CorsLayer {
    let base = CorsLayer::new()
        .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
        .allow_headers([header::CONTENT_TYPE, header::ACCEPT, header::IF_NONE_MATCH])
        .expose_headers([
            header::RETRY_AFTER,
            header::ETAG,
            limits::X_RATELIMIT_LIMIT,
            limits::X_RATELIMIT_REMAINING,
            limits::X_RATELIMIT_RESET,
        ])
        .max_age(Duration::from_secs(3600));
    match origins {
        None => base.allow_origin(AllowOrigin::any()),
        Some(list) if list.iter().any(|o| o == "*") => base.allow_origin(AllowOrigin::any()),
        Some(list) => {
            let list: Vec<HeaderValue> = list
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok())
                .collect();
            base.allow_origin(AllowOrigin::list(list))
        }
    }
}

/// Headers every answer carries; a strict CSP on HTML pages.
async fn common_headers(
    State(csp): State<HeaderValue>,
    req: axum::extract::Request,
    next: Next,
) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        "referrer-policy",
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    let is_html = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
        h.insert("x-frame-options", HeaderValue::from_static("SAMEORIGIN"));
    } else {
        // JSON, feeds and exports are data: never rendered, never framed.
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; sandbox"),
        );
    }
    resp
}

/// A browser asking for an unknown page gets a page that says so in its language and leads
/// back; API clients (anything that does not ask for HTML first, and every `/api/` path) get a
/// problem.
async fn not_found(uri: axum::http::Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    if !path.starts_with("/api/") && wants_html(&headers) {
        let lang = if path == "/en" || path.starts_with("/en/") {
            page::Lang::En
        } else {
            page::Lang::It
        };
        return (StatusCode::NOT_FOUND, Html(page::render_not_found(lang))).into_response();
    }
    problem_response(
        StatusCode::NOT_FOUND,
        Some("No such page or endpoint; see /api/v1/openapi.json".into()),
        None,
    )
}

/// Whether the client prefers HTML, as browsers navigating to a page do (`Accept: text/html,…`).
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.split(',').next())
        .is_some_and(|first| {
            let media = first.split(';').next().unwrap_or("").trim();
            media.eq_ignore_ascii_case("text/html")
                || media.eq_ignore_ascii_case("application/xhtml+xml")
        })
}

/// Runs a search off the async threads and times it.
/// Searches as of `today` (Europe/Rome): the caller's one day for everything it computes, so
/// statuses, filters and a cached answer's key agree even across midnight.
async fn run_search(
    state: &AppState,
    req: SearchRequest,
    today: chrono::NaiveDate,
) -> Result<SearchResults, ApiError> {
    let index = state.index.clone();
    let (results, took) = state
        .searches
        .run(move || {
            // The index's own time: waiting for a turn shows in the HTTP request durations.
            let started = Instant::now();
            (index.search(&req, today), started.elapsed())
        })
        .await
        .map_err(|e| ApiError::Internal(format!("search: {e}")))?;
    metrics::histogram!("snodo_search_duration_seconds").record(took.as_secs_f64());
    Ok(results?)
}

#[utoipa::path(get, path = "/api/v1/search", tag = "search",
    params(SearchQueryDoc, ("If-None-Match" = Option<String>, Header, description = "An `ETag` from an earlier answer; a match gets 304 without a body")),
    responses(
        (status = 200, description = "Matching records, one page, with facet counts over all matches. Cacheable for 30 s; revalidate with `If-None-Match`.", body = SearchResponse,
            headers(("ETag" = String, description = "Strong validator of this answer"),
                    ("Cache-Control" = String, description = "`public, max-age=30`"))),
        (status = 304, description = "Not modified: the `If-None-Match` tag is still current",
            headers(("ETag" = String, description = "The current validator"))),
        (status = 400, description = "A parameter is invalid; `parameter` names it", body = error::Problem, content_type = "application/problem+json"),
    ))]
async fn search(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::parse(raw.as_deref(), SEARCH_PARAMS)?;
    let req = search_request(&params)?;
    let (limit, offset) = (req.limit, req.offset);
    // The parsed request, not the raw query string: `?q=a&limit=10` and `?limit=10&q=a` are
    // one answer. Read the version before searching (see `AnswerCache::put`).
    let key = format!("{req:?}");
    let valid_for = (state.index.version(), today_in_italy());
    if let Some(answer) = state.answers.get(valid_for, &key) {
        metrics::counter!("snodo_search_cache_total", "outcome" => "hit").increment(1);
        return Ok(cache::answer_response(&headers, &answer, 30));
    }
    metrics::counter!("snodo_search_cache_total", "outcome" => "miss").increment(1);
    let place = req.place.as_ref().and_then(dto::PlaceResponse::of);
    let results = run_search(&state, req, valid_for.1).await?;
    let mut body = SearchResponse::from_results(
        results,
        limit,
        offset,
        |id| state.source_name(id),
        |id| state.source_credit(id),
    );
    body.place = place;
    let answer = Arc::new(cache::answer_of(&body)?);
    state.answers.put(valid_for, key, answer.clone());
    Ok(cache::answer_response(&headers, &answer, 30))
}

/// Search answers kept when the configuration does not say (about 10 KiB each).
pub const DEFAULT_SEARCH_CACHE_ENTRIES: usize = 1024;

/// How long the home page's overview may be kept while the index is unchanged: a run that
/// changed no record still shows its time of success within this.
pub const HOME_OVERVIEW_TTL: std::time::Duration = std::time::Duration::from_secs(5);

fn cacheable(mut resp: Response, secs: u32) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={secs}")) {
        resp.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    resp
}

#[utoipa::path(get, path = "/api/v1/records/{id}", tag = "records",
    params(("id" = String, Path, description = "A record id: `source:kind:upstream_id`"), ("If-None-Match" = Option<String>, Header, description = "An `ETag` from an earlier answer; a match gets 304 without a body")),
    responses(
        (status = 200, description = "The record in every locale, with its harvest history. Cacheable for 60 s; revalidate with `If-None-Match`.", body = RecordResponse,
            headers(("ETag" = String, description = "Strong validator of this answer"),
                    ("Cache-Control" = String, description = "`public, max-age=60`"))),
        (status = 304, description = "Not modified: the `If-None-Match` tag is still current",
            headers(("ETag" = String, description = "The current validator"))),
        (status = 404, description = "No such record", body = error::Problem, content_type = "application/problem+json"),
    ))]
async fn record(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if id.parse::<RecordId>().is_err() {
        return Err(ApiError::NotFound(format!(
            "no record `{}`: record ids have the form `source:kind:upstream_id`, e.g. `partecipa:process:12`",
            html_escape::encode_text(&id.chars().take(100).collect::<String>())
        )));
    }
    let store = state.store.clone();
    let key = id.clone();
    let stored = tokio::task::spawn_blocking(move || store.record(&key))
        .await??
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no record `{}`",
                html_escape::encode_text(&id.chars().take(100).collect::<String>())
            ))
        })?;
    let source_name = state.source_name(&stored.record.id.source);
    let stored_source = stored.record.id.source.clone();
    cache::json_cached(
        &headers,
        &RecordResponse::new(
            stored,
            source_name,
            &state.source_credit(&stored_source),
            today_in_italy(),
        ),
        60,
    )
}

/// Every source's credit and licence, for exports and feeds: the configured ones as configured,
/// those only in the store (no longer configured) by their stored name, licence unknown.
async fn source_credits(state: &AppState) -> Result<credit::Credits, ApiError> {
    let store = state.store.clone();
    let rows = tokio::task::spawn_blocking(move || store.sources()).await??;
    Ok(rows
        .into_iter()
        .map(|s| {
            let mut c = state.source_credit(&s.id);
            if !state.sources.iter().any(|m| m.id == s.id) {
                c.name = s.name.clone();
                c.credit = s.name;
            }
            if c.url.is_empty() {
                c.url = s.url;
            }
            (s.id, c)
        })
        .collect())
}

#[utoipa::path(get, path = "/api/v1/export.csv", tag = "open data",
    params(LangQueryDoc),
    responses(
        (status = 200, description = "Every live record, one CSV row each (RFC 4180, UTF-8 with BOM, header row). Each row carries its source's licence as configured (`licence`: an SPDX id, or `unknown` when the source states none, `licence_url`) and how to credit it (`attribution`, `source_name`, `source_url`); Snodo's own columns (ids, codes, status, topics) are CC0 1.0. Streamed.",
            content_type = "text/csv", body = String),
        (status = 400, description = "A parameter is invalid; `parameter` names it", body = error::Problem, content_type = "application/problem+json"),
    ))]
async fn export_csv(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(raw.as_deref(), &["lang", "source"])?;
    let lang = p.get("lang").map(params::lang_code).transpose()?;
    let source = params::source_id(&p)?;
    let names = source_credits(&state).await?;
    Ok(export::stream(
        state.store.clone(),
        names,
        export::Format::Csv,
        lang,
        source,
    ))
}

#[utoipa::path(get, path = "/api/v1/export.jsonl", tag = "open data",
    params(SourceQueryDoc),
    responses(
        (status = 200, description = "Every live record as one JSON object per line (all locales, plain-text fields, computed `status`), each with its source's `licence` (SPDX id or `unknown`), `licence_url`, `attribution`, `source_name` and `source_url`; Snodo's own fields are CC0 1.0. Streamed.",
            content_type = "application/jsonl", body = String),
        (status = 400, description = "A parameter is invalid; `parameter` names it", body = error::Problem, content_type = "application/problem+json"),
    ))]
async fn export_jsonl(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(raw.as_deref(), &["source"])?;
    let source = params::source_id(&p)?;
    let names = source_credits(&state).await?;
    Ok(export::stream(
        state.store.clone(),
        names,
        export::Format::Jsonl,
        None,
        source,
    ))
}

#[utoipa::path(get, path = "/feeds/open.atom", tag = "open data",
    params(FeedQueryDoc, ("If-None-Match" = Option<String>, Header, description = "An `ETag` from an earlier answer; a match gets 304 without a body")),
    responses(
        (status = 200, description = "Atom feed of open processes, most recently started first, with the search filters. Cacheable for 300 s.",
            content_type = "application/atom+xml", body = String,
            headers(("ETag" = String, description = "Strong validator of this answer"))),
        (status = 304, description = "Not modified: the `If-None-Match` tag is still current"),
        (status = 400, description = "A parameter is invalid; `parameter` names it", body = error::Problem, content_type = "application/problem+json"),
    ))]
async fn feed_open(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let p = Params::parse(raw.as_deref(), SEARCH_PARAMS)?;
    let mut req = search_request(&p)?;
    match req.status {
        None | Some(snodo_model::Status::Open) => req.status = Some(snodo_model::Status::Open),
        Some(_) => {
            return Err(ApiError::bad(
                "status",
                "this feed lists open processes only; leave status out or set it to open",
            ))
        }
    }
    if p.get("sort").is_none() {
        req.sort = export::FEED_SORT;
    }
    if p.get("limit").is_none() {
        req.limit = export::FEED_DEFAULT_LIMIT;
    }
    let results = run_search(&state, req, today_in_italy()).await?;
    let base = state
        .public_url
        .as_deref()
        .unwrap_or("")
        .trim_end_matches('/');
    let self_href = match raw.as_deref().filter(|r| !r.is_empty()) {
        Some(q) => format!("{base}/feeds/open.atom?{q}"),
        None => format!("{base}/feeds/open.atom"),
    };
    let body = export::atom(&results, &self_href, |id| state.source_credit(id));
    Ok(export::bytes_cached(
        &headers,
        "application/atom+xml; charset=utf-8",
        body.into_bytes(),
        300,
    ))
}

/// Meetings read for the calendar at most, before the precise "not over yet" filter.
const MEETINGS_SCAN: usize = 500;
/// Events in one calendar at most, and by default.
const MEETINGS_FEED_LIMIT: usize = 100;

#[utoipa::path(get, path = "/feeds/meetings.ics", tag = "open data",
    params(MeetingsFeedQueryDoc, ("If-None-Match" = Option<String>, Header, description = "An `ETag` from an earlier answer; a match gets 304 without a body")),
    responses(
        (status = 200, description = "iCalendar (RFC 5545) of upcoming meetings (not yet ended), soonest first, with the search filters that apply: one VEVENT each with UID, DTSTAMP, DTSTART/DTEND in UTC, SUMMARY, DESCRIPTION (plain text, with the space it belongs to and its source), LOCATION and URL (the meeting's page on its platform). Each event credits its source with the source's licence (or says it is not stated). Cacheable for 300 s.",
            content_type = "text/calendar", body = String,
            headers(("ETag" = String, description = "Strong validator of this answer"),
                    ("Cache-Control" = String, description = "`public, max-age=300`"))),
        (status = 304, description = "Not modified: the `If-None-Match` tag is still current"),
        (status = 400, description = "A parameter is invalid; `parameter` names it", body = error::Problem, content_type = "application/problem+json"),
    ))]
async fn feed_meetings(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let p = Params::parse(
        raw.as_deref(),
        &[
            "q", "kind", "region", "province", "comune", "place", "scope", "topic", "source",
            "limit", "lang",
        ],
    )?;
    match p.get("kind") {
        None | Some("meeting") => {}
        Some(_) => {
            return Err(ApiError::bad(
                "kind",
                "this feed lists meetings only; leave kind out or set it to meeting",
            ))
        }
    }
    let limit = p.number("limit", MEETINGS_FEED_LIMIT, 1, MEETINGS_FEED_LIMIT)?;
    let mut req = search_request(&p)?;
    req.kind = Some(snodo_model::Kind::Meeting);
    req.sort = snodo_index::Sort::Closing;
    req.offset = 0;
    req.limit = MEETINGS_SCAN;
    // Status is by day: a meeting that ended this morning is still "open" today, and the
    // precise filter below drops it. Upcoming and open ones are asked for separately so that
    // neither crowds the other out.
    let today = today_in_italy();
    let mut ids = Vec::new();
    for status in [snodo_model::Status::Open, snodo_model::Status::Upcoming] {
        let mut r = req.clone();
        r.status = Some(status);
        ids.extend(
            run_search(&state, r, today)
                .await?
                .items
                .into_iter()
                .map(|h| h.id),
        );
    }
    let store = state.store.clone();
    let stored = tokio::task::spawn_blocking(move || {
        ids.iter()
            .filter_map(|id| store.record(id).transpose())
            .collect::<Result<Vec<_>, _>>()
    })
    .await??;
    let now = chrono::Utc::now();
    let mut upcoming: Vec<_> = stored
        .into_iter()
        .filter(|s| s.gone_at.is_none() && ics::is_upcoming(&s.record, now, today))
        .collect();
    upcoming.sort_by(|a, b| {
        let key = |s: &snodo_store::StoredRecord| {
            (
                s.record.start_time.map(|t| t.with_timezone(&chrono::Utc)),
                s.record.start_date,
                s.record.id.to_string(),
            )
        };
        key(a).cmp(&key(b))
    });
    let names = source_credits(&state).await?;
    let host = state
        .public_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .and_then(|u| u.host_str().map(str::to_owned))
        .or_else(|| {
            headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(|h| h.split(':').next().unwrap_or(h).to_owned())
                .filter(|h| {
                    !h.is_empty()
                        && h.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
                })
        })
        .unwrap_or_else(|| "snodo".to_owned());
    let lang = req.lang.as_deref();
    let ctx = ics::FeedContext {
        host: &host,
        lang,
        names: &names,
    };
    let events: Vec<ics::Event> = upcoming
        .iter()
        .filter_map(|s| ics::meeting_event(&s.record, s.last_changed, &ctx))
        .take(limit)
        .collect();
    let (name, description) = if lang == Some("en") {
        (
            "Snodo: upcoming participation meetings",
            "Upcoming meetings of public participation processes on Italian platforms; each event credits its source and its licence.",
        )
    } else {
        (
            "Snodo: prossimi incontri di partecipazione",
            "Prossimi incontri dei processi partecipativi sulle piattaforme italiane; ogni evento cita la sua fonte e la sua licenza.",
        )
    };
    let body = ics::calendar(name, description, &events);
    metrics::counter!("snodo_feed_meetings_total").increment(1);
    Ok(export::bytes_cached(
        &headers,
        "text/calendar; charset=utf-8",
        body.into_bytes(),
        300,
    ))
}

#[utoipa::path(get, path = "/api/v1/sources", tag = "sources",
    responses((status = 200, description = "Every source with its last run and record count", body = [SourceResponse])))]
async fn sources(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<SourceResponse>>, ApiError> {
    Params::parse(raw.as_deref(), &[])?;
    let store = state.store.clone();
    let rows = tokio::task::spawn_blocking(move || store.sources()).await??;
    let running = state.running.clone();
    Ok(Json(
        rows.into_iter()
            .map(|s| {
                let meta = state.sources.iter().find(|m| m.id == s.id);
                let is_running = running.as_ref().is_some_and(|f| f(&s.id));
                SourceResponse::new(s, meta, is_running)
            })
            .collect(),
    ))
}

#[utoipa::path(get, path = "/api/v1/sources/{id}/runs", tag = "sources",
    params(("id" = String, Path, description = "Source id"), PageQueryDoc),
    responses(
        (status = 200, description = "Run history, newest first", body = RunsResponse),
        (status = 404, description = "No such source", body = error::Problem, content_type = "application/problem+json"),
    ))]
async fn runs(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<RunsResponse>, ApiError> {
    let p = Params::parse(raw.as_deref(), &["limit", "offset"])?;
    let limit = p.number("limit", 20, 1, 100)?;
    let offset = p.number("offset", 0, 0, 1_000_000)?;
    let store = state.store.clone();
    let sid = id.clone();
    let (known, (items, total)) =
        tokio::task::spawn_blocking(move || -> Result<_, snodo_store::StoreError> {
            let known = store.sources()?.iter().any(|s| s.id == sid);
            Ok((known, store.runs(&sid, limit, offset)?))
        })
        .await??;
    if !known {
        return Err(ApiError::NotFound(format!("no source `{id}`")));
    }
    Ok(Json(RunsResponse {
        total,
        limit,
        offset,
        items: items.into_iter().map(RunResponse::from).collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/sources/{id}/harvest", tag = "sources",
    params(("id" = String, Path, description = "Source id")),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "A run was started"),
        (status = 401, description = "No bearer token", body = error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Wrong token", body = error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown source, or admin endpoints are off", body = error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The source is already being harvested, or is disabled", body = error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "This process does not harvest now (an API replica, or a harvester that is not the leader); nothing was started", body = error::Problem, content_type = "application/problem+json"),
    ))]
async fn trigger_harvest(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (Some(expected), Some(trigger)) = (state.admin_token.as_deref(), state.trigger.as_ref())
    else {
        return Err(ApiError::NotFound(
            "admin endpoints are off: no admin token is configured".into(),
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::Unauthorized("send the admin token as `Authorization: Bearer TOKEN`".into())
        })?;
    if !constant_time_eq(given.trim().as_bytes(), expected.as_bytes()) {
        return Err(ApiError::Forbidden("the admin token is not valid".into()));
    }
    match trigger.trigger(&id) {
        Ok(()) => Ok((
            StatusCode::ACCEPTED,
            Json(serde_json::json!({"source": id, "started": true})),
        )
            .into_response()),
        Err(TriggerError::UnknownSource(_)) => Err(ApiError::NotFound(format!("no source `{id}`"))),
        Err(e @ TriggerError::AlreadyRunning(_)) => Err(ApiError::Conflict(e.to_string())),
        Err(e @ TriggerError::Disabled(_)) => Err(ApiError::Conflict(e.to_string())),
        // Before anything was started: a load balancer may ask the next harvester.
        Err(e @ TriggerError::NotLeader) => Err(ApiError::Unavailable(e.to_string())),
    }
}

async fn accessibility_it(State(state): State<AppState>) -> Response {
    accessibility_page(&state, page::Lang::It)
}

async fn accessibility_en(State(state): State<AppState>) -> Response {
    accessibility_page(&state, page::Lang::En)
}

fn accessibility_page(state: &AppState, lang: page::Lang) -> Response {
    let mut resp = Html(page::render_accessibility(lang, &state.accessibility)).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    resp
}

/// Refuses anyone but an operator, who gives the admin token as the password of HTTP Basic
/// authentication (what a browser asks for by itself; any user name) or as a bearer token.
fn console_refusal(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let Some(expected) = state.admin_token.as_deref() else {
        return Some(problem_response(
            StatusCode::NOT_FOUND,
            Some("the console is off: no admin token is configured ([server] admin_token or SNODO_ADMIN_TOKEN)".into()),
            None,
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            if let Some(b) = v.strip_prefix("Bearer ") {
                return Some(b.trim().to_owned());
            }
            let raw = v.strip_prefix("Basic ")?;
            use base64::Engine as _;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(raw.trim())
                .ok()?;
            let text = String::from_utf8(decoded).ok()?;
            text.split_once(':').map(|(_, pass)| pass.to_owned())
        });
    match given {
        Some(t) if constant_time_eq(t.as_bytes(), expected.as_bytes()) => None,
        other => {
            let mut r = problem_response(
                StatusCode::UNAUTHORIZED,
                Some(if other.is_some() {
                    "the admin token is not valid".into()
                } else {
                    "the console needs the admin token: give it as the password (any user name)"
                        .into()
                }),
                None,
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Snodo console\", charset=\"UTF-8\""),
            );
            Some(r)
        }
    }
}

/// Every source with its runs of the last 30 days, records by kind and whether it runs now.
async fn console_rows(state: &AppState) -> Result<Vec<console::SourceRow>, ApiError> {
    let store = state.store.clone();
    let (statuses, kinds, runs) = tokio::task::spawn_blocking(move || {
        let statuses = store.sources()?;
        let kinds = store.record_counts_by_kind()?;
        let since = chrono::Utc::now() - chrono::Duration::days(30);
        let mut runs = std::collections::HashMap::new();
        for s in &statuses {
            let (list, _) = store.runs(&s.id, 500, 0)?;
            let recent: Vec<_> = list.into_iter().filter(|r| r.started_at >= since).collect();
            runs.insert(s.id.clone(), recent);
        }
        Ok::<_, snodo_store::StoreError>((statuses, kinds, runs))
    })
    .await??;
    let mut runs = runs;
    Ok(statuses
        .into_iter()
        .filter(|s| s.configured || s.records > 0)
        .map(|status| {
            let meta = state.sources.iter().find(|m| m.id == status.id);
            let by_kind = kinds
                .iter()
                .filter(|(src, _, _)| *src == status.id)
                .map(|(_, k, n)| (k.clone(), *n))
                .collect();
            console::SourceRow {
                enabled: status.configured && meta.is_none_or(|m| m.enabled),
                running: state.running.as_ref().is_some_and(|f| f(&status.id)),
                by_kind,
                runs: runs.remove(&status.id).unwrap_or_default(),
                status,
            }
        })
        .collect())
}

async fn console_it(state: State<AppState>, headers: HeaderMap, raw: RawQuery) -> Response {
    console_page(state, headers, raw, page::Lang::It).await
}

async fn console_en(state: State<AppState>, headers: HeaderMap, raw: RawQuery) -> Response {
    console_page(state, headers, raw, page::Lang::En).await
}

async fn console_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    lang: page::Lang,
) -> Response {
    if let Some(r) = console_refusal(&state, &headers) {
        return r;
    }
    let q: Vec<(String, String)> =
        url::form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let get = |key: &str| q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    // Only known outcomes of known sources: a link cannot put words of its own in the console.
    let notice = match (get("harvest"), get("source")) {
        (Some(outcome), Some(id)) if state.sources.iter().any(|m| m.id == id) => {
            harvest_notice(lang, outcome, id)
        }
        _ => None,
    };
    console_answer(&state, lang, true, notice.as_deref()).await
}

/// The console's table, read-only, for everyone: only when the operator turned it on.
async fn status_sources(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !state.public_status_page {
        return not_found(axum::http::Uri::from_static("/status/sources"), headers).await;
    }
    console_answer(&state, page::Lang::It, false, None).await
}

async fn console_answer(
    state: &AppState,
    lang: page::Lang,
    operator: bool,
    notice: Option<&str>,
) -> Response {
    let rows = match console_rows(state).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let store = state.store.clone();
    let max = tokio::task::spawn_blocking(move || store.max_seq())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or(0);
    let html = console::render_console(&console::ConsoleView {
        lang,
        rows: &rows,
        index_documents: state.index.num_docs(),
        index_lag: max.saturating_sub(state.index.last_applied_seq()),
        operator,
        notice,
        now: chrono::Utc::now(),
    });
    let mut resp = Html(html).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

async fn console_source_it(
    state: State<AppState>,
    headers: HeaderMap,
    id: ApiPath<String>,
) -> Response {
    console_source(state, headers, id, page::Lang::It).await
}

async fn console_source_en(
    state: State<AppState>,
    headers: HeaderMap,
    id: ApiPath<String>,
) -> Response {
    console_source(state, headers, id, page::Lang::En).await
}

async fn console_source(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    lang: page::Lang,
) -> Response {
    if let Some(r) = console_refusal(&state, &headers) {
        return r;
    }
    let rows = match console_rows(&state).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let Some(row) = rows.into_iter().find(|r| r.status.id == id) else {
        return ApiError::NotFound(format!("no source `{id}`")).into_response();
    };
    let store = state.store.clone();
    let sid = id.clone();
    let runs = match tokio::task::spawn_blocking(move || store.runs(&sid, 50, 0)).await {
        Ok(Ok((runs, _))) => runs,
        Ok(Err(e)) => return ApiError::from(e).into_response(),
        Err(e) => return ApiError::Internal(e.to_string()).into_response(),
    };
    let mut resp = Html(console::render_source(lang, &row, &runs)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Whether a browser sent this form from a page of this same site: `Origin` (or, without it,
/// `Sec-Fetch-Site`) must say so, so that another site cannot make an operator's browser press
/// the button. Clients that send neither (curl with the token) are not browsers.
fn same_site_form(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let origin_host = origin.split_once("://").map(|(_, h)| h);
        return origin_host.is_some() && origin_host == host;
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(site) => site == "same-origin",
        None => true,
    }
}

/// What the console says after "harvest now", from the outcome's code.
fn harvest_notice(lang: page::Lang, outcome: &str, id: &str) -> Option<String> {
    use page::Lang::{En, It};
    Some(match (outcome, lang) {
        ("started", It) => format!("Raccolta di `{id}` avviata."),
        ("started", En) => format!("Harvest of `{id}` started."),
        ("running", It) => format!("Raccolta di `{id}` non avviata: è già in corso."),
        ("running", En) => format!("Harvest of `{id}` not started: it is already running."),
        ("disabled", It) => {
            format!("Raccolta di `{id}` non avviata: la fonte è disattivata nella configurazione.")
        }
        ("disabled", En) => {
            format!("Harvest of `{id}` not started: the source is disabled in the configuration.")
        }
        ("unknown", It) => {
            format!("Raccolta di `{id}` non avviata: questo processo non conosce la fonte.")
        }
        ("unknown", En) => {
            format!("Harvest of `{id}` not started: this process does not know the source.")
        }
        ("follower", It) => format!(
            "Raccolta di `{id}` non avviata: ora raccoglie un altro processo (il leader); chiedila a quello."
        ),
        ("follower", En) => format!(
            "Harvest of `{id}` not started: another process (the leader) harvests now; ask it."
        ),
        ("off", It) => {
            "Questo processo non raccoglie: avvia `snodo serve` con le fonti configurate.".into()
        }
        ("off", En) => {
            "This process does not harvest: run `snodo serve` with the sources configured.".into()
        }
        _ => return None,
    })
}

/// "Harvest now" from the console: starts the run and goes back to the console, which says so.
async fn console_harvest(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(r) = console_refusal(&state, &headers) {
        return r;
    }
    if !same_site_form(&headers) {
        return ApiError::Forbidden(
            "this form can only be sent from the console's own pages".into(),
        )
        .into_response();
    }
    let lang = if url::form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
        .any(|(k, v)| k == "lang" && v == "en")
    {
        page::Lang::En
    } else {
        page::Lang::It
    };
    let outcome = match state.trigger.as_ref().map(|t| t.trigger(&id)) {
        None => "off",
        Some(Ok(())) => "started",
        Some(Err(TriggerError::AlreadyRunning(_))) => "running",
        Some(Err(TriggerError::Disabled(_))) => "disabled",
        Some(Err(TriggerError::UnknownSource(_))) => "unknown",
        Some(Err(TriggerError::NotLeader)) => "follower",
    };
    let back = page::href(
        match lang {
            page::Lang::It => "/admin",
            page::Lang::En => "/en/admin",
        },
        &[("harvest", outcome), ("source", &id)],
    );
    (
        StatusCode::SEE_OTHER,
        [(
            header::LOCATION,
            HeaderValue::from_str(&back).unwrap_or(HeaderValue::from_static("/admin")),
        )],
    )
        .into_response()
}

/// Compares secrets without leaking their common prefix through timing.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u8 | u8::from(a.len() != b.len());
    for (i, &x) in a.iter().enumerate() {
        diff |= x ^ b.get(i % b.len().max(1)).copied().unwrap_or(0);
    }
    diff == 0
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Snodo API", version = "1.1.0",
        description = "Search every participatory process, assembly and consultation harvested from Italian participation platforms.\n\n\
Conventions (ModI): version in the path (`/api/v1`); errors as `application/problem+json` (RFC 9457); RFC 3339 dates; ISO 639-1 language codes; `/status` answers problem+json.\n\n\
Rate limits: every answer but `/status` (left for health checks) carries `X-RateLimit-Limit` (requests a client may make in a burst), `X-RateLimit-Remaining` and `X-RateLimit-Reset` (seconds until the full burst is available again); over the limit the answer is 429 with `Retry-After` in seconds. Limits apply per client address.\n\n\
Caching: search, record and feed answers carry `ETag` and `Cache-Control`; send `If-None-Match` to get 304 when nothing changed.\n\n\
Open data: `/api/v1/export.csv`, `/api/v1/export.jsonl`, `/feeds/open.atom` and `/feeds/meetings.ics` (iCalendar of upcoming meetings) carry each record's source licence as the operator configured it (`licence`: SPDX id, or `unknown`: then reuse only as the source allows) and its `attribution`; what Snodo writes itself (ids, territory codes, status, topics, methods) is CC0 1.0.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later"),
        contact(name = "Snodo maintainers", url = "https://github.com/snodo/snodo")),
    servers((url = "/", description = "This hub")),
    paths(search, record, sources, runs, trigger_harvest, export_csv, export_jsonl, feed_open, feed_meetings, status),
    components(schemas(SearchResponse, SearchItem, FacetsResponse, AboveResponse, PlaceResponse, TopicItem, RecordResponse, SourceResponse, RunResponse, RunsResponse, error::Problem)),
    modifiers(&BearerAuth, &CommonAnswers),
    tags((name = "search"), (name = "records"), (name = "sources"), (name = "open data"), (name = "operations"))
)]
pub struct ApiDoc;

struct BearerAuth;
impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Answers any operation can give (limits, timeouts, internal errors), and the rate-limit
/// headers on every answer of a rate-limited path; the `x-api-id` and `x-summary` ModI asks of
/// `info`.
struct CommonAnswers;
impl utoipa::Modify for CommonAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi.info.extensions = Some(
            utoipa::openapi::extensions::ExtensionsBuilder::new()
                .add("x-api-id", "snodo-search-v1")
                .add(
                    "x-summary",
                    "Search Italian public participation processes harvested from their platforms",
                )
                .build(),
        );
        use utoipa::openapi::header::HeaderBuilder;
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let integer = || {
            HeaderBuilder::new()
                .schema(
                    utoipa::openapi::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::Type::Integer),
                )
                .build()
        };
        let problem = |desc: &str, rate_headers: bool, retry_after: bool| {
            let mut b = ResponseBuilder::new().description(desc).content(
                PROBLEM_JSON,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            );
            if retry_after {
                b = b.header("Retry-After", integer());
            }
            if rate_headers {
                for h in [
                    "X-RateLimit-Limit",
                    "X-RateLimit-Remaining",
                    "X-RateLimit-Reset",
                ] {
                    b = b.header(h, integer());
                }
            }
            b.build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let limited = path.starts_with("/api/") || path.starts_with("/feeds/");
            let ops = [
                item.get.as_mut(),
                item.post.as_mut(),
                item.put.as_mut(),
                item.delete.as_mut(),
            ];
            for op in ops.into_iter().flatten() {
                let answers = &mut op.responses.responses;
                if limited {
                    for r in answers.values_mut() {
                        if let utoipa::openapi::RefOr::T(r) = r {
                            for h in [
                                "X-RateLimit-Limit",
                                "X-RateLimit-Remaining",
                                "X-RateLimit-Reset",
                            ] {
                                r.headers.insert(h.to_owned(), integer());
                            }
                        }
                    }
                    answers.insert(
                        "429".into(),
                        problem("Too many requests from this client address; retry after `Retry-After` seconds", true, true).into(),
                    );
                }
                answers.entry("400".into()).or_insert_with(|| {
                    problem("The request is malformed (for example an unknown query parameter); `parameter` names it", limited, false).into()
                });
                answers.insert(
                    "405".into(),
                    problem("Method not allowed", limited, false).into(),
                );
                answers.insert(
                    "413".into(),
                    problem("The request body is too large", false, false).into(),
                );
                answers.insert(
                    "414".into(),
                    problem(
                        "The request target (path and query) is too long",
                        false,
                        false,
                    )
                    .into(),
                );
                answers.insert(
                    "500".into(),
                    problem(
                        "An internal error; the detail is logged, never returned",
                        limited,
                        false,
                    )
                    .into(),
                );
                answers.entry("503".into()).or_insert_with(|| {
                    problem("The request took too long or the service is busy; retry after `Retry-After` seconds", limited, true).into()
                });
            }
        }
    }
}

async fn openapi() -> Response {
    cacheable(Json(ApiDoc::openapi()).into_response(), 300)
}

#[utoipa::path(get, path = "/status", tag = "operations",
    responses(
        (status = 200, description = "Healthy", body = error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store or the index cannot answer", body = error::Problem, content_type = "application/problem+json"),
    ))]
async fn status(State(state): State<AppState>) -> Response {
    let store = state.store.clone();
    let index = state.index.clone();
    let check = tokio::task::spawn_blocking(move || -> Result<(u64, Result<u64, bool>), String> {
        // Ok(head), or Err(true) when a shared store is unreachable: a replica keeps serving
        // its index then, and stays in the load balancer.
        let head = match store.max_seq() {
            Ok(seq) => Ok(seq),
            Err(e) if store.is_shared() && e.is_unavailable() => {
                tracing::warn!(error = %e, "status: the store is unreachable; serving the last index");
                Err(true)
            }
            Err(e) => return Err(format!("store: {e}")),
        };
        let probe = SearchRequest {
            limit: 1,
            ..SearchRequest::default()
        };
        index
            .search(&probe, today_in_italy())
            .map_err(|e| format!("index: {e}"))?;
        Ok((index.num_docs(), head))
    })
    .await;
    match check {
        Ok(Ok((docs, head))) => {
            let applied = state.index.last_applied_seq();
            let (detail, store_state, lag) = match head {
                Ok(head) => {
                    let lag = head.saturating_sub(applied);
                    (
                        format!("Snodo is up; {docs} records searchable; the index is {lag} changes behind the store."),
                        "ok",
                        Some(lag),
                    )
                }
                Err(_) => (
                    format!("Snodo is up; {docs} records searchable; the store is unreachable, so the index may be behind it."),
                    "unreachable",
                    None,
                ),
            };
            let body = serde_json::json!({
                "type": "about:blank",
                "title": "OK",
                "status": 200,
                "detail": detail,
                "records": docs,
                "store": store_state,
                "index_applied_seq": applied,
                "index_lag_changes": lag,
            });
            let mut r = (StatusCode::OK, body.to_string()).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(error::PROBLEM_JSON),
            );
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "status check failed");
            problem_response(
                StatusCode::SERVICE_UNAVAILABLE,
                Some("The store or the index cannot answer.".into()),
                None,
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "status check panicked");
            problem_response(
                StatusCode::SERVICE_UNAVAILABLE,
                Some("The status check failed.".into()),
                None,
            )
        }
    }
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    let Some(render) = &state.render_metrics else {
        return problem_response(
            StatusCode::NOT_FOUND,
            Some("metrics are not enabled in this process".into()),
            None,
        );
    };
    // how far the index is behind the store, as of this scrape
    let store = state.store.clone();
    if let Ok(Ok(max)) = tokio::task::spawn_blocking(move || store.max_seq()).await {
        let applied = state.index.last_applied_seq();
        metrics::gauge!("snodo_index_lag_changes").set(max.saturating_sub(applied) as f64);
        metrics::gauge!("snodo_index_applied_seq").set(applied as f64);
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        render(),
    )
        .into_response()
}

/// Describes the API's metrics (`# HELP` lines); call once after installing a recorder.
pub fn describe_metrics() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "snodo_http_requests_total",
        "Requests answered, by route (the path template; `unmatched` for unknown paths and requests refused before routing), method and status"
    );
    describe_histogram!(
        "snodo_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer a request, up to its headers (streamed bodies excluded), by route"
    );
    describe_counter!(
        "snodo_http_rate_limited_total",
        "Requests refused with 429 because their client went over its budget"
    );
    describe_counter!(
        "snodo_http_timeouts_total",
        "Requests whose handler ran out of time (answered 503)"
    );
    describe_histogram!(
        "snodo_search_duration_seconds",
        Unit::Seconds,
        "Time the index took to answer a search (API, page and feeds)"
    );
    describe_counter!(
        "snodo_search_cache_total",
        "Searches answered from memory (outcome=hit) or by the index (outcome=miss)"
    );
    describe_counter!(
        "snodo_exports_total",
        "CSV and JSONL exports served to the end"
    );
    describe_counter!("snodo_feed_meetings_total", "Calendars of meetings served");
    describe_gauge!(
        "snodo_index_lag_changes",
        "Changes committed to the store that the search index has not applied yet"
    );
    describe_gauge!(
        "snodo_index_applied_seq",
        "Sequence number of the last store change the search index applied"
    );
}

/// Hands the route template a request matched to [`count_requests`], which sits outside routing.
async fn tag_route(req: axum::extract::Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .cloned();
    let mut resp = next.run(req).await;
    if let Some(r) = route {
        resp.extensions_mut().insert(r);
    }
    resp
}

/// Counts and times every answer by route, method and status: refusals by the guard and unknown
/// paths included (as `unmatched`), so a flood of 404s or 413s shows too.
async fn count_requests(req: axum::extract::Request, next: Next) -> Response {
    let method: &'static str = match *req.method() {
        axum::http::Method::GET => "GET",
        axum::http::Method::HEAD => "HEAD",
        axum::http::Method::POST => "POST",
        axum::http::Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let started = Instant::now();
    let resp = next.run(req).await;
    let route = resp
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    metrics::histogram!("snodo_http_request_duration_seconds", "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!(
        "snodo_http_requests_total",
        "route" => route,
        "method" => method,
        "status" => resp.status().as_u16().to_string()
    )
    .increment(1);
    resp
}

/// The page's typeface, shipped with the binary (`assets/fonts/README.md`). The version is in
/// the path, so a year of caching is safe.
const FONTS: [(&str, &[u8]); 6] = [
    (
        "titillium-web-latin-400-normal.woff2",
        include_bytes!("../assets/fonts/titillium-web-latin-400-normal.woff2"),
    ),
    (
        "titillium-web-latin-600-normal.woff2",
        include_bytes!("../assets/fonts/titillium-web-latin-600-normal.woff2"),
    ),
    (
        "titillium-web-latin-700-normal.woff2",
        include_bytes!("../assets/fonts/titillium-web-latin-700-normal.woff2"),
    ),
    (
        "titillium-web-latin-ext-400-normal.woff2",
        include_bytes!("../assets/fonts/titillium-web-latin-ext-400-normal.woff2"),
    ),
    (
        "titillium-web-latin-ext-600-normal.woff2",
        include_bytes!("../assets/fonts/titillium-web-latin-ext-600-normal.woff2"),
    ),
    (
        "titillium-web-latin-ext-700-normal.woff2",
        include_bytes!("../assets/fonts/titillium-web-latin-ext-700-normal.woff2"),
    ),
];

async fn font(ApiPath(file): ApiPath<String>) -> Response {
    let Some((_, bytes)) = FONTS.iter().find(|(name, _)| *name == file) else {
        return ApiError::NotFound(format!("no font `{file}`")).into_response();
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("font/woff2")),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        *bytes,
    )
        .into_response()
}

async fn catalog_ttl(
    state: State<AppState>,
    raw: RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    catalog_answer(
        state,
        raw,
        headers,
        "text/turtle; charset=utf-8",
        catalog::turtle,
    )
    .await
}

async fn catalog_jsonld(
    state: State<AppState>,
    raw: RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    catalog_answer(state, raw, headers, "application/ld+json", catalog::jsonld).await
}

/// The DCAT-AP_IT catalogue: the whole hub and each configured source as datasets.
async fn catalog_answer(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    content_type: &'static str,
    write: fn(&[oxrdf::Triple]) -> std::io::Result<Vec<u8>>,
) -> Result<Response, ApiError> {
    Params::parse(raw.as_deref(), &[])?;
    // A configured catalogue always has the public address (the configuration requires it);
    // `snodo demo`'s is named after the address it was asked at.
    let base = state.public_url.clone().or_else(|| {
        headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
            })
            .map(|h| format!("http://{h}"))
    });
    let (Some(publisher), Some(base)) = (state.catalog.clone(), base) else {
        return Err(ApiError::NotFound(
            "this hub publishes no DCAT-AP_IT catalogue: its operator has not named the publishing administration ([catalog] publisher_name, publisher_id, contact_email, and [server] public_url)".into(),
        ));
    };
    let store = state.store.clone();
    let stored = tokio::task::spawn_blocking(move || store.sources()).await??;
    let entries: Vec<catalog::SourceEntry> = state
        .sources
        .iter()
        .filter(|m| m.enabled)
        .map(|m| {
            let st = stored.iter().find(|s| s.id == m.id);
            catalog::SourceEntry {
                id: m.id.clone(),
                name: m.name.clone(),
                url: m.url.clone(),
                licence: m.licence,
                update_every: m.update_every,
                last_success: st.and_then(|s| s.last_success_at),
                records: st.map_or(0, |s| s.records),
            }
        })
        .collect();
    let base = base.trim_end_matches('/').to_owned();
    let graph = catalog::build(&base, &publisher, &entries, today_in_italy())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let body = write(&graph).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        body,
    )
        .into_response())
}

/// The current script, for embeds that follow upgrades.
async fn widget_js() -> Response {
    script_response(widget::current().body, "public, max-age=300")
}

/// One exact version, for embeds pinned by an integrity hash: it never changes, so it is cached
/// for a year.
async fn widget_pinned(ApiPath(file): ApiPath<String>) -> Response {
    match widget::find(&file) {
        Some(script) => script_response(script.body, "public, max-age=31536000, immutable"),
        None => ApiError::NotFound(format!(
            "no widget version `{file}`; the current one is /widget/{}",
            widget::current().file
        ))
        .into_response(),
    }
}

fn script_response(body: &'static str, cache: &'static str) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        body,
    )
        .into_response()
}

async fn home_it(state: State<AppState>, raw: RawQuery) -> Response {
    home(state, raw, page::Lang::It).await
}

async fn home_en(state: State<AppState>, raw: RawQuery) -> Response {
    home(state, raw, page::Lang::En).await
}

/// What the home page shows whatever was asked: the counts by status, the map and the sources.
pub struct HomeOverview {
    status_counts: std::collections::BTreeMap<String, u64>,
    map: page::MapCounts,
    sources: Vec<snodo_store::SourceStatus>,
}

/// The home page's overview, searched side by side: three searches over every record (the
/// map's counts by comune are most of a view's cost at 1M records) and the sources counted.
async fn overview(state: &AppState, today: chrono::NaiveDate) -> Result<HomeOverview, ApiError> {
    let all = run_search(
        state,
        SearchRequest {
            limit: 0,
            ..SearchRequest::default()
        },
        today,
    );
    let open = run_search(
        state,
        SearchRequest {
            limit: 0,
            status: Some(snodo_model::Status::Open),
            place_facets: true,
            ..SearchRequest::default()
        },
        today,
    );
    let national = run_search(
        state,
        SearchRequest {
            limit: 0,
            status: Some(snodo_model::Status::Open),
            place: Some(snodo_model::Territory {
                national: true,
                ..Default::default()
            }),
            ..SearchRequest::default()
        },
        today,
    );
    let store = state.store.clone();
    let sources =
        async { Ok::<_, ApiError>(tokio::task::spawn_blocking(move || store.sources()).await??) };
    let (all, open, national, sources) = tokio::try_join!(all, open, national, sources)?;
    let facets = open.facets;
    Ok(HomeOverview {
        status_counts: all.facets.status,
        map: page::MapCounts {
            region: facets.region,
            province: facets.province,
            comune: facets.comune,
            national: national.total,
        },
        sources,
    })
}

/// The server-rendered search page: works before (and without) JavaScript.
async fn home(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    lang: page::Lang,
) -> Response {
    // One day for the results, the status counts and the map.
    let today = today_in_italy();
    let mut error = None;
    let params = Params::parse(raw.as_deref(), SEARCH_PARAMS);
    let pairs = params.as_ref().map(Params::pairs).unwrap_or_default();
    let mut results = None;
    let mut focus = None;
    match params.and_then(|p| search_request(&p).map(|r| (p, r))) {
        Ok((p, mut req)) => {
            focus = req.place.clone();
            let filtered = [
                "q", "kind", "status", "region", "province", "comune", "place", "method", "topic",
                "open_on", "from", "to", "source",
            ]
            .iter()
            .any(|k| p.get(k).is_some());
            if filtered {
                if req.lang.is_none() {
                    req.lang = Some(lang.code().to_owned());
                }
                match run_search(&state, req, today).await {
                    Ok(r) => results = Some(r),
                    Err(e) => error = Some(e.to_string()),
                }
            }
        }
        Err(e) => error = Some(e.to_string()),
    }
    let overview = match state
        .home_overview
        .get((state.index.version(), today), || overview(&state, today))
        .await
    {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let html = page::render_home(&page::HomeView {
        lang,
        params: &pairs,
        results: results.as_ref(),
        status_counts: &overview.status_counts,
        map: &overview.map,
        focus: focus.as_ref(),
        sources: &overview.sources,
        error: error.as_deref(),
    });
    let code = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (code, Html(html)).into_response()
}

async fn embed_it(state: State<AppState>, raw: RawQuery) -> Html<String> {
    embed(state, raw, page::Lang::It)
}

async fn embed_en(state: State<AppState>, raw: RawQuery) -> Html<String> {
    embed(state, raw, page::Lang::En)
}

/// The embed page, its form filled from the query string when it was submitted without
/// JavaScript. A `place` that resolves becomes the attribute of its level (`comune="037011"`), so
/// the snippet never depends on how a name is spelt.
fn embed(State(state): State<AppState>, RawQuery(raw): RawQuery, lang: page::Lang) -> Html<String> {
    const KEYS: &[&str] = &[
        "lang",
        "region",
        "province",
        "comune",
        "place",
        "scope",
        "kind",
        "status",
        "topic",
        "method",
        "source",
        "limit",
        "placeholder",
        "compact",
    ];
    let mut params: Vec<(String, String)> =
        url::form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
            .filter(|(k, v)| KEYS.contains(&k.as_ref()) && !v.trim().is_empty())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    if let Some(i) = params.iter().position(|(k, _)| k == "place") {
        if let Some(p) = snodo_model::territory::resolve_place(&params[i].1)
            .ok()
            .as_ref()
            .and_then(dto::PlaceResponse::of)
            .filter(|p| p.level != "national")
        {
            params[i] = (p.level, p.code);
        }
    }
    Html(page::render_embed_with(
        lang,
        state.public_url.as_deref().unwrap_or(""),
        &params,
    ))
}

/// Unused facet maps stay empty rather than absent, so clients can index them blindly.
pub fn empty_facets() -> BTreeMap<String, u64> {
    BTreeMap::new()
}

#[allow(dead_code)]
const _: &str = PROBLEM_JSON;

#[cfg(test)]
mod tests {
    use super::*;

    /// The conventions of the Italian interoperability model that the description must show.
    #[test]
    fn openapi_follows_modi_conventions() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let version = doc["info"]["version"].as_str().unwrap();
        let parts: Vec<&str> = version.split('.').collect();
        assert_eq!(parts.len(), 3, "{version}");
        assert!(parts.iter().all(|p| p.parse::<u32>().is_ok()), "{version}");
        assert!(doc["info"]["x-api-id"].is_string() && doc["info"]["x-summary"].is_string());
        assert!(doc["info"]["contact"].is_object() && doc["info"]["license"].is_object());
        let paths = doc["paths"].as_object().unwrap();
        for route in [
            "/api/v1/search",
            "/api/v1/records/{id}",
            "/api/v1/sources",
            "/api/v1/sources/{id}/runs",
            "/api/v1/sources/{id}/harvest",
            "/api/v1/export.csv",
            "/api/v1/export.jsonl",
            "/feeds/open.atom",
            "/feeds/meetings.ics",
            "/status",
        ] {
            assert!(paths.contains_key(route), "{route} undocumented");
        }
        for (path, item) in paths {
            assert!(
                path.starts_with("/api/v1/") || path.starts_with("/feeds/") || path == "/status",
                "{path}: the version belongs in the path"
            );
            for (method, op) in item.as_object().unwrap() {
                let answers = op["responses"].as_object().unwrap();
                for (code, answer) in answers {
                    if code.starts_with('4') || code.starts_with('5') {
                        assert!(
                            answer["content"]["application/problem+json"].is_object(),
                            "{method} {path} {code} is not problem+json"
                        );
                    }
                    // Oversize requests are refused before they are counted.
                    if path != "/status" && code != "413" && code != "414" {
                        assert!(
                            answer["headers"]["X-RateLimit-Remaining"].is_object(),
                            "{method} {path} {code} lacks the rate-limit headers"
                        );
                    }
                }
                if path != "/status" {
                    assert!(answers.contains_key("429"), "{method} {path}");
                    assert!(
                        answers["429"]["headers"]["Retry-After"].is_object(),
                        "{method} {path}"
                    );
                }
            }
        }
        for cached in ["/api/v1/search", "/api/v1/records/{id}"] {
            let get = &paths[cached]["get"];
            assert!(get["responses"]["304"].is_object(), "{cached}");
            assert!(
                get["responses"]["200"]["headers"]["ETag"].is_object(),
                "{cached}"
            );
            assert!(
                get["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["name"] == "If-None-Match" && p["in"] == "header"),
                "{cached}"
            );
        }
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }
}
