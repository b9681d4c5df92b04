//! Open data: the whole catalogue of live records as CSV and JSON Lines, each record with its
//! source's licence and attribution as the operator configured them (Snodo asserts no licence over
//! others' texts; what it writes itself is CC0), streamed from the store a chunk at a time (never
//! the whole catalogue in memory); and an Atom feed of open processes with the search filters.
//!
//! Everything written is plain text escaped for its format: no harvested markup is ever active
//! (the sanitised `description_html` is left out of exports, the plain `description` is kept),
//! CSV cells that a spreadsheet would run as a formula are prefixed with `'`, and Atom text is
//! XML-escaped with only http(s) links.

use futures_util::StreamExt as _;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use snodo_index::{SearchResults, Sort};
use snodo_model::{territory, today_in_italy, Record, Status};
use snodo_store::Store;
use std::sync::Arc;

use crate::error::ApiError;

/// Source id → credit and licence.
pub use crate::credit::Credits as SourceNames;
use crate::credit::SourceCredit;

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Jsonl,
}

pub const CSV_COLUMNS: &[&str] = &[
    "id",
    "source",
    "source_name",
    "source_url",
    "kind",
    "status",
    "lang",
    "title",
    "summary",
    "url",
    "start_date",
    "end_date",
    "region",
    "region_name",
    "comune",
    "comune_name",
    "scope_name",
    "promoter",
    "topics",
    "methods",
    "image_url",
    "updated_at",
    "licence",
    "licence_url",
    "attribution",
];

/// One CSV cell: always quoted, quotes doubled, formula starters neutralised.
fn csv_cell(out: &mut String, v: &str) {
    out.push('"');
    if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        out.push('\'');
    }
    for c in v.chars() {
        match c {
            '"' => out.push_str("\"\""),
            // Stray control characters (other than line breaks and tabs) never reach a file.
            c if c.is_control() && !matches!(c, '\n' | '\r' | '\t') => {}
            c => out.push(c),
        }
    }
    out.push('"');
}

fn csv_row(cells: &[&str]) -> String {
    let mut line = String::new();
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        csv_cell(&mut line, c);
    }
    line.push_str("\r\n");
    line
}

pub fn csv_header() -> String {
    csv_row(CSV_COLUMNS)
}

/// One record as a CSV line, texts in `lang` (or the record's default locale).
pub fn csv_line(r: &Record, names: &SourceNames, lang: Option<&str>, today: NaiveDate) -> String {
    let credit = crate::credit::of(names, &r.id.source);
    let pick = |t: &snodo_model::LocalizedText| {
        t.pick(lang, &r.default_locale)
            .map(|(_, s)| s.to_owned())
            .unwrap_or_default()
    };
    let title_lang = r
        .title
        .pick(lang, &r.default_locale)
        .map(|(l, _)| l.to_owned())
        .unwrap_or_default();
    let topics: Vec<String> = r
        .topics
        .iter()
        .map(pick)
        .filter(|t| !t.is_empty())
        .collect();
    let region = r.territory.region.clone().unwrap_or_default();
    let comune = r.territory.comune.clone().unwrap_or_default();
    let date = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    let cells = [
        r.id.to_string(),
        r.id.source.clone(),
        credit.name.clone(),
        credit.url.clone(),
        r.id.kind.as_str().to_owned(),
        Status::from_dates(r.start_date, r.end_date, today)
            .as_str()
            .to_owned(),
        title_lang,
        pick(&r.title),
        pick(&r.summary),
        r.url.clone(),
        date(r.start_date),
        date(r.end_date),
        region.clone(),
        territory::region_name(&region)
            .map(str::to_owned)
            .unwrap_or_default(),
        comune.clone(),
        territory::comune(&comune)
            .map(|c| c.name.to_owned())
            .unwrap_or_default(),
        pick(&r.territory.scope_name),
        pick(&r.promoter),
        topics.join("; "),
        r.methods.join("; "),
        r.image_url.clone().unwrap_or_default(),
        r.updated_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
        credit.licence_id().to_owned(),
        credit.licence_url().to_owned(),
        credit.attribution(),
    ];
    let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
    csv_row(&refs)
}

/// One record as a JSON line: every field but the rich-text HTML, plus status, source name and
/// attribution.
pub fn jsonl_line(r: &Record, names: &SourceNames, today: NaiveDate) -> Result<String, ApiError> {
    let credit = crate::credit::of(names, &r.id.source);
    let mut v = serde_json::to_value(r)
        .map_err(|e| ApiError::Internal(format!("encoding record {}: {e}", r.id)))?;
    if let Some(o) = v.as_object_mut() {
        o.remove("description_html");
        o.insert("source".into(), r.id.source.clone().into());
        o.insert("kind".into(), r.id.kind.as_str().into());
        o.insert(
            "status".into(),
            Status::from_dates(r.start_date, r.end_date, today)
                .as_str()
                .into(),
        );
        o.insert("source_name".into(), credit.name.clone().into());
        o.insert("source_url".into(), credit.url.clone().into());
        o.insert("licence".into(), credit.licence_id().into());
        o.insert("licence_url".into(), credit.licence_url().into());
        o.insert("attribution".into(), credit.attribution().into());
    }
    let mut line = serde_json::to_string(&v)
        .map_err(|e| ApiError::Internal(format!("encoding record {}: {e}", r.id)))?;
    line.push('\n');
    Ok(line)
}

