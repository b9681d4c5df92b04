//! Turning stored values back into the store's types, the same way for both engines.

use chrono::{DateTime, Utc};
use snodo_model::Record;

use crate::error::StoreError;
use crate::types::{Outcome, RunCounts, RunRecord};

pub(crate) fn decode(json: &str, id: &str) -> Result<Record, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        what: format!("record {id}"),
        detail: e.to_string(),
    })
}

/// A stored record with the ids of its duplicates (a JSON array) merged into `same_as`, sorted.
pub(crate) fn decode_linked(json: &str, links: &str, id: &str) -> Result<Record, StoreError> {
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

/// A run row with its timestamps already read.
pub(crate) struct RunRow<'a> {
    pub id: i64,
    pub source: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: &'a str,
    /// seen, added, changed, unchanged, failed, gone, revived.
    pub counts: [i64; 7],
    pub error: Option<String>,
    /// A JSON array of strings.
    pub warnings: &'a str,
    pub requests: i64,
}

pub(crate) fn run_record(row: RunRow<'_>) -> Result<RunRecord, StoreError> {
    let id = row.id;
    let what = || format!("harvest run {id}");
    let outcome: Outcome = row.outcome.parse().map_err(|e| StoreError::Corrupt {
        what: what(),
        detail: format!("{e}"),
    })?;
    let warnings: Vec<String> =
        serde_json::from_str(row.warnings).map_err(|e| StoreError::Corrupt {
            what: what(),
            detail: format!("warnings: {e}"),
        })?;
    // An abandoned run was closed when the next process started, not when it stopped
    // working: its duration is unknown.
    let duration_ms = match (row.finished_at, outcome) {
        (Some(end), o) if o != Outcome::Abandoned => {
            Some(uint((end - row.started_at).num_milliseconds()))
        }
        _ => None,
    };
    let [seen, added, changed, unchanged, failed, gone, revived] = row.counts.map(uint);
    Ok(RunRecord {
        id,
        source: row.source,
        started_at: row.started_at,
        finished_at: row.finished_at,
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
        error: row.error,
        warnings,
        requests: uint(row.requests),
        duration_ms,
    })
}

/// Database integers are signed; counts and seqs never come near the limit.
pub(crate) fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn uint(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
