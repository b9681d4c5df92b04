//! `snodo-bench`: the benchmark harness. See `bench/run.sh` for the whole run and `BENCHMARKS.md`
//! for results.
//!
//! ```text
//! snodo-bench run --records N [--engines snodo,fts5,pg] [--reps 5] [--queries 260]
//!                 [--seed 42] [--work DIR] [--pg URL] [--out FILE.json]
//! snodo-bench report FILE.json...           markdown tables with ratios (first file = Snodo)
//! snodo-bench prefill --records N --data-dir DIR    store + index for `snodo serve`
//! snodo-bench wrk-lua --records N --out FILE.lua    the query mix as a wrk script
//! snodo-bench incremental --data-dir DIR [--records N] [--runs 200] [--batch 1000]
//!                 after `prefill`: harvests of changed records, one index commit each
//! snodo-bench harvest --records N [--sources 90] [--work DIR] [--snodo PATH]
//!                 the corpus as a JSON API, harvested twice by `snodo harvest`: time, RSS, disk,
//!                 and the seconds each 100k records took to be stored
//! snodo-bench harvest --records N --growth REPS
//!                 the last tenth of the sources into an empty store and into one holding the
//!                 other nine tenths, alternately: whether storing costs more in a large store
//! snodo-bench engine --data-dir DIR [--reps 200] QUERY...
//!                 in-process latency of each query (top 20, total, facets, snippets): min, p50, p99;
//!                 a query ending in a space is finished, else its last word is being typed
//! snodo-bench http --addr 127.0.0.1:18080 [--reps 5] [--out FILE.json]
//!                 latency per class of the "near me" queries against a running `snodo serve`
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use snodo_bench::corpus;
use snodo_bench::engines::{self, Engine};
use snodo_bench::http;
use snodo_bench::{markdown, peak_rss_kib, queries, reset_peak_rss, run, Report};
use snodo_store::Store;

struct Args {
    flags: HashMap<String, String>,
    rest: Vec<String>,
}

impl Args {
    fn parse(args: impl Iterator<Item = String>) -> Args {
        let mut flags = HashMap::new();
        let mut rest = Vec::new();
        let mut it = args.peekable();
        while let Some(a) = it.next() {
            if let Some(name) = a.strip_prefix("--") {
                let v = it.next_if(|n| !n.starts_with("--")).unwrap_or_default();
                flags.insert(name.to_owned(), v);
            } else {
                rest.push(a);
            }
        }
        Args { flags, rest }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.flags.get(name).map(String::as_str)
    }

    fn num(&self, name: &str, default: u64) -> Result<u64> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .replace('_', "")
                .replace('k', "000")
                .replace('M', "000000")
                .parse()
                .with_context(|| format!("--{name} takes a number, got `{v}`")),
        }
    }
}

