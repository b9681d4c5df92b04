//! The SQLite engine: the embedded default, one file in the data directory.
//!
//! One connection writes; reads use their own read-only connections and, in WAL mode, never
//! wait behind a write.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior};
use snodo_model::record::is_valid_source_id;
use snodo_model::Record;

use crate::codec::{self, decode, decode_linked, int, uint};
use crate::error::{Ctx, DbError, StoreError};
use crate::transfer::{ChangeRow, Digest, RecordRow, RunRow, SourceRow, StoreSummary};
use crate::types::{
    AppliedBatch, Change, HarvestBatch, RunFinish, RunId, RunRecord, ScheduleState, SourceInfo,
    SourceStatus, StoredRecord,
};
use crate::write::{NewRecord, WriteTx};
use crate::{backfill, schema};

/// How long a statement waits for another process's lock before giving up with
/// [`StoreError::Busy`]: long enough to ride out a checkpoint, short enough to surface a stuck peer.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Idle read connections kept open; more are opened on demand and closed after use.
const MAX_IDLE_READERS: usize = 4;

/// Records handed to the `live_records` callback per query, bounding memory during a reindex.
pub(crate) const LIVE_CHUNK: usize = 500;

pub(crate) struct SqliteStore {
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

impl SqliteStore {
    /// Opens (creating the file and its directory if missing) and migrates the database.
    pub(crate) fn open(path: &Path) -> Result<SqliteStore, StoreError> {
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
        compress_old_rows(&mut conn, COMPRESS_CHUNK)?;
        Ok(SqliteStore {
            writer: Mutex::new(conn),
            readers: Readers::Pool(Mutex::new(Vec::new())),
            path: Some(path.to_owned()),
        })
    }

    /// A private database that lives as long as the `Store`; for tests and the offline demo.
    pub(crate) fn open_in_memory() -> Result<SqliteStore, StoreError> {
        let path = PathBuf::from(":memory:");
        let mut conn =
            Connection::open_in_memory().map_err(|e| StoreError::open(path.clone(), e))?;
        configure_writer(&conn).map_err(|e| StoreError::open(path, e))?;
        schema::migrate(&mut conn)?;
        Ok(SqliteStore {
            writer: Mutex::new(conn),
            readers: Readers::Writer,
            path: None,
        })
    }

    /// The database file, `None` in memory.
    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub(crate) fn sync_sources(&self, sources: &[SourceInfo]) -> Result<(), StoreError> {
        if let Some(bad) = sources.iter().find(|s| !is_valid_source_id(&s.id)) {
            return Err(StoreError::InvalidSourceId(bad.id.clone()));
        }
        let ctx = "synchronising the configured sources";
        let mut w = self.writer();
        let tx = w
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx(ctx)?;
        // Only rows that change are written: a source's row holds its checkpoint (hundreds of
        // KB for a site of many pages), and rewriting every row at each start wrote 29 MB at 1M
        // records, all of it through the writer's page cache.
        let configured: Vec<String> = tx
            .prepare("SELECT id FROM sources WHERE configured")
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .ctx(ctx)?;
        for id in configured {
            if !sources.iter().any(|s| s.id == id) {
                tx.execute("UPDATE sources SET configured = 0 WHERE id = ?1", [&id])
                    .ctx(ctx)?;
            }
        }
        {
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO sources (id, name, kind, url, configured) VALUES (?1, ?2, ?3, ?4, 1)
                     ON CONFLICT(id) DO UPDATE SET
                        name = excluded.name, kind = excluded.kind, url = excluded.url,
                        configured = 1,
                        checkpoint = CASE WHEN sources.kind = excluded.kind
                                           AND sources.url = excluded.url
                                          THEN sources.checkpoint END
                     WHERE sources.name IS NOT excluded.name OR sources.kind IS NOT excluded.kind
                        OR sources.url IS NOT excluded.url OR NOT sources.configured",
                )
                .ctx(ctx)?;
            for s in sources {
                upsert
                    .execute(params![s.id, s.name, s.kind, s.url])
                    .ctx(&format!("storing source `{}`", s.id))?;
            }
        }
        tx.commit().ctx(ctx)
    }

