//! A harvest through a real connector, as an operator runs it: the corpus written once as the
//! pages of a JSON API (the generic `json` connector's shape, 100 items a page, ETags), served
//! over loopback, and `snodo harvest` run against it twice — the second time nothing changed.
//! The figures are the real binary's: wall time and peak RSS (VmHWM, read from /proc while it
//! runs), and the store and index on disk.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use snodo_model::Record;

use crate::corpus;

pub const PER_PAGE: usize = 100;

/// The sources of the site: about one in seven publishes in English, as the corpus does.
pub fn english_sources(sources: usize) -> usize {
    (sources * 15 / 100).max(1)
}

/// 1: every record's page on its source's own host (`bench-{k}.example.it`), as on a real
/// platform; before (0), on a random comune's host, so every record's URL key landed at a random
/// place in the store's index of keys.
pub const PAGES_LAYOUT: u32 = 1;

/// What the page files hold, written last so that an interrupted write is done again.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub seed: u64,
    pub records: u64,
    pub sources: usize,
    /// Pages per source.
    pub pages: Vec<usize>,
    pub bytes: u64,
    /// How the pages are laid out ([`PAGES_LAYOUT`]); pages of another layout are written
    /// again.
    #[serde(default)]
    pub layout: u32,
    /// The records' text (title, summary and description, as UTF-8): what the store's size is
    /// compared with.
    pub text_bytes: u64,
}

/// Writes the corpus as pages under `dir` (`{source}/{page}.json`), unless a manifest for the
/// same corpus is there already.
pub fn write_pages(seed: u64, records: u64, sources: usize, dir: &Path) -> Result<Manifest> {
    let manifest_path = dir.join("manifest.json");
    if let Ok(text) = fs::read_to_string(&manifest_path) {
        if let Ok(m) = serde_json::from_str::<Manifest>(&text) {
            if (m.seed, m.records, m.sources, m.layout) == (seed, records, sources, PAGES_LAYOUT) {
                return Ok(m);
            }
        }
    }
    if sources < 2 {
        bail!("--sources must be at least 2 (one English, one Italian)");
    }
    let _ = fs::remove_dir_all(dir);
    for k in 0..sources {
        fs::create_dir_all(dir.join(k.to_string()))
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    let english = english_sources(sources);
    let mut buffers: Vec<Vec<Value>> = vec![Vec::new(); sources];
    let mut manifest = Manifest {
        seed,
        records,
        sources,
        pages: vec![0; sources],
        bytes: 0,
        layout: PAGES_LAYOUT,
        text_bytes: 0,
    };
    let flush = |k: usize, items: &mut Vec<Value>, m: &mut Manifest| -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        m.pages[k] += 1;
        let body = serde_json::to_vec(&items)?;
        m.bytes += body.len() as u64;
        let path = dir.join(k.to_string()).join(format!("{}.json", m.pages[k]));
        fs::write(&path, body).with_context(|| format!("writing {}", path.display()))?;
        items.clear();
        Ok(())
    };
    let (mut en, mut it) = (0usize, 0usize);
    for i in 0..records {
        let r = corpus::record(seed, i);
        // English records to the English sources, the rest to the Italian ones, in turn
        let k = if r.default_locale == "en" {
            en += 1;
            en % english
        } else {
            it += 1;
            english + it % (sources - english)
        };
        manifest.text_bytes += [&r.title, &r.summary, &r.description]
            .iter()
            .map(|t| first_text(t).len() as u64)
            .sum::<u64>();
        buffers[k].push(item(&r, i, k));
        if buffers[k].len() == PER_PAGE {
            flush(k, &mut buffers[k], &mut manifest)?;
        }
    }
    for (k, items) in buffers.iter_mut().enumerate() {
        flush(k, items, &mut manifest)?;
    }
    fs::write(&manifest_path, serde_json::to_vec(&manifest)?)?;
    Ok(manifest)
}

fn first_text(t: &snodo_model::LocalizedText) -> String {
    t.iter()
        .next()
        .map(|(_, s)| s.to_owned())
        .unwrap_or_default()
}

/// One item as the JSON API of source `k` publishes it: the body as HTML paragraphs, the page
/// on the source's own host.
fn item(r: &Record, i: u64, k: usize) -> Value {
    let path = r.url.splitn(4, '/').nth(3).unwrap_or_default();
    let body: String = first_text(&r.description)
        .split('\n')
        .map(|p| format!("<p>{p}</p>"))
        .collect();
    json!({
        "id": i,
        "url": format!("https://bench-{k}.example.it/{path}"),
        "title": first_text(&r.title),
        "summary": first_text(&r.summary),
        "description": body,
        "start_date": r.start_date.map(|d| d.to_string()),
        "end_date": r.end_date.map(|d| d.to_string()),
        "promoter": first_text(&r.promoter),
        "topics": r.topics.iter().map(first_text).collect::<Vec<_>>(),
    })
}

