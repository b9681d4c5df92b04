//! Any bytes as the request target (path and query) of a GET, through the whole router with its
//! layers: never a 5xx or a panic, and every error a client can cause is
//! `application/problem+json` (the public page's own error pages excepted, which are HTML).
//! Bytes a client would have to escape (controls, spaces, non-ASCII: raw, non-UTF-8 paths) are
//! percent-encoded as a client sends them; everything else, malformed `%` escapes included, goes
//! as it is.
#![no_main]

use std::sync::{Arc, LazyLock};

use axum::body::Body;
use axum::http::{header, Request};
use libfuzzer_sys::fuzz_target;
use snodo_api::{router, AppState};
use snodo_index::Index;
use snodo_store::Store;
use tower::ServiceExt;

static APP: LazyLock<(tokio::runtime::Runtime, axum::Router)> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let store = Store::open_in_memory().expect("an in-memory store");
    let index = Index::open_in_ram().expect("an in-RAM index");
    let state = AppState::new(Arc::new(store), Arc::new(index));
    (runtime, router(state))
});

fn target(data: &[u8]) -> String {
    let mut t = String::with_capacity(data.len() * 3 + 1);
    if data.first() != Some(&b'/') {
        t.push('/');
    }
    for &b in data {
        if b.is_ascii_graphic() {
            t.push(b as char);
        } else {
            t.push_str(&format!("%{b:02X}"));
        }
    }
    t
}

fuzz_target!(|data: &[u8]| {
    let uri = target(data);
    // A target the `http` crate cannot hold never reaches a handler: hyper refuses it first.
    let Ok(req) = Request::get(uri.as_str()).body(Body::empty()) else {
        return;
    };
    let (runtime, app) = &*APP;
    let resp = runtime
        .block_on(app.clone().oneshot(req))
        .expect("the router is infallible");
    let status = resp.status();
    assert!(!status.is_server_error(), "{uri:?} answered {status}");
    if status.is_client_error() {
        let ct = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            ct.starts_with("application/problem+json") || ct.starts_with("text/html"),
            "{uri:?} answered {status} as {ct:?}"
        );
    }
});
