//! Latency of searches over HTTP, as a citizen's browser meets them: one keep-alive connection
//! to a running `snodo serve`, one request at a time, timed from the first byte sent to the last
//! byte of the answer read. Run with `search_cache_entries = 0` so that every request searches.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::corpus;

/// A request of the "near me" set: its class and its path and query.
pub struct HttpQuery {
    pub class: &'static str,
    pub path: String,
    /// For labelled queries: the title of the record expected in the top 3.
    pub expect_title: Option<String>,
}

/// Classes of the "near me" set, in report order.
pub const NEAR_ME_CLASSES: &[&str] = &[
    "text only (baseline)",
    "comune (local + counts above)",
    "comune + text",
    "province",
    "province, scope=all",
    "region",
    "place by name",
    "topic",
    "method",
    "open_on (date)",
    "text + province + topic + open",
];

/// The "near me" queries for the corpus: the corpus's comuni, their provinces and regions, its
/// topics and methods, with and without words, 20 results with facets and snippets each.
pub fn near_me_queries() -> Vec<HttpQuery> {
    let places = corpus::placed_comuni();
    // a word and the topic it belongs to, so the combined query is one a citizen would ask
    let pairs = [
        ("bilancio", "ECON"),
        ("ciclabili", "TRAN"),
        ("verde", "ENVI"),
        ("scuola", "EDUC"),
        ("giovani", "SOCI"),
        ("piazza", "REGI"),
    ];
    let methods = ["proposals", "budgets", "surveys", "meetings", "debates"];
    let mut v = Vec::new();
    let q = |class: &'static str, query: String| HttpQuery {
        class,
        path: format!("/api/v1/search?limit=20&{query}"),
        expect_title: None,
    };
    for (i, (name, t)) in places.iter().enumerate() {
        let (Some(c), Some(p), Some(r)) = (&t.comune, &t.province, &t.region) else {
            continue;
        };
        let (w, topic) = pairs[i % pairs.len()];
        let method = methods[i % methods.len()];
        v.push(q(NEAR_ME_CLASSES[0], format!("q={w}")));
        v.push(q(NEAR_ME_CLASSES[1], format!("comune={c}")));
        v.push(q(NEAR_ME_CLASSES[2], format!("comune={c}&q={w}")));
        v.push(q(NEAR_ME_CLASSES[3], format!("province={p}")));
        v.push(q(NEAR_ME_CLASSES[4], format!("province={p}&scope=all")));
        v.push(q(NEAR_ME_CLASSES[5], format!("region={r}")));
        v.push(q(NEAR_ME_CLASSES[6], format!("place={}", urlencode(name))));
        v.push(q(NEAR_ME_CLASSES[7], format!("topic={topic}")));
        v.push(q(NEAR_ME_CLASSES[8], format!("method={method}")));
        let day = 1 + i % 28;
        v.push(q(
            NEAR_ME_CLASSES[9],
            format!("open_on=2026-{:02}-{day:02}", 1 + i % 12),
        ));
        v.push(q(
            NEAR_ME_CLASSES[10],
            format!("q={w}&province={p}&topic={topic}&status=open"),
        ));
    }
    v
}

/// The citizen query mix ([`crate::queries::build`]) as API requests of `limit` results with
/// facets and snippets, classed as the set is.
pub fn citizen_queries(seed: u64, n: u64, limit: usize) -> Vec<HttpQuery> {
    crate::queries::build(seed, n, usize::MAX)
        .iter()
        .map(|q| HttpQuery {
            class: q.class.as_str(),
            path: api_path(q, limit),
            expect_title: q.expect_title.clone(),
        })
        .collect()
}

/// The API request of one benchmark query.
pub fn api_path(q: &crate::queries::BenchQuery, limit: usize) -> String {
    let mut p = format!("/api/v1/search?limit={limit}&q={}", urlencode(&q.snodo_q()));
    if let Some(k) = q.kind {
        p.push_str(&format!("&kind={}", k.as_str()));
    }
    if let Some(s) = q.status {
        p.push_str(&format!("&status={}", s.as_str()));
    }
    if let Some(r) = &q.region {
        p.push_str(&format!("&region={r}"));
    }
    match q.order {
        crate::queries::Order::Relevance => {}
        crate::queries::Order::Newest => p.push_str("&sort=newest"),
        crate::queries::Order::Closing => p.push_str("&sort=closing"),
    }
    p
}