/// The JSON API: `GET /s/{source}?per_page=100&page={n}`, the page count in `X-Total-Pages`,
/// an ETag per page (and 304 for a matching `If-None-Match`), keep-alive.
pub struct Site {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Drop for Site {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr);
    }
}

pub fn serve(dir: PathBuf, manifest: &Manifest) -> Result<Site> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let pages = Arc::new(manifest.pages.clone());
    let tag = format!(
        "{}-{}-{}",
        manifest.seed, manifest.records, manifest.sources
    );
    let flag = stop.clone();
    thread::spawn(move || {
        for conn in listener.incoming() {
            if flag.load(Ordering::Relaxed) {
                break;
            }
            let Ok(conn) = conn else { continue };
            let (dir, pages, tag) = (dir.clone(), pages.clone(), tag.clone());
            thread::spawn(move || {
                let _ = handle(conn, &dir, &pages, &tag);
            });
        }
    });
    Ok(Site { addr, stop })
}

fn handle(conn: TcpStream, dir: &Path, pages: &[usize], tag: &str) -> std::io::Result<()> {
    conn.set_nodelay(true)?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut out = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let target = line.split(' ').nth(1).unwrap_or("/").to_owned();
        let mut if_none_match = None;
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
                break;
            }
            let lower = h.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("if-none-match:") {
                if_none_match = Some(v.trim().to_owned());
            } else if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        if length > 0 {
            reader
                .by_ref()
                .take(length as u64)
                .read_to_end(&mut Vec::new())?;
        }
        let (status, headers, body) = answer(&target, if_none_match.as_deref(), dir, pages, tag);
        // One write per answer: a head written in pieces waits on Nagle and delayed ACKs
        // (40 ms per 304 answer, most of an unchanged harvest's time).
        let mut answer = format!(
            "HTTP/1.1 {status}\r\ncontent-length: {}\r\n{headers}\r\n",
            body.len()
        )
        .into_bytes();
        answer.extend_from_slice(&body);
        out.write_all(&answer)?;
    }
}

fn answer(
    target: &str,
    if_none_match: Option<&str>,
    dir: &Path,
    pages: &[usize],
    tag: &str,
) -> (&'static str, String, Vec<u8>) {
    let not_found = || ("404 Not Found", String::new(), Vec::new());
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let Some(k) = path
        .strip_prefix("/s/")
        .and_then(|k| k.parse::<usize>().ok())
    else {
        return not_found();
    };
    let Some(&total) = pages.get(k) else {
        return not_found();
    };
    let page = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("page="))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(1);
    let etag = format!("\"{tag}-{k}-{page}\"");
    let mut headers =
        format!("content-type: application/json\r\nx-total-pages: {total}\r\netag: {etag}\r\n");
    if if_none_match == Some(etag.as_str()) {
        return ("304 Not Modified", headers, Vec::new());
    }
    let body = if (1..=total).contains(&page) {
        fs::read(dir.join(k.to_string()).join(format!("{page}.json"))).unwrap_or_default()
    } else {
        headers = "content-type: application/json\r\n".into();
        b"[]".to_vec()
    };
    ("200 OK", headers, body)
}

/// The configuration of a Snodo that harvests the site into `data_dir`. The one site stands for
/// the platforms of 90 administrations, each on its own host: as many requests to it at once as
/// sources harvested at once (the default 4), with no politeness delay.
pub fn config(site: SocketAddr, manifest: &Manifest, data_dir: &Path) -> String {
    let english = english_sources(manifest.sources);
    let mut c = format!(
        "[storage]\ndata_dir = {:?}\n\n[harvest]\nmin_delay_ms = 0\njitter_secs = 0\n\
         allow_private_addresses = true\nper_host_concurrency = 4\n\n[log]\nlevel = \"info\"\n",
        data_dir.display().to_string()
    );
    for k in harvest_order(manifest.sources, english) {
        let (kind, region) = (
            ["process", "consultation", "proposal", "assembly"][k % 4],
            k % 20 + 1,
        );
        let locale = if k < english { "en" } else { "it" };
        c.push_str(&format!(
            "\n[[sources]]\nid = \"bench-{k}\"\nname = \"Bench platform {k}\"\nkind = \"json\"\n\
             url = \"http://{site}/s/{k}\"\nterritory = \"{region:02}\"\nrecord_kind = \"{kind}\"\n\
             locale = \"{locale}\"\nmax_items = 100000\n\
             [sources.fields]\nstart_date = \"start_date\"\nend_date = \"end_date\"\n\
             promoter = \"promoter\"\ntopics = \"topics\"\n\
             [sources.pagination]\npage_param = \"page\"\nper_page_param = \"per_page\"\n\
             per_page = {PER_PAGE}\ntotal_pages_header = \"x-total-pages\"\nmax_pages = 10000\n"
        ));
    }
    c
}

