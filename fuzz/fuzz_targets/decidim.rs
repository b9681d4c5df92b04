//! Decidim's GraphQL answers → records, through the connector's own shapes and normalisation
//! (`snodo_decidim::normalize_nodes`): the input is `{"kind": "process"|"assembly", "spaces":
//! [listing nodes], "meetings": [meeting nodes]}`. Whatever the nodes hold, nothing panics and
//! every record passes the shared checks (valid, http(s) URLs, sanitised HTML, no tag in plain
//! text).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use snodo_model::Kind;

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    spaces: Vec<serde_json::Value>,
    #[serde(default)]
    meetings: Vec<serde_json::Value>,
}

fuzz_target!(|data: &[u8]| {
    let Ok(page) = serde_json::from_slice::<Page>(data) else {
        return;
    };
    let kind = match page.kind.as_deref() {
        Some("assembly") => Kind::Assembly,
        _ => Kind::Process,
    };
    let now = chrono::DateTime::parse_from_rfc3339("2026-05-10T12:00:00Z")
        .unwrap()
        .to_utc();
    let (records, _warnings) = snodo_decidim::normalize_nodes(
        "partecipa",
        "https://partecipa.gov.it",
        kind,
        &page.spaces,
        &page.meetings,
        now,
    );
    for r in &records {
        snodo_fuzz::check_record(r);
    }
});
