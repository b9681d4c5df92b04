//! The one error type of the store. Each message names what failed and what the operator can do.

use std::fmt;
use std::path::PathBuf;

/// An error from the database engine, kept opaque so that no rusqlite type leaks into the API
/// while the cause chain (`std::error::Error::source`) still reaches logs.
#[derive(Debug)]
pub struct DbError(rusqlite::Error);

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for DbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data directory {path}: {source}; check that its parent exists and is writable by the user running snodo")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot open the database at {path}: {source}; check that the data directory exists and is writable")]
    Open {
        path: PathBuf,
        #[source]
        source: DbError,
    },

    #[error("the database schema is version {found}, newer than the {known} this snodo knows; upgrade snodo, or point storage.data_dir at another directory")]
    SchemaTooNew { found: i64, known: i64 },

    #[error("cannot upgrade the database schema to version {version}: {source}; the database was left at the previous version, restore a backup if the problem persists")]
    Migrate {
        version: usize,
        #[source]
        source: DbError,
    },

    #[error("the database is locked while {context}; another process is probably writing to it: stop other snodo processes that use the same storage.data_dir")]
    Busy { context: String },

    #[error("the disk holding the database is full while {context}; nothing of this operation was written: free space in storage.data_dir and run again")]
    DiskFull { context: String },

    #[error("the database is read-only while {context}: make storage.data_dir and its files writable by the user running snodo")]
    ReadOnly { context: String },

    #[error("database error while {context}: {source}")]
    Db {
        context: String,
        #[source]
        source: DbError,
    },

    #[error("source `{0}` is not known to the store; add it to the configuration so that it is synchronised before it is harvested")]
    UnknownSource(String),

    #[error(
        "source id `{0}` is invalid; source ids must match [a-z0-9-]+ (at most 64 characters)"
    )]
    InvalidSourceId(String),

    #[error("harvest run {0} does not exist; start a run with start_run before writing to it")]
    UnknownRun(i64),

    #[error("harvest run {run} belongs to source `{run_source}`, not to `{batch_source}`; a run writes only its own source's records")]
    RunSourceMismatch {
        run: i64,
        run_source: String,
        batch_source: String,
    },

    #[error("harvest run {run} is already over (outcome `{outcome}`); start a new run to store more records")]
    RunFinished { run: i64, outcome: String },

    #[error("{what} cannot be encoded as JSON: {source}")]
    Encode {
        what: String,
        #[source]
        source: serde_json::Error,
    },

    #[error("stored data for {what} cannot be read ({detail}); the database may be damaged or written by a newer snodo: run an integrity check, and restore a backup or re-harvest the source")]
    Corrupt { what: String, detail: String },

    #[error(
        "the database failed its integrity check: {0}; stop snodo and restore the latest backup"
    )]
    Integrity(String),

    #[error("cannot back up the database to {path}: {detail}")]
    Backup { path: PathBuf, detail: String },
}

impl StoreError {
    /// Wraps an engine error with what the store was doing, turning lock contention into the
    /// [`StoreError::Busy`] advice because that is the one database error an operator can fix.
    pub(crate) fn db(context: impl Into<String>, err: rusqlite::Error) -> StoreError {
        let context = context.into();
        match err.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::Busy { context }
            }
            // The two an operator fixes outside snodo: say which, not SQLite's code.
            Some(rusqlite::ErrorCode::DiskFull) => StoreError::DiskFull { context },
            Some(rusqlite::ErrorCode::ReadOnly) => StoreError::ReadOnly { context },
            _ => StoreError::Db {
                context,
                source: DbError(err),
            },
        }
    }

    pub(crate) fn open(path: PathBuf, err: rusqlite::Error) -> StoreError {
        StoreError::Open {
            path,
            source: DbError(err),
        }
    }

    pub(crate) fn migrate(version: usize, err: rusqlite::Error) -> StoreError {
        StoreError::Migrate {
            version,
            source: DbError(err),
        }
    }
}

/// Shorthand for attaching a context to engine errors: `stmt.execute(..).ctx("storing a run")?`.
pub(crate) trait Ctx<T> {
    fn ctx(self, context: &str) -> Result<T, StoreError>;
}

impl<T> Ctx<T> for Result<T, rusqlite::Error> {
    fn ctx(self, context: &str) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::db(context, e))
    }
}
