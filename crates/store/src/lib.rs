//! Snodo's store: the SQLite database that is the source of truth.
//!
//! It owns the schema and its numbered migrations, the records with their content hashes and
//! harvest bookkeeping, the change log whose `seq` the indexer follows, the harvest runs, and the
//! per-source checkpoints and schedule. A batch of records and the checkpoint covering it are
//! written in one transaction, and deletions are only ever inferred from a complete listing.
//!
//! It must not fetch anything, touch the search index or know about HTTP, and no rusqlite type
//! appears in its public API. The API is blocking: async callers run it on `spawn_blocking` or a
//! thread of their own. One process writes; reads use their own connections and never wait
//! behind a write.

mod backfill;
mod duplicates;
mod error;
mod schema;
mod types;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior};
use snodo_model::record::is_valid_source_id;
use snodo_model::Record;

use crate::error::Ctx;
pub use crate::error::{DbError, StoreError};
pub use crate::types::{
    AppliedBatch, Change, HarvestBatch, Outcome, ParseOutcomeError, RunCounts, RunFinish, RunId,
    RunRecord, ScheduleState, SourceInfo, SourceStatus, StoredRecord, DEFAULT_MAX_SWEEP_FRACTION,
    SWEEP_GUARD_MIN_RECORDS,
};

/// How long a statement waits for another process's lock before giving up with
/// [`StoreError::Busy`]: long enough to ride out a checkpoint, short enough to surface a stuck peer.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Idle read connections kept open; more are opened on demand and closed after use.
const MAX_IDLE_READERS: usize = 4;

/// Records handed to the `live_records` callback per query, bounding memory during a reindex.
const LIVE_CHUNK: usize = 500;

/// The SQLite database of one Snodo instance. `Send + Sync`: share it with an `Arc`.
pub struct Store {
    writer: Mutex<Connection>,
    readers: Readers,
    path: Option<PathBuf>,
}

enum Readers {
    /// In memory there is no file for a second connection to open: reads share the writer.
    Writer,
    /// Read-only connections to the file; in WAL mode they read the last committed state while a
    /// write is in progress.
    Pool(Mutex<Vec<Connection>>),
}

impl Store {
    /// Opens (creating the file and its directory if missing) and migrates the database.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let mut conn = Connection::open(path).map_err(|e| StoreError::open(path.to_owned(), e))?;
        let mode = configure_writer(&conn).map_err(|e| StoreError::open(path.to_owned(), e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            // Still correct, but reads will wait behind writes; usually a network file system.
            tracing::warn!(path = %path.display(), mode, "SQLite could not enable WAL mode; keep the data directory on a local disk");
        }
        schema::migrate(&mut conn)?;
        backfill::run(&mut conn)?;
        Ok(Store {
            writer: Mutex::new(conn),
            readers: Readers::Pool(Mutex::new(Vec::new())),
            path: Some(path.to_owned()),
        })
    }

