//! The one error type of the store. Each message names what failed and what the operator can do.

use std::fmt;
use std::path::PathBuf;

/// An error from the database engine, kept opaque so that no rusqlite or postgres type leaks
/// into the API while the cause chain (`std::error::Error::source`) still reaches logs.
#[derive(Debug)]
pub struct DbError(Engine);

#[derive(Debug)]
enum Engine {
    Sqlite(rusqlite::Error),
    Postgres(postgres::Error),
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError(Engine::Sqlite(e))
    }
}

impl From<postgres::Error> for DbError {
    fn from(e: postgres::Error) -> Self {
        DbError(Engine::Postgres(e))
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Engine::Sqlite(e) => e.fmt(f),
            // postgres' own Display hides the server's message behind "db error".
            Engine::Postgres(e) => match e.as_db_error() {
                Some(db) => write!(f, "{}: {}", db.severity(), db.message()),
                None => e.fmt(f),
            },
        }
    }
}

impl std::error::Error for DbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0 {
            Engine::Sqlite(e) => Some(e),
            Engine::Postgres(e) => Some(e),
        }
    }
}

/// A socket or connect failure somewhere in the cause chain.
fn is_io(e: &postgres::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(c) = cause {
        if c.is::<std::io::Error>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// What an operator can do about an engine error; everything else is [`StoreError::Db`].
enum Class {
    Busy,
    DiskFull,
    ReadOnly,
    Unreachable,
    Other,
}

impl DbError {
    fn class(&self) -> Class {
        match &self.0 {
            Engine::Sqlite(e) => match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                    Class::Busy
                }
                Some(rusqlite::ErrorCode::DiskFull) => Class::DiskFull,
                Some(rusqlite::ErrorCode::ReadOnly) => Class::ReadOnly,
                _ => Class::Other,
            },
            Engine::Postgres(e) => {
                use postgres::error::SqlState;
                match e.code() {
                    Some(c) if *c == SqlState::DISK_FULL => Class::DiskFull,
                    Some(c) if *c == SqlState::READ_ONLY_SQL_TRANSACTION => Class::ReadOnly,
                    Some(c)
                        if *c == SqlState::LOCK_NOT_AVAILABLE
                            || *c == SqlState::T_R_DEADLOCK_DETECTED
                            || *c == SqlState::T_R_SERIALIZATION_FAILURE =>
                    {
                        Class::Busy
                    }
                    // The server shutting down, or the session gone (a closed client, a
                    // failed connect, a socket error).
                    _ if e.is_closed() => Class::Unreachable,
                    Some(c)
                        if *c == SqlState::ADMIN_SHUTDOWN
                            || *c == SqlState::CRASH_SHUTDOWN
                            || *c == SqlState::CANNOT_CONNECT_NOW
                            || *c == SqlState::CONNECTION_FAILURE
                            || *c == SqlState::CONNECTION_EXCEPTION =>
                    {
                        Class::Unreachable
                    }
                    None if e.as_db_error().is_none() && is_io(e) => Class::Unreachable,
                    _ => Class::Other,
                }
            }
        }
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

    #[error("cannot connect to PostgreSQL at {target}: {source}; check storage.database_url (or SNODO_DATABASE_URL), that the server runs and accepts this user")]
    Connect {
        target: String,
        #[source]
        source: DbError,
    },

    #[error("storage.database_url `{0}` is not a PostgreSQL URL snodo can use; write it as postgres://user:password@host:5432/database")]
    BadUrl(String),

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

    #[error("the PostgreSQL server cannot be reached while {context}: {detail}; check that it is running and that storage.database_url (or SNODO_DATABASE_URL) points at it")]
    Unavailable { context: String, detail: String },

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

    #[error("{0} needs the store on PostgreSQL (storage.database_url); with SQLite one process does everything")]
    NotShared(&'static str),

    #[error("cannot copy the store: {0}")]
    Copy(String),

    #[error("cannot back up the database to {path}: {detail}")]
    Backup { path: PathBuf, detail: String },
}

impl StoreError {
    /// Wraps an engine error with what the store was doing, turning lock contention into the
    /// [`StoreError::Busy`] advice because that is the one database error an operator can fix.
    pub(crate) fn db(context: impl Into<String>, err: impl Into<DbError>) -> StoreError {
        let context = context.into();
        let err = err.into();
        match err.class() {
            Class::Busy => StoreError::Busy { context },
            // The ones an operator fixes outside snodo: say which, not the engine's code.
            Class::DiskFull => StoreError::DiskFull { context },
            Class::ReadOnly => StoreError::ReadOnly { context },
            Class::Unreachable => StoreError::Unavailable {
                context,
                detail: err.to_string(),
            },
            Class::Other => StoreError::Db {
                context,
                source: err,
            },
        }
    }

    pub(crate) fn open(path: PathBuf, err: impl Into<DbError>) -> StoreError {
        StoreError::Open {
            path,
            source: err.into(),
        }
    }

    pub(crate) fn migrate(version: usize, err: impl Into<DbError>) -> StoreError {
        StoreError::Migrate {
            version,
            source: err.into(),
        }
    }

    /// True when the database cannot be reached at all (PostgreSQL down or unreachable): the
    /// caller answers "try later" rather than "something is broken".
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable { .. } | StoreError::Connect { .. }
        )
    }
}

/// Shorthand for attaching a context to engine errors: `stmt.execute(..).ctx("storing a run")?`.
pub(crate) trait Ctx<T> {
    fn ctx(self, context: &str) -> Result<T, StoreError>;
}

impl<T, E: Into<DbError>> Ctx<T> for Result<T, E> {
    fn ctx(self, context: &str) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::db(context, e))
    }
}