    pub(crate) fn start_run(
        &self,
        source: &str,
        started_at: DateTime<Utc>,
    ) -> Result<RunId, StoreError> {
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

    pub(crate) fn apply_harvest(
        &self,
        run: RunId,
        batch: &HarvestBatch<'_>,
    ) -> Result<AppliedBatch, StoreError> {
        let ctx = format!("storing records of source `{}`", batch.source);
        let mut w = self.writer();
        let tx = w
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx(&ctx)?;
        let out = crate::write::apply_batch(&mut SqliteTx::new(&tx), run, batch)?;
        tx.commit().ctx(&ctx)?;
        Ok(out)
    }

    pub(crate) fn finish_run(&self, run: RunId, finish: &RunFinish) -> Result<(), StoreError> {
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

    pub(crate) fn abandon_unfinished_runs(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
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

    pub(crate) fn changes_since(
        &self,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<Change>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows: Vec<(i64, String, Option<String>, String)> = self.read(|c| {
            let mut s = c
                .prepare_cached(
                    "SELECT c.seq, c.record_id, CASE WHEN r.gone_at IS NULL THEN record_json(r.json, r.body) END,
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

    pub(crate) fn max_seq(&self) -> Result<u64, StoreError> {
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

    pub(crate) fn live_records(
        &self,
        f: &mut dyn FnMut(Record) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        let mut after = String::new();
        let mut count = 0u64;
        loop {
            let chunk: Vec<(String, String, String)> = self.read(|c| {
                let mut s = c
                    .prepare_cached(
                        "SELECT id, record_json(json, body),
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

    pub(crate) fn record(&self, id: &str) -> Result<Option<StoredRecord>, StoreError> {
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
            c.prepare_cached(&format!(
                "SELECT record_json(json, body), content_hash, first_seen, {LAST_SEEN},
                        last_changed, gone_at,
                        (SELECT json_group_array(other_id) FROM record_links
                         WHERE record_id = records.id)
                 FROM records WHERE id = ?1"
            ))
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

    pub(crate) fn harvested_records(
        &self,
        source: &str,
        ids: &[String],
    ) -> Result<Vec<Record>, StoreError> {
        let list = id_list(ids)?;
        let rows: Vec<(String, String)> = self.read(|c| {
            c.prepare_cached(
                "SELECT id, record_json(json, body) FROM records
                 WHERE id IN (SELECT value FROM json_each(?2)) AND source = ?1
                   AND gone_at IS NULL",
            )
            .and_then(|mut s| {
                s.query_map(params![source, list], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .ctx(&format!("reading stored records of source `{source}`"))
        })?;
        rows.iter().map(|(id, json)| decode(json, id)).collect()
    }

    pub(crate) fn sources(&self) -> Result<Vec<SourceStatus>, StoreError> {
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

    pub(crate) fn runs(
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

    pub(crate) fn checkpoint(&self, source: &str) -> Result<Option<String>, StoreError> {
        self.source_text(source, "checkpoint", "the checkpoint")
    }

    pub(crate) fn classified_with(&self, source: &str) -> Result<Option<String>, StoreError> {
        self.source_text(source, "classified_with", "how it was classified")
    }

    /// A text column of a source's row; `None` when unset or no such source.
    fn source_text(
        &self,
        source: &str,
        column: &'static str,
        what: &str,
    ) -> Result<Option<String>, StoreError> {
        self.read(|c| {
            let v: Option<Option<String>> = c
                .prepare_cached(&format!("SELECT {column} FROM sources WHERE id = ?1"))
                .and_then(|mut s| s.query_row([source], |r| r.get(0)).optional())
                .ctx(&format!("reading {what} of source `{source}`"))?;
            Ok(v.flatten())
        })
    }

    pub(crate) fn count_live(&self, source: &str, ids: &[String]) -> Result<usize, StoreError> {
        let list = id_list(ids)?;
        let n: i64 = self.read(|c| {
            c.prepare_cached(
                "SELECT COUNT(*) FROM records
                 WHERE id IN (SELECT value FROM json_each(?2)) AND source = ?1
                   AND gone_at IS NULL",
            )
            .and_then(|mut s| s.query_row(params![source, list], |r| r.get(0)))
            .ctx(&format!("looking up stored records of source `{source}`"))
        })?;
        Ok(n as usize)
    }

    pub(crate) fn reset_checkpoint(&self, source: &str) -> Result<(), StoreError> {
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

    pub(crate) fn schedule_state(&self, source: &str) -> Result<ScheduleState, StoreError> {
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

    pub(crate) fn set_next_run(
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

    pub(crate) fn record_counts_by_kind(&self) -> Result<Vec<(String, String, u64)>, StoreError> {
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

    pub(crate) fn record_counts_of(&self, source: &str) -> Result<Vec<(String, u64)>, StoreError> {
        self.read(|c| {
            let rows: Vec<(String, i64)> = c
                .prepare_cached(
                    "SELECT kind, COUNT(*) FROM records WHERE source = ?1 AND gone_at IS NULL
                     GROUP BY kind ORDER BY kind",
                )
                .and_then(|mut s| {
                    s.query_map([source], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect()
                })
                .ctx(&format!("counting records of source `{source}`"))?;
            Ok(rows.into_iter().map(|(k, n)| (k, uint(n))).collect())
        })
    }

    pub(crate) fn integrity_check(&self) -> Result<(), StoreError> {
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
    pub(crate) fn backup_to(&self, dest: &Path) -> Result<(), StoreError> {
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
            // The copy gets the pages a new store gets, so restoring a backup is also how a store
            // made with 4 KB pages moves to 16 KB ones.
            c.pragma_update(None, "page_size", PAGE_SIZE)
                .and_then(|()| c.execute("VACUUM INTO ?1", [dest_str]))
                .map_err(|e| {
                    fail(format!(
                        "{e}; check that the directory is writable and has room"
                    ))
                })
        })?;
        tracing::info!(dest = %dest.display(), "database backed up");
        Ok(())
    }

    /// Copies the WAL into the database and truncates it to nothing. Readers in the middle of
    /// a read keep it from finishing; that is not an error, the next start finishes it.
    pub(crate) fn truncate_wal(&self) -> Result<(), StoreError> {
        if self.path.is_none() {
            return Ok(());
        }
        if !truncate_wal(&self.writer()).ctx("truncating the write-ahead log")? {
            tracing::debug!("the write-ahead log is in use; it is truncated at the next start");
        }
        Ok(())
    }

    pub(crate) fn writer(&self) -> MutexGuard<'_, Connection> {
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
            .and_then(|()| add_functions(&conn))
            .map_err(|e| StoreError::open(path, e))?;
        Ok(conn)
    }
}

const PAGE_SIZE: i64 = 16 * 1024;

/// Rows compressed per transaction by [`compress_old_rows`]: a few MB of WAL each.
const COMPRESS_CHUNK: usize = 2_000;

/// Compresses the JSON of rows written before schema 6, at open, in transactions of `chunk`
/// rows that also move `compress_backlog.after` on: a crash loses one chunk at most and the next
/// open resumes. The content, its hash and the change log are untouched. A no-op (one read)
/// once done.
pub(crate) fn compress_old_rows(conn: &mut Connection, chunk: usize) -> Result<u64, StoreError> {
    const CTX: &str = "compressing the records stored by an older version";
    let started = Instant::now();
    let mut done = 0u64;
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx(CTX)?;
        let Some(after) = tx
            .query_row("SELECT after FROM compress_backlog", [], |r| {
                r.get::<_, i64>(0)
            })
            .optional()
            .ctx(CTX)?
        else {
            return Ok(done);
        };
        let rows: Vec<(i64, String)> = tx
            .prepare_cached(
                "SELECT rowid, json FROM records WHERE rowid > ?1 AND body IS NULL
                 ORDER BY rowid LIMIT ?2",
            )
            .and_then(|mut s| {
                s.query_map(params![after, chunk as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .ctx(CTX)?;
        match rows.last() {
            None => tx.execute("DELETE FROM compress_backlog", []),
            Some(&(last, _)) => tx
                .prepare_cached("UPDATE records SET json = '', body = ?2 WHERE rowid = ?1")
                .and_then(|mut s| {
                    for (rowid, json) in &rows {
                        s.execute(params![rowid, codec::compress_json(json)])?;
                    }
                    Ok(())
                })
                .and_then(|()| tx.execute("UPDATE compress_backlog SET after = ?1", [last])),
        }
        .and_then(|_| tx.commit())
        .ctx(CTX)?;
        if rows.is_empty() {
            if done > 0 {
                tracing::info!(
                    records = done,
                    ms = started.elapsed().as_millis() as u64,
                    "records stored by an older version compressed"
                );
            }
            return Ok(done);
        }
        let before = done;
        done += rows.len() as u64;
        if before / 50_000 != done / 50_000 {
            tracing::info!(
                records = done,
                "compressing records stored by an older version"
            );
        }
    }
}

/// Copies the WAL into the database and truncates it; false when a reader kept it from
/// finishing (the log is then left as it is).
pub(crate) fn truncate_wal(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|busy| busy == 0)
}

/// The size the WAL file is cut back to, and how much it holds before a checkpoint.
const WAL_BYTES: i64 = 64 * 1024 * 1024;

/// The writer's page cache, in KiB (the readers keep SQLite's default: they read few pages).
const WRITER_CACHE_KIB: i64 = 32 * 1024;

/// Returns the journal mode SQLite accepted. Setting it is also the first real read of the file,
/// so a file that is not a database fails here, as an open error.
pub(crate) fn configure_writer(conn: &Connection) -> rusqlite::Result<String> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    add_functions(conn)?;
    // A new file gets 16 KB pages (an existing one keeps its own: SQLite ignores this then).
    // A compressed record is about 2.7 KB: 4 KB pages hold one each and waste a third.
    conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // The WAL file is cut back to this when it restarts; without it, it keeps the largest size
    // it ever reached (620 MB after a harvest of a million records).
    conn.pragma_update(None, "journal_size_limit", WAL_BYTES)?;
    // A checkpoint copies every page written since the last one back into the file, once each
    // however often it was written. SQLite's default (1,000 pages, 16 MB here) checkpointed a
    // few batches at a time, so the pages every batch writes at random (the index of title
    // hashes, ids) were copied again and again: in a store of 900,000 records checkpoints were a
    // fifth of the writer's time. One WAL file's worth checkpoints a fourth as often.
    let page: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
    conn.pragma_update(None, "wal_autocheckpoint", WAL_BYTES / page.max(512))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // SQLite's default page cache is 2 MiB: the writer's look-ups (record ids, duplicate keys)
    // read most pages back from the file. A first harvest of 100,000 records spent 9.4–10.4 s
    // of its 42 s of CPU in the kernel, most of it copying pages; 6.3 s with 32 MiB (64 MiB
    // saved no more).
    conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
    conn.set_prepared_statement_cache_capacity(64);
    // One plan per statement, whatever values are bound: without it, SQLite compiled the
    // duplicate-key look-up again at every execution (`sqlite3Reprepare` in 282 of 7,000
    // `perf` samples of a first harvest).
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(mode)
}

/// `record_json(json, body)`: a record's JSON, from `body` when it is stored compressed there
/// (migration 6), else from `json`. `snodo_title_hash(key)`:
/// [`crate::duplicates::title_hash`], for migration 8 (nothing in the schema calls it, so plain
/// SQLite reads and checks the file).
fn add_functions(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    use rusqlite::types::ValueRef;
    conn.create_scalar_function(
        "record_json",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| match ctx.get_raw(1) {
            ValueRef::Blob(body) => codec::decompress_json(body)
                .map_err(|e| rusqlite::Error::UserFunctionError(e.into())),
            _ => ctx.get::<String>(0),
        },
    )?;
    conn.create_scalar_function(
        "snodo_title_hash",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| Ok(crate::duplicates::title_hash(&ctx.get::<String>(0)?)),
    )
}

/// The statements of a write transaction on SQLite (`prepare_cached`: parsed once per
/// connection).
pub(crate) struct SqliteTx<'c> {
    conn: &'c Connection,
}

impl<'c> SqliteTx<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Self {
        SqliteTx { conn }
    }

    fn exec(&self, sql: &str, p: impl rusqlite::Params) -> Result<usize, DbError> {
        Ok(self.conn.prepare_cached(sql)?.execute(p)?)
    }
}

/// The live records of other sources that hold a title key of record `?1` (of source `?2`),
/// unless more than `?3` records (gone ones too) hold that key. Candidates come through
/// `record_keys_by_title` by the hash of the folded title, then must hold the very key.
pub(crate) const TITLE_PARTNERS: &str = "
    SELECT o.record_id, 1, p.kind
    FROM record_keys k
    JOIN record_keys o ON o.title_hash = k.title_hash AND o.key = k.key
    JOIN records p ON p.id = o.record_id
    WHERE k.record_id = ?1 AND k.title_hash IS NOT NULL
      AND p.source <> ?2 AND p.gone_at IS NULL
      AND (SELECT COUNT(*) FROM (SELECT 1 FROM record_keys g
                                 WHERE g.title_hash = k.title_hash AND g.key = k.key
                                 LIMIT ?3 + 1)) <= ?3";

/// The live records of other sources at the other end of a link of record `?1` (of source
/// `?2`): its page linked from theirs (`u:` ↔ `l:`), or theirs from its, through
/// `record_keys_by_link`.
pub(crate) const LINK_PARTNERS: &str = "
    SELECT o.record_id, 0, p.kind
    FROM record_keys k
    JOIN record_keys o ON o.key = CASE substr(k.key, 1, 2) WHEN 'u:' THEN 'l:' || substr(k.key, 3)
                                                           ELSE 'u:' || substr(k.key, 3) END
                      AND o.title_hash IS NULL
    JOIN records p ON p.id = o.record_id
    WHERE k.record_id = ?1 AND k.title_hash IS NULL
      AND p.source <> ?2 AND p.gone_at IS NULL";

impl WriteTx for SqliteTx<'_> {
    fn run_state(&mut self, run: i64) -> Result<Option<(String, String, i64)>, DbError> {
        Ok(self
            .conn
            .prepare_cached("SELECT source, outcome, seen FROM runs WHERE id = ?1")?
            .query_row([run], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?)
    }

    fn existing(&mut self, id: &str) -> Result<Option<(String, bool)>, DbError> {
        Ok(self
            .conn
            .prepare_cached("SELECT content_hash, gone_at IS NOT NULL FROM records WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    fn log(&mut self, id: &str, op: &str) -> Result<i64, DbError> {
        self.exec(
            "INSERT INTO changes (record_id, op) VALUES (?1, ?2)",
            [id, op],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn insert(&mut self, r: &NewRecord<'_>) -> Result<(), DbError> {
        self.exec(
            "INSERT INTO records (id, source, kind, upstream_id, json, body, content_hash,
                                  first_seen, last_seen, last_changed, seq, last_run)
             VALUES (?1, ?2, ?3, ?4, '', ?5, ?6, ?7, ?7, ?7, ?8, ?9)",
            params![
                r.id,
                r.source,
                r.kind,
                r.upstream_id,
                codec::compress_json(r.json),
                r.hash,
                ts(r.now),
                r.seq,
                r.run
            ],
        )
        .map(drop)
    }

    fn update(
        &mut self,
        id: &str,
        json: &str,
        hash: &str,
        now: DateTime<Utc>,
        seq: i64,
        run: i64,
    ) -> Result<(), DbError> {
        self.exec(
            "UPDATE records SET json = '', body = ?2, content_hash = ?3, last_seen = ?4,
                    last_changed = ?4, gone_at = NULL, seq = ?5, last_run = ?6
             WHERE id = ?1",
            params![id, codec::compress_json(json), hash, ts(now), seq, run],
        )
        .map(drop)
    }

    fn touch(&mut self, id: &str, now: DateTime<Utc>, run: i64) -> Result<(), DbError> {
        self.exec(
            "UPDATE records SET last_seen = ?2, last_run = ?3 WHERE id = ?1",
            params![id, ts(now), run],
        )
        .map(drop)
    }

    fn revive(&mut self, id: &str, now: DateTime<Utc>, run: i64, seq: i64) -> Result<(), DbError> {
        self.exec(
            "UPDATE records SET last_seen = ?2, last_run = ?3, gone_at = NULL, seq = ?4
             WHERE id = ?1",
            params![id, ts(now), run, seq],
        )
        .map(drop)
    }

    fn live_count(&mut self, source: &str) -> Result<i64, DbError> {
        Ok(self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM records WHERE source = ?1 AND gone_at IS NULL")?
            .query_row([source], |r| r.get(0))?)
    }

    fn live_ids(&mut self, source: &str) -> Result<Vec<String>, DbError> {
        Ok(self
            .conn
            .prepare_cached("SELECT id FROM records WHERE source = ?1 AND gone_at IS NULL")?
            .query_map([source], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?)
    }

    fn unseen(&mut self, source: &str, run: i64) -> Result<Vec<String>, DbError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id FROM records
                 WHERE source = ?1 AND gone_at IS NULL AND (last_run IS NULL OR last_run <> ?2)",
            )?
            .query_map(params![source, run], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?)
    }

    fn mark_gone(&mut self, id: &str, now: DateTime<Utc>, seq: i64) -> Result<(), DbError> {
        self.exec(
            "UPDATE records SET gone_at = ?2, seq = ?3 WHERE id = ?1",
            params![id, ts(now), seq],
        )
        .map(drop)
    }

    fn set_checkpoint(&mut self, source: &str, checkpoint: &str) -> Result<(), DbError> {
        self.exec(
            "UPDATE sources SET checkpoint = ?2 WHERE id = ?1",
            [source, checkpoint],
        )
        .map(drop)
    }

    fn set_classified(&mut self, source: &str, fingerprint: &str) -> Result<(), DbError> {
        self.exec(
            "UPDATE sources SET classified_with = ?2 WHERE id = ?1",
            [source, fingerprint],
        )
        .map(drop)
    }

    fn set_swept(&mut self, source: &str, now: DateTime<Utc>) -> Result<(), DbError> {
        self.exec(
            "UPDATE sources SET swept_at = ?2 WHERE id = ?1",
            params![source, ts(now)],
        )
        .map(drop)
    }

    fn add_counts(&mut self, run: i64, c: &crate::RunCounts) -> Result<(), DbError> {
        self.exec(
            "UPDATE runs SET seen = seen + ?2, added = added + ?3, changed = changed + ?4,
                    unchanged = unchanged + ?5, failed = failed + ?6, gone = gone + ?7,
                    revived = revived + ?8
             WHERE id = ?1",
            params![
                run,
                int(c.seen),
                int(c.added),
                int(c.changed),
                int(c.unchanged),
                int(c.failed),
                int(c.gone),
                int(c.revived)
            ],
        )
        .map(drop)
    }

    fn replace_keys(&mut self, id: &str, keys: &BTreeSet<String>) -> Result<(), DbError> {
        self.exec("DELETE FROM record_keys WHERE record_id = ?1", [id])?;
        let mut ins = self.conn.prepare_cached(
            "INSERT INTO record_keys (record_id, key, title_hash) VALUES (?1, ?2, ?3)",
        )?;
        for k in keys {
            ins.execute(params![id, k, crate::duplicates::title_hash(k)])?;
        }
        Ok(())
    }

    fn key_partners(
        &mut self,
        id: &str,
        source: &str,
        max_holders: usize,
    ) -> Result<Vec<(String, bool, String)>, DbError> {
        type Partner = (String, bool, String);
        let partner = |row: &rusqlite::Row<'_>| -> rusqlite::Result<Partner> {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        };
        let mut out: Vec<Partner> = self
            .conn
            .prepare_cached(LINK_PARTNERS)?
            .query_map(params![id, source], partner)?
            .collect::<rusqlite::Result<_>>()?;
        let titles: Vec<Partner> = self
            .conn
            .prepare_cached(TITLE_PARTNERS)?
            .query_map(params![id, source, max_holders as i64], partner)?
            .collect::<rusqlite::Result<_>>()?;
        out.extend(titles);
        Ok(out)
    }

    fn record_json(&mut self, id: &str) -> Result<Option<String>, DbError> {
        Ok(self
            .conn
            .prepare_cached("SELECT record_json(json, body) FROM records WHERE id = ?1")?
            .query_row([id], |row| row.get(0))
            .optional()?)
    }

    fn links(&mut self, id: &str) -> Result<BTreeSet<String>, DbError> {
        Ok(self
            .conn
            .prepare_cached("SELECT other_id FROM record_links WHERE record_id = ?1")?
            .query_map([id], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?)
    }

    fn drop_links(&mut self, id: &str) -> Result<(), DbError> {
        self.exec(
            "DELETE FROM record_links WHERE record_id = ?1 OR other_id = ?1",
            [id],
        )
        .map(drop)
    }

    fn add_link(&mut self, a: &str, b: &str) -> Result<(), DbError> {
        let sql = "INSERT OR IGNORE INTO record_links (record_id, other_id) VALUES (?1, ?2)";
        self.exec(sql, [a, b])?;
        self.exec(sql, [b, a]).map(drop)
    }

    fn bump(&mut self, id: &str) -> Result<(), DbError> {
        let n = self.exec(
            "INSERT INTO changes (record_id, op)
             SELECT id, CASE WHEN gone_at IS NULL THEN 'upsert' ELSE 'gone' END
             FROM records WHERE id = ?1",
            [id],
        )?;
        if n == 1 {
            let seq = self.conn.last_insert_rowid();
            self.exec(
                "UPDATE records SET seq = ?2 WHERE id = ?1",
                params![id, seq],
            )?;
        }
        Ok(())
    }
}

/// Ids as a JSON array, for `json_each`.
fn id_list(ids: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(ids).map_err(|source| StoreError::Encode {
        what: "a list of record ids".into(),
        source,
    })
}

/// A record's `last_seen`: a live record was also seen by its source's last complete sweep
/// (records handed over by id are not written; see migration 7).
const LAST_SEEN: &str = "CASE WHEN records.gone_at IS NULL
    THEN max(records.last_seen,
             COALESCE((SELECT swept_at FROM sources WHERE sources.id = records.source), ''))
    ELSE records.last_seen END";

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
        codec::run_record(codec::RunRow {
            id,
            source: self.source,
            started_at,
            finished_at,
            outcome: &self.outcome,
            counts: self.counts,
            error: self.error,
            warnings: &self.warnings,
            requests: self.requests,
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

/// Reading everything out for `snodo migrate` (see `crate::transfer`).
impl SqliteStore {
    pub(crate) fn export_sources(&self) -> Result<Vec<SourceRow>, StoreError> {
        type Raw = (
            String,
            String,
            String,
            String,
            bool,
            Option<String>,
            Option<String>,
        );
        let raws: Vec<Raw> = self.read(|c| {
            c.prepare(
                "SELECT id, name, kind, url, configured, checkpoint, next_run_at
                 FROM sources ORDER BY id",
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
                    ))
                })?
                .collect()
            })
            .ctx("reading the sources to copy")
        })?;
        raws.into_iter()
            .map(|(id, name, kind, url, configured, checkpoint, next)| {
                let what = || format!("source `{id}`");
                Ok(SourceRow {
                    next_run_at: parse_opt_ts(next.as_deref(), what)?,
                    id,
                    name,
                    kind,
                    url,
                    configured,
                    checkpoint,
                })
            })
            .collect()
    }

    pub(crate) fn export_records(
        &self,
        after: &str,
        limit: usize,
    ) -> Result<Vec<RecordRow>, StoreError> {
        type Raw = (
            String,
            String,
            String,
            String,
            String,
            String,
            [String; 3],
            Option<String>,
            i64,
            Option<i64>,
        );
        let raws: Vec<Raw> = self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT id, source, kind, upstream_id, record_json(json, body), content_hash,
                        first_seen, {LAST_SEEN}, last_changed, gone_at, seq, last_run
                 FROM records WHERE id > ?1 ORDER BY id LIMIT ?2"
            ))
            .and_then(|mut s| {
                s.query_map(params![after, limit as i64], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        [r.get(6)?, r.get(7)?, r.get(8)?],
                        r.get(9)?,
                        r.get(10)?,
                        r.get(11)?,
                    ))
                })?
                .collect()
            })
            .ctx("reading the records to copy")
        })?;
        raws.into_iter()
            .map(
                |(
                    id,
                    source,
                    kind,
                    upstream_id,
                    json,
                    content_hash,
                    times,
                    gone,
                    seq,
                    last_run,
                )| {
                    let what = || format!("record {id}");
                    let [first, last, changed] = &times;
                    Ok(RecordRow {
                        first_seen: parse_ts(first, what)?,
                        last_seen: parse_ts(last, what)?,
                        last_changed: parse_ts(changed, what)?,
                        gone_at: parse_opt_ts(gone.as_deref(), what)?,
                        id,
                        source,
                        kind,
                        upstream_id,
                        json,
                        content_hash,
                        seq,
                        last_run,
                    })
                },
            )
            .collect()
    }

    pub(crate) fn export_changes(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<ChangeRow>, StoreError> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT seq, record_id, op FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .and_then(|mut s| {
                s.query_map(params![after, limit as i64], |r| {
                    Ok(ChangeRow {
                        seq: r.get(0)?,
                        record_id: r.get(1)?,
                        op: r.get(2)?,
                    })
                })?
                .collect()
            })
            .ctx("reading the change log to copy")
        })
    }

    pub(crate) fn export_runs(&self, after: i64, limit: usize) -> Result<Vec<RunRow>, StoreError> {
        let raws: Vec<RawRun> = self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE id > ?1 ORDER BY id LIMIT ?2"
            ))
            .and_then(|mut s| {
                s.query_map(params![after, limit as i64], raw_run)?
                    .collect()
            })
            .ctx("reading the runs to copy")
        })?;
        raws.into_iter()
            .map(|r| {
                let id = r.id;
                let what = || format!("harvest run {id}");
                Ok(RunRow {
                    started_at: parse_ts(&r.started_at, what)?,
                    finished_at: parse_opt_ts(r.finished_at.as_deref(), what)?,
                    id,
                    source: r.source,
                    outcome: r.outcome,
                    counts: r.counts,
                    error: r.error,
                    warnings: r.warnings,
                    requests: r.requests,
                })
            })
            .collect()
    }

    /// Key (`keys`) or link (`links`) rows after `(a, b)`, in that order.
    pub(crate) fn export_pairs(
        &self,
        links: bool,
        after: &(String, String),
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let sql = if links {
            "SELECT record_id, other_id FROM record_links
             WHERE (record_id, other_id) > (?1, ?2) ORDER BY record_id, other_id LIMIT ?3"
        } else {
            "SELECT record_id, key FROM record_keys
             WHERE (record_id, key) > (?1, ?2) ORDER BY record_id, key LIMIT ?3"
        };
        self.read(|c| {
            c.prepare_cached(sql)
                .and_then(|mut s| {
                    s.query_map(params![after.0, after.1, limit as i64], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })?
                    .collect()
                })
                .ctx("reading the duplicate keys and links to copy")
        })
    }

    pub(crate) fn summary(&self) -> Result<StoreSummary, StoreError> {
        let ctx = "summarising the store";
        let counts: [i64; 7] = self.read(|c| {
            c.query_row(
                "SELECT (SELECT COUNT(*) FROM sources), (SELECT COUNT(*) FROM records),
                        (SELECT COUNT(*) FROM records WHERE gone_at IS NULL),
                        (SELECT COUNT(*) FROM changes), (SELECT COUNT(*) FROM runs),
                        (SELECT COUNT(*) FROM record_keys), (SELECT COUNT(*) FROM record_links)",
                [],
                |r| {
                    Ok([
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ])
                },
            )
            .ctx(ctx)
        })?;
        let mut digest = Digest::default();
        let mut after = String::new();
        loop {
            let rows: Vec<(String, String, i64, bool)> = self.read(|c| {
                c.prepare_cached(
                    "SELECT id, content_hash, seq, gone_at IS NULL FROM records
                     WHERE id > ?1 ORDER BY id LIMIT ?2",
                )
                .and_then(|mut s| {
                    s.query_map(params![after, crate::transfer::CHUNK as i64], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })?
                    .collect()
                })
                .ctx(ctx)
            })?;
            let Some(last) = rows.last() else { break };
            after = last.0.clone();
            for (id, hash, seq, live) in &rows {
                digest.add(id, hash, *seq, *live);
            }
        }
        let [sources, records, live_records, changes, runs, keys, links] = counts.map(uint);
        Ok(StoreSummary {
            sources,
            records,
            live_records,
            changes,
            runs,
            keys,
            links,
            max_seq: self.max_seq()?,
            records_digest: digest.finish(),
        })
    }
}
