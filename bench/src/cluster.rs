//! Beyond one machine: loading the store on PostgreSQL against SQLite, and how long a change
//! takes to become searchable on an API replica (`snodo serve --role api`) over HTTP.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chrono::Utc;
use serde::Serialize;
use snodo_store::{HarvestBatch, Outcome, RunFinish, Store};

use crate::{corpus, engines, http};

/// One load of `n` records into an empty store, then the same records again (nothing changes).
#[derive(Debug, Serialize)]
pub struct Load {
    pub records: u64,
    pub load_secs: f64,
    pub unchanged_secs: f64,
    pub peak_rss_mib: f64,
}

pub fn store_load(store: &Store, seed: u64, n: u64) -> Result<Load> {
    let started = Instant::now();
    engines::fill_store(store, corpus::records(seed, n))?;
    let load_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    engines::fill_store(store, corpus::records(seed, n))?;
    let unchanged_secs = started.elapsed().as_secs_f64();
    Ok(Load {
        records: n,
        load_secs,
        unchanged_secs,
        peak_rss_mib: crate::peak_rss_kib().unwrap_or(0) as f64 / 1024.0,
    })
}

/// Milliseconds from the commit of a one-record harvest batch (as the harvester leader writes
/// it) until the replica at `addr` finds the new word over HTTP, for `changes` changes a
/// `pause` apart. The store must hold the bench corpus (`store-load` or `prefill`).
pub fn follow_lag(
    store: &Store,
    seed: u64,
    addr: &str,
    changes: u64,
    pause: Duration,
) -> Result<Vec<f64>> {
    let mut client = http::Client::connect(addr)?;
    let mut lags = Vec::new();
    for i in 0..changes {
        let mut r = corpus::record(seed, i);
        let word = format!("lagprobe{i}x{}", Utc::now().timestamp_millis());
        let title = r
            .title
            .pick(None, &r.default_locale)
            .map(|(l, t)| (l.to_owned(), t.to_owned()));
        let Some((locale, text)) = title else {
            bail!("record {i} of the corpus has no title");
        };
        r.title.insert_plain(&locale, &format!("{text} {word}"));
        let source = r.id.source.clone();
        let run = store.start_run(&source, Utc::now())?;
        let applied = store.apply_harvest(
            run,
            &HarvestBatch::new(&source, std::slice::from_ref(&r), false, None, Utc::now()),
        )?;
        let committed = Instant::now();
        store.finish_run(
            run,
            &RunFinish {
                finished_at: Utc::now(),
                outcome: Outcome::Success,
                counts: applied.counts,
                error: None,
                warnings: Vec::new(),
                requests: 0,
            },
        )?;
        let path = format!("/api/v1/search?limit=1&q={word}");
        loop {
            let (status, body) = client.get_body(&path)?;
            if status != 200 {
                bail!("the replica answered {status} to {path}");
            }
            if !body.contains("\"total\":0,") {
                break;
            }
            if committed.elapsed() > Duration::from_secs(30) {
                bail!("change {i} not searchable on the replica after 30 s");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        lags.push(committed.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(pause);
    }
    Ok(lags)
}

/// The size PostgreSQL reports for the database of `url`.
pub fn pg_database_bytes(url: &str) -> Result<u64> {
    let mut c =
        postgres::Client::connect(url, postgres::NoTls).context("connecting for the size")?;
    let n: i64 = c
        .query_one("SELECT pg_database_size(current_database())", &[])?
        .get(0);
    Ok(u64::try_from(n).unwrap_or(0))
}