/// The sources in the order the configuration lists them, which is the order `snodo harvest`
/// takes them in: English ones spread among the Italian ones. Listed by number, the English
/// sources (the lowest numbers) made up the first 150,000 records of a million, whose shorter
/// analysis made the first 100k look faster than any later one.
pub fn harvest_order(sources: usize, english: usize) -> Vec<usize> {
    let italian = sources - english;
    let place = |k: usize| -> f64 {
        if k < english {
            (k as f64 + 0.5) * sources as f64 / english as f64
        } else {
            ((k - english) as f64 + 0.5) * sources as f64 / italian.max(1) as f64
        }
    };
    let mut order: Vec<usize> = (0..sources).collect();
    order.sort_by(|a, b| place(*a).total_cmp(&place(*b)).then(a.cmp(b)));
    order
}

/// Seconds each successive `step` records took to be stored, from a `snodo harvest` log: a
/// source's records are stored by its "harvest started" time plus the `ms=` of its "harvest
/// finished" line, and the time a count was reached is interpolated between those ends. The
/// last slice ends when the last source's run did (the index catching up comes after, in the
/// round's total).
pub fn seconds_per_slice(log: &str, step: u64) -> Vec<f64> {
    use std::collections::HashMap;
    let field = |line: &str, name: &str| -> Option<String> {
        let rest = &line[line.find(&format!(" {name}="))? + name.len() + 2..];
        let v = rest.split_whitespace().next()?;
        Some(v.trim_matches('"').to_owned())
    };
    let (mut first, mut started) = (None, HashMap::new());
    let mut ends: Vec<(f64, u64)> = Vec::new();
    for line in log.lines() {
        let Some(t) = log_time(line) else { continue };
        first.get_or_insert(t);
        let Some(source) = field(line, "source") else {
            continue;
        };
        if line.contains("harvest started") {
            started.insert(source, t);
        } else if line.contains("harvest finished") {
            let added = field(line, "added").and_then(|v| v.parse::<u64>().ok());
            let ms = field(line, "ms").and_then(|v| v.parse::<f64>().ok());
            if let (Some(&s), Some(added), Some(ms)) = (started.get(&source), added, ms) {
                ends.push((s + ms / 1000.0, added));
            }
        }
    }
    let Some(first) = first else {
        return Vec::new();
    };
    ends.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut marks = vec![(first, 0u64)];
    for (t, added) in ends {
        let before = marks.last().map_or(0, |m| m.1);
        marks.push((t, before + added));
    }
    let total = marks.last().map_or(0, |m| m.1);
    let reached = |n: u64| -> f64 {
        let i = marks.partition_point(|m| m.1 < n).min(marks.len() - 1);
        let (t1, c1) = marks[i];
        let (t0, c0) = marks[i.saturating_sub(1)];
        if c1 <= c0 {
            return t1;
        }
        t0 + (t1 - t0) * (n - c0) as f64 / (c1 - c0) as f64
    };
    let step = step.max(1);
    let mut out = Vec::new();
    let mut from = reached(0);
    let mut n = step;
    while n <= total {
        let to = reached(n);
        out.push(to - from);
        from = to;
        n += step;
    }
    out
}

/// One `snodo harvest` of every source: wall seconds, peak RSS in KiB, what it printed.
pub struct Timed {
    pub secs: f64,
    pub peak_rss_kib: u64,
    /// The largest anonymous part seen (heap and stacks, not the index files mapped in),
    /// sampled every 50 ms.
    pub peak_anon_kib: u64,
    pub output: String,
    /// Its log (standard error).
    pub log: String,
    /// The index compaction at the end of the round, from its log line: segments before and
    /// after, seconds (part of `secs`: the records were searchable before it).
    pub compaction: Option<(u64, u64, f64)>,
    /// Seconds per 100,000 records stored, in order (see [`seconds_per_slice`]).
    pub per_100k: Vec<f64>,
}

