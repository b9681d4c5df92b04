//! The one-time computation of duplicate keys and links for records stored by a version that
//! did not detect duplicates (schema 1), run when the store is opened.
//!
//! It runs in chunks of about [`CHUNK`] records, each its own transaction that also records how
//! far it got (table `duplicates_backfill`, migration 3): memory stays bounded, the WAL stays
//! small, and a crash or a kill in the middle loses at most one chunk, which the next open redoes.
//! Three phases: the keys of every record (in id order), the links between live records (in key
//! order), then a new `seq` for every linked record (in id order) so that the indexer picks up
//! their `same_as`. Nothing else writes while it runs: it finishes before [`crate::Store::open`]
//! returns. The result is what computing it all in one transaction gives, keys, links, seqs and
//! change log alike (see the test `the_chunked_backfill_writes_what_the_one_transaction_...`).

use std::time::Instant;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::duplicates;
use crate::error::{Ctx, StoreError};

/// Records (key rows while linking) per transaction.
pub(crate) const CHUNK: usize = 5000;

/// The page cache while the backfill runs, negative: in KiB (SQLite's convention).
const BACKFILL_CACHE_KIB: i64 = -131_072;

/// A progress line at least every this many records of a phase.
const LOG_EVERY: usize = 50_000;

const CTX: &str = "linking duplicates of records stored by an older version";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Keys,
    Links,
    Bump,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Keys => "keys",
            Phase::Links => "links",
            Phase::Bump => "bump",
        }
    }

    fn parse(s: &str) -> Option<Phase> {
        [Phase::Keys, Phase::Links, Phase::Bump]
            .into_iter()
            .find(|p| p.as_str() == s)
    }

    fn next(self) -> Option<Phase> {
        match self {
            Phase::Keys => Some(Phase::Links),
            Phase::Links => Some(Phase::Bump),
            Phase::Bump => None,
        }
    }

    /// What the phase is doing, for the operator.
    fn doing(self) -> &'static str {
        match self {
            Phase::Keys => "computing match keys",
            Phase::Links => "finding duplicates by shared title and link keys",
            Phase::Bump => "queueing linked records for re-indexing",
        }
    }

    /// How many items the phase goes through in all (records; title and link keys; linked
    /// records), and how many of them are at or before `after` (done, when resuming).
    fn totals(self, conn: &Connection, after: &str) -> rusqlite::Result<(usize, usize)> {
        let sql = match self {
            Phase::Keys => "SELECT COUNT(*), COUNT(*) FILTER (WHERE id <= ?1) FROM records",
            Phase::Links => {
                "SELECT COUNT(*), COUNT(*) FILTER (WHERE key <= ?1)
                 FROM record_keys WHERE key < 'u:'"
            }
            Phase::Bump => {
                "SELECT COUNT(*), COUNT(*) FILTER (WHERE record_id <= ?1)
                 FROM (SELECT record_id FROM record_links
                       UNION SELECT record_id FROM relink_bump)"
            }
        };
        let (total, done): (i64, i64) =
            conn.query_row(sql, [after], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok((count(total), count(done)))
    }

    fn step(
        self,
        tx: &Connection,
        after: &str,
        chunk: usize,
    ) -> Result<Option<(usize, String)>, crate::error::DbError> {
        match self {
            Phase::Keys => duplicates::backfill_keys(tx, after, chunk),
            Phase::Links => duplicates::backfill_links(tx, after, chunk),
            Phase::Bump => duplicates::backfill_bump(tx, after, chunk),
        }
    }
}

/// Runs (or resumes) the backfill to the end; a no-op when there is nothing to do.
pub(crate) fn run(conn: &mut Connection) -> Result<(), StoreError> {
    run_chunks(conn, CHUNK, None).map(|_| ())
}

/// Runs chunks of about `chunk` records (key rows while linking), at most `budget` of them (all
/// when `None`); true when the backfill is done. Stopping early is what a crash between two
/// chunks does.
pub(crate) fn run_chunks(
    conn: &mut Connection,
    chunk: usize,
    budget: Option<usize>,
) -> Result<bool, StoreError> {
    let Some((phase, after)) = start(conn)? else {
        return Ok(true);
    };
    // Links and keys are inserted in an order unrelated to their tables' order: a bigger page
    // cache than the default 2 MiB saves most of the reads. Restored when done.
    let cache: i64 = conn
        .pragma_query_value(None, "cache_size", |r| r.get(0))
        .ctx(CTX)?;
    conn.pragma_update(None, "cache_size", BACKFILL_CACHE_KIB)
        .ctx(CTX)?;
    let done = run_phases(conn, phase, after, chunk, budget);
    let restored = conn.pragma_update(None, "cache_size", cache);
    let done = done?;
    restored.ctx(CTX)?;
    Ok(done)
}

