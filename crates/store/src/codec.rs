//! Turning stored values back into the store's types, the same way for both engines.

use chrono::{DateTime, Utc};
use snodo_model::Record;

use crate::error::StoreError;
use crate::types::{Outcome, RunCounts, RunRecord};

/// The largest record JSON a stored body may claim to hold; a corrupt length fails, it does
/// not allocate gigabytes.
const MAX_JSON_BYTES: usize = 64 << 20;

/// A record's JSON as SQLite stores it: lz4 (block format, the length first). Record JSON is
/// repetitive (field names, the body as plain text and as HTML): it shrinks to about a third.
pub(crate) fn compress_json(json: &str) -> Vec<u8> {
    lz4_flex::block::compress_prepend_size(json.as_bytes())
}

pub(crate) fn decompress_json(body: &[u8]) -> Result<String, String> {
    let claimed = body
        .get(..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .ok_or("a stored record body shorter than its length")?;
    if claimed > MAX_JSON_BYTES {
        return Err(format!("a stored record body claims {claimed} bytes"));
    }
    let bytes = lz4_flex::block::decompress_size_prepended(body)
        .map_err(|e| format!("a stored record body does not decompress: {e}"))?;
    String::from_utf8(bytes).map_err(|e| format!("a stored record body is not UTF-8: {e}"))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_json_round_trips_compressed_and_corrupt_bodies_fail_cleanly() {
        let json = r#"{"title":{"it":"Bilancio partecipativo"},"description":"Bilancio partecipativo, bilancio partecipativo: città"}"#;
        let body = compress_json(json);
        assert_eq!(decompress_json(&body).unwrap(), json);
        assert_eq!(decompress_json(&compress_json("")).unwrap(), "");
        assert!(decompress_json(&[]).is_err());
        assert!(decompress_json(&body[..body.len() / 2]).is_err());
        // a length of 4 GB is refused before anything is allocated
        let mut huge = body.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decompress_json(&huge).unwrap_err().contains("claims"));
        let not_utf8 = compress_json("\u{e0}")
            .into_iter()
            .map(|b| if b == 0xc3 { 0xff } else { b })
            .collect::<Vec<_>>();
        assert!(decompress_json(&not_utf8).is_err());
    }
}