/// Percent-encodes a query-string value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// One HTTP/1.1 keep-alive connection that sends GETs and reads whole answers.
pub struct Client {
    host: String,
    stream: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(addr: &str) -> Result<Client> {
        let tcp = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Client {
            host: addr.to_owned(),
            stream: BufReader::new(tcp),
        })
    }

    /// GETs `path`; returns the status and the body's length. Needs a `Content-Length` answer
    /// (the API's JSON answers have one).
    pub fn get(&mut self, path: &str) -> Result<(u16, usize)> {
        self.get_body(path).map(|(s, b)| (s, b.len()))
    }

    /// GETs `path`; returns the status and the body.
    pub fn get_body(&mut self, path: &str) -> Result<(u16, String)> {
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\n\r\n",
            self.host
        );
        self.stream.get_mut().write_all(req.as_bytes())?;
        let mut line = String::new();
        self.stream.read_line(&mut line)?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("not an HTTP status line: {line:?}"))?;
        let mut length = None;
        loop {
            line.clear();
            if self.stream.read_line(&mut line)? == 0 {
                bail!("the server closed the connection");
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().ok();
                } else if k.eq_ignore_ascii_case("transfer-encoding") {
                    bail!("chunked answers are not supported here: {path}");
                }
            }
        }
        let n: usize = length.with_context(|| format!("no Content-Length: {path}"))?;
        let mut body = vec![0; n];
        self.stream.read_exact(&mut body)?;
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }
}

/// Latency of one class, in milliseconds.
#[derive(Debug, Serialize)]
pub struct ClassLatency {
    pub class: String,
    pub queries: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_bytes: usize,
}

/// True when one of the first three items of a search answer has `title` (in any locale).
fn in_top_3(answer: &str, title: &str) -> bool {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(answer) else {
        return false;
    };
    let items = v["items"].as_array().map(Vec::as_slice).unwrap_or_default();
    items.iter().take(3).any(|item| match &item["title"] {
        serde_json::Value::String(t) => t == title,
        serde_json::Value::Object(m) => m.values().any(|t| t.as_str() == Some(title)),
        _ => false,
    })
}

/// Labelled queries whose record was in the top 3 over HTTP, and how many there were.
pub struct Quality {
    pub found: usize,
    pub labelled: usize,
}

/// Runs every query `reps` times after one warm-up pass, which also checks the labelled queries'
/// answers; every answer must be 200.
pub fn measure(
    addr: &str,
    queries: &[HttpQuery],
    reps: usize,
) -> Result<(Vec<ClassLatency>, Quality)> {
    let mut client = Client::connect(addr)?;
    let mut quality = Quality {
        found: 0,
        labelled: 0,
    };
    for q in queries {
        let (status, body) = client.get_body(&q.path)?;
        if status != 200 {
            bail!("{} answered {status}", q.path);
        }
        if let Some(title) = &q.expect_title {
            quality.labelled += 1;
            quality.found += usize::from(in_top_3(&body, title));
        }
    }
    let mut by_class: BTreeMap<&str, (Vec<f64>, usize)> = BTreeMap::new();
    for _ in 0..reps {
        for q in queries {
            let t = Instant::now();
            let (status, bytes) = client.get(&q.path)?;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            if status != 200 {
                bail!("{} answered {status}", q.path);
            }
            for class in [q.class, "all"] {
                let e = by_class.entry(class).or_default();
                e.0.push(ms);
                e.1 += bytes;
            }
        }
    }
    let order = |c: &str| {
        NEAR_ME_CLASSES
            .iter()
            .copied()
            .chain(crate::queries::Class::ALL.iter().map(|c| c.as_str()))
            .position(|x| x == c)
            .unwrap_or(usize::MAX)
    };
    let mut out: Vec<ClassLatency> = by_class
        .into_iter()
        .map(|(class, (mut ms, bytes))| {
            ms.sort_by(f64::total_cmp);
            let at = |p: f64| ms[((ms.len() as f64 - 1.0) * p).round() as usize];
            ClassLatency {
                class: class.to_owned(),
                queries: ms.len(),
                p50_ms: at(0.5),
                p99_ms: at(0.99),
                max_ms: at(1.0),
                mean_bytes: bytes / ms.len().max(1),
            }
        })
        .collect();
    out.sort_by_key(|c| order(&c.class));
    Ok((out, quality))
}

/// The table of [`measure`]'s figures.
pub fn markdown(rows: &[ClassLatency]) -> String {
    let mut s = String::from(
        "| class | requests | p50 ms | p99 ms | max ms | answer bytes |\n|---|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | {:.2} | {:.2} | {:.2} | {} |\n",
            r.class, r.queries, r.p50_ms, r.p99_ms, r.max_ms, r.mean_bytes
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_has_queries_with_real_places() {
        let qs = near_me_queries();
        for class in NEAR_ME_CLASSES {
            assert!(
                qs.iter().filter(|q| q.class == *class).count() >= 50,
                "{class}"
            );
        }
        assert!(qs.iter().any(|q| q.path.contains("comune=037006")));
        assert!(qs.iter().any(|q| q.path.contains("province=237")));
        assert!(qs
            .iter()
            .all(|q| q.path.is_ascii() && !q.path.contains(' ')));
    }
}
