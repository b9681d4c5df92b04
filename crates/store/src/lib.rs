//! Snodo's store: the database that is the source of truth — an embedded SQLite file by
//! default, PostgreSQL for deployments of several processes.
//!
//! It owns the schema and its numbered migrations (one list per engine), the records with their
//! content hashes and harvest bookkeeping, the change log whose `seq` the indexer follows, the
//! harvest runs, and the per-source checkpoints and schedule. A batch of records and the
//! checkpoint covering it are written in one transaction, and deletions are only ever inferred
//! from a complete listing. The rules are written once (`write`); each engine supplies the
//! statements.
//!
//! It must not fetch anything, touch the search index or know about HTTP, and no rusqlite or
//! postgres type appears in its public API. The API is blocking: async callers run it on
//! `spawn_blocking` or a thread of their own. One process writes; reads use their own
//! connections and never wait behind a write.

mod backfill;
mod codec;
mod duplicates;
mod error;
mod pg;
mod schema;
mod sqlite;
mod transfer;
mod types;
mod write;

#[cfg(test)]
mod tests;

use std::path::Path;

use chrono::{DateTime, Utc};
use snodo_model::Record;

pub use crate::error::{DbError, StoreError};
pub use crate::pg::{redact as redact_url, ChangeListener, Leadership};
pub use crate::transfer::StoreSummary;
pub use crate::types::{
    AppliedBatch, Change, HarvestBatch, Outcome, ParseOutcomeError, RunCounts, RunFinish, RunId,
    RunRecord, ScheduleState, SourceInfo, SourceStatus, StoredRecord, DEFAULT_MAX_SWEEP_FRACTION,
    SWEEP_GUARD_MIN_RECORDS,
};

/// The database of one Snodo deployment. `Send + Sync`: share it with an `Arc`.
pub struct Store {
    engine: Engine,
}

enum Engine {
    Sqlite(sqlite::SqliteStore),
    Postgres(Box<pg::PgStore>),
}