/// `from`, `to` and `ms` of the "search index compacted" line of a `snodo` log.
fn compaction_in(log: &str) -> Option<(u64, u64, f64)> {
    let line = log.lines().find(|l| l.contains("search index compacted"))?;
    let field = |name: &str| -> Option<u64> {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .and_then(|v| v.trim_matches(|c: char| !c.is_ascii_digit()).parse().ok())
    };
    Some((
        field("from=")?,
        field("to=")?,
        field("ms=")? as f64 / 1000.0,
    ))
}

pub fn run_harvest(snodo: &Path, config: &Path, sources: &[String]) -> Result<Timed> {
    let started = Instant::now();
    let mut child = Command::new(snodo)
        .arg("--config")
        .arg(config)
        .args(["harvest", "--json"])
        .args(sources)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", snodo.display()))?;
    let status_path = format!("/proc/{}/status", child.id());
    let (mut peak, mut peak_anon) = (0u64, 0u64);
    let mut stdout = child.stdout.take().context("no stdout")?;
    let reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let mut stderr = child.stderr.take().context("no stderr")?;
    let err_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Ok(s) = fs::read_to_string(&status_path) {
            peak = peak.max(crate::status_kib(&s, "VmHWM:").unwrap_or(0));
            peak_anon = peak_anon.max(crate::status_kib(&s, "RssAnon:").unwrap_or(0));
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        thread::sleep(Duration::from_millis(50));
    };
    let secs = started.elapsed().as_secs_f64();
    let output = reader.join().unwrap_or_default();
    let errors = err_reader.join().unwrap_or_default();
    // Its log beside the config, every run's after the last, for reading where the time went.
    if let Ok(mut log) = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(config.with_extension("log"))
    {
        use std::io::Write as _;
        let _ = writeln!(log, "=== snodo harvest, {secs:.1} s\n{errors}");
    }
    if !status.success() {
        bail!("snodo harvest failed ({status}):\n{errors}\n{output}");
    }
    Ok(Timed {
        secs,
        peak_rss_kib: peak,
        peak_anon_kib: peak_anon,
        compaction: compaction_in(&errors),
        per_100k: seconds_per_slice(&errors, 100_000),
        log: errors,
        output,
    })
}

/// Seconds from a `snodo harvest` log's first line to its last "harvest finished" line: when
/// the last source's records were stored and searchable (the compaction that may follow is
/// left out).
pub fn seconds_to_last_finished(log: &str) -> Option<f64> {
    let first = log.lines().find_map(log_time)?;
    let last = log
        .lines()
        .rev()
        .filter(|l| l.contains("harvest finished"))
        .find_map(log_time)?;
    Some(last - first)
}

/// The time of a `snodo` log line (its RFC 3339 stamp), in seconds.
fn log_time(line: &str) -> Option<f64> {
    let ts = line.split_whitespace().next()?;
    let t = chrono::DateTime::parse_from_rfc3339(ts).ok()?;
    Some(t.timestamp_micros() as f64 / 1e6)
}