/// Streams every live record in `format`. The store is read on a blocking thread a chunk at a
/// time; a bounded channel keeps a slow client from buffering the catalogue in memory, and a
/// client that goes away stops the read.
pub fn stream(
    store: Arc<Store>,
    names: SourceNames,
    format: Format,
    lang: Option<String>,
    source: Option<String>,
) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    tokio::task::spawn_blocking(move || {
        let today = today_in_italy();
        let mut buf = String::new();
        if format == Format::Csv {
            buf.push('\u{feff}');
            buf.push_str(&csv_header());
        }
        let mut gone = false;
        let result = store.live_records(&mut |r| {
            if source.as_deref().is_some_and(|s| s != r.id.source) {
                return Ok(());
            }
            match format {
                Format::Csv => buf.push_str(&csv_line(&r, &names, lang.as_deref(), today)),
                Format::Jsonl => match jsonl_line(&r, &names, today) {
                    Ok(l) => buf.push_str(&l),
                    Err(e) => tracing::warn!(error = %e, "a record left out of an export"),
                },
            }
            if buf.len() >= 64 * 1024 {
                let chunk = Bytes::from(std::mem::take(&mut buf));
                if tx.blocking_send(Ok(chunk)).is_err() {
                    gone = true;
                    return Err(snodo_store::StoreError::Busy {
                        context: "streaming an export to a client that went away".into(),
                    });
                }
            }
            Ok(())
        });
        match result {
            Ok(n) => {
                if !buf.is_empty() {
                    let _ = tx.blocking_send(Ok(Bytes::from(buf)));
                }
                metrics::counter!("snodo_exports_total").increment(1);
                tracing::debug!(records = n, ?format, "export streamed");
            }
            Err(_) if gone => tracing::debug!("export abandoned by the client"),
            Err(e) => {
                tracing::error!(error = %e, "an export failed midway");
                // Breaking the body tells the client the file is incomplete.
                let _ = tx.blocking_send(Err(std::io::Error::other("export failed")));
            }
        }
    });
    // fused: the compression layer polls once more after the end
    let body = Body::from_stream(
        futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        })
        .fuse(),
    );
    let (ctype, name) = match format {
        Format::Csv => (
            "text/csv; charset=utf-8; header=present",
            "snodo-catalogue.csv",
        ),
        Format::Jsonl => ("application/jsonl; charset=utf-8", "snodo-catalogue.jsonl"),
    };
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    resp
}

