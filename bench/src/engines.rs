//! The three engines, loaded with the same corpus and asked the same queries: Snodo (store +
//! index, through the same calls the API makes), SQLite FTS5 and PostgreSQL full-text search.
//! Each answers a query with the first [`PAGE`] hits (title, summary, snippet), the total and the
//! facet counts (kind, status, region, source) over all matches.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use chrono::Utc;
use snodo_index::{Index, IndexChange, SearchRequest, Sort};
use snodo_model::{Record, Status};
use snodo_store::{HarvestBatch, Outcome, RunCounts, RunFinish, SourceInfo, Store};

use crate::corpus::{self, day, flat, today};
use crate::queries::{BenchQuery, Order, Part, PAGE};

/// What an engine answered.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    pub total: u64,
    pub titles: Vec<String>,
    pub snippets: usize,
    /// Number of distinct facet values returned (all four facets).
    pub facet_values: usize,
}

/// Timings and sizes of loading one engine.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Build {
    /// Loading the rows (for Snodo: the SQLite store, as harvests write it).
    pub load_secs: f64,
    /// Building the search index (for Snodo: a full reindex from the store).
    pub index_secs: f64,
    /// Bytes of the search index alone.
    pub index_bytes: u64,
    /// Bytes of everything on disk (rows + index).
    pub total_bytes: u64,
    /// Snodo only: 1,000 changed records written to the store, then applied to the index and
    /// visible in search.
    pub update_store_ms: Option<f64>,
    pub update_visible_ms: Option<f64>,
}

pub trait Engine {
    fn name(&self) -> &'static str;
    fn search(&mut self, q: &BenchQuery) -> Result<Answer>;
}

pub fn dir_bytes(p: &Path) -> u64 {
    let Ok(meta) = std::fs::metadata(p) else {
        return 0;
    };
    if meta.is_file() {
        return meta.len();
    }
    std::fs::read_dir(p)
        .map(|rd| rd.flatten().map(|e| dir_bytes(&e.path())).sum())
        .unwrap_or(0)
}

// ---------------------------------------------------------------- Snodo

pub struct Snodo {
    pub store: Arc<Store>,
    pub index: Arc<Index>,
}

/// Records a store batch holds before it is written (one transaction per batch and source).
const STORE_BATCH: usize = 500;

/// Writes records into the store the way harvests do: one run per source, batches of records.
pub fn fill_store(store: &Store, records: impl Iterator<Item = Record>) -> Result<u64> {
    let sources = corpus::all_sources();
    let infos: Vec<SourceInfo> = sources
        .iter()
        .map(|s| SourceInfo {
            id: s.clone(),
            name: s.clone(),
            kind: "decidim".into(),
            url: format!("https://{s}.example.it"),
        })
        .collect();
    store.sync_sources(&infos)?;
    let now = Utc::now();
    let mut runs = HashMap::new();
    let mut buffers: HashMap<String, Vec<Record>> = HashMap::new();
    let mut counts: HashMap<String, RunCounts> = HashMap::new();
    let mut n = 0u64;
    let mut flush =
        |source: &str, buf: &mut Vec<Record>, runs: &mut HashMap<String, _>| -> Result<()> {
            if buf.is_empty() {
                return Ok(());
            }
            let run = match runs.get(source) {
                Some(r) => *r,
                None => {
                    let r = store.start_run(source, now)?;
                    runs.insert(source.to_owned(), r);
                    r
                }
            };
            let applied =
                store.apply_harvest(run, &HarvestBatch::new(source, buf, false, None, now))?;
            *counts.entry(source.to_owned()).or_default() += applied.counts;
            buf.clear();
            Ok(())
        };
    for r in records {
        n += 1;
        let source = r.id.source.clone();
        let buf = buffers.entry(source.clone()).or_default();
        buf.push(r);
        if buf.len() >= STORE_BATCH {
            let mut full = std::mem::take(buf);
            flush(&source, &mut full, &mut runs)?;
            buffers.insert(source, full);
        }
    }
    let mut rest: Vec<(String, Vec<Record>)> = buffers.into_iter().collect();
    rest.sort_by(|a, b| a.0.cmp(&b.0));
    for (source, mut buf) in rest {
        flush(&source, &mut buf, &mut runs)?;
    }
    for (source, run) in runs {
        store.finish_run(
            run,
            &RunFinish {
                finished_at: Utc::now(),
                outcome: Outcome::Success,
                counts: counts.get(&source).copied().unwrap_or_default(),
                error: None,
                warnings: Vec::new(),
                requests: 0,
            },
        )?;
    }
    Ok(n)
}

