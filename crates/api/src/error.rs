//! The one place where errors become HTTP answers: RFC 9457 `application/problem+json`.
//! Client mistakes get a 4xx that names the parameter and why; internal errors get a generic body
//! and a log line with the detail, never the detail itself.

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type; `about:blank` when the status says it all.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The offending query parameter, when one is to blame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{param}: {reason}")]
    BadParam { param: String, reason: String },
    /// The path itself is malformed (bad UTF-8 once percent-decoded, a bad escape).
    #[error("{0}")]
    BadPath(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad(param: &str, reason: impl Into<String>) -> Self {
        ApiError::BadParam {
            param: param.to_owned(),
            reason: reason.into(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadParam { .. } | ApiError::BadPath(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

pub fn problem_response(
    status: StatusCode,
    detail: Option<String>,
    parameter: Option<String>,
) -> Response {
    let body = Problem {
        kind: "about:blank".into(),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail,
        parameter,
    };
    // `<`, `>` and `&` only occur inside JSON strings, so escaping them there keeps the value and
    // means an echoed parameter never carries markup, even to a client that sniffs.
    let json = serde_json::to_string(&body)
        .unwrap_or_else(|_| {
            format!(
                "{{\"type\":\"about:blank\",\"status\":{}}}",
                status.as_u16()
            )
        })
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    let mut resp = (status, json).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    resp
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match self {
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error answering a request");
                problem_response(
                    status,
                    Some("Something went wrong on our side; it has been logged.".into()),
                    None,
                )
            }
            ApiError::BadParam { param, reason } => {
                problem_response(status, Some(format!("{param}: {reason}")), Some(param))
            }
            ApiError::Unauthorized(d) => {
                let mut r = problem_response(status, Some(d), None);
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                r
            }
            other => problem_response(status, Some(other.to_string()), None),
        }
    }
}

/// The safety net under [`ApiError`]: an error answer that some extractor or layer wrote in
/// another format (axum's plain-text rejections) becomes a problem with the same status and
/// headers (`Allow`, `Retry-After`…). The public page's HTML error pages stay HTML.
pub async fn problems_only(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with(PROBLEM_JSON) || content_type.starts_with("text/html") {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .unwrap_or_default();
    let text: String = text.trim().chars().take(300).collect();
    tracing::warn!(status = status.as_u16(), answer = %text, "an error answer bypassed the API's error type; sent as a problem");
    let detail = if status.is_server_error() || text.is_empty() {
        None
    } else {
        Some(text)
    };
    let mut fixed = problem_response(status, detail, None);
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    fixed.headers_mut().extend(parts.headers);
    fixed
}

/// axum's `Path`, with its rejections as problems: `/api/v1/records/%FF%FE` gets a 400 that says
/// what to change instead of axum's plain-text answer.
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(ApiPath(v)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                Err(ApiError::BadPath(format!(
                    "the path is not valid here ({}); a path segment must be UTF-8, percent-encoded (`%C3%A8` for `è`)",
                    e.body_text().trim_start_matches("Invalid URL: ")
                )))
            }
            Err(other) => Err(ApiError::Internal(format!(
                "path parameters unavailable: {}",
                other.body_text()
            ))),
        }
    }
}

impl From<snodo_store::StoreError> for ApiError {
    fn from(e: snodo_store::StoreError) -> Self {
        // The database down (PostgreSQL restarting, a partition) is not a bug: search still
        // answers from the index, and what needs the store says "try again" with a 503.
        if e.is_unavailable() {
            tracing::warn!(error = %e, "the store is unreachable");
            return ApiError::Unavailable(
                "The catalogue database is unreachable for the moment; search still works. Try again shortly."
                    .into(),
            );
        }
        ApiError::Internal(format!("store: {e}"))
    }
}

impl From<snodo_index::IndexError> for ApiError {
    fn from(e: snodo_index::IndexError) -> Self {
        match e {
            snodo_index::IndexError::Query { message } => ApiError::bad("q", message),
            other => ApiError::Internal(format!("index: {other}")),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::Internal(format!("a blocking task failed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn problems_never_carry_markup_but_keep_the_value() {
        let r = ApiError::bad("kind", "unknown kind `<script>&`").into_response();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(r.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        let body = axum::body::to_bytes(r.into_body(), 10_000).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(!text.contains('<') && !text.contains('&'), "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["detail"], "kind: unknown kind `<script>&`");
        assert_eq!(v["parameter"], "kind");
    }
}