/// Copies the directory `from` to `to` (which must not exist), recursively.
pub fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Bytes under `path`, recursively.
pub fn disk_bytes(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    fs::read_dir(path)
        .map(|d| d.flatten().map(|e| disk_bytes(&e.path())).sum())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compaction_is_read_off_the_log() {
        let log = "2026-12-05T11:00:00Z  INFO snodo_harvest: harvest finished source=\"b\"\n\
                   2026-12-05T11:00:09Z  INFO snodo_index: search index compacted from=12 to=2 docs=1000000 ms=61234\n";
        assert_eq!(compaction_in(log), Some((12, 2, 61.234)));
        assert_eq!(compaction_in("INFO harvest finished ms=3"), None);
    }

    #[test]
    fn seconds_per_slice_follow_the_sources_ends() {
        // Two sources at once from 0 s: "a" (300 records) ends at 30 s, "b" (100) at 40 s; then
        // "c" (200) from 30 s to 50 s. 100 records a slice: a's 300 by 30 s, then b's 100 by
        // 40 s, then c's 200 by 50 s (interpolated: 100 of them by 45 s).
        let log = "\
2026-12-05T11:00:00Z  INFO snodo_harvest: harvest started source=\"a\"
2026-12-05T11:00:00Z  INFO snodo_harvest: harvest started source=\"b\"
2026-12-05T11:00:30Z  INFO snodo_harvest: harvest started source=\"c\"
2026-12-05T11:00:50Z  INFO snodo_harvest: harvest finished source=\"a\" outcome=\"success\" seen=300 added=300 changed=0 gone=0 requests=3 ms=30000
2026-12-05T11:00:50Z  INFO snodo_harvest: harvest finished source=\"b\" outcome=\"success\" seen=100 added=100 changed=0 gone=0 requests=1 ms=40000
2026-12-05T11:00:50Z  INFO snodo_harvest: harvest finished source=\"c\" outcome=\"success\" seen=200 added=200 changed=0 gone=0 requests=2 ms=20000
2026-12-05T11:00:58Z  INFO snodo_index: search index compacted from=12 to=2 docs=600 ms=8000
";
        let s = seconds_per_slice(log, 100);
        let want = [10.0, 10.0, 10.0, 10.0, 5.0, 5.0];
        assert_eq!(s.len(), want.len(), "{s:?}");
        for (got, want) in s.iter().zip(want) {
            assert!((got - want).abs() < 1e-6, "{s:?}");
        }
        assert_eq!(seconds_to_last_finished(log), Some(50.0));
        assert_eq!(seconds_to_last_finished("no log at all"), None);
        // An unchanged round adds nothing: no slice.
        assert!(seconds_per_slice(&log.replace("added=", "added=0 was="), 100).is_empty());
        assert!(seconds_per_slice("", 100).is_empty());
    }

    #[test]
    fn english_sources_are_spread_through_the_harvest() {
        let order = harvest_order(90, english_sources(90));
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, (0..90).collect::<Vec<_>>());
        // 13 English sources: one among every seven or so, none two in a row.
        let english: Vec<usize> = order
            .iter()
            .enumerate()
            .filter(|(_, &k)| k < english_sources(90))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(english.len(), 13);
        assert!(
            english.windows(2).all(|w| (6..=8).contains(&(w[1] - w[0]))),
            "{english:?}"
        );
        assert!(english[0] <= 4 && english[12] >= 84, "{english:?}");
    }

    #[test]
    fn pages_hold_every_record_once_and_the_site_serves_them_with_etags() {
        let dir = tempfile::tempdir().unwrap();
        let m = write_pages(7, 450, 6, dir.path()).unwrap();
        let items: usize = (0..6)
            .flat_map(|k| (1..=m.pages[k]).map(move |p| (k, p)))
            .map(|(k, p)| {
                let path = dir.path().join(k.to_string()).join(format!("{p}.json"));
                let v: Vec<Value> = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
                assert!(v.len() <= PER_PAGE);
                // Every page on its source's host, as a real platform's.
                let host = format!("https://bench-{k}.example.it/");
                assert!(v
                    .iter()
                    .all(|i| i["url"].as_str().unwrap().starts_with(&host)));
                v.len()
            })
            .sum();
        assert_eq!(items, 450);
        // written once: the second call finds the manifest
        assert_eq!(write_pages(7, 450, 6, dir.path()).unwrap(), m);
        // pages of an older layout are written again
        let mut old: Value =
            serde_json::from_slice(&fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
        old.as_object_mut().unwrap().remove("layout");
        fs::write(dir.path().join("manifest.json"), old.to_string()).unwrap();
        fs::write(dir.path().join("2").join("1.json"), "[]").unwrap();
        assert_eq!(write_pages(7, 450, 6, dir.path()).unwrap(), m);
        assert_ne!(
            fs::read(dir.path().join("2").join("1.json")).unwrap(),
            b"[]"
        );

        let (status, headers, body) =
            answer("/s/2?per_page=100&page=1", None, dir.path(), &m.pages, "t");
        assert_eq!(status, "200 OK");
        assert!(headers.contains("x-total-pages"));
        let v: Vec<Value> = serde_json::from_slice(&body).unwrap();
        assert!(v[0]["title"].as_str().is_some_and(|t| !t.is_empty()));
        let etag = headers
            .lines()
            .find_map(|l| l.strip_prefix("etag: "))
            .unwrap()
            .to_owned();
        assert_eq!(
            answer("/s/2?page=1", Some(&etag), dir.path(), &m.pages, "t").0,
            "304 Not Modified"
        );
        let past = answer("/s/2?page=99", None, dir.path(), &m.pages, "t");
        assert_eq!(past.2, b"[]");
        assert_eq!(
            answer("/robots.txt", None, dir.path(), &m.pages, "t").0,
            "404 Not Found"
        );
    }
}