    /// A private database that lives as long as the `Store`; for tests and the offline demo.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let path = PathBuf::from(":memory:");
        let mut conn =
            Connection::open_in_memory().map_err(|e| StoreError::open(path.clone(), e))?;
        configure_writer(&conn).map_err(|e| StoreError::open(path, e))?;
        schema::migrate(&mut conn)?;
        Ok(Store {
            writer: Mutex::new(conn),
            readers: Readers::Writer,
            path: None,
        })
    }

    /// The database file, `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Makes the stored sources match the configuration. Sources no longer configured keep their
    /// row, records and runs (flagged `configured = false`) so that history survives a config
    /// edit. A source whose kind or URL changed loses its checkpoint: a cursor into one platform
    /// means nothing to another.
    pub fn sync_sources(&self, sources: &[SourceInfo]) -> Result<(), StoreError> {
        if let Some(bad) = sources.iter().find(|s| !is_valid_source_id(&s.id)) {
            return Err(StoreError::InvalidSourceId(bad.id.clone()));
        }
        let mut w = self.writer();
        let tx = w
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx("synchronising the configured sources")?;
        tx.execute("UPDATE sources SET configured = 0", [])
            .ctx("synchronising the configured sources")?;
        {
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO sources (id, name, kind, url, configured) VALUES (?1, ?2, ?3, ?4, 1)
                     ON CONFLICT(id) DO UPDATE SET
                        name = excluded.name, kind = excluded.kind, url = excluded.url,
                        configured = 1,
                        checkpoint = CASE WHEN sources.kind = excluded.kind
                                           AND sources.url = excluded.url
                                          THEN sources.checkpoint END",
                )
                .ctx("synchronising the configured sources")?;
            for s in sources {
                upsert
                    .execute(params![s.id, s.name, s.kind, s.url])
                    .ctx(&format!("storing source `{}`", s.id))?;
            }
        }
        tx.commit().ctx("synchronising the configured sources")
    }

    /// Records that a run of `source` began; it stays `running` until [`Store::finish_run`]
    /// (or [`Store::abandon_unfinished_runs`] after a crash).
    pub fn start_run(&self, source: &str, started_at: DateTime<Utc>) -> Result<RunId, StoreError> {
        let w = self.writer();
        let inserted = w
            .prepare_cached(
                "INSERT INTO runs (source, started_at, outcome)
                 SELECT id, ?2, 'running' FROM sources WHERE id = ?1",
            )
            .and_then(|mut s| s.execute(params![source, ts(started_at)]))
            .ctx(&format!("starting a run of source `{source}`"))?;
        if inserted == 0 {
            return Err(StoreError::UnknownSource(source.to_owned()));
        }
        Ok(RunId(w.last_insert_rowid()))
    }

    /// Stores one batch of a run in one transaction: the records, the checkpoint and, when the
    /// batch ends a complete listing, the sweep of records the run did not see. A crash therefore
    /// never records progress for data that was not stored.
    ///
    /// A run may be stored in several batches (each page of a listing, say); the sweep of the
    /// final `complete` batch spares every record seen by any batch of the same run.
    pub fn apply_harvest(
        &self,
        run: RunId,
        batch: &HarvestBatch<'_>,
    ) -> Result<AppliedBatch, StoreError> {
        let ctx = format!("storing records of source `{}`", batch.source);
        let mut w = self.writer();
        let tx = w
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx(&ctx)?;

        let found: Option<(String, String)> = tx
            .prepare_cached("SELECT source, outcome FROM runs WHERE id = ?1")
            .and_then(|mut s| {
                s.query_row([run.0], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .ctx(&ctx)?;
        let Some((run_source, outcome)) = found else {
            return Err(StoreError::UnknownRun(run.0));
        };
        if run_source != batch.source {
            return Err(StoreError::RunSourceMismatch {
                run: run.0,
                run_source,
                batch_source: batch.source.to_owned(),
            });
        }
        if outcome != Outcome::Running.as_str() {
            return Err(StoreError::RunFinished {
                run: run.0,
                outcome,
            });
        }

        let now = ts(batch.now);
        let mut out = AppliedBatch::default();
        let ids: Vec<String> = batch.records.iter().map(|r| r.id.to_string()).collect();
        // Duplicates within a batch: the last occurrence wins and is counted once.
        let last_index: HashMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        let mut foreign: Vec<&str> = Vec::new();
        // Records whose content or liveness changed: their duplicate links are recomputed.
        let mut relive: Vec<(&str, &Record)> = Vec::new();
        {
            let c = &mut out.counts;
            let mut get = tx
                .prepare_cached(
                    "SELECT content_hash, gone_at IS NOT NULL FROM records WHERE id = ?1",
                )
                .ctx(&ctx)?;
            let mut log = tx
                .prepare_cached("INSERT INTO changes (record_id, op) VALUES (?1, ?2)")
                .ctx(&ctx)?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO records (id, source, kind, upstream_id, json, content_hash,
                                          first_seen, last_seen, last_changed, seq, last_run)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?7, ?8, ?9)",
                )
                .ctx(&ctx)?;
            let mut update = tx
                .prepare_cached(
                    "UPDATE records SET json = ?2, content_hash = ?3, last_seen = ?4,
                            last_changed = ?4, gone_at = NULL, seq = ?5, last_run = ?6
                     WHERE id = ?1",
                )
                .ctx(&ctx)?;
            let mut touch = tx
                .prepare_cached("UPDATE records SET last_seen = ?2, last_run = ?3 WHERE id = ?1")
                .ctx(&ctx)?;
            let mut revive = tx
                .prepare_cached(
                    "UPDATE records SET last_seen = ?2, last_run = ?3, gone_at = NULL, seq = ?4
                     WHERE id = ?1",
                )
                .ctx(&ctx)?;

            for (i, (record, id)) in batch.records.iter().zip(&ids).enumerate() {
                if last_index.get(id.as_str()) != Some(&i) {
                    continue;
                }
                c.seen += 1;
                if record.id.source != batch.source {
                    c.failed += 1;
                    foreign.push(id);
                    continue;
                }
                let rctx = || format!("storing record {id}");
                let hash = record.content_hash();
                let existing: Option<(String, bool)> = get
                    .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
                    .ctx(&rctx())?;
                match existing {
                    None => {
                        let json = encode(record, id)?;
                        log.execute([id.as_str(), "upsert"]).ctx(&rctx())?;
                        let seq = tx.last_insert_rowid();
                        insert
                            .execute(params![
                                id,
                                batch.source,
                                record.id.kind.as_str(),
                                record.id.upstream_id,
                                json,
                                hash,
                                now,
                                seq,
                                run.0
                            ])
                            .ctx(&rctx())?;
                        duplicates::write_keys(&tx, id, record).ctx(&rctx())?;
                        relive.push((id, record));
                        c.added += 1;
                    }
                    Some((old_hash, gone)) if old_hash == hash => {
                        if gone {
                            log.execute([id.as_str(), "upsert"]).ctx(&rctx())?;
                            let seq = tx.last_insert_rowid();
                            revive.execute(params![id, now, run.0, seq]).ctx(&rctx())?;
                            relive.push((id, record));
                            c.revived += 1;
                        } else {
                            touch.execute(params![id, now, run.0]).ctx(&rctx())?;
                        }
                        c.unchanged += 1;
                    }
                    Some((_, gone)) => {
                        let json = encode(record, id)?;
                        log.execute([id.as_str(), "upsert"]).ctx(&rctx())?;
                        let seq = tx.last_insert_rowid();
                        update
                            .execute(params![id, json, hash, now, seq, run.0])
                            .ctx(&rctx())?;
                        duplicates::write_keys(&tx, id, record).ctx(&rctx())?;
                        relive.push((id, record));
                        c.changed += 1;
                        if gone {
                            c.revived += 1;
                        }
                    }
                }
            }
        }
        if let Some(first) = foreign.first() {
            out.warnings.push(format!(
                "{} record(s) named a source other than `{}` and were rejected (first: {first}); \
                 the connector must only produce records of its own source",
                foreign.len(),
                batch.source
            ));
        }

        let gone = if batch.complete {
            sweep(&tx, run, batch, &now, &mut out).ctx(&format!(
                "marking records of source `{}` gone",
                batch.source
            ))?
        } else {
            Vec::new()
        };
        duplicates::relink(&tx, &relive, &gone).ctx(&format!(
            "linking duplicates of records of source `{}`",
            batch.source
        ))?;

        if let Some(cp) = batch.checkpoint {
            tx.prepare_cached("UPDATE sources SET checkpoint = ?2 WHERE id = ?1")
                .and_then(|mut s| s.execute(params![batch.source, cp]))
                .ctx(&format!(
                    "saving the checkpoint of source `{}`",
                    batch.source
                ))?;
        }

        let c = out.counts;
        tx.prepare_cached(
            "UPDATE runs SET seen = seen + ?2, added = added + ?3, changed = changed + ?4,
                    unchanged = unchanged + ?5, failed = failed + ?6, gone = gone + ?7,
                    revived = revived + ?8
             WHERE id = ?1",
        )
        .and_then(|mut s| {
            s.execute(params![
                run.0,
                int(c.seen),
                int(c.added),
                int(c.changed),
                int(c.unchanged),
                int(c.failed),
                int(c.gone),
                int(c.revived)
            ])
        })
        .ctx(&ctx)?;

        tx.commit().ctx(&ctx)?;
        tracing::debug!(
            source = batch.source,
            run = run.0,
            seen = c.seen,
            added = c.added,
            changed = c.changed,
            gone = c.gone,
            failed = c.failed,
            "harvest batch stored"
        );
        Ok(out)
    }

    /// Closes a run. Only a `running` run can be finished: finishing twice is a harvester bug.
    pub fn finish_run(&self, run: RunId, finish: &RunFinish) -> Result<(), StoreError> {
        let warnings =
            serde_json::to_string(&finish.warnings).map_err(|source| StoreError::Encode {
                what: format!("the warnings of run {run}"),
                source,
            })?;
        let c = finish.counts;
        let w = self.writer();
        let ctx = format!("finishing run {run}");
        let updated = w
            .prepare_cached(
                "UPDATE runs SET finished_at = ?2, outcome = ?3, seen = ?4, added = ?5,
                        changed = ?6, unchanged = ?7, failed = ?8, gone = ?9, revived = ?10,
                        error = ?11, warnings = ?12, requests = ?13
                 WHERE id = ?1 AND outcome = 'running'",
            )
            .and_then(|mut s| {
                s.execute(params![
                    run.0,
                    ts(finish.finished_at),
                    finish.outcome.as_str(),
                    int(c.seen),
                    int(c.added),
                    int(c.changed),
                    int(c.unchanged),
                    int(c.failed),
                    int(c.gone),
                    int(c.revived),
                    finish.error,
                    warnings,
                    int(finish.requests)
                ])
            })
            .ctx(&ctx)?;
        if updated == 1 {
            return Ok(());
        }
        let outcome: Option<String> = w
            .query_row("SELECT outcome FROM runs WHERE id = ?1", [run.0], |r| {
                r.get(0)
            })
            .optional()
            .ctx(&ctx)?;
        match outcome {
            None => Err(StoreError::UnknownRun(run.0)),
            Some(outcome) => Err(StoreError::RunFinished {
                run: run.0,
                outcome,
            }),
        }
    }

    /// Runs left `running` by a process that died become `abandoned`; call once at start-up,
    /// before any new run begins. Returns how many there were.
    pub fn abandon_unfinished_runs(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let n = self
            .writer()
            .execute(
                "UPDATE runs SET outcome = 'abandoned', finished_at = ?1,
                        error = COALESCE(error, 'snodo stopped before the run finished')
                 WHERE outcome = 'running'",
                [ts(now)],
            )
            .ctx("closing runs left unfinished")?;
        if n > 0 {
            tracing::warn!(
                runs = n,
                "harvest runs left unfinished by a previous process marked abandoned"
            );
        }
        Ok(n as u64)
    }

    /// Changes after `after_seq`, ascending, at most `limit`. Compacted: a record that changed
    /// several times appears once, at its latest `seq`, with its current state, so the indexer
    /// can set its cursor to the last `seq` returned.
    pub fn changes_since(&self, after_seq: u64, limit: usize) -> Result<Vec<Change>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows: Vec<(i64, String, Option<String>, String)> = self.read(|c| {
            let mut s = c
                .prepare_cached(
                    "SELECT c.seq, c.record_id, CASE WHEN r.gone_at IS NULL THEN r.json END,
                            (SELECT json_group_array(other_id) FROM record_links
                             WHERE record_id = r.id)
                     FROM changes c JOIN records r ON r.id = c.record_id
                     WHERE c.seq > ?1 AND c.seq = r.seq
                     ORDER BY c.seq LIMIT ?2",
                )
                .ctx("reading the change log")?;
            let rows = s
                .query_map(params![int(after_seq), int(limit as u64)], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .and_then(|rows| rows.collect())
                .ctx("reading the change log")?;
            Ok(rows)
        })?;
        rows.into_iter()
            .map(|(seq, id, json, links)| {
                let record = json.map(|j| decode_linked(&j, &links, &id)).transpose()?;
                Ok(Change {
                    seq: uint(seq),
                    id,
                    record,
                })
            })
            .collect()
    }

    /// The highest `seq` ever issued (0 for an empty database), even if log rows were removed.
    pub fn max_seq(&self) -> Result<u64, StoreError> {
        self.read(|c| {
            let seq: Option<i64> = c
                .query_row(
                    "SELECT seq FROM sqlite_sequence WHERE name = 'changes'",
                    [],
                    |r| r.get(0),
                )
                .optional()
                .ctx("reading the change log position")?;
            Ok(uint(seq.unwrap_or(0)))
        })
    }

    /// Calls `f` with every live record, in id order, a chunk at a time so a reindex never holds
    /// the catalogue in memory. Not a snapshot: read [`Store::max_seq`] first and replay
    /// [`Store::changes_since`] it afterwards to catch writes made meanwhile. `f` may call back
    /// into the store. Returns how many records were passed to `f`.
    pub fn live_records(
        &self,
        f: &mut dyn FnMut(Record) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        let mut after = String::new();
        let mut count = 0u64;
        loop {
            let chunk: Vec<(String, String, String)> = self.read(|c| {
                let mut s = c
                    .prepare_cached(
                        "SELECT id, json,
                                (SELECT json_group_array(other_id) FROM record_links
                                 WHERE record_id = records.id)
                         FROM records WHERE gone_at IS NULL AND id > ?1
                         ORDER BY id LIMIT ?2",
                    )
                    .ctx("reading live records")?;
                let rows = s
                    .query_map(params![after, LIVE_CHUNK as i64], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .and_then(|rows| rows.collect())
                    .ctx("reading live records")?;
                Ok(rows)
            })?;
            let Some((last, _, _)) = chunk.last() else {
                return Ok(count);
            };
            after = last.clone();
            let done = chunk.len() < LIVE_CHUNK;
            for (id, json, links) in chunk {
                f(decode_linked(&json, &links, &id)?)?;
                count += 1;
            }
            if done {
                return Ok(count);
            }
        }
    }

    /// One record with its bookkeeping, gone or not (`gone_at` tells); `None` if never stored.
    pub fn record(&self, id: &str) -> Result<Option<StoredRecord>, StoreError> {
        type Raw = (
            String,
            String,
            String,
            String,
            String,
            Option<String>,
            String,
        );
        let raw: Option<Raw> = self.read(|c| {
            c.prepare_cached(
                "SELECT json, content_hash, first_seen, last_seen, last_changed, gone_at,
                        (SELECT json_group_array(other_id) FROM record_links
                         WHERE record_id = records.id)
                 FROM records WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.query_row([id], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                })
                .optional()
            })
            .ctx(&format!("reading record {id}"))
        })?;
        let Some((json, content_hash, first_seen, last_seen, last_changed, gone_at, links)) = raw
        else {
            return Ok(None);
        };
        let what = || format!("record {id}");
        Ok(Some(StoredRecord {
            record: decode_linked(&json, &links, id)?,
            content_hash,
            first_seen: parse_ts(&first_seen, what)?,
            last_seen: parse_ts(&last_seen, what)?,
            last_changed: parse_ts(&last_changed, what)?,
            gone_at: parse_opt_ts(gone_at.as_deref(), what)?,
        }))
    }

    /// Every source ever configured, by id, with its health.
    pub fn sources(&self) -> Result<Vec<SourceStatus>, StoreError> {
        type Raw = (
            String,
            String,
            String,
            String,
            bool,
            Option<String>,
            i64,
            Option<String>,
        );
        let (raws, last_runs): (Vec<Raw>, Vec<Option<RawRun>>) = self.read(|c| {
            let ctx = "reading the sources";
            let tx = c.unchecked_transaction().ctx(ctx)?;
            let raws: Vec<Raw> = tx
                .prepare_cached(
                    "SELECT s.id, s.name, s.kind, s.url, s.configured, s.next_run_at,
                        (SELECT COUNT(*) FROM records r WHERE r.source = s.id AND r.gone_at IS NULL),
                        (SELECT MAX(finished_at) FROM runs u
                          WHERE u.source = s.id AND u.outcome = 'success')
                     FROM sources s ORDER BY s.id",
                )
                .and_then(|mut s| {
                    s.query_map([], |r| {
                        Ok((
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                            r.get(6)?,
                            r.get(7)?,
                        ))
                    })?
                    .collect()
                })
                .ctx(ctx)?;
            let mut last = tx.prepare_cached(LAST_RUN_SQL).ctx(ctx)?;
            let last_runs = raws
                .iter()
                .map(|raw| last.query_row([&raw.0], raw_run).optional())
                .collect::<Result<Vec<_>, _>>()
                .ctx(ctx)?;
            Ok((raws, last_runs))
        })?;
        raws.into_iter()
            .zip(last_runs)
            .map(
                |((id, name, kind, url, configured, next_run_at, records, last_success), last)| {
                    let what = || format!("source `{id}`");
                    Ok(SourceStatus {
                        last_run: last.map(RawRun::into_record).transpose()?,
                        last_success_at: parse_opt_ts(last_success.as_deref(), what)?,
                        next_run_at: parse_opt_ts(next_run_at.as_deref(), what)?,
                        records: uint(records),
                        configured,
                        id,
                        name,
                        kind,
                        url,
                    })
                },
            )
            .collect()
    }

    /// A page of a source's runs, newest first, with the total number of runs.
    pub fn runs(
        &self,
        source: &str,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<RunRecord>, u64), StoreError> {
        let (raws, total) = self.read(|c| {
            let ctx = &format!("reading the runs of source `{source}`");
            let tx = c.unchecked_transaction().ctx(ctx)?;
            let total: i64 = tx
                .prepare_cached("SELECT COUNT(*) FROM runs WHERE source = ?1")
                .and_then(|mut s| s.query_row([source], |r| r.get(0)))
                .ctx(ctx)?;
            let raws: Vec<RawRun> = tx
                .prepare_cached(&format!(
                    "SELECT {RUN_COLUMNS} FROM runs WHERE source = ?1
                     ORDER BY started_at DESC, id DESC LIMIT ?2 OFFSET ?3"
                ))
                .and_then(|mut s| {
                    s.query_map(
                        params![source, int(limit as u64), int(offset as u64)],
                        raw_run,
                    )?
                    .collect()
                })
                .ctx(ctx)?;
            Ok((raws, total))
        })?;
        let runs = raws
            .into_iter()
            .map(RawRun::into_record)
            .collect::<Result<_, _>>()?;
        Ok((runs, uint(total)))
    }

    /// The cursor saved by the last batch that carried one; `None` for a source never harvested
    /// (or unknown, or reset).
    pub fn checkpoint(&self, source: &str) -> Result<Option<String>, StoreError> {
        self.read(|c| {
            let cp: Option<Option<String>> = c
                .prepare_cached("SELECT checkpoint FROM sources WHERE id = ?1")
                .and_then(|mut s| s.query_row([source], |r| r.get(0)).optional())
                .ctx(&format!("reading the checkpoint of source `{source}`"))?;
            Ok(cp.flatten())
        })
    }

    /// Forgets a source's checkpoint so that the next run starts from the beginning; outside a
    /// harvest because losing progress is always safe.
    pub fn reset_checkpoint(&self, source: &str) -> Result<(), StoreError> {
        let n = self
            .writer()
            .execute(
                "UPDATE sources SET checkpoint = NULL WHERE id = ?1",
                [source],
            )
            .ctx(&format!("resetting the checkpoint of source `{source}`"))?;
        if n == 0 {
            return Err(StoreError::UnknownSource(source.to_owned()));
        }
        Ok(())
    }

    /// When the source last ran and is next due; both `None` for an unknown source.
    pub fn schedule_state(&self, source: &str) -> Result<ScheduleState, StoreError> {
        let (last, next): (Option<String>, Option<String>) = self.read(|c| {
            c.prepare_cached(
                "SELECT (SELECT MAX(started_at) FROM runs WHERE source = ?1),
                        (SELECT next_run_at FROM sources WHERE id = ?1)",
            )
            .and_then(|mut s| s.query_row([source], |r| Ok((r.get(0)?, r.get(1)?))))
            .ctx(&format!("reading the schedule of source `{source}`"))
        })?;
        let what = || format!("source `{source}`");
        Ok(ScheduleState {
            last_run_at: parse_opt_ts(last.as_deref(), what)?,
            next_run_at: parse_opt_ts(next.as_deref(), what)?,
        })
    }

    /// Saves when the scheduler plans the next run, so a restart keeps the plan.
    pub fn set_next_run(
        &self,
        source: &str,
        next: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let n = self
            .writer()
            .prepare_cached("UPDATE sources SET next_run_at = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![source, next.map(ts)]))
            .ctx(&format!("saving the schedule of source `{source}`"))?;
        if n == 0 {
            return Err(StoreError::UnknownSource(source.to_owned()));
        }
        Ok(())
    }

    /// Live records per `(source, kind)`, sorted, for metrics.
    pub fn record_counts_by_kind(&self) -> Result<Vec<(String, String, u64)>, StoreError> {
        self.read(|c| {
            let rows: Vec<(String, String, i64)> = c
                .prepare_cached(
                    "SELECT source, kind, COUNT(*) FROM records WHERE gone_at IS NULL
                     GROUP BY source, kind ORDER BY source, kind",
                )
                .and_then(|mut s| {
                    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                        .collect()
                })
                .ctx("counting records")?;
            Ok(rows.into_iter().map(|(s, k, n)| (s, k, uint(n))).collect())
        })
    }

    /// SQLite's own consistency check plus a foreign-key check; for `/status` and operators.
    pub fn integrity_check(&self) -> Result<(), StoreError> {
        let (problems, fk): (Vec<String>, i64) = self.read(|c| {
            let problems = c
                .prepare("PRAGMA integrity_check(10)")
                .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
                .ctx("checking the database")?;
            let fk = c
                .prepare("SELECT COUNT(*) FROM pragma_foreign_key_check")
                .and_then(|mut s| s.query_row([], |r| r.get(0)))
                .ctx("checking the database")?;
            Ok((problems, fk))
        })?;
        if problems.len() != 1 || problems[0] != "ok" {
            return Err(StoreError::Integrity(problems.join("; ")));
        }
        if fk > 0 {
            return Err(StoreError::Integrity(format!(
                "{fk} row(s) refer to a missing source or record"
            )));
        }
        Ok(())
    }

    /// Writes a consistent, compacted copy of the database to `dest` (`VACUUM INTO`) while
    /// harvests go on. `dest` must not exist yet, so a backup never overwrites another.
    pub fn backup_to(&self, dest: &Path) -> Result<(), StoreError> {
        let fail = |detail: String| StoreError::Backup {
            path: dest.to_owned(),
            detail,
        };
        if dest.exists() {
            return Err(fail(
                "a file already exists there; choose a new file name or remove the old backup"
                    .into(),
            ));
        }
        if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                fail(format!(
                    "cannot create the directory {}: {e}; check that it is writable",
                    dir.display()
                ))
            })?;
        }
        let Some(dest_str) = dest.to_str() else {
            return Err(fail(
                "the path is not valid UTF-8; choose another path".into(),
            ));
        };
        self.read(|c| {
            c.execute("VACUUM INTO ?1", [dest_str]).map_err(|e| {
                fail(format!(
                    "{e}; check that the directory is writable and has room"
                ))
            })
        })?;
        tracing::info!(dest = %dest.display(), "database backed up");
        Ok(())
    }

    fn writer(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction open (dropping a rusqlite
        // transaction rolls it back), so the connection is still sound.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on a read connection: a pooled read-only one for a file, the writer in memory.
    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let idle = match &self.readers {
            Readers::Writer => return f(&self.writer()),
            Readers::Pool(idle) => idle,
        };
        let pooled = idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let conn = match pooled {
            Some(c) => c,
            None => self.open_reader()?,
        };
        let out = f(&conn);
        let mut idle = idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        out
    }

    fn open_reader(&self) -> Result<Connection, StoreError> {
        let path = self.path.clone().unwrap_or_default();
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::open(path.clone(), e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| StoreError::open(path, e))?;
        Ok(conn)
    }
}

