//! The schema as numbered migrations. `PRAGMA user_version` holds how many have been applied.
//!
//! A migration that has shipped is never edited: databases in the field already ran it. A change
//! of schema is a new entry at the end of [`MIGRATIONS`].
//!
//! Timestamps are RFC 3339 TEXT in UTC with millisecond precision and a `Z` suffix
//! (`2024-05-01T08:00:00.000Z`): fixed width, so text order is time order.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{Ctx, StoreError};

pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: sources, records, the change log, harvest runs.
    r#"
CREATE TABLE sources (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    url         TEXT NOT NULL,
    configured  INTEGER NOT NULL DEFAULT 1,
    checkpoint  TEXT,
    next_run_at TEXT
) STRICT;

CREATE TABLE records (
    id           TEXT PRIMARY KEY NOT NULL,
    source       TEXT NOT NULL REFERENCES sources(id),
    kind         TEXT NOT NULL,
    upstream_id  TEXT NOT NULL,
    json         TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    first_seen   TEXT NOT NULL,
    last_seen    TEXT NOT NULL,
    last_changed TEXT NOT NULL,
    gone_at      TEXT,
    seq          INTEGER NOT NULL,
    last_run     INTEGER
) STRICT;
CREATE INDEX records_by_source ON records(source, gone_at);

CREATE TABLE changes (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id TEXT NOT NULL REFERENCES records(id) DEFERRABLE INITIALLY DEFERRED,
    op        TEXT NOT NULL CHECK (op IN ('upsert', 'gone'))
) STRICT;
CREATE INDEX changes_by_record ON changes(record_id);

CREATE TABLE runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    source      TEXT NOT NULL REFERENCES sources(id),
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    outcome     TEXT NOT NULL
                CHECK (outcome IN ('running', 'success', 'partial', 'failed', 'abandoned')),
    seen        INTEGER NOT NULL DEFAULT 0,
    added       INTEGER NOT NULL DEFAULT 0,
    changed     INTEGER NOT NULL DEFAULT 0,
    unchanged   INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    gone        INTEGER NOT NULL DEFAULT 0,
    revived     INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    warnings    TEXT NOT NULL DEFAULT '[]',
    requests    INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX runs_by_source ON runs(source, started_at, id);
CREATE INDEX runs_running ON runs(outcome) WHERE outcome = 'running';
"#,
    // 2: cross-platform duplicates. Each record's match keys (folded titles, its URL, the URLs
    // its description links to) and the links between duplicates, stored in both directions.
    // Records stored before this migration get their keys when the store is next opened.
    r#"
CREATE TABLE record_keys (
    record_id TEXT NOT NULL REFERENCES records(id) DEFERRABLE INITIALLY DEFERRED,
    key       TEXT NOT NULL,
    PRIMARY KEY (record_id, key)
) STRICT, WITHOUT ROWID;
CREATE INDEX record_keys_by_key ON record_keys(key);