impl Store {
    /// Opens (creating the file and its directory if missing) and migrates a SQLite database.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Ok(Store {
            engine: Engine::Sqlite(sqlite::SqliteStore::open(path)?),
        })
    }

    /// A private SQLite database that lives as long as the `Store`; for tests and the demo.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        Ok(Store {
            engine: Engine::Sqlite(sqlite::SqliteStore::open_in_memory()?),
        })
    }

    /// Connects to PostgreSQL (`postgres://user:password@host:port/database`) and migrates its
    /// schema; processes starting together apply each migration once.
    pub fn connect(url: &str) -> Result<Store, StoreError> {
        Ok(Store {
            engine: Engine::Postgres(Box::new(pg::PgStore::open(url)?)),
        })
    }

    /// The SQLite file, `None` in memory or on PostgreSQL.
    pub fn path(&self) -> Option<&Path> {
        match &self.engine {
            Engine::Sqlite(s) => s.path(),
            Engine::Postgres(_) => None,
        }
    }

    /// True on PostgreSQL: several processes may share the store, so harvesting needs
    /// [`Store::try_lead`] and replicas follow [`Store::listen`].
    pub fn is_shared(&self) -> bool {
        matches!(self.engine, Engine::Postgres(_))
    }

    /// Leaves the data in its tidy resting state before the process exits: with SQLite the
    /// write-ahead log is copied into the file and truncated (after a 1M-record harvest it held
    /// 64 MiB beside the file until the next start); nothing to do on PostgreSQL.
    pub fn settle(&self) -> Result<(), StoreError> {
        match &self.engine {
            Engine::Sqlite(s) => s.truncate_wal(),
            Engine::Postgres(_) => Ok(()),
        }
    }

    /// Where the data lives, for logs and `/status`: the file, or `host:port/database`.
    pub fn location(&self) -> String {
        match &self.engine {
            Engine::Sqlite(s) => s
                .path()
                .map_or_else(|| "memory".into(), |p| p.display().to_string()),
            Engine::Postgres(p) => format!("postgres://{}", p.target()),
        }
    }

    /// Takes the harvester leadership if no other process holds it (`None` then). Only on
    /// PostgreSQL; with SQLite the index writer lock already makes one process the harvester.
    pub fn try_lead(&self) -> Result<Option<Leadership>, StoreError> {
        match &self.engine {
            Engine::Sqlite(_) => Err(StoreError::NotShared("taking the harvester leadership")),
            Engine::Postgres(p) => Leadership::try_acquire(p.config(), p.target()),
        }
    }

    /// A session that wakes when another process commits changes. Only on PostgreSQL.
    pub fn listen(&self) -> Result<ChangeListener, StoreError> {
        match &self.engine {
            Engine::Sqlite(_) => Err(StoreError::NotShared("listening for changes")),
            Engine::Postgres(p) => ChangeListener::open(p.config(), p.target()),
        }
    }

    /// Makes the stored sources match the configuration. Sources no longer configured keep their
    /// row, records and runs (flagged `configured = false`) so that history survives a config
    /// edit. A source whose kind or URL changed loses its checkpoint: a cursor into one platform
    /// means nothing to another.
    pub fn sync_sources(&self, sources: &[SourceInfo]) -> Result<(), StoreError> {
        match &self.engine {
            Engine::Sqlite(s) => s.sync_sources(sources),
            Engine::Postgres(p) => p.sync_sources(sources),
        }
    }

    /// Records that a run of `source` began; it stays `running` until [`Store::finish_run`]
    /// (or [`Store::abandon_unfinished_runs`] after a crash).
    pub fn start_run(&self, source: &str, started_at: DateTime<Utc>) -> Result<RunId, StoreError> {
        match &self.engine {
            Engine::Sqlite(s) => s.start_run(source, started_at),
            Engine::Postgres(p) => p.start_run(source, started_at),
        }
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
        match &self.engine {
            Engine::Sqlite(s) => s.apply_harvest(run, batch),
            Engine::Postgres(p) => p.apply_harvest(run, batch),
        }
    }

    /// Closes a run. Only a `running` run can be finished: finishing twice is a harvester bug.
    pub fn finish_run(&self, run: RunId, finish: &RunFinish) -> Result<(), StoreError> {
        match &self.engine {
            Engine::Sqlite(s) => s.finish_run(run, finish),
            Engine::Postgres(p) => p.finish_run(run, finish),
        }
    }

    /// Runs left `running` by a process that died become `abandoned`; call once at start-up,
    /// before any new run begins. Returns how many there were.
    pub fn abandon_unfinished_runs(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        match &self.engine {
            Engine::Sqlite(s) => s.abandon_unfinished_runs(now),
            Engine::Postgres(p) => p.abandon_unfinished_runs(now),
        }
    }

    /// Changes after `after_seq`, ascending, at most `limit`. Compacted: a record that changed
    /// several times appears once, at its latest `seq`, with its current state, so the indexer
    /// can set its cursor to the last `seq` returned.
    pub fn changes_since(&self, after_seq: u64, limit: usize) -> Result<Vec<Change>, StoreError> {
        match &self.engine {
            Engine::Sqlite(s) => s.changes_since(after_seq, limit),
            Engine::Postgres(p) => p.changes_since(after_seq, limit),
        }
    }

    /// The highest `seq` ever issued (0 for an empty database), even if log rows were removed.
    pub fn max_seq(&self) -> Result<u64, StoreError> {
        match &self.engine {
            Engine::Sqlite(s) => s.max_seq(),
            Engine::Postgres(p) => p.max_seq(),
        }
    }

    /// Calls `f` with every live record, in id order, a chunk at a time so a reindex never holds
    /// the catalogue in memory. Not a snapshot: read [`Store::max_seq`] first and replay
    /// [`Store::changes_since`] it afterwards to catch writes made meanwhile. `f` may call back
    /// into the store. Returns how many records were passed to `f`.
    pub fn live_records(
        &self,
        f: &mut dyn FnMut(Record) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        match &self.engine {
            Engine::Sqlite(s) => s.live_records(f),
            Engine::Postgres(p) => p.live_records(f),
        }
    }

    /// One record with its bookkeeping, gone or not (`gone_at` tells); `None` if never stored.
    pub fn record(&self, id: &str) -> Result<Option<StoredRecord>, StoreError> {
        match &self.engine {
            Engine::Sqlite(s) => s.record(id),
            Engine::Postgres(p) => p.record(id),
        }
    }

    /// The live records of `source` among `ids`, as harvested (duplicate links not merged into
    /// `same_as`), in no particular order; ids not found are left out. For a harvester that must
    /// classify again records a connector handed over by id.
    pub fn harvested_records(
        &self,
        source: &str,
        ids: &[String],
    ) -> Result<Vec<Record>, StoreError> {
        match &self.engine {
            Engine::Sqlite(s) => s.harvested_records(source, ids),
            Engine::Postgres(p) => p.harvested_records(source, ids),
        }
    }

    /// How many of `ids` are live records of `source`: a connector may hand over by id only
    /// records the store still has.
    pub fn count_live(&self, source: &str, ids: &[String]) -> Result<usize, StoreError> {
        match &self.engine {
            Engine::Sqlite(s) => s.count_live(source, ids),
            Engine::Postgres(p) => p.count_live(source, ids),
        }
    }

    /// The classification fingerprint saved by the source's last batch that carried one
    /// ([`HarvestBatch::classified_with`]); `None` if none did.
    pub fn classified_with(&self, source: &str) -> Result<Option<String>, StoreError> {
        match &self.engine {
            Engine::Sqlite(s) => s.classified_with(source),
            Engine::Postgres(p) => p.classified_with(source),
        }
    }

    /// Every source ever configured, by id, with its health.
    pub fn sources(&self) -> Result<Vec<SourceStatus>, StoreError> {
        match &self.engine {
            Engine::Sqlite(s) => s.sources(),
            Engine::Postgres(p) => p.sources(),
        }
    }

    /// A page of a source's runs, newest first, with the total number of runs.
    pub fn runs(
        &self,
        source: &str,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<RunRecord>, u64), StoreError> {
        match &self.engine {
            Engine::Sqlite(s) => s.runs(source, limit, offset),
            Engine::Postgres(p) => p.runs(source, limit, offset),
        }
    }

    /// The cursor saved by the last batch that carried one; `None` for a source never harvested
    /// (or unknown, or reset).
    pub fn checkpoint(&self, source: &str) -> Result<Option<String>, StoreError> {
        match &self.engine {
            Engine::Sqlite(s) => s.checkpoint(source),
            Engine::Postgres(p) => p.checkpoint(source),
        }
    }

    /// Forgets a source's checkpoint so that the next run starts from the beginning; outside a
    /// harvest because losing progress is always safe.
    pub fn reset_checkpoint(&self, source: &str) -> Result<(), StoreError> {
        match &self.engine {
            Engine::Sqlite(s) => s.reset_checkpoint(source),
            Engine::Postgres(p) => p.reset_checkpoint(source),
        }
    }

    /// When the source last ran and is next due; both `None` for an unknown source.
    pub fn schedule_state(&self, source: &str) -> Result<ScheduleState, StoreError> {
        match &self.engine {
            Engine::Sqlite(s) => s.schedule_state(source),
            Engine::Postgres(p) => p.schedule_state(source),
        }
    }

    /// Saves when the scheduler plans the next run, so a restart keeps the plan.
    pub fn set_next_run(
        &self,
        source: &str,
        next: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        match &self.engine {
            Engine::Sqlite(s) => s.set_next_run(source, next),
            Engine::Postgres(p) => p.set_next_run(source, next),
        }
    }

    /// Live records per `(source, kind)`, sorted, for metrics.
    pub fn record_counts_by_kind(&self) -> Result<Vec<(String, String, u64)>, StoreError> {
        match &self.engine {
            Engine::Sqlite(s) => s.record_counts_by_kind(),
            Engine::Postgres(p) => p.record_counts_by_kind(),
        }
    }

    /// Live records of one source by kind: what its run changed, without counting the others.
    pub fn record_counts_of(&self, source: &str) -> Result<Vec<(String, u64)>, StoreError> {
        match &self.engine {
            Engine::Sqlite(s) => s.record_counts_of(source),
            Engine::Postgres(p) => p.record_counts_of(source),
        }
    }

    /// SQLite's own consistency check plus a foreign-key check; for `/status` and operators.
    pub fn integrity_check(&self) -> Result<(), StoreError> {
        match &self.engine {
            Engine::Sqlite(s) => s.integrity_check(),
            Engine::Postgres(p) => p.integrity_check(),
        }
    }

    /// Writes a consistent, compacted copy of a SQLite database to `dest` (`VACUUM INTO`) while
    /// harvests go on. `dest` must not exist yet, so a backup never overwrites another. On
    /// PostgreSQL, backups are the server's business (`pg_dump`, base backups).
    pub fn backup_to(&self, dest: &Path) -> Result<(), StoreError> {
        match &self.engine {
            Engine::Sqlite(s) => s.backup_to(dest),
            Engine::Postgres(_) => Err(StoreError::Backup {
                path: dest.to_owned(),
                detail: "the store is on PostgreSQL: back it up with pg_dump or the server's \
                         own backups"
                    .into(),
            }),
        }
    }

    /// Creates a database on the PostgreSQL server `admin_url` points at (its user must be
    /// allowed to) and returns the new database's URL; for tests and set-up scripts.
    pub fn create_database(admin_url: &str, name: &str) -> Result<String, StoreError> {
        pg::create_database(admin_url, name)
    }

    /// Row counts and a digest of every record: what `snodo migrate` compares.
    pub fn summary(&self) -> Result<StoreSummary, StoreError> {
        match &self.engine {
            Engine::Sqlite(s) => s.summary(),
            Engine::Postgres(p) => p.summary(),
        }
    }

    /// Copies this SQLite store, history included, into `dest` on PostgreSQL, which must hold
    /// no records, runs or changes yet; then checks that both have the same rows and records.
    /// `progress` hears each table's name and rows copied so far. Returns what both hold.
    pub fn copy_to(
        &self,
        dest: &Store,
        progress: &mut dyn FnMut(&str, u64),
    ) -> Result<StoreSummary, StoreError> {
        let (Engine::Sqlite(from), Engine::Postgres(to)) = (&self.engine, &dest.engine) else {
            return Err(StoreError::Copy(
                "copies go from a SQLite store to a PostgreSQL one".into(),
            ));
        };
        let there = to.summary()?;
        if there.records + there.runs + there.changes > 0 {
            return Err(StoreError::Copy(format!(
                "the destination already holds {} records, {} runs and {} changes; migrate                  into a new, empty database",
                there.records, there.runs, there.changes
            )));
        }
        let here = from.summary()?;
        use transfer::{Chunk, CHUNK};
        to.import(&Chunk::Sources(from.export_sources()?))?;
        progress("sources", here.sources);
        let mut done = 0;
        let mut after = String::new();
        loop {
            let rows = from.export_records(&after, CHUNK)?;
            let Some(last) = rows.last() else { break };
            after = last.id.clone();
            done += rows.len() as u64;
            to.import(&Chunk::Records(rows))?;
            progress("records", done);
        }
        let (mut done, mut after) = (0, 0);
        loop {
            let rows = from.export_changes(after, CHUNK)?;
            let Some(last) = rows.last() else { break };
            after = last.seq;
            done += rows.len() as u64;
            to.import(&Chunk::Changes(rows))?;
            progress("changes", done);
        }
        let (mut done, mut after) = (0, 0);
        loop {
            let rows = from.export_runs(after, CHUNK)?;
            let Some(last) = rows.last() else { break };
            after = last.id;
            done += rows.len() as u64;
            to.import(&Chunk::Runs(rows))?;
            progress("runs", done);
        }
        for (links, name) in [(false, "keys"), (true, "links")] {
            let (mut done, mut after) = (0, (String::new(), String::new()));
            loop {
                let rows = from.export_pairs(links, &after, CHUNK)?;
                let Some(last) = rows.last() else { break };
                after = last.clone();
                done += rows.len() as u64;
                to.import(&if links {
                    Chunk::Links(rows)
                } else {
                    Chunk::Keys(rows)
                })?;
                progress(name, done);
            }
        }
        to.finish_import(here.max_seq)?;
        let copied = to.summary()?;
        if copied != here {
            return Err(StoreError::Copy(format!(
                "the copy differs from the original (was {here:?}, copied {copied:?}); the \
                 SQLite store was not changed: drop the new database and try again"
            )));
        }
        Ok(copied)
    }

    /// Runs SQL (no results) on either engine, for tests that inspect or damage raw tables.
    #[cfg(test)]
    fn raw_batch(&self, sql: &str) {
        match &self.engine {
            Engine::Sqlite(s) => s.writer().execute_batch(sql).unwrap(),
            Engine::Postgres(p) => p.raw_batch(sql),
        }
    }

    /// The first column of a one-row query as i64 (SQLite) or bigint (PostgreSQL).
    #[cfg(test)]
    fn raw_i64(&self, sql: &str) -> i64 {
        match &self.engine {
            Engine::Sqlite(s) => s.writer().query_row(sql, [], |r| r.get(0)).unwrap(),
            Engine::Postgres(p) => p.raw_row(sql).get(0),
        }
    }

    /// The first column of a one-row query as text.
    #[cfg(test)]
    fn raw_text(&self, sql: &str) -> String {
        match &self.engine {
            Engine::Sqlite(s) => s.writer().query_row(sql, [], |r| r.get(0)).unwrap(),
            Engine::Postgres(p) => p.raw_row(sql).get(0),
        }
    }

    /// The SQLite connection, for tests that inspect or damage the raw tables.
    #[cfg(test)]
    fn sqlite_writer(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        match &self.engine {
            Engine::Sqlite(s) => s.writer(),
            Engine::Postgres(_) => panic!("a SQLite-only test ran on PostgreSQL"),
        }
    }
}