/// Returns the journal mode SQLite accepted. Setting it is also the first real read of the file,
/// so a file that is not a database fails here, as an open error.
fn configure_writer(conn: &Connection) -> rusqlite::Result<String> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(mode)
}

/// Marks gone the live records of the batch's source that no batch of this run has seen,
/// unless that is more than the safety valve allows.
fn sweep(
    tx: &Connection,
    run: RunId,
    batch: &HarvestBatch<'_>,
    now: &str,
    out: &mut AppliedBatch,
) -> rusqlite::Result<Vec<String>> {
    let live: i64 = tx
        .prepare_cached("SELECT COUNT(*) FROM records WHERE source = ?1 AND gone_at IS NULL")?
        .query_row([batch.source], |r| r.get(0))?;
    let unseen: Vec<String> = tx
        .prepare_cached(
            "SELECT id FROM records
             WHERE source = ?1 AND gone_at IS NULL AND (last_run IS NULL OR last_run <> ?2)",
        )?
        .query_map(params![batch.source, run.0], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let n = unseen.len() as u64;
    let fraction = if batch.max_sweep_fraction.is_nan() {
        DEFAULT_MAX_SWEEP_FRACTION
    } else {
        batch.max_sweep_fraction.clamp(0.0, 1.0)
    };
    if n > SWEEP_GUARD_MIN_RECORDS && n as f64 > fraction * live as f64 {
        out.sweep_held_back = true;
        out.warnings.push(format!(
            "the listing of source `{}` no longer contains {n} of its {live} records; more than \
             {:.0}% at once looks like an upstream failure, so none were marked gone. If they \
             really were removed, run again with a higher max_sweep_fraction",
            batch.source,
            fraction * 100.0
        ));
        tracing::warn!(
            source = batch.source,
            unseen = n,
            live,
            "sweep held back by the safety valve"
        );
        return Ok(Vec::new());
    }
    let mut log = tx.prepare_cached("INSERT INTO changes (record_id, op) VALUES (?1, 'gone')")?;
    let mut mark = tx.prepare_cached("UPDATE records SET gone_at = ?2, seq = ?3 WHERE id = ?1")?;
    for id in &unseen {
        log.execute([id])?;
        let seq = tx.last_insert_rowid();
        mark.execute(params![id, now, seq])?;
    }
    out.counts.gone += n;
    Ok(unseen)
}

const RUN_COLUMNS: &str = "id, source, started_at, finished_at, outcome, seen, added, changed, \
                           unchanged, failed, gone, revived, error, warnings, requests";

const LAST_RUN_SQL: &str = "SELECT id, source, started_at, finished_at, outcome, seen, added, \
     changed, unchanged, failed, gone, revived, error, warnings, requests \
     FROM runs WHERE source = ?1 ORDER BY started_at DESC, id DESC LIMIT 1";

/// A run row as SQLite gives it; converted outside the row callback, where errors can say more.
struct RawRun {
    id: i64,
    source: String,
    started_at: String,
    finished_at: Option<String>,
    outcome: String,
    counts: [i64; 7],
    error: Option<String>,
    warnings: String,
    requests: i64,
}

fn raw_run(r: &Row<'_>) -> rusqlite::Result<RawRun> {
    Ok(RawRun {
        id: r.get(0)?,
        source: r.get(1)?,
        started_at: r.get(2)?,
        finished_at: r.get(3)?,
        outcome: r.get(4)?,
        counts: [
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
            r.get(8)?,
            r.get(9)?,
            r.get(10)?,
            r.get(11)?,
        ],
        error: r.get(12)?,
        warnings: r.get(13)?,
        requests: r.get(14)?,
    })
}

impl RawRun {
    fn into_record(self) -> Result<RunRecord, StoreError> {
        let id = self.id;
        let what = || format!("harvest run {id}");
        let started_at = parse_ts(&self.started_at, what)?;
        let finished_at = parse_opt_ts(self.finished_at.as_deref(), what)?;
        let outcome: Outcome = self.outcome.parse().map_err(|e| StoreError::Corrupt {
            what: what(),
            detail: format!("{e}"),
        })?;
        let warnings: Vec<String> =
            serde_json::from_str(&self.warnings).map_err(|e| StoreError::Corrupt {
                what: what(),
                detail: format!("warnings: {e}"),
            })?;
        // An abandoned run was closed when the next process started, not when it stopped
        // working: its duration is unknown.
        let duration_ms = match (finished_at, outcome) {
            (Some(end), o) if o != Outcome::Abandoned => {
                Some(uint((end - started_at).num_milliseconds()))
            }
            _ => None,
        };
        let [seen, added, changed, unchanged, failed, gone, revived] = self.counts.map(uint);
        Ok(RunRecord {
            id,
            source: self.source,
            started_at,
            finished_at,
            outcome,
            counts: RunCounts {
                seen,
                added,
                changed,
                unchanged,
                failed,
                gone,
                revived,
            },
            error: self.error,
            warnings,
            requests: uint(self.requests),
            duration_ms,
        })
    }
}

/// The one timestamp format of the database (see the `schema` module).
fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_ts(s: &str, what: impl Fn() -> String) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt {
            what: what(),
            detail: format!("timestamp `{s}`: {e}"),
        })
}

fn parse_opt_ts(
    s: Option<&str>,
    what: impl Fn() -> String,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    s.map(|s| parse_ts(s, what)).transpose()
}

fn encode(record: &Record, id: &str) -> Result<String, StoreError> {
    serde_json::to_string(record).map_err(|source| StoreError::Encode {
        what: format!("record {id}"),
        source,
    })
}

fn decode(json: &str, id: &str) -> Result<Record, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        what: format!("record {id}"),
        detail: e.to_string(),
    })
}

/// A stored record with the ids of its duplicates (a JSON array) merged into `same_as`, sorted.
fn decode_linked(json: &str, links: &str, id: &str) -> Result<Record, StoreError> {
    let mut record = decode(json, id)?;
    let links: Vec<String> = serde_json::from_str(links).map_err(|e| StoreError::Corrupt {
        what: format!("the duplicate links of record {id}"),
        detail: e.to_string(),
    })?;
    record.same_as.extend(links);
    record.same_as.sort();
    record.same_as.dedup();
    Ok(record)
}

/// SQLite integers are signed; counts and seqs never come near the limit.
fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn uint(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
