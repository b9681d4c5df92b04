//! Benchmarks of Snodo's search against SQLite FTS5 and PostgreSQL full-text search.
//!
//! - [`corpus`]: a deterministic corpus of Italian and English participation records;
//! - [`queries`]: the query set (260 queries in ten classes, some labelled with the record
//!   expected in the top 3);
//! - [`engines`]: the three engines loaded with the same corpus and asked the same queries;
//! - [`run`]: latency percentiles per class, result quality, build time, sizes and peak RSS.
//!
//! The binary `snodo-bench` drives it (see `bench/run.sh` and `BENCHMARKS.md`); the smoke test
//! runs a tiny corpus through every available engine with no timing assertions.

pub mod cluster;
pub mod corpus;
pub mod engines;
pub mod harvest;
pub mod http;
pub mod queries;
pub mod realistic;

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use engines::{Answer, Build, Engine};
use queries::{BenchQuery, Class};

/// Latencies of one class of queries, in milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Latency {
    pub class: String,
    pub queries: usize,
    pub samples: usize,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub mean: f64,
}

/// Nearest-rank percentile of sorted samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn latency(class: &str, queries: usize, mut v: Vec<f64>) -> Latency {
    v.sort_by(f64::total_cmp);
    let mean = if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    };
    Latency {
        class: class.to_owned(),
        queries,
        samples: v.len(),
        p50: percentile(&v, 50.0),
        p95: percentile(&v, 95.0),
        p99: percentile(&v, 99.0),
        mean,
    }
}

/// Everything measured for one engine.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub engine: String,
    pub records: u64,
    pub build: Build,
    pub latency: Vec<Latency>,
    pub all: Latency,
    /// Labelled queries whose expected record was in the top 3, and how many there were.
    pub quality_hits: usize,
    pub quality_total: usize,
    /// Queries (of the whole set) that matched nothing.
    pub empty: usize,
    pub errors: Vec<String>,
    /// Peak RSS while building, and while answering queries (KiB), when measured in-process.
    pub rss_build_kib: Option<u64>,
    pub rss_query_kib: Option<u64>,
    /// Average matches per query, and average snippets per page (sanity: engines do the same work).
    pub avg_total: f64,
    pub avg_snippets: f64,
}

/// Reads `VmHWM` (peak RSS) of this process, in KiB.
pub fn peak_rss_kib() -> Option<u64> {
    status_kib(
        &std::fs::read_to_string("/proc/self/status").ok()?,
        "VmHWM:",
    )
}

/// A `kB` line of a `/proc/PID/status` text.
pub fn status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Resets the peak RSS counter (Linux ≥ 4.0), so the next reading covers what follows only.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// True when a labelled query found its record in the top 3.
pub fn found(q: &BenchQuery, a: &Answer) -> bool {
    match &q.expect_title {
        Some(t) => a.titles.iter().take(3).any(|x| x == t),
        None => false,
    }
}

/// Runs every query once to warm up, then `reps` timed times; returns the report.
pub fn run(
    engine: &mut dyn Engine,
    queries: &[BenchQuery],
    reps: usize,
    records: u64,
    build: Build,
    rss_build_kib: Option<u64>,
) -> Result<Report> {
    let mut per_class: BTreeMap<Class, (usize, Vec<f64>)> = BTreeMap::new();
    let mut all = Vec::new();
    let mut errors = Vec::new();
    let (mut hits, mut labelled, mut empty) = (0, 0, 0);
    let (mut totals, mut snippets) = (0u64, 0usize);
    let measure_rss = reset_peak_rss();
    // `SNODO_BENCH_SLOWEST=N`: print the N slowest queries (median of their runs) to stderr.
    let show_slowest: usize = std::env::var("SNODO_BENCH_SLOWEST")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut medians: Vec<(f64, String)> = Vec::new();
    for q in queries {
        let answer = match engine.search(q) {
            Ok(a) => a,
            Err(e) => {
                errors.push(format!("{:?} `{}`: {e:#}", q.class, q.text));
                continue;
            }
        };
        if q.expect_title.is_some() {
            labelled += 1;
            hits += usize::from(found(q, &answer));
        }
        empty += usize::from(answer.total == 0);
        totals += answer.total;
        snippets += answer.snippets;
        let entry = per_class.entry(q.class).or_default();
        entry.0 += 1;
        let mut mine = Vec::with_capacity(reps);
        for _ in 0..reps {
            let started = Instant::now();
            let a = engine.search(q)?;
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            std::hint::black_box(a);
            entry.1.push(ms);
            all.push(ms);
            mine.push(ms);
        }
        if show_slowest > 0 && !mine.is_empty() {
            mine.sort_by(f64::total_cmp);
            let filters = format!(
                "{:?} status={:?} region={:?} kind={:?} order={:?} total={}",
                q.class, q.status, q.region, q.kind, q.order, answer.total
            );
            medians.push((mine[mine.len() / 2], format!("`{}` {filters}", q.text)));
        }
    }
    medians.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (ms, q) in medians.iter().take(show_slowest) {
        eprintln!("{ms:8.2} ms  {q}");
    }
    let n = queries.len().max(1) as f64;
    Ok(Report {
        engine: engine.name().to_owned(),
        records,
        build,
        latency: per_class
            .into_iter()
            .map(|(c, (nq, v))| latency(c.as_str(), nq, v))
            .collect(),
        all: latency("all", queries.len(), all),
        quality_hits: hits,
        quality_total: labelled,
        empty,
        errors,
        rss_build_kib,
        rss_query_kib: if measure_rss { peak_rss_kib() } else { None },
        avg_total: totals as f64 / n,
        avg_snippets: snippets as f64 / n,
    })
}