/// A full reindex from the store, exactly as `snodo reindex` does it (a reader thread streams
/// live records into `Index::rebuild`).
pub fn reindex(store: &Arc<Store>, index: &Index) -> Result<u64> {
    let seq = store.max_seq()?;
    let (tx, rx) = std::sync::mpsc::sync_channel(1024);
    let reader = {
        let store = store.clone();
        std::thread::spawn(move || {
            store.live_records(&mut |r| {
                let _ = tx.send(r);
                Ok(())
            })
        })
    };
    let docs = index.rebuild(&mut rx.into_iter(), seq)?;
    match reader.join() {
        Ok(r) => {
            r?;
        }
        Err(_) => bail!("the store reader thread panicked"),
    }
    Ok(docs)
}

/// Applies the store's change log to the index (the indexer's catch-up).
pub fn catch_up(store: &Store, index: &Index) -> Result<u64> {
    let mut applied = 0;
    loop {
        let changes = store.changes_since(index.last_applied_seq(), 5_000)?;
        let Some(last) = changes.last().map(|c| c.seq) else {
            return Ok(applied);
        };
        let batch: Vec<IndexChange> = changes
            .into_iter()
            .map(|c| match c.record {
                Some(r) => IndexChange::Upsert(Box::new(r)),
                None => IndexChange::Remove(c.id),
            })
            .collect();
        applied += batch.len() as u64;
        index.apply(&batch, last)?;
    }
}

/// What [`incremental`] measured.
pub struct Incremental {
    /// Seconds of each run: store the changed records, then apply them to the index.
    pub runs: Vec<f64>,
    /// Bytes of the index directory at the end.
    pub index_bytes: u64,
}

/// Harvests as the scheduler does, `runs` times: each run changes `batch` records upstream
/// (the next ones in id order, title and description edited), stores them and brings the index
/// up to date with one commit, as a harvest of one source does. Over a store and index filled by
/// [`load_snodo`] of `n` records.
pub fn incremental(
    data_dir: &Path,
    seed: u64,
    n: u64,
    runs: u64,
    batch: u64,
) -> Result<Incremental> {
    let engine = open_snodo(data_dir)?;
    catch_up(&engine.store, &engine.index)?;
    let mut times = Vec::with_capacity(runs as usize);
    for run in 0..runs {
        let changed: Vec<Record> = (0..batch)
            .map(|k| {
                let mut r = corpus::record(seed, (run * batch + k) % n);
                let edit = format!(" (aggiornamento {})", run + 1);
                for (locale, text) in r.title.0.clone() {
                    r.title.insert_plain(&locale, &format!("{text}{edit}"));
                }
                for (locale, text) in r.description.0.clone() {
                    r.description
                        .insert_plain(&locale, &format!("{text} Testo rivisto{edit}."));
                }
                r
            })
            .collect();
        let started = Instant::now();
        fill_store(&engine.store, changed.into_iter())?;
        catch_up(&engine.store, &engine.index)?;
        times.push(started.elapsed().as_secs_f64());
    }
    Ok(Incremental {
        runs: times,
        index_bytes: dir_bytes(&data_dir.join("index")),
    })
}

/// Opens a store and index filled by an earlier [`load_snodo`].
pub fn open_snodo(data_dir: &Path) -> Result<Snodo> {
    Ok(Snodo {
        store: Arc::new(Store::open(&data_dir.join("snodo.sqlite3"))?),
        index: Arc::new(Index::open(&data_dir.join("index"))?),
    })
}

