//! Plain values going in and out of the store. None of them mention the database engine.

use std::fmt;
use std::ops::AddAssign;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use snodo_model::Record;

/// The share of a source's live records a complete listing may mark gone at once, unless the
/// caller chooses otherwise: more than that looks like an upstream failure, not real deletions.
pub const DEFAULT_MAX_SWEEP_FRACTION: f64 = 0.5;

/// Sweeps of at most this many records always go ahead: a tiny catalogue losing a few entries
/// is normal churn, and the fraction alone would block every deletion there.
pub const SWEEP_GUARD_MIN_RECORDS: u64 = 5;

/// A source as configured. The store keeps one row per source ever configured so that records
/// and runs of a source removed from the configuration keep their history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub url: String,
}

/// Identifies one harvest run; given by [`crate::Store::start_run`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub i64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a connector produced in one go, with how far the harvest got.
#[derive(Debug, Clone, Copy)]
pub struct HarvestBatch<'a> {
    pub source: &'a str,
    pub records: &'a [Record],
    /// Ids of live records of the source seen again exactly as stored (the connector knows
    /// without reading them back: a page the server says is unchanged). Counted as seen and
    /// kept from the sweep; their rows are not written.
    pub unchanged: &'a [String],
    /// How the records were classified into themes
    /// ([`snodo_model::topics::classification_fingerprint`]); saved for the source, so that the
    /// next run knows whether records it hands over by id need classifying again.
    pub classified_with: Option<&'a str>,
    /// The connector listed everything the source has: records of the source not seen during
    /// the run are then gone upstream. Partial or incremental listings must say `false`.
    pub complete: bool,
    /// The cursor to resume from; `None` leaves the stored checkpoint as it is.
    pub checkpoint: Option<&'a str>,
    pub now: DateTime<Utc>,
    /// The safety valve: a complete listing that would mark more than this share of the source's
    /// live records gone (and more than [`SWEEP_GUARD_MIN_RECORDS`]) sweeps nothing and warns
    /// instead, so an upstream that suddenly answers an empty list cannot wipe the catalogue.
    /// `1.0` turns the valve off.
    pub max_sweep_fraction: f64,
}

impl<'a> HarvestBatch<'a> {
    /// A batch with the default safety valve ([`DEFAULT_MAX_SWEEP_FRACTION`]).
    pub fn new(
        source: &'a str,
        records: &'a [Record],
        complete: bool,
        checkpoint: Option<&'a str>,
        now: DateTime<Utc>,
    ) -> Self {
        HarvestBatch {
            source,
            records,
            unchanged: &[],
            classified_with: None,
            complete,
            checkpoint,
            now,
            max_sweep_fraction: DEFAULT_MAX_SWEEP_FRACTION,
        }
    }

    pub fn with_unchanged(mut self, ids: &'a [String]) -> Self {
        self.unchanged = ids;
        self
    }

    pub fn with_classified_with(mut self, fingerprint: &'a str) -> Self {
        self.classified_with = Some(fingerprint);
        self
    }

    pub fn with_max_sweep_fraction(mut self, fraction: f64) -> Self {
        self.max_sweep_fraction = fraction;
        self
    }
}

/// What a run (or one batch of it) did to the catalogue.
///
/// `seen = added + changed + unchanged + failed`; `revived` counts records that had been gone and
/// came back, which are also counted as `changed` or `unchanged`; `gone` counts swept records.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCounts {
    pub seen: u64,
    pub added: u64,
    pub changed: u64,
    pub unchanged: u64,
    pub failed: u64,
    pub gone: u64,
    pub revived: u64,
}

/// Lets a harvester that stores a run in several batches add up the counts of each.
impl AddAssign for RunCounts {
    fn add_assign(&mut self, o: RunCounts) {
        self.seen += o.seen;
        self.added += o.added;
        self.changed += o.changed;
        self.unchanged += o.unchanged;
        self.failed += o.failed;
        self.gone += o.gone;
        self.revived += o.revived;
    }
}

/// What [`crate::Store::apply_harvest`] did with one batch.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AppliedBatch {
    pub counts: RunCounts,
    /// Things the run should report to the operator (records rejected for naming another source,
    /// a sweep held back by the safety valve); they belong in [`RunFinish::warnings`].
    pub warnings: Vec<String>,
    /// True when a complete listing would have marked too many records gone and the store
    /// therefore marked none: the harvester may want to call the run `partial`.
    pub sweep_held_back: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Running,
    Success,
    Partial,
    Failed,
    Abandoned,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::Running,
        Outcome::Success,
        Outcome::Partial,
        Outcome::Failed,
        Outcome::Abandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Running => "running",
            Outcome::Success => "success",
            Outcome::Partial => "partial",
            Outcome::Failed => "failed",
            Outcome::Abandoned => "abandoned",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown run outcome `{0}`; expected one of: running, success, partial, failed, abandoned")]
pub struct ParseOutcomeError(pub String);

impl FromStr for Outcome {
    type Err = ParseOutcomeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| ParseOutcomeError(s.to_owned()))
    }
}

/// How a run ended, written by [`crate::Store::finish_run`].
#[derive(Debug, Clone, PartialEq)]
pub struct RunFinish {
    pub finished_at: DateTime<Utc>,
    pub outcome: Outcome,
    pub counts: RunCounts,
    pub error: Option<String>,
    pub warnings: Vec<String>,
    pub requests: u64,
}

/// One harvest run as stored: the row `/api/v1/sources` and `snodo sources` show.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    pub id: i64,
    pub source: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: Outcome,
    pub counts: RunCounts,
    pub error: Option<String>,
    pub warnings: Vec<String>,
    pub requests: u64,
    pub duration_ms: Option<u64>,
}

/// One entry of the change log, for the indexer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub seq: u64,
    pub id: String,
    /// The record's current state; `None` when it is gone and must leave the index.
    pub record: Option<Record>,
}

/// A record with the store's bookkeeping. Gone records are kept (with `gone_at`) for history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredRecord {
    pub record: Record,
    pub content_hash: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// When the content last changed (the first time it was seen, if it never did).
    pub last_changed: DateTime<Utc>,
    pub gone_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceStatus {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub url: String,
    /// False for a source removed from the configuration; its records and runs are kept.
    pub configured: bool,
    /// Live (not gone) records.
    pub records: u64,
    /// The most recently started run.
    pub last_run: Option<RunRecord>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub next_run_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ScheduleState {
    /// When the most recent run started.
    pub last_run_at: Option<DateTime<Utc>>,
    pub next_run_at: Option<DateTime<Utc>>,
}