fn xml(s: &str) -> String {
    let clean: String = s
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect();
    html_escape::encode_text(&clean)
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn http_url(u: &str) -> Option<&str> {
    let lower = u.trim().to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")).then_some(u.trim())
}

/// The Atom document for the open processes of a search.
pub fn atom(
    results: &SearchResults,
    self_href: &str,
    credit: impl Fn(&str) -> SourceCredit,
) -> String {
    let date_time = |d: NaiveDate| format!("{d}T00:00:00Z");
    let updated = results
        .items
        .iter()
        .filter_map(|h| h.start_date)
        .max()
        .map(date_time)
        .unwrap_or_else(|| "2000-01-01T00:00:00Z".into());
    let mut out = String::with_capacity(4096);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    out.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    out.push_str("  <title>Snodo: processi partecipativi aperti</title>\n");
    out.push_str(
        "  <subtitle>Newly opened participatory processes on Italian platforms</subtitle>\n",
    );
    out.push_str(&format!(
        "  <id>tag:snodo,2025:feeds/open:{}</id>\n",
        xml(self_href)
    ));
    out.push_str(&format!(
        "  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>\n",
        xml(self_href)
    ));
    out.push_str(&format!("  <updated>{updated}</updated>\n"));
    let meta = snodo_model::licence::METADATA;
    out.push_str(&format!(
        "  <rights>Titles and summaries belong to each entry's source, under the licence its rights say; the rest of this feed: {} ({})</rights>\n",
        meta.name, meta.url
    ));
    out.push_str("  <generator>Snodo</generator>\n");
    for h in &results.items {
        let credit = credit(&h.source);
        let source = credit.name.clone();
        out.push_str("  <entry>\n");
        out.push_str(&format!("    <id>tag:snodo,2025:{}</id>\n", xml(&h.id)));
        out.push_str(&format!(
            "    <title type=\"text\">{}</title>\n",
            xml(&h.title)
        ));
        if let Some(u) = http_url(&h.url) {
            out.push_str(&format!(
                "    <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
                xml(u)
            ));
        }
        let when = h
            .start_date
            .map(date_time)
            .unwrap_or_else(|| updated.clone());
        out.push_str(&format!("    <updated>{when}</updated>\n"));
        out.push_str(&format!(
            "    <author><name>{}</name></author>\n",
            xml(&source)
        ));
        out.push_str(&format!(
            "    <category term=\"{}\"/>\n",
            xml(h.kind.as_str())
        ));
        if let Some(r) = h.region.as_deref().and_then(territory::region_name) {
            out.push_str(&format!(
                "    <category term=\"region-{}\" label=\"{}\"/>\n",
                xml(h.region.as_deref().unwrap_or_default()),
                xml(r)
            ));
        }
        let mut summary = h.summary.clone();
        if let Some(end) = h.end_date {
            summary.push_str(&format!(" (fino al / until {end})"));
        }
        out.push_str(&format!(
            "    <summary type=\"text\">{}</summary>\n",
            xml(summary.trim())
        ));
        out.push_str(&format!(
            "    <rights>{}</rights>\n",
            xml(&credit.attribution())
        ));
        out.push_str("  </entry>\n");
    }
    out.push_str("</feed>\n");
    out
}

/// The feed's default order: most recently started first.
pub const FEED_SORT: Sort = Sort::Newest;
pub const FEED_DEFAULT_LIMIT: usize = 50;

/// A cacheable non-JSON answer with an `ETag`, or 304.
pub fn bytes_cached(
    req_headers: &HeaderMap,
    content_type: &'static str,
    body: Vec<u8>,
    max_age_secs: u32,
) -> Response {
    let etag = crate::cache::etag_of(&body);
    let mut resp = if crate::cache::none_match(req_headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            body,
        )
            .into_response()
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={max_age_secs}")) {
        h.insert(header::CACHE_CONTROL, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use snodo_model::{Kind, LocalizedText, RecordId};

    fn hostile() -> Record {
        let id = RecordId {
            source: "evil".into(),
            kind: Kind::Process,
            upstream_id: "1".into(),
        };
        let mut r = Record::new(
            id,
            "https://evil.example/p/1",
            "it",
            LocalizedText::single("it", "=HYPERLINK(\"http://x\") \"quoted\", comma"),
        );
        r.summary = LocalizedText::single("it", "-1, or @SUM(A1)");
        r
    }

    #[test]
    fn csv_quotes_and_neutralises_formulas() {
        let names = SourceNames::new();
        let line = csv_line(&hostile(), &names, None, today_in_italy());
        assert!(
            line.contains("\"'=HYPERLINK(\"\"http://x\"\") \"\"quoted\"\", comma\""),
            "{line}"
        );
        assert!(line.contains(",\"'-1, or @SUM(A1)\","), "{line}");
        assert!(line.ends_with("\r\n"));
        // a source nobody configured: no licence is claimed for it
        assert!(
            line.contains("\"unknown\",\"\",\"evil; licence not stated by the source"),
            "{line}"
        );
        assert!(!line.contains("CC BY"), "{line}");
        assert_eq!(csv_header().matches(',').count(), CSV_COLUMNS.len() - 1);
    }

    #[test]
    fn jsonl_has_attribution_and_no_rich_html() {
        let mut names = SourceNames::new();
        names.insert(
            "evil".into(),
            SourceCredit {
                name: "Evil platform".into(),
                url: "https://evil.example".into(),
                licence: snodo_model::licence::by_spdx("CC-BY-SA-4.0"),
                credit: "Comune di Evil".into(),
            },
        );
        let line = jsonl_line(&hostile(), &names, today_in_italy()).unwrap();
        assert!(line.ends_with('\n') && !line.trim_end().contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["licence"], "CC-BY-SA-4.0");
        assert_eq!(
            v["licence_url"],
            "https://creativecommons.org/licenses/by-sa/4.0/"
        );
        assert_eq!(v["source_name"], "Evil platform");
        assert_eq!(v["source_url"], "https://evil.example");
        assert_eq!(
            v["attribution"],
            "Comune di Evil, CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/)"
        );
        assert!(v.get("description_html").is_none());
        // the same source with its licence unknown claims none
        names.get_mut("evil").unwrap().licence = None;
        let v: serde_json::Value =
            serde_json::from_str(&jsonl_line(&hostile(), &names, today_in_italy()).unwrap())
                .unwrap();
        assert_eq!(
            (v["licence"].as_str(), v["licence_url"].as_str()),
            (Some("unknown"), Some(""))
        );
        assert_eq!(
            v["attribution"],
            "Comune di Evil; licence not stated by the source: reuse only as https://evil.example allows"
        );
    }

    #[test]
    fn xml_text_and_links_are_inert() {
        assert_eq!(xml("<script>&\"'"), "&lt;script&gt;&amp;&quot;&#39;");
        assert_eq!(http_url("javascript:alert(1)"), None);
        assert_eq!(http_url("https://a.it/x"), Some("https://a.it/x"));
    }
}