/// Store and index under `data_dir` (the layout `snodo serve` reads: `snodo.sqlite3`, `index/`).
pub fn load_snodo(data_dir: &Path, seed: u64, n: u64) -> Result<(Snodo, Build)> {
    std::fs::create_dir_all(data_dir)?;
    let db = data_dir.join("snodo.sqlite3");
    let index_dir = data_dir.join("index");
    let started = Instant::now();
    let store = Arc::new(Store::open(&db)?);
    fill_store(&store, corpus::records(seed, n))?;
    let load_secs = started.elapsed().as_secs_f64();
    let index = Index::open(&index_dir)?;
    let started = Instant::now();
    let docs = reindex(&store, &index)?;
    let index_secs = started.elapsed().as_secs_f64();
    // Records the store links as cross-source duplicates show once (the group's first id), as in
    // the product; FTS5 and PostgreSQL search all `n`, a difference of about half a percent.
    let mut canonical = 0u64;
    store.live_records(&mut |r| {
        let id = r.id.to_string();
        if !r.same_as.iter().any(|other| *other < id) {
            canonical += 1;
        }
        Ok(())
    })?;
    if docs != canonical {
        bail!("the index has {docs} documents, expected {canonical} ({n} records, duplicates shown once)");
    }
    let mut build = Build {
        load_secs,
        index_secs,
        ..Build::default()
    };
    let engine = Snodo {
        store,
        index: Arc::new(index),
    };
    // Incremental update: 1,000 records change upstream; time until search sees them.
    let changed: Vec<Record> = (0..1000u64.min(n))
        .map(|k| {
            let mut r = corpus::record(seed, k * (n / 1000).max(1));
            let title = r
                .title
                .pick(None, &r.default_locale)
                .map(|(l, t)| (l.to_owned(), t.to_owned()));
            if let Some((l, t)) = title {
                r.title.insert_plain(&l, &format!("{t} aggiornamentoxyz"));
            }
            r
        })
        .collect();
    let started = Instant::now();
    fill_store(&engine.store, changed.into_iter())?;
    build.update_store_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
    let started = Instant::now();
    catch_up(&engine.store, &engine.index)?;
    let probe = engine.index.search(
        &SearchRequest {
            q: Some("aggiornamentoxyz ".into()),
            limit: 0,
            ..SearchRequest::default()
        },
        today(),
    )?;
    build.update_visible_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
    // Changed records that stay hidden behind a duplicate are not expected among the hits.
    let mut expected = 0u64;
    engine.store.live_records(&mut |r| {
        let id = r.id.to_string();
        let changed = r.title.iter().any(|(_, t)| t.contains("aggiornamentoxyz"));
        if changed && !r.same_as.iter().any(|other| *other < id) {
            expected += 1;
        }
        Ok(())
    })?;
    if probe.total != expected {
        bail!(
            "after the update {} records match, expected {expected}",
            probe.total
        );
    }
    build.index_bytes = dir_bytes(&index_dir);
    build.total_bytes = dir_bytes(data_dir);
    Ok((engine, build))
}

impl Engine for Snodo {
    fn name(&self) -> &'static str {
        "snodo"
    }

    fn search(&mut self, q: &BenchQuery) -> Result<Answer> {
        let req = SearchRequest {
            q: Some(q.snodo_q()),
            kind: q.kind,
            status: q.status,
            region: q.region.clone(),
            source: None,
            sort: match q.order {
                Order::Relevance => Sort::Relevance,
                Order::Newest => Sort::Newest,
                Order::Closing => Sort::Closing,
            },
            limit: PAGE,
            offset: 0,
            lang: None,
            ..SearchRequest::default()
        };
        let res = self.index.search(&req, today())?;
        let f = &res.facets;
        Ok(Answer {
            total: res.total,
            snippets: res.items.iter().filter(|h| h.snippet.is_some()).count(),
            titles: res.items.into_iter().map(|h| h.title).collect(),
            facet_values: f.kind.len() + f.status.len() + f.region.len() + f.source.len(),
        })
    }
}

// ---------------------------------------------------------------- shared SQL

/// One row of the SQL engines.
struct Row {
    id: i64,
    kind: &'static str,
    region: Option<String>,
    source: String,
    start_day: Option<i64>,
    end_day: Option<i64>,
    newest_day: Option<i64>,
    title: String,
    summary: String,
    body: String,
    extra: String,
}

fn row(id: i64, r: &Record) -> Row {
    let t = flat(r);
    let published = r.published_at.map(|p| day(p.date_naive()));
    Row {
        id,
        kind: r.id.kind.as_str(),
        region: r.territory.region.clone(),
        source: r.id.source.clone(),
        start_day: r.start_date.map(day),
        end_day: r.end_date.map(day),
        newest_day: r.start_date.map(day).into_iter().chain(published).max(),
        title: t.title,
        summary: t.summary,
        body: t.body,
        extra: t.extra,
    }
}