/// `27×`, `3.4×`, `0.02×`: two significant digits below 10.
fn ratio(r: f64) -> String {
    if r >= 10.0 {
        format!("{r:.0}×")
    } else if r >= 1.0 {
        format!("{r:.1}×")
    } else {
        format!("{r:.2}×")
    }
}

/// Markdown tables of several reports side by side, with ratios against the first (Snodo).
pub fn markdown(reports: &[Report]) -> String {
    let mut s = String::new();
    let Some(base) = reports.first() else {
        return s;
    };
    s.push_str(&format!(
        "#### {} records\n\n| | {} |\n|---|{}\n",
        base.records,
        reports
            .iter()
            .map(|r| r.engine.as_str())
            .collect::<Vec<_>>()
            .join(" | "),
        "---|".repeat(reports.len())
    ));
    let row = |label: &str, f: &dyn Fn(&Report) -> String| -> String {
        format!(
            "| {label} | {} |\n",
            reports.iter().map(f).collect::<Vec<_>>().join(" | ")
        )
    };
    let mib = |b: u64| format!("{:.1} MiB", b as f64 / 1048576.0);
    s.push_str(&row("load rows (s)", &|r| {
        format!("{:.1}", r.build.load_secs)
    }));
    s.push_str(&row("build index (s)", &|r| {
        format!("{:.1}", r.build.index_secs)
    }));
    s.push_str(&row("index size", &|r| mib(r.build.index_bytes)));
    s.push_str(&row("rows + index on disk", &|r| mib(r.build.total_bytes)));
    s.push_str(&row(
        "peak RSS of the harness building (PostgreSQL: client only)",
        &|r| {
            r.rss_build_kib
                .map_or("–".into(), |k| format!("{:.0} MiB", k as f64 / 1024.0))
        },
    ));
    s.push_str(&row("peak RSS of the harness querying", &|r| {
        r.rss_query_kib
            .map_or("–".into(), |k| format!("{:.0} MiB", k as f64 / 1024.0))
    }));
    s.push_str(&row("labelled: expected in top 3", &|r| {
        format!("{}/{}", r.quality_hits, r.quality_total)
    }));
    s.push_str(&row("queries with no match", &|r| format!("{}", r.empty)));
    s.push_str(&row("avg matches / snippets per page", &|r| {
        format!("{:.0} / {:.1}", r.avg_total, r.avg_snippets)
    }));
    s.push_str(&row("errors", &|r| format!("{}", r.errors.len())));
    s.push_str("\nLatency in ms (p50 / p95 / p99), and Snodo's speed-up at p50 and p99:\n\n");
    s.push_str(&format!(
        "| class (queries) | {} | {} |\n|---|{}{}\n",
        reports
            .iter()
            .map(|r| r.engine.as_str())
            .collect::<Vec<_>>()
            .join(" | "),
        reports
            .iter()
            .skip(1)
            .map(|r| format!("× vs {}", r.engine))
            .collect::<Vec<_>>()
            .join(" | "),
        "---|".repeat(reports.len()),
        "---|".repeat(reports.len().saturating_sub(1)),
    ));
    let mut classes: Vec<&Latency> = base.latency.iter().collect();
    classes.push(&base.all);
    for l in classes {
        let find = |r: &Report| -> Option<Latency> {
            if l.class == "all" {
                Some(r.all.clone())
            } else {
                r.latency.iter().find(|x| x.class == l.class).cloned()
            }
        };
        let cells: Vec<String> = reports
            .iter()
            .map(|r| {
                find(r).map_or("–".into(), |x| {
                    format!("{:.2} / {:.2} / {:.2}", x.p50, x.p95, x.p99)
                })
            })
            .collect();
        let ratios: Vec<String> = reports
            .iter()
            .skip(1)
            .map(|r| match find(r) {
                Some(x) => format!(
                    "{} / {}",
                    ratio(x.p50 / l.p50.max(1e-6)),
                    ratio(x.p99 / l.p99.max(1e-6))
                ),
                None => "–".into(),
            })
            .collect();
        let label = if l.class == "all" {
            format!("**all** ({})", l.queries)
        } else {
            format!("{} ({})", l.class, l.queries)
        };
        s.push_str(&format!(
            "| {label} | {} | {} |\n",
            cells.join(" | "),
            ratios.join(" | ")
        ));
    }
    if let Some(b) = base.build.update_visible_ms {
        s.push_str(&format!(
            "\nSnodo incremental update: 1,000 changed records written to the store in {:.0} ms, applied to the index and visible in search in {:.0} ms.\n",
            base.build.update_store_ms.unwrap_or(0.0),
            b
        ));
    }
    s
}
