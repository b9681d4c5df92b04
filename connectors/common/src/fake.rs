//! A fake web site on loopback for tests (feature `fake`): pages by path with a content type,
//! optional `ETag` / `Last-Modified` (a matching conditional request gets a 304), a status to
//! answer, and a log of the requests received. Pages can be changed while it runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, Request, Response, StatusCode};

/// A store holding `records`, as the harvester gives connectors
/// ([`snodo_connector::HarvestContext::with_stored`]): it counts which of some ids it has.
pub fn store_of(records: &[snodo_model::Record]) -> snodo_connector::StoredFn {
    let held: std::collections::HashSet<snodo_model::RecordId> =
        records.iter().map(|r| r.id.clone()).collect();
    Arc::new(move |ids| {
        let n = ids.iter().filter(|id| held.contains(id)).count();
        Box::pin(async move { Ok(n) })
    })
}

/// One page the site serves.
#[derive(Debug, Clone)]
pub struct FakePage {
    pub status: u16,
    pub content_type: String,
    pub body: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub headers: Vec<(String, String)>,
}

impl FakePage {
    pub fn new(content_type: &str, body: impl Into<String>) -> FakePage {
        FakePage {
            status: 200,
            content_type: content_type.to_owned(),
            body: body.into(),
            etag: None,
            last_modified: None,
            headers: Vec::new(),
        }
    }

    pub fn html(body: impl Into<String>) -> FakePage {
        FakePage::new("text/html; charset=utf-8", body)
    }

    pub fn json(body: impl Into<String>) -> FakePage {
        FakePage::new("application/json", body)
    }

    pub fn with_etag(mut self, etag: &str) -> FakePage {
        self.etag = Some(etag.to_owned());
        self
    }

    pub fn with_header(mut self, name: &str, value: &str) -> FakePage {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn with_status(mut self, status: u16) -> FakePage {
        self.status = status;
        self
    }
}

/// A request the site received.
#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    /// Path and query.
    pub path: String,
    pub status: u16,
    pub if_none_match: Option<String>,
    pub body: String,
}

#[derive(Default)]
struct State {
    pages: HashMap<String, FakePage>,
    /// Handlers for POSTs by path (GraphQL fakes): request body in, (status, JSON) out.
    posts: HashMap<String, PostHandler>,
    log: Vec<Logged>,
}

type PostHandler = Arc<dyn Fn(&str) -> (u16, String) + Send + Sync>;

/// The running site. Dropping it stops the server.
pub struct FakeSite {
    pub base: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeSite {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeSite {
    pub async fn start() -> FakeSite {
        let state = Arc::new(Mutex::new(State::default()));
        let s = state.clone();
        let app = axum::Router::new().fallback(move |req: Request<Body>| {
            let s = s.clone();
            async move { serve(&s, req).await }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeSite {
            base: format!("http://{addr}"),
            state,
            task,
        }
    }

    /// The absolute URL of a path on the site.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Serves `page` at `path` (path and query, e.g. `/list?page=2`), replacing what was there.
    pub fn set(&self, path: &str, page: FakePage) {
        self.lock().pages.insert(path.to_owned(), page);
    }

    pub fn remove(&self, path: &str) {
        self.lock().pages.remove(path);
    }

    /// Answers POSTs to `path` with `f(body)`.
    pub fn on_post(&self, path: &str, f: impl Fn(&str) -> (u16, String) + Send + Sync + 'static) {
        self.lock().posts.insert(path.to_owned(), Arc::new(f));
    }

    pub fn log(&self) -> Vec<Logged> {
        self.lock().log.clone()
    }

    pub fn clear_log(&self) {
        self.lock().log.clear();
    }

    /// Requests received for `path` (exact path and query).
    pub fn hits(&self, path: &str) -> Vec<Logged> {
        self.lock()
            .log
            .iter()
            .filter(|l| l.path == path)
            .cloned()
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn serve(state: &Arc<Mutex<State>>, req: Request<Body>) -> Response<Body> {
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    let headers: HeaderMap = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let inm = headers
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let ims = headers
        .get("if-modified-since")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
    let (status, builder_body) = if method == "POST" {
        match st.posts.get(&path).cloned() {
            Some(h) => {
                let (code, json) = h(&body);
                (
                    code,
                    Response::builder()
                        .status(code)
                        .header("content-type", "application/json")
                        .body(Body::from(json)),
                )
            }
            None => (404, Response::builder().status(404).body(Body::empty())),
        }
    } else {
        match st.pages.get(&path) {
            None => (
                404,
                Response::builder()
                    .status(404)
                    .header("content-type", "text/html")
                    .body(Body::from("<h1>Not found</h1>")),
            ),
            Some(p) => {
                let not_modified = (p.etag.is_some() && inm.is_some() && p.etag == inm)
                    || (p.last_modified.is_some() && ims.is_some() && p.last_modified == ims);
                let code = if not_modified { 304 } else { p.status };
                let mut b = Response::builder()
                    .status(StatusCode::from_u16(code).unwrap_or(StatusCode::OK))
                    .header("content-type", p.content_type.as_str());
                if let Some(e) = &p.etag {
                    b = b.header("etag", e.as_str());
                }
                if let Some(m) = &p.last_modified {
                    b = b.header("last-modified", m.as_str());
                }
                for (k, v) in &p.headers {
                    b = b.header(k.as_str(), v.as_str());
                }
                let body = if not_modified {
                    Body::empty()
                } else {
                    Body::from(p.body.clone())
                };
                (code, b.body(body))
            }
        }
    };
    st.log.push(Logged {
        method,
        path,
        status,
        if_none_match: inm,
        body,
    });
    builder_body.unwrap_or_else(|_| Response::new(Body::empty()))
}