fn run_phases(
    conn: &mut Connection,
    mut phase: Phase,
    mut after: String,
    chunk: usize,
    budget: Option<usize>,
) -> Result<bool, StoreError> {
    let began = Instant::now();
    let mut chunks = 0;
    loop {
        if phase == Phase::Links {
            // Linking walks the title and link keys in order; the store indexes titles only by
            // their hashes (schema 8). This index lasts as long as the backfill.
            conn.execute_batch(
                "CREATE INDEX IF NOT EXISTS record_keys_backfill_by_key ON record_keys(key)",
            )
            .ctx(CTX)?;
        }
        let (total, mut done) = phase.totals(conn, &after).ctx(CTX)?;
        tracing::info!(
            phase = phase.as_str(),
            done,
            total,
            "records stored by an older version: {} (once; resumes where it stopped if interrupted)",
            phase.doing()
        );
        let phase_began = Instant::now();
        let done_before = done;
        let mut next_log = done + LOG_EVERY;
        loop {
            if budget.is_some_and(|b| chunks >= b) {
                return Ok(false);
            }
            chunks += 1;
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .ctx(CTX)?;
            match phase.step(&tx, &after, chunk).ctx(CTX)? {
                Some((n, last)) => {
                    save(&tx, Some((phase, &last)))?;
                    tx.commit().ctx(CTX)?;
                    after = last;
                    done += n;
                    if done >= next_log {
                        next_log = done + LOG_EVERY;
                        let secs = phase_began.elapsed().as_secs_f64().max(1e-3);
                        let per_sec = ((done - done_before) as f64 / secs).round() as u64;
                        tracing::info!(
                            phase = phase.as_str(),
                            done,
                            total,
                            per_sec,
                            "duplicates of older records: {}",
                            phase.doing()
                        );
                    }
                }
                None => {
                    let next = phase.next();
                    save(&tx, next.map(|p| (p, "")))?;
                    if next.is_none() {
                        tx.execute_batch("DROP INDEX IF EXISTS record_keys_backfill_by_key")
                            .ctx(CTX)?;
                    }
                    tx.commit().ctx(CTX)?;
                    match next {
                        Some(p) => (phase, after) = (p, String::new()),
                        None => {
                            // Give back the disk the WAL grew to for the biggest chunk.
                            if let Err(e) = crate::sqlite::truncate_wal(conn) {
                                tracing::warn!(error = %e, "could not truncate the WAL after the duplicates backfill");
                            }
                            tracing::info!(
                                linked = done,
                                secs = began.elapsed().as_secs(),
                                "duplicate links computed for records stored by an older version"
                            );
                            return Ok(true);
                        }
                    }
                    break;
                }
            }
        }
    }
}

/// Where to start: the saved position of an interrupted backfill, or the beginning when the
/// database has records but not one key (written by a version before schema 2), or nothing.
fn start(conn: &mut Connection) -> Result<Option<(Phase, String)>, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(CTX)?;
    let saved: Option<(String, String)> = tx
        .query_row(
            "SELECT phase, after FROM duplicates_backfill WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .ctx(CTX)?;
    if let Some((phase, after)) = saved {
        let phase = Phase::parse(&phase).ok_or_else(|| StoreError::Corrupt {
            what: "the progress of the duplicates backfill".into(),
            detail: format!("unknown phase `{phase}`"),
        })?;
        return Ok(Some((phase, after)));
    }
    let needed: bool = tx
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM records)
                    AND NOT EXISTS (SELECT 1 FROM record_keys)",
            [],
            |r| r.get(0),
        )
        .ctx(CTX)?;
    if !needed {
        return Ok(None);
    }
    save(&tx, Some((Phase::Keys, "")))?;
    tx.commit().ctx(CTX)?;
    Ok(Some((Phase::Keys, String::new())))
}

fn count(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

/// Records the position (in the transaction of the chunk it covers); `None` when done.
fn save(tx: &Connection, at: Option<(Phase, &str)>) -> Result<(), StoreError> {
    match at {
        Some((phase, after)) => tx.execute(
            "INSERT INTO duplicates_backfill (id, phase, after) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET phase = excluded.phase, after = excluded.after",
            params![phase.as_str(), after],
        ),
        None => tx
            .execute("DELETE FROM relink_bump", [])
            .and_then(|_| tx.execute("DELETE FROM duplicates_backfill", [])),
    }
    .map(|_| ())
    .ctx(CTX)
}
