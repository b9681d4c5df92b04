//! Snodo's HTTP surface (axum): the JSON search API, records, sources and their runs, OpenAPI,
//! `/status`, `/metrics`, the widget's script and the public search page.
//!
//! It talks to the store and the index only through their public types, runs their blocking work
//! off the async threads, and maps every error to `application/problem+json` in one place
//! ([`error`]). It does not harvest: the admin trigger goes through the [`HarvestTrigger`] trait
//! that the binary implements.

pub mod dto;
pub mod error;
pub mod page;
pub mod params;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, RawQuery, State};
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
use crate::error::{problem_response, ApiError, PROBLEM_JSON};
use crate::params::{search_request, Params, SEARCH_PARAMS};

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
}

/// Per-source facts from the configuration that the store does not hold.
#[derive(Debug, Clone)]
pub struct SourceMeta {
    pub id: String,
    pub name: String,
    pub schedule: String,
    pub enabled: bool,
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
    pub cors_allowed_origins: Vec<String>,
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
            cors_allowed_origins: Vec::new(),
        }
    }

    fn source_name(&self, id: &str) -> Option<String> {
        self.sources
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.name.clone())
    }
}

const WIDGET_JS: &str = include_str!("../../../widget/widget.js");

/// The whole application.
pub fn router(state: AppState) -> Router {
    let cors = cors_layer(&state.cors_allowed_origins);
    let api = Router::new()
        .route("/api/v1/search", get(search))
        .route("/api/v1/records/{*id}", get(record))
        .route("/api/v1/sources", get(sources))
        .route("/api/v1/sources/{id}/runs", get(runs))
        .route("/api/v1/sources/{id}/harvest", post(trigger_harvest))
        .route("/api/v1/openapi.json", get(openapi))
        .layer(cors);
    Router::new()
        .merge(api)
        .route("/status", get(status))
        .route("/metrics", get(metrics_text))
        .route("/widget.js", get(widget_js))
        .route("/", get(home_it))
        .route("/en/", get(home_en))
        .route(
            "/en",
            get(|| async { axum::response::Redirect::permanent("/en/") }),
        )
        .route("/embed", get(embed_it))
        .route("/en/embed", get(embed_en))
        .fallback(not_found)
        .layer(middleware::from_fn(common_headers))
        .with_state(state)
}

fn cors_layer(origins: &[String]) -> CorsLayer {
    let base = CorsLayer::new()
        .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
        .allow_headers([header::CONTENT_TYPE, header::ACCEPT])
        .expose_headers([header::RETRY_AFTER])
        .max_age(Duration::from_secs(3600));
    if origins.iter().any(|o| o == "*") {
        base.allow_origin(AllowOrigin::any())
    } else {
        let list: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        base.allow_origin(AllowOrigin::list(list))
    }
}

/// Headers every answer carries; a strict CSP on HTML pages.
async fn common_headers(req: axum::extract::Request, next: Next) -> Response {
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
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'self'; form-action 'self'",
            ),
        );
        h.insert("x-frame-options", HeaderValue::from_static("SAMEORIGIN"));
    }
    resp
}

async fn not_found() -> Response {
    problem_response(
        StatusCode::NOT_FOUND,
        Some("No such page or endpoint; see /api/v1/openapi.json".into()),
        None,
    )
}

/// Runs a search off the async threads and times it.
async fn run_search(state: &AppState, req: SearchRequest) -> Result<SearchResults, ApiError> {
    let index = state.index.clone();
    let started = Instant::now();
    let results =
        tokio::task::spawn_blocking(move || index.search(&req, today_in_italy())).await??;
    metrics::histogram!("snodo_search_duration_seconds").record(started.elapsed().as_secs_f64());
    Ok(results)
}

#[utoipa::path(get, path = "/api/v1/search", tag = "search",
    params(SearchQueryDoc),
    responses(
        (status = 200, description = "Matching records, one page, with facet counts over all matches", body = SearchResponse),
        (status = 400, description = "A parameter is invalid; `parameter` names it", body = error::Problem, content_type = "application/problem+json"),
    ))]
async fn search(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(raw.as_deref(), SEARCH_PARAMS)?;
    let req = search_request(&params)?;
    let (limit, offset) = (req.limit, req.offset);
    let results = run_search(&state, req).await?;
    let body = SearchResponse::from_results(results, limit, offset, |id| state.source_name(id));
    Ok(cacheable(Json(body).into_response(), 30))
}

fn cacheable(mut resp: Response, secs: u32) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={secs}")) {
        resp.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    resp
}

#[utoipa::path(get, path = "/api/v1/records/{id}", tag = "records",
    params(("id" = String, Path, description = "A record id: `source:kind:upstream_id`")),
    responses(
        (status = 200, description = "The record in every locale, with its harvest history", body = RecordResponse),
        (status = 404, description = "No such record", body = error::Problem, content_type = "application/problem+json"),
    ))]
async fn record(
    State(state): State<AppState>,
    Path(id): Path<String>,
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
        .ok_or_else(|| ApiError::NotFound(format!("no record `{id}`")))?;
    let source_name = state.source_name(&stored.record.id.source);
    Ok(cacheable(
        Json(RecordResponse::new(stored, source_name, today_in_italy())).into_response(),
        60,
    ))
}