fn main() -> Result<()> {
    let mut argv = std::env::args().skip(1);
    let Some(cmd) = argv.next() else {
        bail!("usage: snodo-bench run|report|prefill|wrk-lua … (see the crate docs)");
    };
    let args = Args::parse(argv);
    let seed = args.num("seed", 42)?;
    // The realistic corpus unless asked otherwise (`--corpus template`: the first one).
    corpus::set_profile(match args.get("corpus").unwrap_or("realistic") {
        "realistic" => corpus::Profile::Realistic,
        "template" => corpus::Profile::Template,
        other => bail!("--corpus takes realistic or template, not `{other}`"),
    });
    match cmd.as_str() {
        "run" => cmd_run(&args, seed),
        "report" => {
            let mut reports: Vec<Report> = Vec::new();
            for f in &args.rest {
                let text = std::fs::read_to_string(f).with_context(|| format!("reading {f}"))?;
                reports.extend(serde_json::from_str::<Vec<Report>>(&text)?);
            }
            print!("{}", markdown(&reports));
            Ok(())
        }
        "prefill" => {
            let n = args.num("records", 100_000)?;
            let dir = PathBuf::from(args.get("data-dir").context("--data-dir DIR is required")?);
            let (_e, b) = engines::load_snodo(&dir, seed, n)?;
            println!(
                "prefilled {} with {n} records: store {:.1} s, reindex {:.1} s, index {:.1} MiB",
                dir.display(),
                b.load_secs,
                b.index_secs,
                b.index_bytes as f64 / 1048576.0
            );
            Ok(())
        }
        "incremental" => {
            // After `prefill`: `runs` harvests of `batch` changed records each, one index commit
            // each; then measure with `snodo serve` + `http`, against the same after `reindex`.
            let dir = PathBuf::from(args.get("data-dir").context("--data-dir DIR is required")?);
            let n = args.num("records", 100_000)?;
            let runs = args.num("runs", 200)?;
            let batch = args.num("batch", 1000)?;
            let r = engines::incremental(&dir, seed, n, runs, batch)?;
            let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
            let k = r.runs.len().min(10);
            println!(
                "{runs} runs of {batch} changed records: {:.1} s in all; first {k} runs {:.0} ms each, last {k} {:.0} ms each; index {:.1} MiB",
                r.runs.iter().sum::<f64>(),
                mean(&r.runs[..k]) * 1000.0,
                mean(&r.runs[r.runs.len() - k..]) * 1000.0,
                r.index_bytes as f64 / 1048576.0
            );
            Ok(())
        }
        "store-load" => {
            // Into PostgreSQL (`--database-url`, an empty database) or a SQLite file under
            // `--data-dir`: the load, then the same records again (nothing changes).
            let n = args.num("records", 100_000)?;
            let (store, size): (Store, Box<dyn Fn() -> Result<u64>>) =
                match (args.get("database-url"), args.get("data-dir")) {
                    (Some(url), _) => {
                        let u = url.to_owned();
                        (
                            Store::connect(url)?,
                            Box::new(move || snodo_bench::cluster::pg_database_bytes(&u)),
                        )
                    }
                    (None, Some(dir)) => {
                        let file = PathBuf::from(dir).join("snodo.sqlite3");
                        let f = file.clone();
                        (
                            Store::open(&file)?,
                            Box::new(move || {
                                let wal = f.with_extension("sqlite3-wal");
                                Ok(std::fs::metadata(&f)?.len()
                                    + std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0))
                            }),
                        )
                    }
                    _ => bail!("--database-url URL or --data-dir DIR is required"),
                };
            let l = snodo_bench::cluster::store_load(&store, seed, n)?;
            println!(
                "{} {n} records: load {:.1} s ({:.0} records/s), unchanged again {:.1} s, store {:.0} MiB, peak RSS {:.0} MiB",
                store.location(),
                l.load_secs,
                n as f64 / l.load_secs,
                l.unchanged_secs,
                size()? as f64 / 1048576.0,
                l.peak_rss_mib
            );
            Ok(())
        }
        "harvest" => {
            // The corpus as a JSON API's pages, harvested by the real `snodo harvest` through
            // the generic json connector; twice (the second time nothing changed).
            let n = args.num("records", 100_000)?;
            let sources = args.num("sources", 90)? as usize;
            let work = PathBuf::from(args.get("work").unwrap_or("/tmp/snodo-bench-harvest"));
            let snodo = match args.get("snodo") {
                Some(p) => PathBuf::from(p),
                None => std::env::current_exe()?
                    .parent()
                    .context("the bench binary has no directory")?
                    .join("snodo"),
            };
            let pages_dir = work.join(format!(
                "pages-{}-{n}-{sources}",
                args.get("corpus").unwrap_or("realistic")
            ));
            let started = std::time::Instant::now();
            let manifest = snodo_bench::harvest::write_pages(seed, n, sources, &pages_dir)?;
            eprintln!(
                "# pages: {} MB of JSON in {} pages ({:.0} s to write or find)",
                manifest.bytes / 1_000_000,
                manifest.pages.iter().sum::<usize>(),
                started.elapsed().as_secs_f64()
            );
            let site = snodo_bench::harvest::serve(pages_dir, &manifest)?;
            let data = work.join("data");
            let _ = std::fs::remove_dir_all(&data);
            let config = work.join("snodo.toml");
            std::fs::write(
                &config,
                snodo_bench::harvest::config(site.addr, &manifest, &data),
            )?;
            if let Some(reps) = args.get("growth") {
                let reps: usize = reps
                    .parse()
                    .context("--growth takes a number of repetitions")?;
                return harvest_growth(&snodo, &config, &manifest, &work, reps.max(1));
            }
            for label in ["first harvest", "again, nothing changed"] {
                let t = snodo_bench::harvest::run_harvest(&snodo, &config, &[])?;
                let runs = harvest_runs(&t.output)?;
                let sum = |key: &str| summed(&runs, key);
                let store = snodo_bench::harvest::disk_bytes(&data.join("snodo.sqlite3"))
                    + snodo_bench::harvest::disk_bytes(&data.join("snodo.sqlite3-wal"));
                let index = snodo_bench::harvest::disk_bytes(&data.join("index"));
                let compacted = match t.compaction {
                    Some((from, to, secs)) => format!(
                        " (searchable after {:.1} s, then the index compacted from {from} to {to} \
                         segments in {secs:.1} s)",
                        t.secs - secs
                    ),
                    None => String::new(),
                };
                println!(
                    "{label}: {n} records from {sources} sources in {:.1} s{compacted} \
                     ({:.0} records/s), peak RSS {:.0} MiB ({:.0} MiB anonymous); added {}, \
                     unchanged {}, failed {}; store {:.0} MiB ({:.2}× the records' {:.0} MiB of \
                     text), index {:.0} MiB",
                    t.secs,
                    n as f64 / t.secs,
                    t.peak_rss_kib as f64 / 1024.0,
                    t.peak_anon_kib as f64 / 1024.0,
                    sum("added"),
                    sum("unchanged"),
                    sum("failed"),
                    store as f64 / 1048576.0,
                    store as f64 / manifest.text_bytes.max(1) as f64,
                    manifest.text_bytes as f64 / 1048576.0,
                    index as f64 / 1048576.0,
                );
                if let (Some(first), Some(last)) = (t.per_100k.first(), t.per_100k.last()) {
                    if t.per_100k.len() > 1 && sum("added") > 0 {
                        let slices: Vec<String> =
                            t.per_100k.iter().map(|s| format!("{s:.1}")).collect();
                        println!(
                            "  seconds per 100k records stored, in order: {} (last/first {:.2}, \
                             slowest/first {:.2})",
                            slices.join(" · "),
                            last / first,
                            t.per_100k.iter().copied().fold(0.0, f64::max) / first
                        );
                    }
                }
            }
            Ok(())
        }
        "follow-lag" => {
            let url = args
                .get("database-url")
                .context("--database-url URL is required")?;
            let addr = args.get("addr").unwrap_or("127.0.0.1:18080");
            let changes = args.num("changes", 100)?;
            let pause = Duration::from_millis(args.num("pause-ms", 200)?);
            let store = Store::connect(url)?;
            let mut lags = snodo_bench::cluster::follow_lag(&store, seed, addr, changes, pause)?;
            lags.sort_by(f64::total_cmp);
            let pct =
                |p: f64| lags[((lags.len() as f64 * p).ceil() as usize).clamp(1, lags.len()) - 1];
            println!(
                "{changes} changes, commit to searchable on the replica at {addr}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                pct(0.50),
                pct(0.99),
                lags[lags.len() - 1]
            );
            Ok(())
        }
        "stats" => {
            let n = args.num("records", 10_000)?;
            let st = snodo_bench::realistic::stats(seed, n);
            println!("{}", serde_json::to_string_pretty(&st)?);
            Ok(())
        }
        "engine" => {
            let dir = PathBuf::from(args.get("data-dir").context("--data-dir DIR is required")?);
            let reps = args.num("reps", 200)?.max(1) as usize;
            let mut engine = engines::open_snodo(&dir)?;
            for text in &args.rest {
                let q = queries::BenchQuery::as_sent(text);
                let total = engine.search(&q)?.total;
                let mut ms: Vec<f64> = (0..reps)
                    .map(|_| {
                        let started = std::time::Instant::now();
                        engine
                            .search(&q)
                            .map(|_| started.elapsed().as_secs_f64() * 1e3)
                    })
                    .collect::<Result<_>>()?;
                ms.sort_by(f64::total_cmp);
                let at = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
                println!(
                    "{text:?}: {total} matches; min {:.3} ms, p50 {:.3} ms, p99 {:.3} ms over {reps} runs",
                    ms[0],
                    at(0.5),
                    at(0.99)
                );
            }
            Ok(())
        }
        "wrk-lua" => {
            let n = args.num("records", 100_000)?;
            let out = args.get("out").context("--out FILE is required")?;
            std::fs::write(out, wrk_lua(seed, n))?;
            Ok(())
        }
        "http" => {
            let addr = args.get("addr").unwrap_or("127.0.0.1:18080");
            let reps = args.num("reps", 5)? as usize;
            let qs = match args.get("mix").unwrap_or("near-me") {
                "near-me" => http::near_me_queries(),
                "citizen" => {
                    let n = args.num("records", 100_000)?;
                    http::citizen_queries(seed, n, 20)
                }
                other => bail!("--mix takes near-me or citizen, not `{other}`"),
            };
            eprintln!("{} queries, {reps} timed runs each", qs.len());
            let (rows, quality) = http::measure(addr, &qs, reps)?;
            if let Some(out) = args.get("out") {
                std::fs::write(out, serde_json::to_string_pretty(&rows)?)?;
            }
            print!("{}", http::markdown(&rows));
            if quality.labelled > 0 {
                println!(
                    "labelled queries: expected record in the top 3 for {}/{}",
                    quality.found, quality.labelled
                );
            }
            Ok(())
        }
        other => bail!("unknown command `{other}`; expected run, report, prefill, wrk-lua or http"),
    }
}