/// The status expression and filters, with the same semantics as Snodo (inclusive days; no
/// start = started, no end = still running).
fn status_case() -> String {
    let t = day(today());
    format!(
        "CASE WHEN d.start_day > {t} THEN 'upcoming' WHEN d.end_day < {t} THEN 'closed' ELSE 'open' END"
    )
}

fn filters(q: &BenchQuery) -> String {
    let t = day(today());
    let mut s = String::new();
    if let Some(k) = q.kind {
        s.push_str(&format!(" AND d.kind = '{}'", k.as_str()));
    }
    if let Some(r) = &q.region {
        // Region codes are two digits (checked here, so inlining is safe).
        if r.chars().all(|c| c.is_ascii_digit()) {
            s.push_str(&format!(" AND d.region = '{r}'"));
        }
    }
    match q.status {
        Some(Status::Open) => s.push_str(&format!(
            " AND (d.start_day IS NULL OR d.start_day <= {t}) AND (d.end_day IS NULL OR d.end_day >= {t})"
        )),
        Some(Status::Closed) => s.push_str(&format!(
            " AND (d.start_day IS NULL OR d.start_day <= {t}) AND d.end_day < {t}"
        )),
        Some(Status::Upcoming) => s.push_str(&format!(" AND d.start_day > {t}")),
        None => {}
    }
    s
}

fn facet_values(rows: &[(String, Option<String>, String, String, i64)]) -> (u64, usize) {
    let mut total = 0;
    let mut kinds = std::collections::BTreeSet::new();
    let mut regions = std::collections::BTreeSet::new();
    let mut sources = std::collections::BTreeSet::new();
    let mut statuses = std::collections::BTreeSet::new();
    for (k, r, s, st, n) in rows {
        total += *n as u64;
        kinds.insert(k.clone());
        if let Some(r) = r {
            regions.insert(r.clone());
        }
        sources.insert(s.clone());
        statuses.insert(st.clone());
    }
    (
        total,
        kinds.len() + regions.len() + sources.len() + statuses.len(),
    )
}

// ---------------------------------------------------------------- SQLite FTS5

pub struct Fts5 {
    conn: rusqlite::Connection,
}

pub fn load_fts5(path: &Path, seed: u64, n: u64) -> Result<(Fts5, Build)> {
    let _ = std::fs::remove_file(path);
    let conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536;
         CREATE TABLE docs (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, region TEXT, source TEXT NOT NULL,
             start_day INTEGER, end_day INTEGER, newest_day INTEGER,
             title TEXT NOT NULL, summary TEXT NOT NULL, body TEXT NOT NULL, extra TEXT NOT NULL);
         CREATE VIRTUAL TABLE docs_fts USING fts5(title, summary, body, extra,
             content = 'docs', content_rowid = 'id',
             tokenize = 'unicode61 remove_diacritics 2');
         INSERT INTO docs_fts (docs_fts, rank) VALUES ('rank', 'bm25(3.0, 1.5, 1.0, 1.0)');",
    )?;
    let started = Instant::now();
    let tx = conn.unchecked_transaction()?;
    {
        let mut ins =
            tx.prepare("INSERT INTO docs VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")?;
        for (i, r) in corpus::records(seed, n).enumerate() {
            let w = row(i as i64 + 1, &r);
            ins.execute(rusqlite::params![
                w.id,
                w.kind,
                w.region,
                w.source,
                w.start_day,
                w.end_day,
                w.newest_day,
                w.title,
                w.summary,
                w.body,
                w.extra
            ])?;
        }
    }
    tx.commit()?;
    let load_secs = started.elapsed().as_secs_f64();
    let before = dir_bytes(path);
    let started = Instant::now();
    conn.execute_batch(
        "INSERT INTO docs_fts (docs_fts) VALUES ('rebuild');
         INSERT INTO docs_fts (docs_fts) VALUES ('optimize');
         PRAGMA wal_checkpoint(TRUNCATE);",
    )?;
    let index_secs = started.elapsed().as_secs_f64();
    let total_bytes = dir_bytes(path);
    Ok((
        Fts5 { conn },
        Build {
            load_secs,
            index_secs,
            index_bytes: total_bytes.saturating_sub(before),
            total_bytes,
            ..Build::default()
        },
    ))
}