#[utoipa::path(get, path = "/api/v1/sources", tag = "sources",
    responses((status = 200, description = "Every source with its last run and record count", body = [SourceResponse])))]
async fn sources(State(state): State<AppState>) -> Result<Json<Vec<SourceResponse>>, ApiError> {
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
    params(("id" = String, Path, description = "Source id"),
           ("limit" = Option<u32>, Query, description = "1 to 100, default 20"),
           ("offset" = Option<u32>, Query, description = "default 0")),
    responses(
        (status = 200, description = "Run history, newest first", body = RunsResponse),
        (status = 404, description = "No such source", body = error::Problem, content_type = "application/problem+json"),
    ))]
async fn runs(
    State(state): State<AppState>,
    Path(id): Path<String>,
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
        (status = 409, description = "The source is already being harvested", body = error::Problem, content_type = "application/problem+json"),
    ))]
async fn trigger_harvest(
    State(state): State<AppState>,
    Path(id): Path<String>,
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
    }
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
    info(title = "Snodo API", version = "1.0.0",
        description = "Search every participatory process, assembly and consultation harvested from Italian participation platforms.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later")),
    paths(search, record, sources, runs, trigger_harvest, status),
    components(schemas(SearchResponse, SearchItem, FacetsResponse, RecordResponse, SourceResponse, RunResponse, RunsResponse, error::Problem)),
    modifiers(&BearerAuth),
    tags((name = "search"), (name = "records"), (name = "sources"), (name = "operations"))
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
    let check = tokio::task::spawn_blocking(move || -> Result<u64, String> {
        store.max_seq().map_err(|e| format!("store: {e}"))?;
        let probe = SearchRequest {
            limit: 1,
            ..SearchRequest::default()
        };
        index
            .search(&probe, today_in_italy())
            .map_err(|e| format!("index: {e}"))?;
        Ok(index.num_docs())
    })
    .await;
    match check {
        Ok(Ok(docs)) => {
            let mut r = problem_response(
                StatusCode::OK,
                Some(format!("Snodo is up; {docs} records searchable.")),
                None,
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
    match &state.render_metrics {
        Some(render) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            )],
            render(),
        )
            .into_response(),
        None => problem_response(
            StatusCode::NOT_FOUND,
            Some("metrics are not enabled in this process".into()),
            None,
        ),
    }
}

async fn widget_js() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
            (
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            ),
        ],
        WIDGET_JS,
    )
        .into_response()
}

async fn home_it(state: State<AppState>, raw: RawQuery) -> Response {
    home(state, raw, page::Lang::It).await
}

async fn home_en(state: State<AppState>, raw: RawQuery) -> Response {
    home(state, raw, page::Lang::En).await
}

/// The server-rendered search page: works before (and without) JavaScript.
async fn home(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    lang: page::Lang,
) -> Response {
    let mut error = None;
    let params = Params::parse(raw.as_deref(), SEARCH_PARAMS);
    let pairs = params.as_ref().map(Params::pairs).unwrap_or_default();
    let mut results = None;
    match params.and_then(|p| search_request(&p).map(|r| (p, r))) {
        Ok((p, mut req)) => {
            let filtered = ["q", "kind", "status", "region", "source"]
                .iter()
                .any(|k| p.get(k).is_some());
            if filtered {
                if req.lang.is_none() {
                    req.lang = Some(lang.code().to_owned());
                }
                match run_search(&state, req).await {
                    Ok(r) => results = Some(r),
                    Err(e) => error = Some(e.to_string()),
                }
            }
        }
        Err(e) => error = Some(e.to_string()),
    }
    let overview = async {
        let all = run_search(
            &state,
            SearchRequest {
                limit: 1,
                ..SearchRequest::default()
            },
        )
        .await?;
        let open = run_search(
            &state,
            SearchRequest {
                limit: 1,
                status: Some(snodo_model::Status::Open),
                ..SearchRequest::default()
            },
        )
        .await?;
        let store = state.store.clone();
        let sources = tokio::task::spawn_blocking(move || store.sources()).await??;
        Ok::<_, ApiError>((all.facets.status, open.facets.region, sources))
    };
    let (status_counts, open_by_region, sources) = match overview.await {
        Ok(v) => v,
        Err(e) => {
            return e.into_response();
        }
    };
    let html = page::render_home(&page::HomeView {
        lang,
        params: &pairs,
        results: results.as_ref(),
        status_counts: &status_counts,
        open_by_region: &open_by_region,
        sources: &sources,
        error: error.as_deref(),
    });
    let code = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (code, Html(html)).into_response()
}

async fn embed_it(State(state): State<AppState>) -> Html<String> {
    Html(page::render_embed(
        page::Lang::It,
        state.public_url.as_deref().unwrap_or(""),
    ))
}

async fn embed_en(State(state): State<AppState>) -> Html<String> {
    Html(page::render_embed(
        page::Lang::En,
        state.public_url.as_deref().unwrap_or(""),
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

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }
}