/// Whether storing a record costs more in a large store: the last tenth of the sources (in
/// harvest order) harvested into an empty store and into one that holds the other nine tenths,
/// alternately, `reps` times each. The same records, the same work; only the store and index
/// they join differ. Issue 13 asks that the last 100k of a million take at most 1.2× the first
/// 100k; within one harvest the machine's speed and the index's merges move each 100k by more
/// than that, so the comparison is made this way.
fn harvest_growth(
    snodo: &std::path::Path,
    config: &std::path::Path,
    manifest: &snodo_bench::harvest::Manifest,
    work: &std::path::Path,
    reps: usize,
) -> Result<()> {
    use snodo_bench::harvest::{copy_dir, english_sources, harvest_order, run_harvest};
    let order: Vec<String> = harvest_order(manifest.sources, english_sources(manifest.sources))
        .into_iter()
        .map(|k| format!("bench-{k}"))
        .collect();
    let tail = manifest.sources.div_ceil(10);
    let (before, last) = order.split_at(order.len() - tail);
    let data = work.join("data");
    let kept = work.join("data-before-last-tenth");
    let _ = std::fs::remove_dir_all(&kept);
    let t = run_harvest(snodo, config, before)?;
    let stored = summed(&harvest_runs(&t.output)?, "added");
    std::fs::rename(&data, &kept).context("keeping the store of the first nine tenths")?;
    println!(
        "the first {} sources: {stored} records in {:.1} s",
        before.len(),
        t.secs
    );
    let mut rows: Vec<(&str, f64)> = Vec::new();
    for _ in 0..reps {
        for (label, from) in [
            ("into an empty store", None),
            ("into the large store", Some(&kept)),
        ] {
            let _ = std::fs::remove_dir_all(&data);
            if let Some(from) = from {
                copy_dir(from, &data)?;
            }
            let t = run_harvest(snodo, config, last)?;
            let secs = snodo_bench::harvest::seconds_to_last_finished(&t.log)
                .context("the harvest's log has no \"harvest finished\" line")?;
            let n = summed(&harvest_runs(&t.output)?, "added");
            println!(
                "the last {tail} sources {label}: {n} records stored and searchable in {secs:.1} s"
            );
            rows.push((label, secs));
        }
    }
    let mean = |label: &str| {
        let v: Vec<f64> = rows.iter().filter(|r| r.0 == label).map(|r| r.1).collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    println!(
        "into a store of {stored} records: {:.2}× the time into an empty one (means of {reps})",
        mean("into the large store") / mean("into an empty store")
    );
    let _ = std::fs::remove_dir_all(&kept);
    Ok(())
}

/// The runs `snodo harvest --json` printed.
fn harvest_runs(output: &str) -> Result<serde_json::Value> {
    serde_json::from_str(output).with_context(|| format!("snodo harvest --json printed: {output}"))
}

/// One of the runs' counts (`added`, `unchanged`, `failed`), summed over the runs.
fn summed(runs: &serde_json::Value, key: &str) -> u64 {
    runs.as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            r.pointer(&format!("/counts/{key}"))
                .and_then(|v| v.as_u64())
        })
        .sum()
}