CREATE TABLE record_links (
    record_id TEXT NOT NULL REFERENCES records(id) DEFERRABLE INITIALLY DEFERRED,
    other_id  TEXT NOT NULL REFERENCES records(id) DEFERRABLE INITIALLY DEFERRED,
    PRIMARY KEY (record_id, other_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX record_links_by_other ON record_links(other_id);
"#,
    // 3: how far the one-time computation of keys and links for records stored before
    // migration 2 got, so that it commits in chunks and resumes after a crash. At most one row
    // while it runs, none once it is done; `after` is the last record id (the last key while
    // linking) that `phase` has done.
    r#"
CREATE TABLE duplicates_backfill (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    phase TEXT NOT NULL CHECK (phase IN ('keys', 'links', 'bump')),
    after TEXT NOT NULL
) STRICT;
"#,
    // 4: duplicates need evidence beyond a shared title (dates that agree and one place at one
    // level, or an explicit link), so the links found by the older, looser rule are found again:
    // the records they joined are remembered for re-indexing, the links dropped, and the chunked
    // backfill resumes at its links phase (or stays in its keys phase if interrupted there). Its
    // bump phase re-indexes the newly linked and the formerly linked alike, so a record that is
    // no longer a duplicate reappears in search. Match keys are unchanged.
    r#"
CREATE TABLE relink_bump (
    record_id TEXT PRIMARY KEY NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO relink_bump (record_id) SELECT DISTINCT record_id FROM record_links;
DELETE FROM record_links;
INSERT INTO duplicates_backfill (id, phase, after)
    SELECT 1, 'links', '' WHERE EXISTS (SELECT 1 FROM relink_bump)
    ON CONFLICT (id) DO UPDATE SET
        phase = CASE WHEN phase = 'keys' THEN 'keys' ELSE 'links' END,
        after = CASE WHEN phase = 'keys' THEN after ELSE '' END;
"#,
    // 5: live records counted by source and kind (the metrics after every run, the console)
    // from a small index instead of a scan of every record's row.
    r#"
CREATE INDEX IF NOT EXISTS records_live_by_kind ON records(source, kind) WHERE gone_at IS NULL;
"#,
    // 6: a record's JSON compressed in `body` (lz4, its length first; `json` is '' then): the
    // JSON was nine tenths of the file. Read both through `record_json(json, body)`. Rows
    // written before are compressed at open, in chunks, from `compress_backlog.after` (a rowid)
    // on; the row is deleted when they all are (`sqlite::compress_old_rows`).
    r#"
ALTER TABLE records ADD COLUMN body BLOB;
CREATE TABLE compress_backlog (after INTEGER NOT NULL);
INSERT INTO compress_backlog (after) SELECT 0 WHERE EXISTS (SELECT 1 FROM records);
"#,
    // 7: records a run hands over by id (pages the server says are unchanged) are not written:
    // `swept_at`, the last complete sweep of the source, stands for the `last_seen` of the
    // records it left live, and `classified_with` says under which topic rules the stored
    // records were classified (another fingerprint makes the harvester read them back).
    // `records_live_ids` answers "which of these ids are live" and "every live id of a source"
    // without reading the records' rows (the whole file, for a sweep); SQLite takes a partial
    // index as covering only if it holds the column its condition tests, hence `gone_at`.
    r#"
ALTER TABLE sources ADD COLUMN swept_at TEXT;
ALTER TABLE sources ADD COLUMN classified_with TEXT;
CREATE INDEX records_live_ids ON records(source, id, gone_at) WHERE gone_at IS NULL;
"#,
    // 8: the holders of a title found through an index of the hash of its folded title
    // (`title_hash`, see `duplicates::title_hash`) instead of an index of the keys themselves:
    // every new record inserted two title keys at random places in that index, which outgrew
    // the writer's page cache (318 MB at 900,000 records). An index of the hash needs a table
    // with row ids (a `WITHOUT ROWID` table's indexes also hold its whole primary key), so
    // `record_keys` is copied into one, in order. The link keys (`u:`, `l:`; a source's pages
    // come in order) keep an index of their own. `snodo_title_hash` is this migration's only
    // use of a function of Snodo's: the stored column needs none.
    r#"
CREATE TABLE record_keys_v8 (
    record_id  TEXT NOT NULL REFERENCES records(id) DEFERRABLE INITIALLY DEFERRED,
    key        TEXT NOT NULL,
    title_hash INTEGER,
    UNIQUE (record_id, key)
) STRICT;
INSERT INTO record_keys_v8 (record_id, key, title_hash)
    SELECT record_id, key, snodo_title_hash(key) FROM record_keys ORDER BY record_id, key;
DROP TABLE record_keys;
ALTER TABLE record_keys_v8 RENAME TO record_keys;
CREATE INDEX record_keys_by_title ON record_keys(title_hash) WHERE title_hash IS NOT NULL;
CREATE INDEX record_keys_by_link ON record_keys(key) WHERE title_hash IS NULL;
"#,
];

/// The schema version this build writes.
pub(crate) fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Brings the database up to [`latest_version`], one transaction per migration so that a failure
/// leaves it at the last good version. The version is read inside the write transaction, so two
/// processes opening a fresh database at once cannot both apply the same migration.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let known = latest_version();
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx("starting the schema upgrade")?;
        let found: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .ctx("reading the schema version")?;
        if found > known {
            return Err(StoreError::SchemaTooNew { found, known });
        }
        if found == known {
            return Ok(());
        }
        let Some(sql) = usize::try_from(found).ok().and_then(|i| MIGRATIONS.get(i)) else {
            return Err(StoreError::Corrupt {
                what: "the schema version".into(),
                detail: format!("PRAGMA user_version is {found}"),
            });
        };
        let version = found as usize + 1;
        tx.execute_batch(sql)
            .map_err(|e| StoreError::migrate(version, e))?;
        tx.pragma_update(None, "user_version", version as i64)
            .map_err(|e| StoreError::migrate(version, e))?;
        tx.commit().map_err(|e| StoreError::migrate(version, e))?;
        tracing::info!(version, "database schema migrated");
    }
}