/// FTS5 query syntax: every token quoted (so nothing is syntax), phrases quoted together,
/// the word being typed as a prefix query.
pub fn fts5_match(q: &BenchQuery) -> String {
    q.parts()
        .into_iter()
        .map(|p| match p {
            Part::Word(w) => format!("\"{w}\""),
            Part::Phrase(ws) => format!("\"{}\"", ws.join(" ")),
            Part::Prefix(w) => format!("\"{w}\"*"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn sql_order(q: &BenchQuery, relevance: &str) -> String {
    match q.order {
        Order::Relevance => relevance.to_owned(),
        Order::Newest => "d.newest_day DESC".to_owned(),
        Order::Closing => "d.end_day IS NULL, d.end_day".to_owned(),
    }
}

impl Engine for Fts5 {
    fn name(&self) -> &'static str {
        "sqlite-fts5"
    }

    fn search(&mut self, q: &BenchQuery) -> Result<Answer> {
        let m = fts5_match(q);
        let f = filters(q);
        let top_sql = format!(
            "SELECT d.title, d.summary, snippet(docs_fts, 2, '<mark>', '</mark>', '…', 24)
             FROM docs_fts JOIN docs d ON d.id = docs_fts.rowid
             WHERE docs_fts MATCH ?1{f} ORDER BY {} LIMIT {PAGE}",
            sql_order(q, "docs_fts.rank")
        );
        let mut st = self.conn.prepare_cached(&top_sql)?;
        let rows = st.query_map([&m], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(2)?))
        })?;
        let mut titles = Vec::new();
        let mut snippets = 0;
        for r in rows {
            let (t, s) = r?;
            titles.push(t.lines().next().unwrap_or_default().to_owned());
            snippets += usize::from(s.is_some_and(|s| s.contains("<mark>")));
        }
        let facet_sql = format!(
            "SELECT d.kind, d.region, d.source, {}, count(*)
             FROM docs_fts JOIN docs d ON d.id = docs_fts.rowid
             WHERE docs_fts MATCH ?1{f} GROUP BY 1, 2, 3, 4",
            status_case()
        );
        let mut st = self.conn.prepare_cached(&facet_sql)?;
        let groups = st
            .query_map([&m], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let (total, facet_values) = facet_values(&groups);
        Ok(Answer {
            total,
            titles,
            snippets,
            facet_values,
        })
    }
}

// ---------------------------------------------------------------- PostgreSQL

pub struct Postgres {
    client: postgres::Client,
}

/// Connection string of the server the harness script starts (`bench/run.sh`).
pub const DEFAULT_PG: &str = "host=127.0.0.1 port=55432 user=postgres dbname=postgres";

fn copy_field(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

fn copy_opt<T: ToString>(out: &mut String, v: &Option<T>) {
    match v {
        Some(v) => copy_field(out, &v.to_string()),
        None => out.push_str("\\N"),
    }
}

pub fn load_postgres(url: &str, seed: u64, n: u64) -> Result<(Postgres, Build)> {
    use std::io::Write as _;
    let mut client = postgres::Client::connect(url, postgres::NoTls).with_context(|| {
        format!("connecting to PostgreSQL at `{url}` (start it with bench/run.sh)")
    })?;
    client.batch_execute(
        "SET client_min_messages = warning;
         DROP TABLE IF EXISTS docs;
         CREATE EXTENSION IF NOT EXISTS unaccent;
         DROP TEXT SEARCH CONFIGURATION IF EXISTS snodo_it;
         CREATE TEXT SEARCH CONFIGURATION snodo_it (COPY = italian);
         ALTER TEXT SEARCH CONFIGURATION snodo_it
             ALTER MAPPING FOR hword, hword_part, word WITH unaccent, italian_stem;
         CREATE TABLE docs (id integer PRIMARY KEY, kind text NOT NULL, region text, source text NOT NULL,
             start_day integer, end_day integer, newest_day integer,
             title text NOT NULL, summary text NOT NULL, body text NOT NULL, extra text NOT NULL,
             tsv tsvector);",
    )?;
    let started = Instant::now();
    {
        let mut w = client.copy_in(
            "COPY docs (id, kind, region, source, start_day, end_day, newest_day, title, summary, body, extra) FROM STDIN",
        )?;
        let mut line = String::new();
        for (i, r) in corpus::records(seed, n).enumerate() {
            let x = row(i as i64 + 1, &r);
            line.clear();
            line.push_str(&format!("{}\t{}\t", x.id, x.kind));
            copy_opt(&mut line, &x.region);
            line.push('\t');
            copy_field(&mut line, &x.source);
            for d in [x.start_day, x.end_day, x.newest_day] {
                line.push('\t');
                copy_opt(&mut line, &d);
            }
            for t in [&x.title, &x.summary, &x.body, &x.extra] {
                line.push('\t');
                copy_field(&mut line, t);
            }
            line.push('\n');
            w.write_all(line.as_bytes())?;
        }
        w.finish()?;
    }
    let load_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    client.batch_execute(
        "UPDATE docs SET tsv =
             setweight(to_tsvector('snodo_it', title), 'A') ||
             setweight(to_tsvector('snodo_it', summary), 'B') ||
             setweight(to_tsvector('snodo_it', body), 'C') ||
             setweight(to_tsvector('snodo_it', extra), 'D');
         CREATE INDEX docs_tsv ON docs USING gin (tsv);",
    )?;
    client.batch_execute("VACUUM ANALYZE docs")?;
    let index_secs = started.elapsed().as_secs_f64();
    let sizes = client.query_one(
        "SELECT pg_relation_size('docs_tsv')::bigint, pg_total_relation_size('docs')::bigint",
        &[],
    )?;
    let (gin, total): (i64, i64) = (sizes.get(0), sizes.get(1));
    Ok((
        Postgres { client },
        Build {
            load_secs,
            index_secs,
            index_bytes: gin as u64,
            total_bytes: total as u64,
            ..Build::default()
        },
    ))
}

/// `to_tsquery` text: words and phrases joined by `&`, the word being typed as `word:*`.
/// Tokens are letters and digits only, so nothing in them is tsquery syntax.
pub fn tsquery(q: &BenchQuery) -> String {
    q.parts()
        .into_iter()
        .map(|p| match p {
            Part::Word(w) => w,
            Part::Phrase(ws) => format!("({})", ws.join(" <-> ")),
            Part::Prefix(w) => format!("{w}:*"),
        })
        .collect::<Vec<_>>()
        .join(" & ")
}

impl Engine for Postgres {
    fn name(&self) -> &'static str {
        "postgresql"
    }

    fn search(&mut self, q: &BenchQuery) -> Result<Answer> {
        let tq = tsquery(q);
        let f = filters(q);
        let top_sql = format!(
            "SELECT t.title, t.summary,
                    ts_headline('snodo_it', t.body, t.q,
                        'StartSel=<mark>, StopSel=</mark>, MaxWords=35, MinWords=15, MaxFragments=1')
             FROM (SELECT d.title, d.summary, d.body, q.q, ts_rank(d.tsv, q.q) AS rank, d.newest_day, d.end_day
                   FROM docs d, to_tsquery('snodo_it', $1) AS q(q)
                   WHERE d.tsv @@ q.q{f}
                   ORDER BY {} LIMIT {PAGE}) t",
            sql_order(q, "rank DESC")
        );
        let rows = self.client.query(&top_sql, &[&tq])?;
        let mut titles = Vec::new();
        let mut snippets = 0;
        for r in &rows {
            let t: String = r.get(0);
            let s: Option<String> = r.get(2);
            titles.push(t.lines().next().unwrap_or_default().to_owned());
            snippets += usize::from(s.is_some_and(|s| s.contains("<mark>")));
        }
        let facet_sql = format!(
            "SELECT d.kind, d.region, d.source, {}, count(*)
             FROM docs d WHERE d.tsv @@ to_tsquery('snodo_it', $1){f} GROUP BY 1, 2, 3, 4",
            status_case()
        );
        let groups: Vec<(String, Option<String>, String, String, i64)> = self
            .client
            .query(&facet_sql, &[&tq])?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect();
        let (total, facet_values) = facet_values(&groups);
        Ok(Answer {
            total,
            titles,
            snippets,
            facet_values,
        })
    }
}

/// Where an engine's files go under the work directory.
pub fn engine_path(work: &Path, engine: &str) -> PathBuf {
    match engine {
        "sqlite-fts5" => work.join("fts5.sqlite3"),
        _ => work.join("snodo-data"),
    }
}