fn cmd_run(args: &Args, seed: u64) -> Result<()> {
    let n = args.num("records", 10_000)?;
    let reps = args.num("reps", 5)? as usize;
    let nq = args.num("queries", 1000)? as usize;
    let names = args.get("engines").unwrap_or("snodo,fts5,pg");
    let pg = args.get("pg").unwrap_or(engines::DEFAULT_PG).to_owned();
    let work = match args.get("work") {
        Some(w) => PathBuf::from(w),
        None => std::env::temp_dir().join(format!("snodo-bench-{n}")),
    };
    std::fs::create_dir_all(&work)?;
    let qs = queries::build(seed, n, nq);
    eprintln!("{} queries, {n} records, {reps} timed runs each", qs.len());
    let mut reports = Vec::new();
    for name in names.split(',') {
        reset_peak_rss();
        eprintln!("loading {name}…");
        let (mut engine, build): (Box<dyn Engine>, _) = match name {
            "snodo" => {
                let dir = work.join("snodo-data");
                if args.get("reuse").is_some() && dir.join("index").is_dir() {
                    // Query an index built by an earlier run (for profiling).
                    let e = engines::open_snodo(&dir)?;
                    (Box::new(e), engines::Build::default())
                } else {
                    let _ = std::fs::remove_dir_all(&dir);
                    let (e, b) = engines::load_snodo(&dir, seed, n)?;
                    (Box::new(e), b)
                }
            }
            "fts5" => {
                let (e, b) = engines::load_fts5(&work.join("fts5.sqlite3"), seed, n)?;
                (Box::new(e), b)
            }
            "pg" => {
                let (e, b) = engines::load_postgres(&pg, seed, n)?;
                (Box::new(e), b)
            }
            other => bail!("unknown engine `{other}`; expected snodo, fts5 or pg"),
        };
        let rss_build = peak_rss_kib();
        eprintln!("querying {name}… (build: {build:?})");
        let report = run(engine.as_mut(), &qs, reps, n, build, rss_build)?;
        for e in report.errors.iter().take(5) {
            eprintln!("  error: {e}");
        }
        reports.push(report);
    }
    let json = serde_json::to_string_pretty(&reports)?;
    if let Some(out) = args.get("out") {
        std::fs::write(out, &json)?;
    }
    print!("{}", markdown(&reports));
    Ok(())
}

/// The query mix for wrk (every query of the set as an API request, the same share of each
/// class as the set), in a shuffled order, each of wrk's threads starting at its own place.
/// Walked in the order `queries::build` makes it (class by class, both threads from the same
/// place: wrk does not seed Lua's random numbers), the 64 requests in flight were mostly of one
/// class at a time, so the slowest class (words being typed) came as one burst: a test of
/// bursts of one kind rather than of a mix.
fn wrk_lua(seed: u64, n: u64) -> String {
    let mut qs = queries::build(seed, n, usize::MAX);
    let mut rng = corpus::Rng::new(seed ^ 0x5eed_0fa1);
    for i in (1..qs.len()).rev() {
        qs.swap(i, rng.below(i + 1));
    }
    let paths: Vec<String> = qs
        .iter()
        .map(|q| format!("  \"{}\",", http::api_path(q, queries::PAGE)))
        .collect();
    format!(
        "-- Generated by `snodo-bench wrk-lua`: Snodo's query mix, shuffled.\npaths = {{\n{}\n}}\n\
         counter = 0\n\
         threads = 0\n\
         setup = function(thread)\n  thread:set(\"id\", threads)\n  threads = threads + 1\nend\n\
         init = function(args) counter = (id * 97) % #paths end\n\
         request = function()\n  counter = counter % #paths + 1\n  return wrk.format(\"GET\", paths[counter])\nend\n",
        paths.join("\n")
    )
}
